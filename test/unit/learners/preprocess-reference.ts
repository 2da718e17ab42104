/**
 * The JavaScript preprocessing of src/learners/preprocess.ts before its WebAssembly kernels (commit 1efe445),
 * kept unchanged as the reference the new implementation must match bit for bit.
 */
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { firstNaN } from '../../../src/learners/validate.js';
import type { PipelineOptions, PreprocessorState } from '../../../src/learners/preprocess.js';

/** Fitted preprocessing: imputation, indicators, scaling. Allocates a new matrix; never mutates the input. */
export class ReferencePreprocessor {
  readonly state: PreprocessorState;

  constructor(state: PreprocessorState) {
    this.state = state;
  }

  static fit(X: Matrix, options: Required<PipelineOptions>): ReferencePreprocessor {
    const nInputFeatures = X.cols;
    const nanColumns = columnsWithNaN(X);
    const medians = options.impute ? columnMedians(X) : null;
    const indicatorColumns: number[] = [];
    if (options.impute && options.missingIndicator) {
      for (let j = 0; j < X.cols; j++) if (nanColumns[j] === 1) indicatorColumns.push(j);
    }
    const base = new ReferencePreprocessor({ nInputFeatures, medians, indicatorColumns, means: null, scales: null });
    if (!options.scale) return base;
    // Without NaN imputation changes nothing and adds no column, so the statistics can read X itself.
    const imputed = indicatorColumns.length === 0 && !nanColumns.includes(1) ? X : base.transform(X);
    const { means, scales } = columnMeansAndScales(imputed);
    return new ReferencePreprocessor({ nInputFeatures, medians, indicatorColumns, means, scales });
  }

  get nOutputFeatures(): number {
    return this.state.nInputFeatures + this.state.indicatorColumns.length;
  }

  get isIdentity(): boolean {
    return this.state.medians === null && this.state.means === null && this.state.indicatorColumns.length === 0;
  }

  transform(X: Matrix): Matrix {
    const { nInputFeatures, medians, indicatorColumns, means, scales } = this.state;
    if (this.isIdentity) return X;
    const outCols = this.nOutputFeatures;
    const out = new Float64Array(X.rows * outCols);
    const fill = medians === null ? null : Float64Array.from(medians);
    if (means !== null && scales !== null) {
      // Imputation (if any) and scaling in one pass; indicator columns are 0/1 before scaling, added after.
      scaleRows(X.data, X.rows, nInputFeatures, fill, Float64Array.from(means), Float64Array.from(scales), out, outCols);
    } else if (fill !== null) {
      imputeRows(X.data, X.rows, nInputFeatures, fill, out, outCols);
    } else {
      copyRows(X.data, X.rows, nInputFeatures, out, outCols);
    }
    if (indicatorColumns.length > 0) {
      const centre = means === null ? null : Float64Array.from(means);
      const spread = scales === null ? null : Float64Array.from(scales);
      for (let k = 0; k < indicatorColumns.length; k++) {
        const outColumn = nInputFeatures + k;
        const present = centre === null || spread === null ? 0 : (0 - centre[outColumn]) / spread[outColumn];
        const missing = centre === null || spread === null ? 1 : (1 - centre[outColumn]) / spread[outColumn];
        writeIndicator(X.data, X.rows, nInputFeatures, indicatorColumns[k], present, missing, out, outCols, outColumn);
      }
    }
    return createMatrix(X.rows, outCols, out);
  }
}

// Row kernels: small single-purpose loops, so V8 optimises each quickly and never sees an unused branch.

/** out = (x, with NaN → fill when imputing, − centre) / spread, entry by entry. */
function scaleRows(src: Float64Array, rows: number, cols: number, fill: Float64Array | null, centre: Float64Array, spread: Float64Array, out: Float64Array, outCols: number): void {
  for (let i = 0; i < rows; i++) {
    const inBase = i * cols;
    const outBase = i * outCols;
    for (let j = 0; j < cols; j++) {
      const v = src[inBase + j];
      out[outBase + j] = ((v !== v && fill !== null ? fill[j] : v) - centre[j]) / spread[j];
    }
  }
}

