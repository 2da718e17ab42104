/**
 * Test-only loader for the shared tabular data sets (../shared/data): a tiny CSV parser (numeric features,
 * last column `target`), the fixed 5-fold assignment and a cross-validation runner for a LearnerFamily.
 * The project's real table reader lives elsewhere; this one only has to read these five files.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createMatrix, takeRows, type Matrix } from '../../src/data/matrix.js';
import { Rng } from '../../src/learners/rng.js';
import type { LearnerFamily, Params, Task, TrainingData } from '../../src/learners/types.js';

export const SHARED_DATA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data');

export interface Dataset {
  readonly name: string;
  readonly task: Task;
  readonly X: Matrix;
  readonly y: Float64Array;
  readonly nClasses?: number;
  /** fold[i] = the test fold of row i. */
  readonly fold: Int32Array;
  readonly nFolds: number;
}

const REGRESSION = new Set(['diabetes']);

/** Reads `<name>.csv` and `folds/<name>.json`; class labels become indices in sorted label order. */
export function loadDataset(name: string): Dataset {
  const text = readFileSync(path.join(SHARED_DATA_DIR, `${name}.csv`), 'utf8');
  const lines = text.split(/\r?\n/).filter((line) => line.length > 0);
  const header = lines[0].split(',');
  const p = header.length - 1;
  const n = lines.length - 1;
  const data = new Float64Array(n * p);
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const cells = lines[i + 1].split(',');
    if (cells.length !== p + 1) throw new Error(`${name}.csv line ${i + 2} has ${cells.length} cells, expected ${p + 1}`);
    for (let f = 0; f < p; f++) data[i * p + f] = cells[f] === '' ? NaN : Number(cells[f]);
    labels.push(cells[p]);
  }
  const task: Task = REGRESSION.has(name) ? 'regression' : 'classification';
  let y: Float64Array;
  let nClasses: number | undefined;
  if (task === 'regression') {
    y = Float64Array.from(labels, Number);
  } else {
    const numeric = labels.every((label) => label !== '' && Number.isFinite(Number(label)));
    const classes = [...new Set(labels)].sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
    const index = new Map(classes.map((c, k) => [c, k]));
    y = Float64Array.from(labels, (label) => index.get(label) as number);
    nClasses = classes.length;
  }
  const folds = JSON.parse(readFileSync(path.join(SHARED_DATA_DIR, 'folds', `${name}.json`), 'utf8')) as { n_folds: number; fold: number[] };
  if (folds.fold.length !== n) throw new Error(`folds/${name}.json has ${folds.fold.length} rows, the CSV ${n}`);
  return { name, task, X: createMatrix(n, p, data), y, nClasses, fold: Int32Array.from(folds.fold), nFolds: folds.n_folds };
}

export interface TargetScore {
  readonly score: number;
  readonly cpu_s: number;
}

/** scikit-learn's default-model score for a data set, from targets.json. */
export function sklearnDefault(dataset: string, model: string): TargetScore {
  const targets = JSON.parse(readFileSync(path.join(SHARED_DATA_DIR, 'targets.json'), 'utf8')) as {
    datasets: Record<string, { sklearn_defaults: Record<string, TargetScore> }>;
  };
  return targets.datasets[dataset].sklearn_defaults[model];
}

export function r2Score(truth: Float64Array, predicted: Float64Array): number {
  let mean = 0;
  for (let i = 0; i < truth.length; i++) mean += truth[i];
  mean /= truth.length;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < truth.length; i++) {
    ssRes += (truth[i] - predicted[i]) ** 2;
    ssTot += (truth[i] - mean) ** 2;
  }
  return 1 - ssRes / ssTot;
}

export function accuracy(truth: Float64Array, predicted: Float64Array): number {
  let hits = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) hits++;
  return hits / truth.length;
}

export function splitFold(dataset: Dataset, k: number): { train: TrainingData; testX: Matrix; testY: Float64Array } {
  const trainRows: number[] = [];
  const testRows: number[] = [];
  for (let i = 0; i < dataset.fold.length; i++) (dataset.fold[i] === k ? testRows : trainRows).push(i);
  const train: TrainingData = {
    X: takeRows(dataset.X, trainRows),
    y: Float64Array.from(trainRows, (i) => dataset.y[i]),
    task: dataset.task,
    nClasses: dataset.nClasses,
  };
  return { train, testX: takeRows(dataset.X, testRows), testY: Float64Array.from(testRows, (i) => dataset.y[i]) };
}

/** Mean over folds of accuracy (classification) or R² (regression), scikit-learn's cross_val_score. */
export async function crossValidate(family: LearnerFamily, dataset: Dataset, params: Params = {}, seed = 0): Promise<number> {
  let total = 0;
  for (let k = 0; k < dataset.nFolds; k++) {
    const { train, testX, testY } = splitFold(dataset, k);
    const model = await family.fit(train, params, { seed: seed + k });
    const predicted = model.predict(testX);
    total += dataset.task === 'regression' ? r2Score(testY, predicted) : accuracy(testY, predicted);
  }
  return total / dataset.nFolds;
}

/** Gaussian class clusters on 10 informative features, 4 redundant mixtures, 6 noise features, 5% label noise. */
export function syntheticClassification(rows: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const p = 20;
  const informative = 10;
  const shift = Float64Array.from({ length: informative }, () => 0.3 + 0.5 * rng.next());
  const data = new Float64Array(rows * p);
  const y = new Float64Array(rows);
  const fold = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = rng.int(2);
    const o = i * p;
    for (let j = 0; j < informative; j++) data[o + j] = rng.normal() + (label === 1 ? shift[j] : -shift[j]);
    for (let j = 0; j < 4; j++) data[o + informative + j] = data[o + j] * data[o + j + 1] + 0.5 * data[o + j + 2];
    for (let j = informative + 4; j < p; j++) data[o + j] = rng.normal();
    y[i] = rng.next() < 0.05 ? 1 - label : label;
    fold[i] = i % 5;
  }
  return { name: 'synthetic', task: 'classification', X: createMatrix(rows, p, data), y, nClasses: 2, fold, nFolds: 5 };
}
