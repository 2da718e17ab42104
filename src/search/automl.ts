/**
 * The AutoML search behind `train --auto-optimize`:
 * 1. cheap first: every family's default configuration (a small, short one for the cnn), in cost order
 *    (FLAML's cost-frugal start);
 * 2. then rounds of `jobs` trials: a family is picked by an upper-confidence rule on its best score,
 *    discounted by its cost, and its configuration proposed by TPE over that family's own trials;
 * 3. greedy ensemble selection over the out-of-fold predictions, kept only when it beats the best model;
 * 4. a final refit on all rows, inside the wall-clock budget (time is reserved for it as the search runs).
 *
 * Proposals are made in synchronous rounds from the trials finished before the round, so with a seed and a
 * trial cap (`maxTrials`) the whole search is reproducible whatever the thread timing.
 */
import { SpotmlError } from '../errors.js';
import { searchStart } from '../learners/catalogue.js';
import { Rng, hashSeed } from '../learners/rng.js';
import type { LearnerFamily, ParamValue, Params, SerializedModel, Task } from '../learners/types.js';
import type { MetricName } from '../metrics/index.js';
import type { CrossValidationResult } from './crossval.js';
import { smallestTrainingFold, type FoldPlan } from './cv.js';
import { selectEnsemble } from './ensemble.js';
import { fitSpaceToRows, spaceFromFamily, type SearchSpace } from './space.js';
import { TpeSampler } from './tpe.js';
import { RandomSampler } from './sampler.js';
import { type TrialRecord, finishTrial, startTrial } from './trial.js';

/** Runs one configuration's cross-validation somewhere (in-process or on a worker thread). */
export interface TrialExecutor {
  readonly parallelism: number;
  crossValidate(family: string, params: Params, seed: number, timeLimitMs: number): Promise<CrossValidationResult>;
  /** Fits the family's pipeline on all rows (the final refit); returns the model as saved JSON. */
  fitAll(family: string, params: Params, seed: number): Promise<SerializedModel>;
  close(): Promise<void>;
}

export interface AutoMlOptions {
  families: readonly LearnerFamily[];
  task: Task;
  nClasses: number;
  y: Float64Array;
  plan: FoldPlan;
  metric: MetricName;
  seed: number;
  /** Wall-clock budget in seconds for search + ensemble (the caller adds its refit inside the same budget); Infinity = none. */
  budgetSeconds: number;
  /** Stop after this many trials (makes a seeded run fully reproducible). */
  maxTrials?: number;
  /** Longest a single trial may run (s); default a third of the budget. */
  trialTimeLimitSeconds?: number;
  /** Seconds to keep free at the end for the final refit, given the best trials so far. */
  reserveSeconds?: (best: readonly TrialRecord[]) => number;
  ensemble?: boolean;
  /** Configurations to try first (default: every family's search start, cheapest first). */
  initial?: readonly { family: string; params: Params }[];
  signal?: AbortSignal;
  /** Each finished trial, with its cross-validation result when it completed (out-of-fold predictions, epochs). */
  onTrial?: (trial: TrialRecord, result?: CrossValidationResult) => void | Promise<void>;
}

export interface TrialOutcome {
  record: TrialRecord;
  result?: CrossValidationResult;
}

export interface AutoMlResult {
  trials: TrialRecord[];
  best: TrialRecord;
  /** `foldScores`: the ensemble's metric on each fold (as the metric reads); `std` their spread, as a trial's. */
  ensemble: { members: { trial: TrialRecord; weight: number }[]; score: number; foldScores: number[]; std: number } | null;
  /** The score of what will be shipped (the ensemble's when kept, else the best trial's). */
  score: number;
  elapsedSeconds: number;
  stoppedBecause: 'budget' | 'max-trials' | 'aborted' | 'exhausted';
}

const COST_ORDER = { low: 0, medium: 1, high: 2 } as const;
/** Longest trial time limit: timers overflow past 2^31 ms (about 24.8 days), so "no limit" is this. */
const MAX_TRIAL_LIMIT_SECONDS = 2_000_000;

