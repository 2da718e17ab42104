/**
 * The evaluation's full metric set against scikit-learn 1.2.1's values on fixed inputs
 * (../shared/reference/metrics, tolerance 1e-9), the precision-recall curve against a direct threshold-by-threshold
 * computation, and the calibration curve against a hand computation.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/learners/rng.js';
import {
  REPORT_METRICS,
  availableMetrics,
  calibrationCurve,
  computeReportMetrics,
  precisionRecallCurve,
  type ClassificationMetrics,
} from '../../../src/metrics/report-metrics.js';

interface Case {
  name: string;
  task: 'classification' | 'regression';
  labels?: number[];
  y_true: number[];
  y_pred: number[];
  proba?: number[][];
  expected: Record<string, unknown>;
}

const reference = JSON.parse(readFileSync(new URL('../../../../shared/reference/metrics/sklearn-metrics.json', import.meta.url), 'utf8')) as { cases: Case[] };
const TOL = 1e-9;

/** Our metric name → the reference key, per class count. */
function referenceKey(name: string, k: number): string | null {
  if (name === 'roc_auc') return k === 2 ? 'roc_auc' : 'roc_auc_ovr_macro';
  if (name === 'roc_auc_ovo') return 'roc_auc_ovo_macro';
  if (name === 'average_precision') return k === 2 ? 'average_precision' : null;
  return name;
}

describe.each(reference.cases.filter((c) => c.task === 'classification'))('classification report metrics vs scikit-learn: $name', (c) => {
  const k = c.labels?.length ?? 0;
  const labels = (c.labels ?? []).map((l) => `class ${l}`);
  const report = computeReportMetrics({
    task: 'classification',
    yTrue: c.y_true,
    yPred: c.y_pred,
    proba: Float64Array.from((c.proba ?? []).flat()),
    labels,
  });
  const e = c.expected;

  it('every scalar metric with a reference value', () => {
    let compared = 0;
    for (const name of Object.keys(report.metrics)) {
      const key = referenceKey(name, k);
      if (key === null) continue;
      expect(e[key], `reference has ${key}`).toBeTypeOf('number');
      expect(Math.abs(report.metrics[name] - (e[key] as number)), name).toBeLessThan(TOL);
      compared++;
    }
    // 13 label metrics + roc_auc + log_loss, then binary: average_precision + brier; multi-class: roc_auc_ovo
    // (its macro average precision has no reference value; it is tested through the per-class curves).
    expect(compared).toBe(k === 2 ? 17 : 16);
  });

  it('confusion matrix, normalised rows, per-class F1 and support', () => {
    expect(report.confusionMatrix).toEqual(e.confusion_matrix);
    const cm = e.confusion_matrix as number[][];
    report.confusionMatrixNormalized.forEach((row, i) => {
      const total = cm[i].reduce((a, b) => a + b, 0);
      row.forEach((v, j) => expect(v).toBeCloseTo(cm[i][j] / total, 15));
    });
    (e.f1_per_class as number[]).forEach((v, i) => expect(Math.abs(report.perClass[i].f1 - v)).toBeLessThan(TOL));
    expect(report.perClass.map((r) => r.support)).toEqual(cm.map((row) => row.reduce((a, b) => a + b, 0)));
    expect(report.perClass.map((r) => r.label)).toEqual(labels);
  });

  it('curves: one per class (positive class only for binary); binary ROC equals scikit-learn roc_curve', () => {
    const curves = report.roc ?? [];
    expect(curves).toHaveLength(k === 2 ? 1 : k);
    if (k === 2) {
      const expected = e.roc_curve as { fpr: number[]; tpr: number[] };
      expect(curves[0].label).toBe(labels[1]);
      expect(curves[0].fpr).toHaveLength(expected.fpr.length);
      curves[0].fpr.forEach((v, i) => expect(Math.abs(v - expected.fpr[i])).toBeLessThan(TOL));
      curves[0].tpr.forEach((v, i) => expect(Math.abs(v - expected.tpr[i])).toBeLessThan(TOL));
      expect(Math.abs(curves[0].auc - (e.roc_auc as number))).toBeLessThan(TOL);
      expect(Math.abs((report.precisionRecall ?? [])[0].averagePrecision - (e.average_precision as number))).toBeLessThan(TOL);
    } else {
      // The mean of the per-class trapezoid areas is scikit-learn's one-vs-rest macro AUC.
      const mean = curves.reduce((a, s) => a + s.auc, 0) / k;
      expect(Math.abs(mean - (e.roc_auc_ovr_macro as number))).toBeLessThan(TOL);
      // Average precision from each precision-recall curve as scikit-learn defines it,
      // −Σ diff(recall) · precision[:-1]; their mean is the macro average precision.
      const fromCurves = (report.precisionRecall ?? []).map((pr) => pr.recall.slice(1).reduce((a, r, i) => a - (r - pr.recall[i]) * pr.precision[i], 0));
      (report.precisionRecall ?? []).forEach((pr, i) => expect(Math.abs(pr.averagePrecision - fromCurves[i])).toBeLessThan(1e-12));
      expect(Math.abs(report.metrics.average_precision - fromCurves.reduce((a, b) => a + b, 0) / k)).toBeLessThan(1e-12);
    }
    expect(report.calibration).toHaveLength(curves.length);
  });
});

