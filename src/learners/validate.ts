/** Checks at the public fit/predict boundary, shared by every family so errors read the same. */
import { SpotmlError } from '../errors.js';
import type { Matrix } from '../data/matrix.js';
import type { Task, TrainingData } from './types.js';

export interface FitCheckOptions {
  family: string;
  tasks: readonly Task[];
  /** Whether X may hold NaN (otherwise NaN is an error naming the column). */
  allowNaN: boolean;
}

export function checkTrainingData(data: TrainingData, options: FitCheckOptions): void {
  const { X, y, task } = data;
  const who = options.family;
  if (!options.tasks.includes(task)) {
    throw new SpotmlError('USAGE', `${who} does not support ${task}; pick a family that does (spotml train --help lists them)`, { family: who });
  }
  if (X.rows === 0) throw new SpotmlError('INVALID_INPUT', `${who}: the training data has zero rows`, { family: who });
  if (X.cols === 0) throw new SpotmlError('INVALID_INPUT', `${who}: the training data has zero feature columns`, { family: who });
  if (y.length !== X.rows) {
    throw new SpotmlError('INVALID_INPUT', `${who}: ${X.rows} rows of features but ${y.length} targets`, { family: who });
  }
  const badTarget = firstNonFinite(y);
  if (badTarget >= 0) {
    throw new SpotmlError('INVALID_INPUT', `${who}: the target is missing or not finite in row ${badTarget}; drop or fill those rows`, {
      family: who,
      row: badTarget,
    });
  }
  // One scan in the usual clean case; the exact scans below only run from the first non-finite value on.
  const nonFiniteAt = firstNonFinite(X.data);
  const nanAt = options.allowNaN || nonFiniteAt < 0 ? -1 : firstNaN(X.data, nonFiniteAt);
  if (nanAt >= 0) {
    const column = nanAt % X.cols;
    throw new SpotmlError('INVALID_INPUT', `${who}: feature column ${column} has missing values (NaN); impute them first (the training pipeline does)`, {
      family: who,
      column,
    });
  }
  // Infinite features would become infinite split thresholds and scaling statistics; scikit-learn refuses them too.
  const infiniteAt = nonFiniteAt < 0 ? -1 : firstInfinite(X.data, nonFiniteAt);
  if (infiniteAt >= 0) {
    const column = infiniteAt % X.cols;
    const row = Math.floor(infiniteAt / X.cols);
    throw new SpotmlError('INVALID_INPUT', `${who}: feature column ${column} is infinite in row ${row}; clip or drop such values before training`, {
      family: who,
      column,
      row,
    });
  }
  if (task === 'classification') {
    const k = data.nClasses ?? 0;
    if (!Number.isInteger(k) || k < 2) {
      throw new SpotmlError('INVALID_INPUT', `${who}: classification needs at least 2 classes, the target has ${k}`, { family: who });
    }
    const i = firstNonClassIndex(y, k);
    if (i >= 0) {
      throw new SpotmlError('INVALID_INPUT', `${who}: target ${y[i]} in row ${i} is not a class index in [0, ${k - 1}]`, { family: who, row: i });
    }
    if (classesPresent(y, k) < 2) {
      throw new SpotmlError('INVALID_INPUT', `${who}: the training data holds only one class; classification needs at least two`, { family: who });
    }
  }
}

/** Predict re-checks what fit saw: a silent wrong prediction is the worst failure. */
export function checkPredictInput(X: Matrix, nFeatures: number, family: string): void {
  if (X.cols !== nFeatures) {
    throw new SpotmlError('INVALID_INPUT', `${family}: input has ${X.cols} feature columns but the model was trained on ${nFeatures}`, {
      family,
      expected: nFeatures,
      got: X.cols,
    });
  }
}

/** For families without native NaN handling: NaN at predict is an error naming the column, never a silent guess. */
export function checkNoMissing(X: Matrix, family: string): void {
  const nanAt = firstNaN(X.data, 0);
  if (nanAt >= 0) {
    const column = nanAt % X.cols;
    throw new SpotmlError(
      'INVALID_INPUT',
      `${family}: feature column ${column} has missing values (NaN); predict through the training pipeline, which imputes them`,
      { family, column },
    );
  }
}

// Scans as small separate functions: V8 optimises them after a few calls and every caller shares them,
// where the same loops inside the checks above would each wait for on-stack replacement on first use.

/** Index of the first NaN in data[from..], or −1. */
export function firstNaN(data: Float64Array, from: number): number {
  for (let i = from; i < data.length; i++) if (data[i] !== data[i]) return i;
  return -1;
}

/** Index of the first ±Infinity in values[from..], or −1. */
export function firstInfinite(values: Float64Array, from = 0): number {
  for (let i = from; i < values.length; i++) if (values[i] === Infinity || values[i] === -Infinity) return i;
  return -1;
}

function firstNonFinite(values: Float64Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** First entry that is not an integer in [0, k), or −1. */
function firstNonClassIndex(y: Float64Array, k: number): number {
  for (let i = 0; i < y.length; i++) {
    const c = y[i];
    if (!(c >= 0 && c < k && Math.floor(c) === c)) return i;
  }
  return -1;
}

function classesPresent(y: Float64Array, k: number): number {
  const seen = new Uint8Array(k);
  for (let i = 0; i < y.length; i++) seen[y[i]] = 1;
  let present = 0;
  for (let c = 0; c < k; c++) present += seen[c];
  return present;
}
