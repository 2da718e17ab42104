/**
 * What decision_tree, random_forest and extra_trees share: preparing the CART input once per fit, the
 * max_features rule, the averaged-trees fitted model (scikit-learn's forest predict_proba = mean of per-tree leaf
 * class frequencies; a single tree is a forest of one) and its JSON form.
 */
import { createMatrix, type Matrix } from '../../data/matrix.js';
import { SpotmlError } from '../../errors.js';
import { binMatrix, fitBinMapper } from '../gbdt/binning.js';
import { hashSeed } from '../rng.js';
import type { FittedModel, LabelsAndProba, Params, SerializedModel, Task } from '../types.js';
import { checkNoMissing, checkPredictInput } from '../validate.js';
import { withArgmaxLabels } from '../preprocess.js';
import type { CartInput } from './cart.js';
import { accumulateTrees, argmaxStop, compileTrees, type ArgmaxStop, type CompiledTrees } from './predict.js';
import { deserializeTree, serializeTree, type Tree } from './tree.js';
import { serializedModel } from '../serialized.js';

/** Bins for split search in the 'best' splitter (uint8 codes). */
export const CART_MAX_BINS = 255;

export const MAX_FEATURES_CHOICES = ['sqrt', 'log2', '0.25', '0.5', '0.75', '1.0'] as const;

/** scikit-learn's rule: sqrt/log2 of p, or a fraction of p, floored, at least 1. */
export function resolveMaxFeatures(choice: string, p: number): number {
  let k: number;
  if (choice === 'sqrt') k = Math.floor(Math.sqrt(p));
  else if (choice === 'log2') k = Math.floor(Math.log2(p));
  else k = Math.floor(Number(choice) * p);
  return Math.min(p, Math.max(1, k));
}

/** Bins X (best splitter) or transposes it (random splitter) once; every tree of the fit reads it. */
export function prepareCartInput(X: Matrix, y: Float64Array, splitter: 'best' | 'random', seed: number, classification: boolean): CartInput {
  const labels = classification ? Int32Array.from(y) : undefined;
  if (splitter === 'random') {
    const n = X.rows;
    const p = X.cols;
    const columns = new Float64Array(n * p);
    for (let i = 0; i < n; i++) {
      const rowOffset = i * p;
      for (let f = 0; f < p; f++) columns[f * n + i] = X.data[rowOffset + f];
    }
    return { rows: n, cols: p, y, labels, columns };
  }
  const mapper = fitBinMapper(X, CART_MAX_BINS, hashSeed(seed, 'binning'));
  const binned = binMatrix(mapper, X);
  const n = X.rows;
  const p = X.cols;
  const binLow = Array.from(mapper.nBins, (nb) => new Float64Array(nb).fill(Infinity));
  const binHigh = Array.from(mapper.nBins, (nb) => new Float64Array(nb).fill(-Infinity));
  for (let f = 0; f < p; f++) {
    const low = binLow[f];
    const high = binHigh[f];
    for (let i = 0; i < n; i++) {
      const b = binned.codes[f * n + i];
      const x = X.data[i * p + f];
      if (x < low[b]) low[b] = x;
      if (x > high[b]) high[b] = x;
    }
  }
  return { rows: n, cols: p, y, labels, codes: binned.codes, nBins: mapper.nBins, upper: mapper.upper, binLow, binHigh };
}

/** Lets an abort or a progress repaint through while a long fit runs, at most every ~50 ms. */
export class Pacer {
  private last = performance.now();
  constructor(private readonly signal?: AbortSignal) {}

  async tick(): Promise<void> {
    this.signal?.throwIfAborted();
    const now = performance.now();
    if (now - this.last > 50) {
      this.last = now;
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.signal?.throwIfAborted();
    }
  }
}

/** Trees whose leaf values are averaged: class frequencies (classification) or means (regression). */
export class AveragedTreesModel implements FittedModel {
  /** The trees flattened for prediction, built once here (the trees are not changed after fit or load). */
  private readonly compiled: CompiledTrees;

