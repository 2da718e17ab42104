/**
 * Linear models, as scikit-learn defines them.
 * - logistic_regression: binary logistic for 2 classes, multinomial softmax for more (scikit-learn's lbfgs),
 *   objective mean(log-loss) + penalty/(C·n); L2 by L-BFGS, L1 and elastic net by OWL-QN (L-BFGS that keeps
 *   each step inside one orthant), intercepts unpenalised.
 * - linear_regression: Ridge (‖y−Xw−b‖² + α‖w‖², Cholesky of the centred Gram matrix + αI), Lasso and
 *   ElasticNet (1/2n‖y−Xw−b‖² + αρ‖w‖₁ + α(1−ρ)/2‖w‖², cyclic coordinate descent with scikit-learn's
 *   duality-gap stop). Sample weights are honoured by both.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { resolveParams, type ResolvedParams } from './params.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
import { argmaxRows, checkModelJson, checkNoMissing, malformed, withArgmaxLabels } from './preprocess.js';
import type { FitOptions, FittedModel, LabelsAndProba, LearnerFamily, ParamSpec, SerializedModel, Task, TrainingData } from './types.js';
import { serializedModel } from './serialized.js';
import { instantiateKernel, MemoryLayout, type WasmKernelModule } from '../runtime/wasm.js';
import { wasmBase64 } from '../generated/wasm/linalg.js';

// ---------------------------------------------------------------------------------------------------------
// L-BFGS / OWL-QN

/** Smooth part of an objective: returns f(w) and writes ∇f(w) into grad. */
export type SmoothObjective = (w: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  maxIter: number;
  /** Stop when the largest (pseudo-)gradient component is at most this. */
  gradientTol: number;
  /** Per-coordinate L1 weights (0 = not penalised); null for a smooth problem. */
  l1?: Float64Array | null;
  memory?: number;
  signal?: AbortSignal;
}

export interface LbfgsResult {
  iterations: number;
  converged: boolean;
  value: number;
}

const FTOL = 64 * Number.EPSILON; // scipy's default relative-decrease stop, as scikit-learn passes it

/** Minimises f(w) + Σ l1ᵢ|wᵢ| in place from the given w. */
export function minimizeLbfgs(f: SmoothObjective, w: Float64Array, options: LbfgsOptions): LbfgsResult {
  const n = w.length;
  const m = options.memory ?? 10;
  const l1 = options.l1 ?? null;
  const grad = new Float64Array(n);
  const pseudo = new Float64Array(n);
  const direction = new Float64Array(n);
  const trial = new Float64Array(n);
  const trialGrad = new Float64Array(n);
  const s = Array.from({ length: m }, () => new Float64Array(n));
  const yv = Array.from({ length: m }, () => new Float64Array(n));
  const rho = new Float64Array(m);
  const alpha = new Float64Array(m);
  let stored = 0;
  let head = 0;

  const l1Norm = (v: Float64Array): number => {
    if (l1 === null) return 0;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += l1[i] * Math.abs(v[i]);
    return sum;
  };

  let value = f(w, grad) + l1Norm(w);
  for (let iter = 0; iter < options.maxIter; iter++) {
    if (options.signal?.aborted) throw abortError();
    pseudoGradient(w, grad, l1, pseudo);
    let maxPg = 0;
    for (let i = 0; i < n; i++) maxPg = Math.max(maxPg, Math.abs(pseudo[i]));
    if (maxPg <= options.gradientTol) return { iterations: iter, converged: true, value };

    // Two-loop recursion: direction = −H·pseudo.
    for (let i = 0; i < n; i++) direction[i] = -pseudo[i];
    for (let k = 0; k < stored; k++) {
      const idx = (head - 1 - k + m) % m;
      alpha[idx] = rho[idx] * dot(s[idx], direction);
      axpy(-alpha[idx], yv[idx], direction);
    }
    if (stored > 0) {
      const last = (head - 1 + m) % m;
      const gamma = dot(s[last], yv[last]) / dot(yv[last], yv[last]);
      for (let i = 0; i < n; i++) direction[i] *= gamma;
    }
    for (let k = stored - 1; k >= 0; k--) {
      const idx = (head - 1 - k + m) % m;
      const beta = rho[idx] * dot(yv[idx], direction);
      axpy(alpha[idx] - beta, s[idx], direction);
    }
    if (l1 !== null) {
      // OWL-QN: drop components that would move against the pseudo-gradient's descent orthant.
      for (let i = 0; i < n; i++) if (direction[i] * pseudo[i] >= 0) direction[i] = 0;
    }
    let slope = dot(direction, pseudo);
    if (!(slope < 0)) {
      // Curvature memory went stale; restart from steepest descent.
      stored = 0;
      for (let i = 0; i < n; i++) direction[i] = -pseudo[i];
      slope = dot(direction, pseudo);
    }

    // Backtracking line search (Armijo), projected onto the orthant for OWL-QN.
    let step = iter === 0 && stored === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    let trialValue = Infinity;
    let accepted = false;
    for (let ls = 0; ls < 50; ls++) {
      for (let i = 0; i < n; i++) {
        let v = w[i] + step * direction[i];
        if (l1 !== null && l1[i] > 0) {
          const orthant = w[i] !== 0 ? Math.sign(w[i]) : -Math.sign(pseudo[i]);
          if (Math.sign(v) !== orthant) v = 0;
        }
        trial[i] = v;
      }
      trialValue = f(trial, trialGrad) + l1Norm(trial);
      let decrease = 0;
      for (let i = 0; i < n; i++) decrease += pseudo[i] * (trial[i] - w[i]);
      if (trialValue <= value + 1e-4 * decrease) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) return { iterations: iter + 1, converged: false, value };

    const sNew = s[head];
    const yNew = yv[head];
    for (let i = 0; i < n; i++) {
      sNew[i] = trial[i] - w[i];
      yNew[i] = trialGrad[i] - grad[i];
    }
    const sy = dot(sNew, yNew);
    if (sy > 1e-12 * Math.sqrt(dot(sNew, sNew) * dot(yNew, yNew))) {
      rho[head] = 1 / sy;
      head = (head + 1) % m;
      stored = Math.min(stored + 1, m);
    }
    const previous = value;
    w.set(trial);
    grad.set(trialGrad);
    value = trialValue;
    if ((previous - value) / Math.max(Math.abs(previous), Math.abs(value), 1) <= FTOL) {
      return { iterations: iter + 1, converged: true, value };
    }
  }
  return { iterations: options.maxIter, converged: false, value };
}

