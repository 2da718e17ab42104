/**
 * The full metric set that `evaluate` reports for one model on one data set: every scalar metric that
 * applies to the task (one catalogue, also read by the gate and the comparison), per-class scores, confusion
 * matrices, per-class ROC / precision-recall / calibration curves (classification) and residuals (regression).
 * All values are plain numbers and arrays so the result serialises to JSON as it is.
 */
import { SpotmlError } from '../errors.js';
import type { Task } from '../learners/types.js';
import {
  accuracy,
  averagePrecision,
  averageScores,
  balancedAccuracy,
  binaryClfCurve,
  brierScore,
  cohenKappa,
  confusionMatrix,
  logLoss,
  matthewsCorrcoef,
  perClassScores,
  rocAuc,
  rocCurve,
} from './classification.js';
import { explainedVariance, mae, mape, medianAbsoluteError, r2Score, rmse } from './regression.js';

// ---------------------------------------------------------------------------------------------------------
// The scalar metric catalogue

export interface ReportMetricDefinition {
  readonly name: string;
  readonly task: Task;
  readonly greaterIsBetter: boolean;
  readonly needsProba: boolean;
  /** Human label for tables. */
  readonly title: string;
  /** Whether the metric is defined for this many classes (classification). */
  appliesTo(nClasses: number): boolean;
  compute(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, proba: Float64Array | undefined, nClasses: number): number;
}

const anyK = (): boolean => true;
const binaryOnly = (k: number): boolean => k === 2;
const multiclassOnly = (k: number): boolean => k > 2;

function classification(
  name: string,
  title: string,
  compute: (yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number) => number,
  greaterIsBetter = true,
): ReportMetricDefinition {
  return { name, title, task: 'classification', greaterIsBetter, needsProba: false, appliesTo: anyK, compute: (y, p, _proba, k) => compute(y, p, k) };
}

function probabilistic(
  name: string,
  title: string,
  appliesTo: (k: number) => boolean,
  compute: (yTrue: ArrayLike<number>, proba: Float64Array, k: number) => number,
  greaterIsBetter = true,
): ReportMetricDefinition {
  return {
    name,
    title,
    task: 'classification',
    greaterIsBetter,
    needsProba: true,
    appliesTo,
    compute: (y, _p, proba, k) => {
      if (!proba) throw new SpotmlError('INVALID_INPUT', `metric ${name} needs class probabilities; use a model with predictProba`);
      return compute(y, proba, k);
    },
  };
}

function regression(name: string, title: string, compute: (yTrue: ArrayLike<number>, yPred: ArrayLike<number>) => number, greaterIsBetter = true): ReportMetricDefinition {
  return { name, title, task: 'regression', greaterIsBetter, needsProba: false, appliesTo: anyK, compute: (y, p) => compute(y, p) };
}

const cm = (y: ArrayLike<number>, p: ArrayLike<number>, k: number): number[][] => confusionMatrix(y, p, k);

/** Every scalar metric `evaluate` can report, gate on or compare by; the order is the table order. */
export const REPORT_METRICS: readonly ReportMetricDefinition[] = [
  classification('accuracy', 'Accuracy', (y, p) => accuracy(y, p)),
  classification('balanced_accuracy', 'Balanced accuracy', (y, p, k) => balancedAccuracy(cm(y, p, k))),
  classification('f1_macro', 'F1 (macro)', (y, p, k) => averageScores(cm(y, p, k), 'macro').f1),
  classification('precision_macro', 'Precision (macro)', (y, p, k) => averageScores(cm(y, p, k), 'macro').precision),
  classification('recall_macro', 'Recall (macro)', (y, p, k) => averageScores(cm(y, p, k), 'macro').recall),
  classification('f1_weighted', 'F1 (weighted)', (y, p, k) => averageScores(cm(y, p, k), 'weighted').f1),
  classification('precision_weighted', 'Precision (weighted)', (y, p, k) => averageScores(cm(y, p, k), 'weighted').precision),
  classification('recall_weighted', 'Recall (weighted)', (y, p, k) => averageScores(cm(y, p, k), 'weighted').recall),
  classification('f1_micro', 'F1 (micro)', (y, p, k) => averageScores(cm(y, p, k), 'micro').f1),
  classification('precision_micro', 'Precision (micro)', (y, p, k) => averageScores(cm(y, p, k), 'micro').precision),
  classification('recall_micro', 'Recall (micro)', (y, p, k) => averageScores(cm(y, p, k), 'micro').recall),
  classification('matthews_corrcoef', 'Matthews corr.', (y, p, k) => matthewsCorrcoef(cm(y, p, k))),
  classification('cohen_kappa', "Cohen's kappa", (y, p, k) => cohenKappa(cm(y, p, k))),
  probabilistic('roc_auc', 'ROC AUC', anyK, (y, proba, k) => rocAuc(y, proba, k, 'ovr')),
  probabilistic('roc_auc_ovo', 'ROC AUC (OvO)', multiclassOnly, (y, proba, k) => rocAuc(y, proba, k, 'ovo')),
  probabilistic('average_precision', 'Average precision', anyK, (y, proba, k) => macroAveragePrecision(y, proba, k)),
  probabilistic('log_loss', 'Log loss', anyK, (y, proba, k) => logLoss(y, proba, k), false),
  probabilistic('brier', 'Brier score', binaryOnly, (y, proba) => brierScore(y, probaColumn(proba, 2, 1)), false),
  regression('r2', 'R²', r2Score),
  regression('rmse', 'RMSE', rmse, false),
  regression('mae', 'MAE', mae, false),
  regression('mape', 'MAPE', mape, false),
  regression('median_absolute_error', 'Median abs. error', medianAbsoluteError, false),
  regression('explained_variance', 'Explained variance', explainedVariance),
];

