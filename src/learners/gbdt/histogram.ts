/**
 * Gradient histograms (LightGBM's feature_histogram.hpp / scikit-learn's histogram.pyx). One histogram covers the
 * splittable features: feature slot k owns nBins + 1 consecutive bins (the last holds missing values), each bin
 * three doubles [sum gradient, sum hessian, count]. Building is row-wise (LightGBM's force_row_wise): each row's
 * precomputed global bin indices are contiguous, so a row's gradient is read once and all its features updated.
 * Only the smaller child of a split is built; the larger is parent − smaller, in the parent's buffer, computed
 * feature by feature just before its split scan reads that feature, while the bins are in cache. The building,
 * subtracting and scanning run in WebAssembly (wasm/gbdt.ts, through kernel.ts); this module lays out the bins.
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
 * From this many rows, the histogram kernel (wasm/gbdt.ts, which has the same constant) counts rows per bin in a
 * separate integer array: the histogram (three doubles a bin) outgrows L1, the integer counts do not, and an
 * integer increment is cheaper than a float read-modify-write. Below it, clearing and copying the counts costs more
 * than it saves.
 */
export const SEPARATE_COUNT_ROWS = 1024;

/** Rows per global bin over all rows: the root's counts whenever a tree grows on every row. */
export function binCounts(layout: HistogramLayout, binIndex: Uint16Array | Uint32Array): Float64Array {
  const counts = new Float64Array(layout.size / HIST_STRIDE);
  for (let i = 0; i < binIndex.length; i++) counts[binIndex[i]]++;
  return counts;
}
