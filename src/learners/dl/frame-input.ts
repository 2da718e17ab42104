/**
 * Models that read frame-level input (the cnn) beside models that read summary features, in one package.
 *
 * A package whose model takes frames records a `FrameInput`; the model's input row is then the package's
 * summary feature columns (possibly none) followed by one n_bands × frames patch, band-major. In an
 * ensemble that mixes the two kinds, each member is wrapped in an `InputSliceModel` that hands it its own
 * column range, so the ensemble itself stays an ordinary average over members of one input width.
 */
import { SpotmlError } from '../../errors.js';
import { createMatrix, type Matrix } from '../../data/matrix.js';
import { checkModelJson, malformed } from '../preprocess.js';
import { serializedModel } from '../serialized.js';
import type { FittedModel, Params, SerializedModel, Task } from '../types.js';
import { checkPredictInput } from '../validate.js';

/** What a frame-input model was trained on: the .npy feature, its bands, and the frame count clips are cropped or padded to. */
export interface FrameInput {
  feature: string;
  n_bands: number;
  frames: number;
}

export const INPUT_SLICE_FAMILY = 'input_slice';

/** Which part of the combined row a member reads. */
export type InputKind = 'features' | 'frames';

interface SliceState {
  input: InputKind;
  start: number;
  width: number;
  model: SerializedModel;
}

export class InputSliceModel implements FittedModel {
  readonly family = INPUT_SLICE_FAMILY;
  readonly task: Task;
  readonly nClasses?: number;
  readonly params: Params;
  readonly predictProba?: (X: Matrix) => Matrix;

  constructor(
    readonly model: FittedModel,
    readonly input: InputKind,
    readonly start: number,
    readonly nFeatures: number,
  ) {
    if (start < 0 || start + model.nFeatures > nFeatures) throw new SpotmlError('INTERNAL', `input slice [${start}, ${start + model.nFeatures}) exceeds ${nFeatures} columns`);
    this.task = model.task;
    this.nClasses = model.nClasses;
    this.params = model.params;
    const innerProba = model.predictProba;
    if (innerProba !== undefined) this.predictProba = (X: Matrix): Matrix => innerProba.call(model, this.slice(X));
  }

  predict(X: Matrix): Float64Array {
    return this.model.predict(this.slice(X));
  }

  toJSON(): SerializedModel {
    const state: SliceState = { input: this.input, start: this.start, width: this.model.nFeatures, model: this.model.toJSON() };
    return serializedModel(this, state);
  }

  private slice(X: Matrix): Matrix {
    checkPredictInput(X, this.nFeatures, `${INPUT_SLICE_FAMILY}(${this.input})`);
    const width = this.model.nFeatures;
    if (this.start === 0 && width === X.cols) return X;
    const out = new Float64Array(X.rows * width);
    for (let i = 0; i < X.rows; i++) out.set(X.data.subarray(i * X.cols + this.start, i * X.cols + this.start + width), i * width);
    return createMatrix(X.rows, width, out);
  }
}

/** Rebuilds a slice; `load` rebuilds the wrapped model (the catalogue's loadModel, passed in to avoid an import cycle). */
export function loadInputSlice(json: SerializedModel, load: (json: SerializedModel) => FittedModel): InputSliceModel {
  checkModelJson(json, INPUT_SLICE_FAMILY);
  const state = json.state as Partial<SliceState> | null;
  if (!state || !state.model || (state.input !== 'features' && state.input !== 'frames') || typeof state.start !== 'number' || typeof state.width !== 'number') {
    throw malformed(INPUT_SLICE_FAMILY, 'input, start, width or model missing');
  }
  const model = load(state.model);
  if (model.nFeatures !== state.width) throw malformed(INPUT_SLICE_FAMILY, 'slice width and model input disagree');
  return new InputSliceModel(model, state.input, state.start, json.nFeatures);
}

/** Rows of `left` followed by rows of `right`, column-wise ([features | frames]). */
export function concatColumns(left: Matrix, right: Matrix): Matrix {
  if (left.rows !== right.rows) throw new SpotmlError('INTERNAL', `cannot join ${left.rows} rows of features with ${right.rows} rows of frames`);
  if (left.cols === 0) return right;
  if (right.cols === 0) return left;
  const cols = left.cols + right.cols;
  const out = new Float64Array(left.rows * cols);
  for (let i = 0; i < left.rows; i++) {
    out.set(left.data.subarray(i * left.cols, (i + 1) * left.cols), i * cols);
    out.set(right.data.subarray(i * right.cols, (i + 1) * right.cols), i * cols + left.cols);
  }
  return createMatrix(left.rows, cols, out);
}
