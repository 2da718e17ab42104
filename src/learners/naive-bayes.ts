/**
 * Gaussian naive Bayes (scikit-learn's GaussianNB): per class, a (sample-weighted) mean and population variance
 * per feature, every variance widened by var_smoothing × the largest feature variance, priors from class
 * frequencies. Probabilities come from the joint log-likelihood through a log-sum-exp.
 * A class absent from the training rows keeps prior 0, so it gets probability 0.
 */
import { createMatrix, type Matrix } from '../data/matrix.js';
import { resolveParams, type ResolvedParams } from './params.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
import { argmaxRows, checkModelJson, checkNoMissing, malformed } from './preprocess.js';
import type { FittedModel, LearnerFamily, ParamSpec, SerializedModel, Task, TrainingData } from './types.js';
import { serializedModel } from './serialized.js';

const FAMILY = 'gaussian_nb';
const TASKS: readonly Task[] = ['classification'];

const NB_PARAMS = {
  var_smoothing: {
    type: 'float',
    default: 1e-9,
    low: 1e-15,
    high: 1,
    log: true,
    description: 'Share of the largest feature variance added to every variance, for stability.',
    search: { low: 1e-12, high: 1e-1, log: true },
  },
} as const satisfies Record<string, ParamSpec>;

type NbParams = ResolvedParams<typeof NB_PARAMS>;

interface NbState {
  /** nClasses × nFeatures, row-major. */
  means: number[];
  variances: number[];
  priors: number[];
}

class GaussianNbModel implements FittedModel {
  readonly family = FAMILY;
  readonly task: Task = 'classification';
  private readonly logPriors: Float64Array;
  private readonly inverseVariances: Float64Array;
  /** log prior − ½ Σ log(2π σ²) per class. */
  private readonly constants: Float64Array;

  constructor(
    readonly nFeatures: number,
    readonly nClasses: number,
    readonly params: NbParams,
    private readonly state: NbState,
  ) {
    const d = nFeatures;
    this.logPriors = Float64Array.from(state.priors, Math.log);
    this.inverseVariances = Float64Array.from(state.variances, (v) => 1 / v);
    this.constants = new Float64Array(nClasses);
    for (let c = 0; c < nClasses; c++) {
      let logDet = 0;
      for (let j = 0; j < d; j++) logDet += Math.log(2 * Math.PI * state.variances[c * d + j]);
      this.constants[c] = this.logPriors[c] - 0.5 * logDet;
    }
  }

  predict(X: Matrix): Float64Array {
    return argmaxRows(this.predictProba(X));
  }

  predictProba(X: Matrix): Matrix {
    checkPredictInput(X, this.nFeatures, FAMILY);
    checkNoMissing(X, FAMILY);
    const d = this.nFeatures;
    const k = this.nClasses;
    const means = this.state.means;
    const out = new Float64Array(X.rows * k);
    for (let i = 0; i < X.rows; i++) {
      const xBase = i * d;
      const oBase = i * k;
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        let jll = this.constants[c];
        if (jll !== -Infinity) {
          let quad = 0;
          for (let j = 0; j < d; j++) {
            const diff = X.data[xBase + j] - means[c * d + j];
            quad += diff * diff * this.inverseVariances[c * d + j];
          }
          jll -= 0.5 * quad;
        }
        out[oBase + c] = jll;
        if (jll > max) max = jll;
      }
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const p = Math.exp(out[oBase + c] - max);
        out[oBase + c] = p;
        sum += p;
      }
      for (let c = 0; c < k; c++) out[oBase + c] /= sum;
    }
    return createMatrix(X.rows, k, out);
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }
}

function fitGaussianNb(data: TrainingData, varSmoothing: number): NbState {
  const { X, y } = data;
  const n = X.rows;
  const d = X.cols;
  const k = data.nClasses ?? 0;
  const weight = (i: number): number => (data.sampleWeight ? data.sampleWeight[i] : 1);
  const totals = new Float64Array(k);
  const means = new Float64Array(k * d);
  for (let i = 0; i < n; i++) {
    const c = y[i];
    const w = weight(i);
    totals[c] += w;
    for (let j = 0; j < d; j++) means[c * d + j] += w * X.data[i * d + j];
  }
  for (let c = 0; c < k; c++) if (totals[c] > 0) for (let j = 0; j < d; j++) means[c * d + j] /= totals[c];
  const variances = new Float64Array(k * d);
  for (let i = 0; i < n; i++) {
    const c = y[i];
    const w = weight(i);
    for (let j = 0; j < d; j++) {
      const diff = X.data[i * d + j] - means[c * d + j];
      variances[c * d + j] += w * diff * diff;
    }
  }
  // epsilon uses the unweighted variance of each whole column, as scikit-learn does.
  let maxVariance = 0;
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += X.data[i * d + j];
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (X.data[i * d + j] - mean) ** 2;
    maxVariance = Math.max(maxVariance, variance / n);
  }
  // All-constant data would give epsilon 0 and a division by zero; fall back to the smoothing itself.
  const epsilon = maxVariance > 0 ? varSmoothing * maxVariance : varSmoothing;
  let weightSum = 0;
  for (let c = 0; c < k; c++) weightSum += totals[c];
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) {
      variances[c * d + j] = (totals[c] > 0 ? variances[c * d + j] / totals[c] : 0) + epsilon;
    }
  }
  return {
    means: Array.from(means),
    variances: Array.from(variances),
    priors: Array.from(totals, (t) => t / weightSum),
  };
}

export const gaussianNb: LearnerFamily = {
  name: FAMILY,
  description: 'Gaussian naive Bayes: one normal distribution per class and feature; very fast, a good baseline.',
  tasks: TASKS,
  params: NB_PARAMS,
  tags: { handlesNaN: false, needsScaling: false, onnx: true, cost: 'low' },

  async fit(data, params, _options) {
    const resolved = resolveParams(FAMILY, NB_PARAMS, params);
    checkTrainingData(data, { family: FAMILY, tasks: TASKS, allowNaN: false });
    return new GaussianNbModel(data.X.cols, data.nClasses ?? 0, resolved, fitGaussianNb(data, resolved.var_smoothing));
  },

  load(json) {
    checkModelJson(json, FAMILY);
    const params = resolveParams(FAMILY, NB_PARAMS, json.params);
    const state = json.state as NbState | null;
    const k = json.nClasses ?? 0;
    const size = k * json.nFeatures;
    if (!state || state.means?.length !== size || state.variances?.length !== size || state.priors?.length !== k) {
      throw malformed(FAMILY, 'class statistics missing');
    }
    return new GaussianNbModel(json.nFeatures, k, params, state);
  },
};
