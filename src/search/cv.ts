/**
 * Resampling plans: stratified k-fold (classification), shuffled k-fold (regression), holdout, or folds
 * given by the user. A plan is just a fold id per row, so it can be logged, shared with workers and replayed.
 *
 * Grouped plans keep every row of one group (e.g. the segments of one audio file) in the same fold, so a
 * model is never scored on near-copies of its training rows: scikit-learn's StratifiedGroupKFold for
 * classification, GroupKFold for regression, and a holdout of whole groups.
 */
import { columnIndex, type Table } from '../data/table.js';
import { SpotmlError } from '../errors.js';
import { Rng, hashSeed } from '../learners/rng.js';
import type { Task } from '../learners/types.js';

export interface FoldPlan {
  /** Test fold of each row (0..nFolds-1); -1 = always in training (holdout plans). */
  readonly fold: Int32Array;
  readonly nFolds: number;
  readonly kind: 'kfold' | 'stratified' | 'holdout' | 'given';
  /** Set when rows were kept together by a column's value: that column and how many groups it has. */
  readonly groups?: { readonly column: string; readonly count: number };
}

/** Rows labelled by group: a dense group id per row (0..count-1, in order of first appearance). */
export interface RowGroups {
  readonly column: string;
  readonly id: Int32Array;
  readonly count: number;
}

/** The column extract writes each row's source file to: grouped on by default when a file has several rows. */
export const DEFAULT_GROUP_COLUMN = 'path';

/**
 * The column whose rows stay in one fold (train and tune): the one asked for (`null`: none), else extract's
 * path when some file has several rows (segments).
 */
export function chooseRowGroups(table: Table, target: string, groupBy: string | null | undefined): RowGroups | null {
  if (groupBy === null) return null;
  if (groupBy !== undefined) {
    if (groupBy === target) throw new SpotmlError('USAGE', `--group-by ${groupBy} is the target; group by a column that names each row's source (e.g. path)`, { flag: '--group-by' });
    if (!table.names.includes(groupBy)) {
      throw new SpotmlError('USAGE', `--group-by ${groupBy}: the table has no such column (columns: ${table.names.slice(0, 8).join(', ')}${table.names.length > 8 ? ', …' : ''})`, { flag: '--group-by' });
    }
    return rowGroups(groupBy, table.columns[columnIndex(table, groupBy)] as ArrayLike<string | number>);
  }
  if (!table.names.includes(DEFAULT_GROUP_COLUMN) || DEFAULT_GROUP_COLUMN === target) return null;
  const groups = rowGroups(DEFAULT_GROUP_COLUMN, table.columns[columnIndex(table, DEFAULT_GROUP_COLUMN)] as ArrayLike<string | number>);
  return groups.count < table.nRows ? groups : null;
}

/** Dense group ids from a column's values (missing values form one group, like any other value). */
export function rowGroups(column: string, values: ArrayLike<string | number>): RowGroups {
  const ids = new Map<string | number, number>();
  const id = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = typeof values[i] === 'number' && Number.isNaN(values[i]) ? '' : values[i];
    let g = ids.get(value);
    if (g === undefined) {
      g = ids.size;
      ids.set(value, g);
    }
    id[i] = g;
  }
  return { column, id, count: ids.size };
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
  checkFraction(fraction);
  const fold = new Int32Array(y.length).fill(-1);
  const rng = new Rng(hashSeed(seed, 'holdout'));
  const groups: number[][] = task === 'classification' ? Array.from({ length: nClasses }, () => []) : [[]];
  for (let i = 0; i < y.length; i++) groups[task === 'classification' ? y[i] : 0].push(i);
  for (const rows of groups) {
    rng.shuffle(rows);
    const take = Math.round(rows.length * fraction);
    for (let j = 0; j < take; j++) fold[rows[j]] = 0;
  }
  checkHoldoutSplit(fold, fraction, null);
  return { fold, nFolds: 1, kind: 'holdout' };
}

