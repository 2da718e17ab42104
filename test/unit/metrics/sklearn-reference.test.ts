/** Every metric against scikit-learn 1.2.1's values on fixed inputs (../shared/reference/metrics), to 1e-9. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  averagePrecision,
  averageScores,
  balancedAccuracy,
  brierScore,
  cohenKappa,
  confusionMatrix,
  logLoss,
  matthewsCorrcoef,
  perClassScores,
  rocAuc,
  rocCurve,
} from '../../../src/metrics/classification.js';
import { explainedVariance, mae, mape, medianAbsoluteError, r2Score, rmse } from '../../../src/metrics/regression.js';

interface Case {
  name: string;
  task: 'classification' | 'regression';
  labels?: number[];
  y_true: number[];
  y_pred: number[];
  proba?: number[][];
  expected: Record<string, unknown>;
}

const reference = JSON.parse(readFileSync(new URL('../../../../shared/reference/metrics/sklearn-metrics.json', import.meta.url), 'utf8')) as {
  cases: Case[];
};
const TOL = 1e-9;

describe.each(reference.cases.filter((c) => c.task === 'classification'))('classification metrics: $name', (c) => {
  const k = c.labels?.length ?? 0;
  const cm = confusionMatrix(c.y_true, c.y_pred, k);
  const proba = Float64Array.from((c.proba ?? []).flat());
  const e = c.expected as Record<string, number | number[] | number[][] | Record<string, number[]>>;

  it('confusion matrix, accuracy, balanced accuracy, MCC, kappa', () => {
    expect(cm).toEqual(e.confusion_matrix);
    expect(accuracy(c.y_true, c.y_pred)).toBeCloseTo(e.accuracy as number, 9);
    expect(Math.abs(balancedAccuracy(cm) - (e.balanced_accuracy as number))).toBeLessThan(TOL);
    expect(Math.abs(matthewsCorrcoef(cm) - (e.matthews_corrcoef as number))).toBeLessThan(TOL);
    expect(Math.abs(cohenKappa(cm) - (e.cohen_kappa as number))).toBeLessThan(TOL);
  });

  it('precision / recall / F1: per class, macro, weighted, micro', () => {
    const per = perClassScores(cm);
    (e.f1_per_class as number[]).forEach((v, i) => expect(Math.abs(per.f1[i] - v)).toBeLessThan(TOL));
    for (const average of ['macro', 'weighted', 'micro'] as const) {
      const s = averageScores(cm, average);
      expect(Math.abs(s.precision - (e[`precision_${average}`] as number))).toBeLessThan(TOL);
      expect(Math.abs(s.recall - (e[`recall_${average}`] as number))).toBeLessThan(TOL);
      expect(Math.abs(s.f1 - (e[`f1_${average}`] as number))).toBeLessThan(TOL);
    }
  });

  it('log loss and ROC AUC', () => {
    expect(Math.abs(logLoss(c.y_true, proba, k) - (e.log_loss as number))).toBeLessThan(TOL);
    if (k === 2) {
      expect(Math.abs(rocAuc(c.y_true, proba, k) - (e.roc_auc as number))).toBeLessThan(TOL);
    } else {
      expect(Math.abs(rocAuc(c.y_true, proba, k, 'ovr') - (e.roc_auc_ovr_macro as number))).toBeLessThan(TOL);
      expect(Math.abs(rocAuc(c.y_true, proba, k, 'ovo') - (e.roc_auc_ovo_macro as number))).toBeLessThan(TOL);
    }
  });

});

describe.each(reference.cases.filter((c) => c.task === 'classification' && c.labels?.length === 2))('binary metrics: $name', (c) => {
  it('average precision, Brier, ROC curve', () => {
    const e = c.expected as Record<string, number | Record<string, number[]>>;
    const positive = c.y_true.map((y) => y === 1);
    const p1 = (c.proba ?? []).map((r) => r[1]);
    expect(Math.abs(averagePrecision(positive, p1) - (e.average_precision as number))).toBeLessThan(TOL);
    expect(Math.abs(brierScore(c.y_true, p1) - (e.brier as number))).toBeLessThan(TOL);
    const curve = rocCurve(positive, p1);
    const expected = e.roc_curve as Record<string, number[]>;
    expect(curve.fpr.length).toBe(expected.fpr.length);
    curve.fpr.forEach((v, i) => expect(Math.abs(v - expected.fpr[i])).toBeLessThan(TOL));
    curve.tpr.forEach((v, i) => expect(Math.abs(v - expected.tpr[i])).toBeLessThan(TOL));
  });
});

describe.each(reference.cases.filter((c) => c.task === 'regression'))('regression metrics: $name', (c) => {
  it('r2, rmse, mae, mape, explained variance, median absolute error', () => {
    const e = c.expected as Record<string, number>;
    expect(Math.abs(r2Score(c.y_true, c.y_pred) - e.r2)).toBeLessThan(TOL);
    expect(Math.abs(rmse(c.y_true, c.y_pred) - e.rmse)).toBeLessThan(TOL);
    expect(Math.abs(mae(c.y_true, c.y_pred) - e.mae)).toBeLessThan(TOL);
    expect(Math.abs(mape(c.y_true, c.y_pred) - e.mape)).toBeLessThan(TOL);
    expect(Math.abs(explainedVariance(c.y_true, c.y_pred) - e.explained_variance)).toBeLessThan(TOL);
    expect(Math.abs(medianAbsoluteError(c.y_true, c.y_pred) - e.median_absolute_error)).toBeLessThan(TOL);
  });
});
