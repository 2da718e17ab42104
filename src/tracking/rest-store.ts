/**
 * TrackingStore over MLflow's REST API 2.0 (shared docs/mlflow.md §5). Primitives only, each one request
 * through `RestClient.call()`. Names, ids and artifact paths are validated before sending (same rules as
 * the file store), log-batch is split at MLflow's limits, `user_id` is sent in runs/create (the server does
 * not take it from the `mlflow.user` tag), and artifacts go through the `mlflow-artifacts` proxy — the only
 * artifact location a Node client can write over HTTP.
 *
 * Long values are cut to MLflow 2.x's limits (params 6000, tags 5000 characters) before sending, as the file
 * store cuts them: servers from MLflow 2.12 on truncate them too (mlflow/utils/validation.py
 * `_validate_length_limit(..., truncate=True)` under MLFLOW_TRUNCATE_LONG_VALUES), but older ones answer 400
 * and the whole batch, with its metrics, would be lost.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { SpotmlError } from '../errors.js';
import { MAX_PARAM_VALUE, MAX_TAG_VALUE, validateArtifactPath, validateExperimentId, validateKey, validateRunId } from './file-store/codec.js';
import type { CreateRunOptions, Experiment, LogBatch, Metric, Run, RunInfo, RunStatus, TrackingStore } from './store.js';
import {
  RestClient,
  decodeArray,
  decodeDouble,
  decodeInt,
  decodeString,
  encodeDouble,
  keyValues,
  toKeyValueList,
  type Json,
  type RestClientOptions,
} from './rest/client.js';
import { ARTIFACT_PROXY_PATH, LOG_BATCH_LIMITS } from './rest/endpoints.js';

const RUN_STATUSES: readonly RunStatus[] = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];
const PROXY_SCHEME = 'mlflow-artifacts:';

export type RestStoreOptions = RestClientOptions;

export class RestStore implements TrackingStore {
  readonly client: RestClient;
  readonly location: string;
  private readonly artifactUris = new Map<string, string>();

  constructor(options: RestStoreOptions | RestClient) {
    this.client = options instanceof RestClient ? options : new RestClient(options);
    this.location = this.client.baseUrl;
  }

  async createExperiment(name: string, tags: Record<string, string> = {}): Promise<string> {
    if (name.trim() === '' || name.length > 500) {
      throw new SpotmlError('INVALID_INPUT', `experiment name must be 1 to 500 characters, got "${name.slice(0, 40)}"`, { name });
    }
    for (const key of Object.keys(tags)) validateKey('tag', key);
    const body = await this.client.call('createExperiment', { name, tags: toKeyValueList(truncatedValues(tags, MAX_TAG_VALUE)) });
    return decodeString(body.experiment_id);
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    validateExperimentId(experimentId);
    const body = await this.client.call('getExperiment', { experiment_id: experimentId });
    return decodeExperiment(body.experiment);
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const body = await this.client.call('getExperimentByName', { experiment_name: name });
      return decodeExperiment(body.experiment);
    } catch (err) {
      if (err instanceof SpotmlError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  async createRun(options: CreateRunOptions): Promise<RunInfo> {
    validateExperimentId(options.experimentId);
    const runName = options.runName ?? `spotml-${randomBytes(4).toString('hex')}`;
    const userId = options.userId ?? safeUser();
    const tags = { 'mlflow.runName': runName, 'mlflow.user': userId, 'mlflow.source.type': 'LOCAL', 'mlflow.source.name': 'spotml', ...options.tags };
    for (const key of Object.keys(tags)) validateKey('tag', key);
    const body = await this.client.call('createRun', {
      experiment_id: options.experimentId,
      user_id: userId,
      run_name: runName,
      start_time: options.startTime ?? Date.now(),
      tags: toKeyValueList(truncatedValues(tags, MAX_TAG_VALUE)),
    });
    const info = decodeRunInfo((body.run as Json | undefined)?.info);
    this.artifactUris.set(info.runId, info.artifactUri);
    return info;
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<RunInfo> {
    validateRunId(runId);
    const end = endTime ?? (status === 'RUNNING' ? undefined : Date.now());
    const body = await this.client.call('updateRun', { run_id: runId, status, ...(end !== undefined ? { end_time: end } : {}) });
    return decodeRunInfo(body.run_info);
  }

  async getRun(runId: string): Promise<Run> {
    validateRunId(runId);
    const body = await this.client.call('getRun', { run_id: runId });
    const run = (body.run ?? {}) as Json;
    const data = (run.data ?? {}) as Json;
    const info = decodeRunInfo(run.info);
    this.artifactUris.set(info.runId, info.artifactUri);
    return {
      info,
      data: { metrics: decodeArray(data.metrics).map(decodeMetric), params: keyValues(data.params), tags: keyValues(data.tags) },
    };
  }

  async listRuns(experimentId: string): Promise<RunInfo[]> {
    await this.getExperiment(experimentId); // NOT_FOUND for an unknown experiment, as the file store
    const out: RunInfo[] = [];
    let pageToken: string | undefined;
    do {
      const body = await this.client.call('searchRuns', {
        experiment_ids: [experimentId],
        run_view_type: 'ALL',
        max_results: 1000,
        order_by: ['attributes.start_time DESC'],
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      for (const run of decodeArray(body.runs)) out.push(decodeRunInfo(run.info));
      pageToken = decodeString(body.next_page_token) || undefined;
    } while (pageToken);
    return out.sort((a, b) => b.startTime - a.startTime);
  }

  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    validateRunId(runId);
    for (const m of batch.metrics ?? []) validateKey('metric', m.key);
    for (const p of batch.params ?? []) validateKey('param', p.key);
    for (const t of batch.tags ?? []) validateKey('tag', t.key);
    for (const chunk of splitLogBatch(batch)) {
      await this.client.call('logBatch', {
        run_id: runId,
        metrics: chunk.metrics.map(metricJson),
        params: chunk.params,
        tags: chunk.tags,
      });
    }
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    validateRunId(runId);
    validateKey('metric', key);
    const out: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const body = await this.client.call('getMetricHistory', {
        run_id: runId,
        metric_key: key,
        max_results: 25_000,
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      for (const m of decodeArray(body.metrics)) out.push(decodeMetric(m));
      pageToken = decodeString(body.next_page_token) || undefined;
    } while (pageToken);
    return out;
  }

  // ---- artifacts, through the mlflow-artifacts proxy ----

  /** The proxy path of the run's artifact root ("<exp>/<run>/artifacts"), or a clear error for other schemes. */
  async artifactRoot(runId: string): Promise<string> {
    validateRunId(runId);
    let uri = this.artifactUris.get(runId);
    if (uri === undefined) {
      uri = (await this.getRun(runId)).info.artifactUri;
    }
    return proxyPathOf(runId, uri);
  }

  async logArtifact(runId: string, localPath: string, artifactPath = ''): Promise<void> {
    validateArtifactPath(artifactPath);
    const source = resolve(localPath);
    const info = await stat(source).catch(() => {
      throw new SpotmlError('NOT_FOUND', `artifact source ${localPath} does not exist`, { path: localPath });
    });
    if (!info.isDirectory()) {
      await this.writeArtifact(runId, joinArtifactPath(artifactPath, basename(source)), await readFile(source));
      return;
    }
    for (const file of await listFilesRecursively(source)) {
      const rel = relative(source, file).split('\\').join('/');
      await this.writeArtifact(runId, joinArtifactPath(artifactPath, rel), await readFile(file));
    }
  }

  async writeArtifact(runId: string, artifactPath: string, content: Uint8Array | string): Promise<void> {
    validateArtifactPath(artifactPath);
    if (artifactPath === '') throw new SpotmlError('INVALID_INPUT', 'artifact path must name a file', {});
    const root = await this.artifactRoot(runId);
    await this.client.request({
      method: 'PUT',
      path: `${ARTIFACT_PROXY_PATH}/${encodePath(`${root}/${artifactPath}`)}`,
      body: typeof content === 'string' ? Buffer.from(content, 'utf8') : content,
      contentType: 'application/octet-stream',
    });
  }

  async listArtifacts(runId: string, path = ''): Promise<{ path: string; isDir: boolean; size?: number }[]> {
    validateArtifactPath(path);
    const root = await this.artifactRoot(runId);
    const response = await this.client.request({ method: 'GET', path: ARTIFACT_PROXY_PATH, query: { path: joinArtifactPath(root, path) } });
    const body = (await response.json()) as Json;
    return decodeArray(body.files)
      .map((f) => {
        const entry: { path: string; isDir: boolean; size?: number } = { path: joinArtifactPath(path, basename(decodeString(f.path))), isDir: f.is_dir === true };
        if (!entry.isDir && f.file_size !== undefined) entry.size = decodeInt(f.file_size);
        return entry;
      })
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  async downloadArtifact(runId: string, artifactPath: string, destination?: string): Promise<string> {
    validateArtifactPath(artifactPath);
    const parent = artifactPath.includes('/') ? artifactPath.slice(0, artifactPath.lastIndexOf('/')) : '';
    const entry = artifactPath === '' ? { isDir: true } : (await this.listArtifacts(runId, parent)).find((a) => a.path === artifactPath);
    if (!entry) throw new SpotmlError('NOT_FOUND', `run ${runId} has no artifact "${artifactPath}"`, { runId, artifactPath });
    const target = destination ?? join(await mkdtemp(join(tmpdir(), 'spotml-artifacts-')), basename(artifactPath) || 'artifacts');
    if (!entry.isDir) {
      await this.downloadFile(runId, artifactPath, target);
      return target;
    }
    await mkdir(target, { recursive: true });
    const pending = [artifactPath];
    while (pending.length > 0) {
      const dir = pending.pop() as string;
      for (const child of await this.listArtifacts(runId, dir)) {
        const local = join(target, artifactPath === '' ? child.path : child.path.slice(artifactPath.length + 1));
        if (child.isDir) pending.push(child.path);
        else await this.downloadFile(runId, child.path, local);
      }
    }
    return target;
  }

  private async downloadFile(runId: string, artifactPath: string, target: string): Promise<void> {
    const root = await this.artifactRoot(runId);
    const response = await this.client.request({ method: 'GET', path: `${ARTIFACT_PROXY_PATH}/${encodePath(`${root}/${artifactPath}`)}` });
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, new Uint8Array(await response.arrayBuffer()));
  }
}