const BY_NAME = new Map(REPORT_METRICS.map((d) => [d.name, d]));

export function reportMetric(name: string): ReportMetricDefinition | undefined {
  return BY_NAME.get(name);
}

/** The headline metric of a task: the one with a confidence interval up front (same as the search's default). */
export function headlineMetric(task: Task): string {
  return task === 'classification' ? 'accuracy' : 'r2';
}

/** The metrics defined for a task, class count and whether probabilities are at hand. */
export function availableMetrics(task: Task, nClasses: number, hasProba: boolean): ReportMetricDefinition[] {
  return REPORT_METRICS.filter((d) => d.task === task && d.appliesTo(nClasses) && (hasProba || !d.needsProba));
}

// ---------------------------------------------------------------------------------------------------------
// Inputs and results

export interface ClassificationEvalInput {
  readonly task: 'classification';
  /** True class index per row (0..k-1). */
  readonly yTrue: ArrayLike<number>;
  /** Predicted class index per row. */
  readonly yPred: ArrayLike<number>;
  /** Row-major n × k class probabilities, when the model has them. */
  readonly proba?: Float64Array;
  /** Class names; index i names class i. */
  readonly labels: readonly string[];
}

export interface RegressionEvalInput {
  readonly task: 'regression';
  readonly yTrue: ArrayLike<number>;
  readonly yPred: ArrayLike<number>;
}

export type EvalInput = ClassificationEvalInput | RegressionEvalInput;

