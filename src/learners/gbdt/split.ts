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
  // -0 (a double, unlike 0) makes V8 give these fields their double representation from the start, so the first
  // fractional value stored does not change the object's shape and deoptimise the code that already uses it.
  return { gain: -0, feature: -1, bin: 0, missingLeft: false, gradLeft: -0, hessLeft: -0, countLeft: -0 };
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
 *
 * The per-feature scans are separate small kernels so that each is optimised on its own early in a fit, rather
 * than one long function waiting for on-stack replacement of its loops.
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
  best.gain = 0;
  best.feature = -1;
  best.bin = 0;
  best.missingLeft = false;
  best.gradLeft = 0;
  best.hessLeft = 0;
  best.countLeft = 0;
  const scan: ScanContext = { sumGrad, sumHess, count, parentScore, l2, minSamplesLeaf, minChildWeight };
  for (let j = 0; j < nSlots; j++) {
    const f = slots[j];
    const base = offsets[f] * HIST_STRIDE;
    const nb = nBins[f];
    const missing = base + nb * HIST_STRIDE;
    if (subtract) subtractBins(hist, subtract, missing, missing + HIST_STRIDE);
    const missingCount = hist[missing + 2];
    // Missing values (if any) go right; with missing values the last bin also splits "all values | NaN".
    const lastBin = missingCount > 0 ? nb - 1 : nb - 2;
    if (subtract) {
      // Bins after an early stop are subtracted just after, so the whole slot is this leaf's.
      const subtractedTo = scanSubtractingMissingRight(hist, subtract, base, lastBin, f, missingCount, scan, best);
      subtractBins(hist, subtract, subtractedTo, missing);
    } else scanMissingRight(hist, base, lastBin, f, missingCount, scan, best);
    if (missingCount > 0) scanMissingLeft(hist, base, nb, missing, f, scan, best);
  }
}

/** What every bin scan of one leaf shares. */
interface ScanContext {
  readonly sumGrad: number;
  readonly sumHess: number;
  readonly count: number;
  readonly parentScore: number;
  readonly l2: number;
  readonly minSamplesLeaf: number;
  readonly minChildWeight: number;
}

/** Scans bins [0, lastBin] of one slot with missing values sent right; improves `best` in place. */
function scanMissingRight(hist: Float64Array, base: number, lastBin: number, f: number, missingCount: number, scan: ScanContext, best: SplitInfo): void {
  const { sumGrad, sumHess, count, parentScore, l2, minSamplesLeaf, minChildWeight } = scan;
  let bestGain = best.gain;
  let gl = 0;
  let hl = 0;
  let cl = 0;
  for (let b = 0, h = base; b <= lastBin; b++, h += HIST_STRIDE) {
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
      // Without missing values here, a NaN at predict time follows the larger child.
      record(best, gain, f, b, missingCount > 0 ? false : cl > cr, gl, hl, cl);
    }
  }
}

/**
 * scanMissingRight on a parent's bins that become this leaf's (parent − subtract, as subtractBins does) as the
 * scan reaches them. Returns the end of the subtracted bins.
 */
function scanSubtractingMissingRight(
  hist: Float64Array,
  subtract: Float64Array,
  base: number,
  lastBin: number,
  f: number,
  missingCount: number,
  scan: ScanContext,
  best: SplitInfo,
): number {
  const { sumGrad, sumHess, count, parentScore, l2, minSamplesLeaf, minChildWeight } = scan;
  let bestGain = best.gain;
  let gl = 0;
  let hl = 0;
  let cl = 0;
  let h = base;
  for (let b = 0; b <= lastBin; b++) {
    const c = hist[h + 2] - subtract[h + 2];
    // 0 or 1 without a branch, as in subtractBins.
    const occupied = +(c !== 0);
    const g = (hist[h] - subtract[h]) * occupied;
    const hs = (hist[h + 1] - subtract[h + 1]) * occupied;
    hist[h] = g;
    hist[h + 1] = hs;
    hist[h + 2] = c;
    h += HIST_STRIDE;
    gl += g;
    hl += hs;
    cl += c;
    if (cl < minSamplesLeaf || hl < minChildWeight) continue;
    const cr = count - cl;
    const hr = sumHess - hl;
    if (cr < minSamplesLeaf || hr < minChildWeight) break;
    const gr = sumGrad - gl;
    const gain = (gl * gl) / (hl + l2) + (gr * gr) / (hr + l2) - parentScore;
    if (gain > bestGain) {
      bestGain = gain;
      record(best, gain, f, b, missingCount > 0 ? false : cl > cr, gl, hl, cl);
    }
  }
  return h;
}

/**
 * Missing values go left, with the values up to the first non-empty bin at least: leading empty bins would add
 * the candidate "NaN alone left", which the first pass already covers as "all values left | NaN right".
 */
function scanMissingLeft(hist: Float64Array, base: number, nb: number, missing: number, f: number, scan: ScanContext, best: SplitInfo): void {
  const { sumGrad, sumHess, count, parentScore, l2, minSamplesLeaf, minChildWeight } = scan;
  let bestGain = best.gain;
  let gl = hist[missing];
  let hl = hist[missing + 1];
  let cl = hist[missing + 2];
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
      record(best, gain, f, b, true, gl, hl, cl);
    }
  }
}

function record(best: SplitInfo, gain: number, f: number, b: number, missingLeft: boolean, gl: number, hl: number, cl: number): void {
  best.gain = gain;
  best.feature = f;
  best.bin = b;
  best.missingLeft = missingLeft;
  best.gradLeft = gl;
  best.hessLeft = hl;
  best.countLeft = cl;
}