export interface LogBatchChunk {
  metrics: Metric[];
  params: { key: string; value: string }[];
  tags: { key: string; value: string }[];
}

/** Room for the request's envelope (`{"run_id":"…","metrics":[],"params":[],"tags":[]}`) under the byte limit. */
const ENVELOPE_BYTES = 200;

/**
 * Splits a batch so each request holds ≤ 1000 metrics, ≤ 100 params, ≤ 100 tags, ≤ 1000 entities and a
 * JSON body ≤ 1 MB (MLflow's documented log-batch limit, and nginx's default client_max_body_size, so a
 * server behind the usual proxy does not answer 413). Param and tag values are cut to MLflow 2.x's limits.
 */
export function splitLogBatch(batch: LogBatch): LogBatchChunk[] {
  const metrics = [...(batch.metrics ?? [])];
  const params = (batch.params ?? []).map((p) => ({ key: p.key, value: truncateValue(p.value, MAX_PARAM_VALUE) }));
  const tags = (batch.tags ?? []).map((t) => ({ key: t.key, value: truncateValue(t.value, MAX_TAG_VALUE) }));
  const chunks: LogBatchChunk[] = [];
  let m = 0;
  let p = 0;
  let t = 0;
  while (m < metrics.length || p < params.length || t < tags.length) {
    const chunk: LogBatchChunk = { metrics: [], params: [], tags: [] };
    let bytes = ENVELOPE_BYTES;
    let entities = 0;
    // Takes items while every limit holds; a chunk always takes at least one item, and no item comes near 1 MB.
    const fits = (item: unknown): boolean => {
      const size = Buffer.byteLength(JSON.stringify(item), 'utf8') + 1;
      if (entities > 0 && bytes + size > LOG_BATCH_LIMITS.bytes) return false;
      bytes += size;
      entities += 1;
      return true;
    };
    while (p < params.length && chunk.params.length < LOG_BATCH_LIMITS.params && entities < LOG_BATCH_LIMITS.total && fits(params[p])) chunk.params.push(params[p++]);
    while (t < tags.length && chunk.tags.length < LOG_BATCH_LIMITS.tags && entities < LOG_BATCH_LIMITS.total && fits(tags[t])) chunk.tags.push(tags[t++]);
    while (m < metrics.length && chunk.metrics.length < LOG_BATCH_LIMITS.metrics && entities < LOG_BATCH_LIMITS.total && fits(metricJson(metrics[m]))) {
      chunk.metrics.push(metrics[m++]);
    }
    chunks.push(chunk);
  }
  return chunks;
}