export async function runAutoMl(executor: TrialExecutor, options: AutoMlOptions): Promise<AutoMlResult> {
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const deadline = options.budgetSeconds;
  const families = [...options.families].sort((a, b) => COST_ORDER[a.tags.cost] - COST_ORDER[b.tags.cost]);
  if (families.length === 0) throw new SpotmlError('USAGE', `no model family supports ${options.task}`, {});
  const tpe = new TpeSampler({ startupTrials: 5 });
  const outcomes: TrialOutcome[] = [];
  const queue: { family: string; params: Params }[] = options.initial ? [...options.initial] : families.map((f) => ({ family: f.name, params: searchStart(f) }));
  const trialLimit = options.trialTimeLimitSeconds ?? Math.max(1, options.budgetSeconds / 3);
  // Each family's space, fitted to the data: values a fit refuses above the training rows are never proposed.
  const trainingRows = smallestTrainingFold(options.plan);
  const spaces = new Map(families.map((f) => [f.name, fitSpaceToRows(spaceFromFamily(f), f, trainingRows).space]));
  let stoppedBecause: AutoMlResult['stoppedBecause'] = 'exhausted';
  const seen = new Set<string>();

  const completed = (): TrialOutcome[] => outcomes.filter((o) => o.record.state === 'COMPLETE');
  const reserve = (): number => {
    const best = completed()
      .map((o) => o.record)
      .sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity))
      .slice(0, 5);
    return options.reserveSeconds ? options.reserveSeconds(best) : 0;
  };

  for (;;) {
    if (options.signal?.aborted) {
      stoppedBecause = 'aborted';
      break;
    }
    if (options.maxTrials !== undefined && outcomes.length >= options.maxTrials) {
      stoppedBecause = 'max-trials';
      break;
    }
    const remaining = deadline - elapsed() - reserve();
    if (Number.isFinite(deadline) && (remaining <= 0.05 * deadline || remaining <= 0.2)) {
      stoppedBecause = 'budget';
      break;
    }
    // Propose one round.
    const round: { family: string; params: Params; number: number }[] = [];
    const roundSize = Math.min(executor.parallelism, options.maxTrials !== undefined ? options.maxTrials - outcomes.length : Infinity);
    const pending = new Map<string, number>();
    // TPE can re-propose a configuration on a small discrete space; never pay for one twice. A family that
    // keeps repeating itself is set aside for the rest of the round, so the budget goes to the others.
    const repeats = new Map<string, number>();
    const setAside = new Set<string>();
    for (let attempt = 0; round.length < roundSize && attempt < roundSize * 8 + families.length * 3; attempt++) {
      const number = outcomes.length + round.length;
      const proposal =
        queue.shift() ??
        proposeNext(families, spaces, outcomes, pending, setAside, tpe, hashSeed(options.seed, 'trial', number, attempt), remaining, repeats.get('*') ?? 0);
      if (!proposal) break;
      pending.set(proposal.family, (pending.get(proposal.family) ?? 0) + 1);
      const key = `${proposal.family}:${JSON.stringify(proposal.params)}`;
      if (seen.has(key)) {
        const count = (repeats.get(proposal.family) ?? 0) + 1;
        repeats.set(proposal.family, count);
        repeats.set('*', (repeats.get('*') ?? 0) + 1);
        if (count >= 3) setAside.add(proposal.family);
        continue;
      }
      seen.add(key);
      round.push({ ...proposal, number });
    }
    if (round.length === 0) break;
    const timeLimit = Math.min(trialLimit, Math.max(0.5, deadline - elapsed() - reserve()), MAX_TRIAL_LIMIT_SECONDS) * 1000;
    const results = await Promise.all(
      round.map(async (p) => {
        const record = startTrial(p.number, p.params as Record<string, ParamValue>, { family: p.family });
        const trialStarted = performance.now();
        try {
          const result = await executor.crossValidate(p.family, p.params, hashSeed(options.seed, 'cv', p.number), timeLimit);
          if (!Number.isFinite(result.score)) {
            return { record: finishTrial(record, 'FAIL', null, { reason: 'score is not finite' }) };
          }
          return {
            record: finishTrial(record, 'COMPLETE', result.score, {
              foldScores: result.foldScores,
              std: standardDeviation(result.foldScores),
              fitSeconds: result.fitSeconds,
              predictSeconds: result.predictSeconds,
            }),
            result,
          };
        } catch (err) {
          // One trial's failure never ends the search. A trial stopped at its time limit (its own abort
          // signal, or the worker pool's grace timer) is told apart from one that broke.
          if (!options.signal?.aborted && performance.now() - trialStarted >= timeLimit - 1) {
            const seconds = Number((timeLimit / 1000).toFixed(1));
            return { record: finishTrial(record, 'FAIL', null, { reason: `ran out of its ${seconds}s time limit`, timedOut: true }) };
          }
          const reason = err instanceof Error ? err.message : String(err);
          return { record: finishTrial(record, 'FAIL', null, { reason }) };
        }
      }),
    );
    for (const outcome of results.sort((a, b) => a.record.number - b.record.number)) {
      outcomes.push(outcome);
      await options.onTrial?.(outcome.record, outcome.result);
    }
  }

  const done = completed();
  if (done.length === 0) {
    if (outcomes.length > 0 && outcomes.every((o) => o.record.attrs.timedOut === true)) {
      // The caller knows which budget set the limit and names it.
      throw new SpotmlError('INVALID_INPUT', `every trial ran out of time (${String(outcomes[0].record.attrs.reason)}): raise the time budget`, { reason: 'time-limit' });
    }
    const reasons = outcomes.map((o) => `${String(o.record.attrs.family)}: ${String(o.record.attrs.reason)}`).slice(0, 3);
    throw new SpotmlError('INVALID_INPUT', `every trial failed (${reasons.join('; ') || 'no trial could run in the budget'})`, {});
  }
  const ranked = [...done].sort((a, b) => (b.record.value as number) - (a.record.value as number) || a.record.number - b.record.number);
  const best = ranked[0].record;

  let ensemble: AutoMlResult['ensemble'] = null;
  if (options.ensemble !== false && ranked.length > 1 && ranked[0].result) {
    // Candidates: the best configurations, at most a few per family so one family cannot crowd out diversity.
    const perFamily = new Map<string, number>();
    const candidates = ranked
      .filter((o) => {
        const family = String(o.record.attrs.family);
        const n = perFamily.get(family) ?? 0;
        perFamily.set(family, n + 1);
        return n < 5 && o.result !== undefined;
      })
      .slice(0, 25);
    const selection = selectEnsemble(
      candidates.map((o) => ({ id: o.record.number, oof: (o.result as CrossValidationResult).oof })),
      options.y,
      options.task,
      options.nClasses,
      options.plan,
      options.metric,
    );
    const members = [...selection.weights].map(([id, weight]) => ({ trial: candidates.find((c) => c.record.number === id)!.record, weight }));
    // Keep the ensemble only when it is strictly better and truly an ensemble.
    if (members.length > 1 && selection.score > (best.value as number) + 1e-12) {
      ensemble = { members, score: selection.score, foldScores: selection.foldScores, std: standardDeviation(selection.foldScores) };
    }
  }
  return {
    trials: outcomes.map((o) => o.record),
    best,
    ensemble,
    score: ensemble ? ensemble.score : (best.value as number),
    elapsedSeconds: elapsed(),
    stoppedBecause,
  };
}