/** The minimum-norm subgradient of f + Σ l1ᵢ|wᵢ|. */
function pseudoGradient(w: Float64Array, grad: Float64Array, l1: Float64Array | null, out: Float64Array): void {
  if (l1 === null) {
    out.set(grad);
    return;
  }
  for (let i = 0; i < w.length; i++) {
    const lambda = l1[i];
    if (lambda === 0) out[i] = grad[i];
    else if (w[i] < 0) out[i] = grad[i] - lambda;
    else if (w[i] > 0) out[i] = grad[i] + lambda;
    else if (grad[i] + lambda < 0) out[i] = grad[i] + lambda;
    else if (grad[i] - lambda > 0) out[i] = grad[i] - lambda;
    else out[i] = 0;
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

function abortError(): SpotmlError {
  return new SpotmlError('USAGE', 'training was cancelled');
}

// ---------------------------------------------------------------------------------------------------------
// Logistic regression

const LOGISTIC = 'logistic_regression';

const LOGISTIC_PARAMS = {
  C: {
    type: 'float',
    default: 1,
    low: 1e-8,
    high: 1e8,
    log: true,
    description: 'Inverse regularisation strength (smaller = simpler model).',
    search: { low: 1e-3, high: 1e3, log: true },
  },
  penalty: {
    type: 'categorical',
    default: 'l2',
    choices: ['l2', 'l1', 'elasticnet'],
    description: 'l2 shrinks all weights; l1 zeroes some; elasticnet mixes them by l1_ratio.',
  },
  l1_ratio: { type: 'float', default: 0.5, low: 0, high: 1, description: 'Share of L1 in the elasticnet penalty.', search: { low: 0, high: 1 } },
  max_iter: { type: 'int', default: 100, low: 1, high: 100_000, description: 'Most solver iterations.', search: false },
  tol: { type: 'float', default: 1e-4, low: 1e-12, high: 1, log: true, description: 'Stop when the largest gradient component is below this.', search: false },
} as const satisfies Record<string, ParamSpec>;

type LogisticParams = ResolvedParams<typeof LOGISTIC_PARAMS>;

interface LinearState {
  /** Output rows × (nFeatures + 1): weights then intercept. Binary logistic has one row (class 1's logit). */
  coef: number[];
  outputs: number;
  iterations: number;
  converged: boolean;
}

/**
 * Mean sample-weighted log-loss and gradient for `rows` logit rows (1 = binary, else one per class).
 * Logits and gradient come from WebAssembly SIMD kernels; every gradient entry still adds the samples one by one
 * in row order, so the sums are bitwise those of a row-by-row loop. Rows with weight 0 are left out entirely,
 * as a row-by-row loop would skip them.
 */
export function logisticObjective(data: TrainingData, rows: number): SmoothObjective {
  const n = data.X.rows;
  const weightSum = totalWeight(data.sampleWeight, n);
  const samples = new Int32Array(n);
  const weights = new Float64Array(n);
  const kept = data.sampleWeight ? keepWeighted(data.sampleWeight, weightSum, samples, weights) : keepAll(n, weightSum, samples, weights);
  const batch: LogisticBatch = {
    xs: data.X.data,
    d: data.X.cols,
    rows,
    samples: samples.subarray(0, kept),
    labels: labelsOf(data.y, samples.subarray(0, kept)),
    weights: weights.subarray(0, kept),
    logits: new Float64Array(Math.max(rows, 8)),
  };
  return (w, grad) => logisticLossAndGradient(batch, w, grad);
}

/** Σ sample weights (n when unweighted), added in row order. */
function totalWeight(sampleWeight: Float64Array | undefined, n: number): number {
  if (!sampleWeight) return n;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sampleWeight[i];
  return sum;
}

function keepAll(n: number, weightSum: number, samples: Int32Array, weights: Float64Array): number {
  const weight = 1 / weightSum;
  for (let i = 0; i < n; i++) samples[i] = i;
  weights.fill(weight, 0, n);
  return n;
}

/** Rows with non-zero weight and their weights / Σw, in row order; returns how many. */
function keepWeighted(sampleWeight: Float64Array, weightSum: number, samples: Int32Array, weights: Float64Array): number {
  let kept = 0;
  for (let i = 0; i < sampleWeight.length; i++) {
    const weight = sampleWeight[i] / weightSum;
    if (weight === 0) continue;
    samples[kept] = i;
    weights[kept++] = weight;
  }
  return kept;
}

function labelsOf(y: Float64Array, samples: Int32Array): Int32Array {
  const labels = new Int32Array(samples.length);
  for (let s = 0; s < samples.length; s++) labels[s] = y[samples[s]];
  return labels;
}

interface LogisticBatch {
  readonly xs: Float64Array;
  readonly d: number;
  readonly rows: number;
  /** Row index, class and normalised weight of every sample with non-zero weight, in row order. */
  readonly samples: Int32Array;
  readonly labels: Int32Array;
  readonly weights: Float64Array;
  /** Scratch: one sample's logits. */
  readonly logits: Float64Array;
}

/**
 * Loss and gradient through the WebAssembly kernels logisticLogits and logisticGradient (wasm/linalg.ts): every
 * sample's logits, then its ∂loss/∂logit here (exp and log stay JavaScript's), then the gradient. The kernels
 * keep the scalar loops' summation order (the four-way dot product; each gradient entry adding the samples in
 * row order), so loss and gradient are bitwise those of a row-by-row loop.
 */
function logisticLossAndGradient(batch: LogisticBatch, w: Float64Array, grad: Float64Array): number {
  const space = logisticSpace(batch);
  const { rows, d } = batch;
  const count = batch.samples.length;
  space.w.set(w);
  const exports = space.kernel.exports;
  exports.logisticLogits(space.rowPtrs, count, d, space.wPtr, rows, d + 1, space.zPtr);
  const loss =
    rows === 1
      ? binaryFactors(space.z, batch.labels, batch.weights, count, space.factors)
      : softmaxFactors(space.z, batch.labels, batch.weights, count, rows, batch.logits, space.factors);
  exports.logisticGradient(space.rowPtrs, count, d, space.factorsPtr, rows, d + 1, space.gradPtr);
  grad.set(space.grad);
  return loss;
}

/** Σ weighted multinomial log-loss over the samples; ∂loss/∂logit into factors (sample-major). */
function softmaxFactors(z: Float64Array, labels: Int32Array, weights: Float64Array, count: number, rows: number, logits: Float64Array, factors: Float64Array): number {
  let loss = 0;
  for (let s = 0; s < count; s++) {
    const base = s * rows;
    const label = labels[s];
    const weight = weights[s];
    let max = -Infinity;
    for (let r = 0; r < rows; r++) {
      const value = z[base + r];
      logits[r] = value;
      if (value > max) max = value;
    }
    const labelLogit = logits[label];
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      logits[r] = Math.exp(logits[r] - max);
      sum += logits[r];
    }
    for (let r = 0; r < rows; r++) factors[base + r] = weight * (logits[r] / sum - (r === label ? 1 : 0));
    loss += weight * (Math.log(sum) + max - labelLogit);
  }
  return loss;
}

/**
 * The two-class case (one logit row, sigmoid link): log(1 + e^z) = max(z, 0) + log1p(e) and
 * σ(z) = (z ≥ 0 ? 1 : e) / (1 + e) with e = exp(−|z|), the overflow-safe forms.
 */
function binaryFactors(z: Float64Array, labels: Int32Array, weights: Float64Array, count: number, factors: Float64Array): number {
  let loss = 0;
  for (let s = 0; s < count; s++) {
    const value = z[s];
    const e = Math.exp(-Math.abs(value));
    const label = labels[s];
    const weight = weights[s];
    loss += weight * (Math.max(value, 0) + Math.log1p(e) - label * value);
    factors[s] = weight * ((value >= 0 ? 1 : e) / (1 + e) - label);
  }
  return loss;
}

interface LogisticExports {
  logisticLogits(rowPtrs: number, count: number, d: number, w: number, rows: number, stride: number, z: number): void;
  logisticGradient(rowPtrs: number, count: number, d: number, factors: number, rows: number, stride: number, grad: number): void;
}

/** The kernel's memory laid out for one batch: the samples' rows stay resident between evaluations. */
interface LogisticSpace {
  readonly kernel: WasmKernelModule<LogisticExports>;
  readonly batch: LogisticBatch;
  readonly buffer: ArrayBuffer;
  readonly rowPtrs: number;
  readonly wPtr: number;
  readonly zPtr: number;
  readonly factorsPtr: number;
  readonly gradPtr: number;
  readonly w: Float64Array;
  readonly z: Float64Array;
  readonly factors: Float64Array;
  readonly grad: Float64Array;
}

let logisticKernel: WasmKernelModule<LogisticExports> | null = null;
let residentSpace: LogisticSpace | null = null;

function logisticSpace(batch: LogisticBatch): LogisticSpace {
  logisticKernel ??= instantiateKernel<LogisticExports>('linalg', wasmBase64);
  const kernel = logisticKernel;
  if (residentSpace !== null && residentSpace.batch === batch && residentSpace.buffer === kernel.memory.buffer) return residentSpace;
  const { xs, d, rows, samples } = batch;
  const count = samples.length;
  const n = xs.length / Math.max(d, 1);
  const layout = new MemoryLayout(0);
  const xsPtr = layout.take(8 * xs.length);
  const rowPtrs = layout.take(4 * count);
  const wPtr = layout.take(8 * rows * (d + 1));
  const zPtr = layout.take(8 * count * rows);
  const factorsPtr = layout.take(8 * count * rows);
  const gradPtr = layout.take(8 * rows * (d + 1));
  kernel.ensureBytes(layout.end);
  const buffer = kernel.memory.buffer;
  new Float64Array(buffer, xsPtr, n * d).set(xs.subarray(0, n * d));
  const pointers = new Int32Array(buffer, rowPtrs, count);
  for (let s = 0; s < count; s++) pointers[s] = xsPtr + 8 * d * samples[s];
  residentSpace = {
    kernel,
    batch,
    buffer,
    rowPtrs,
    wPtr,
    zPtr,
    factorsPtr,
    gradPtr,
    w: new Float64Array(buffer, wPtr, rows * (d + 1)),
    z: new Float64Array(buffer, zPtr, count * rows),
    factors: new Float64Array(buffer, factorsPtr, count * rows),
    grad: new Float64Array(buffer, gradPtr, rows * (d + 1)),
  };
  return residentSpace;
}

/** Adds an L2 term (strength/2)‖w‖² over the weights (not intercepts) to a smooth objective. */
function withL2(f: SmoothObjective, strength: number, rows: number, d: number): SmoothObjective {
  if (strength === 0) return f;
  const stride = d + 1;
  return (w, grad) => {
    let value = f(w, grad);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) {
        const v = w[r * stride + j];
        value += 0.5 * strength * v * v;
        grad[r * stride + j] += strength * v;
      }
    }
    return value;
  };
}

