/**
 * Families that are arithmetic on the preprocessed matrix, each from its saved state (model.json's `state`,
 * the versioned format every family already keeps stable), in double on the dense features:
 * - logistic_regression: X·Wᵀ + b → sigmoid ([1 − p, p]) or softmax;
 * - linear_regression: X·w + b;
 * - gaussian_nb: per class, constant − ½ Σ (x − μ)² / σ² → softmax;
 * - svm regression: Σ coef·K(x, sv) − ρ (rbf or linear kernel); svm classification's one-vs-one vote
 *   as a one-hot row (what an ensemble averages for a member without probabilities);
 * - mlp (as an ensemble member; a single mlp goes through dl.ts): dense layers from the float32 weights.
 * Each returns double [N, K] probabilities or [N, 1] values, as the model's predictProba / predict.
 */
import { MlpModel } from '../../learners/mlp.js';
import type { FittedModel } from '../../learners/types.js';
import { TensorType, attr } from './proto.js';
import type { GraphBuilder } from './graph.js';

interface LinearState {
  coef: number[];
  outputs: number;
}

interface NbState {
  means: number[];
  variances: number[];
  priors: number[];
}

interface SvmState {
  kernel: 'rbf' | 'linear';
  gamma: number;
  labels: number[];
  counts: number[];
  sv: number[];
  coef: number[];
  rho: number[];
  probA?: number[];
}

function stateOf<T>(model: FittedModel): T {
  return model.toJSON().state as T;
}

/** [1 − σ(z), σ(z)] for a [N, 1] logit. */
function binaryProbabilities(g: GraphBuilder, logit: string): string {
  const positive = g.op('Sigmoid', [logit]);
  return g.op('Concat', [g.op('Sub', [g.double('one', [], [1]), positive]), positive], { axis: attr.int(1) });
}

/** X [N, d] · W + b for coefficient rows laid out as weights then intercept (d + 1 per row). */
function affine(g: GraphBuilder, x: string, coef: readonly number[], rows: number, d: number): string {
  const weights = new Float64Array(d * rows);
  const intercepts = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) weights[j * rows + r] = coef[r * (d + 1) + j];
    intercepts[r] = coef[r * (d + 1) + d];
  }
  return g.op('Add', [g.op('MatMul', [x, g.double('coef', [d, rows], weights)]), g.double('intercept', [rows], intercepts)]);
}

export function emitLogistic(g: GraphBuilder, model: FittedModel, x: string): string {
  const state = stateOf<LinearState>(model);
  const logits = affine(g, x, state.coef, state.outputs, model.nFeatures);
  return state.outputs === 1 ? binaryProbabilities(g, logits) : g.op('Softmax', [logits], { axis: attr.int(1) });
}

export function emitLinearRegression(g: GraphBuilder, model: FittedModel, x: string): string {
  return affine(g, x, stateOf<LinearState>(model).coef, 1, model.nFeatures);
}

export function emitGaussianNb(g: GraphBuilder, model: FittedModel, x: string): string {
  const { means, variances, priors } = stateOf<NbState>(model);
  const d = model.nFeatures;
  const k = model.nClasses as number;
  // The model's own constants, in its order of operations: log prior − ½ Σ log(2π σ²).
  const constants = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let logDet = 0;
    for (let j = 0; j < d; j++) logDet += Math.log(2 * Math.PI * variances[c * d + j]);
    constants[c] = Math.log(priors[c]) - 0.5 * logDet;
  }
  const rows = g.op('Unsqueeze', [x, g.int64('axis1', [1], [1])]);
  const diff = g.op('Sub', [rows, g.double('class_means', [k, d], means)]);
  const weighted = g.op('Mul', [g.op('Mul', [diff, diff]), g.double('inverse_variances', [k, d], variances.map((v) => 1 / v))]);
  const quad = g.op('ReduceSum', [weighted, g.int64('axis2', [1], [2])], { keepdims: attr.int(0) });
  const jll = g.op('Sub', [g.double('class_constants', [k], constants), g.op('Mul', [quad, g.double('half', [], [0.5])])]);
  return g.op('Softmax', [jll], { axis: attr.int(1) });
}

/** Kernel values [N, nSV] against the saved support vectors. */
function svmKernel(g: GraphBuilder, state: SvmState, x: string, d: number): string {
  const nSv = state.counts.reduce((a, b) => a + b, 0);
  const svT = new Float64Array(d * nSv);
  for (let s = 0; s < nSv; s++) for (let j = 0; j < d; j++) svT[j * nSv + s] = state.sv[s * d + j];
  const dots = g.op('MatMul', [x, g.double('support_vectors_t', [d, nSv], svT)]);
  if (state.kernel === 'linear') return dots;
  // ‖x − s‖² = ‖x‖² − 2 x·s + ‖s‖², in double (the cancellation costs ~1e-16 relative on scaled features).
  const svNorms = new Float64Array(nSv);
  for (let s = 0; s < nSv; s++) for (let j = 0; j < d; j++) svNorms[s] += state.sv[s * d + j] ** 2;
  const xNorms = g.op('ReduceSum', [g.op('Mul', [x, x]), g.int64('axis1', [1], [1])], { keepdims: attr.int(1) });
  const twice = g.op('Mul', [dots, g.double('two', [], [2])]);
  const squared = g.op('Add', [g.op('Sub', [xNorms, twice]), g.double('sv_norms', [nSv], svNorms)]);
  // Rounding can leave a tiny negative distance where spotml's direct sum gives 0.
  const distance = g.op('Max', [squared, g.double('zero', [], [0])]);
  return g.op('Exp', [g.op('Mul', [distance, g.double('neg_gamma', [], [-state.gamma])])]);
}

