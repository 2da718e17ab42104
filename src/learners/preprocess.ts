/**
 * The model pipeline (scikit-learn's SimpleImputer(median, add_indicator) → StandardScaler → estimator):
 * fitted preprocessing state is saved with the model and applied at predict, so a served model sees
 * exactly what training saw. Also the small checks every family's load/predict shares.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { checkPredictInput, checkTrainingData, firstNaN } from './validate.js';
export { checkNoMissing } from './validate.js';
import type { FitOptions, FittedModel, LabelsAndProba, LearnerFamily, Params, SerializedModel, Task, TrainingData } from './types.js';
import { serializedModel } from './serialized.js';
import { instantiateKernel, MemoryLayout, type WasmKernelModule } from '../runtime/wasm.js';
import { wasmBase64 } from '../generated/wasm/preprocess.js';

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
    // Imputing: one kernel pass finds the medians, which columns hold NaN and, when nothing is missing, the scaling statistics.
    const summary = options.impute ? summariseColumns(X, options.scale) : null;
    const nanColumns = summary === null ? columnsWithNaN(X) : summary.nanColumns;
    const medians = summary === null ? null : summary.medians;
    const indicatorColumns: number[] = [];
    if (options.impute && options.missingIndicator) {
      for (let j = 0; j < X.cols; j++) if (nanColumns[j] === 1) indicatorColumns.push(j);
    }
    const base = new Preprocessor({ nInputFeatures, medians, indicatorColumns, means: null, scales: null });
    if (!options.scale) return base;
    if (summary !== null && summary.statistics !== null) return new Preprocessor({ nInputFeatures, medians, indicatorColumns, ...summary.statistics });
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
    const fill = medians === null ? null : Float64Array.from(medians);
    // Imputing only, and nothing missing: the input itself, saving a copy per predict call (learners never
    // write to their input; the conformance suite checks it).
    if (means === null && indicatorColumns.length === 0 && X.cols === nInputFeatures && firstNaN(X.data, 0) < 0) return X;
    const out = new Float64Array(X.rows * outCols);
    if (means !== null && scales !== null) {
      // Imputation (if any) and scaling in one pass; indicator columns are 0/1 before scaling, added after.
      scaleRows(X.data, X.rows, nInputFeatures, fill, Float64Array.from(means), Float64Array.from(scales), out, outCols);
    } else if (fill !== null && firstNaN(X.data, 0) >= 0) {
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
  if (outCols === cols) {
    out.set(src.subarray(0, rows * cols));
    return;
  }
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
  /** Labels and probabilities from one preprocessing pass (and one model pass where the model offers it). */
  readonly predictWithProba?: (X: Matrix) => LabelsAndProba;

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
      this.predictWithProba = (X: Matrix): LabelsAndProba => labelsAndProba(model, this.prepare(X));
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

interface ColumnStatistics {
  readonly means: number[];
  readonly scales: number[];
}

interface ColumnSummary {
  /** NaN-ignoring median per column. */
  readonly medians: number[];
  /** 1 for every column holding a NaN. */
  readonly nanColumns: Uint8Array;
  /** StandardScaler statistics of X, when asked for and X holds no NaN (otherwise they are of the imputed matrix). */
  readonly statistics: ColumnStatistics | null;
}

interface PreprocessExports {
  scatterColumns(data: number, rows: number, cols: number, columns: number, stride: number, counts: number, mins: number, maxs: number): void;
  medianOf(values: number, count: number, min: number, max: number, scratch: number, buckets: number): number;
  columnSums(columns: number, stride: number, rows: number, cols: number, sums: number): void;
  columnSquaredDeviations(columns: number, stride: number, rows: number, cols: number, centre: number, squares: number): void;
}

let preprocessKernel: WasmKernelModule<PreprocessExports> | undefined;

function kernelModule(): WasmKernelModule<PreprocessExports> {
  preprocessKernel ??= instantiateKernel<PreprocessExports>('preprocess', wasmBase64);
  return preprocessKernel;
}

const MEDIAN_BUCKETS = 2048;
/** Row-major values copied into the kernel per scatter call: small enough that a first fit's calls tier up. */
const STAGING_VALUES = 32768;

/** Byte offsets of consecutive 16-byte-aligned regions of the given byte sizes, and where the last ends. */
function layoutBytes(sizes: number[]): { offsets: number[]; end: number } {
  const layout = new MemoryLayout(0);
  const offsets = sizes.map((size) => layout.take(size));
  return { offsets, end: layout.end };
}