/** A metric as log-batch sends it: int64 fields as whole numbers, non-finite doubles as protobuf's strings. */
function metricJson(m: Metric): { key: string; value: number | string; timestamp: number; step: number } {
  return { key: m.key, value: encodeDouble(m.value), timestamp: Math.trunc(m.timestamp), step: Math.trunc(m.step) };
}

/** MLflow counts characters as Python does (code points), so a cut never splits a surrogate pair. */
export function truncateValue(value: string, limit: number): string {
  if (value.length <= limit) return value;
  const points = Array.from(value);
  return points.length <= limit ? value : points.slice(0, limit).join('');
}

function truncatedValues(record: Record<string, string>, limit: number): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, truncateValue(value, limit)]));
}

/** `mlflow-artifacts:/<P>` or `mlflow-artifacts://host/<P>` → `<P>`; anything else cannot be written over HTTP. */
export function proxyPathOf(runId: string, artifactUri: string): string {
  if (!artifactUri.startsWith(PROXY_SCHEME)) {
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(artifactUri)?.[0] ?? 'a local path';
    throw new SpotmlError(
      'STORE',
      `run ${runId} keeps artifacts at ${artifactUri} (${scheme}), which spotml cannot read or write over HTTP; start the MLflow server with --serve-artifacts (the default since 2.0) so runs get mlflow-artifacts:/ URIs`,
      { runId, artifactUri },
    );
  }
  let rest = artifactUri.slice(PROXY_SCHEME.length);
  if (rest.startsWith('//')) rest = new URL(artifactUri).pathname;
  return decodeURIComponent(rest).replace(/^\/+/, '').replace(/\/+$/, '');
}