export function emitSvmRegression(g: GraphBuilder, model: FittedModel, x: string): string {
  const state = stateOf<SvmState>(model);
  const kernel = svmKernel(g, state, x, model.nFeatures);
  const nSv = state.coef.length;
  return g.op('Sub', [g.op('MatMul', [kernel, g.double('dual_coef', [nSv, 1], state.coef)]), g.double('rho', [], [state.rho[0]])]);
}

/** True when the SVM classifier predicts by vote alone (no Platt probabilities): the form exported. */
export function svmVotes(model: FittedModel): boolean {
  return stateOf<SvmState>(model).probA === undefined;
}

/** One-hot [N, K] of libsvm's one-vs-one vote (ties to the lower class index). */
export function emitSvmVote(g: GraphBuilder, model: FittedModel, x: string): string {
  const state = stateOf<SvmState>(model);
  const k = model.nClasses as number;
  const kernel = svmKernel(g, state, x, model.nFeatures);
  const blocks = state.labels.length;
  const nSv = state.coef.length / Math.max(1, blocks - 1);
  const starts = [0];
  for (const c of state.counts) starts.push(starts[starts.length - 1] + c);
  const pairs = (blocks * (blocks - 1)) / 2;
  // Column p: the decision of block pair p, signed so that > 0 votes for the lower class index.
  const pairWeights = new Float64Array(nSv * pairs);
  const rho = new Float64Array(pairs);
  const lowVotes = new Float64Array(pairs * k);
  const highVotes = new Float64Array(pairs * k);
  let p = 0;
  for (let i = 0; i < blocks; i++) {
    for (let j = i + 1; j < blocks; j++) {
      const sign = state.labels[i] < state.labels[j] ? 1 : -1;
      for (let s = starts[i]; s < starts[i + 1]; s++) pairWeights[s * pairs + p] = sign * state.coef[(j - 1) * nSv + s];
      for (let s = starts[j]; s < starts[j + 1]; s++) pairWeights[s * pairs + p] = sign * state.coef[i * nSv + s];
      rho[p] = sign * state.rho[p];
      lowVotes[p * k + Math.min(state.labels[i], state.labels[j])] = 1;
      highVotes[p * k + Math.max(state.labels[i], state.labels[j])] = 1;
      p++;
    }
  }
  const decisions = g.op('Sub', [g.op('MatMul', [kernel, g.double('pair_coef', [nSv, pairs], pairWeights)]), g.double('pair_rho', [pairs], rho)]);
  const low = g.op('Cast', [g.op('Greater', [decisions, g.double('zero', [], [0])])], { to: attr.int(TensorType.DOUBLE) });
  const high = g.op('Sub', [g.double('one', [], [1]), low]);
  const votes = g.op('Add', [
    g.op('MatMul', [low, g.double('low_votes', [pairs, k], lowVotes)]),
    g.op('MatMul', [high, g.double('high_votes', [pairs, k], highVotes)]),
  ]);
  const winner = g.op('ArgMax', [votes], { axis: attr.int(1), keepdims: attr.int(1) });
  const classes = g.int64('class_indices', [k], Array.from({ length: k }, (_, c) => c));
  return g.op('Cast', [g.op('Equal', [winner, classes])], { to: attr.int(TensorType.DOUBLE) });
}

/** An mlp's forward pass from its float32 weights, as MlpModel.forward (float64 accumulation) computes it. */
export function emitMlp(g: GraphBuilder, model: MlpModel, x: string): string {
  let current = x;
  model.layers.forEach((layer, l) => {
    const w = g.double(`dense${l}_w`, [layer.inputs, layer.outputs], layer.weight);
    current = g.op('Add', [g.op('MatMul', [current, w]), g.double(`dense${l}_b`, [layer.outputs], layer.bias)]);
    if (l < model.layers.length - 1) current = g.op(model.activation === 'relu' ? 'Relu' : 'Tanh', [current]);
  });
  if (model.task === 'classification') return g.op('Softmax', [current], { axis: attr.int(1) });
  const { mean, scale } = model.state.target as { mean: number; scale: number };
  return g.op('Add', [g.op('Mul', [current, g.double('target_scale', [], [scale])]), g.double('target_mean', [], [mean])]);
}