function fitLogistic(data: TrainingData, p: LogisticParams, options: FitOptions): LinearState {
  const k = data.nClasses ?? 0;
  const d = data.X.cols;
  const rows = k === 2 ? 1 : k;
  const weightSum = totalWeight(data.sampleWeight, data.X.rows);
  // scikit-learn minimises C·Σ loss + penalty; dividing by C·Σw keeps the optimum and a data-size-free scale.
  const lambda = 1 / (p.C * weightSum);
  const l1Share = p.penalty === 'l1' ? 1 : p.penalty === 'elasticnet' ? p.l1_ratio : 0;
  const objective = withL2(logisticObjective(data, rows), lambda * (1 - l1Share), rows, d);
  let l1: Float64Array | null = null;
  if (l1Share > 0) {
    l1 = new Float64Array(rows * (d + 1));
    for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) l1[r * (d + 1) + j] = lambda * l1Share;
  }
  const w = new Float64Array(rows * (d + 1));
  const result = minimizeLbfgs(objective, w, { maxIter: p.max_iter, gradientTol: p.tol, l1, signal: options.signal });
  return { coef: Array.from(w), outputs: rows, iterations: result.iterations, converged: result.converged };
}

class LogisticModel implements FittedModel {
  readonly family = LOGISTIC;
  readonly task: Task = 'classification';
  private readonly coef: Float64Array;

