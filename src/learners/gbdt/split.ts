/**
 * Best split of one leaf from its histogram (LightGBM's FindBestThreshold, scikit-learn's splitting.pyx):
 * scan bins left to right with missing values sent right, then (if the leaf holds missing values) again with them
 * sent left; gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ). Children must keep min_samples_leaf rows and
 * min_child_weight hessian. A split is plain: codes <= bin go left (x <= upper[f][bin] on raw values).
 */
import { HIST_STRIDE, subtractBins, type HistogramLayout } from './histogram.js';

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

/**
 * Every bin is visited, empty ones included: an empty bin holds exact zeros (built histograms start zeroed and
 * subtraction zeroes the bins it empties), so it repeats the previous candidate and can never win the strict
 * `gain > best` test (leading empty bins have no previous candidate: they are below min_samples_leaf in the first
 * pass and skipped in the second). That keeps the scan free of a hard-to-predict branch per bin.
 *
 * With `subtract`, `hist` holds the parent's histogram and becomes this leaf's (parent − subtract, the sibling's,
 * as subtractBins computes it) bin by bin as the scan reaches each bin, saving a separate pass over the buffer.
 * Only the scanned slots are subtracted: the others are never read again while this tree grows (a tree's slots
 * are fixed).
 */
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
  subtract: Float64Array | null = null,
): void {
  const { offsets, nBins } = layout;
  const { l2, minSamplesLeaf, minChildWeight } = constraints;
  const parentScore = (sumGrad * sumGrad) / (sumHess + l2);
  let bestGain = 0;
  let bestFeature = -1;
  let bestBin = 0;
  let bestMissingLeft = false;
  let bestGradLeft = 0;
  let bestHessLeft = 0;
  let bestCountLeft = 0;
  for (let j = 0; j < nSlots; j++) {
    const f = slots[j];
    const base = offsets[f] * HIST_STRIDE;
    const nb = nBins[f];
    const missing = base + nb * HIST_STRIDE;
    if (subtract) subtractBins(hist, subtract, missing, missing + HIST_STRIDE);
    const missingCount = hist[missing + 2];

    // Missing values (if any) go right; with missing values the last bin also splits "all values | NaN".
    // When subtracting, each bin is subtracted as the scan reaches it, and the bins after a `break` just after.
    const lastBin = missingCount > 0 ? nb - 1 : nb - 2;
    const other = subtract ?? hist;
    let subtractedTo = base;
    let gl = 0;
    let hl = 0;
    let cl = 0;
    for (let b = 0, h = base; b <= lastBin; b++, h += HIST_STRIDE) {
      if (subtract) {
        const c = hist[h + 2] - other[h + 2];
        // 0 or 1 without a branch, as in subtractBins.
        const occupied = +(c !== 0);
        hist[h] = (hist[h] - other[h]) * occupied;
        hist[h + 1] = (hist[h + 1] - other[h + 1]) * occupied;
        hist[h + 2] = c;
        subtractedTo = h + HIST_STRIDE;
      }
      gl += hist[h];
      hl += hist[h + 1];
      cl += hist[h + 2];
      if (cl < minSamplesLeaf || hl < minChildWeight) continue;
      const cr = count - cl;
      const hr = sumHess - hl;
      if (cr < minSamplesLeaf || hr < minChildWeight) break;
      const gr = sumGrad - gl;
      const gain = (gl * gl) / (hl + l2) + (gr * gr) / (hr + l2) - parentScore;
      if (gain > bestGain) {
        bestGain = gain;
        bestFeature = f;
        bestBin = b;
        // Without missing values here, a NaN at predict time follows the larger child.
        bestMissingLeft = missingCount > 0 ? false : cl > cr;
        bestGradLeft = gl;
        bestHessLeft = hl;
        bestCountLeft = cl;
      }
    }
    if (subtract) subtractBins(hist, subtract, subtractedTo, missing);
    if (missingCount === 0) continue;

    // Missing values go left, with the values up to the first non-empty bin at least: leading empty bins would add
    // the candidate "NaN alone left", which the first pass already covers as "all values left | NaN right".
    gl = hist[missing];
    hl = hist[missing + 1];
    cl = missingCount;
    let first = 0;
    while (first < nb - 1 && hist[base + first * HIST_STRIDE + 2] === 0) first++;
    for (let b = first, h = base + first * HIST_STRIDE; b <= nb - 2; b++, h += HIST_STRIDE) {
      gl += hist[h];
      hl += hist[h + 1];
      cl += hist[h + 2];
      if (cl < minSamplesLeaf || hl < minChildWeight) continue;
      const cr = count - cl;
      const hr = sumHess - hl;
      if (cr < minSamplesLeaf || hr < minChildWeight) break;
      const gr = sumGrad - gl;
      const gain = (gl * gl) / (hl + l2) + (gr * gr) / (hr + l2) - parentScore;
      if (gain > bestGain) {
        bestGain = gain;
        bestFeature = f;
        bestBin = b;
        bestMissingLeft = true;
        bestGradLeft = gl;
        bestHessLeft = hl;
        bestCountLeft = cl;
      }
    }
  }
  best.gain = bestGain;
  best.feature = bestFeature;
  best.bin = bestBin;
  best.missingLeft = bestMissingLeft;
  best.gradLeft = bestGradLeft;
  best.hessLeft = bestHessLeft;
  best.countLeft = bestCountLeft;
}
