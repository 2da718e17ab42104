/**
 * Samplers suggest a configuration from the space, the finished trials and a seeded RNG; they hold no
 * state of their own (Optuna's BaseSampler), so resumed and parallel searches behave the same.
 */
import { SpotmlError } from '../errors.js';
import type { ParamValue } from '../learners/types.js';
import { Rng } from '../learners/rng.js';
import { type SearchSpace, type SpaceEntry, fromInternal, internalBounds, isActive, orderedEntries } from './space.js';
import type { TrialRecord } from './trial.js';

export interface Sampler {
  readonly name: string;
  /** Suggests params for the next trial. `trials` holds every trial so far (any state). */
  sample(space: SearchSpace, trials: readonly TrialRecord[], rng: Rng): Record<string, ParamValue>;
  /** True when the sampler has nothing new to propose (a finished grid); the study then stops. */
  exhausted?(space: SearchSpace, trials: readonly TrialRecord[]): boolean;
}

export function sampleUniform(entry: SpaceEntry, rng: Rng): ParamValue {
  const d = entry.distribution;
  if (d.kind === 'categorical') return d.choices[rng.int(d.choices.length)];
  const [lo, hi] = internalBounds(d);
  return fromInternal(d, lo + rng.next() * (hi - lo));
}

export class RandomSampler implements Sampler {
  readonly name = 'random';

  sample(space: SearchSpace, _trials: readonly TrialRecord[], rng: Rng): Record<string, ParamValue> {
    const params: Record<string, ParamValue> = {};
    for (const [name, entry] of orderedEntries(space)) {
      if (isActive(entry, params)) params[name] = sampleUniform(entry, rng);
    }
    return params;
  }
}

export interface GridOptions {
  /** Values per numeric axis (ints with fewer values keep all of them). Default 5. */
  resolution?: number;
  /** Seed of the order in which grid points are visited. */
  seed?: number;
}

/** A stable key for a configuration, independent of key order. */
export function paramsKey(params: Readonly<Record<string, ParamValue>>): string {
  return JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
}

/** The values a grid visits on one axis: every choice, or `resolution` evenly spaced values (in log space when log-scaled). */
export function gridAxis(entry: SpaceEntry, resolution: number): ParamValue[] {
  const d = entry.distribution;
  if (d.kind === 'categorical') return [...d.choices];
  if (d.kind === 'int' && (d.high - d.low) / d.step + 1 <= resolution) {
    const values: number[] = [];
    for (let v = d.low; v <= d.high; v += d.step) values.push(v);
    return values;
  }
  const lo = d.log ? Math.log(d.low) : d.low;
  const hi = d.log ? Math.log(d.high) : d.high;
  const out: number[] = [];
  for (let i = 0; i < resolution; i++) {
    const x = resolution === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * i) / (resolution - 1);
    let v = d.log ? Math.exp(x) : x;
    if (d.kind === 'int' || d.step !== undefined) {
      const step = d.step ?? 1;
      v = d.low + Math.round((v - d.low) / step) * step;
    }
    v = Math.min(d.high, Math.max(d.low, Number(v.toPrecision(12))));
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

/** Every configuration of the grid; conditional parameters only multiply the points where they are active. */
export function enumerateGrid(space: SearchSpace, resolution: number): Record<string, ParamValue>[] {
  const entries = orderedEntries(space);
  const axes = entries.map(([, entry]) => gridAxis(entry, resolution));
  const points: Record<string, ParamValue>[] = [];
  const walk = (i: number, params: Record<string, ParamValue>): void => {
    if (i === entries.length) {
      points.push({ ...params });
      return;
    }
    const [name, entry] = entries[i];
    if (!isActive(entry, params)) {
      walk(i + 1, params);
      return;
    }
    for (const value of axes[i]) {
      params[name] = value;
      walk(i + 1, params);
    }
    delete params[name];
  };
  walk(0, {});
  return points;
}

/**
 * Grid search: visits every grid point once, in an order shuffled by its own seed (so a stopped search
 * still covers the space evenly). A point is taken as soon as any trial (running or finished) holds it,
 * so parallel workers proposing under the storage lock never repeat one.
 */
export class GridSampler implements Sampler {
  readonly name = 'grid';
  private readonly resolution: number;
  private readonly seed: number;
  private cache: { space: SearchSpace; order: Record<string, ParamValue>[] } | undefined;

  constructor(options: GridOptions = {}) {
    this.resolution = options.resolution ?? 5;
    this.seed = options.seed ?? 0;
    if (!Number.isInteger(this.resolution) || this.resolution < 1) {
      throw new SpotmlError('USAGE', `grid resolution must be a whole number >= 1, got ${this.resolution}`, {});
    }
  }

  /** The grid points in visiting order. */
  points(space: SearchSpace): readonly Record<string, ParamValue>[] {
    if (this.cache?.space !== space) {
      const order = enumerateGrid(space, this.resolution);
      const rng = new Rng(this.seed);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      this.cache = { space, order };
    }
    return this.cache.order;
  }

  private remaining(space: SearchSpace, trials: readonly TrialRecord[]): Record<string, ParamValue>[] {
    const taken = new Set(trials.filter((t) => !t.attrs.crashed).map((t) => paramsKey(t.params)));
    return this.points(space).filter((p) => !taken.has(paramsKey(p)));
  }

  /** True once every grid point has a trial. */
  exhausted(space: SearchSpace, trials: readonly TrialRecord[]): boolean {
    return this.remaining(space, trials).length === 0;
  }

  sample(space: SearchSpace, trials: readonly TrialRecord[], rng: Rng): Record<string, ParamValue> {
    const left = this.remaining(space, trials);
    if (left.length > 0) return { ...left[0] };
    // Exhausted: callers normally stop first; repeat a random point rather than fail.
    const all = this.points(space);
    return { ...all[rng.int(all.length)] };
  }
}
