/**
 * The JavaScript gradient-histogram and split-scan kernels that wasm/gbdt.ts replaced (src/learners/gbdt/kernel.ts
 * runs it), kept as the bit-for-bit reference the WebAssembly kernels are tested against.
 */
import { HIST_STRIDE, SEPARATE_COUNT_ROWS, type HistogramLayout } from '../../../src/learners/gbdt/histogram.js';
import type { SplitConstraints, SplitInfo } from '../../../src/learners/gbdt/split.js';

/**
 * Fills `out` from rows[start, end) with per-row gradients and hessians. The feature loop is unrolled by four
 * (independent bins, so the float adds overlap); each bin still sums its rows in row order.
 */
export function buildHistogram(
  out: Float64Array,
  layout: HistogramLayout,
  binIndex: Uint16Array | Uint32Array,
  rows: Int32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
): void {
  out.fill(0);
  if (end - start >= SEPARATE_COUNT_ROWS) addRowsCountingApart(out, layout.features.length, binIndex, rows, start, end, grad, hess);
  else addRows(out, layout.features.length, binIndex, rows, start, end, grad, hess);
}


/** Integer counts for addRowsCountingApart, one per global bin (grown on demand; single-threaded use). */
let binCountScratch = new Int32Array(0);

/** addRows with the counts kept in binCountScratch, then copied into the histogram. */
function addRowsCountingApart(
  out: Float64Array,
  slots: number,
  binIndex: Uint16Array | Uint32Array,
  rows: Int32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
): void {
  const nBins = out.length / HIST_STRIDE;
  if (binCountScratch.length < nBins) binCountScratch = new Int32Array(nBins);
  const counts = binCountScratch;
  counts.fill(0, 0, nBins);
  const unrolled = slots - (slots % 4);
  for (let i = start; i < end; i++) {
    const r = rows[i];
    const g = grad[r];
    const h = hess[r];
    const base = r * slots;
    let k = 0;
    for (; k < unrolled; k += 4) {
      const c0 = binIndex[base + k];
      const c1 = binIndex[base + k + 1];
      const c2 = binIndex[base + k + 2];
      const c3 = binIndex[base + k + 3];
      const b0 = c0 * HIST_STRIDE;
      const b1 = c1 * HIST_STRIDE;
      const b2 = c2 * HIST_STRIDE;
      const b3 = c3 * HIST_STRIDE;
      out[b0] += g;
      out[b0 + 1] += h;
      counts[c0]++;
      out[b1] += g;
      out[b1 + 1] += h;
      counts[c1]++;
      out[b2] += g;
      out[b2 + 1] += h;
      counts[c2]++;
      out[b3] += g;
      out[b3 + 1] += h;
      counts[c3]++;
    }
    for (; k < slots; k++) {
      const c = binIndex[base + k];
      const b = c * HIST_STRIDE;
      out[b] += g;
      out[b + 1] += h;
      counts[c]++;
    }
  }
  copyIntegerCounts(out, counts, nBins);
}

function copyIntegerCounts(out: Float64Array, counts: Int32Array, nBins: number): void {
  for (let b = 0; b < nBins; b++) out[b * HIST_STRIDE + 2] = counts[b];
}

/** Adds rows[start, end)'s gradients, hessians and counts to their bins. */
function addRows(
  out: Float64Array,
  slots: number,
  binIndex: Uint16Array | Uint32Array,
  rows: Int32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
): void {
  const unrolled = slots - (slots % 4);
  for (let i = start; i < end; i++) {
    const r = rows[i];
    const g = grad[r];
    const h = hess[r];
    const base = r * slots;
    let k = 0;
    for (; k < unrolled; k += 4) {
      const b0 = binIndex[base + k] * HIST_STRIDE;
      const b1 = binIndex[base + k + 1] * HIST_STRIDE;
      const b2 = binIndex[base + k + 2] * HIST_STRIDE;
      const b3 = binIndex[base + k + 3] * HIST_STRIDE;
      out[b0] += g;
      out[b0 + 1] += h;
      out[b0 + 2] += 1;
      out[b1] += g;
      out[b1 + 1] += h;
      out[b1 + 2] += 1;
      out[b2] += g;
      out[b2 + 1] += h;
      out[b2 + 2] += 1;
      out[b3] += g;
      out[b3 + 1] += h;
      out[b3 + 2] += 1;
    }
    for (; k < slots; k++) {
      const b = binIndex[base + k] * HIST_STRIDE;
      out[b] += g;
      out[b + 1] += h;
      out[b + 2] += 1;
    }
  }
}