export interface PerClassRow {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface RocCurveSeries {
  label: string;
  fpr: number[];
  tpr: number[];
  thresholds: number[];
  auc: number;
}

export interface PrecisionRecallSeries {
  label: string;
  precision: number[];
  recall: number[];
  thresholds: number[];
  averagePrecision: number;
  /** Share of positives: the precision of a random ranking (the baseline of the plot). */
  prevalence: number;
}

export interface CalibrationSeries {
  label: string;
  /** Fraction of positives per non-empty bin. */
  probTrue: number[];
  /** Mean predicted probability per non-empty bin. */
  probPred: number[];
  /** Rows per non-empty bin. */
  counts: number[];
}

export interface ClassificationMetrics {
  task: 'classification';
  labels: string[];
  nSamples: number;
  metrics: Record<string, number>;
  perClass: PerClassRow[];
  /** Rows are true classes, columns predicted classes. */
  confusionMatrix: number[][];
  /** Each row divided by its total (scikit-learn's normalize='true'; empty rows are 0). */
  confusionMatrixNormalized: number[][];
  /** One curve per class (one-vs-rest); binary tasks have the positive class (index 1) only. Null without probabilities. */
  roc: RocCurveSeries[] | null;
  precisionRecall: PrecisionRecallSeries[] | null;
  calibration: CalibrationSeries[] | null;
}

export interface RegressionMetrics {
  task: 'regression';
  nSamples: number;
  metrics: Record<string, number>;
  /** residual = actual − predicted, per row, in input order. */
  residuals: { actual: number[]; predicted: number[]; residual: number[] };
}

export type EvaluationMetrics = ClassificationMetrics | RegressionMetrics;

/** Number of calibration bins, as the issue asks (uniform bins on [0, 1]). */
export const CALIBRATION_BINS = 10;

// ---------------------------------------------------------------------------------------------------------
// Curves

/**
 * Precision-recall pairs at every distinct score, as scikit-learn's precision_recall_curve (≥ 1.1, full curve):
 * ordered by increasing threshold, so recall decreases, with a final (precision 1, recall 0) point that has no
 * threshold. Precision is 0 where nothing is predicted positive; recall is 1 everywhere when there are no positives.
 */
export function precisionRecallCurve(isPositive: ArrayLike<boolean | number>, score: ArrayLike<number>): { precision: number[]; recall: number[]; thresholds: number[] } {
  const { fps, tps, thresholds } = binaryClfCurve(isPositive, score);
  const m = tps.length;
  const totalPositives = m > 0 ? tps[m - 1] : 0;
  const precision: number[] = [];
  const recall: number[] = [];
  const ordered: number[] = [];
  for (let i = m - 1; i >= 0; i--) {
    const predicted = tps[i] + fps[i];
    precision.push(predicted > 0 ? tps[i] / predicted : 0);
    recall.push(totalPositives > 0 ? tps[i] / totalPositives : 1);
    ordered.push(thresholds[i]);
  }
  precision.push(1);
  recall.push(0);
  return { precision, recall, thresholds: ordered };
}

/**
 * scikit-learn's calibration_curve with strategy='uniform': edges linspace(0, 1, nBins + 1); a probability p
 * goes to the first bin whose upper inner edge is ≥ p (numpy searchsorted, side='left'); empty bins are dropped.
 */
export function calibrationCurve(
  isPositive: ArrayLike<boolean | number>,
  probability: ArrayLike<number>,
  nBins = CALIBRATION_BINS,
): { probTrue: number[]; probPred: number[]; counts: number[] } {
  if (!Number.isInteger(nBins) || nBins < 1) throw new SpotmlError('USAGE', `calibration bins must be a positive integer, got ${nBins}`);
  // numpy.linspace computes interior edges as i * step; the last edge is exactly 1.
  const step = 1 / nBins;
  const innerEdges = new Float64Array(nBins - 1);
  for (let i = 0; i < nBins - 1; i++) innerEdges[i] = (i + 1) * step;
  const sums = new Float64Array(nBins);
  const positives = new Float64Array(nBins);
  const totals = new Float64Array(nBins);
  for (let r = 0; r < probability.length; r++) {
    const p = probability[r];
    if (!(p >= 0 && p <= 1)) throw new SpotmlError('INVALID_INPUT', `probability ${p} in row ${r} is outside [0, 1]; pass class probabilities, not scores`);
    let lo = 0;
    let hi = innerEdges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (innerEdges[mid] < p) lo = mid + 1;
      else hi = mid;
    }
    sums[lo] += p;
    if (isPositive[r]) positives[lo] += 1;
    totals[lo] += 1;
  }
  const probTrue: number[] = [];
  const probPred: number[] = [];
  const counts: number[] = [];
  for (let b = 0; b < nBins; b++) {
    if (totals[b] === 0) continue;
    probTrue.push(positives[b] / totals[b]);
    probPred.push(sums[b] / totals[b]);
    counts.push(totals[b]);
  }
  return { probTrue, probPred, counts };
}

/** Column c of a row-major n × k probability matrix. */
export function probaColumn(proba: Float64Array, nClasses: number, c: number): Float64Array {
  const n = proba.length / nClasses;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = proba[i * nClasses + c];
  return out;
}

/** Average precision of the positive class (binary) or the unweighted mean over one-vs-rest classes (scikit-learn's macro). */
export function macroAveragePrecision(yTrue: ArrayLike<number>, proba: Float64Array, nClasses: number): number {
  if (nClasses === 2) return averagePrecision(isClass(yTrue, 1), probaColumn(proba, 2, 1));
  let sum = 0;
  for (let c = 0; c < nClasses; c++) sum += averagePrecision(isClass(yTrue, c), probaColumn(proba, nClasses, c));
  return sum / nClasses;
}