/**
 * Stratified k-fold over groups, as scikit-learn's StratifiedGroupKFold(shuffle=True): groups in a seeded
 * shuffled order, those with the most uneven class counts first (stable sort), each to the fold that leaves
 * the per-class fold shares least spread (mean over classes of the std across folds of count / class total),
 * ties to the fold with fewer rows. A group is never split.
 */
export function stratifiedGroupKFold(y: Float64Array, nClasses: number, groups: RowGroups, k: number, seed: number): FoldPlan {
  checkGroupK(k, groups);
  const nGroups = groups.count;
  const classTotal = new Float64Array(nClasses);
  const groupCounts = new Float64Array(nGroups * nClasses);
  for (let i = 0; i < y.length; i++) {
    classTotal[y[i]]++;
    groupCounts[groups.id[i] * nClasses + y[i]]++;
  }
  const order = shuffledGroups(nGroups, seed, 'stratified-group-kfold');
  const unevenness = new Float64Array(nGroups);
  for (let g = 0; g < nGroups; g++) unevenness[g] = populationStd(groupCounts, g * nClasses, nClasses);
  // Array.prototype.sort is stable, so equally uneven groups keep their shuffled order.
  order.sort((a, b) => unevenness[b] - unevenness[a]);

  const foldCounts = new Float64Array(k * nClasses);
  const foldRows = new Float64Array(k);
  const groupFold = new Int32Array(nGroups);
  const share = new Float64Array(k);
  for (const g of order) {
    let bestFold = 0;
    let bestSpread = Number.POSITIVE_INFINITY;
    let bestRows = Number.POSITIVE_INFINITY;
    for (let f = 0; f < k; f++) {
      // The spread if this group joined fold f.
      let spread = 0;
      for (let c = 0; c < nClasses; c++) {
        for (let h = 0; h < k; h++) share[h] = (foldCounts[h * nClasses + c] + (h === f ? groupCounts[g * nClasses + c] : 0)) / classTotal[c];
        spread += populationStd(share, 0, k);
      }
      spread /= nClasses;
      // scikit-learn's rule: lower spread wins; a spread equal within numpy.isclose's tolerances wins with fewer rows.
      const tie = Math.abs(spread - bestSpread) <= 1e-8 + 1e-5 * Math.abs(bestSpread);
      if (spread < bestSpread || (tie && foldRows[f] < bestRows)) {
        bestFold = f;
        bestSpread = spread;
        bestRows = foldRows[f];
      }
    }
    groupFold[g] = bestFold;
    for (let c = 0; c < nClasses; c++) {
      foldCounts[bestFold * nClasses + c] += groupCounts[g * nClasses + c];
      foldRows[bestFold] += groupCounts[g * nClasses + c];
    }
  }
  return groupedPlan(groups, groupFold, k, 'stratified');
}

/** K-fold over groups, as scikit-learn's GroupKFold: largest groups first (seeded order among equals), each to the lightest fold. */
export function groupKFold(groups: RowGroups, k: number, seed: number): FoldPlan {
  checkGroupK(k, groups);
  const size = new Float64Array(groups.count);
  for (let i = 0; i < groups.id.length; i++) size[groups.id[i]]++;
  const order = shuffledGroups(groups.count, seed, 'group-kfold');
  order.sort((a, b) => size[b] - size[a]);
  const foldRows = new Float64Array(k);
  const groupFold = new Int32Array(groups.count);
  for (const g of order) {
    let lightest = 0;
    for (let f = 1; f < k; f++) if (foldRows[f] < foldRows[lightest]) lightest = f;
    groupFold[g] = lightest;
    foldRows[lightest] += size[g];
  }
  return groupedPlan(groups, groupFold, k, 'kfold');
}

/**
 * A holdout of whole groups: groups in a seeded order, largest first, each joins the validation fold when
 * that brings its rows (per class, for classification) closer to `fraction` of the total.
 */