function imputeRows(src: Float64Array, rows: number, cols: number, fill: Float64Array, out: Float64Array, outCols: number): void {
  for (let i = 0; i < rows; i++) {
    const inBase = i * cols;
    const outBase = i * outCols;
    for (let j = 0; j < cols; j++) {
      const v = src[inBase + j];
      out[outBase + j] = v !== v ? fill[j] : v;
    }
  }
}

function copyRows(src: Float64Array, rows: number, cols: number, out: Float64Array, outCols: number): void {
  for (let i = 0; i < rows; i++) out.set(src.subarray(i * cols, (i + 1) * cols), i * outCols);
}

/** One missing-indicator column: `missing` where the input column is NaN, `present` elsewhere (both already scaled). */
function writeIndicator(src: Float64Array, rows: number, cols: number, column: number, present: number, missing: number, out: Float64Array, outCols: number, outColumn: number): void {
  for (let i = 0; i < rows; i++) {
    const v = src[i * cols + column];
    out[i * outCols + outColumn] = v !== v ? missing : present;
  }
}


/** 1 for every column holding a NaN; one scan of the data when there is none. */
function columnsWithNaN(X: Matrix): Uint8Array {
  const { cols, data } = X;
  const flags = new Uint8Array(cols);
  for (let at = firstNaN(data, 0); at >= 0; at = firstNaN(data, at + 1)) flags[at % cols] = 1;
  return flags;
}

/**
 * NaN-ignoring medians (scikit-learn's SimpleImputer(strategy='median')); an all-NaN column gets 0
 * (scikit-learn would drop it). One row-major pass copies each column's values into its own contiguous
 * slice; medianOf then finds the exact middle order statistics of each slice.
 */
function columnMedians(X: Matrix): number[] {
  const { rows, cols, data } = X;
  const medians: number[] = [];
  const columns = new Float64Array(rows * cols);
  const counts = new Int32Array(cols);
  scatterColumns(data, rows, cols, columns, counts);
  const scratch = new Float64Array(rows);
  const buckets = new Int32Array(MEDIAN_BUCKETS);
  for (let j = 0; j < cols; j++) {
    const count = counts[j];
    medians.push(count === 0 ? 0 : medianOf(columns.subarray(j * rows, j * rows + count), count, scratch, buckets));
  }
  return medians;
}

const MEDIAN_BUCKETS = 2048;
const MIN_BUCKETED = 4096;

/** One row-major pass copies every column's non-NaN values into its own slice columns[j·rows …), counts[j] of them. */
function scatterColumns(data: Float64Array, rows: number, cols: number, columns: Float64Array, counts: Int32Array): void {
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = data[base + j];
      if (v === v) columns[j * rows + counts[j]++] = v;
    }
  }
}

/**
 * Median of values[0..count) (no NaN; may reorder them). Values are counted into equal-width buckets over
 * [min, max]; the bucket index is a monotone function of the value, so the middle order statistics lie in
 * the bucket(s) whose cumulative counts cover the middle ranks, and only those few values are selected.
 * Infinite or degenerate ranges fall back to selecting over all values. No loops here: each pass is its own
 * small function, so none of them waits for on-stack replacement inside a long-running caller.
 */
function medianOf(values: Float64Array, count: number, scratch: Float64Array, buckets: Int32Array): number {
  const upperRank = count >> 1;
  const lowerRank = count % 2 === 0 ? upperRank - 1 : upperRank;
  // Below a few thousand values the three bucket passes cost more than selecting directly.
  if (count < MIN_BUCKETED) return middleOf(values, count, lowerRank, upperRank);
  const min = minOf(values, count);
  const max = maxOf(values, count);
  if (min === max) return min;
  const nBuckets = Math.min(MEDIAN_BUCKETS, count >> 2);
  const scale = nBuckets / (max - min);
  if (!(max - min < Infinity) || !(scale < Infinity)) return middleOf(values, count, lowerRank, upperRank);
  buckets.fill(0, 0, nBuckets);
  bucketCounts(values, count, min, scale, nBuckets, buckets);
  const first = bucketHoldingRank(buckets, lowerRank);
  const last = bucketHoldingRank(buckets, upperRank);
  const before = countBefore(buckets, first);
  const gathered = gatherBuckets(values, count, min, scale, nBuckets, first, last, scratch);
  return middleOf(scratch, gathered, lowerRank - before, upperRank - before);
}