function joinArtifactPath(a: string, b: string): string {
  if (a === '') return b;
  if (b === '') return a;
  return `${a}/${b}`;
}

function encodePath(path: string): string {
  return path
    .split('/')
    .map((part) => encodeURIComponent(part))
    .join('/');
}

async function listFilesRecursively(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFilesRecursively(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

function decodeExperiment(value: unknown): Experiment {
  const e = (value ?? {}) as Json;
  const experiment: Experiment = {
    experimentId: decodeString(e.experiment_id),
    name: decodeString(e.name),
    artifactLocation: decodeString(e.artifact_location),
    lifecycleStage: e.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
    tags: keyValues(e.tags),
  };
  if (e.creation_time !== undefined) experiment.creationTime = decodeInt(e.creation_time);
  if (e.last_update_time !== undefined) experiment.lastUpdateTime = decodeInt(e.last_update_time);
  return experiment;
}

function decodeRunInfo(value: unknown): RunInfo {
  const r = (value ?? {}) as Json;
  const status = decodeString(r.status) as RunStatus;
  return {
    runId: decodeString(r.run_id) || decodeString(r.run_uuid),
    experimentId: decodeString(r.experiment_id),
    runName: decodeString(r.run_name),
    userId: decodeString(r.user_id),
    status: RUN_STATUSES.includes(status) ? status : 'RUNNING',
    startTime: decodeInt(r.start_time),
    endTime: r.end_time === undefined || r.end_time === null ? null : decodeInt(r.end_time),
    artifactUri: decodeString(r.artifact_uri),
    lifecycleStage: r.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
  };
}

function decodeMetric(m: Json): Metric {
  return { key: decodeString(m.key), value: decodeDouble(m.value), timestamp: decodeInt(m.timestamp), step: decodeInt(m.step) };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? '';
  }
}