describe.each(reference.cases.filter((c) => c.task === 'regression'))('regression report metrics vs scikit-learn: $name', (c) => {
  it('every scalar metric, and residuals = actual − predicted', () => {
    const report = computeReportMetrics({ task: 'regression', yTrue: c.y_true, yPred: c.y_pred });
    expect(Object.keys(report.metrics).sort()).toEqual(Object.keys(c.expected).sort());
    for (const [name, value] of Object.entries(c.expected)) expect(Math.abs(report.metrics[name] - (value as number)), name).toBeLessThan(TOL);
    expect(report.residuals.residual).toEqual(c.y_true.map((v, i) => v - c.y_pred[i]));
    expect(report.residuals.actual).toEqual(c.y_true);
  });
});

/** Direct: for each distinct score t (ascending), predict positive where score ≥ t and count. */
function naivePrecisionRecall(positive: number[], score: number[]): { precision: number[]; recall: number[]; thresholds: number[] } {
  const thresholds = [...new Set(score)].sort((a, b) => a - b);
  const totalPositive = positive.reduce((a, b) => a + b, 0);
  const precision: number[] = [];
  const recall: number[] = [];
  for (const t of thresholds) {
    let tp = 0;
    let predicted = 0;
    score.forEach((s, i) => {
      if (s >= t) {
        predicted++;
        tp += positive[i];
      }
    });
    precision.push(predicted > 0 ? tp / predicted : 0);
    recall.push(totalPositive > 0 ? tp / totalPositive : 1);
  }
  return { precision: [...precision, 1], recall: [...recall, 0], thresholds };
}

describe('precision-recall curve', () => {
  it('equals a direct threshold-by-threshold computation, ties included', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 20; trial++) {
      const n = 30 + trial * 7;
      // Scores rounded to one decimal, so many ties.
      const score = Array.from({ length: n }, () => Math.round(rng.next() * 10) / 10);
      const positive = score.map((s) => (rng.next() < 0.2 + 0.6 * s ? 1 : 0));
      const got = precisionRecallCurve(positive, score);
      const expected = naivePrecisionRecall(positive, score);
      expect(got.thresholds).toEqual(expected.thresholds);
      expect(got.precision).toHaveLength(expected.precision.length);
      got.precision.forEach((v, i) => expect(v).toBeCloseTo(expected.precision[i], 14));
      got.recall.forEach((v, i) => expect(v).toBeCloseTo(expected.recall[i], 14));
    }
  });

  it('a perfect ranking reaches precision 1 at every recall', () => {
    const curve = precisionRecallCurve([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]);
    expect(curve).toEqual({ precision: [0.5, 2 / 3, 1, 1, 1], recall: [1, 1, 1, 0.5, 0], thresholds: [0.1, 0.2, 0.8, 0.9] });
  });
});

