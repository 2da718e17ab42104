/**
 * Histogram gradient-boosted trees (scikit-learn's HistGradientBoosting defaults, LightGBM's staged learner):
 * binning.ts bins once, histogram.ts / split.ts / grow.ts grow a tree from gradients (their hot loops in
 * WebAssembly: wasm/gbdt.ts, run by kernel.ts), objective.ts holds the losses (squared error, binary log-loss,
 * softmax), boost.ts runs the iterations. Missing values are native: NaN has its own bin and each split learns
 * which side it goes to.
 *
 * Fitted trees are plain threshold splits on raw values (threshold = the bin's upper edge, a NaN direction),
 * so predict needs no bin mapper and gives exactly what the binned training computed.
 */
import { createMatrix, takeRows, type Matrix } from '../../data/matrix.js';
import { SpotmlError } from '../../errors.js';
import { resolveParams } from '../params.js';
import { Rng, hashSeed } from '../rng.js';
import { Pacer, argmax, checkModelHeader } from '../tree/ensemble.js';
import { accumulateTrees, argmaxStop, compileTrees, type ArgmaxStop, type CompiledTrees } from '../tree/predict.js';
import { deserializeTree, serializeTree, type Tree } from '../tree/tree.js';
import type { FitOptions, FittedModel, LabelsAndProba, LearnerFamily, ParamSpec, Params, SerializedModel, Task, TrainingData } from '../types.js';
import { checkPredictInput, checkTrainingData } from '../validate.js';
import { boost, type BoostSet } from './boost.js';
import { binaryLogLoss, sigmoid, softmaxLoss, squaredError, type Objective } from './objective.js';
import { serializedModel } from '../serialized.js';

const FAMILY = 'gbdt';

/** Early stopping turns itself on ('auto') above this many rows, as in scikit-learn. */
export const AUTO_EARLY_STOPPING_ROWS = 10_000;

const GBDT_PARAMS = {
  max_iter: { type: 'int', default: 100, low: 1, high: 10_000, description: 'boosting iterations (trees per output)', search: { low: 50, high: 500, log: true } },
  learning_rate: {
    type: 'float',
    default: 0.1,
    low: 1e-4,
    high: 1,
    log: true,
    description: 'shrinkage applied to every leaf value',
    search: { low: 0.01, high: 0.3, log: true },
  },
  max_leaf_nodes: { type: 'int', default: 31, low: 2, high: 4096, description: 'leaves per tree (grown best-first)', search: { low: 8, high: 128, log: true } },
  max_depth: { type: 'int', default: 0, low: 0, high: 1000, description: 'deepest level a tree may reach; 0 = no limit', search: false },
  min_samples_leaf: { type: 'int', default: 20, low: 1, high: 1_000_000, description: 'fewest rows per leaf', search: { low: 5, high: 100, log: true } },
  min_child_weight: { type: 'float', default: 1e-3, low: 0, high: 1e6, description: 'smallest hessian sum per leaf', search: false },
  l2_regularization: {
    type: 'float',
    default: 0,
    low: 0,
    high: 1e6,
    description: 'L2 penalty on leaf values',
    search: { low: 1e-4, high: 10, log: true },
  },
  max_bins: { type: 'int', default: 255, low: 2, high: 255, description: 'bins per feature for non-missing values', search: false },
  subsample: { type: 'float', default: 1, low: 0.05, high: 1, description: 'fraction of rows each iteration sees', search: { low: 0.5, high: 1 } },
  colsample: { type: 'float', default: 1, low: 0.05, high: 1, description: 'fraction of features each tree may use', search: { low: 0.5, high: 1 } },
  early_stopping: {
    type: 'categorical',
    default: 'auto',
    choices: ['auto', 'true', 'false'],
    description: `stop when the validation loss stalls; auto = on above ${AUTO_EARLY_STOPPING_ROWS} rows or when a validation set is given`,
    search: false,
  },
  validation_fraction: {
    type: 'float',
    default: 0.1,
    low: 0.01,
    high: 0.5,
    description: 'share of rows held out for early stopping when no validation set is given',
    search: false,
  },
  n_iter_no_change: { type: 'int', default: 10, low: 1, high: 1000, description: 'iterations without improvement before stopping', search: false },
  tol: { type: 'float', default: 1e-7, low: 0, high: 1, description: 'smallest validation-loss improvement that counts', search: false },
} satisfies Record<string, ParamSpec>;

export class GbdtModel implements FittedModel {
  readonly family = FAMILY;
  /** The trees flattened for prediction, built once here (the trees are not changed after fit or load). */
  private readonly compiled: CompiledTrees;

  constructor(
    readonly task: Task,
    readonly nFeatures: number,
    readonly nClasses: number | undefined,
    readonly params: Params,
    /** Raw score before any tree, per output. */
    readonly baseline: Float64Array,
    readonly treesPerIteration: number,
    readonly trees: readonly Tree[],
    /** Validation loss per iteration when early stopping ran (for reports). */
    readonly validationLoss: readonly number[],
  ) {
    // Tree t of an iteration adds to output t mod treesPerIteration.
    this.compiled = compileTrees(trees, Int32Array.from(trees, (_, t) => t % treesPerIteration));
  }

