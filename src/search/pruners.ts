/**
 * Pruners decide from trial records alone whether a running trial should stop (Optuna's pruners, made
 * stateless): what Optuna keeps as rung attributes is recomputed from the intermediate values, so a
 * resumed or shared study prunes exactly as an uninterrupted one. Values are oriented: greater is better.
 *
 * Steps are resource amounts (folds done, boosting rounds, epochs): the caller reports a step ≥ 1 each
 * time it has spent more resource, and asks `shouldPrune` after each report.
 */
import { SpotmlError } from '../errors.js';
import { hashSeed } from '../learners/rng.js';
import { type TrialRecord, lastStep } from './trial.js';

export interface Pruner {
  readonly name: string;
  /** `trial` is the running trial with its intermediate values so far; `trials` is every trial of the study. */
  shouldPrune(trial: TrialRecord, trials: readonly TrialRecord[]): boolean;
}

export class NopPruner implements Pruner {
  readonly name = 'none';
  shouldPrune(): boolean {
    return false;
  }
}

export interface MedianOptions {
  /** No pruning until this many trials are complete (Optuna: 5). */
  startupTrials?: number;
  /** No pruning before this step (Optuna: 0). */
  warmupSteps?: number;
  /** Check every this many steps after the warm-up (Optuna: 1). */
  intervalSteps?: number;
  /** Fewest complete trials with a value at the step before comparing (Optuna: 1). */
  minTrials?: number;
}

/** numpy's percentile with linear interpolation, on a copy. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const position = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(position);
  const hi = Math.ceil(position);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
}

/**
 * Optuna's MedianPruner: prune when the trial's best intermediate value so far is worse than the median
 * of the complete trials' values at the same step.
 */
export class MedianPruner implements Pruner {
  readonly name = 'median';
  private readonly startup: number;
  private readonly warmup: number;
  private readonly interval: number;
  private readonly minTrials: number;

  constructor(options: MedianOptions = {}) {
    this.startup = options.startupTrials ?? 5;
    this.warmup = options.warmupSteps ?? 0;
    this.interval = options.intervalSteps ?? 1;
    this.minTrials = options.minTrials ?? 1;
    if (this.interval < 1) throw new SpotmlError('USAGE', `median pruner interval must be >= 1, got ${this.interval}`, {});
  }

  shouldPrune(trial: TrialRecord, trials: readonly TrialRecord[]): boolean {
    const step = lastStep(trial);
    if (step === undefined) return false;
    const complete = trials.filter((t) => t.state === 'COMPLETE' && t.number !== trial.number);
    if (complete.length < this.startup) return false;
    if (step < this.warmup || (step - this.warmup) % this.interval !== 0) return false;
    let best = Number.NEGATIVE_INFINITY;
    for (const [s, v] of Object.entries(trial.intermediate)) if (Number(s) <= step && v > best) best = v;
    if (Number.isNaN(best)) return true;
    const others = complete.map((t) => t.intermediate[step]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (others.length < this.minTrials) return false;
    return best < percentile(others, 50);
  }
}

export interface HalvingOptions {
  /** Resource of the first rung (Optuna: 'auto'; here 1 = one fold or round). */
  minResource?: number;
  /** η: one in η trials goes on at each rung (Optuna: 4; Hyperband's usual 3). */
  reductionFactor?: number;
  /** s: the first rung sits at minResource · η^s (Optuna: 0). */
  minEarlyStoppingRate?: number;
}

/** The value a trial had when it reached `resource`: its intermediate at the first step ≥ resource. */
function rungValue(trial: TrialRecord, resource: number): { step: number; value: number } | undefined {
  let first: number | undefined;
  for (const key of Object.keys(trial.intermediate)) {
    const step = Number(key);
    if (step >= resource && (first === undefined || step < first)) first = step;
  }
  return first === undefined ? undefined : { step: first, value: trial.intermediate[first] };
}

/** Optuna's rule: go on when in the top ⌊n/η⌋ of the rung (the very best while fewer than η competed). */
export function promotable(value: number, competing: readonly number[], reductionFactor: number): boolean {
  let index = Math.floor(competing.length / reductionFactor) - 1;
  if (index < 0) index = 0;
  const sorted = [...competing].sort((a, b) => b - a);
  return value >= sorted[Math.min(index, sorted.length - 1)];
}

/**
 * Asynchronous successive halving (Li et al. 2018, Optuna's SuccessiveHalvingPruner): rung k sits at
 * minResource · η^(s+k); a trial reaching a rung competes with every trial (any state) that reached it.
 */
export class SuccessiveHalvingPruner implements Pruner {
  readonly name: string = 'halving';
  protected readonly minResource: number;
  protected readonly eta: number;
  protected readonly rate: number;

