/**
 * The boosting loop (LightGBM's GBDT::TrainOneIter, scikit-learn's BaseHistGradientBoosting.fit): bin the
 * training rows once, start from the objective's constant baseline, then per iteration compute gradients, grow
 * one tree per output on a row/column subsample, add the leaf values to the raw scores, and (when on) track the
 * validation loss and stop once it has not improved by `tol` over `nIterNoChange` iterations (scikit-learn's
 * rule; the trees grown so far are kept).
 */
import type { Matrix } from '../../data/matrix.js';
import { Rng, hashSeed } from '../rng.js';
import type { FitProgress } from '../types.js';
import type { Pacer } from '../tree/ensemble.js';
import { leafIndex, type Tree } from '../tree/tree.js';
import { binMatrix, fitBinMapper, identity } from './binning.js';
import { growTree, type GrowData, type GrowSettings } from './grow.js';
import { binCounts, globalBinIndices, histogramLayout } from './histogram.js';
import { GbdtKernel } from './kernel.js';
import type { Objective } from './objective.js';

export interface BoostSettings extends GrowSettings {
  readonly maxIter: number;
  readonly maxBins: number;
  /** Fraction of rows each iteration's trees see. */
  readonly subsample: number;
  /** Fraction of features each tree may split on. */
  readonly colsample: number;
  readonly earlyStopping: boolean;
  readonly nIterNoChange: number;
  readonly tol: number;
}

export interface BoostSet {
  readonly X: Matrix;
  readonly y: Float64Array;
  readonly weight?: Float64Array;
}

export interface BoostResult {
  readonly baseline: Float64Array;
  /** Iteration-major: tree k of iteration t at t * treesPerIteration + k. */
  readonly trees: Tree[];
  readonly iterations: number;
  /** Validation loss before the first tree and after each iteration (early stopping only). */
  readonly validationLoss: number[];
}

/** scikit-learn's _should_stop on scores where higher is better. */
export function shouldStop(scores: readonly number[], nIterNoChange: number, tol: number): boolean {
  const referencePosition = nIterNoChange + 1;
  if (scores.length < referencePosition) return false;
  const reference = scores[scores.length - referencePosition] + tol;
  for (let i = scores.length - nIterNoChange; i < scores.length; i++) if (scores[i] > reference) return false;
  return true;
}

/** Adds one tree's leaf values to the raw scores raw[offset + r] of every row r of X. */
function addTreeScores(tree: Tree, X: Matrix, raw: Float64Array, offset: number): void {
  const p = X.cols;
  for (let r = 0; r < X.rows; r++) raw[offset + r] += tree.value[leafIndex(tree, X.data, r * p)];
}

/** addTreeScores for the listed rows only. */
function addTreeScoresOfRows(tree: Tree, X: Matrix, rowsToScore: Int32Array, raw: Float64Array): void {
  const p = X.cols;
  for (let i = 0; i < rowsToScore.length; i++) {
    const r = rowsToScore[i];
    raw[r] += tree.value[leafIndex(tree, X.data, r * p)];
  }
}

