/**
 * Study storage in PostgreSQL, so workers on many machines can share one study (`--storage postgresql://…`).
 *
 * - Trial numbers: `createTrial` locks the study row (`SELECT … FOR UPDATE`), reads the trials, asks for the
 *   proposal, inserts trial `next_number` and bumps it, all in one transaction: numbers are dense and unique
 *   and each proposal sees every trial created before it.
 * - Finished trials never change: updates carry `WHERE state = 'RUNNING'`.
 * - Liveness: workers stamp `heartbeat_at` with the database clock (so machines' clocks do not matter);
 *   a running trial whose stamp is older than the timeout, or whose process on the same host is gone,
 *   is failed by whichever worker looks next (marked crashed, so it does not count toward a trial cap).
 * - The schema is created on first use under an advisory lock, so concurrent first workers do not race.
 */
import pg from 'pg';
import { SpotmlError } from '../../errors.js';
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

const SCHEMA_LOCK_KEY = 0x5707_4d4c;
const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS spotml_studies (
     id BIGSERIAL PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     attrs JSONB NOT NULL DEFAULT '{}'::jsonb,
     created_at BIGINT NOT NULL,
     next_number INTEGER NOT NULL DEFAULT 0
   )`,
  `CREATE TABLE IF NOT EXISTS spotml_trials (
     study_id BIGINT NOT NULL REFERENCES spotml_studies(id) ON DELETE CASCADE,
     number INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL')),
     params JSONB NOT NULL,
     value DOUBLE PRECISION,
     intermediate JSONB NOT NULL DEFAULT '{}'::jsonb,
     attrs JSONB NOT NULL DEFAULT '{}'::jsonb,
     worker JSONB,
     started_at BIGINT NOT NULL,
     finished_at BIGINT,
     heartbeat_at BIGINT NOT NULL,
     PRIMARY KEY (study_id, number)
   )`,
  `CREATE INDEX IF NOT EXISTS spotml_trials_running ON spotml_trials (study_id) WHERE state = 'RUNNING'`,
];

interface TrialRow {
  number: number;
  state: TrialState;
  params: Record<string, ParamValue>;
  value: number | null;
  intermediate: Record<string, number | string>;
  attrs: Record<string, unknown>;
  worker: unknown;
  started_at: string;
  finished_at: string | null;
  heartbeat_at: string;
}

interface StudyRow {
  id: string;
  name: string;
  attrs: Record<string, unknown>;
  created_at: string;
}

function encodeNumber(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function toRecord(row: TrialRow): TrialRecord {
  const intermediate: Record<number, number> = {};
  for (const [step, v] of Object.entries(row.intermediate)) intermediate[Number(step)] = typeof v === 'number' ? v : Number(v);
  return freezeTrial({
    number: row.number,
    state: row.state,
    params: row.params,
    value: row.value === null ? null : Number(row.value),
    intermediate,
    startedAt: Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    attrs: isWorkerIdentity(row.worker) ? { ...row.attrs, worker: row.worker } : row.attrs,
  });
}

function toStudy(row: StudyRow): StudyInfo {
  return Object.freeze({ id: String(row.id), name: row.name, createdAt: Number(row.created_at), attrs: Object.freeze({ ...row.attrs }) });
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgresql://…';
  }
}

/** How long to wait for a server that does not answer (a firewall dropping packets) before saying so. */
const CONNECT_TIMEOUT_MS = 15_000;

/** Why a connection failed, as one line naming the storage (without its password) and the fix. */
export function connectError(location: string, err: unknown): SpotmlError {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  let fix: string;
  if (code === '28P01' || /client password must be a string/.test(message)) {
    fix = 'put the user and password in --storage (postgresql://user:password@host/db) or set PGPASSWORD';
  } else if (code === '28000') {
    fix = 'put a user the server accepts in --storage (postgresql://user:password@host/db), or allow it in pg_hba.conf';
  } else if (code === '3D000') {
    fix = 'create the database (createdb) or fix its name in --storage';
  } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    fix = 'check the host name in --storage';
  } else {
    fix = 'check the host and port in --storage and that PostgreSQL is running';
  }
  const reason = /client password must be a string/.test(message) ? 'the server wants a password and none was given' : message.replace(/^SASL: /, '');
  return new SpotmlError('STORE', `cannot connect to ${location} (${reason}): ${fix}`, { storage: location, ...(typeof code === 'string' ? { reason: code } : {}) }, { cause: err });
}

/** Network errors, authentication, a missing database, the server shutting down, or no connection in time. */
function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^(E[A-Z_]+|28\w{3}|3D000|57P0[1-3])$/.test(code)) return true;
  return err instanceof Error && /timeout exceeded when trying to connect|Connection terminated|client password must be a string/.test(err.message);
}

export class PostgresStudyStorage implements StudyStorage {
  readonly location: string;
  private readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;

  constructor(url: string, options: { poolSize?: number; connectTimeoutMs?: number } = {}) {
    this.location = redactUrl(url);
    this.pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 4, connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  private async init(): Promise<void> {
    this.ready ??= this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      for (const statement of SCHEMA) await client.query(statement);
    }).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw connectError(this.location, err);
    }
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    await this.init();
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      if (err instanceof SpotmlError) throw err;
      if (isConnectionFailure(err)) throw connectError(this.location, err);
      throw new SpotmlError('STORE', `study storage ${this.location}: ${(err as Error).message}`, { storage: this.location });
    }
  }

  async getOrCreateStudy(name: string, attrs: Record<string, unknown>): Promise<{ study: StudyInfo; created: boolean }> {
    const inserted = await this.query<StudyRow>(
      `INSERT INTO spotml_studies (name, attrs, created_at) VALUES ($1, $2::jsonb, $3) ON CONFLICT (name) DO NOTHING RETURNING *`,
      [name, JSON.stringify(attrs), Date.now()],
    );
    if (inserted.length > 0) return { study: toStudy(inserted[0]), created: true };
    const study = await this.getStudy(name);
    if (!study) throw new SpotmlError('STORE', `study "${name}" vanished while being opened in ${this.location}`, {});
    return { study, created: false };
  }

  async getStudy(name: string): Promise<StudyInfo | undefined> {
    const rows = await this.query<StudyRow>('SELECT * FROM spotml_studies WHERE name = $1', [name]);
    return rows.length > 0 ? toStudy(rows[0]) : undefined;
  }

  async listStudies(): Promise<StudyInfo[]> {
    return (await this.query<StudyRow>('SELECT * FROM spotml_studies ORDER BY id', [])).map(toStudy);
  }

  async deleteStudy(name: string): Promise<boolean> {
    // Its trials go with it (ON DELETE CASCADE); a study created later under the name gets a new id.
    return (await this.query('DELETE FROM spotml_studies WHERE name = $1 RETURNING id', [name])).length > 0;
  }

  async setStudyAttrOnce(studyId: string, key: string, value: unknown): Promise<unknown> {
    await this.query(`UPDATE spotml_studies SET attrs = attrs || jsonb_build_object($2::text, $3::jsonb) WHERE id = $1 AND NOT (attrs ? $2)`, [
      studyId,
      key,
      JSON.stringify(value),
    ]);
    const rows = await this.query<{ v: unknown }>('SELECT attrs -> $2 AS v FROM spotml_studies WHERE id = $1', [studyId, key]);
    if (rows.length === 0) throw this.noStudy(studyId);
    return rows[0].v;
  }

  private noStudy(studyId: string): SpotmlError {
    return new SpotmlError('NOT_FOUND', `study id ${studyId} is not in ${this.location}`, { study: studyId });
  }

  async createTrial(studyId: string, worker: WorkerIdentity, propose: ProposeFn, options: CreateTrialOptions = {}): Promise<TrialRecord | null> {
    await this.init();
    return this.transaction(async (client) => {
      const locked = await client.query<{ next_number: number }>('SELECT next_number FROM spotml_studies WHERE id = $1 FOR UPDATE', [studyId]);
      if (locked.rows.length === 0) throw this.noStudy(studyId);
      const number = locked.rows[0].next_number;
      const trials = (await client.query<TrialRow>('SELECT * FROM spotml_trials WHERE study_id = $1 ORDER BY number', [studyId])).rows.map(toRecord);
      if (options.maxTrials !== undefined && trials.filter(countsTowardCap).length >= options.maxTrials) return null;
      const proposal = propose(trials, number);
      if (!proposal) return null;
      const inserted = await client.query<TrialRow>(
        `INSERT INTO spotml_trials (study_id, number, state, params, attrs, worker, started_at, heartbeat_at)
         VALUES ($1, $2, 'RUNNING', $3::jsonb, $4::jsonb, $5::jsonb, $6, ${NOW_MS}) RETURNING *`,
        [studyId, number, JSON.stringify(proposal.params), JSON.stringify(proposal.attrs ?? {}), JSON.stringify(worker), Date.now()],
      );
      await client.query('UPDATE spotml_studies SET next_number = $2 WHERE id = $1', [studyId, number + 1]);
      return toRecord(inserted.rows[0]);
    });
  }

  private async assertUpdated(studyId: string, number: number, updated: number): Promise<void> {
    if (updated > 0) return;
    const rows = await this.query<{ state: string }>('SELECT state FROM spotml_trials WHERE study_id = $1 AND number = $2', [studyId, number]);
    if (rows.length === 0) throw new SpotmlError('NOT_FOUND', `study ${studyId} has no trial ${number}`, { study: studyId, trial: number });
    throw new SpotmlError('INTERNAL', `trial ${number} is already ${rows[0].state} and cannot be updated`, { study: studyId, trial: number });
  }

  async reportIntermediate(studyId: string, number: number, step: number, value: number): Promise<void> {
    const rows = await this.query(
      `UPDATE spotml_trials SET intermediate = intermediate || jsonb_build_object($3::text, $4::jsonb), heartbeat_at = ${NOW_MS}
       WHERE study_id = $1 AND number = $2 AND state = 'RUNNING' RETURNING number`,
      [studyId, number, String(step), JSON.stringify(encodeNumber(value))],
    );
    await this.assertUpdated(studyId, number, rows.length);
  }

  async heartbeat(studyId: string, worker: WorkerIdentity, numbers: readonly number[]): Promise<void> {
    if (numbers.length === 0) return;
    await this.query(
      `UPDATE spotml_trials SET heartbeat_at = ${NOW_MS} WHERE study_id = $1 AND number = ANY($2::int[]) AND state = 'RUNNING' AND worker ->> 'id' = $3`,
      [studyId, [...numbers], worker.id],
    );
  }

  async finishTrial(
    studyId: string,
    number: number,
    state: Exclude<TrialState, 'RUNNING'>,
    value: number | null,
    attrs: Record<string, unknown> = {},
  ): Promise<TrialRecord> {
    const rows = await this.query<TrialRow>(
      `UPDATE spotml_trials SET state = $3, value = $4, attrs = attrs || $5::jsonb, finished_at = $6
       WHERE study_id = $1 AND number = $2 AND state = 'RUNNING' RETURNING *`,
      [studyId, number, state, value, JSON.stringify(attrs), Date.now()],
    );
    await this.assertUpdated(studyId, number, rows.length);
    return toRecord(rows[0]);
  }

  async getTrials(studyId: string): Promise<TrialRecord[]> {
    return (await this.query<TrialRow>('SELECT * FROM spotml_trials WHERE study_id = $1 ORDER BY number', [studyId])).map(toRecord);
  }

  async failStaleTrials(studyId: string, worker: WorkerIdentity, timeoutMs: number): Promise<number[]> {
    const running = await this.query<{ number: number; worker: unknown; age: string }>(
      `SELECT number, worker, ${NOW_MS} - heartbeat_at AS age FROM spotml_trials WHERE study_id = $1 AND state = 'RUNNING'`,
      [studyId],
    );
    const dead: number[] = [];
    const silent: number[] = [];
    for (const row of running) {
      if (!isWorkerIdentity(row.worker) || row.worker.id === worker.id) continue;
      if (workerIsDead(row.worker, worker)) dead.push(row.number);
      else if (Number(row.age) > timeoutMs) silent.push(row.number);
    }
    const failed: number[] = [];
    const fail = async (numbers: number[], reason: string, extra: string): Promise<void> => {
      if (numbers.length === 0) return;
      const rows = await this.query<{ number: number }>(
        `UPDATE spotml_trials SET state = 'FAIL', finished_at = $3, attrs = attrs || $4::jsonb
         WHERE study_id = $1 AND number = ANY($2::int[]) AND state = 'RUNNING' ${extra} RETURNING number`,
        [studyId, numbers, Date.now(), JSON.stringify({ crashed: true, reason }), ...(extra ? [timeoutMs] : [])],
      );
      failed.push(...rows.map((r) => r.number));
    };
    await fail(dead, 'its worker process died', '');
    // Re-check the age in the UPDATE itself: a beat may have landed since the SELECT.
    await fail(silent, `no heartbeat for over ${Math.round(timeoutMs / 1000)} s`, `AND ${NOW_MS} - heartbeat_at > $5`);
    return failed.sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
