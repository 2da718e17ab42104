/**
 * Best split of one leaf from its histogram (LightGBM's FindBestThreshold, scikit-learn's splitting.pyx):
 * scan bins left to right with missing values sent right, then (if the leaf holds missing values) again with them
 * sent left; gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ). Children must keep min_samples_leaf rows and
 * min_child_weight hessian. A split is plain: codes <= bin go left (x <= upper[f][bin] on raw values).
 */
import { HIST_STRIDE, type HistogramLayout } from './histogram.js';

export interface SplitConstraints {
  readonly l2: number;
  readonly minSamplesLeaf: number;
  readonly minChildWeight: number;
}

/** A plain record passed between stages (LightGBM's SplitInfo); gain <= 0 means no split. */
export interface SplitInfo {
  gain: number;
  /** Histogram slot (see HistogramLayout.features for the original feature). */
  feature: number;
  bin: number;
  missingLeft: boolean;
  gradLeft: number;
  hessLeft: number;
  countLeft: number;
}

export function emptySplit(): SplitInfo {
  return { gain: 0, feature: -1, bin: 0, missingLeft: false, gradLeft: 0, hessLeft: 0, countLeft: 0 };
}

export function findBestSplit(
  hist: Float64Array,
  layout: HistogramLayout,
  slots: Int32Array,
  nSlots: number,
  sumGrad: number,
  sumHess: number,
  count: number,
  constraints: SplitConstraints,
  best: SplitInfo,
): void {
  const { offsets, nBins } = layout;
  const { l2, minSamplesLeaf, minChildWeight } = constraints;
  const parentScore = (sumGrad * sumGrad) / (sumHess + l2);
  best.gain = 0;
  best.feature = -1;
  for (let j = 0; j < nSlots; j++) {
    const f = slots[j];
    const base = offsets[f] * HIST_STRIDE;
    const nb = nBins[f];
    const missing = base + nb * HIST_STRIDE;
    const missingCount = hist[missing + 2];

    // Missing values (if any) go right; with missing values the last bin also splits "all values | NaN".
    const lastBin = missingCount > 0 ? nb - 1 : nb - 2;
    let gl = 0;
    let hl = 0;
    let cl = 0;
    for (let b = 0; b <= lastBin; b++) {
      const h = base + b * HIST_STRIDE;
      const binCount = hist[h + 2];
      // An empty bin repeats the previous candidate (the subtraction leaves exact zeros for empty bins' counts).
      if (binCount === 0) continue;
      gl += hist[h];
      hl += hist[h + 1];
      cl += binCount;
      if (cl < minSamplesLeaf || hl < minChildWeight) continue;
      const cr = count - cl;
      const hr = sumHess - hl;
      if (cr < minSamplesLeaf || hr < minChildWeight) break;
      const gr = sumGrad - gl;
      const gain = (gl * gl) / (hl + l2) + (gr * gr) / (hr + l2) - parentScore;
      if (gain > best.gain) {
        best.gain = gain;
        best.feature = f;
        best.bin = b;
        // Without missing values here, a NaN at predict time follows the larger child.
        best.missingLeft = missingCount > 0 ? false : cl > cr;
        best.gradLeft = gl;
        best.hessLeft = hl;
        best.countLeft = cl;
      }
    }
    if (missingCount === 0) continue;

    // Missing values go left.
    gl = hist[missing];
    hl = hist[missing + 1];
    cl = missingCount;
    for (let b = 0; b <= nb - 2; b++) {
      const h = base + b * HIST_STRIDE;
      const binCount = hist[h + 2];
      // An empty bin repeats the previous candidate (the subtraction leaves exact zeros for empty bins' counts).
      if (binCount === 0) continue;
      gl += hist[h];
      hl += hist[h + 1];
      cl += binCount;
      if (cl < minSamplesLeaf || hl < minChildWeight) continue;
      const cr = count - cl;
      const hr = sumHess - hl;
      if (cr < minSamplesLeaf || hr < minChildWeight) break;
      const gr = sumGrad - gl;
      const gain = (gl * gl) / (hl + l2) + (gr * gr) / (hr + l2) - parentScore;
      if (gain > best.gain) {
        best.gain = gain;
        best.feature = f;
        best.bin = b;
        best.missingLeft = true;
        best.gradLeft = gl;
        best.hessLeft = hl;
        best.countLeft = cl;
      }
    }
  }
}
