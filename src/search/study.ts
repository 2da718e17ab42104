/**
 * A study: the ask/tell loop over a StudyStorage (Optuna's Study). Everything lives in the storage, so a
 * study resumes after a crash or Ctrl-C (finished trials are kept, a trial cut short is marked failed and
 * does not count) and several processes, here or on other machines, can run one study together.
 *
 * - ask: fail other workers' stale trials, then create the next trial with a proposal made inside the
 *   storage's lock from every trial so far (running ones too), seeded by the trial number, so proposals are
 *   reproducible, never race, and a capped study never overshoots its trial count.
 * - tell: record COMPLETE / PRUNED / FAIL with timings and attributes; finished trials never change.
 * - optimize: `jobs` trials at once in this process, heartbeats for the running ones, stops on the trial
 *   cap, the time budget, an exhausted sampler or the abort signal.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { SpotmlError } from '../errors.js';
import { Rng, hashSeed } from '../learners/rng.js';
import type { ParamValue } from '../learners/types.js';
import type { Pruner } from './pruners.js';
import type { Sampler } from './sampler.js';
import type { SearchSpace } from './space.js';
import type { StudyInfo, StudyStorage, WorkerIdentity } from './storage/types.js';
import { type TrialRecord, type TrialState, lastStep } from './trial.js';

/** Thrown by an objective (or by `TrialContext.pruneIfNeeded`) to end a trial as PRUNED. */
export class TrialPruned extends Error {
  constructor(step?: number) {
    super(step === undefined ? 'trial pruned' : `trial pruned at step ${step}`);
    this.name = 'TrialPruned';
  }
}

export interface TrialContext {
  readonly number: number;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Seed for everything random inside the trial (derived from the study seed and the trial number). */
  readonly seed: number;
  /** Aborted when the study is interrupted. */
  readonly signal: AbortSignal;
  /** Persists an intermediate value (step ≥ 1 = resource spent so far, e.g. folds done). */
  report(step: number, value: number): Promise<void>;
  /** Asks the pruner whether this trial should stop, given every trial of the study now. */
  shouldPrune(): Promise<boolean>;
}

export interface ObjectiveResult {
  value: number;
  attrs?: Record<string, unknown>;
}

export type Objective = (trial: TrialContext) => Promise<number | ObjectiveResult>;

export interface StudyOptions {
  storage: StudyStorage;
  name: string;
  space: SearchSpace;
  sampler: Sampler;
  pruner?: Pruner;
  seed: number;
  /** Recorded when the study is created (what is tuned, on which data, with which space…). */
  attrs?: Record<string, unknown>;
  /** Attributes that must equal the stored ones to resume (e.g. family, target, space). */
  mustMatch?: readonly string[];
  worker?: WorkerIdentity;
  heartbeatIntervalMs?: number;
  /** A running trial with no heartbeat for this long is failed by the next worker that looks (default 60 s). */
  heartbeatTimeoutMs?: number;
}

export interface OptimizeOptions {
  /** Stop once the study holds this many trials that count (every trial except crashed ones). */
  nTrials?: number;
  /** Stop starting trials after this many seconds. */
  timeoutSeconds?: number;
  /** Trials run at once by this process. */
  jobs?: number;
  signal?: AbortSignal;
  onTrialStart?: (trial: TrialRecord) => void;
  onTrialFinish?: (trial: TrialRecord) => void | Promise<void>;
  onWarning?: (message: string) => void;
}

export interface OptimizeSummary {
  /** Trials this call finished (in finishing order). */
  finished: TrialRecord[];
  stoppedBecause: 'trials' | 'time' | 'aborted' | 'exhausted';
  elapsedSeconds: number;
}

let processWorker: WorkerIdentity | undefined;

