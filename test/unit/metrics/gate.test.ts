/** The --fail-under gate: strict parsing with clear errors, direction-aware checks, one-line reasons, exit code 1. */
import { describe, expect, it } from 'vitest';
import { SpotmlError } from '../../../src/errors.js';
import { evaluateGate, gateError, parseGate } from '../../../src/metrics/gate.js';

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpotmlError);
    expect((err as SpotmlError).code).toBe('USAGE');
    return (err as SpotmlError).message;
  }
  throw new Error('expected a USAGE error');
}

describe('parseGate', () => {
  it('parses metric=threshold pairs with directions', () => {
    expect(parseGate('accuracy=0.9,f1_macro=0.85')).toEqual([
      { metric: 'accuracy', threshold: 0.9, op: '>=' },
      { metric: 'f1_macro', threshold: 0.85, op: '>=' },
    ]);
    expect(parseGate(' log_loss = 0.35 , rmse=1e-1,mae=.5 ')).toEqual([
      { metric: 'log_loss', threshold: 0.35, op: '<=' },
      { metric: 'rmse', threshold: 0.1, op: '<=' },
      { metric: 'mae', threshold: 0.5, op: '<=' },
    ]);
  });

  it('names an unknown metric and lists the known ones', () => {
    const message = usageMessage(() => parseGate('acuracy=0.9'));
    expect(message).toMatch(/unknown metric "acuracy"/);
    expect(message).toMatch(/accuracy, balanced_accuracy, f1_macro/);
  });

  it.each(['accuracy=abc', 'accuracy=', 'accuracy=0x1', 'accuracy=1..2', 'accuracy=0.9%', 'accuracy=Infinity', 'accuracy=NaN'])('rejects the bad number in %s', (spec) => {
    expect(usageMessage(() => parseGate(spec))).toMatch(/is not a number; write e\.g\. accuracy=0\.9/);
  });

  it('rejects a pair without "=", a doubled "=", duplicates, an empty spec and a metric of the other task', () => {
    expect(usageMessage(() => parseGate('accuracy'))).toMatch(/"accuracy" is not metric=threshold/);
    expect(usageMessage(() => parseGate('accuracy=0.9=1'))).toMatch(/is not metric=threshold/);
    expect(usageMessage(() => parseGate('=0.9'))).toMatch(/is not metric=threshold/);
    expect(usageMessage(() => parseGate('accuracy=0.9,accuracy=0.8'))).toMatch(/given twice/);
    expect(usageMessage(() => parseGate(' , '))).toMatch(/empty/);
    expect(usageMessage(() => parseGate('rmse=1', 'classification'))).toMatch(/rmse is a regression metric but this model does classification/);
  });
});

describe('evaluateGate', () => {
  const metrics = { accuracy: 0.92, f1_macro: 0.8, log_loss: 0.4, roc_auc: Number.NaN };

  it('passes when every threshold is met (equality included)', () => {
    const result = evaluateGate(parseGate('accuracy=0.9,f1_macro=0.8,log_loss=0.4'), metrics);
    expect(result.passed).toBe(true);
    expect(result.failures).toEqual([]);
    expect(result.summary).toBe('quality gate passed (3 thresholds)');
    expect(gateError(result)).toBeNull();
  });

  it('fails with a one-line reason per missed threshold', () => {
    const result = evaluateGate(parseGate('accuracy=0.95,f1_macro=0.85,log_loss=0.3'), metrics);
    expect(result.passed).toBe(false);
    expect(result.failures.map((f) => f.metric)).toEqual(['accuracy', 'f1_macro', 'log_loss']);
    expect(result.summary).toBe('quality gate failed: accuracy 0.9200 < 0.9500; f1_macro 0.8000 < 0.8500; log_loss 0.4000 > 0.3000');
    expect(result.summary).not.toContain('\n');
    const err = gateError(result);
    expect(err?.code).toBe('QUALITY_GATE');
    expect(err?.exitCode).toBe(1);
    expect(err?.message).toBe(result.summary);
  });

  it('lower-is-better metrics pass at or below the threshold', () => {
    expect(evaluateGate(parseGate('log_loss=0.5'), metrics).passed).toBe(true);
    expect(evaluateGate(parseGate('rmse=1.2'), { rmse: 1.3 }).passed).toBe(false);
    expect(evaluateGate(parseGate('rmse=1.2'), { rmse: 1.2 }).passed).toBe(true);
  });

  it('shows enough digits that a near miss never looks like a pass', () => {
    const result = evaluateGate(parseGate('accuracy=0.9'), { accuracy: 0.89996 });
    expect(result.summary).toBe('quality gate failed: accuracy 0.89996 < 0.90000');
  });

  it('an undefined value never passes; a metric that was not computed is a usage error', () => {
    const result = evaluateGate(parseGate('roc_auc=0.5'), metrics);
    expect(result.passed).toBe(false);
    expect(result.summary).toBe('quality gate failed: roc_auc is undefined on this data');
    expect(usageMessage(() => evaluateGate(parseGate('average_precision=0.5'), metrics))).toMatch(/average_precision was not computed/);
  });
});