  constructor(
    readonly nFeatures: number,
    readonly nClasses: number,
    readonly params: LogisticParams,
    private readonly state: LinearState,
  ) {
    this.coef = Float64Array.from(state.coef);
  }

  predict(X: Matrix): Float64Array {
    return argmaxRows(this.predictProba(X));
  }

  predictWithProba(X: Matrix): LabelsAndProba {
    return withArgmaxLabels(this.predictProba(X));
  }

  predictProba(X: Matrix): Matrix {
    checkPredictInput(X, this.nFeatures, LOGISTIC);
    checkNoMissing(X, LOGISTIC);
    const d = this.nFeatures;
    const k = this.nClasses;
    const rows = this.state.outputs;
    const out = new Float64Array(X.rows * k);
    const z = linearOutputs(this.coef, rows, d, X.data, X.rows);
    if (rows === 1) {
      for (let i = 0; i < X.rows; i++) binaryProbabilities(z[i], out, i * 2);
    } else {
      for (let i = 0; i < X.rows; i++) softmaxProbabilities(z, i * rows, rows, out, i * k);
    }
    return createMatrix(X.rows, k, out);
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }
}

function binaryProbabilities(z: number, out: Float64Array, oBase: number): void {
  const p1 = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
  out[oBase] = 1 - p1;
  out[oBase + 1] = p1;
}

