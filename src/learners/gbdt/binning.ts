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
  const sorter = new Float64Sorter(sample.length);
  for (let f = 0; f < p; f++) {
    let count = 0;
    for (let i = 0; i < sample.length; i++) {
      const value = X.data[sample[i] * p + f];
      if (Number.isNaN(value)) hasMissing[f] = 1;
      else column[count++] = value;
    }
    const sorted = column.subarray(0, count);
    sorter.sort(sorted);
    const edges = binEdgesFromSorted(sorted, maxBins);
    upper.push(edges);
    nBins[f] = edges.length;
  }
  return { nFeatures: p, nBins, upper, hasMissing };
}

/**
 * Ascending sort of NaN-free doubles, as Float64Array.prototype.sort orders them (−0 before +0), by an LSD radix
 * sort on the IEEE bits (6 passes of 11 bits over keys made unsigned-comparable), a few times faster than the
 * built-in comparison sort on the column sizes binning sees. Buffers are kept for the next column.
 */
export class Float64Sorter {
  private keys: Uint32Array;
  private spare: Uint32Array;
  private readonly counts = new Int32Array(6 * RADIX_BUCKETS);

  constructor(capacity: number) {
    this.keys = new Uint32Array(2 * capacity);
    this.spare = new Uint32Array(2 * capacity);
  }

  sort(values: Float64Array): void {
    const n = values.length;
    if (n < 2) return;
    if (2 * n > this.keys.length) {
      this.keys = new Uint32Array(2 * n);
      this.spare = new Uint32Array(2 * n);
    }
    // Little-endian word pairs [low, high]; flip all bits of negatives and the sign bit of the rest.
    const bits = new Uint32Array(values.buffer, values.byteOffset, 2 * n);
    let from = this.keys;
    let to = this.spare;
    const counts = this.counts;
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const high = bits[2 * i + 1];
      const mask = high >> 31; // all ones for negatives, else zero
      const low = (bits[2 * i] ^ mask) >>> 0;
      const top = (high ^ (mask | 0x80000000)) >>> 0;
      from[2 * i] = low;
      from[2 * i + 1] = top;
      counts[low & RADIX_MASK]++;
      counts[RADIX_BUCKETS + ((low >>> 11) & RADIX_MASK)]++;
      counts[2 * RADIX_BUCKETS + (low >>> 22)]++;
      counts[3 * RADIX_BUCKETS + (top & RADIX_MASK)]++;
      counts[4 * RADIX_BUCKETS + ((top >>> 11) & RADIX_MASK)]++;
      counts[5 * RADIX_BUCKETS + (top >>> 22)]++;
    }
    for (let pass = 0; pass < 6; pass++) {
      const offset = pass * RADIX_BUCKETS;
      const word = pass < 3 ? 0 : 1;
      const shift = (pass % 3) * 11;
      // A digit every key shares leaves the order as it is.
      let single = false;
      for (let d = 0; d < RADIX_BUCKETS; d++) {
        const c = counts[offset + d];
        if (c === n) single = true;
        if (c !== 0) break;
      }
      if (single) continue;
      let total = 0;
      for (let d = 0; d < RADIX_BUCKETS; d++) {
        const c = counts[offset + d];
        counts[offset + d] = total;
        total += c;
      }
      for (let i = 0; i < n; i++) {
        const digit = (from[2 * i + word] >>> shift) & RADIX_MASK;
        const at = 2 * counts[offset + digit]++;
        to[at] = from[2 * i];
        to[at + 1] = from[2 * i + 1];
      }
      const swap = from;
      from = to;
      to = swap;
    }
    for (let i = 0; i < n; i++) {
      const top = from[2 * i + 1];
      const mask = ~(top >> 31); // negatives (sign bit now clear) get all bits flipped back
      bits[2 * i] = from[2 * i] ^ mask;
      bits[2 * i + 1] = top ^ (mask | 0x80000000);
    }
  }
}

const RADIX_BUCKETS = 2048;
const RADIX_MASK = RADIX_BUCKETS - 1;

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
  const edges = new Float64Array(SEARCH_WIDTH);
  for (let f = 0; f < p; f++) {
    const upper = mapper.upper[f];
    const missingBin = upper.length;
    const offset = f * n;
    if (upper.length > SEARCH_WIDTH) {
      for (let i = 0; i < n; i++) codes[offset + i] = binValue(upper, X.data[(rowsToUse ? rowsToUse[i] : i) * p + f]);
      continue;
    }
    edges.fill(Infinity);
    edges.set(upper);
    for (let i = 0; i < n; i++) {
      const value = X.data[(rowsToUse ? rowsToUse[i] : i) * p + f];
      codes[offset + i] = value === value ? countBelow(edges, value) : missingBin;
    }
  }
  return { rows: n, cols: p, codes };
}

/** Edges padded with +Infinity to this width, so the search below always takes eight halving steps. */
const SEARCH_WIDTH = 256;

/**
 * How many of the (ascending, +Infinity-padded) edges are < value, i.e. binValue for a non-NaN value. Each step
 * adds a 0/1 comparison result instead of branching on it: the comparisons are unpredictable, so this branch-free
 * form is several times faster than the plain binary search.
 */
function countBelow(edges: Float64Array, value: number): number {
  let lo = 0;
  lo += +(edges[lo + 127] < value) << 7;
  lo += +(edges[lo + 63] < value) << 6;
  lo += +(edges[lo + 31] < value) << 5;
  lo += +(edges[lo + 15] < value) << 4;
  lo += +(edges[lo + 7] < value) << 3;
  lo += +(edges[lo + 3] < value) << 2;
  lo += +(edges[lo + 1] < value) << 1;
  lo += +(edges[lo] < value);
  return lo;
}

export function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
