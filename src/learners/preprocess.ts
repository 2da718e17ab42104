/**
 * The model pipeline (scikit-learn's SimpleImputer(median, add_indicator) → StandardScaler → estimator):
 * fitted preprocessing state is saved with the model and applied at predict, so a served model sees
 * exactly what training saw. Also the small checks every family's load/predict shares.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { checkPredictInput, checkTrainingData, firstNaN } from './validate.js';
export { checkNoMissing } from './validate.js';
import type { FitOptions, FittedModel, LearnerFamily, Params, SerializedModel, Task, TrainingData } from './types.js';
import { serializedModel } from './serialized.js';

export const PIPELINE_FAMILY = 'pipeline';

export interface PipelineOptions {
  /** Median-impute NaN. Default: when the family does not handle NaN itself. */
  readonly impute?: boolean;
  /** Append a 0/1 column per feature that had NaN in training (scikit-learn's add_indicator). Default false. */
  readonly missingIndicator?: boolean;
  /** Standardise every column. Default: the family's `needsScaling` tag. */
  readonly scale?: boolean;
}

export interface PreprocessorState {
  readonly nInputFeatures: number;
  /** Per input column; null when imputation is off. */
  readonly medians: number[] | null;
  /** Input columns that get a missing-indicator column, in output order. */
  readonly indicatorColumns: number[];
  /** Per output column; null when scaling is off. */
  readonly means: number[] | null;
  readonly scales: number[] | null;
}

/** Fitted preprocessing: imputation, indicators, scaling. Allocates a new matrix; never mutates the input. */
export class Preprocessor {
  readonly state: PreprocessorState;

  constructor(state: PreprocessorState) {
    this.state = state;
  }

