/**
 * The quality gate behind `--fail-under accuracy=0.9,f1_macro=0.85`: parse thresholds (strictly, naming what
 * is wrong), then check computed metrics. Higher-is-better metrics pass at `value >= threshold`, lower-is-better
 * ones (log_loss, brier, rmse, mae, …) at `value <= threshold`; an undefined (NaN) value never passes.
 */
import { SpotmlError } from '../errors.js';
import type { Task } from '../learners/types.js';
import { REPORT_METRICS, reportMetric } from './report-metrics.js';

export interface GateThreshold {
  metric: string;
  threshold: number;
  /** '>=' for higher-is-better metrics, '<=' for lower-is-better ones. */
  op: '>=' | '<=';
}

export interface GateFailure extends GateThreshold {
  /** The computed value (NaN when undefined on this data). */
  actual: number;
  /** e.g. "accuracy 0.8500 < 0.9000" */
  reason: string;
}

export interface GateResult {
  passed: boolean;
  thresholds: GateThreshold[];
  failures: GateFailure[];
  /** One line: "quality gate passed (2 thresholds)" or "quality gate failed: accuracy 0.8500 < 0.9000; …". */
  summary: string;
}

const KNOWN = (): string => REPORT_METRICS.map((d) => d.name).join(', ');

/** Parses "accuracy=0.9,f1_macro=0.85" (spaces allowed). Throws a USAGE SpotmlError naming the bad part. */
export function parseGate(spec: string, task?: Task): GateThreshold[] {
  const parts = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0) throw new SpotmlError('USAGE', `--fail-under is empty; write metric=threshold pairs, e.g. accuracy=0.9,f1_macro=0.85`);
  const seen = new Set<string>();
  const out: GateThreshold[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq !== part.lastIndexOf('=')) {
      throw new SpotmlError('USAGE', `--fail-under: "${part}" is not metric=threshold; write e.g. accuracy=0.9`, { part });
    }
    const metric = part.slice(0, eq).trim();
    const text = part.slice(eq + 1).trim();
    const definition = reportMetric(metric);
    if (!definition) {
      throw new SpotmlError('USAGE', `--fail-under: unknown metric "${metric}"; use one of ${KNOWN()}`, { metric });
    }
    if (task && definition.task !== task) {
      const names = REPORT_METRICS.filter((d) => d.task === task).map((d) => d.name).join(', ');
      throw new SpotmlError('USAGE', `--fail-under: ${metric} is a ${definition.task} metric but this model does ${task}; use one of ${names}`, { metric });
    }
    // Number('') is 0 and Number('0x1') is 1: accept plain decimal notation only.
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) || !Number.isFinite(Number(text))) {
      throw new SpotmlError('USAGE', `--fail-under: threshold "${text}" for ${metric} is not a number; write e.g. ${metric}=0.9`, { metric, value: text });
    }
    if (seen.has(metric)) throw new SpotmlError('USAGE', `--fail-under: ${metric} is given twice; keep one threshold per metric`, { metric });
    seen.add(metric);
    out.push({ metric, threshold: Number(text), op: definition.greaterIsBetter ? '>=' : '<=' });
  }
  return out;
}

/**
 * Checks thresholds against computed metrics. A metric the evaluation did not compute (e.g. roc_auc for a
 * model without probabilities) is a USAGE error rather than a silent pass.
 */
export function evaluateGate(thresholds: readonly GateThreshold[], metrics: Readonly<Record<string, number>>): GateResult {
  const failures: GateFailure[] = [];
  for (const t of thresholds) {
    if (!(t.metric in metrics)) {
      throw new SpotmlError('USAGE', `--fail-under: ${t.metric} was not computed for this evaluation (it may need probabilities or another class count); gate on one of ${Object.keys(metrics).join(', ')}`, {
        metric: t.metric,
      });
    }
    const actual = metrics[t.metric];
    const ok = t.op === '>=' ? actual >= t.threshold : actual <= t.threshold;
    if (!ok) {
      const [shown, limit] = formatPair(actual, t.threshold);
      const broken = t.op === '>=' ? '<' : '>';
      failures.push({ ...t, actual, reason: Number.isFinite(actual) ? `${t.metric} ${shown} ${broken} ${limit}` : `${t.metric} is undefined on this data` });
    }
  }
  const n = thresholds.length;
  const summary =
    failures.length === 0
      ? `quality gate passed (${n} threshold${n === 1 ? '' : 's'})`
      : `quality gate failed: ${failures.map((f) => f.reason).join('; ')}`;
  return { passed: failures.length === 0, thresholds: [...thresholds], failures, summary };
}

/** The error to throw (exit code 1) when the gate failed; null when it passed. */
export function gateError(result: GateResult): SpotmlError | null {
  if (result.passed) return null;
  return new SpotmlError('QUALITY_GATE', result.summary, { failures: result.failures.map(({ metric, threshold, actual, op }) => ({ metric, threshold, actual, op })) });
}

/** Four decimals, or more when four would print the value and the threshold alike (0.89996 vs 0.9). */
function formatPair(actual: number, threshold: number): [string, string] {
  let digits = 4;
  while (digits < 12 && actual.toFixed(digits) === threshold.toFixed(digits)) digits++;
  return [actual.toFixed(digits), threshold.toFixed(digits)];
}
