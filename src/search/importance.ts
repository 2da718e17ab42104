/**
 * Parameter importance without a surrogate model: for each parameter, the share of the variance of the
 * objective explained by that parameter alone (the correlation ratio η², a first-order main effect as in
 * fANOVA, but estimated from bins instead of a random forest):
 *
 *   η²(p) = Σ_b n_b (ȳ_b − ȳ)² / Σ_i (y_i − ȳ)²
 *
 * where the bins b are the choices of a categorical, or up to `bins` equal-count bins of a numeric
 * parameter (in log space when log-scaled; equal-count so a clustered search still has full bins).
 * Trials where a conditional parameter was inactive form their own bin. Only complete trials are used.
 * With few trials η² is biased upward (each bin fits noise), so the raw values are corrected by the
 * expected η² of pure noise, (B − 1)/(n − 1), clipped at 0, and then normalised to sum to 1.
 */
import type { ParamValue } from '../learners/types.js';
import type { SearchSpace } from './space.js';
import { type TrialRecord, completedTrials } from './trial.js';

export interface ParamImportance {
  param: string;
  /** Share of the summed importance (all parameters add up to 1 when any is non-zero). */
  importance: number;
  /** Bias-corrected η², before normalising. */
  explainedVariance: number;
  bins: number;
}

export const IMPORTANCE_METHOD =
  'binned main effect: share of the objective variance explained by each parameter alone (correlation ratio η², noise-corrected, normalised)';

export function parameterImportance(space: SearchSpace, trials: readonly TrialRecord[], bins = 10): ParamImportance[] {
  const done = completedTrials(trials);
  const n = done.length;
  const y = Float64Array.from(done, (t) => t.value as number);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i];
  mean /= Math.max(n, 1);
  let total = 0;
  for (let i = 0; i < n; i++) total += (y[i] - mean) ** 2;
  const out: ParamImportance[] = [];
  for (const [name, entry] of Object.entries(space)) {
    const groups = binTrials(done.map((t) => t.params[name]), entry.distribution.kind === 'categorical', 'log' in entry.distribution && entry.distribution.log, bins);
    const nGroups = new Set(groups).size;
    let between = 0;
    const sums = new Map<number, { sum: number; count: number }>();
    groups.forEach((g, i) => {
      const s = sums.get(g) ?? { sum: 0, count: 0 };
      s.sum += y[i];
      s.count += 1;
      sums.set(g, s);
    });
    for (const { sum, count } of sums.values()) between += count * (sum / count - mean) ** 2;
    const eta = total > 0 && n > 1 ? between / total : 0;
    const noise = n > 1 ? (nGroups - 1) / (n - 1) : 0;
    out.push({ param: name, importance: 0, explainedVariance: Math.max(0, eta - noise), bins: nGroups });
  }
  const sum = out.reduce((s, p) => s + p.explainedVariance, 0);
  for (const p of out) p.importance = sum > 0 ? p.explainedVariance / sum : 0;
  return out.sort((a, b) => b.importance - a.importance || a.param.localeCompare(b.param));
}

/** Bin id per trial: -1 when the parameter was inactive, else a choice index or an equal-count bin. */
function binTrials(values: readonly (ParamValue | undefined)[], categorical: boolean, log: boolean, bins: number): number[] {
  if (categorical) {
    const ids = new Map<string, number>();
    return values.map((v) => {
      if (v === undefined) return -1;
      const key = JSON.stringify(v);
      if (!ids.has(key)) ids.set(key, ids.size);
      return ids.get(key) as number;
    });
  }
  const present = values
    .map((v, i) => ({ x: typeof v === 'number' ? (log && v > 0 ? Math.log(v) : v) : Number.NaN, i }))
    .filter((p) => Number.isFinite(p.x))
    .sort((a, b) => a.x - b.x);
  const out = values.map(() => -1);
  const k = Math.max(1, Math.min(bins, Math.floor(present.length / 2)));
  // Equal-count bins; equal values always share a bin.
  let bin = 0;
  present.forEach((p, rank) => {
    const target = Math.floor((rank * k) / present.length);
    if (target > bin && p.x !== present[rank - 1].x) bin = target;
    out[p.i] = bin;
  });
  return out;
}
