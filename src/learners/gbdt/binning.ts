/**
 * Bin once (LightGBM's BinMapper, scikit-learn's _BinMapper): each feature's non-missing values map to at most
 * `maxBins` ordered bins whose upper edges come from the distinct values of a row sample (midpoints between
 * distinct values when there are few, else midpoint percentiles); NaN maps to one extra bin, index nBins[f].
 *
 * Every split found on bins is a plain threshold on raw values: code(x) <= b  ⇔  x <= upper[f][b], because a value
 * goes to the first bin whose upper edge it does not exceed. So fitted trees store `upper[f][b]` and predict on
 * raw values without binning, bit-for-bit as the binned training saw it (and ONNX export is direct).
 */
import type { Matrix } from '../../data/matrix.js';
import { Rng } from '../rng.js';

/** scikit-learn bins from at most this many rows (the rest only matter through their codes). */
export const BINNING_SAMPLE_ROWS = 200_000;

export interface BinMapper {
  readonly nFeatures: number;
  /** Non-missing bins per feature (>= 1); the missing-value bin of feature f is nBins[f]. */
  readonly nBins: Int32Array;
  /** Per feature, nBins[f] increasing upper edges; the last is +Infinity. */
  readonly upper: readonly Float64Array[];
  /** 1 when the feature had NaN in the binning sample. */
  readonly hasMissing: Uint8Array;
}

/** The dataset as small integers, column-major: codes[f * rows + i]. */
export interface BinnedData {
  readonly rows: number;
  readonly cols: number;
  readonly codes: Uint8Array;
}

/** Upper edges for one feature's values (NaN already removed), `sorted` ascending. */
export function binEdgesFromSorted(sorted: Float64Array, maxBins: number): Float64Array {
  const n = sorted.length;
  if (n === 0) return Float64Array.of(Infinity);
  let distinct = 1;
  for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  const edges: number[] = [];
  if (distinct <= maxBins) {
    let previous = sorted[0];
    for (let i = 1; i < n; i++) {
      const value = sorted[i];
      if (value !== previous) {
        edges.push(midpoint(previous, value));
        previous = value;
      }
    }
  } else {
    // numpy.percentile(method='midpoint') at linspace(0, 100, maxBins + 1)[1:-1], then unique.
    for (let q = 1; q < maxBins; q++) {
      const position = (q / maxBins) * (n - 1);
      const lo = Math.floor(position);
      const hi = Math.ceil(position);
      const edge = sorted[lo] / 2 + sorted[hi] / 2;
      if (edges.length === 0 || edge > edges[edges.length - 1]) edges.push(edge);
    }
  }
  edges.push(Infinity);
  return Float64Array.from(edges);
}

/** A split point with a <= point < b even when a and b are adjacent doubles (as scikit-learn's tree does). */
function midpoint(a: number, b: number): number {
  const mid = a / 2 + b / 2;
  return mid >= b || !Number.isFinite(mid) ? a : mid;
}

/** Fits one mapper per feature on (a sample of) the given rows of X. */
export function fitBinMapper(X: Matrix, maxBins: number, seed: number, rowsToUse?: Int32Array): BinMapper {
  const available = rowsToUse ?? identity(X.rows);
  let sample = available;
  if (available.length > BINNING_SAMPLE_ROWS) {
    const shuffled = Int32Array.from(available);
    new Rng(seed).shuffle(shuffled);
    sample = shuffled.subarray(0, BINNING_SAMPLE_ROWS);
  }
  const p = X.cols;
  const nBins = new Int32Array(p);
  const hasMissing = new Uint8Array(p);
  const upper: Float64Array[] = [];
  const column = new Float64Array(sample.length);
  for (let f = 0; f < p; f++) {
    let count = 0;
    for (let i = 0; i < sample.length; i++) {
      const value = X.data[sample[i] * p + f];
      if (Number.isNaN(value)) hasMissing[f] = 1;
      else column[count++] = value;
    }
    const sorted = column.slice(0, count).sort();
    const edges = binEdgesFromSorted(sorted, maxBins);
    upper.push(edges);
    nBins[f] = edges.length;
  }
  return { nFeatures: p, nBins, upper, hasMissing };
}

/** Bin index of one raw value: the first bin whose upper edge is >= value; NaN gets the missing bin. */
export function binValue(upper: Float64Array, value: number): number {
  if (Number.isNaN(value)) return upper.length;
  let lo = 0;
  let hi = upper.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= upper[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Codes for the given rows of X (all rows by default), column-major. */
export function binMatrix(mapper: BinMapper, X: Matrix, rowsToUse?: Int32Array): BinnedData {
  const p = X.cols;
  const n = rowsToUse ? rowsToUse.length : X.rows;
  const codes = new Uint8Array(n * p);
  for (let f = 0; f < p; f++) {
    const edges = mapper.upper[f];
    const offset = f * n;
    for (let i = 0; i < n; i++) {
      const r = rowsToUse ? rowsToUse[i] : i;
      codes[offset + i] = binValue(edges, X.data[r * p + f]);
    }
  }
  return { rows: n, cols: p, codes };
}

export function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