export function groupHoldout(y: Float64Array, task: Task, nClasses: number, groups: RowGroups, fraction: number, seed: number): FoldPlan {
  checkFraction(fraction);
  const width = task === 'classification' ? nClasses : 1;
  const target = new Float64Array(width);
  const groupCounts = new Float64Array(groups.count * width);
  const size = new Float64Array(groups.count);
  for (let i = 0; i < y.length; i++) {
    const c = task === 'classification' ? y[i] : 0;
    target[c] += fraction;
    groupCounts[groups.id[i] * width + c]++;
    size[groups.id[i]]++;
  }
  const order = shuffledGroups(groups.count, seed, 'group-holdout');
  order.sort((a, b) => size[b] - size[a]);
  const taken = new Float64Array(width);
  const inValidation = new Uint8Array(groups.count);
  for (const g of order) {
    let change = 0;
    for (let c = 0; c < width; c++) {
      const add = groupCounts[g * width + c];
      change += (taken[c] + add - target[c]) ** 2 - (taken[c] - target[c]) ** 2;
    }
    if (change < 0) {
      inValidation[g] = 1;
      for (let c = 0; c < width; c++) taken[c] += groupCounts[g * width + c];
    }
  }
  const fold = Int32Array.from(groups.id, (g) => (inValidation[g] ? 0 : -1));
  checkHoldoutSplit(fold, fraction, groups);
  return { fold, nFolds: 1, kind: 'holdout', groups: { column: groups.column, count: groups.count } };
}

/**
 * Folds given per row. `source` names where they came from (e.g. "--folds folds.json") in errors. Fold ids
 * must run 0..k-1 without gaps, and no fold may hold every row (nothing would be left to train on).
 */
export function givenFolds(fold: ArrayLike<number>, n: number, source = 'the folds'): FoldPlan {
  if (fold.length !== n) throw new SpotmlError('INVALID_INPUT', `${source} give ${fold.length} rows but the table has ${n}: give one fold id per table row`, {});
  let max = -1;
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(fold[i]) || fold[i] < -1) {
      throw new SpotmlError('INVALID_INPUT', `${source}: fold id ${fold[i]} in row ${i + 1} is not a fold number; use 0, 1, 2, … (or -1 for always-train)`, { row: i + 1 });
    }
    max = Math.max(max, fold[i]);
  }
  if (max < 0) throw new SpotmlError('INVALID_INPUT', `${source} put every row in training (-1); at least one test fold is needed`, {});
  const rows = new Int32Array(max + 1);
  for (let i = 0; i < n; i++) if (fold[i] >= 0) rows[fold[i]]++;
  const empty = rows.findIndex((count) => count === 0);
  if (empty >= 0) {
    throw new SpotmlError('INVALID_INPUT', `${source}: fold ${empty} has no rows but fold ${max} does; number the folds 0..k-1 without gaps`, { fold: empty });
  }
  const whole = rows.findIndex((count) => count === n);
  if (whole >= 0) {
    throw new SpotmlError('INVALID_INPUT', `${source}: fold ${whole} holds all ${n} rows, leaving none to train on; spread the rows over two or more folds`, { fold: whole });
  }
  return { fold: Int32Array.from(fold), nFolds: max + 1, kind: 'given' };
}

/** K folds for the task: stratified for classification, and keeping each group whole when `groups` is given. */
export function kFoldPlan(y: Float64Array, task: Task, nClasses: number, k: number, seed: number, groups: RowGroups | null): FoldPlan {
  if (task === 'classification') return groups ? stratifiedGroupKFold(y, nClasses, groups, k, seed) : stratifiedKFold(y, nClasses, k, seed);
  return groups ? groupKFold(groups, k, seed) : kFold(y.length, k, seed);
}

/** Folds given by the user are used as they are; the warning to give when they split groups (null: none split). */
export function splitGroupsWarning(plan: FoldPlan, groups: RowGroups | null, source: string): string | null {
  const split = groups ? splitGroupCount(plan, groups) : 0;
  if (!groups || split === 0) return null;
  return `${source} split ${split} of ${groups.count} "${groups.column}" groups across folds: their rows score each other, so the cv score is optimistic`;
}