/** Softmax of z[zBase..zBase+rows) into out[oBase..]. */
function softmaxProbabilities(z: Float64Array, zBase: number, rows: number, out: Float64Array, oBase: number): void {
  let max = -Infinity;
  for (let r = 0; r < rows; r++) {
    out[oBase + r] = z[zBase + r];
    if (z[zBase + r] > max) max = z[zBase + r];
  }
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    out[oBase + r] = Math.exp(out[oBase + r] - max);
    sum += out[oBase + r];
  }
  for (let r = 0; r < rows; r++) out[oBase + r] /= sum;
}

interface OutputExports {
  linearOutputs(x: number, nRows: number, d: number, coef: number, outputs: number, out: number): void;
}

let outputKernel: WasmKernelModule<OutputExports> | null = null;

/** Rows per kernel call: V8 moves a WebAssembly function to its optimised code between calls only. */
const OUTPUT_ROWS_PER_CALL = 512;

/**
 * linearOutput of every row of xs (n × d) for each of the `rows` outputs, at [i·rows + r], from the WebAssembly
 * kernel linearOutputs (wasm/linalg.ts: the same sum onto the intercept in j order, bit for bit).
 */
function linearOutputs(coef: Float64Array, rows: number, d: number, xs: Float64Array, n: number): Float64Array {
  outputKernel ??= instantiateKernel<OutputExports>('linalg', wasmBase64);
  const kernel = outputKernel;
  const padded = n + (n % 2);
  const layout = new MemoryLayout(0);
  const coefAt = layout.take(8 * coef.length);
  const xAt = layout.take(8 * padded * d);
  const outAt = layout.take(8 * padded * rows);
  kernel.ensureBytes(layout.end);
  const buffer = kernel.memory.buffer;
  new Float64Array(buffer, coefAt, coef.length).set(coef);
  const x = new Float64Array(buffer, xAt, padded * d);
  x.set(xs.subarray(0, n * d));
  // An odd row count is padded with a zero row, whose outputs are dropped.
  if (padded > n) x.fill(0, n * d);
  for (let from = 0; from < padded; from += OUTPUT_ROWS_PER_CALL) {
    const count = Math.min(OUTPUT_ROWS_PER_CALL, padded - from);
    kernel.exports.linearOutputs(xAt + 8 * from * d, count, d, coefAt, rows, outAt + 8 * from * rows);
  }
  return new Float64Array(buffer, outAt, n * rows).slice();
}