/**
 * buildHistogram for the root when it holds every row in order (no row subsampling): rows are read straight, and
 * the counts, the same for every tree, are copied from `counts` (binCounts) instead of being added up again.
 */
export function buildRootHistogram(
  out: Float64Array,
  layout: HistogramLayout,
  binIndex: Uint16Array | Uint32Array,
  nRows: number,
  grad: Float64Array,
  hess: Float64Array,
  counts: Float64Array,
): void {
  out.fill(0);
  // The counts are copied first, by their own kernel: code after the long row loop would run without type
  // feedback when the loop was optimised on the stack, and deoptimise on every call.
  copyCounts(out, counts);
  addRowsInOrder(out, layout.features.length, binIndex, nRows, grad, hess);
}

function copyCounts(out: Float64Array, counts: Float64Array): void {
  for (let b = 0; b < counts.length; b++) out[b * HIST_STRIDE + 2] = counts[b];
}

/** Adds rows 0..nRows-1's gradients and hessians (not counts) to their bins. */
function addRowsInOrder(out: Float64Array, slots: number, binIndex: Uint16Array | Uint32Array, nRows: number, grad: Float64Array, hess: Float64Array): void {
  const unrolled = slots - (slots % 4);
  for (let r = 0; r < nRows; r++) {
    const g = grad[r];
    const h = hess[r];
    const base = r * slots;
    let k = 0;
    for (; k < unrolled; k += 4) {
      const b0 = binIndex[base + k] * HIST_STRIDE;
      const b1 = binIndex[base + k + 1] * HIST_STRIDE;
      const b2 = binIndex[base + k + 2] * HIST_STRIDE;
      const b3 = binIndex[base + k + 3] * HIST_STRIDE;
      out[b0] += g;
      out[b0 + 1] += h;
      out[b1] += g;
      out[b1 + 1] += h;
      out[b2] += g;
      out[b2 + 1] += h;
      out[b3] += g;
      out[b3 + 1] += h;
    }
    for (; k < slots; k++) {
      const b = binIndex[base + k] * HIST_STRIDE;
      out[b] += g;
      out[b + 1] += h;
    }
  }
}

/** larger := parent − smaller, in place in the parent's buffer (see subtractBins). */
export function subtractHistogram(parentToLarger: Float64Array, smaller: Float64Array): void {
  subtractBins(parentToLarger, smaller, 0, parentToLarger.length);
}

/**
 * parent − smaller over doubles [from, to) (whole bins). A bin the subtraction empties gets exact zeros rather
 * than the rounding residue of two differently ordered sums, so an empty bin never moves a split scan.
 */
export function subtractBins(parentToLarger: Float64Array, smaller: Float64Array, from: number, to: number): void {
  for (let b = from; b < to; b += HIST_STRIDE) {
    const count = parentToLarger[b + 2] - smaller[b + 2];
    // 0 or 1 without a branch (emptiness is unpredictable bin to bin); x * 1 is exact, and sums are finite.
    const occupied = +(count !== 0);
    parentToLarger[b] = (parentToLarger[b] - smaller[b]) * occupied;
    parentToLarger[b + 1] = (parentToLarger[b + 1] - smaller[b + 1]) * occupied;
    parentToLarger[b + 2] = count;
  }
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