/** Rows in the smallest training side of a plan (all rows less the largest test fold). */
export function smallestTrainingFold(plan: FoldPlan): number {
  const testRows = new Int32Array(plan.nFolds);
  for (const f of plan.fold) if (f >= 0) testRows[f]++;
  return plan.fold.length - Math.max(...testRows);
}

/** How many groups a plan splits across folds (a given plan may; the grouped planners never do). */
export function splitGroupCount(plan: FoldPlan, groups: RowGroups): number {
  const first = new Int32Array(groups.count).fill(-2);
  const split = new Uint8Array(groups.count);
  for (let i = 0; i < plan.fold.length; i++) {
    const g = groups.id[i];
    if (first[g] === -2) first[g] = plan.fold[i];
    else if (first[g] !== plan.fold[i]) split[g] = 1;
  }
  return split.reduce((a, b) => a + b, 0);
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

function groupedPlan(groups: RowGroups, groupFold: Int32Array, k: number, kind: FoldPlan['kind']): FoldPlan {
  const fold = Int32Array.from(groups.id, (g) => groupFold[g]);
  const rows = new Int32Array(k);
  for (const f of fold) rows[f]++;
  if (rows.some((count) => count === 0)) {
    throw new SpotmlError('INVALID_INPUT', `--cv ${k} leaves a fold empty: the ${groups.count} "${groups.column}" groups cannot fill ${k} folds; lower --cv`, { flag: '--cv' });
  }
  return { fold, nFolds: k, kind, groups: { column: groups.column, count: groups.count } };
}

function shuffledGroups(count: number, seed: number, name: string): number[] {
  const order = Array.from({ length: count }, (_, g) => g);
  new Rng(hashSeed(seed, name)).shuffle(order);
  return order;
}

/** Population standard deviation (numpy's default) of values[start..start+length). */
function populationStd(values: Float64Array, start: number, length: number): number {
  let mean = 0;
  for (let j = 0; j < length; j++) mean += values[start + j];
  mean /= length;
  let sum = 0;
  for (let j = 0; j < length; j++) sum += (values[start + j] - mean) ** 2;
  return Math.sqrt(sum / length);
}

function checkFraction(fraction: number): void {
  if (!(fraction > 0 && fraction < 1)) throw new SpotmlError('USAGE', `--holdout must be a fraction in (0, 1), got ${fraction}`, { flag: '--holdout' });
}

/** A holdout needs rows on both sides; rounding per class (or whole groups) can leave one side empty. */
function checkHoldoutSplit(fold: Int32Array, fraction: number, groups: RowGroups | null): void {
  let validation = 0;
  for (const f of fold) if (f === 0) validation++;
  const unit = groups ? `whole "${groups.column}" groups (${groups.count} of them)` : `${fold.length} rows`;
  if (validation === 0) {
    throw new SpotmlError('INVALID_INPUT', `--holdout ${fraction} of ${unit} puts no row in the validation split: raise --holdout, add rows, or use --cv`, { flag: '--holdout' });
  }
  if (validation === fold.length) {
    throw new SpotmlError('INVALID_INPUT', `--holdout ${fraction} of ${unit} leaves no row to train on: lower --holdout, add rows, or use --cv`, { flag: '--holdout' });
  }
}

function checkGroupK(k: number, groups: RowGroups): void {
  if (!Number.isInteger(k) || k < 2) throw new SpotmlError('USAGE', `--cv must be a whole number >= 2, got ${k}`, { flag: '--cv' });
  if (k > groups.count) {
    throw new SpotmlError('INVALID_INPUT', `--cv ${k} needs at least ${k} distinct "${groups.column}" values (rows sharing one stay in one fold), the table has ${groups.count}: lower --cv or add data`, {
      flag: '--cv',
    });
  }
}

function checkK(k: number, n: number): void {
  if (!Number.isInteger(k) || k < 2) throw new SpotmlError('USAGE', `--cv must be a whole number >= 2, got ${k}`, { flag: '--cv' });
  if (k > n) throw new SpotmlError('INVALID_INPUT', `--cv ${k} needs at least ${k} rows, the table has ${n}`, { flag: '--cv' });
}
