/**
 * Uncertainty and model comparison: percentile bootstrap confidence intervals (seeded; stratified on request),
 * McNemar's exact test for two classifiers on the same rows, and a paired bootstrap on a
 * metric difference for regressors. `compareModels` turns either into a decision at a chosen alpha.
 */
import { SpotmlError } from '../errors.js';
import { Rng, hashSeed } from '../learners/rng.js';
import type { Task } from '../learners/types.js';
import { availableMetrics, reportMetric, type EvalInput } from './report-metrics.js';

export const DEFAULT_RESAMPLES = 1000;
export const DEFAULT_ALPHA = 0.05;

export interface ConfidenceInterval {
  /** The statistic on the full sample. */
  estimate: number;
  lower: number;
  upper: number;
  /** e.g. 0.95 */
  confidence: number;
  nResamples: number;
  /** Resamples whose statistic was finite (a resample can leave a metric undefined, e.g. AUC with one class). */
  nValid: number;
}

export interface BootstrapOptions {
  /** Default 1000. */
  nResamples?: number;
  /** Default 0.95. */
  confidence?: number;
  seed?: number;
  /** Per-row stratum (class index): each resample keeps every stratum's size, so no class vanishes. */
  strata?: ArrayLike<number>;
}

/**
 * Percentile bootstrap interval for `statistic`, which receives the row indices of one resample (with
 * repetition) and returns a number. Quantiles use linear interpolation (numpy.percentile's default).
 */
export function bootstrapCi(nRows: number, statistic: (indices: Uint32Array) => number, options: BootstrapOptions = {}): ConfidenceInterval {
  const nResamples = options.nResamples ?? DEFAULT_RESAMPLES;
  const confidence = options.confidence ?? 0.95;
  checkResampleOptions(nResamples, confidence);
  const all = new Uint32Array(nRows);
  for (let i = 0; i < nRows; i++) all[i] = i;
  const estimate = statistic(all);
  const values = bootstrapDistribution(nRows, statistic, nResamples, options.seed ?? 0, options.strata, 'bootstrap-ci');
  const valid = values.filter(Number.isFinite).sort();
  const tail = (1 - confidence) / 2;
  // Too few defined resamples makes the percentiles meaningless: report no interval rather than a wrong one.
  const enough = valid.length >= Math.max(2, nResamples / 2);
  return {
    estimate,
    lower: enough ? quantileSorted(valid, tail) : Number.NaN,
    upper: enough ? quantileSorted(valid, 1 - tail) : Number.NaN,
    confidence,
    nResamples,
    nValid: valid.length,
  };
}

/** Statistic over `nResamples` seeded resamples (stratified when strata are given). */
export function bootstrapDistribution(
  nRows: number,
  statistic: (indices: Uint32Array) => number,
  nResamples: number,
  seed: number,
  strata?: ArrayLike<number>,
  stream = 'bootstrap',
): Float64Array {
  if (nRows === 0) throw new SpotmlError('INVALID_INPUT', 'cannot bootstrap an empty data set; pass at least one row');
  if (strata && strata.length !== nRows) throw new SpotmlError('INVALID_INPUT', `strata have ${strata.length} rows, expected ${nRows}`);
  const groups = strata ? groupRows(strata) : [Uint32Array.from({ length: nRows }, (_, i) => i)];
  const rng = new Rng(hashSeed(seed, stream));
  const indices = new Uint32Array(nRows);
  const out = new Float64Array(nResamples);
  for (let b = 0; b < nResamples; b++) {
    let at = 0;
    for (const group of groups) {
      for (let j = 0; j < group.length; j++) indices[at++] = group[rng.int(group.length)];
    }
    out[b] = statistic(indices);
  }
  return out;
}

function groupRows(strata: ArrayLike<number>): Uint32Array[] {
  const byStratum = new Map<number, number[]>();
  for (let i = 0; i < strata.length; i++) {
    const list = byStratum.get(strata[i]);
    if (list) list.push(i);
    else byStratum.set(strata[i], [i]);
  }
  return [...byStratum.keys()].sort((a, b) => a - b).map((key) => Uint32Array.from(byStratum.get(key) ?? []));
}