/**
 * Picks the family with the highest upper confidence bound on its best score (scaled by the spread of
 * scores seen), skipping families whose typical trial would not fit in the remaining time, then asks TPE
 * for a configuration of that family from its own trials.
 */
function proposeNext(
  families: readonly LearnerFamily[],
  spaces: ReadonlyMap<string, SearchSpace>,
  outcomes: readonly TrialOutcome[],
  pending: Map<string, number>,
  setAside: ReadonlySet<string>,
  tpe: TpeSampler,
  seed: number,
  remainingSeconds: number,
  attempt: number,
): { family: string; params: Params } | undefined {
  const rng = new Rng(seed);
  const stats = families.map((family) => {
    const own = outcomes.filter((o) => o.record.attrs.family === family.name);
    const ok = own.filter((o) => o.record.state === 'COMPLETE');
    const bestScore = ok.reduce((m, o) => Math.max(m, o.record.value as number), Number.NEGATIVE_INFINITY);
    const seconds = ok.length > 0 ? ok.reduce((s, o) => s + Number(o.record.attrs.fitSeconds ?? 0) + Number(o.record.attrs.predictSeconds ?? 0), 0) / ok.length : 0;
    const failures = own.length - ok.length;
    return { family, own, ok, bestScore, seconds, failures, tried: own.length + (pending.get(family.name) ?? 0) };
  });
  const finite = stats.filter((s) => Number.isFinite(s.bestScore)).map((s) => s.bestScore).sort((a, b) => b - a);
  if (finite.length === 0) return undefined;
  const spread = Math.max(1e-3, finite[0] - finite[Math.min(finite.length - 1, 2)]);
  const total = stats.reduce((s, x) => s + x.tried, 0) + 1;
  let chosen: (typeof stats)[number] | undefined;
  let bestUcb = Number.NEGATIVE_INFINITY;
  for (const s of stats) {
    if (!Number.isFinite(s.bestScore) || setAside.has(s.family.name)) continue;
    if (s.failures > 3 && s.failures > s.ok.length) continue;
    if (s.seconds > remainingSeconds * 0.8) continue;
    const space = spaces.get(s.family.name) ?? {};
    if (Object.keys(space).length === 0 && s.tried > 0) continue;
    // The cost term uses the family's declared cost class, not measured seconds, so that with a trial cap the
    // sequence of proposals does not depend on machine load (measured time only decides what still fits).
    const ucb = s.bestScore + spread * Math.sqrt(Math.log(total) / (s.tried + 1)) - 0.002 * COST_ORDER[s.family.tags.cost];
    if (ucb > bestUcb) {
      bestUcb = ucb;
      chosen = s;
    }
  }
  if (!chosen) return undefined;
  const space = spaces.get(chosen.family.name) ?? {};
  // A retry after a duplicate draws uniformly: on a small discrete space TPE tends to repeat its favourite.
  const params = attempt === 0 ? tpe.sample(space, chosen.own.map((o) => o.record), rng) : new RandomSampler().sample(space, [], rng);
  return { family: chosen.family.name, params };
}

function standardDeviation(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
}