function linearOutput(coef: Float64Array, row: number, d: number, x: Float64Array, offset: number): number {
  const base = row * (d + 1);
  let z = coef[base + d];
  for (let j = 0; j < d; j++) z += coef[base + j] * x[offset + j];
  return z;
}

export const logisticRegression: LearnerFamily = {
  name: LOGISTIC,
  description: 'Logistic (softmax) regression with L2, L1 or elastic-net penalty; fast, calibrated, linear boundaries.',
  tasks: ['classification'],
  params: LOGISTIC_PARAMS,
  tags: { handlesNaN: false, needsScaling: true, onnx: true, cost: 'low' },

  async fit(data, params, options) {
    const resolved = resolveParams(LOGISTIC, LOGISTIC_PARAMS, params);
    checkTrainingData(data, { family: LOGISTIC, tasks: ['classification'], allowNaN: false });
    return new LogisticModel(data.X.cols, data.nClasses ?? 0, resolved, fitLogistic(data, resolved, options));
  },

  load(json) {
    checkModelJson(json, LOGISTIC);
    const params = resolveParams(LOGISTIC, LOGISTIC_PARAMS, json.params);
    const state = json.state as LinearState | null;
    const k = json.nClasses ?? 0;
    const outputs = k === 2 ? 1 : k;
    if (!state || state.outputs !== outputs || state.coef?.length !== outputs * (json.nFeatures + 1)) {
      throw malformed(LOGISTIC, 'coefficients missing');
    }
    return new LogisticModel(json.nFeatures, k, params, state);
  },
};

// ---------------------------------------------------------------------------------------------------------
// Linear regression: ridge, lasso, elastic net

const REGRESSION = 'linear_regression';

const REGRESSION_PARAMS = {
  alpha: {
    type: 'float',
    default: 1,
    low: 0,
    high: 1e8,
    description: 'Regularisation strength (ridge: on the summed squared error; l1/elasticnet: on the halved mean, as scikit-learn).',
    search: { low: 1e-4, high: 1e3, log: true },
  },
  penalty: {
    type: 'categorical',
    default: 'l2',
    choices: ['l2', 'l1', 'elasticnet'],
    description: 'l2 = Ridge, l1 = Lasso, elasticnet = ElasticNet mixing them by l1_ratio.',
  },
  l1_ratio: { type: 'float', default: 0.5, low: 0, high: 1, description: 'Share of L1 in the elasticnet penalty.', search: { low: 0, high: 1 } },
  max_iter: { type: 'int', default: 1000, low: 1, high: 1_000_000, description: 'Most coordinate-descent sweeps (l1/elasticnet).', search: false },
  tol: { type: 'float', default: 1e-4, low: 1e-12, high: 1, log: true, description: 'Duality-gap tolerance (l1/elasticnet).', search: false },
} as const satisfies Record<string, ParamSpec>;

type RegressionParams = ResolvedParams<typeof REGRESSION_PARAMS>;

/** Weighted column means, target mean and the √w-scaled centred copies every solver below works on. */
function centre(data: TrainingData): { xMean: Float64Array; yMean: number; Xc: Float64Array; yc: Float64Array; weightSum: number } {
  const { X, y } = data;
  const n = X.rows;
  const d = X.cols;
  const sw = data.sampleWeight;
  let weightSum = 0;
  const xMean = new Float64Array(d);
  let yMean = 0;
  for (let i = 0; i < n; i++) {
    const w = sw ? sw[i] : 1;
    weightSum += w;
    yMean += w * y[i];
    for (let j = 0; j < d; j++) xMean[j] += w * X.data[i * d + j];
  }
  yMean /= weightSum;
  for (let j = 0; j < d; j++) xMean[j] /= weightSum;
  const Xc = new Float64Array(n * d);
  const yc = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const root = Math.sqrt(sw ? sw[i] : 1);
    yc[i] = root * (y[i] - yMean);
    for (let j = 0; j < d; j++) Xc[i * d + j] = root * (X.data[i * d + j] - xMean[j]);
  }
  return { xMean, yMean, Xc, yc, weightSum };
}