/** Linear-interpolated quantile of ascending values (numpy.percentile, method='linear'). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const m = sorted.length;
  if (m === 0) return Number.NaN;
  const h = (m - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(m - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

function checkResampleOptions(nResamples: number, confidence: number): void {
  if (!Number.isInteger(nResamples) || nResamples < 1) throw new SpotmlError('USAGE', `bootstrap resamples must be a positive integer, got ${nResamples}`);
  if (!(confidence > 0 && confidence < 1)) throw new SpotmlError('USAGE', `confidence must be between 0 and 1 (e.g. 0.95), got ${confidence}`);
}

/**
 * Bootstrap intervals for named report metrics. Rows are resampled freely, classes included: the test set's
 * class mix is itself a sample, and holding it fixed (stratifying) would give, say, a one-class predictor an
 * accuracy interval of zero width. A resample that leaves a metric undefined (e.g. ROC-AUC without one of the
 * classes) is left out of the percentiles, and too many such resamples give no interval (see bootstrapCi).
 */
export function metricIntervals(input: EvalInput, names: readonly string[], options: Omit<BootstrapOptions, 'strata'> = {}): Record<string, ConfidenceInterval> {
  const nClasses = input.task === 'classification' ? input.labels.length : 0;
  const proba = input.task === 'classification' ? input.proba : undefined;
  const available = new Set(availableMetrics(input.task, nClasses, proba !== undefined).map((d) => d.name));
  const n = input.yTrue.length;
  const yTrue = new Float64Array(n);
  const yPred = new Float64Array(n);
  const sampledProba = proba ? new Float64Array(proba.length) : undefined;
  const out: Record<string, ConfidenceInterval> = {};
  for (const name of names) {
    const definition = reportMetric(name);
    if (!definition || !available.has(name)) throw new SpotmlError('USAGE', `metric ${name} is not available for this ${input.task} evaluation`);
    const statistic = (indices: Uint32Array): number => {
      for (let i = 0; i < indices.length; i++) {
        const r = indices[i];
        yTrue[i] = input.yTrue[r];
        yPred[i] = input.yPred[r];
        if (proba && sampledProba) sampledProba.set(proba.subarray(r * nClasses, (r + 1) * nClasses), i * nClasses);
      }
      return definition.compute(yTrue, yPred, sampledProba, nClasses);
    };
    // Every metric gets the same resamples (same seed and stream), so intervals are mutually consistent.
    out[name] = bootstrapCi(n, statistic, options);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// McNemar

/**
 * Two-sided exact McNemar p-value: under H0 the discordant pairs split Binomial(b + c, 1/2), and
 * p = min(1, 2 · P(X ≤ min(b, c))). No discordant pairs gives p = 1. Summed in log space so large counts
 * neither underflow nor lose the tail.
 */
export function mcnemarExactP(b: number, c: number): number {
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0) {
    throw new SpotmlError('INVALID_INPUT', `McNemar counts must be non-negative integers, got b=${b}, c=${c}`);
  }
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  // log C(n, i) built incrementally; the terms grow with i for i < n/2, so the last one is the largest.
  const logTerms = new Float64Array(k + 1);
  let logChoose = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logChoose += Math.log(n - i + 1) - Math.log(i);
    logTerms[i] = logChoose - n * Math.LN2;
  }
  const largest = logTerms[k];
  let sum = 0;
  for (let i = 0; i <= k; i++) sum += Math.exp(logTerms[i] - largest);
  return Math.min(1, 2 * Math.exp(largest + Math.log(sum)));
}

export interface McNemarCounts {
  /** Rows the candidate gets right and the baseline wrong. */
  candidateOnly: number;
  /** Rows the baseline gets right and the candidate wrong. */
  baselineOnly: number;
  bothRight: number;
  bothWrong: number;
}

