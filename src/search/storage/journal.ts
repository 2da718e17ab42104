/**
 * The embedded study storage: one append-only journal of JSON lines (Optuna's JournalFileStorage).
 * Every mutation is one line (an opcode record); the state is rebuilt by replaying the lines, and kept
 * up to date by reading only what was appended since the last read. Writers take a lock file, catch up,
 * append and fsync before releasing, so several processes on one machine can share a study.
 *
 * Crash safety: a process killed mid-write can leave a last line without its newline. Readers ignore
 * bytes after the last newline; the next writer (holding the lock, so no one else is writing) cuts them
 * off before appending. A lock left by a dead process on this host is broken by the next writer.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SpotmlError } from '../../errors.js';
import { acquireLock } from '../../runtime/lock.js';
import type { ParamValue } from '../../learners/types.js';
import { type TrialRecord, type TrialState, freezeTrial } from '../trial.js';
import {
  type CreateTrialOptions,
  type ProposeFn,
  type StudyInfo,
  type StudyStorage,
  type WorkerIdentity,
  countsTowardCap,
  isWorkerIdentity,
  workerIsDead,
} from './types.js';

interface TrialState_ {
  number: number;
  state: TrialState;
  params: Record<string, ParamValue>;
  value: number | null;
  intermediate: Record<number, number>;
  startedAt: number;
  finishedAt: number | null;
  attrs: Record<string, unknown>;
  worker: WorkerIdentity | null;
  lastBeat: number;
  snapshot: TrialRecord | null;
}

interface StudyState {
  info: StudyInfo;
  attrs: Record<string, unknown>;
  trials: TrialState_[];
}

type JournalRecord =
  | { op: 'create_study'; name: string; attrs: Record<string, unknown>; t: number }
  | { op: 'set_study_attr'; study: string; key: string; value: unknown }
  | { op: 'create_trial'; study: string; number: number; params: Record<string, ParamValue>; attrs: Record<string, unknown>; worker: WorkerIdentity; t: number }
  | { op: 'intermediate'; study: string; number: number; step: number; value: number | string }
  | { op: 'heartbeat'; study: string; worker: string; numbers: number[]; t: number }
  | { op: 'finish'; study: string; number: number; state: TrialState; value: number | string | null; attrs: Record<string, unknown>; t: number }
  | { op: 'delete_study'; study: string; t: number };

const NEWLINE = 0x0a;

/** JSON has no NaN or infinities: they travel as strings. */
function encodeNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function decodeNumber(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

export interface JournalOptions {
  /** Longest wait for the lock before giving up (ms). */
  lockTimeoutMs?: number;
}

export class JournalFileStorage implements StudyStorage {
  readonly path: string;
  readonly location: string;
  private readonly lockPath: string;
  private readonly lockTimeoutMs: number;
  private readonly studies = new Map<string, StudyState>();
  /** Byte offset just past the last complete line replayed. */
  private offset = 0;
  /** Serialises this process's own writers, so they queue here instead of polling the lock file. */
  private queue: Promise<unknown> = Promise.resolve();
  private reading: Promise<number> = Promise.resolve(0);

  constructor(path: string, options: JournalOptions = {}) {
    this.path = resolve(path);
    this.location = this.path;
    this.lockPath = `${this.path}.lock`;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
  }

  // ------------------------------------------------------------------ reading

  /** Replays the lines appended since the last call, one reader at a time. Returns the file size seen. */
  private catchUp(): Promise<number> {
    const run = (): Promise<number> => this.readNewLines();
    const result = this.reading.then(run, run);
    this.reading = result.catch(() => 0);
    return result;
  }

  private async readNewLines(): Promise<number> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      if (size < this.offset) {
        throw new SpotmlError('STORE', `study journal ${this.path} shrank while in use; it was edited or replaced, so restart the run`, { file: this.path });
      }
      if (size === this.offset) return size;
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      const chunk = buffer.subarray(0, bytesRead);
      const end = chunk.lastIndexOf(NEWLINE);
      if (end < 0) return size;
      let start = 0;
      while (start <= end) {
        const stop = chunk.indexOf(NEWLINE, start);
        const line = chunk.subarray(start, stop).toString('utf8').trim();
        start = stop + 1;
        if (line.length === 0) continue;
        let record: JournalRecord;
        try {
          record = JSON.parse(line) as JournalRecord;
        } catch {
          // A torn line from a crash that a later writer closed off: nothing was committed by it.
          continue;
        }
        this.apply(record);
      }
      this.offset += end + 1;
      return size;
    } finally {
      await handle.close();
    }
  }

  private apply(r: JournalRecord): void {
    switch (r.op) {
      case 'create_study': {
        if (this.studies.has(r.name)) return;
        this.studies.set(r.name, {
          info: Object.freeze({ id: r.name, name: r.name, createdAt: r.t, attrs: Object.freeze({ ...r.attrs }) }),
          attrs: { ...r.attrs },
          trials: [],
        });
        return;
      }
      case 'set_study_attr': {
        const study = this.studies.get(r.study);
        if (!study || r.key in study.attrs) return;
        study.attrs[r.key] = r.value;
        study.info = Object.freeze({ ...study.info, attrs: Object.freeze({ ...study.attrs }) });
        return;
      }
      case 'create_trial': {
        const study = this.studies.get(r.study);
        // Numbers are dense: anything else is not a record this journal's writers produce.
        if (!study || r.number !== study.trials.length) return;
        study.trials.push({
          number: r.number,
          state: 'RUNNING',
          params: r.params,
          value: null,
          intermediate: {},
          startedAt: r.t,
          finishedAt: null,
          attrs: { ...r.attrs, worker: r.worker },
          worker: isWorkerIdentity(r.worker) ? r.worker : null,
          lastBeat: r.t,
          snapshot: null,
        });
        return;
      }
      case 'intermediate': {
        const trial = this.studies.get(r.study)?.trials[r.number];
        if (!trial || trial.state !== 'RUNNING') return;
        trial.intermediate[r.step] = decodeNumber(r.value);
        trial.snapshot = null;
        return;
      }
      case 'heartbeat': {
        const study = this.studies.get(r.study);
        if (!study) return;
        for (const number of r.numbers) {
          const trial = study.trials[number];
          if (trial && trial.worker?.id === r.worker) trial.lastBeat = Math.max(trial.lastBeat, r.t);
        }
        return;
      }
      case 'delete_study': {
        // Its lines stay in the journal (rewriting it would pull the file from under other readers); a study
        // created later under the same name starts empty.
        this.studies.delete(r.study);
        return;
      }
      case 'finish': {
        const trial = this.studies.get(r.study)?.trials[r.number];
        // A finished trial never changes: the first finish wins.
        if (!trial || trial.state !== 'RUNNING') return;
        trial.state = r.state;
        trial.value = r.value === null ? null : decodeNumber(r.value);
        trial.finishedAt = r.t;
        trial.attrs = { ...trial.attrs, ...r.attrs };
        trial.snapshot = null;
        return;
      }
      default:
        return;
    }
  }

  private snapshot(trial: TrialState_): TrialRecord {
    trial.snapshot ??= freezeTrial({
      number: trial.number,
      state: trial.state,
      params: trial.params,
      value: trial.value,
      intermediate: trial.intermediate,
      startedAt: trial.startedAt,
      finishedAt: trial.finishedAt,
      attrs: trial.attrs,
    });
    return trial.snapshot;
  }

  private study(studyId: string): StudyState {
    const study = this.studies.get(studyId);
    if (!study) throw new SpotmlError('NOT_FOUND', `study "${studyId}" is not in ${this.path}: check --study and --storage`, { study: studyId });
    return study;
  }

  private runningTrial(studyId: string, number: number): TrialState_ {
    const trial = this.study(studyId).trials[number];
    if (!trial) throw new SpotmlError('NOT_FOUND', `study "${studyId}" has no trial ${number}`, { study: studyId, trial: number });
    if (trial.state !== 'RUNNING') {
      throw new SpotmlError('INTERNAL', `trial ${number} is already ${trial.state} and cannot be updated`, { study: studyId, trial: number });
    }
    return trial;
  }

  // ------------------------------------------------------------------ writing

  /** Runs `fn` holding this process's queue and the journal lock, caught up with every committed line. */
  private write<T>(fn: (append: (records: JournalRecord[]) => Promise<void>) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      let release: () => Promise<void>;
      try {
        await mkdir(dirname(this.path), { recursive: true });
        release = await acquireLock(this.lockPath, this.lockTimeoutMs);
      } catch (err) {
        throw this.notWritable(err);
      }
      try {
        const size = await this.catchUp();
        if (size > this.offset) await this.cutTornTail();
        return await fn(async (records) => {
          const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
          const handle = await open(this.path, 'a').catch((err: unknown) => {
            throw this.notWritable(err);
          });
          try {
            await handle.write(text);
            await handle.sync();
          } finally {
            await handle.close();
          }
          await this.catchUp();
        });
      } finally {
        await release();
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** A file system refusal (read-only disk, permissions, a file where a folder should be) as one line naming the fix. */
  private notWritable(err: unknown): unknown {
    const errno = err as NodeJS.ErrnoException;
    if (!(err instanceof Error) || typeof errno.code !== 'string' || !/^(EACCES|EPERM|EROFS|ENOTDIR|EISDIR|ENOSPC|EDQUOT)$/.test(errno.code)) return err;
    return new SpotmlError(
      'INVALID_INPUT',
      `cannot write the study journal ${this.path} (${errno.code} on ${errno.path ?? this.path}): pass --storage with a writable file or folder, or fix its permissions`,
      { file: this.path, errno: errno.code },
      { cause: err },
    );
  }

  private async cutTornTail(): Promise<void> {
    const handle = await open(this.path, 'r+');
    try {
      await handle.truncate(this.offset);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async getOrCreateStudy(name: string, attrs: Record<string, unknown>): Promise<{ study: StudyInfo; created: boolean }> {
    checkStudyName(name);
    await this.catchUp();
    const existing = this.studies.get(name);
    if (existing) return { study: existing.info, created: false };
    return this.write(async (append) => {
      const found = this.studies.get(name);
      if (found) return { study: found.info, created: false };
      await append([{ op: 'create_study', name, attrs, t: Date.now() }]);
      return { study: this.study(name).info, created: true };
    });
  }

  async getStudy(name: string): Promise<StudyInfo | undefined> {
    await this.catchUp();
    return this.studies.get(name)?.info;
  }

  async listStudies(): Promise<StudyInfo[]> {
    await this.catchUp();
    return [...this.studies.values()].map((s) => s.info);
  }

  async deleteStudy(name: string): Promise<boolean> {
    return this.write(async (append) => {
      if (!this.studies.has(name)) return false;
      await append([{ op: 'delete_study', study: name, t: Date.now() }]);
      return true;
    });
  }

  async setStudyAttrOnce(studyId: string, key: string, value: unknown): Promise<unknown> {
    return this.write(async (append) => {
      const study = this.study(studyId);
      if (!(key in study.attrs)) await append([{ op: 'set_study_attr', study: studyId, key, value }]);
      return this.study(studyId).attrs[key];
    });
  }

  async createTrial(studyId: string, worker: WorkerIdentity, propose: ProposeFn, options: CreateTrialOptions = {}): Promise<TrialRecord | null> {
    return this.write(async (append) => {
      const study = this.study(studyId);
      const trials = study.trials.map((t) => this.snapshot(t));
      if (options.maxTrials !== undefined && trials.filter(countsTowardCap).length >= options.maxTrials) return null;
      const number = trials.length;
      const proposal = propose(trials, number);
      if (!proposal) return null;
      await append([{ op: 'create_trial', study: studyId, number, params: proposal.params, attrs: proposal.attrs ?? {}, worker, t: Date.now() }]);
      return this.snapshot(this.study(studyId).trials[number]);
    });
  }

  async reportIntermediate(studyId: string, number: number, step: number, value: number): Promise<void> {
    await this.write(async (append) => {
      this.runningTrial(studyId, number);
      await append([{ op: 'intermediate', study: studyId, number, step, value: encodeNumber(value) }]);
    });
  }

  async heartbeat(studyId: string, worker: WorkerIdentity, numbers: readonly number[]): Promise<void> {
    if (numbers.length === 0) return;
    await this.write(async (append) => {
      await append([{ op: 'heartbeat', study: studyId, worker: worker.id, numbers: [...numbers], t: Date.now() }]);
    });
  }

  async finishTrial(
    studyId: string,
    number: number,
    state: Exclude<TrialState, 'RUNNING'>,
    value: number | null,
    attrs: Record<string, unknown> = {},
  ): Promise<TrialRecord> {
    return this.write(async (append) => {
      this.runningTrial(studyId, number);
      await append([{ op: 'finish', study: studyId, number, state, value: value === null ? null : encodeNumber(value), attrs, t: Date.now() }]);
      return this.snapshot(this.study(studyId).trials[number]);
    });
  }

  async getTrials(studyId: string): Promise<TrialRecord[]> {
    await this.catchUp();
    return this.study(studyId).trials.map((t) => this.snapshot(t));
  }

  async failStaleTrials(studyId: string, worker: WorkerIdentity, timeoutMs: number): Promise<number[]> {
    await this.catchUp();
    const isStale = (t: TrialState_, now: number): boolean =>
      t.state === 'RUNNING' && t.worker !== null && t.worker.id !== worker.id && (workerIsDead(t.worker, worker) || now - t.lastBeat > timeoutMs);
    if (!this.study(studyId).trials.some((t) => isStale(t, Date.now()))) return [];
    return this.write(async (append) => {
      const now = Date.now();
      const stale = this.study(studyId).trials.filter((t) => isStale(t, now));
      if (stale.length === 0) return [];
      await append(
        stale.map((t) => ({
          op: 'finish' as const,
          study: studyId,
          number: t.number,
          state: 'FAIL' as const,
          value: null,
          attrs: { crashed: true, reason: workerIsDead(t.worker as WorkerIdentity, worker) ? 'its worker process died' : `no heartbeat for ${Math.round((now - t.lastBeat) / 1000)} s` },
          t: now,
        })),
      );
      return stale.map((t) => t.number);
    });
  }

  async close(): Promise<void> {
    await this.queue;
  }
}

export function checkStudyName(name: string): void {
  if (!/^[\w.-]{1,200}$/u.test(name)) {
    throw new SpotmlError('USAGE', `study name "${name}" must be 1-200 letters, digits, '.', '-' or '_'`, { flag: '--study' });
  }
}

// ------------------------------------------------------------------ the lock file