function minOf(values: Float64Array, count: number): number {
  let min = values[0];
  for (let i = 1; i < count; i++) if (values[i] < min) min = values[i];
  return min;
}

function maxOf(values: Float64Array, count: number): number {
  let max = values[0];
  for (let i = 1; i < count; i++) if (values[i] > max) max = values[i];
  return max;
}

function bucketOf(v: number, min: number, scale: number, nBuckets: number): number {
  const b = ((v - min) * scale) | 0;
  return b < nBuckets ? b : nBuckets - 1;
}

function bucketCounts(values: Float64Array, count: number, min: number, scale: number, nBuckets: number, buckets: Int32Array): void {
  for (let i = 0; i < count; i++) buckets[bucketOf(values[i], min, scale, nBuckets)]++;
}

/** The bucket whose cumulative count first exceeds rank. */
function bucketHoldingRank(buckets: Int32Array, rank: number): number {
  let b = 0;
  for (let through = buckets[0]; through <= rank; through += buckets[b]) b++;
  return b;
}

function countBefore(buckets: Int32Array, bucket: number): number {
  let sum = 0;
  for (let b = 0; b < bucket; b++) sum += buckets[b];
  return sum;
}

function gatherBuckets(values: Float64Array, count: number, min: number, scale: number, nBuckets: number, first: number, last: number, out: Float64Array): number {
  let gathered = 0;
  const span = last - first;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    // One unsigned comparison: a rarely-taken branch, where b >= first alone would be a coin flip.
    if ((bucketOf(v, min, scale, nBuckets) - first) >>> 0 <= span) out[gathered++] = v;
  }
  return gathered;
}

/** (lower + upper) / 2 of the order statistics at lowerRank ≤ upperRank (equal for an odd count). */
function middleOf(values: Float64Array, count: number, lowerRank: number, upperRank: number): number {
  const upper = selectKth(values, count, upperRank);
  // Selection leaves every smaller-ranked value left of upperRank; the lower middle is their largest.
  return lowerRank === upperRank ? upper : (maxOf(values, upperRank) + upper) / 2;
}

/** Hoare's quickselect on values[0..count): returns the k-th smallest, leaving smaller values before index k. */
function selectKth(values: Float64Array, count: number, k: number): number {
  let left = 0;
  let right = count - 1;
  while (left < right) {
    const pivot = values[(left + right) >> 1];
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const tmp = values[i];
        values[i] = values[j];
        values[j] = tmp;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return values[k];
}

/** StandardScaler: population std, NaN-ignoring; a constant column keeps scale 1 so it maps to 0. */
function columnMeansAndScales(X: Matrix): { means: number[]; scales: number[] } {
  const { rows, cols, data } = X;
  const sums = new Float64Array(cols);
  const counts = new Float64Array(cols);
  addColumnSums(data, rows, cols, sums, counts);
  const centre = new Float64Array(cols);
  for (let j = 0; j < cols; j++) centre[j] = counts[j] > 0 ? sums[j] / counts[j] : 0;
  const squares = new Float64Array(cols);
  addSquaredDeviations(data, rows, cols, centre, squares);
  const means: number[] = [];
  const scales: number[] = [];
  for (let j = 0; j < cols; j++) {
    const std = counts[j] > 0 ? Math.sqrt(squares[j] / counts[j]) : 0;
    means.push(centre[j]);
    // scikit-learn's _handle_zeros_in_scale: near-constant columns are left unscaled.
    scales.push(std < 10 * Number.EPSILON * Math.max(1, Math.abs(centre[j])) ? 1 : std);
  }
  return { means, scales };
}

/** Per column, the sum and count of the non-NaN values, each added in row order. */
function addColumnSums(data: Float64Array, rows: number, cols: number, sums: Float64Array, counts: Float64Array): void {
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = data[base + j];
      if (v === v) {
        sums[j] += v;
        counts[j] += 1;
      }
    }
  }
}

function addSquaredDeviations(data: Float64Array, rows: number, cols: number, centre: Float64Array, squares: Float64Array): void {
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = data[base + j];
      if (v === v) squares[j] += (v - centre[j]) * (v - centre[j]);
    }
  }
}