function fitRidge(data: TrainingData, alpha: number): Float64Array {
  const n = data.X.rows;
  const d = data.X.cols;
  const { xMean, yMean, Xc, yc } = centre(data);
  const gram = new Float64Array(d * d);
  const rhs = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const base = i * d;
    for (let a = 0; a < d; a++) {
      const xa = Xc[base + a];
      if (xa === 0) continue;
      rhs[a] += xa * yc[i];
      for (let b = 0; b <= a; b++) gram[a * d + b] += xa * Xc[base + b];
    }
  }
  let trace = 0;
  for (let a = 0; a < d; a++) {
    gram[a * d + a] += alpha;
    trace += gram[a * d + a];
    for (let b = 0; b < a; b++) gram[b * d + a] = gram[a * d + b];
  }
  let w = solveSpd(gram, rhs, d);
  if (w === null) {
    // Singular (alpha 0 with collinear or constant columns): a tiny ridge picks the minimum-norm-like solution.
    const jitter = 1e-10 * Math.max(trace / d, 1);
    for (let a = 0; a < d; a++) gram[a * d + a] += jitter;
    w = solveSpd(gram, rhs, d);
    if (w === null) throw new SpotmlError('INVALID_INPUT', `${REGRESSION}: the features are degenerate; raise alpha`, { family: REGRESSION });
  }
  const coef = new Float64Array(d + 1);
  coef.set(w);
  let intercept = yMean;
  for (let j = 0; j < d; j++) intercept -= xMean[j] * w[j];
  coef[d] = intercept;
  return coef;
}

/** Solves A·x = b for symmetric positive definite A (d×d, row-major) by Cholesky; null if not positive definite. */
export function solveSpd(A: Float64Array, b: Float64Array, d: number): Float64Array | null {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = A[i * d + j];
      for (let k = 0; k < j; k++) sum -= L[i * d + k] * L[j * d + k];
      if (i === j) {
        if (!(sum > 0)) return null;
        L[i * d + i] = Math.sqrt(sum);
      } else {
        L[i * d + j] = sum / L[j * d + j];
      }
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= L[i * d + k] * z[k];
    z[i] = sum / L[i * d + i];
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let sum = z[i];
    for (let k = i + 1; k < d; k++) sum -= L[k * d + i] * x[k];
    x[i] = sum / L[i * d + i];
  }
  return x;
}

/** scikit-learn's enet_coordinate_descent (cyclic) on the centred, √w-scaled data. */
function fitElasticNet(data: TrainingData, p: RegressionParams, l1Ratio: number, options: FitOptions): { coef: Float64Array; iterations: number; converged: boolean } {
  const n = data.X.rows;
  const d = data.X.cols;
  const { xMean, yMean, Xc, yc, weightSum } = centre(data);
  // Column-major copy: each coordinate update walks one contiguous column.
  const columns = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) columns[j * n + i] = Xc[i * d + j];
  const l1Reg = p.alpha * l1Ratio * weightSum;
  const l2Reg = p.alpha * (1 - l1Ratio) * weightSum;
  const norms = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += columns[j * n + i] ** 2;
    norms[j] = sum;
  }
  const w = new Float64Array(d);
  const residual = Float64Array.from(yc);
  let yNorm2 = 0;
  for (let i = 0; i < n; i++) yNorm2 += yc[i] * yc[i];
  const tol = p.tol * yNorm2;
  let converged = false;
  let iterations = 0;
  for (let sweep = 0; sweep < p.max_iter; sweep++) {
    if (options.signal?.aborted) throw abortError();
    iterations = sweep + 1;
    let maxChange = 0;
    let maxWeight = 0;
    for (let j = 0; j < d; j++) {
      if (norms[j] === 0) continue;
      const old = w[j];
      const col = j * n;
      let rho = 0;
      for (let i = 0; i < n; i++) rho += columns[col + i] * residual[i];
      rho += norms[j] * old;
      const updated = (Math.sign(rho) * Math.max(Math.abs(rho) - l1Reg, 0)) / (norms[j] + l2Reg);
      if (updated !== old) {
        const delta = updated - old;
        for (let i = 0; i < n; i++) residual[i] -= delta * columns[col + i];
        w[j] = updated;
      }
      maxChange = Math.max(maxChange, Math.abs(updated - old));
      maxWeight = Math.max(maxWeight, Math.abs(updated));
    }
    if (maxWeight === 0 || maxChange / maxWeight < p.tol || sweep === p.max_iter - 1) {
      if (dualityGap(columns, residual, yc, w, n, d, l1Reg, l2Reg) < tol) {
        converged = true;
        break;
      }
    }
  }
  const coef = new Float64Array(d + 1);
  coef.set(w);
  let intercept = yMean;
  for (let j = 0; j < d; j++) intercept -= xMean[j] * w[j];
  coef[d] = intercept;
  return { coef, iterations, converged };
}