  constructor(
    readonly family: string,
    readonly task: Task,
    readonly nFeatures: number,
    readonly nClasses: number | undefined,
    readonly params: Params,
    readonly trees: readonly Tree[],
  ) {
    this.compiled = compileTrees(trees, new Int32Array(trees.length));
  }

  /** Leaf bounds that let labels-only prediction stop a row early, built on first use. */
  private labelStop: ArgmaxStop | null = null;

  /**
   * rows × outputs mean of leaf values: summed tree by tree in order, then scaled by 1 / trees. With `stop`, a
   * row may hold a partial mean whose argmax is the full one's (labels only).
   */
  private average(X: Matrix, stop: ArgmaxStop | null = null): Float64Array {
    checkPredictInput(X, this.nFeatures, this.family);
    // These families split on raw values and declare handlesNaN false: the pipeline imputes before them.
    checkNoMissing(X, this.family);
    const outputs = this.compiled.leafWidth;
    const out = new Float64Array(X.rows * outputs);
    accumulateTrees(this.compiled, X.data, X.rows, X.cols, out, outputs, false, stop);
    const scale = 1 / this.trees.length;
    for (let i = 0; i < out.length; i++) out[i] *= scale;
    return out;
  }

  predict(X: Matrix): Float64Array {
    if (this.task === 'regression') return this.average(X);
    this.labelStop ??= argmaxStop(this.compiled, this.compiled.leafWidth);
    const mean = this.average(X, this.labelStop);
    const K = this.nClasses as number;
    const labels = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) labels[r] = argmax(mean, r * K, K);
    return labels;
  }

  predictProba(X: Matrix): Matrix {
    if (this.task !== 'classification') {
      throw new SpotmlError('USAGE', `${this.family}: predictProba is for classifiers; this model is a regressor`, { family: this.family });
    }
    return createMatrix(X.rows, this.nClasses as number, this.average(X));
  }

  /** One pass over the trees: the full means and their argmax (the labels predict settles early on). */
  predictWithProba(X: Matrix): LabelsAndProba {
    return withArgmaxLabels(this.predictProba(X));
  }

  toJSON(): SerializedModel {
    return serializedModel(this, { trees: this.trees.map(serializeTree) });
  }
}

/** First index of the largest of values[offset .. offset + n) (numpy's argmax tie rule). */
export function argmax(values: Float64Array, offset: number, n: number): number {
  let best = 0;
  let bestValue = values[offset];
  for (let k = 1; k < n; k++) {
    if (values[offset + k] > bestValue) {
      bestValue = values[offset + k];
      best = k;
    }
  }
  return best;
}

export function checkModelHeader(json: SerializedModel, family: string): void {
  const ok =
    json !== null &&
    typeof json === 'object' &&
    json.format === 'spotml-model' &&
    json.formatVersion === 1 &&
    json.family === family &&
    (json.task === 'classification' || json.task === 'regression') &&
    Number.isInteger(json.nFeatures) &&
    json.nFeatures > 0 &&
    (json.task === 'regression' || (Number.isInteger(json.nClasses) && (json.nClasses as number) >= 2));
  if (!ok) {
    throw new SpotmlError('INVALID_INPUT', `${family}: the saved model is not a ${family} spotml-model v1; load it with the family it was saved from`, {
      family,
      got: json?.family,
    });
  }
}

export function loadAveragedTrees(json: SerializedModel, family: string): AveragedTreesModel {
  checkModelHeader(json, family);
  const state = json.state as { trees?: unknown } | null;
  if (!state || !Array.isArray(state.trees) || state.trees.length === 0) {
    throw new SpotmlError('INVALID_INPUT', `${family}: the saved model has no trees; re-train it`, { family });
  }
  const trees = state.trees.map((t: unknown) => deserializeTree(t, json.nFeatures, family));
  const outputs = json.task === 'classification' ? (json.nClasses as number) : 1;
  if (trees.some((t) => t.nOutputs !== outputs)) {
    throw new SpotmlError('INVALID_INPUT', `${family}: the saved trees do not match the model's outputs; re-train it`, { family });
  }
  return new AveragedTreesModel(family, json.task, json.nFeatures, json.nClasses, json.params, trees);
}
