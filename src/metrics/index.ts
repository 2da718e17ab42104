/**
 * The metric catalogue used by search and evaluate: each metric knows its task, whether it needs
 * probabilities, and its direction, so the search can always maximise `score = sign * value`.
 */
import type { Task } from '../learners/types.js';
import { accuracy, averageScores, balancedAccuracy, confusionMatrix, logLoss, rocAuc } from './classification.js';
import { mae, r2Score, rmse } from './regression.js';

export type MetricName = 'accuracy' | 'balanced_accuracy' | 'f1_macro' | 'log_loss' | 'roc_auc' | 'r2' | 'rmse' | 'mae';

export interface Predictions {
  /** Class index or value per row. */
  predicted: Float64Array;
  /** n × k probabilities (classification). */
  proba?: Float64Array;
}

export interface MetricDefinition {
  name: MetricName;
  task: Task;
  greaterIsBetter: boolean;
  needsProba: boolean;
  compute(yTrue: Float64Array, predictions: Predictions, nClasses: number): number;
}

const definitions: MetricDefinition[] = [
  { name: 'accuracy', task: 'classification', greaterIsBetter: true, needsProba: false, compute: (y, p) => accuracy(y, p.predicted) },
  {
    name: 'balanced_accuracy',
    task: 'classification',
    greaterIsBetter: true,
    needsProba: false,
    compute: (y, p, k) => balancedAccuracy(confusionMatrix(y, p.predicted, k)),
  },
  {
    name: 'f1_macro',
    task: 'classification',
    greaterIsBetter: true,
    needsProba: false,
    compute: (y, p, k) => averageScores(confusionMatrix(y, p.predicted, k), 'macro').f1,
  },
  { name: 'log_loss', task: 'classification', greaterIsBetter: false, needsProba: true, compute: (y, p, k) => logLoss(y, requireProba(p), k) },
  { name: 'roc_auc', task: 'classification', greaterIsBetter: true, needsProba: true, compute: (y, p, k) => rocAuc(y, requireProba(p), k, 'ovr') },
  { name: 'r2', task: 'regression', greaterIsBetter: true, needsProba: false, compute: (y, p) => r2Score(y, p.predicted) },
  { name: 'rmse', task: 'regression', greaterIsBetter: false, needsProba: false, compute: (y, p) => rmse(y, p.predicted) },
  { name: 'mae', task: 'regression', greaterIsBetter: false, needsProba: false, compute: (y, p) => mae(y, p.predicted) },
];

export const METRICS: Readonly<Record<MetricName, MetricDefinition>> = Object.fromEntries(definitions.map((d) => [d.name, d])) as Record<
  MetricName,
  MetricDefinition
>;

export function defaultMetric(task: Task): MetricName {
  return task === 'classification' ? 'accuracy' : 'r2';
}

function requireProba(p: Predictions): Float64Array {
  if (!p.proba) throw new Error('this metric needs class probabilities');
  return p.proba;
}