function dualityGap(columns: Float64Array, residual: Float64Array, y: Float64Array, w: Float64Array, n: number, d: number, l1Reg: number, l2Reg: number): number {
  let dualNorm = 0;
  for (let j = 0; j < d; j++) {
    let xtA = 0;
    for (let i = 0; i < n; i++) xtA += columns[j * n + i] * residual[i];
    dualNorm = Math.max(dualNorm, Math.abs(xtA - l2Reg * w[j]));
  }
  let rNorm2 = 0;
  let ry = 0;
  for (let i = 0; i < n; i++) {
    rNorm2 += residual[i] * residual[i];
    ry += residual[i] * y[i];
  }
  let wNorm2 = 0;
  let l1Norm = 0;
  for (let j = 0; j < d; j++) {
    wNorm2 += w[j] * w[j];
    l1Norm += Math.abs(w[j]);
  }
  let scale = 1;
  let gap: number;
  if (dualNorm > l1Reg) {
    scale = l1Reg / dualNorm;
    gap = 0.5 * (rNorm2 + rNorm2 * scale * scale);
  } else {
    gap = rNorm2;
  }
  return gap + l1Reg * l1Norm - scale * ry + 0.5 * l2Reg * (1 + scale * scale) * wNorm2;
}

class LinearRegressionModel implements FittedModel {
  readonly family = REGRESSION;
  readonly task: Task = 'regression';
  private readonly coef: Float64Array;

  constructor(
    readonly nFeatures: number,
    readonly params: RegressionParams,
    private readonly state: LinearState,
  ) {
    this.coef = Float64Array.from(state.coef);
  }

  predict(X: Matrix): Float64Array {
    checkPredictInput(X, this.nFeatures, REGRESSION);
    checkNoMissing(X, REGRESSION);
    const out = new Float64Array(X.rows);
    for (let i = 0; i < X.rows; i++) out[i] = linearOutput(this.coef, 0, this.nFeatures, X.data, i * this.nFeatures);
    return out;
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }
}

export const linearRegression: LearnerFamily = {
  name: REGRESSION,
  description: 'Penalised least squares: ridge (l2), lasso (l1) or elastic net; fast, linear in the features.',
  tasks: ['regression'],
  params: REGRESSION_PARAMS,
  tags: { handlesNaN: false, needsScaling: true, onnx: true, cost: 'low' },

  async fit(data, params, options) {
    const resolved = resolveParams(REGRESSION, REGRESSION_PARAMS, params);
    checkTrainingData(data, { family: REGRESSION, tasks: ['regression'], allowNaN: false });
    let state: LinearState;
    if (resolved.penalty === 'l2') {
      state = { coef: Array.from(fitRidge(data, resolved.alpha)), outputs: 1, iterations: 1, converged: true };
    } else {
      const l1Ratio = resolved.penalty === 'l1' ? 1 : resolved.l1_ratio;
      const result = fitElasticNet(data, resolved, l1Ratio, options);
      state = { coef: Array.from(result.coef), outputs: 1, iterations: result.iterations, converged: result.converged };
    }
    return new LinearRegressionModel(data.X.cols, resolved, state);
  },

  load(json) {
    checkModelJson(json, REGRESSION);
    const params = resolveParams(REGRESSION, REGRESSION_PARAMS, json.params);
    const state = json.state as LinearState | null;
    if (!state || state.coef?.length !== json.nFeatures + 1) throw malformed(REGRESSION, 'coefficients missing');
    return new LinearRegressionModel(json.nFeatures, params, state);
  },
};