describe('calibration curve (uniform bins, scikit-learn semantics)', () => {
  it('matches a hand computation, values on bin edges included', () => {
    // Edges i/10 as numpy.linspace makes them (3·0.1 = 0.30000000000000004, 7·0.1 = 0.7000000000000001).
    // searchsorted(side='left') on the inner edges: a value equal to an edge joins the bin below it.
    //   0, 0.05, 0.1 → bin 0      0.15 → bin 1      0.3 → bin 2 (0.3 < 0.30000000000000004)
    //   0.5 → bin 4 (equal to edge 0.5)      0.55 → bin 5      0.7 → bin 6      0.95, 1 → bin 9
    const prob = [0.05, 0.1, 0.15, 0.3, 0.5, 0.55, 0.7, 0.95, 1.0, 0.0];
    const positive = [0, 0, 1, 0, 1, 0, 1, 1, 1, 0];
    const curve = calibrationCurve(positive, prob, 10);
    expect(curve.counts).toEqual([3, 1, 1, 1, 1, 1, 2]);
    expect(curve.probTrue).toEqual([0, 1, 0, 1, 0, 1, 1]);
    const expectedPred = [(0.05 + 0.1 + 0) / 3, 0.15, 0.3, 0.5, 0.55, 0.7, (0.95 + 1) / 2];
    curve.probPred.forEach((v, i) => expect(v).toBeCloseTo(expectedPred[i], 15));
  });

  it('with 5 bins, and rejects probabilities outside [0, 1]', () => {
    const curve = calibrationCurve([1, 0, 1, 1], [0.2, 0.4, 0.41, 0.99], 5);
    // Edges 0.2, 0.4, 0.6, 0.8: 0.2 → bin 0, 0.4 → bin 1, 0.41 → bin 2, 0.99 → bin 4.
    expect(curve).toEqual({ probTrue: [1, 0, 1, 1], probPred: [0.2, 0.4, 0.41, 0.99], counts: [1, 1, 1, 1] });
    expect(() => calibrationCurve([1], [1.2])).toThrow(/outside \[0, 1\]/);
  });
});

describe('computeReportMetrics input checks and availability', () => {
  it('names the problem in one line', () => {
    expect(() => computeReportMetrics({ task: 'classification', yTrue: [], yPred: [], labels: ['a', 'b'] })).toThrow(/no rows/);
    expect(() => computeReportMetrics({ task: 'classification', yTrue: [0, 1], yPred: [0], labels: ['a', 'b'] })).toThrow(/1 rows but the targets have 2/);
    expect(() => computeReportMetrics({ task: 'classification', yTrue: [0, 2], yPred: [0, 1], labels: ['a', 'b'] })).toThrow(/row 1: target 2 is not a class index/);
    expect(() => computeReportMetrics({ task: 'classification', yTrue: [0, 1], yPred: [0, 1], labels: ['a', 'b'], proba: new Float64Array(3) })).toThrow(/expected 2 rows × 2 classes/);
    expect(() => computeReportMetrics({ task: 'regression', yTrue: [1, Number.NaN], yPred: [1, 2] })).toThrow(/non-finite/);
  });

  it('without probabilities: no curves and no probability metrics', () => {
    const report = computeReportMetrics({ task: 'classification', yTrue: [0, 1, 1, 0], yPred: [0, 1, 0, 0], labels: ['no', 'yes'] }) as ClassificationMetrics;
    expect(report.roc).toBeNull();
    expect(report.calibration).toBeNull();
    expect(Object.keys(report.metrics)).not.toContain('roc_auc');
    expect(report.metrics.accuracy).toBe(0.75);
  });

  it('the catalogue: unique names, each task covered, availability by class count', () => {
    const names = REPORT_METRICS.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    expect(availableMetrics('classification', 2, true).map((d) => d.name)).toContain('brier');
    expect(availableMetrics('classification', 3, true).map((d) => d.name)).not.toContain('brier');
    expect(availableMetrics('classification', 3, true).map((d) => d.name)).toContain('roc_auc_ovo');
    expect(availableMetrics('regression', 0, false).map((d) => d.name)).toEqual(['r2', 'rmse', 'mae', 'mape', 'median_absolute_error', 'explained_variance']);
  });
});