  constructor(options: HalvingOptions = {}) {
    this.minResource = options.minResource ?? 1;
    this.eta = options.reductionFactor ?? 3;
    this.rate = options.minEarlyStoppingRate ?? 0;
    if (!(this.minResource > 0)) throw new SpotmlError('USAGE', `successive halving min resource must be > 0, got ${this.minResource}`, {});
    if (!(this.eta >= 2)) throw new SpotmlError('USAGE', `successive halving reduction factor must be >= 2, got ${this.eta}`, {});
  }

  shouldPrune(trial: TrialRecord, trials: readonly TrialRecord[]): boolean {
    return this.pruneAmong(trial, trials, this.rate);
  }

  protected pruneAmong(trial: TrialRecord, trials: readonly TrialRecord[], rate: number): boolean {
    const step = lastStep(trial);
    if (step === undefined) return false;
    for (let rung = 0; ; rung++) {
      const resource = this.minResource * this.eta ** (rate + rung);
      if (resource > step) return false;
      const own = rungValue(trial, resource);
      // Judge a rung once, at the step that first reached it (as Optuna records it then).
      if (!own || own.step !== step) continue;
      if (Number.isNaN(own.value)) return true;
      const competing: number[] = [];
      for (const other of trials) {
        const r = other.number === trial.number ? own : rungValue(other, resource);
        if (r && Number.isFinite(r.value)) competing.push(r.value);
      }
      if (!competing.includes(own.value)) competing.push(own.value);
      if (!promotable(own.value, competing, this.eta)) return true;
    }
  }
}

export interface HyperbandOptions {
  minResource?: number;
  /** The most resource a trial can use (e.g. the number of folds). */
  maxResource: number;
  reductionFactor?: number;
}

/**
 * Hyperband (Li et al. 2018) over asynchronous successive halving: brackets s = 0..s_max with early-stopping
 * rates s; a trial's bracket is a hash of its number, weighted by the bracket's size in the paper
 * (n_s = ⌈(s_max + 1)/(s_max − s + 1)⌉ · η^(s_max − s) configurations for the bracket with rate s), and
 * it competes only with trials of its bracket.
 */
export class HyperbandPruner extends SuccessiveHalvingPruner {
  override readonly name = 'hyperband';
  private readonly cumulative: number[];

  constructor(options: HyperbandOptions) {
    super({ minResource: options.minResource ?? 1, reductionFactor: options.reductionFactor ?? 3 });
    if (!(options.maxResource >= this.minResource)) {
      throw new SpotmlError('USAGE', `hyperband max resource (${options.maxResource}) must be >= min resource (${this.minResource})`, {});
    }
    const sMax = Math.floor(Math.log(options.maxResource / this.minResource) / Math.log(this.eta) + 1e-9);
    const sizes: number[] = [];
    for (let rate = 0; rate <= sMax; rate++) {
      const s = sMax - rate;
      sizes.push(Math.ceil((sMax + 1) / (s + 1)) * this.eta ** s);
    }
    let total = 0;
    this.cumulative = sizes.map((size) => (total += size));
  }

  get brackets(): number {
    return this.cumulative.length;
  }

  /** The bracket (= early-stopping rate) of a trial number. */
  bracketOf(number: number): number {
    const total = this.cumulative[this.cumulative.length - 1];
    const slot = hashSeed(0, 'hyperband', number) % total;
    return this.cumulative.findIndex((c) => slot < c);
  }

  override shouldPrune(trial: TrialRecord, trials: readonly TrialRecord[]): boolean {
    const bracket = this.bracketOf(trial.number);
    const peers = trials.filter((t) => this.bracketOf(t.number) === bracket);
    return this.pruneAmong(trial, peers, bracket);
  }
}

export type PrunerName = 'median' | 'halving' | 'hyperband' | 'none';
export const PRUNER_NAMES: readonly PrunerName[] = ['median', 'halving', 'hyperband', 'none'];

/** A pruner by CLI name; `maxResource` is the most steps a trial reports (folds). */
export function makePruner(name: string, maxResource: number): Pruner {
  switch (name) {
    case 'median':
      return new MedianPruner();
    case 'halving':
      return new SuccessiveHalvingPruner();
    case 'hyperband':
      return new HyperbandPruner({ maxResource });
    case 'none':
      return new NopPruner();
    default:
      throw new SpotmlError('USAGE', `--pruner must be one of ${PRUNER_NAMES.join(', ')}, got "${name}"`, { flag: '--pruner' });
  }
}
