/**
 * A weighted ensemble of fitted models (the result of ensemble selection): classifiers average class
 * probabilities and predict their argmax; regressors average predictions. Serialises its members.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { loadModel } from './catalogue.js';
import { checkPredictInput } from './validate.js';
import type { FittedModel, LabelsAndProba, Params, SerializedModel, Task } from './types.js';
import { argmaxRows, withArgmaxLabels } from './preprocess.js';
import { serializedModel } from './serialized.js';

export const ENSEMBLE_FAMILY = 'ensemble';

export class EnsembleModel implements FittedModel {
  readonly family = ENSEMBLE_FAMILY;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nClasses?: number;
  readonly params: Params;
  readonly predictProba?: (X: Matrix) => Matrix;
  /** Labels and probabilities from one pass over the members (classification). */
  readonly predictWithProba?: (X: Matrix) => LabelsAndProba;

  constructor(
    readonly members: readonly FittedModel[],
    readonly weights: readonly number[],
  ) {
    if (members.length === 0 || members.length !== weights.length) {
      throw new SpotmlError('INTERNAL', 'an ensemble needs one weight per member and at least one member');
    }
    const first = members[0];
    this.task = first.task;
    this.nFeatures = first.nFeatures;
    this.nClasses = first.nClasses;
    this.params = { members: members.length };
    for (const m of members) {
      if (m.task !== this.task || m.nFeatures !== this.nFeatures || m.nClasses !== this.nClasses) {
        throw new SpotmlError('INTERNAL', 'ensemble members must share task, feature count and classes');
      }
    }
    if (this.task === 'classification') {
      this.predictProba = (X: Matrix): Matrix => this.averageProba(X);
      this.predictWithProba = (X: Matrix): LabelsAndProba => withArgmaxLabels(this.averageProba(X));
    }
  }

  predict(X: Matrix): Float64Array {
    checkPredictInput(X, this.nFeatures, ENSEMBLE_FAMILY);
    if (this.task === 'classification') return argmaxRows(this.averageProba(X));
    const out = new Float64Array(X.rows);
    this.members.forEach((m, j) => {
      const p = m.predict(X);
      for (let i = 0; i < X.rows; i++) out[i] += this.weights[j] * p[i];
    });
    return out;
  }

  private averageProba(X: Matrix): Matrix {
    checkPredictInput(X, this.nFeatures, ENSEMBLE_FAMILY);
    const k = this.nClasses as number;
    const out = new Float64Array(X.rows * k);
    this.members.forEach((m, j) => {
      const w = this.weights[j];
      if (m.predictProba) {
        const p = m.predictProba(X).data;
        for (let i = 0; i < out.length; i++) out[i] += w * p[i];
      } else {
        const p = m.predict(X);
        for (let i = 0; i < X.rows; i++) out[i * k + p[i]] += w;
      }
    });
    return createMatrix(X.rows, k, out);
  }

  toJSON(): SerializedModel {
    return serializedModel(this, { weights: this.weights, members: this.members.map((m) => m.toJSON()) });
  }
}

/** Loads any saved model: an ensemble, a pipeline or a bare family model. */
export function loadAnyModel(json: SerializedModel): FittedModel {
  if (json?.family === ENSEMBLE_FAMILY) {
    const state = json.state as { weights?: unknown; members?: unknown } | null;
    if (!state || !Array.isArray(state.weights) || !Array.isArray(state.members) || state.weights.length !== state.members.length) {
      throw new SpotmlError('INVALID_INPUT', 'saved ensemble is malformed: expected matching "weights" and "members" arrays');
    }
    return new EnsembleModel(
      (state.members as SerializedModel[]).map(loadAnyModel),
      (state.weights as unknown[]).map(Number),
    );
  }
  return loadModel(json);
}