  static fit(X: Matrix, options: Required<PipelineOptions>): Preprocessor {
    const nInputFeatures = X.cols;
    const nanColumns = columnsWithNaN(X);
    const medians = options.impute ? columnMedians(X) : null;
    const indicatorColumns: number[] = [];
    if (options.impute && options.missingIndicator) {
      for (let j = 0; j < X.cols; j++) if (nanColumns[j] === 1) indicatorColumns.push(j);
    }
    const base = new Preprocessor({ nInputFeatures, medians, indicatorColumns, means: null, scales: null });
    if (!options.scale) return base;
    // Without NaN imputation changes nothing and adds no column, so the statistics can read X itself.
    const imputed = indicatorColumns.length === 0 && !nanColumns.includes(1) ? X : base.transform(X);
    const { means, scales } = columnMeansAndScales(imputed);
    return new Preprocessor({ nInputFeatures, medians, indicatorColumns, means, scales });
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

/** A fitted preprocessing pipeline around a fitted model; itself a FittedModel. */
export class PipelineModel implements FittedModel {
  readonly family = PIPELINE_FAMILY;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nClasses?: number;
  readonly params: Params;
  readonly preprocessor: Preprocessor;
  readonly model: FittedModel;
  readonly predictProba?: (X: Matrix) => Matrix;

  constructor(preprocessor: Preprocessor, model: FittedModel) {
    this.preprocessor = preprocessor;
    this.model = model;
    this.task = model.task;
    this.nFeatures = preprocessor.state.nInputFeatures;
    this.nClasses = model.nClasses;
    this.params = model.params;
    const innerProba = model.predictProba;
    if (innerProba !== undefined && model.task === 'classification') {
      this.predictProba = (X: Matrix): Matrix => innerProba.call(model, this.prepare(X));
    }
  }

  /** The family of the wrapped model (e.g. 'knn'). */
  get estimatorFamily(): string {
    return this.model.family;
  }

  predict(X: Matrix): Float64Array {
    return this.model.predict(this.prepare(X));
  }

  toJSON(): SerializedModel {
    return serializedModel(this, { preprocessor: this.preprocessor.state, model: this.model.toJSON() });
  }

  private prepare(X: Matrix): Matrix {
    checkPredictInput(X, this.nFeatures, `${PIPELINE_FAMILY}(${this.model.family})`);
    return this.preprocessor.transform(X);
  }
}

export interface PipelineFitOptions extends FitOptions {
  readonly preprocess?: PipelineOptions;
}

/** Resolves the pipeline defaults a family implies. */
export function pipelineDefaults(family: LearnerFamily, options: PipelineOptions = {}): Required<PipelineOptions> {
  const impute = options.impute ?? !family.tags.handlesNaN;
  return {
    impute,
    missingIndicator: impute && (options.missingIndicator ?? false),
    scale: options.scale ?? family.tags.needsScaling,
  };
}

export async function fitPipeline(family: LearnerFamily, data: TrainingData, params: Params, options: PipelineFitOptions): Promise<PipelineModel> {
  checkTrainingData(data, { family: family.name, tasks: family.tasks, allowNaN: true });
  const preprocessor = Preprocessor.fit(data.X, pipelineDefaults(family, options.preprocess));
  const transformed: TrainingData = { ...data, X: preprocessor.transform(data.X) };
  const validation = options.validation ? { ...options.validation, X: preprocessor.transform(options.validation.X) } : undefined;
  const { preprocess: _preprocess, ...fitOptions } = options;
  const model = await family.fit(transformed, params, { ...fitOptions, validation });
  return new PipelineModel(preprocessor, model);
}

/** Rebuilds a pipeline; `familyOf` finds the wrapped model's family (the catalogue's `getFamily`). */
export function loadPipeline(json: SerializedModel, familyOf: (name: string) => LearnerFamily): PipelineModel {
  checkModelJson(json, PIPELINE_FAMILY);
  const state = json.state as { preprocessor?: PreprocessorState; model?: SerializedModel } | null;
  const saved = state?.preprocessor;
  if (
    !state ||
    !saved ||
    !state.model ||
    typeof saved.nInputFeatures !== 'number' ||
    !Array.isArray(saved.indicatorColumns) ||
    (saved.means === null) !== (saved.scales === null)
  ) {
    throw malformed(PIPELINE_FAMILY, 'preprocessor or model missing');
  }
  const preprocessor = new Preprocessor(saved);
  const model = familyOf(state.model.family).load(state.model);
  if (model.nFeatures !== preprocessor.nOutputFeatures) throw malformed(PIPELINE_FAMILY, 'preprocessor output and model input disagree');
  return new PipelineModel(preprocessor, model);
}

/** Checks the envelope of a saved model before a family reads its state. */
export function checkModelJson(json: SerializedModel, family: string): void {
  if (json === null || typeof json !== 'object' || json.format !== 'spotml-model') {
    throw new SpotmlError('INVALID_INPUT', `${family}: not a spotml model file (format field missing); pass the model.json spotml wrote`);
  }
  if (json.formatVersion !== 1) {
    throw new SpotmlError('INVALID_INPUT', `${family}: model format version ${String(json.formatVersion)} is not supported; upgrade spotml`);
  }
  if (json.family !== family) {
    throw new SpotmlError('INVALID_INPUT', `${family}: the model file is a ${String(json.family)} model; load it with that family`);
  }
}

export function malformed(family: string, what: string): SpotmlError {
  return new SpotmlError('INVALID_INPUT', `${family}: the saved model is damaged (${what}); retrain or restore the file`, { family });
}

/** For families without native NaN support: a clear error instead of a silent NaN prediction. */

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

/** Class index of each row's largest probability (first on ties), so predict agrees with predictProba. */
export function argmaxRows(proba: Matrix): Float64Array {
  const out = new Float64Array(proba.rows);
  for (let i = 0; i < proba.rows; i++) {
    const base = i * proba.cols;
    let best = 0;
    for (let c = 1; c < proba.cols; c++) if (proba.data[base + c] > proba.data[base + best]) best = c;
    out[i] = best;
  }
  return out;
}