function isClass(yTrue: ArrayLike<number>, c: number): Uint8Array {
  const out = new Uint8Array(yTrue.length);
  for (let i = 0; i < yTrue.length; i++) out[i] = yTrue[i] === c ? 1 : 0;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The whole set

export function computeReportMetrics(input: ClassificationEvalInput): ClassificationMetrics;
export function computeReportMetrics(input: RegressionEvalInput): RegressionMetrics;
export function computeReportMetrics(input: EvalInput): EvaluationMetrics;
export function computeReportMetrics(input: EvalInput): EvaluationMetrics {
  validateInput(input);
  return input.task === 'classification' ? classificationSet(input) : regressionSet(input);
}

/** Scalar metrics only (what the gate reads and the bootstrap resamples). */
export function computeScalarMetrics(input: EvalInput): Record<string, number> {
  const nClasses = input.task === 'classification' ? input.labels.length : 0;
  const proba = input.task === 'classification' ? input.proba : undefined;
  const out: Record<string, number> = {};
  for (const d of availableMetrics(input.task, nClasses, proba !== undefined)) out[d.name] = d.compute(input.yTrue, input.yPred, proba, nClasses);
  return out;
}

function classificationSet(input: ClassificationEvalInput): ClassificationMetrics {
  const k = input.labels.length;
  const n = input.yTrue.length;
  const matrix = confusionMatrix(input.yTrue, input.yPred, k);
  const scores = perClassScores(matrix);
  const perClass = input.labels.map((label, c) => ({
    label,
    precision: scores.precision[c],
    recall: scores.recall[c],
    f1: scores.f1[c],
    support: scores.support[c],
  }));
  const normalized = matrix.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (total > 0 ? v / total : 0));
  });
  let roc: RocCurveSeries[] | null = null;
  let precisionRecall: PrecisionRecallSeries[] | null = null;
  let calibration: CalibrationSeries[] | null = null;
  if (input.proba) {
    roc = [];
    precisionRecall = [];
    calibration = [];
    // Binary: the positive class alone, as scikit-learn's displays; multi-class: one-vs-rest per class.
    const classes = k === 2 ? [1] : Array.from({ length: k }, (_, c) => c);
    for (const c of classes) {
      const positive = isClass(input.yTrue, c);
      const score = probaColumn(input.proba, k, c);
      let positives = 0;
      for (let i = 0; i < n; i++) positives += positive[i];
      const label = input.labels[c];
      const rc = rocCurve(positive, score);
      roc.push({ label, fpr: rc.fpr, tpr: rc.tpr, thresholds: rc.thresholds, auc: trapezoid(rc.fpr, rc.tpr) });
      const pr = precisionRecallCurve(positive, score);
      precisionRecall.push({ label, ...pr, averagePrecision: averagePrecision(positive, score), prevalence: n > 0 ? positives / n : Number.NaN });
      calibration.push({ label, ...calibrationCurve(positive, score, CALIBRATION_BINS) });
    }
  }
  return {
    task: 'classification',
    labels: [...input.labels],
    nSamples: n,
    metrics: computeScalarMetrics(input),
    perClass,
    confusionMatrix: matrix,
    confusionMatrixNormalized: normalized,
    roc,
    precisionRecall,
    calibration,
  };
}

function regressionSet(input: RegressionEvalInput): RegressionMetrics {
  const actual = Array.from(input.yTrue);
  const predicted = Array.from(input.yPred);
  return {
    task: 'regression',
    nSamples: actual.length,
    metrics: computeScalarMetrics(input),
    residuals: { actual, predicted, residual: actual.map((v, i) => v - predicted[i]) },
  };
}

/** Area under a piecewise-linear curve (NaN when a curve is undefined, e.g. no negatives). */
function trapezoid(x: readonly number[], y: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

function validateInput(input: EvalInput): void {
  const n = input.yTrue.length;
  if (n === 0) throw new SpotmlError('INVALID_INPUT', 'no rows to evaluate; pass a non-empty data set');
  if (input.yPred.length !== n) {
    throw new SpotmlError('INVALID_INPUT', `predictions have ${input.yPred.length} rows but the targets have ${n}; predict on the same rows`);
  }
  if (input.task === 'regression') {
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(input.yTrue[i]) || !Number.isFinite(input.yPred[i])) {
        throw new SpotmlError('INVALID_INPUT', `row ${i} has a non-finite target or prediction; drop or impute missing targets before evaluating`);
      }
    }
    return;
  }
  const k = input.labels.length;
  if (k < 2) throw new SpotmlError('INVALID_INPUT', `classification needs at least 2 class labels, got ${k}`);
  for (let i = 0; i < n; i++) {
    for (const [what, v] of [
      ['target', input.yTrue[i]],
      ['prediction', input.yPred[i]],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= k) throw new SpotmlError('INVALID_INPUT', `row ${i}: ${what} ${v} is not a class index in 0..${k - 1}`);
    }
  }
  if (input.proba && input.proba.length !== n * k) {
    throw new SpotmlError('INVALID_INPUT', `probabilities have ${input.proba.length} values, expected ${n} rows × ${k} classes`);
  }
}