export function mcnemarCounts(yTrue: ArrayLike<number>, candidate: ArrayLike<number>, baseline: ArrayLike<number>): McNemarCounts {
  const counts: McNemarCounts = { candidateOnly: 0, baselineOnly: 0, bothRight: 0, bothWrong: 0 };
  for (let i = 0; i < yTrue.length; i++) {
    const a = candidate[i] === yTrue[i];
    const b = baseline[i] === yTrue[i];
    if (a && b) counts.bothRight++;
    else if (a) counts.candidateOnly++;
    else if (b) counts.baselineOnly++;
    else counts.bothWrong++;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------
// Paired bootstrap

export interface PairedBootstrapResult {
  /** metric(candidate) − metric(baseline) on all rows. */
  delta: number;
  lower: number;
  upper: number;
  /** Two-sided: 2 · min(share of resampled deltas ≤ 0, share ≥ 0), capped at 1. */
  pValue: number;
  nResamples: number;
}

/**
 * Paired bootstrap of a metric difference: both models are scored on the same resampled rows, so row
 * difficulty cancels. The p-value inverts the percentile interval (p < alpha ⇔ the (1 − alpha) interval
 * excludes 0, up to resampling granularity).
 */
export function pairedBootstrap(
  yTrue: ArrayLike<number>,
  candidate: ArrayLike<number>,
  baseline: ArrayLike<number>,
  metric: (yTrue: ArrayLike<number>, yPred: ArrayLike<number>) => number,
  options: { nResamples?: number; seed?: number; confidence?: number } = {},
): PairedBootstrapResult {
  const n = yTrue.length;
  if (candidate.length !== n || baseline.length !== n) {
    throw new SpotmlError('INVALID_INPUT', `candidate (${candidate.length}) and baseline (${baseline.length}) predictions must both have ${n} rows`);
  }
  const nResamples = options.nResamples ?? DEFAULT_RESAMPLES;
  const confidence = options.confidence ?? 0.95;
  checkResampleOptions(nResamples, confidence);
  const t = new Float64Array(n);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  const statistic = (indices: Uint32Array): number => {
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i];
      t[i] = yTrue[r];
      a[i] = candidate[r];
      b[i] = baseline[r];
    }
    return metric(t, a) - metric(t, b);
  };
  const delta = metric(yTrue, candidate) - metric(yTrue, baseline);
  const deltas = bootstrapDistribution(n, statistic, nResamples, options.seed ?? 0, undefined, 'paired-bootstrap');
  let atMostZero = 0;
  let atLeastZero = 0;
  for (const d of deltas) {
    if (d <= 0) atMostZero++;
    if (d >= 0) atLeastZero++;
  }
  const sorted = Float64Array.from(deltas).sort();
  const tail = (1 - confidence) / 2;
  return {
    delta,
    lower: quantileSorted(sorted, tail),
    upper: quantileSorted(sorted, 1 - tail),
    pValue: Math.min(1, (2 * Math.min(atMostZero, atLeastZero)) / nResamples),
    nResamples,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Comparison

export type Decision = 'better' | 'worse' | 'no significant difference';

export interface ComparisonResult {
  test: 'mcnemar-exact' | 'paired-bootstrap';
  /** The metric the delta is in (accuracy for McNemar). */
  metric: string;
  /** McNemar: min(b, c), the binomial tail's count; paired bootstrap: the observed delta. */
  statistic: number;
  pValue: number;
  /** metric(candidate) − metric(baseline) on the same rows. */
  delta: number;
  candidateValue: number;
  baselineValue: number;
  alpha: number;
  decision: Decision;
  /** McNemar only. */
  counts?: McNemarCounts;
  /** Paired bootstrap only: the (1 − alpha) interval of the delta. */
  interval?: { lower: number; upper: number };
}

export interface CompareOptions {
  /** Regression only: the metric to bootstrap (default r2). Classification always compares accuracy (McNemar). */
  metric?: string;
  alpha?: number;
  seed?: number;
  nResamples?: number;
}

/** Compares a candidate to a baseline on the same rows and decides at `alpha` (default 0.05). */
export function compareModels(
  task: Task,
  yTrue: ArrayLike<number>,
  candidate: ArrayLike<number>,
  baseline: ArrayLike<number>,
  options: CompareOptions = {},
): ComparisonResult {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  if (!(alpha > 0 && alpha < 1)) throw new SpotmlError('USAGE', `alpha must be between 0 and 1 (e.g. 0.05), got ${alpha}`);
  const n = yTrue.length;
  if (n === 0) throw new SpotmlError('INVALID_INPUT', 'no rows to compare the models on');
  if (candidate.length !== n || baseline.length !== n) {
    throw new SpotmlError('INVALID_INPUT', `candidate (${candidate.length}) and baseline (${baseline.length}) predictions must both have ${n} rows; score both models on the same data`);
  }
  if (task === 'classification') {
    if (options.metric !== undefined && options.metric !== 'accuracy') {
      throw new SpotmlError('USAGE', `classification comparisons use McNemar's test on accuracy; drop the metric option (got ${options.metric})`);
    }
    const counts = mcnemarCounts(yTrue, candidate, baseline);
    const pValue = mcnemarExactP(counts.candidateOnly, counts.baselineOnly);
    const candidateValue = (counts.bothRight + counts.candidateOnly) / n;
    const baselineValue = (counts.bothRight + counts.baselineOnly) / n;
    const delta = candidateValue - baselineValue;
    return {
      test: 'mcnemar-exact',
      metric: 'accuracy',
      statistic: Math.min(counts.candidateOnly, counts.baselineOnly),
      pValue,
      delta,
      candidateValue,
      baselineValue,
      alpha,
      decision: decide(pValue, alpha, delta, true),
      counts,
    };
  }
  const name = options.metric ?? 'r2';
  const definition = reportMetric(name);
  if (!definition || definition.task !== 'regression') {
    throw new SpotmlError('USAGE', `metric ${name} cannot compare regressors; use one of r2, rmse, mae, mape, median_absolute_error, explained_variance`);
  }
  const metric = (t: ArrayLike<number>, p: ArrayLike<number>): number => definition.compute(t, p, undefined, 0);
  const result = pairedBootstrap(yTrue, candidate, baseline, metric, { nResamples: options.nResamples, seed: options.seed, confidence: 1 - alpha });
  return {
    test: 'paired-bootstrap',
    metric: name,
    statistic: result.delta,
    pValue: result.pValue,
    delta: result.delta,
    candidateValue: metric(yTrue, candidate),
    baselineValue: metric(yTrue, baseline),
    alpha,
    decision: decide(result.pValue, alpha, result.delta, definition.greaterIsBetter),
    interval: { lower: result.lower, upper: result.upper },
  };
}

function decide(pValue: number, alpha: number, delta: number, greaterIsBetter: boolean): Decision {
  if (!(pValue < alpha) || delta === 0) return 'no significant difference';
  return delta > 0 === greaterIsBetter ? 'better' : 'worse';
}

/** One line for the terminal and logs, e.g. "worse than baseline: accuracy 0.8100 vs 0.9300 (Δ −0.1200, McNemar exact p = 0.0001)". */
export function describeComparison(result: ComparisonResult): string {
  const test = result.test === 'mcnemar-exact' ? 'McNemar exact' : 'paired bootstrap';
  const head = result.decision === 'no significant difference' ? 'no significant difference from baseline' : `${result.decision} than baseline`;
  const sign = result.delta > 0 ? '+' : result.delta < 0 ? '−' : '±';
  return `${head}: ${result.metric} ${result.candidateValue.toFixed(4)} vs ${result.baselineValue.toFixed(4)} (Δ ${sign}${Math.abs(result.delta).toFixed(4)}, ${test} p = ${formatP(result.pValue)}, alpha ${result.alpha})`;
}

export function formatP(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  if (p < 1e-4) return p.toExponential(1);
  return p.toFixed(4);
}