/** One identity per process: the id is fresh each run, so a restarted process never claims old trials. */
export function defaultWorker(): WorkerIdentity {
  processWorker ??= Object.freeze({ id: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`, host: hostname(), pid: process.pid });
  return processWorker;
}

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export class Study {
  readonly storage: StudyStorage;
  readonly info: StudyInfo;
  /** True when this call created the study (false: resumed or joined). */
  readonly created: boolean;
  readonly space: SearchSpace;
  readonly sampler: Sampler;
  readonly pruner: Pruner | undefined;
  readonly seed: number;
  readonly worker: WorkerIdentity;
  private readonly heartbeatIntervalMs: number;
  private readonly heartbeatTimeoutMs: number;

  private constructor(options: StudyOptions, info: StudyInfo, created: boolean) {
    this.storage = options.storage;
    this.info = info;
    this.created = created;
    this.space = options.space;
    this.sampler = options.sampler;
    this.pruner = options.pruner;
    this.seed = options.seed;
    this.worker = options.worker ?? defaultWorker();
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 60_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.max(50, Math.min(10_000, this.heartbeatTimeoutMs / 4));
  }

  /** Opens (or creates) the study; resuming checks that `mustMatch` attributes are unchanged. */
  static async open(options: StudyOptions): Promise<Study> {
    const { study, created } = await options.storage.getOrCreateStudy(options.name, options.attrs ?? {});
    if (!created) {
      for (const key of options.mustMatch ?? []) {
        const stored = study.attrs[key];
        const wanted = options.attrs?.[key];
        if (stable(stored) !== stable(wanted)) {
          throw new SpotmlError(
            'USAGE',
            `study "${options.name}" in ${options.storage.location} was created with a different ${key} (${describeDifference(stored, wanted)}): resume it with the same settings or pick a new --study name`,
            { study: options.name, key },
          );
        }
      }
    }
    return new Study(options, study, created);
  }

  get id(): string {
    return this.info.id;
  }

  trials(): Promise<TrialRecord[]> {
    return this.storage.getTrials(this.id);
  }

  /** Marks other workers' trials failed (crashed) when their process is gone or silent past the timeout. */
  failStaleTrials(): Promise<number[]> {
    return this.storage.failStaleTrials(this.id, this.worker, this.heartbeatTimeoutMs);
  }

  /** Creates the next trial, or null when the cap is reached or the sampler has nothing left. */
  async ask(maxTrials?: number): Promise<TrialRecord | null> {
    await this.failStaleTrials();
    return this.storage.createTrial(
      this.id,
      this.worker,
      (trials, number) => {
        const history = trials.filter((t) => t.attrs.crashed !== true);
        if (this.sampler.exhausted?.(this.space, history)) return null;
        const params = this.sampler.sample(this.space, history, new Rng(hashSeed(this.seed, 'sample', number)));
        return { params, attrs: { seed: hashSeed(this.seed, 'trial', number) } };
      },
      { maxTrials },
    );
  }

  tell(number: number, state: Exclude<TrialState, 'RUNNING'>, value: number | null, attrs: Record<string, unknown> = {}): Promise<TrialRecord> {
    return this.storage.finishTrial(this.id, number, state, value, attrs);
  }

  async shouldPrune(number: number): Promise<boolean> {
    if (!this.pruner) return false;
    const trials = await this.trials();
    const own = trials[number] ?? trials.find((t) => t.number === number);
    if (!own || own.state !== 'RUNNING') return false;
    return this.pruner.shouldPrune(own, trials);
  }

  /** True once the sampler has nothing new (a grid fully covered). */
  async exhausted(): Promise<boolean> {
    if (!this.sampler.exhausted) return false;
    const trials = (await this.trials()).filter((t) => t.attrs.crashed !== true);
    return this.sampler.exhausted(this.space, trials);
  }

  async optimize(objective: Objective, options: OptimizeOptions = {}): Promise<OptimizeSummary> {
    const started = performance.now();
    const jobs = options.jobs ?? 1;
    if (!Number.isInteger(jobs) || jobs < 1) throw new SpotmlError('USAGE', `--jobs must be a whole number >= 1, got ${jobs}`, { flag: '--jobs' });
    const deadline = options.timeoutSeconds === undefined ? Number.POSITIVE_INFINITY : started + options.timeoutSeconds * 1000;
    const running = new Map<number, AbortController>();
    const finished: TrialRecord[] = [];
    let stoppedBecause: OptimizeSummary['stoppedBecause'] | undefined;
    const warn = options.onWarning ?? (() => undefined);
    const outer = options.signal;
    const abortAll = (): void => {
      for (const controller of running.values()) controller.abort(outer?.reason);
    };
    outer?.addEventListener('abort', abortAll);

    const beat = setInterval(() => {
      if (running.size === 0) return;
      this.storage.heartbeat(this.id, this.worker, [...running.keys()]).catch((err: unknown) => warn(`heartbeat failed: ${(err as Error).message}`));
    }, this.heartbeatIntervalMs);
    beat.unref?.();

    const runOne = async (trial: TrialRecord): Promise<void> => {
      const controller = new AbortController();
      if (outer?.aborted) controller.abort(outer.reason);
      running.set(trial.number, controller);
      options.onTrialStart?.(trial);
      const t0 = performance.now();
      let state: Exclude<TrialState, 'RUNNING'>;
      let value: number | null = null;
      let attrs: Record<string, unknown> = {};
      const reported = new Map<number, number>();
      try {
        const context: TrialContext = {
          number: trial.number,
          params: trial.params,
          seed: Number(trial.attrs.seed ?? hashSeed(this.seed, 'trial', trial.number)),
          signal: controller.signal,
          report: async (step, v) => {
            reported.set(step, v);
            await this.storage.reportIntermediate(this.id, trial.number, step, v);
          },
          shouldPrune: () => this.shouldPrune(trial.number),
        };
        const result = await objective(context);
        const outcome = typeof result === 'number' ? { value: result, attrs: {} } : { value: result.value, attrs: result.attrs ?? {} };
        attrs = outcome.attrs;
        if (Number.isFinite(outcome.value)) {
          state = 'COMPLETE';
          value = outcome.value;
        } else {
          state = 'FAIL';
          attrs = { ...attrs, reason: `the objective returned ${outcome.value}` };
        }
      } catch (err) {
        if (err instanceof TrialPruned) {
          state = 'PRUNED';
          const steps = [...reported.keys()];
          const last = steps.length > 0 ? Math.max(...steps) : lastStep(trial);
          value = last === undefined ? null : (reported.get(last) ?? null);
          if (value !== null && !Number.isFinite(value)) value = null;
        } else if (controller.signal.aborted) {
          // Cut short, not evaluated: marked crashed so it does not count and the grid point is free again.
          state = 'FAIL';
          attrs = { crashed: true, reason: 'interrupted' };
        } else {
          state = 'FAIL';
          attrs = { reason: err instanceof Error ? err.message : String(err) };
        }
      }
      attrs = { ...attrs, durationSeconds: (performance.now() - t0) / 1000 };
      try {
        const record = await this.tell(trial.number, state, value, attrs);
        finished.push(record);
        await options.onTrialFinish?.(record);
      } catch (err) {
        // Another worker failed it meanwhile (we were silent past the heartbeat timeout): its result is lost.
        if (err instanceof SpotmlError && err.code === 'INTERNAL') warn(`trial ${trial.number}: ${err.message}`);
        else throw err;
      } finally {
        running.delete(trial.number);
      }
    };

    const slot = async (): Promise<void> => {
      while (stoppedBecause === undefined) {
        if (outer?.aborted) {
          stoppedBecause = 'aborted';
          return;
        }
        if (performance.now() >= deadline) {
          stoppedBecause = 'time';
          return;
        }
        const trial = await this.ask(options.nTrials);
        if (!trial) {
          stoppedBecause ??= (await this.exhausted()) ? 'exhausted' : 'trials';
          return;
        }
        await runOne(trial);
      }
    };

    try {
      await Promise.all(Array.from({ length: jobs }, () => slot()));
    } finally {
      clearInterval(beat);
      outer?.removeEventListener('abort', abortAll);
    }
    return { finished, stoppedBecause: stoppedBecause ?? 'trials', elapsedSeconds: (performance.now() - started) / 1000 };
  }
}

function truncate(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Where two settings differ, e.g. `space.n_neighbors.distribution.high: 50, now 9` (a few paths, then a count). */
export function describeDifference(stored: unknown, wanted: unknown): string {
  if (!isPlainObject(stored) || !isPlainObject(wanted)) return `${truncate(stable(stored))}, now ${truncate(stable(wanted))}`;
  const differences: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (stable(a) === stable(b)) return;
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        const at = path === '' ? key : `${path}.${key}`;
        if (!(key in b)) differences.push(`${at} removed`);
        else if (!(key in a)) differences.push(`${at} added`);
        else walk(a[key], b[key], at);
      }
      return;
    }
    differences.push(`${path}: ${truncate(stable(a), 40)}, now ${truncate(stable(b), 40)}`);
  };
  walk(stored, wanted, '');
  const shown = differences.slice(0, 3).join('; ');
  return differences.length > 3 ? `${shown}; and ${differences.length - 3} more` : shown;
}