/**
 * NaN-ignoring medians (scikit-learn's SimpleImputer(strategy='median')); an all-NaN column gets 0
 * (scikit-learn would drop it). Blocks of rows are copied into the kernel, which scatters each column's
 * non-NaN values into its own contiguous slice while tracking the column's count, min and max; medianOf then
 * finds the exact middle order statistics of each slice (wasm/preprocess.ts). With `withStatistics` and no NaN,
 * the scaling statistics are summed over the same slices first, in row order, before medianOf reorders them.
 */
function summariseColumns(X: Matrix, withStatistics: boolean): ColumnSummary {
  const { rows, cols, data } = X;
  const kernel = kernelModule();
  const chunkRows = Math.max(1, Math.min(rows, Math.floor(STAGING_VALUES / cols)));
  const {
    offsets: [columnsAt, countsAt, minsAt, maxsAt, scratchAt, bucketsAt, sumsAt, centreAt, squaresAt, stagingAt],
    end,
  } = layoutBytes([rows * cols * 8, cols * 4, cols * 8, cols * 8, rows * 8, MEDIAN_BUCKETS * 4, cols * 8, cols * 8, cols * 8, chunkRows * cols * 8]);
  kernel.ensureBytes(end);
  const buffer = kernel.memory.buffer;
  const counts = new Int32Array(buffer, countsAt, cols).fill(0);
  const mins = new Float64Array(buffer, minsAt, cols).fill(Infinity);
  const maxs = new Float64Array(buffer, maxsAt, cols).fill(-Infinity);
  const staging = new Float64Array(buffer, stagingAt, chunkRows * cols);
  const { scatterColumns, medianOf, columnSums, columnSquaredDeviations } = kernel.exports;
  for (let from = 0; from < rows; from += chunkRows) {
    const to = Math.min(rows, from + chunkRows);
    staging.set(data.subarray(from * cols, to * cols));
    scatterColumns(stagingAt, to - from, cols, columnsAt, rows, countsAt, minsAt, maxsAt);
  }
  const nanColumns = new Uint8Array(cols);
  let anyNaN = false;
  for (let j = 0; j < cols; j++) {
    if (counts[j] < rows) {
      nanColumns[j] = 1;
      anyNaN = true;
    }
  }
  let statistics: ColumnStatistics | null = null;
  if (withStatistics && !anyNaN) {
    columnSums(columnsAt, rows, rows, cols, sumsAt);
    const sums = new Float64Array(buffer, sumsAt, cols);
    const centre = new Float64Array(buffer, centreAt, cols);
    for (let j = 0; j < cols; j++) centre[j] = rows > 0 ? sums[j] / rows : 0;
    columnSquaredDeviations(columnsAt, rows, rows, cols, centreAt, squaresAt);
    const squares = new Float64Array(buffer, squaresAt, cols);
    statistics = meansAndScales(centre, squares, new Float64Array(cols).fill(rows));
  }
  const medians: number[] = [];
  for (let j = 0; j < cols; j++) {
    const count = counts[j];
    medians.push(count === 0 ? 0 : medianOf(columnsAt + j * rows * 8, count, mins[j], maxs[j], scratchAt, bucketsAt));
  }
  return { medians, nanColumns, statistics };
}

/** StandardScaler: population std, NaN-ignoring; a constant column keeps scale 1 so it maps to 0. */
function columnMeansAndScales(X: Matrix): ColumnStatistics {
  const { rows, cols, data } = X;
  const sums = new Float64Array(cols);
  const counts = new Float64Array(cols);
  addColumnSums(data, rows, cols, sums, counts);
  const centre = new Float64Array(cols);
  for (let j = 0; j < cols; j++) centre[j] = counts[j] > 0 ? sums[j] / counts[j] : 0;
  const squares = new Float64Array(cols);
  addSquaredDeviations(data, rows, cols, centre, squares);
  return meansAndScales(centre, squares, counts);
}

/** Means and StandardScaler scales from the centres and the sums of squared deviations over counts[j] values. */
function meansAndScales(centre: Float64Array, squares: Float64Array, counts: Float64Array): ColumnStatistics {
  const cols = centre.length;
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

/** A classifier's labels and probabilities: one pass when the model offers it, else predict then predictProba. */
export function labelsAndProba(model: FittedModel, X: Matrix): LabelsAndProba {
  if (model.predictWithProba) return model.predictWithProba(X);
  if (model.task !== 'classification' || !model.predictProba) {
    throw new SpotmlError('USAGE', `${model.family}: probabilities are for classifiers with predictProba`, { family: model.family });
  }
  return { labels: model.predict(X), proba: model.predictProba(X) };
}

/** Probabilities with their argmax as the labels: predictWithProba for families whose predict is that argmax. */
export function withArgmaxLabels(proba: Matrix): LabelsAndProba {
  return { labels: argmaxRows(proba), proba };
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
