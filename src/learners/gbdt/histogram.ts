/**
 * Gradient histograms (LightGBM's feature_histogram.hpp / scikit-learn's histogram.pyx). One histogram covers the
 * splittable features: feature slot k owns nBins + 1 consecutive bins (the last holds missing values), each bin
 * three doubles [sum gradient, sum hessian, count]. Building is row-wise (LightGBM's force_row_wise): each row's
 * precomputed global bin indices are contiguous, so a row's gradient is read once and all its features updated.
 * Only the smaller child of a split is built; the larger is parent − smaller, in the parent's buffer.
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

/** Fills `out` from rows[start, end) with per-row gradients and hessians. */
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
  const slots = layout.features.length;
  out.fill(0);
  for (let i = start; i < end; i++) {
    const r = rows[i];
    const g = grad[r];
    const h = hess[r];
    const base = r * slots;
    for (let k = 0; k < slots; k++) {
      const b = binIndex[base + k] * HIST_STRIDE;
      out[b] += g;
      out[b + 1] += h;
      out[b + 2] += 1;
    }
  }
}

/** larger := parent − smaller, in place in the parent's buffer. */
export function subtractHistogram(parentToLarger: Float64Array, smaller: Float64Array): void {
  for (let b = 0; b < parentToLarger.length; b++) parentToLarger[b] -= smaller[b];
}
