/**
 * The StudyStorage contract (Optuna's BaseStorage, cut to what `tune` needs). Invariants every backend
 * keeps (test/conformance/study-storage.cases.ts checks them):
 * - trial numbers of a study are 0, 1, 2, … with no gap or duplicate, whoever creates them;
 * - `createTrial` proposes and records atomically: the proposal sees every trial created before it,
 *   running ones included, and no other trial can be created in between;
 * - a finished trial never changes: finishing it again, or reporting to it, throws;
 * - snapshots returned are frozen and later writes never change them;
 * - a trial whose worker stopped beating (or whose process on this host is gone) can be failed by any
 *   worker with `failStaleTrials`; it is marked `attrs.crashed` and does not count toward `maxTrials`.
 */
import type { ParamValue } from '../../learners/types.js';
import type { TrialRecord, TrialState } from '../trial.js';

export interface StudyInfo {
  /** Backend id (the name for the journal, a row id for PostgreSQL). */
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly attrs: Readonly<Record<string, unknown>>;
}

/** Who runs a trial: host and pid let a worker on the same host spot a dead process at once. */
export interface WorkerIdentity {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
}

export interface Proposal {
  params: Record<string, ParamValue>;
  attrs?: Record<string, unknown>;
}

/**
 * Called inside the storage's lock or transaction with every trial so far and the number the new trial
 * will get; returns its params, or null to create nothing (e.g. the grid is exhausted).
 */
export type ProposeFn = (trials: readonly TrialRecord[], number: number) => Proposal | null;

export interface CreateTrialOptions {
  /** Create nothing when the study already holds this many trials that count (all but crashed ones). */
  maxTrials?: number;
}

export interface StudyStorage {
  /** Where the studies live, for messages (a path or a URL without its password). */
  readonly location: string;
  /** Opens the study, creating it with `attrs` when it does not exist yet. */
  getOrCreateStudy(name: string, attrs: Record<string, unknown>): Promise<{ study: StudyInfo; created: boolean }>;
  getStudy(name: string): Promise<StudyInfo | undefined>;
  listStudies(): Promise<StudyInfo[]>;
  /** Removes the study and its trials; false when there was none by that name. */
  deleteStudy(name: string): Promise<boolean>;
  /** Sets a study attribute unless it is set already; returns the value stored (first writer wins). */
  setStudyAttrOnce(studyId: string, key: string, value: unknown): Promise<unknown>;
  /** Creates the next trial (RUNNING) from a proposal made under the lock; null when capped or declined. */
  createTrial(studyId: string, worker: WorkerIdentity, propose: ProposeFn, options?: CreateTrialOptions): Promise<TrialRecord | null>;
  reportIntermediate(studyId: string, number: number, step: number, value: number): Promise<void>;
  /** Marks the given running trials (this worker's) as alive now. */
  heartbeat(studyId: string, worker: WorkerIdentity, numbers: readonly number[]): Promise<void>;
  finishTrial(studyId: string, number: number, state: Exclude<TrialState, 'RUNNING'>, value: number | null, attrs?: Record<string, unknown>): Promise<TrialRecord>;
  getTrials(studyId: string): Promise<TrialRecord[]>;
  /** Fails running trials of other workers that are gone; returns their numbers. */
  failStaleTrials(studyId: string, worker: WorkerIdentity, timeoutMs: number): Promise<number[]>;
  close(): Promise<void>;
}

/** Trials that count toward a trial cap: every trial except those failed because their worker died. */
export function countsTowardCap(trial: TrialRecord): boolean {
  return trial.attrs.crashed !== true;
}

/** The owner ran on this host and its process is gone (others are judged by their heartbeat). */
export function workerIsDead(owner: WorkerIdentity, self: WorkerIdentity): boolean {
  if (owner.id === self.id || owner.host !== self.host || owner.pid === self.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

export function isWorkerIdentity(value: unknown): value is WorkerIdentity {
  const v = value as WorkerIdentity | null;
  return v !== null && typeof v === 'object' && typeof v.id === 'string' && typeof v.host === 'string' && typeof v.pid === 'number';
}