export async function boost(
  train: BoostSet,
  validation: BoostSet | undefined,
  objective: Objective,
  settings: BoostSettings,
  seed: number,
  pacer: Pacer,
  onProgress?: (progress: FitProgress) => void,
): Promise<BoostResult> {
  const n = train.X.rows;
  const p = train.X.cols;
  const K = objective.treesPerIteration;
  const mapper = fitBinMapper(train.X, settings.maxBins, hashSeed(seed, 'binning'));
  const binned = binMatrix(mapper, train.X);
  // A feature with one bin and no NaN can never split: it gets no histogram slot.
  const usable: number[] = [];
  for (let f = 0; f < p; f++) if (mapper.nBins[f] > 1 || mapper.hasMissing[f] === 1) usable.push(f);
  const layout = histogramLayout(Int32Array.from(usable), mapper.nBins);
  const nRowsUsed = Math.max(1, Math.min(n, Math.round(settings.subsample * n)));
  const subsampling = nRowsUsed < n;
  const binIndex = globalBinIndices(layout, binned.codes, n);
  const rootCounts = subsampling ? null : binCounts(layout, binIndex);
  const kernel = new GbdtKernel(layout, binIndex, binned.codes, rootCounts, n);
  const data: GrowData = { kernel, mapper, layout, hasRootCounts: rootCounts !== null };
  const nSlotsAll = usable.length;
  const nTreeSlots = Math.max(1, Math.ceil(settings.colsample * nSlotsAll));
  const treeSlots = new Int32Array(nSlotsAll);
  const permutation = identity(n);
  const rows = new Int32Array(n);
  const unused = new Int32Array(n - nRowsUsed);

  const baseline = objective.baseline(train.y, train.weight);
  const raw = new Float64Array(K * n);
  for (let k = 0; k < K; k++) raw.fill(baseline[k], k * n, (k + 1) * n);
  const grad = new Float64Array(K * n);
  const hess = new Float64Array(K * n);

  const nValidation = validation ? validation.X.rows : 0;
  const validationRaw = new Float64Array(K * nValidation);
  for (let k = 0; k < K; k++) validationRaw.fill(baseline[k], k * nValidation, (k + 1) * nValidation);
  const validationLoss: number[] = [];
  const scores: number[] = [];
  const tracking = settings.earlyStopping && validation !== undefined;
  if (tracking) {
    const loss = objective.loss(validation.y, validationRaw, validation.weight);
    validationLoss.push(loss);
    scores.push(-loss);
  }

  const trees: Tree[] = [];
  let iterations = 0;
  for (let iteration = 0; iteration < settings.maxIter; iteration++) {
    await pacer.tick();
    objective.gradients(train.y, raw, train.weight, grad, hess);
    const rowRng = new Rng(hashSeed(seed, 'rows', iteration));
    if (subsampling) {
      // Partial Fisher–Yates: the first nRowsUsed entries are the sample; the rest are scored by traversal.
      for (let i = 0; i < nRowsUsed; i++) {
        const j = i + rowRng.int(n - i);
        const tmp = permutation[i];
        permutation[i] = permutation[j];
        permutation[j] = tmp;
      }
      unused.set(permutation.subarray(nRowsUsed));
    }
    for (let k = 0; k < K; k++) {
      const treeIndex = iteration * K + k;
      let nSlots = nSlotsAll;
      for (let j = 0; j < nSlotsAll; j++) treeSlots[j] = j;
      if (nTreeSlots < nSlots) {
        const featureRng = new Rng(hashSeed(seed, 'tree', treeIndex));
        for (let i = 0; i < nTreeSlots; i++) {
          const j = i + featureRng.int(nSlots - i);
          const tmp = treeSlots[i];
          treeSlots[i] = treeSlots[j];
          treeSlots[j] = tmp;
        }
        nSlots = nTreeSlots;
      }
      rows.set(permutation.subarray(0, nRowsUsed));
      const classRaw = raw.subarray(k * n, (k + 1) * n);
      const tree = growTree(
        data,
        treeSlots,
        nSlots,
        rows,
        nRowsUsed,
        grad.subarray(k * n, (k + 1) * n),
        hess.subarray(k * n, (k + 1) * n),
        settings,
        classRaw,
      );
      if (subsampling) addTreeScoresOfRows(tree, train.X, unused, classRaw);
      if (validation) addTreeScores(tree, validation.X, validationRaw, k * nValidation);
      trees.push(tree);
    }
    iterations = iteration + 1;
    let metric: number | undefined;
    if (tracking) {
      metric = objective.loss(validation.y, validationRaw, validation.weight);
      validationLoss.push(metric);
      scores.push(-metric);
    }
    onProgress?.({ step: iterations, total: settings.maxIter, ...(metric !== undefined ? { metric } : {}) });
    if (tracking && shouldStop(scores, settings.nIterNoChange, settings.tol)) break;
  }
  return { baseline, trees, iterations, validationLoss };
}
