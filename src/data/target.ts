/**
 * The target column as train and tune read it: which task it makes, and its values as the learners take them
 * (class indices with their label map, or numbers).
 *
 * Tables are read with the target as text, so labels such as "01" survive. Class labels that are numbers
 * written canonically ("0", "7", "-3", "2.5") become numbers, as pandas reads them and scikit-learn keeps them:
 * classes then sort numerically (2 before 10) and a served model answers 0 rather than "0", as `mlflow models
 * serve` does for a classifier fitted on integers. A column with any other label ("01", "1.0", "cat") stays text.
 */
import { SpotmlError } from '../errors.js';
import { LabelEncoder, type ClassLabel } from '../learners/label-encoder.js';
import type { Task } from '../learners/types.js';

/** At most this many distinct whole numbers (or √rows / 2 when larger) make an integer target classification. */
const MAX_CLASSES_FOR_INTEGER_TARGET = 20;

export interface TargetValues {
  /** Class indices (classification) or the values (regression). */
  readonly y: Float64Array;
  readonly labels: LabelEncoder | null;
}

function isMissing(value: string | number): boolean {
  return typeof value === 'number' ? Number.isNaN(value) : value === '' || value === 'NaN';
}

/**
 * Text labels → class labels: numbers when every label is a number written canonically (the form `String`
 * gives back), else the texts unchanged.
 */
export function classLabelsFromText(texts: readonly string[]): ClassLabel[] {
  const numbers = new Array<number>(texts.length);
  for (let i = 0; i < texts.length; i++) {
    const value = Number(texts[i]);
    if (!Number.isFinite(value) || String(value) !== texts[i]) return [...texts];
    numbers[i] = value;
  }
  return numbers;
}

/** Classification when the column holds text, or few distinct whole numbers; regression otherwise. */
export function inferTask(column: ArrayLike<string | number>): Task {
  const values = Array.from(column);
  const numeric = values.every((v) => v === '' || (typeof v === 'number' ? true : v.trim() !== '' && Number.isFinite(Number(v))));
  if (!numeric) return 'classification';
  const numbers = values.map(Number).filter((v) => Number.isFinite(v));
  const distinct = new Set(numbers);
  const fewEnough = distinct.size <= Math.max(MAX_CLASSES_FOR_INTEGER_TARGET, Math.sqrt(numbers.length) / 2);
  return numbers.every((v) => Number.isInteger(v)) && fewEnough ? 'classification' : 'regression';
}

/**
 * The target's values for `task`. A missing target is an error naming the row (rows without a target cannot
 * be scored); classification needs two classes or more, regression finite numbers.
 */
export function targetValues(column: ArrayLike<string | number>, task: Task, tableName: string, target: string): TargetValues {
  const raw = Array.from(column);
  const missing = raw.findIndex(isMissing);
  if (missing >= 0) {
    throw new SpotmlError('INVALID_INPUT', `${tableName}: target "${target}" is empty in row ${missing + 1}; drop or label those rows`, { row: missing + 1 });
  }
  if (task === 'classification') {
    const classLabels = classLabelsFromText(raw.map(String));
    const labels = LabelEncoder.fit(classLabels);
    if (labels.nClasses < 2) {
      throw new SpotmlError('INVALID_INPUT', `${tableName}: target "${target}" has only one class; classification needs two or more`, {});
    }
    return { y: labels.encode(classLabels), labels };
  }
  const y = Float64Array.from(raw, (v) => (typeof v === 'number' ? v : v.trim() === '' ? Number.NaN : Number(v)));
  const bad = y.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new SpotmlError('INVALID_INPUT', `${tableName}: target "${target}" is not a finite number in row ${bad + 1} ("${String(raw[bad]).slice(0, 40)}"); regression needs numbers (or pass --task classification)`, {
      row: bad + 1,
    });
  }
  return { y, labels: null };
}