  get iterations(): number {
    return this.trees.length / this.treesPerIteration;
  }

  /** Leaf bounds that let labels stop a row early, built on first use. */
  private labelStop: ArgmaxStop | null = null;

  /**
   * rows × outputs raw scores (row-major): the baseline, then every tree's leaf added in order. With `stop`, a
   * row may hold partial scores whose argmax is the full scores' (labels only).
   */
  rawScores(X: Matrix, stop: ArgmaxStop | null = null): Float64Array {
    checkPredictInput(X, this.nFeatures, this.family);
    const K = this.treesPerIteration;
    const out = new Float64Array(X.rows * K);
    for (let r = 0; r < X.rows; r++) out.set(this.baseline, r * K);
    accumulateTrees(this.compiled, X.data, X.rows, X.cols, out, K, true, stop);
    return out;
  }

  predict(X: Matrix): Float64Array {
    const K = this.treesPerIteration;
    // Labels (argmax of the class scores, or the sign of a binary score) let rows stop once they are settled.
    if (this.task === 'classification') this.labelStop ??= argmaxStop(this.compiled, K);
    const raw = this.rawScores(X, this.task === 'classification' ? this.labelStop : null);
    if (this.task === 'regression') return raw;
    return this.labelsOf(raw, X.rows);
  }

  predictProba(X: Matrix): Matrix {
    if (this.task !== 'classification') {
      throw new SpotmlError('USAGE', `${FAMILY}: predictProba is for classifiers; this model is a regressor`, { family: FAMILY });
    }
    return this.probaOf(this.rawScores(X), X.rows);
  }

  /** One pass over the trees: labels and probabilities from the same raw scores. */
  predictWithProba(X: Matrix): LabelsAndProba {
    if (this.task !== 'classification') {
      throw new SpotmlError('USAGE', `${FAMILY}: predictWithProba is for classifiers; this model is a regressor`, { family: FAMILY });
    }
    const raw = this.rawScores(X);
    return { labels: this.labelsOf(raw, X.rows), proba: this.probaOf(raw, X.rows) };
  }

  private labelsOf(raw: Float64Array, rows: number): Float64Array {
    const K = this.treesPerIteration;
    const labels = new Float64Array(rows);
    if (K === 1) for (let r = 0; r < rows; r++) labels[r] = raw[r] > 0 ? 1 : 0;
    else for (let r = 0; r < rows; r++) labels[r] = argmax(raw, r * K, K);
    return labels;
  }

  private probaOf(raw: Float64Array, rows: number): Matrix {
    const C = this.nClasses as number;
    const out = new Float64Array(rows * C);
    if (this.treesPerIteration === 1) {
      for (let r = 0; r < rows; r++) {
        const p1 = sigmoid(raw[r]);
        out[r * 2] = 1 - p1;
        out[r * 2 + 1] = p1;
      }
    } else {
      for (let r = 0; r < rows; r++) {
        let max = -Infinity;
        for (let k = 0; k < C; k++) max = Math.max(max, raw[r * C + k]);
        let sum = 0;
        for (let k = 0; k < C; k++) {
          const e = Math.exp(raw[r * C + k] - max);
          out[r * C + k] = e;
          sum += e;
        }
        for (let k = 0; k < C; k++) out[r * C + k] /= sum;
      }
    }
    return createMatrix(rows, C, out);
  }

  toJSON(): SerializedModel {
    return serializedModel(this, {
      baseline: Array.from(this.baseline),
      treesPerIteration: this.treesPerIteration,
      trees: this.trees.map(serializeTree),
      validationLoss: [...this.validationLoss],
    });
  }
}

function objectiveFor(data: TrainingData): Objective {
  if (data.task === 'regression') return squaredError;
  return data.nClasses === 2 ? binaryLogLoss : softmaxLoss(data.nClasses as number);
}

function subset(data: TrainingData, rows: readonly number[]): BoostSet {
  return {
    X: takeRows(data.X, rows),
    y: Float64Array.from(rows, (i) => data.y[i]),
    ...(data.sampleWeight ? { weight: Float64Array.from(rows, (i) => (data.sampleWeight as Float64Array)[i]) } : {}),
  };
}

/** Holds out ceil(fraction · n) rows, stratified by class for classification (scikit-learn's train_test_split). */
export function validationSplit(data: TrainingData, fraction: number, seed: number): { train: number[]; validation: number[] } {
  const n = data.y.length;
  const rng = new Rng(seed);
  const nValidation = Math.min(n - 1, Math.max(1, Math.ceil(fraction * n)));
  const isValidation = new Uint8Array(n);
  if (data.task === 'classification') {
    const K = data.nClasses as number;
    const members: number[][] = Array.from({ length: K }, () => []);
    for (let i = 0; i < n; i++) members[data.y[i]].push(i);
    // Largest-remainder allocation of the held-out rows across classes.
    const exact = members.map((m) => (nValidation * m.length) / n);
    const take = exact.map(Math.floor);
    let left = nValidation - take.reduce((a, b) => a + b, 0);
    const byRemainder = exact.map((e, k) => [e - Math.floor(e), k]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, k] of byRemainder) {
      if (left === 0) break;
      if (take[k] < members[k].length) {
        take[k]++;
        left--;
      }
    }
    members.forEach((m, k) => {
      const order = rng.shuffle(Int32Array.from(m));
      for (let i = 0; i < take[k]; i++) isValidation[order[i]] = 1;
    });
  } else {
    const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    for (let i = 0; i < nValidation; i++) isValidation[order[i]] = 1;
  }
  const train: number[] = [];
  const validation: number[] = [];
  for (let i = 0; i < n; i++) (isValidation[i] ? validation : train).push(i);
  return { train, validation };
}

