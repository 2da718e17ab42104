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
  private readonly means: Float64Array;
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
    this.means = Float64Array.from(state.means);
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
    const xs = X.data;
    const { means, inverseVariances, constants } = this;
    const out = new Float64Array(X.rows * k);
    for (let i = 0; i < X.rows; i++) rowProbabilities(xs, i * d, means, inverseVariances, constants, k, d, out, i * k);
    return createMatrix(X.rows, k, out);
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }
}

// The per-row kernels below are small functions on purpose: V8 optimises a small function after a few calls,
// where a large loop nest runs unoptimised until on-stack replacement compiles it, which dominates on small data.

/** One row's class probabilities into out[oBase..oBase+k): joint log-likelihoods, then a log-sum-exp. */
function rowProbabilities(
  xs: Float64Array,
  xBase: number,
  means: Float64Array,
  inverseVariances: Float64Array,
  constants: Float64Array,
  k: number,
  d: number,
  out: Float64Array,
  oBase: number,
): void {
  let max = -Infinity;
  for (let c = 0; c < k; c++) {
    let jll = constants[c];
    if (jll !== -Infinity) jll -= 0.5 * scaledSquaredDistance(xs, xBase, means, inverseVariances, c * d, d);
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

/** Σ_j (x_j − μ_j)² / σ²_j for one row and one class. */
function scaledSquaredDistance(xs: Float64Array, xBase: number, means: Float64Array, inverseVariances: Float64Array, cBase: number, d: number): number {
  let quad = 0;
  for (let j = 0; j < d; j++) {
    const diff = xs[xBase + j] - means[cBase + j];
    quad += diff * diff * inverseVariances[cBase + j];
  }
  return quad;
}

/** First pass for one row: its weighted values into its class sums, its values into the column sums. */
function addRowSums(xs: Float64Array, xBase: number, w: number, means: Float64Array, cBase: number, columnSums: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) {
    const v = xs[xBase + j];
    means[cBase + j] += w * v;
    columnSums[j] += v;
  }
}

/** Second pass for one row: squared deviations from its class mean (weighted) and from the column mean. */
function addRowSquares(
  xs: Float64Array,
  xBase: number,
  w: number,
  means: Float64Array,
  cBase: number,
  columnMeans: Float64Array,
  variances: Float64Array,
  columnVariances: Float64Array,
  d: number,
): void {
  for (let j = 0; j < d; j++) {
    const v = xs[xBase + j];
    const diff = v - means[cBase + j];
    variances[cBase + j] += w * diff * diff;
    columnVariances[j] += (v - columnMeans[j]) ** 2;
  }
}

/**
 * Every pass walks X row by row (one sweep of memory each); each per-column or per-class sum still adds
 * the rows in row order, so the statistics are bitwise those of column-by-column loops. Each pass is its own
 * small function: this one only sequences them, so V8 never has to compile one large function with many loops.
 */
function fitGaussianNb(data: TrainingData, varSmoothing: number): NbState {
  const { X } = data;
  const n = X.rows;
  const d = X.cols;
  const k = data.nClasses ?? 0;
  const labels = Int32Array.from(data.y);
  const weights = data.sampleWeight ?? new Float64Array(n).fill(1);
  const totals = new Float64Array(k);
  const means = new Float64Array(k * d);
  const columnMeans = new Float64Array(d);
  sumPass(X.data, n, d, labels, weights, totals, means, columnMeans);
  divideRows(means, totals, k, d);
  for (let j = 0; j < d; j++) columnMeans[j] /= n;
  const variances = new Float64Array(k * d);
  const columnVariances = new Float64Array(d);
  squaresPass(X.data, n, d, labels, weights, means, columnMeans, variances, columnVariances);
  // epsilon uses the unweighted variance of each whole column, as scikit-learn does.
  let maxVariance = 0;
  for (let j = 0; j < d; j++) maxVariance = Math.max(maxVariance, columnVariances[j] / n);
  // All-constant data would give epsilon 0 and a division by zero; fall back to the smoothing itself.
  const epsilon = maxVariance > 0 ? varSmoothing * maxVariance : varSmoothing;
  divideRows(variances, totals, k, d);
  for (let i = 0; i < k * d; i++) variances[i] += epsilon;
  let weightSum = 0;
  for (let c = 0; c < k; c++) weightSum += totals[c];
  const priors: number[] = [];
  for (let c = 0; c < k; c++) priors.push(totals[c] / weightSum);
  return { means: Array.from(means), variances: Array.from(variances), priors };
}

function sumPass(xs: Float64Array, n: number, d: number, labels: Int32Array, weights: Float64Array, totals: Float64Array, means: Float64Array, columnSums: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    totals[c] += weights[i];
    addRowSums(xs, i * d, weights[i], means, c * d, columnSums, d);
  }
}

function squaresPass(
  xs: Float64Array,
  n: number,
  d: number,
  labels: Int32Array,
  weights: Float64Array,
  means: Float64Array,
  columnMeans: Float64Array,
  variances: Float64Array,
  columnVariances: Float64Array,
): void {
  for (let i = 0; i < n; i++) addRowSquares(xs, i * d, weights[i], means, labels[i] * d, columnMeans, variances, columnVariances, d);
}

/** Row c of a k × d table divided by totals[c]; a class without weight keeps zeros. */
function divideRows(table: Float64Array, totals: Float64Array, k: number, d: number): void {
  for (let c = 0; c < k; c++) {
    const total = totals[c];
    for (let j = 0; j < d; j++) table[c * d + j] = total > 0 ? table[c * d + j] / total : 0;
  }
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
