/**
 * The model pipeline (scikit-learn's SimpleImputer(median, add_indicator) → StandardScaler → estimator):
 * fitted preprocessing state is saved with the model and applied at predict, so a served model sees
 * exactly what training saw. Also the small checks every family's load/predict shares.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
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
    const src = X.data;
    const fill = medians === null ? null : Float64Array.from(medians);
    const indicators = Int32Array.from(indicatorColumns);
    const centre = means === null ? null : Float64Array.from(means);
    const spread = scales === null ? null : Float64Array.from(scales);
    for (let i = 0; i < X.rows; i++) {
      const inBase = i * nInputFeatures;
      const outBase = i * outCols;
      for (let j = 0; j < nInputFeatures; j++) {
        const v = src[inBase + j];
        out[outBase + j] = v !== v && fill !== null ? fill[j] : v;
      }
      for (let k = 0; k < indicators.length; k++) {
        const v = src[inBase + indicators[k]];
        out[outBase + nInputFeatures + k] = v !== v ? 1 : 0;
      }
      if (centre !== null && spread !== null) {
        for (let j = 0; j < outCols; j++) out[outBase + j] = (out[outBase + j] - centre[j]) / spread[j];
      }
    }
    return createMatrix(X.rows, outCols, out);
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

/** 1 for every column holding a NaN, in one row-major pass. */
function columnsWithNaN(X: Matrix): Uint8Array {
  const { rows, cols, data } = X;
  const flags = new Uint8Array(cols);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) if (data[base + j] !== data[base + j]) flags[j] = 1;
  }
  return flags;
}

/** NaN-ignoring medians; an all-NaN column gets 0 (scikit-learn would drop it). */
function columnMedians(X: Matrix): number[] {
  const { rows, cols, data } = X;
  const medians: number[] = new Array(cols);
  // One row-major pass copies every column's non-NaN values into its own contiguous slice (cache-friendly
  // for wide and long tables alike); the selection then works on each slice in place.
  const columns = new Float64Array(rows * cols);
  const counts = new Int32Array(cols);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = data[base + j];
      if (v === v) columns[j * rows + counts[j]++] = v;
    }
  }
  for (let j = 0; j < cols; j++) {
    const count = counts[j];
    if (count === 0) {
      medians[j] = 0;
      continue;
    }
    const values = columns.subarray(j * rows, j * rows + count);
    const mid = count >> 1;
    const upper = selectKth(values, count, mid);
    // For an even count the lower middle is the largest value left of the selected one.
    let lower = upper;
    if (count % 2 === 0) {
      lower = -Infinity;
      for (let i = 0; i < mid; i++) if (values[i] > lower) lower = values[i];
    }
    medians[j] = (lower + upper) / 2;
  }
  return medians;
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
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = data[i * cols + j];
      if (v === v) {
        sums[j] += v;
        counts[j] += 1;
      }
    }
  }
  const means: number[] = new Array(cols);
  for (let j = 0; j < cols; j++) means[j] = counts[j] > 0 ? sums[j] / counts[j] : 0;
  const squares = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = data[i * cols + j];
      if (v === v) squares[j] += (v - means[j]) * (v - means[j]);
    }
  }
  const scales: number[] = new Array(cols);
  for (let j = 0; j < cols; j++) {
    const std = counts[j] > 0 ? Math.sqrt(squares[j] / counts[j]) : 0;
    // scikit-learn's _handle_zeros_in_scale: near-constant columns are left unscaled.
    scales[j] = std < 10 * Number.EPSILON * Math.max(1, Math.abs(means[j])) ? 1 : std;
  }
  return { means, scales };
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
