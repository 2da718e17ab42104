/** The terminal summary: compact rows with intervals and gate marks, colour only when asked, per-class table for small k. */
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { evaluateGate, parseGate } from '../../../src/metrics/gate.js';
import { computeReportMetrics } from '../../../src/metrics/report-metrics.js';
import { compareModels, metricIntervals } from '../../../src/metrics/stats.js';
import { formatEvaluationSummary } from '../../../src/report/terminal.js';

const plain = new Chalk({ level: 0 });
const coloured = new Chalk({ level: 1 });
const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

function classification(k: number) {
  const n = k * 20;
  const yTrue = Float64Array.from({ length: n }, (_, i) => i % k);
  const yPred = yTrue.map((y, i) => (i % 5 === 0 ? (y + 1) % k : y));
  const labels = Array.from({ length: k }, (_, c) => `c${c}`);
  return { task: 'classification' as const, yTrue, yPred, labels };
}

describe('formatEvaluationSummary', () => {
  const input = classification(3);
  const evaluation = computeReportMetrics(input);
  const intervals = metricIntervals(input, ['accuracy'], { seed: 1, nResamples: 100 });
  const gate = evaluateGate(parseGate('accuracy=0.9,f1_macro=0.5'), evaluation.metrics);
  const comparison = compareModels('classification', input.yTrue, input.yPred, input.yPred);

  it('lists the main metrics with values, the headline interval and gate marks', () => {
    const text = formatEvaluationSummary({ evaluation, intervals, gate, comparison, reportPath: 'out/report.html' }, plain);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Classification on 60 rows');
    expect(lines[1]).toMatch(/^metric\s+value\s+95% CI\s+gate$/);
    const accuracy = lines.find((l) => l.startsWith('accuracy '));
    expect(accuracy).toBe(
      `accuracy           ${evaluation.metrics.accuracy.toFixed(4)}  [${intervals.accuracy.lower.toFixed(4)}, ${intervals.accuracy.upper.toFixed(4)}]  ✗ >= 0.9`,
    );
    expect(lines.find((l) => l.startsWith('f1_macro'))).toMatch(/✓ >= 0\.5$/);
    expect(text).toContain('✗ quality gate failed: accuracy 0.8000 < 0.9000');
    expect(text).toContain('no significant difference from baseline: accuracy 0.8000 vs 0.8000');
    expect(text).toMatch(/^c2\s+0\.\d{4}\s+0\.\d{4}\s+0\.\d{4}\s+20$/m);
    expect(lines.at(-1)).toBe('report: out/report.html');
    expect(text).not.toContain('\x1b[');
  });

  it('colours only with a colour-enabled chalk, and the text is otherwise identical', () => {
    const a = formatEvaluationSummary({ evaluation, intervals, gate, comparison }, coloured);
    const b = formatEvaluationSummary({ evaluation, intervals, gate, comparison }, plain);
    expect(a).toContain('\x1b[31m✗ quality gate failed');
    expect(strip(a)).toBe(b);
  });

  it('omits the per-class table past 12 classes, and the CI and gate columns when absent', () => {
    const many = computeReportMetrics(classification(13));
    const text = formatEvaluationSummary({ evaluation: many }, plain);
    expect(text).not.toMatch(/^class\s+precision/m);
    expect(text.split('\n')[1]).toMatch(/^metric\s+value$/);
  });

  it('regression shows r2 first and no per-class table', () => {
    const y = Float64Array.from({ length: 30 }, (_, i) => i);
    const evaluation = computeReportMetrics({ task: 'regression', yTrue: y, yPred: y.map((v) => v + 0.5) });
    const lines = formatEvaluationSummary({ evaluation }, plain).split('\n');
    expect(lines[0]).toBe('Regression on 30 rows');
    // Closed form: SS_res = 30 · 0.25, SS_tot of 0..29 = 30 · (30² − 1) / 12 = 2247.5.
    expect(lines[3]).toMatch(new RegExp(`^r2\\s+${(1 - 7.5 / 2247.5).toFixed(4)}$`));
    expect(lines.find((l) => l.startsWith('rmse'))).toMatch(/0\.5000$/);
    // A constant residual has zero variance: explained variance is exactly 1 while r2 is not.
    expect(lines.find((l) => l.startsWith('explained_variance'))).toMatch(/^explained_variance\s+1\.0000$/);
  });

  it('names the baseline the comparison was made against', () => {
    const text = formatEvaluationSummary({ evaluation, comparison: { ...comparison, baseline: 'models:/inst@champion' } }, plain);
    expect(text).toContain('against baseline models:/inst@champion: no significant difference from baseline: accuracy 0.8000 vs 0.8000');
  });
});
