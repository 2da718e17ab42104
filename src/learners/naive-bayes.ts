/**
 * Gaussian naive Bayes (scikit-learn's GaussianNB): per class, a (sample-weighted) mean and population variance
 * per feature, every variance widened by var_smoothing × the largest feature variance, priors from class
 * frequencies. Probabilities come from the joint log-likelihood through a log-sum-exp.
 * A class absent from the training rows keeps prior 0, so it gets probability 0.
 */
import { createMatrix, type Matrix } from '../data/matrix.js';
import { resolveParams, type ResolvedParams } from './params.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
import { argmaxRows, checkModelJson, checkNoMissing, malformed, withArgmaxLabels } from './preprocess.js';
import type { FittedModel, LabelsAndProba, LearnerFamily, ParamSpec, SerializedModel, Task, TrainingData } from './types.js';
import { serializedModel } from './serialized.js';
import { instantiateKernel, type WasmKernelModule } from '../runtime/wasm.js';
import { wasmBase64 } from '../generated/wasm/linalg.js';

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

  predictWithProba(X: Matrix): LabelsAndProba {
    return withArgmaxLabels(this.predictProba(X));
  }

  predictProba(X: Matrix): Matrix {
    checkPredictInput(X, this.nFeatures, FAMILY);
    checkNoMissing(X, FAMILY);
    const d = this.nFeatures;
    const k = this.nClasses;
    const { means, inverseVariances, constants } = this;
    return createMatrix(X.rows, k, probabilities(X.data, X.rows, d, means, inverseVariances, constants, k));
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }
}

/** One row's joint log-likelihoods out[oBase..oBase+k) become probabilities: a log-sum-exp. */
function normaliseRow(out: Float64Array, oBase: number, k: number): void {
  let max = -Infinity;
  for (let c = 0; c < k; c++) if (out[oBase + c] > max) max = out[oBase + c];
  let sum = 0;
  for (let c = 0; c < k; c++) {
    const p = Math.exp(out[oBase + c] - max);
    out[oBase + c] = p;
    sum += p;
  }
  for (let c = 0; c < k; c++) out[oBase + c] /= sum;
}

interface NbExports {
  nbSums(x: number, d: number, from: number, to: number, labels: number, weights: number, totals: number, means: number, columnSums: number): void;
  nbSquares(
    x: number,
    d: number,
    from: number,
    to: number,
    labels: number,
    weights: number,
    means: number,
    columnMeans: number,
    variances: number,
    columnVariances: number,
  ): void;
  nbJointLogLikelihood(x: number, d: number, from: number, to: number, meansT: number, inverseVariancesT: number, k: number, constants: number, out: number): void;
}

let nbKernel: WasmKernelModule<NbExports> | null = null;

/**
 * Rows per kernel call: V8 moves a WebAssembly function from its baseline to its optimised code between calls
 * only, so a first fit on large data must not run in one call.
 */
const ROWS_PER_CALL = 512;

/** Byte offsets of consecutive f64 arrays of the given lengths in the kernel's memory, each 16-byte aligned. */
function layoutF64(lengths: number[]): { offsets: number[]; end: number } {
  const offsets: number[] = [];
  let at = 0;
  for (const length of lengths) {
    offsets.push(at);
    at += Math.ceil((length * 8) / 16) * 16;
  }
  return { offsets, end: at };
}

function kernelModule(): WasmKernelModule<NbExports> {
  nbKernel ??= instantiateKernel<NbExports>('linalg', wasmBase64);
  return nbKernel;
}

/** Class probabilities of every row of xs (rows × d), the joint log-likelihoods from the kernel nbJointLogLikelihood. */
function probabilities(xs: Float64Array, rows: number, d: number, means: Float64Array, inverseVariances: Float64Array, constants: Float64Array, k: number): Float64Array {
  const k2 = k + (k % 2);
  const kernel = kernelModule();
  const {
    offsets: [xAt, meansAt, inverseAt, constantsAt, outAt],
    end,
  } = layoutF64([rows * d, d * k2, d * k2, k, rows * k]);
  kernel.ensureBytes(end);
  const buffer = kernel.memory.buffer;
  new Float64Array(buffer, xAt, rows * d).set(xs.subarray(0, rows * d));
  const meansT = new Float64Array(buffer, meansAt, d * k2).fill(0);
  const inverseT = new Float64Array(buffer, inverseAt, d * k2).fill(0);
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) {
      meansT[j * k2 + c] = means[c * d + j];
      inverseT[j * k2 + c] = inverseVariances[c * d + j];
    }
  }
  new Float64Array(buffer, constantsAt, k).set(constants);
  const jointLogLikelihood = kernel.exports.nbJointLogLikelihood;
  for (let from = 0; from < rows; from += ROWS_PER_CALL) {
    jointLogLikelihood(xAt, d, from, Math.min(rows, from + ROWS_PER_CALL), meansAt, inverseAt, k, constantsAt, outAt);
  }
  const out = new Float64Array(rows * k);
  out.set(new Float64Array(buffer, outAt, rows * k));
  for (let i = 0; i < rows; i++) normaliseRow(out, i * k, k);
  return out;
}

/**
 * The class sums and squared deviations come from the kernels nbSums and nbSquares (wasm/linalg.ts), which walk X
 * row by row; each per-column or per-class sum adds the rows in row order, as column-by-column loops would.
 */
function fitGaussianNb(data: TrainingData, varSmoothing: number): NbState {
  const { X } = data;
  const n = X.rows;
  const d = X.cols;
  const k = data.nClasses ?? 0;
  const kernel = kernelModule();
  const {
    offsets: [xAt, labelsAt, weightsAt, totalsAt, meansAt, columnSumsAt, variancesAt, columnVariancesAt],
    end,
  } = layoutF64([n * d, n, n, k, k * d, d, k * d, d]);
  kernel.ensureBytes(end);
  const buffer = kernel.memory.buffer;
  new Float64Array(buffer, xAt, n * d).set(X.data.subarray(0, n * d));
  // The class indices go in as f64 (a plain copy); the kernel truncates them.
  new Float64Array(buffer, labelsAt, n).set(data.y.subarray(0, n));
  const weights = new Float64Array(buffer, weightsAt, n);
  if (data.sampleWeight) weights.set(data.sampleWeight.subarray(0, n));
  else weights.fill(1);
  const totals = new Float64Array(buffer, totalsAt, k).fill(0);
  const means = new Float64Array(buffer, meansAt, k * d).fill(0);
  // Column sums until divided by n.
  const columnMeans = new Float64Array(buffer, columnSumsAt, d).fill(0);
  const variances = new Float64Array(buffer, variancesAt, k * d).fill(0);
  const columnVariances = new Float64Array(buffer, columnVariancesAt, d).fill(0);
  const { nbSums, nbSquares } = kernel.exports;
  for (let from = 0; from < n; from += ROWS_PER_CALL) {
    nbSums(xAt, d, from, Math.min(n, from + ROWS_PER_CALL), labelsAt, weightsAt, totalsAt, meansAt, columnSumsAt);
  }
  divideRows(means, totals, k, d);
  for (let j = 0; j < d; j++) columnMeans[j] /= n;
  for (let from = 0; from < n; from += ROWS_PER_CALL) {
    nbSquares(xAt, d, from, Math.min(n, from + ROWS_PER_CALL), labelsAt, weightsAt, meansAt, columnSumsAt, variancesAt, columnVariancesAt);
  }
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
