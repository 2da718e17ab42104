/**
 * Resampling plans: stratified k-fold (classification), shuffled k-fold (regression), holdout, or folds
 * given by the user. A plan is just a fold id per row, so it can be logged, shared with workers and replayed.
 */
import { SpotmlError } from '../errors.js';
import { Rng, hashSeed } from '../learners/rng.js';
import type { Task } from '../learners/types.js';

export interface FoldPlan {
  /** Test fold of each row (0..nFolds-1); -1 = always in training (holdout plans). */
  readonly fold: Int32Array;
  readonly nFolds: number;
  readonly kind: 'kfold' | 'stratified' | 'holdout' | 'given';
}

/**
 * Stratified k-fold like scikit-learn's StratifiedKFold(shuffle=True): each class's rows are shuffled
 * and dealt round-robin so every fold gets floor or ceil of its share of every class.
 */
export function stratifiedKFold(y: Float64Array, nClasses: number, k: number, seed: number): FoldPlan {
  checkK(k, y.length);
  const fold = new Int32Array(y.length);
  const rng = new Rng(hashSeed(seed, 'stratified-kfold'));
  let offset = 0;
  for (let c = 0; c < nClasses; c++) {
    const rows: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] === c) rows.push(i);
    rng.shuffle(rows);
    // Continue the round-robin across classes so fold sizes stay balanced too.
    rows.forEach((row, j) => {
      fold[row] = (offset + j) % k;
    });
    offset = (offset + rows.length) % k;
  }
  return { fold, nFolds: k, kind: 'stratified' };
}

export function kFold(n: number, k: number, seed: number): FoldPlan {
  checkK(k, n);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  new Rng(hashSeed(seed, 'kfold')).shuffle(order);
  const fold = new Int32Array(n);
  // Contiguous blocks of the shuffled order, first n % k folds one larger (scikit-learn's KFold).
  const base = Math.floor(n / k);
  const extra = n % k;
  let position = 0;
  for (let f = 0; f < k; f++) {
    const size = base + (f < extra ? 1 : 0);
    for (let j = 0; j < size; j++) fold[order[position++]] = f;
  }
  return { fold, nFolds: k, kind: 'kfold' };
}

/** One split: `fraction` of rows (stratified for classification) in fold 0 as validation, the rest -1. */
export function holdout(y: Float64Array, task: Task, nClasses: number, fraction: number, seed: number): FoldPlan {
  if (!(fraction > 0 && fraction < 1)) throw new SpotmlError('USAGE', `holdout fraction must be in (0, 1), got ${fraction}`, {});
  const fold = new Int32Array(y.length).fill(-1);
  const rng = new Rng(hashSeed(seed, 'holdout'));
  const groups: number[][] = task === 'classification' ? Array.from({ length: nClasses }, () => []) : [[]];
  for (let i = 0; i < y.length; i++) groups[task === 'classification' ? y[i] : 0].push(i);
  for (const rows of groups) {
    rng.shuffle(rows);
    const take = Math.round(rows.length * fraction);
    for (let j = 0; j < take; j++) fold[rows[j]] = 0;
  }
  return { fold, nFolds: 1, kind: 'holdout' };
}

export function givenFolds(fold: ArrayLike<number>, n: number): FoldPlan {
  if (fold.length !== n) throw new SpotmlError('INVALID_INPUT', `the folds give ${fold.length} rows but the table has ${n}`, {});
  let max = -1;
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(fold[i]) || fold[i] < -1) throw new SpotmlError('INVALID_INPUT', `fold id ${fold[i]} in row ${i} is not a fold number`, {});
    max = Math.max(max, fold[i]);
  }
  if (max < 0) throw new SpotmlError('INVALID_INPUT', 'the folds put every row in training; at least one test fold is needed', {});
  return { fold: Int32Array.from(fold), nFolds: max + 1, kind: 'given' };
}

/** Row indices for training and testing on fold f. */
export function splitIndices(plan: FoldPlan, f: number): { train: Int32Array; test: Int32Array } {
  let nTest = 0;
  for (let i = 0; i < plan.fold.length; i++) if (plan.fold[i] === f) nTest++;
  const train = new Int32Array(plan.fold.length - nTest);
  const test = new Int32Array(nTest);
  let a = 0;
  let b = 0;
  for (let i = 0; i < plan.fold.length; i++) {
    if (plan.fold[i] === f) test[b++] = i;
    else train[a++] = i;
  }
  return { train, test };
}

function checkK(k: number, n: number): void {
  if (!Number.isInteger(k) || k < 2) throw new SpotmlError('USAGE', `--cv must be a whole number >= 2, got ${k}`, { flag: '--cv' });
  if (k > n) throw new SpotmlError('INVALID_INPUT', `--cv ${k} needs at least ${k} rows, the table has ${n}`, { flag: '--cv' });
}
