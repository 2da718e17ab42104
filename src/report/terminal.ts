/**
 * The compact terminal summary of an evaluation: the main metrics with their intervals and gate status, a
 * per-class table for small class counts, then one line each for the gate and the baseline comparison.
 * Colour comes from the caller's chalk instance (Ui.color), so NO_COLOR and pipes are honoured.
 */
import type { ChalkInstance } from 'chalk';
import { formatTable } from '../cli/ui/index.js';
import type { GateResult } from '../metrics/gate.js';
import { headlineMetric, type EvaluationMetrics } from '../metrics/report-metrics.js';
import { describeComparison, type ComparisonResult, type ConfidenceInterval } from '../metrics/stats.js';
import { formatMetricValue } from './html.js';

/** The metrics shown by default, in order, when the evaluation has them. */
export const SUMMARY_METRICS = {
  classification: ['accuracy', 'balanced_accuracy', 'f1_macro', 'precision_macro', 'recall_macro', 'matthews_corrcoef', 'roc_auc', 'log_loss'],
  regression: ['r2', 'explained_variance', 'rmse', 'mae', 'mape', 'median_absolute_error'],
} as const;

/** Per-class rows are shown up to this many classes (the HTML report always has them). */
export const MAX_SUMMARY_CLASSES = 12;

export interface SummaryInput {
  evaluation: EvaluationMetrics;
  intervals?: Readonly<Record<string, ConfidenceInterval>>;
  gate?: GateResult;
  /** With `baseline`, the line names what the candidate was compared against. */
  comparison?: ComparisonResult & { baseline?: string };
  /** Written as the last line, e.g. the report's path. */
  reportPath?: string;
}

export function formatEvaluationSummary(input: SummaryInput, color: ChalkInstance): string {
  const e = input.evaluation;
  const headline = headlineMetric(e.task);
  const gated = new Map((input.gate?.thresholds ?? []).map((t) => [t.metric, t]));
  const names = [...SUMMARY_METRICS[e.task], ...gated.keys()].filter((n, i, all) => n in e.metrics && all.indexOf(n) === i);
  const hasIntervals = names.some((n) => input.intervals?.[n]);
  const header = ['metric', 'value', ...(hasIntervals ? ['95% CI'] : []), ...(gated.size > 0 ? ['gate'] : [])];
  const rows = names.map((name) => {
    const value = formatMetricValue(e.metrics[name]);
    const ci = input.intervals?.[name];
    const cells = [name === headline ? color.bold(name) : name, name === headline ? color.bold(value) : value];
    if (hasIntervals) cells.push(ci ? color.dim(`[${formatMetricValue(ci.lower)}, ${formatMetricValue(ci.upper)}]`) : '');
    if (gated.size > 0) {
      const t = gated.get(name);
      const failed = input.gate?.failures.some((f) => f.metric === name) ?? false;
      cells.push(t ? (failed ? color.red(`✗ ${t.op} ${t.threshold}`) : color.green(`✓ ${t.op} ${t.threshold}`)) : '');
    }
    return cells;
  });
  const lines = [`${color.bold(e.task === 'classification' ? 'Classification' : 'Regression')} on ${e.nSamples} rows`, formatTable(header, rows)];

  if (e.task === 'classification' && e.perClass.length <= MAX_SUMMARY_CLASSES) {
    const f1s = e.perClass.map((r) => r.f1);
    const worst = Math.min(...f1s);
    const perClassRows = e.perClass.map((r) => {
      const f1 = formatMetricValue(r.f1);
      // The weakest class is the one to look at first.
      return [r.label, formatMetricValue(r.precision), formatMetricValue(r.recall), r.f1 === worst && e.perClass.length > 1 ? color.yellow(f1) : f1, String(r.support)];
    });
    lines.push('', formatTable(['class', 'precision', 'recall', 'f1', 'support'], perClassRows));
  }
  if (input.gate) lines.push('', input.gate.passed ? color.green(`✓ ${input.gate.summary}`) : color.red(`✗ ${input.gate.summary}`));
  if (input.comparison) {
    const c = input.comparison;
    const text = c.baseline ? `against baseline ${c.baseline}: ${describeComparison(c)}` : describeComparison(c);
    lines.push(input.gate ? text : `\n${text}`);
    const last = lines.length - 1;
    lines[last] = c.decision === 'better' ? color.green(lines[last]) : c.decision === 'worse' ? color.red(lines[last]) : lines[last];
  }
  if (input.reportPath) lines.push('', color.dim(`report: ${input.reportPath}`));
  return lines.join('\n');
}

