/**
 * Gradient histograms (LightGBM's feature_histogram.hpp / scikit-learn's histogram.pyx). One histogram covers the
 * splittable features: feature slot k owns nBins + 1 consecutive bins (the last holds missing values), each bin
 * three doubles [sum gradient, sum hessian, count]. Building is row-wise (LightGBM's force_row_wise): each row's
 * precomputed global bin indices are contiguous, so a row's gradient is read once and all its features updated.
 * Only the smaller child of a split is built; the larger is parent − smaller, in the parent's buffer, computed
 * feature by feature just before its split scan reads that feature (split.ts), while the bins are in cache.
 */

export const HIST_STRIDE = 3;

export interface HistogramLayout {
  /** Original feature index of slot k. */
  readonly features: Int32Array;
  /** First bin of slot k. */
  readonly offsets: Int32Array;
  /** Non-missing bins of slot k; its missing bin is offsets[k] + nBins[k]. */
  readonly nBins: Int32Array;
  /** Doubles in one histogram. */
  readonly size: number;
}

export function histogramLayout(features: Int32Array, nBinsByFeature: Int32Array): HistogramLayout {
  const offsets = new Int32Array(features.length);
  const nBins = new Int32Array(features.length);
  let bins = 0;
  for (let k = 0; k < features.length; k++) {
    offsets[k] = bins;
    nBins[k] = nBinsByFeature[features[k]];
    bins += nBins[k] + 1;
  }
  return { features, offsets, nBins, size: bins * HIST_STRIDE };
}

/** Row-major global bin indices: out[r * slots + k] = offsets[k] + code of row r in feature slot k. */
export function globalBinIndices(layout: HistogramLayout, codes: Uint8Array, nRows: number): Uint16Array | Uint32Array {
  const slots = layout.features.length;
  const out = layout.size / HIST_STRIDE <= 0xffff ? new Uint16Array(nRows * slots) : new Uint32Array(nRows * slots);
  for (let k = 0; k < slots; k++) {
    const column = layout.features[k] * nRows;
    const offset = layout.offsets[k];
    for (let r = 0; r < nRows; r++) out[r * slots + k] = offset + codes[column + r];
  }
  return out;
}

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

/**
 * From this many rows, buildHistogram counts rows per bin in a separate integer array: the histogram (three
 * doubles a bin) outgrows L1, the integer counts do not, and an integer increment is cheaper than a float
 * read-modify-write. Below it, clearing and copying the counts costs more than it saves.
 */
export const SEPARATE_COUNT_ROWS = 1024;

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

/** Rows per global bin over all rows: the root's counts whenever a tree grows on every row. */
export function binCounts(layout: HistogramLayout, binIndex: Uint16Array | Uint32Array): Float64Array {
  const counts = new Float64Array(layout.size / HIST_STRIDE);
  for (let i = 0; i < binIndex.length; i++) counts[binIndex[i]]++;
  return counts;
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
