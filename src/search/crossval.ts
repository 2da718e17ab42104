/**
 * Cross-validates one configuration: fits the family's pipeline on each training split, predicts the
 * held-out rows, and returns out-of-fold predictions (probabilities for classifiers, for ensembling),
 * the per-fold scores and timings. Pure and in-process; trial workers call it too.
 */
import { createMatrix, takeRows, type Matrix } from '../data/matrix.js';
import { hashSeed } from '../learners/rng.js';
import { fitPipeline } from '../learners/preprocess.js';
import type { FitProgress, LearnerFamily, Params, Task } from '../learners/types.js';
import { epochRecord, isEpochProgress, type EpochRecord } from '../learners/dl/progress.js';
import { METRICS, type MetricName } from '../metrics/index.js';
import { type FoldPlan, splitIndices } from './cv.js';

export interface CrossValidationInput {
  X: Matrix;
  y: Float64Array;
  task: Task;
  nClasses: number;
  plan: FoldPlan;
  metric: MetricName;
  seed: number;
  signal?: AbortSignal;
  /** Called after each fold with the fold's oriented score, so pruners can stop early. Return false to stop. */
  onFold?: (fold: number, score: number) => boolean | void;
  /** Each fold's fit progress as it happens (in-process only: a worker cannot call back). */
  onFitProgress?: (fold: number, progress: FitProgress) => void;
}

export interface CrossValidationResult {
  /** Mean of per-fold metric values (as scikit-learn's cross_val_score). */
  score: number;
  foldScores: number[];
  /** n × k probabilities (classification, rows outside every test fold are NaN) or n values. */
  oof: Float64Array;
  /** Hard predictions per row from `predict` (NaN outside test folds). */
  oofPredicted: Float64Array;
  fitSeconds: number;
  predictSeconds: number;
  /** Folds actually run (fewer when pruned). */
  foldsRun: number;
  /** Per fold, the epochs of families trained in epochs (mlp, cnn); absent for the others. */
  epochs?: EpochRecord[][];
}

export async function crossValidate(family: LearnerFamily, params: Params, input: CrossValidationInput): Promise<CrossValidationResult> {
  const { X, y, task, nClasses, plan } = input;
  const metric = METRICS[input.metric];
  const width = task === 'classification' ? nClasses : 1;
  const oof = new Float64Array(X.rows * width).fill(Number.NaN);
  const oofPredicted = new Float64Array(X.rows).fill(Number.NaN);
  const foldScores: number[] = [];
  let fitSeconds = 0;
  let predictSeconds = 0;
  const epochs: EpochRecord[][] = [];
  for (let f = 0; f < plan.nFolds; f++) {
    input.signal?.throwIfAborted();
    const { train, test } = splitIndices(plan, f);
    const yTrain = Float64Array.from(train, (i) => y[i]);
    const started = performance.now();
    const foldEpochs: EpochRecord[] = [];
    const onProgress = (progress: FitProgress): void => {
      if (isEpochProgress(progress)) foldEpochs.push(epochRecord(progress));
      input.onFitProgress?.(f, progress);
    };
    const model = await fitPipeline(
      family,
      { X: takeRows(X, train), y: yTrain, task, nClasses: task === 'classification' ? nClasses : undefined },
      params,
      { seed: hashSeed(input.seed, 'fold', f), signal: input.signal, onProgress },
    );
    if (foldEpochs.length > 0) epochs[f] = foldEpochs;
    const fitted = performance.now();
    const XTest = takeRows(X, test);
    const predicted = model.predict(XTest);
    const proba = task === 'classification' && model.predictProba ? model.predictProba(XTest) : undefined;
    predictSeconds += (performance.now() - fitted) / 1000;
    fitSeconds += (fitted - started) / 1000;
    const yTest = Float64Array.from(test, (i) => y[i]);
    for (let j = 0; j < test.length; j++) {
      oofPredicted[test[j]] = predicted[j];
      if (task === 'classification') {
        if (proba) for (let c = 0; c < nClasses; c++) oof[test[j] * nClasses + c] = proba.data[j * nClasses + c];
        else for (let c = 0; c < nClasses; c++) oof[test[j] * nClasses + c] = predicted[j] === c ? 1 : 0;
      } else {
        oof[test[j]] = predicted[j];
      }
    }
    const value = metric.compute(yTest, { predicted, proba: proba?.data }, nClasses);
    const oriented = metric.greaterIsBetter ? value : -value;
    foldScores.push(oriented);
    if (input.onFold && input.onFold(f, oriented) === false) break;
  }
  const score = foldScores.reduce((a, b) => a + b, 0) / foldScores.length;
  return { score, foldScores, oof, oofPredicted, fitSeconds, predictSeconds, foldsRun: foldScores.length, ...(epochs.length > 0 ? { epochs } : {}) };
}

/** Mean over folds of the metric on out-of-fold predictions (probabilities → argmax), oriented. */
export function scoreOutOfFold(
  oof: Float64Array,
  y: Float64Array,
  task: Task,
  nClasses: number,
  plan: FoldPlan,
  metricName: MetricName,
): number {
  const metric = METRICS[metricName];
  let total = 0;
  for (const value of outOfFoldFoldScores(oof, y, task, nClasses, plan, metricName)) total += metric.greaterIsBetter ? value : -value;
  return total / plan.nFolds;
}

/** The metric on each fold's out-of-fold predictions (as the metric reads, not oriented). */
export function outOfFoldFoldScores(
  oof: Float64Array,
  y: Float64Array,
  task: Task,
  nClasses: number,
  plan: FoldPlan,
  metricName: MetricName,
): number[] {
  const metric = METRICS[metricName];
  const scores: number[] = [];
  for (let f = 0; f < plan.nFolds; f++) {
    const { test } = splitIndices(plan, f);
    const yTest = Float64Array.from(test, (i) => y[i]);
    let value: number;
    if (task === 'classification') {
      const proba = new Float64Array(test.length * nClasses);
      const predicted = new Float64Array(test.length);
      for (let j = 0; j < test.length; j++) {
        let best = 0;
        for (let c = 0; c < nClasses; c++) {
          const p = oof[test[j] * nClasses + c];
          proba[j * nClasses + c] = p;
          if (p > proba[j * nClasses + best]) best = c;
        }
        predicted[j] = best;
      }
      value = metric.compute(yTest, { predicted, proba }, nClasses);
    } else {
      value = metric.compute(yTest, { predicted: Float64Array.from(test, (i) => oof[i]) }, nClasses);
    }
    scores.push(value);
  }
  return scores;
}

export { createMatrix };
