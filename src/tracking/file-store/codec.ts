/**
 * The only module that knows MLflow's file-store formats (see shared docs/mlflow.md §2):
 * meta.yaml for experiments and runs (keys sorted, ids as quoted strings, status as an int),
 * metric lines "<timestamp_ms> <value> <step>", and the name rules that keep paths safe.
 */
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { SpotmlError } from '../../errors.js';
import type { Experiment, Metric, RunInfo, RunStatus } from '../store.js';

const STATUS_TO_INT: Record<RunStatus, number> = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 };
const INT_TO_STATUS: Record<number, RunStatus> = { 1: 'RUNNING', 2: 'SCHEDULED', 3: 'FINISHED', 4: 'FAILED', 5: 'KILLED' };

const KEY_PATTERN = /^[/\p{L}\p{N}_.\- ]*$/u;
const RUN_ID_PATTERN = /^[a-zA-Z0-9][\w-]{0,255}$/;
const EXPERIMENT_ID_PATTERN = /^[a-zA-Z0-9][\w-]{0,63}$/;
export const MAX_KEY_LENGTH = 250;
export const MAX_PARAM_VALUE = 6000;
export const MAX_TAG_VALUE = 5000;

/** Dumps YAML the way MLflow's safe loader reads it: sorted keys, block style. */
export function dumpYaml(value: Record<string, unknown>): string {
  return stringifyYaml(value, { sortMapEntries: true, lineWidth: 0, nullStr: 'null' });
}

export function loadYaml(text: string, file: string): Record<string, unknown> {
  const data: unknown = parseYaml(text);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new SpotmlError('STORE', `${file} is not a YAML mapping; the store may be damaged`, { file });
  }
  return data as Record<string, unknown>;
}

export function encodeExperiment(e: Experiment): string {
  return dumpYaml({
    artifact_location: e.artifactLocation,
    creation_time: e.creationTime ?? null,
    experiment_id: e.experimentId,
    last_update_time: e.lastUpdateTime ?? null,
    lifecycle_stage: e.lifecycleStage,
    name: e.name,
  });
}

export function decodeExperiment(meta: Record<string, unknown>, tags: Record<string, string>): Experiment {
  return {
    experimentId: String(meta.experiment_id),
    name: String(meta.name),
    artifactLocation: String(meta.artifact_location ?? ''),
    lifecycleStage: meta.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
    creationTime: typeof meta.creation_time === 'number' ? meta.creation_time : undefined,
    lastUpdateTime: typeof meta.last_update_time === 'number' ? meta.last_update_time : undefined,
    tags,
  };
}

/** All 15 keys of the 2.x-compatible superset (run_id and run_uuid both). */
export function encodeRunInfo(r: RunInfo): string {
  return dumpYaml({
    artifact_uri: r.artifactUri,
    end_time: r.endTime,
    entry_point_name: '',
    experiment_id: r.experimentId,
    lifecycle_stage: r.lifecycleStage,
    run_id: r.runId,
    run_name: r.runName,
    run_uuid: r.runId,
    source_name: '',
    source_type: 4,
    source_version: '',
    start_time: r.startTime,
    status: STATUS_TO_INT[r.status],
    tags: [],
    user_id: r.userId,
  });
}

export function decodeRunInfo(meta: Record<string, unknown>): RunInfo {
  const runId = String(meta.run_id ?? meta.run_uuid);
  const status = typeof meta.status === 'number' ? INT_TO_STATUS[meta.status] : (meta.status as RunStatus | undefined);
  return {
    runId,
    experimentId: String(meta.experiment_id),
    runName: typeof meta.run_name === 'string' ? meta.run_name : '',
    userId: typeof meta.user_id === 'string' ? meta.user_id : '',
    status: status ?? 'RUNNING',
    startTime: Number(meta.start_time ?? 0),
    endTime: typeof meta.end_time === 'number' ? meta.end_time : null,
    artifactUri: String(meta.artifact_uri ?? ''),
    lifecycleStage: meta.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
  };
}

export function encodeMetricLine(m: Metric): string {
  return `${Math.trunc(m.timestamp)} ${formatMetricValue(m.value)} ${Math.trunc(m.step)}\n`;
}

/** Python's float() reads these; JS prints Infinity/NaN with the same spelling. */
function formatMetricValue(value: number): string {
  return String(value);
}

export function decodeMetricLines(key: string, text: string, file: string): Metric[] {
  const out: Metric[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(' ');
    if (fields.length !== 2 && fields.length !== 3 && fields.length !== 5) {
      throw new SpotmlError('STORE', `${file}: metric line "${line}" does not have 2, 3 or 5 fields`, { file });
    }
    out.push({ key, timestamp: Number(fields[0]), value: Number(fields[1]), step: fields.length >= 3 ? Number(fields[2]) : 0 });
  }
  return out;
}

/** Latest value: the max by (step, timestamp, value), as MLflow. */
export function latestMetric(history: readonly Metric[]): Metric | undefined {
  let best: Metric | undefined;
  for (const m of history) {
    if (
      !best ||
      m.step > best.step ||
      (m.step === best.step && (m.timestamp > best.timestamp || (m.timestamp === best.timestamp && m.value > best.value)))
    ) {
      best = m;
    }
  }
  return best;
}

/** Metric, param and tag keys: MLflow 2.x charset, normalised, ≤ 250 characters. */
export function validateKey(kind: 'metric' | 'param' | 'tag', key: string): void {
  const bad = (why: string): never => {
    throw new SpotmlError('INVALID_INPUT', `invalid ${kind} name "${key}": ${why}`, { kind, key });
  };
  if (key.length === 0) bad('it is empty');
  if (key.length > MAX_KEY_LENGTH) bad(`longer than ${MAX_KEY_LENGTH} characters`);
  if (!KEY_PATTERN.test(key)) bad('use letters, digits, "_", "-", ".", " " and "/" only');
  if (key.startsWith('/') || key.endsWith('/') || key.includes('//') || key.split('/').some((p) => p === '..' || p === '.')) {
    bad('it must be a normalised relative path (no "..", "." or leading "/")');
  }
}

export function validateRunId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new SpotmlError('INVALID_INPUT', `invalid run id "${runId}": expected letters, digits, "_" or "-"`, { runId });
  }
}

export function validateExperimentId(experimentId: string): void {
  if (!EXPERIMENT_ID_PATTERN.test(experimentId)) {
    throw new SpotmlError('INVALID_INPUT', `invalid experiment id "${experimentId}"`, { experimentId });
  }
}

/** An artifact path is relative, normalised, and cannot climb out of the run's folder. */
export function validateArtifactPath(path: string): void {
  if (path === '') return;
  const parts = path.split('/');
  if (path.startsWith('/') || path.includes('\\') || path.includes('\0') || parts.some((p) => p === '..' || p === '.' || p === '')) {
    throw new SpotmlError('INVALID_INPUT', `invalid artifact path "${path}": use a relative path without ".." segments`, { path });
  }
}