async function fitGbdt(data: TrainingData, params: Params, options: FitOptions): Promise<FittedModel> {
  const resolved = resolveParams(FAMILY, GBDT_PARAMS, params);
  checkTrainingData(data, { family: FAMILY, tasks: ['classification', 'regression'], allowNaN: true });
  const given = options.validation;
  if (given) {
    if (given.X.cols !== data.X.cols || given.y.length !== given.X.rows || given.X.rows === 0 || given.task !== data.task) {
      throw new SpotmlError(
        'INVALID_INPUT',
        `${FAMILY}: the validation set must be non-empty with ${data.X.cols} feature columns, one target per row and the same task`,
        { family: FAMILY },
      );
    }
  }
  const n = data.X.rows;
  const earlyStopping =
    resolved.early_stopping === 'true' || (resolved.early_stopping === 'auto' && (n > AUTO_EARLY_STOPPING_ROWS || given !== undefined));

  let train: BoostSet = { X: data.X, y: data.y, ...(data.sampleWeight ? { weight: data.sampleWeight } : {}) };
  let validation: BoostSet | undefined;
  if (earlyStopping && given) {
    validation = { X: given.X, y: given.y, ...(given.sampleWeight ? { weight: given.sampleWeight } : {}) };
  } else if (earlyStopping && n >= 2) {
    const split = validationSplit(data, resolved.validation_fraction, hashSeed(options.seed, 'validation'));
    train = subset(data, split.train);
    validation = subset(data, split.validation);
  }

  const objective = objectiveFor(data);
  const result = await boost(
    train,
    validation,
    objective,
    {
      maxIter: resolved.max_iter,
      learningRate: resolved.learning_rate,
      maxLeafNodes: resolved.max_leaf_nodes,
      maxDepth: resolved.max_depth === 0 ? Infinity : resolved.max_depth,
      minSamplesLeaf: resolved.min_samples_leaf,
      minChildWeight: resolved.min_child_weight,
      l2: resolved.l2_regularization,
      maxBins: resolved.max_bins,
      subsample: resolved.subsample,
      colsample: resolved.colsample,
      earlyStopping: validation !== undefined,
      nIterNoChange: resolved.n_iter_no_change,
      tol: resolved.tol,
    },
    options.seed,
    new Pacer(options.signal),
    options.onProgress,
  );
  const nClasses = data.task === 'classification' ? data.nClasses : undefined;
  return new GbdtModel(data.task, data.X.cols, nClasses, { ...resolved }, result.baseline, objective.treesPerIteration, result.trees, result.validationLoss);
}

function loadGbdt(json: SerializedModel): GbdtModel {
  checkModelHeader(json, FAMILY);
  const bad = (why: string): never => {
    throw new SpotmlError('INVALID_INPUT', `${FAMILY}: the saved model is malformed (${why}); re-train it`, { family: FAMILY });
  };
  const state = json.state as { baseline?: unknown; treesPerIteration?: unknown; trees?: unknown; validationLoss?: unknown } | null;
  if (!state || !Array.isArray(state.baseline) || !Array.isArray(state.trees) || typeof state.treesPerIteration !== 'number') {
    return bad('missing baseline, trees or treesPerIteration');
  }
  const K = state.treesPerIteration;
  const expectedK = json.task === 'regression' || json.nClasses === 2 ? 1 : (json.nClasses as number);
  if (K !== expectedK || state.baseline.length !== K || state.trees.length % K !== 0) bad('outputs do not match the task');
  const trees = state.trees.map((t: unknown) => deserializeTree(t, json.nFeatures, FAMILY));
  if (trees.some((t) => t.nOutputs !== 1)) bad('a tree has more than one output');
  const validationLoss = Array.isArray(state.validationLoss) ? (state.validationLoss as number[]) : [];
  return new GbdtModel(json.task, json.nFeatures, json.nClasses, json.params, Float64Array.from(state.baseline as number[]), K, trees, validationLoss);
}

export const gbdt: LearnerFamily = {
  name: FAMILY,
  description: 'Histogram gradient-boosted trees (LightGBM-style; NaN handled natively)',
  tasks: ['classification', 'regression'],
  params: GBDT_PARAMS,
  tags: { handlesNaN: true, needsScaling: false, onnx: true, cost: 'medium' },
  fit: fitGbdt,
  load: loadGbdt,
};
