/**
 * Trial records (Optuna's FrozenTrial): readonly snapshots. A finished trial never changes; updating one
 * throws. Samplers and schedulers read records only, so resuming or running in parallel just works.
 */
import { SpotmlError } from '../errors.js';
import type { ParamValue } from '../learners/types.js';

export type TrialState = 'RUNNING' | 'COMPLETE' | 'PRUNED' | 'FAIL';

export interface TrialRecord {
  readonly number: number;
  readonly state: TrialState;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** The objective, oriented so that greater is better (the search maximises). */
  readonly value: number | null;
  /** Intermediate values by step (folds, boosting rounds, …), for pruners. */
  readonly intermediate: Readonly<Record<number, number>>;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly attrs: Readonly<Record<string, unknown>>;
}

export function isFinished(state: TrialState): boolean {
  return state !== 'RUNNING';
}

export function finishTrial(trial: TrialRecord, state: Exclude<TrialState, 'RUNNING'>, value: number | null, attrs: Record<string, unknown> = {}): TrialRecord {
  if (isFinished(trial.state)) {
    throw new SpotmlError('INTERNAL', `trial ${trial.number} is already ${trial.state} and cannot be updated`, { trial: trial.number });
  }
  return Object.freeze({ ...trial, state, value, finishedAt: Date.now(), attrs: Object.freeze({ ...trial.attrs, ...attrs }) });
}

export function startTrial(number: number, params: Record<string, ParamValue>, attrs: Record<string, unknown> = {}): TrialRecord {
  return Object.freeze({
    number,
    state: 'RUNNING',
    params: Object.freeze({ ...params }),
    value: null,
    intermediate: Object.freeze({}),
    startedAt: Date.now(),
    finishedAt: null,
    attrs: Object.freeze({ ...attrs }),
  });
}

/** A new snapshot with one more intermediate value (running trials only). */
export function withIntermediate(trial: TrialRecord, step: number, value: number): TrialRecord {
  if (isFinished(trial.state)) {
    throw new SpotmlError('INTERNAL', `trial ${trial.number} is already ${trial.state}; it takes no more intermediate values`, { trial: trial.number });
  }
  return Object.freeze({ ...trial, intermediate: Object.freeze({ ...trial.intermediate, [step]: value }) });
}

/** Freezes a record a storage rebuilt (replay, database row) so callers can share it safely. */
export function freezeTrial(record: TrialRecord): TrialRecord {
  return Object.freeze({
    ...record,
    params: Object.freeze({ ...record.params }),
    intermediate: Object.freeze({ ...record.intermediate }),
    attrs: Object.freeze({ ...record.attrs }),
  });
}

/** The latest reported step, or undefined when none was reported. */
export function lastStep(trial: TrialRecord): number | undefined {
  let last: number | undefined;
  for (const key of Object.keys(trial.intermediate)) {
    const step = Number(key);
    if (last === undefined || step > last) last = step;
  }
  return last;
}

/** Finished trials that count as results: complete with a finite value. */
export function completedTrials(trials: readonly TrialRecord[]): TrialRecord[] {
  return trials.filter((t) => t.state === 'COMPLETE' && t.value !== null && Number.isFinite(t.value));
}

/** The best complete trial (greatest value, lowest number on ties), or undefined. */
export function bestTrial(trials: readonly TrialRecord[]): TrialRecord | undefined {
  let best: TrialRecord | undefined;
  for (const t of completedTrials(trials)) {
    if (!best || (t.value as number) > (best.value as number) || ((t.value as number) === (best.value as number) && t.number < best.number)) best = t;
  }
  return best;
}
