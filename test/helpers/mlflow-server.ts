/**
 * A strict in-process MLflow tracking + registry server for tests (node:http, in memory), following
 * shared docs/mlflow.md §5 as a real MLflow 2.x server answers:
 * - errors are `{"error_code","message"}` with MLflow's code→status table (RESOURCE_ALREADY_EXISTS → 400,
 *   an unknown alias → 400, missing → 404), unknown routes an HTML 404, a wrong method an HTML 405;
 * - POST without `Content-Type: application/json` → 400; PATCH/DELETE bodies parsed as JSON regardless;
 * - protobuf JSON types are enforced (a number where a string is expected → 400; model `version` is a
 *   string in requests and responses; int64 accepted as number or numeric string, answered as numbers;
 *   doubles accept "NaN"/"Infinity"); unset/empty fields are omitted from answers;
 * - log-batch limits (1000 metrics / 100 params / 100 tags / 1000 entities / 1 MB), key charset and
 *   normalisation rules, immutable params, max_results limits per endpoint, alias rules;
 * - the mlflow-artifacts proxy (PUT/GET/DELETE a file, GET ?path= to list basenames) and artifacts/list;
 * - optional Basic or Bearer auth (401 text/plain) and read-only users (403 PERMISSION_DENIED).
 * Test hooks: `failNext` (HTTP errors), `dropNext` (reset connections), and a log of every request.
 * It never ships in src/.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MlflowServerOptions {
  /** Artifact root for new experiments: 'mlflow-artifacts:' (proxied, default), or e.g. 's3://bucket/mlruns'. */
  artifactRoot?: string;
  /** false answers 503 on the proxy, like `mlflow server --no-serve-artifacts`. */
  serveArtifacts?: boolean;
  auth?: { bearer?: string; basic?: { username: string; password: string }[] };
  /** Basic-auth users whose mutating requests answer 403 PERMISSION_DENIED. */
  readOnlyUsers?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string[]>;
  headers: Record<string, string | string[] | undefined>;
  json?: unknown;
  bodyBytes: number;
}

export interface MlflowTestServer {
  url: string;
  requests: RecordedRequest[];
  /** The next `count` API requests answer `status` (JSON error body), optionally with a Retry-After header. */
  failNext(count: number, status: number, retryAfter?: string): void;
  /** The next `count` API requests have their connection destroyed (a network error for the client). */
  dropNext(count: number): void;
  /** Raw access to the artifact bytes by proxy path. */
  artifacts: Map<string, Buffer>;
  close(): Promise<void>;
}

const STATUS_BY_CODE: Record<string, number> = {
  BAD_REQUEST: 400,
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_DOES_NOT_EXIST: 404,
  NOT_FOUND: 404,
  ENDPOINT_NOT_FOUND: 404,
  ABORTED: 409,
  RESOURCE_CONFLICT: 409,
  REQUEST_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
};

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string): ApiError => new ApiError('INVALID_PARAMETER_VALUE', message);
const missing = (message: string): ApiError => new ApiError('RESOURCE_DOES_NOT_EXIST', message);

// ---------------------------------------------------------------- request parameters (protobuf JSON rules)

type Json = Record<string, unknown>;

class Params {
  constructor(
    private readonly data: Json,
    private readonly fromQuery: boolean,
  ) {}

  /** The field as sent, untyped (for fields checked by a later step). */
  get(name: string): unknown {
    return this.data[name];
  }

  has(name: string): boolean {
    return this.data[name] !== undefined && this.data[name] !== null;
  }

  private raw(name: string): unknown {
    const value = this.data[name];
    // A query parameter given several times is an array; scalars take the last value.
    return this.fromQuery && Array.isArray(value) ? value[value.length - 1] : value;
  }

  str(name: string, required = false): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) {
      if (required) throw invalid(`Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`);
      return undefined;
    }
    if (typeof value !== 'string') throw invalid(`Invalid value ${JSON.stringify(value)} for parameter '${name}' supplied: expected a string.`);
    return value;
  }

  reqStr(name: string): string {
    const value = this.str(name, true) as string;
    if (value === '') throw invalid(`Missing value for required parameter '${name}'.`);
    return value;
  }

  int64(name: string, required = false): number | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) {
      if (required) throw invalid(`Missing value for required parameter '${name}'.`);
      return undefined;
    }
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n)) throw invalid(`Invalid value ${JSON.stringify(value)} for parameter '${name}' supplied: expected an int64.`);
    return n;
  }

  bool(name: string, required = false): boolean | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) {
      if (required) throw invalid(`Missing value for required parameter '${name}'.`);
      return undefined;
    }
    if (typeof value === 'boolean') return value;
    if (this.fromQuery && (value === 'true' || value === 'false')) return value === 'true';
    throw invalid(`Invalid value ${JSON.stringify(value)} for parameter '${name}' supplied: expected a bool.`);
  }

  strList(name: string): string[] {
    const value = this.data[name];
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    for (const item of list) if (typeof item !== 'string') throw invalid(`Invalid value for parameter '${name}': expected a list of strings.`);
    return list as string[];
  }

  objList(name: string): Json[] {
    const value = this.data[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || value.some((v) => v === null || typeof v !== 'object' || Array.isArray(v))) {
      throw invalid(`Invalid value for parameter '${name}': expected a list of objects.`);
    }
    return value as Json[];
  }
}

function doubleOf(value: unknown, field: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  throw invalid(`Invalid value ${JSON.stringify(value)} for parameter '${field}' supplied: expected a double.`);
}

function jsonDouble(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

/** Protobuf JSON output: unset (undefined/null) fields and empty repeated fields are omitted. */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (value !== null && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value as Json)) {
      if (v === undefined || v === null) continue;
      if (Array.isArray(v) && v.length === 0) continue;
      out[k] = clean(v);
    }
    return out;
  }
  return value;
}

// ---------------------------------------------------------------- MLflow's name rules

const NAME_PATTERN = /^[/\p{L}\p{N}_.\- ]*$/u;

function validateName(kind: 'metric' | 'param' | 'tag', name: unknown): string {
  if (typeof name !== 'string') throw invalid(`Invalid ${kind} name: expected a string, got ${JSON.stringify(name)}.`);
  if (!NAME_PATTERN.test(name)) {
    throw invalid(
      `Invalid ${kind} name: '${name}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`,
    );
  }
  const parts = name.split('/');
  const normalised = name !== '' && !name.startsWith('/') && !name.endsWith('/') && parts.every((p) => p !== '' && p !== '.' && p !== '..');
  if (!normalised) throw invalid(`Invalid ${kind} name: '${name}'. Names cannot refer to parent or current directories, or be absolute or unnormalised paths.`);
  if (name.length > 250) throw invalid(`${kind} name '${name.slice(0, 20)}…' had length ${name.length}, which exceeded length limit of 250`);
  return name;
}

const ALIAS_PATTERN = /^[\p{L}\p{N}_-]*$/u;

function validateAlias(alias: string): void {
  if (alias === '') throw invalid('Registered model alias name cannot be empty.');
  if (!ALIAS_PATTERN.test(alias) || alias.length > 255) {
    throw invalid(`Invalid alias name: '${alias}'. Alias names may only contain alphanumerics, underscores (_) and dashes (-), up to 255 characters.`);
  }
  if (alias.toLowerCase() === 'latest' || /^v\d+$/i.test(alias)) {
    throw invalid(`'${alias}' alias name (case insensitive) is reserved.`);
  }
}

function validateModelName(name: string): void {
  if (name === '') throw invalid('Registered model name cannot be empty.');
  if (/[/\\%]/.test(name)) throw invalid(`Invalid name: '${name}'. Registered model name cannot contain path separators or '%'.`);
}

// ---------------------------------------------------------------- search filters and page tokens

interface Clause {
  key: string;
  op: string;
  value: string | number;
}

/** A small subset of MLflow's search grammar: `<ident> <op> <value>` joined by AND. */
function parseFilter(filter: string | undefined): Clause[] {
  if (!filter || filter.trim() === '') return [];
  const clauses: Clause[] = [];
  const parts = filter.split(/\s+AND\s+/i);
  for (const part of parts) {
    const match = /^\s*((?:[a-z_]+\.)?(?:`[^`]+`|"[^"]+"|[\w.\-/]+))\s*(=|!=|>=|<=|>|<|LIKE|ILIKE)\s*('(?:[^']*)'|"(?:[^"]*)"|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i.exec(part);
    if (!match) throw invalid(`Invalid filter '${filter}'. Could not parse clause '${part.trim()}'.`);
    const key = match[1].replace(/[`"]/g, '');
    const raw = match[3];
    const value = raw.startsWith("'") || raw.startsWith('"') ? raw.slice(1, -1) : Number(raw);
    clauses.push({ key, op: match[2].toUpperCase(), value });
  }
  return clauses;
}

function compare(actual: string | number | undefined, op: string, expected: string | number): boolean {
  if (actual === undefined) return false;
  switch (op) {
    case '=':
      return actual === expected || (typeof actual === 'number' && actual === Number(expected));
    case '!=':
      return actual !== expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case 'LIKE':
    case 'ILIKE': {
      const source = String(expected)
        .split('')
        .map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return new RegExp(`^${source}$`, op === 'ILIKE' ? 'is' : 's').test(String(actual));
    }
    default:
      return false;
  }
}

function maxResults(p: Params, fallback: number, limit: number): number {
  const value = p.int64('max_results') ?? fallback;
  if (value < 1 || value > limit) throw invalid(`Invalid value ${value} for parameter 'max_results' supplied. It must be at most ${limit}.`);
  return value;
}

function paged<T>(items: T[], p: Params, size: number): { page: T[]; next?: string } {
  const token = p.str('page_token');
  let offset = 0;
  if (token) {
    try {
      offset = (JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { offset: number }).offset;
    } catch {
      throw invalid(`Invalid page token, could not base64-decode`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid('Invalid page token');
  }
  const page = items.slice(offset, offset + size);
  return offset + size < items.length ? { page, next: Buffer.from(JSON.stringify({ offset: offset + size })).toString('base64') } : { page };
}

// ---------------------------------------------------------------- state

interface ExperimentRec {
  id: string;
  name: string;
  artifactLocation: string;
  lifecycle: 'active' | 'deleted';
  creationTime: number;
  lastUpdateTime: number;
  tags: Map<string, string>;
}

interface MetricRec {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

interface RunRec {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: string;
  startTime: number;
  endTime?: number;
  artifactUri: string;
  lifecycle: 'active' | 'deleted';
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: Map<string, MetricRec[]>;
}

interface VersionRec {
  name: string;
  version: number;
  creation: number;
  lastUpdated: number;
  stage: string;
  description?: string;
  source: string;
  runId?: string;
  runLink?: string;
  userId?: string;
  tags: Map<string, string>;
}

interface ModelRec {
  name: string;
  creation: number;
  lastUpdated: number;
  description?: string;
  tags: Map<string, string>;
  aliases: Map<string, number>;
  versions: Map<number, VersionRec>;
}

const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];
const STAGES = ['None', 'Staging', 'Production', 'Archived'];
const DELETED = 'Deleted_Internal';

const tagList = (tags: Map<string, string>): { key: string; value: string }[] => [...tags].map(([key, value]) => ({ key, value }));

class State {
  experiments = new Map<string, ExperimentRec>();
  runs = new Map<string, RunRec>();
  models = new Map<string, ModelRec>();
  artifacts = new Map<string, Buffer>();
  private nextExperimentId = 1;

  constructor(readonly artifactRoot: string) {
    this.addExperiment('Default', '0');
  }

  addExperiment(name: string, id = String(this.nextExperimentId++), artifactLocation?: string): ExperimentRec {
    const now = Date.now();
    const rec: ExperimentRec = {
      id,
      name,
      artifactLocation: artifactLocation ?? `${this.artifactRoot.replace(/\/+$/, '')}/${id}`,
      lifecycle: 'active',
      creationTime: now,
      lastUpdateTime: now,
      tags: new Map(),
    };
    this.experiments.set(id, rec);
    return rec;
  }

  experiment(id: string): ExperimentRec {
    const e = this.experiments.get(id);
    if (!e) throw missing(`No Experiment with id=${id} exists`);
    return e;
  }

  run(id: string): RunRec {
    const r = this.runs.get(id);
    if (!r) throw missing(`Run '${id}' not found`);
    return r;
  }

  activeRun(id: string): RunRec {
    const r = this.run(id);
    if (r.lifecycle !== 'active') throw invalid(`The run ${id} must be in the 'active' state. Current state is deleted.`);
    return r;
  }

  model(name: string): ModelRec {
    const m = this.models.get(name);
    if (!m) throw missing(`Registered Model with name=${name} not found`);
    return m;
  }

  version(name: string, version: string): VersionRec {
    if (!/^\d+$/.test(version)) throw invalid(`Model version must be an integer, got '${version}'`);
    const m = this.model(name);
    const v = m.versions.get(Number(version));
    if (!v || v.stage === DELETED) throw missing(`Model Version (name=${name}, version=${version}) not found`);
    return v;
  }

  touch(model: ModelRec, now = Date.now()): void {
    model.lastUpdated = now;
  }
}

// ---------------------------------------------------------------- JSON views

function experimentJson(e: ExperimentRec): Json {
  return {
    experiment_id: e.id,
    name: e.name,
    artifact_location: e.artifactLocation,
    lifecycle_stage: e.lifecycle,
    last_update_time: e.lastUpdateTime,
    creation_time: e.creationTime,
    tags: tagList(e.tags),
  };
}

function runInfoJson(r: RunRec): Json {
  return {
    run_uuid: r.runId,
    run_id: r.runId,
    experiment_id: r.experimentId,
    run_name: r.runName,
    user_id: r.userId,
    status: r.status,
    start_time: r.startTime,
    end_time: r.endTime,
    artifact_uri: r.artifactUri,
    lifecycle_stage: r.lifecycle,
  };
}

function latestMetric(history: MetricRec[]): MetricRec {
  let best = history[0];
  for (const m of history) {
    if (m.step > best.step || (m.step === best.step && (m.timestamp > best.timestamp || (m.timestamp === best.timestamp && m.value > best.value)))) best = m;
  }
  return best;
}

function metricJson(m: MetricRec): Json {
  return { key: m.key, value: jsonDouble(m.value), timestamp: m.timestamp, step: m.step };
}

function runJson(r: RunRec): Json {
  return {
    info: runInfoJson(r),
    data: {
      metrics: [...r.metrics.values()].map((h) => metricJson(latestMetric(h))),
      params: tagList(r.params),
      tags: tagList(r.tags),
    },
    inputs: {},
  };
}

function versionJson(m: ModelRec, v: VersionRec): Json {
  return {
    name: v.name,
    version: String(v.version),
    creation_timestamp: v.creation,
    last_updated_timestamp: v.lastUpdated,
    user_id: v.userId,
    current_stage: v.stage,
    description: v.description,
    source: v.source,
    run_id: v.runId,
    status: 'READY',
    tags: tagList(v.tags),
    run_link: v.runLink,
    aliases: [...m.aliases].filter(([, n]) => n === v.version).map(([a]) => a).sort(),
  };
}

function latestVersions(m: ModelRec, stages?: string[]): VersionRec[] {
  const best = new Map<string, VersionRec>();
  for (const v of m.versions.values()) {
    if (v.stage === DELETED || (stages && stages.length > 0 && !stages.includes(v.stage))) continue;
    const current = best.get(v.stage);
    if (!current || v.version > current.version) best.set(v.stage, v);
  }
  return [...best.values()];
}

function modelJson(m: ModelRec): Json {
  return {
    name: m.name,
    creation_timestamp: m.creation,
    last_updated_timestamp: m.lastUpdated,
    description: m.description,
    latest_versions: latestVersions(m).map((v) => versionJson(m, v)),
    tags: tagList(m.tags),
    aliases: [...m.aliases].map(([alias, version]) => ({ alias, version: String(version) })),
  };
}

function canonicalStage(stage: string): string {
  const found = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (!found) throw invalid(`Invalid Model Version stage: ${stage}. Value must be one of ${STAGES.join(', ')}.`);
  return found;
}

// ---------------------------------------------------------------- handlers

type Handler = (p: Params, s: State, ctx: { user?: string }) => Json;

function logBatchInto(run: RunRec, metrics: Json[], params: Json[], tags: Json[]): void {
  if (metrics.length > 1000) throw invalid(`A batch logging request can contain at most 1000 metrics. Got ${metrics.length} metrics. Please split up metrics across multiple requests and try again.`);
  if (params.length > 100) throw invalid(`A batch logging request can contain at most 100 params. Got ${params.length} params. Please split up params across multiple requests and try again.`);
  if (tags.length > 100) throw invalid(`A batch logging request can contain at most 100 tags. Got ${tags.length} tags. Please split up tags across multiple requests and try again.`);
  const total = metrics.length + params.length + tags.length;
  if (total > 1000) throw invalid(`A batch logging request can contain at most 1000 total metrics, params and tags. Got ${total}.`);
  const parsedMetrics = metrics.map((m) => {
    const key = validateName('metric', m.key);
    if (m.value === undefined) throw invalid(`Missing value for required parameter 'metrics[].value'.`);
    if (m.timestamp === undefined) throw invalid(`Missing value for required parameter 'metrics[].timestamp'.`);
    const p = new Params(m, false);
    return { key, value: doubleOf(m.value, 'value'), timestamp: p.int64('timestamp') as number, step: p.int64('step') ?? 0 };
  });
  const parsedParams = params.map((x) => {
    const key = validateName('param', x.key);
    if (typeof x.value !== 'string') throw invalid(`Invalid value for param '${key}': expected a string.`);
    return { key, value: x.value.slice(0, 6000) }; // MLflow truncates long values by default
  });
  const parsedTags = tags.map((x) => {
    const key = validateName('tag', x.key);
    if (typeof x.value !== 'string') throw invalid(`Invalid value for tag '${key}': expected a string.`);
    return { key, value: x.value.slice(0, 5000) };
  });
  const seen = new Map<string, string>();
  for (const p of parsedParams) {
    const before = seen.get(p.key) ?? run.params.get(p.key);
    if (before !== undefined && before !== p.value) {
      throw invalid(
        `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${before}' for run ID='${run.runId}'. Attempted logging new value '${p.value}'.`,
      );
    }
    seen.set(p.key, p.value);
  }
  for (const p of parsedParams) run.params.set(p.key, p.value);
  for (const t of parsedTags) {
    run.tags.set(t.key, t.value);
    if (t.key === 'mlflow.runName') run.runName = t.value;
  }
  for (const m of parsedMetrics) {
    const history = run.metrics.get(m.key) ?? [];
    history.push(m);
    run.metrics.set(m.key, history);
  }
}

function searchRunsHandler(p: Params, s: State): Json {
  const ids = p.strList('experiment_ids');
  const size = maxResults(p, 1000, 50_000);
  const view = p.str('run_view_type') ?? 'ACTIVE_ONLY';
  if (!['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'].includes(view)) throw invalid(`Invalid value '${view}' for parameter 'run_view_type'.`);
  const clauses = parseFilter(p.str('filter'));
  const runs = [...s.runs.values()].filter((r) => {
    if (!ids.includes(r.experimentId)) return false;
    if (view === 'ACTIVE_ONLY' && r.lifecycle !== 'active') return false;
    if (view === 'DELETED_ONLY' && r.lifecycle !== 'deleted') return false;
    return clauses.every((c) => {
      const [entity, ...rest] = c.key.split('.');
      const key = rest.join('.');
      if (entity === 'metrics' || entity === 'metric') {
        const h = r.metrics.get(key);
        return compare(h ? latestMetric(h).value : undefined, c.op, c.value);
      }
      if (entity === 'params' || entity === 'param') return compare(r.params.get(key), c.op, c.value);
      if (entity === 'tags' || entity === 'tag') return compare(r.tags.get(key), c.op, c.value);
      const attribute = entity === 'attributes' || entity === 'attribute' || entity === 'attr' || entity === 'run' ? key : c.key;
      const info = runInfoJson(r) as Record<string, string | number | undefined>;
      if (!(attribute in info)) throw invalid(`Invalid attribute key '${attribute}' specified.`);
      return compare(info[attribute], c.op, c.value);
    });
  });
  const order = p.strList('order_by');
  const [first] = order;
  const desc = !first || /\bDESC$/i.test(first.trim());
  const field = first ? first.trim().replace(/\s+(ASC|DESC)$/i, '').replace(/^attributes?\./, '') : 'start_time';
  runs.sort((a, b) => {
    const av = field.startsWith('metrics.') ? latestMetric(a.metrics.get(field.slice(8)) ?? [{ key: '', value: -Infinity, step: 0, timestamp: 0 }]).value : (runInfoJson(a)[field] as number | string);
    const bv = field.startsWith('metrics.') ? latestMetric(b.metrics.get(field.slice(8)) ?? [{ key: '', value: -Infinity, step: 0, timestamp: 0 }]).value : (runInfoJson(b)[field] as number | string);
    const cmp = av < bv ? -1 : av > bv ? 1 : a.runId < b.runId ? -1 : 1;
    return desc ? -cmp : cmp;
  });
  const { page, next } = paged(runs, p, size);
  return { runs: page.map(runJson), next_page_token: next };
}

const TRACKING: Record<string, Handler> = {
  'POST experiments/create': (p, s) => {
    const name = p.reqStr('name');
    if (name.length > 500) throw invalid(`Experiment name exceeds the maximum length of 500 characters`);
    if ([...s.experiments.values()].some((e) => e.name === name)) throw new ApiError('RESOURCE_ALREADY_EXISTS', `Experiment '${name}' already exists.`);
    const tags = p.objList('tags').map((t) => ({ key: validateName('tag', t.key), value: String(t.value ?? '') }));
    const e = s.addExperiment(name, undefined, p.str('artifact_location') || undefined);
    for (const t of tags) e.tags.set(t.key, t.value);
    return { experiment_id: e.id };
  },
  'GET experiments/get': (p, s) => ({ experiment: experimentJson(s.experiment(p.reqStr('experiment_id'))) }),
  'GET experiments/get-by-name': (p, s) => {
    const name = p.reqStr('experiment_name');
    const e = [...s.experiments.values()].find((x) => x.name === name);
    if (!e) throw missing(`Could not find experiment with name '${name}'`);
    return { experiment: experimentJson(e) };
  },
  'POST experiments/search': (p, s) => {
    const size = maxResults(p, 1000, 50_000);
    const view = p.str('view_type') ?? 'ACTIVE_ONLY';
    const clauses = parseFilter(p.str('filter'));
    const list = [...s.experiments.values()]
      .filter((e) => view === 'ALL' || (view === 'ACTIVE_ONLY') === (e.lifecycle === 'active'))
      .filter((e) => clauses.every((c) => (c.key === 'name' || c.key === 'attributes.name' ? compare(e.name, c.op, c.value) : c.key.startsWith('tags.') ? compare(e.tags.get(c.key.slice(5)), c.op, c.value) : false)))
      .sort((a, b) => b.creationTime - a.creationTime || (a.id < b.id ? 1 : -1));
    const { page, next } = paged(list, p, size);
    return { experiments: page.map(experimentJson), next_page_token: next };
  },
  'POST experiments/set-experiment-tag': (p, s) => {
    const e = s.experiment(p.reqStr('experiment_id'));
    const key = validateName('tag', p.str('key', true));
    e.tags.set(key, (p.str('value', true) as string).slice(0, 5000));
    return {};
  },
  'POST experiments/delete': (p, s) => {
    const id = p.reqStr('experiment_id');
    if (id === '0') throw invalid('Cannot delete the default experiment');
    const e = s.experiment(id);
    e.lifecycle = 'deleted';
    e.lastUpdateTime = Date.now();
    for (const r of s.runs.values()) if (r.experimentId === id) r.lifecycle = 'deleted';
    return {};
  },
  'POST experiments/restore': (p, s) => {
    const e = s.experiment(p.reqStr('experiment_id'));
    e.lifecycle = 'active';
    return {};
  },
  'POST experiments/update': (p, s) => {
    const e = s.experiment(p.reqStr('experiment_id'));
    const name = p.reqStr('new_name');
    if ([...s.experiments.values()].some((x) => x.name === name && x !== e)) throw new ApiError('RESOURCE_ALREADY_EXISTS', `Experiment '${name}' already exists.`);
    e.name = name;
    return {};
  },
  'POST runs/create': (p, s) => {
    const experimentId = p.str('experiment_id') ?? '0';
    const e = s.experiment(experimentId);
    if (e.lifecycle !== 'active') throw invalid(`The experiment ${experimentId} must be in the 'active' state. Current state is deleted.`);
    const tags = p.objList('tags');
    const tagName = tags.find((t) => t.key === 'mlflow.runName')?.value;
    const runName = p.str('run_name');
    if (runName && typeof tagName === 'string' && runName !== tagName) {
      throw invalid(`Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${runName}', mlflow.runName='${tagName}').`);
    }
    const name = runName || (typeof tagName === 'string' ? tagName : '') || `bright-fox-${randomBytes(2).readUInt16BE(0) % 1000}`;
    const runId = randomBytes(16).toString('hex');
    const run: RunRec = {
      runId,
      experimentId,
      runName: name,
      userId: p.str('user_id') ?? '',
      status: 'RUNNING',
      startTime: p.int64('start_time') ?? Date.now(),
      artifactUri: `${e.artifactLocation}/${runId}/artifacts`,
      lifecycle: 'active',
      params: new Map(),
      tags: new Map(),
      metrics: new Map(),
    };
    logBatchInto(run, [], [], tags);
    run.tags.set('mlflow.runName', name);
    s.runs.set(runId, run);
    return { run: runJson(run) };
  },
  'POST runs/update': (p, s) => {
    const id = p.str('run_id') || p.str('run_uuid');
    if (!id) throw invalid(`Missing value for required parameter 'run_id'.`);
    const run = s.activeRun(id);
    const status = p.str('status');
    if (status !== undefined) {
      if (!RUN_STATUSES.includes(status)) throw invalid(`Invalid value '${status}' for parameter 'status'.`);
      run.status = status;
    }
    const end = p.int64('end_time');
    if (end !== undefined) run.endTime = end;
    const name = p.str('run_name');
    if (name) {
      run.runName = name;
      run.tags.set('mlflow.runName', name);
    }
    return { run_info: runInfoJson(run) };
  },
  'GET runs/get': (p, s) => ({ run: runJson(s.run(p.str('run_id') || p.reqStr('run_uuid'))) }),
  'POST runs/search': searchRunsHandler,
  'POST runs/delete': (p, s) => {
    s.run(p.reqStr('run_id')).lifecycle = 'deleted';
    return {};
  },
  'POST runs/restore': (p, s) => {
    s.run(p.reqStr('run_id')).lifecycle = 'active';
    return {};
  },
  'POST runs/log-batch': (p, s) => {
    const run = s.activeRun(p.reqStr('run_id'));
    logBatchInto(run, p.objList('metrics'), p.objList('params'), p.objList('tags'));
    return {};
  },
  'POST runs/log-metric': (p, s) => {
    const run = s.activeRun(p.str('run_id') || p.reqStr('run_uuid'));
    if (!p.has('value')) throw invalid(`Missing value for required parameter 'value'.`);
    if (!p.has('timestamp')) throw invalid(`Missing value for required parameter 'timestamp'.`);
    logBatchInto(run, [{ key: p.str('key', true), value: p.get('value'), timestamp: p.int64('timestamp'), step: p.int64('step') ?? 0 }], [], []);
    return {};
  },
  'POST runs/log-parameter': (p, s) => {
    const run = s.activeRun(p.str('run_id') || p.reqStr('run_uuid'));
    logBatchInto(run, [], [{ key: p.str('key', true), value: p.str('value', true) }], []);
    return {};
  },
  'POST runs/set-tag': (p, s) => {
    const run = s.activeRun(p.str('run_id') || p.reqStr('run_uuid'));
    logBatchInto(run, [], [], [{ key: p.str('key', true), value: p.str('value', true) }]);
    return {};
  },
  'POST runs/delete-tag': (p, s) => {
    const run = s.activeRun(p.reqStr('run_id'));
    const key = p.reqStr('key');
    if (!run.tags.has(key)) throw missing(`No tag with name: ${key} in run with id ${run.runId}`);
    run.tags.delete(key);
    return {};
  },
  'GET metrics/get-history': (p, s) => {
    const run = s.run(p.str('run_id') || p.reqStr('run_uuid'));
    const key = p.reqStr('metric_key');
    const size = maxResults(p, 25_000, 25_000);
    const { page, next } = paged(run.metrics.get(key) ?? [], p, size);
    return { metrics: page.map(metricJson), next_page_token: next };
  },
  'GET artifacts/list': (p, s) => {
    const run = s.run(p.str('run_id') || p.reqStr('run_uuid'));
    const path = p.str('path') ?? '';
    if (!run.artifactUri.startsWith('mlflow-artifacts:')) return { root_uri: run.artifactUri };
    const root = run.artifactUri.slice('mlflow-artifacts:'.length).replace(/^\/+/, '');
    const files = listProxy(s, path ? `${root}/${path}` : root).map((f) => ({ ...f, path: path ? `${path}/${f.path}` : f.path }));
    return { root_uri: run.artifactUri, files };
  },
};

function versionSortKey(orderBy: string[]): (a: VersionRec, b: VersionRec) => number {
  const keys = (orderBy.length > 0 ? orderBy : ['last_updated_timestamp DESC']).map((o) => {
    const [field, dir] = o.trim().split(/\s+/);
    const allowed = ['name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'];
    if (!allowed.includes(field)) throw invalid(`Invalid order by key '${field}' specified. Valid keys are ${allowed.join(', ')}.`);
    return { field, desc: (dir ?? 'ASC').toUpperCase() === 'DESC' };
  });
  const value = (v: VersionRec, field: string): string | number =>
    field === 'name' ? v.name : field === 'version_number' ? v.version : field === 'creation_timestamp' ? v.creation : v.lastUpdated;
  return (a, b) => {
    for (const k of keys) {
      const av = value(a, k.field);
      const bv = value(b, k.field);
      if (av !== bv) return (av < bv ? -1 : 1) * (k.desc ? -1 : 1);
    }
    return 0;
  };
}

function registeredModelsSearch(p: Params, s: State): Json {
  const size = maxResults(p, 100, 1000);
  const clauses = parseFilter(p.str('filter'));
  const list = [...s.models.values()].filter((m) =>
    clauses.every((c) => {
      if (c.key === 'name') return compare(m.name, c.op, c.value);
      if (c.key.startsWith('tags.') || c.key.startsWith('tag.')) return compare(m.tags.get(c.key.slice(c.key.indexOf('.') + 1)), c.op, c.value);
      throw invalid(`Invalid attribute key '${c.key}' specified. Valid keys are '{'name'}'`);
    }),
  );
  const order = p.strList('order_by');
  const desc = order.length > 0 && /DESC$/i.test(order[0].trim());
  if (order.length > 0 && !/^(name|last_updated_timestamp|timestamp)(\s+(ASC|DESC))?$/i.test(order[0].trim())) throw invalid(`Invalid order_by clause '${order[0]}'.`);
  const field = order.length > 0 ? order[0].trim().split(/\s+/)[0] : 'name';
  list.sort((a, b) => {
    const av = field === 'name' ? a.name : a.lastUpdated;
    const bv = field === 'name' ? b.name : b.lastUpdated;
    const cmp = av < bv ? -1 : av > bv ? 1 : a.name < b.name ? -1 : 1;
    return desc ? -cmp : cmp;
  });
  const { page, next } = paged(list, p, size);
  return { registered_models: page.map((m) => modelJson(m)), next_page_token: next };
}

function isLocalSource(source: string): boolean {
  return source.startsWith('file:') || !/^[a-z][a-z0-9+.-]*:/i.test(source);
}

const REGISTRY: Record<string, Handler> = {
  'POST registered-models/create': (p, s) => {
    const name = p.str('name', true) as string;
    validateModelName(name);
    if (s.models.has(name)) throw new ApiError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`);
    const now = Date.now();
    const m: ModelRec = { name, creation: now, lastUpdated: now, description: p.str('description'), tags: new Map(), aliases: new Map(), versions: new Map() };
    for (const t of p.objList('tags')) m.tags.set(validateName('tag', t.key), registryTagValue(t.value));
    s.models.set(name, m);
    return { registered_model: modelJson(m) };
  },
  'GET registered-models/get': (p, s) => ({ registered_model: modelJson(s.model(p.reqStr('name'))) }),
  'GET registered-models/search': registeredModelsSearch,
  'PATCH registered-models/update': (p, s) => {
    const m = s.model(p.reqStr('name'));
    m.description = p.str('description');
    s.touch(m);
    return { registered_model: modelJson(m) };
  },
  'POST registered-models/rename': (p, s) => {
    const m = s.model(p.reqStr('name'));
    const newName = p.reqStr('new_name');
    validateModelName(newName);
    if (s.models.has(newName)) throw new ApiError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${newName}) already exists.`);
    s.models.delete(m.name);
    m.name = newName;
    for (const v of m.versions.values()) v.name = newName;
    s.models.set(newName, m);
    s.touch(m);
    return { registered_model: modelJson(m) };
  },
  'DELETE registered-models/delete': (p, s) => {
    s.model(p.reqStr('name'));
    s.models.delete(p.reqStr('name'));
    return {};
  },
  'POST registered-models/set-tag': (p, s) => {
    const m = s.model(p.reqStr('name'));
    m.tags.set(validateName('tag', p.str('key', true)), registryTagValue(p.str('value', true)));
    s.touch(m);
    return {};
  },
  'DELETE registered-models/delete-tag': (p, s) => {
    const m = s.model(p.reqStr('name'));
    const key = validateName('tag', p.str('key', true));
    if (m.tags.delete(key)) s.touch(m);
    return {};
  },
  'POST registered-models/get-latest-versions': (p, s) => {
    const m = s.model(p.reqStr('name'));
    const stages = p.strList('stages').map(canonicalStage);
    return { model_versions: latestVersions(m, stages).map((v) => versionJson(m, v)) };
  },
  'POST registered-models/alias': (p, s) => {
    const m = s.model(p.reqStr('name'));
    const alias = p.str('alias', true) as string;
    validateAlias(alias);
    const v = s.version(m.name, p.reqStr('version'));
    m.aliases.set(alias, v.version);
    s.touch(m);
    return {};
  },
  'DELETE registered-models/alias': (p, s) => {
    const m = s.model(p.reqStr('name'));
    const alias = p.str('alias', true) as string;
    validateAlias(alias);
    if (m.aliases.delete(alias)) s.touch(m);
    return {};
  },
  'GET registered-models/alias': (p, s) => {
    const m = s.model(p.reqStr('name'));
    const alias = p.reqStr('alias');
    const version = m.aliases.get(alias);
    if (version === undefined) throw invalid(`Registered model alias ${alias} not found.`);
    return { model_version: versionJson(m, s.version(m.name, String(version))) };
  },
  'POST model-versions/create': (p, s) => {
    const m = s.model(p.reqStr('name'));
    const source = p.reqStr('source');
    const runId = p.str('run_id') || undefined;
    if (isLocalSource(source)) {
      const run = runId ? s.runs.get(runId) : undefined;
      const root = run?.artifactUri;
      if (!run || !root || !isLocalSource(root) || !source.startsWith(root)) {
        throw invalid(`Invalid model version source: '${source}'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.`);
      }
    } else if (decodeURIComponent(source).split(/[/\\]/).includes('..')) {
      throw invalid(`Invalid model version source: '${source}'. Sources must not contain '..'.`);
    }
    if (runId && !s.runs.has(runId)) throw missing(`Run '${runId}' not found`);
    const version = Math.max(0, ...m.versions.keys()) + 1;
    const now = Date.now();
    const v: VersionRec = {
      name: m.name,
      version,
      creation: now,
      lastUpdated: now,
      stage: 'None',
      description: p.str('description'),
      source,
      runId,
      runLink: p.str('run_link') || undefined,
      tags: new Map(),
    };
    for (const t of p.objList('tags')) v.tags.set(validateName('tag', t.key), registryTagValue(t.value));
    m.versions.set(version, v);
    s.touch(m, now);
    return { model_version: versionJson(m, v) };
  },
  'GET model-versions/get': (p, s) => {
    const v = s.version(p.reqStr('name'), p.reqStr('version'));
    return { model_version: versionJson(s.model(v.name), v) };
  },
  'GET model-versions/search': (p, s) => {
    const size = maxResults(p, 10_000, 200_000);
    const clauses = parseFilter(p.str('filter'));
    const list: VersionRec[] = [];
    for (const m of s.models.values()) {
      for (const v of m.versions.values()) {
        if (v.stage === DELETED) continue;
        const ok = clauses.every((c) => {
          if (c.key === 'name') return compare(v.name, c.op, c.value);
          if (c.key === 'run_id') return compare(v.runId, c.op, c.value);
          if (c.key === 'source_path') return compare(v.source, c.op, c.value);
          if (c.key === 'version_number') return compare(v.version, c.op, c.value);
          if (c.key.startsWith('tags.') || c.key.startsWith('tag.')) return compare(v.tags.get(c.key.slice(c.key.indexOf('.') + 1)), c.op, c.value);
          throw invalid(`Invalid filter '${p.str('filter')}': unsupported key '${c.key}'.`);
        });
        if (ok) list.push(v);
      }
    }
    list.sort(versionSortKey(p.strList('order_by')));
    const { page, next } = paged(list, p, size);
    return { model_versions: page.map((v) => versionJson(s.model(v.name), v)), next_page_token: next };
  },
  'PATCH model-versions/update': (p, s) => {
    const v = s.version(p.reqStr('name'), p.reqStr('version'));
    const m = s.model(v.name);
    v.description = p.str('description');
    v.lastUpdated = Date.now();
    s.touch(m, v.lastUpdated);
    return { model_version: versionJson(m, v) };
  },
  'POST model-versions/transition-stage': (p, s) => {
    const v = s.version(p.reqStr('name'), p.reqStr('version'));
    const m = s.model(v.name);
    const stage = canonicalStage(p.reqStr('stage'));
    const archive = p.bool('archive_existing_versions', true) as boolean;
    if (archive && stage !== 'Staging' && stage !== 'Production') {
      throw invalid(`Model version transition cannot archive existing model versions because '${stage}' is not an Active stage. Valid stages are Staging, Production`);
    }
    const now = Date.now();
    if (archive) {
      for (const other of m.versions.values()) {
        if (other !== v && other.stage === stage) {
          other.stage = 'Archived';
          other.lastUpdated = now;
        }
      }
    }
    v.stage = stage;
    v.lastUpdated = now;
    s.touch(m, now);
    return { model_version: versionJson(m, v) };
  },
  'DELETE model-versions/delete': (p, s) => {
    const v = s.version(p.reqStr('name'), p.reqStr('version'));
    const m = s.model(v.name);
    v.stage = DELETED;
    for (const [alias, n] of [...m.aliases]) if (n === v.version) m.aliases.delete(alias);
    s.touch(m);
    return {};
  },
  'POST model-versions/set-tag': (p, s) => {
    const v = s.version(p.reqStr('name'), p.reqStr('version'));
    v.tags.set(validateName('tag', p.str('key', true)), registryTagValue(p.str('value', true)));
    v.lastUpdated = Date.now();
    s.touch(s.model(v.name), v.lastUpdated);
    return {};
  },
  'DELETE model-versions/delete-tag': (p, s) => {
    const v = s.version(p.reqStr('name'), p.reqStr('version'));
    const key = validateName('tag', p.str('key', true));
    if (v.tags.delete(key)) s.touch(s.model(v.name));
    return {};
  },
  'GET model-versions/get-download-uri': (p, s) => ({ artifact_uri: s.version(p.reqStr('name'), p.reqStr('version')).source }),
};
// MLflow also answers get-latest-versions on GET.
REGISTRY['GET registered-models/get-latest-versions'] = REGISTRY['POST registered-models/get-latest-versions'];
TRACKING['GET experiments/search'] = TRACKING['POST experiments/search'];

function registryTagValue(value: unknown): string {
  if (typeof value !== 'string') throw invalid(`Invalid tag value ${JSON.stringify(value)}: expected a string.`);
  if (value.length > 5000) throw invalid(`Registered model or model version tag value had length ${value.length}, which exceeded length limit of 5000`);
  return value;
}

const ROUTES: Record<string, Handler> = {};
for (const [route, handler] of Object.entries({ ...TRACKING, ...REGISTRY })) {
  const [method, path] = route.split(' ');
  ROUTES[`${method} /api/2.0/mlflow/${path}`] = handler;
  ROUTES[`${method} /ajax-api/2.0/mlflow/${path}`] = handler;
}
const KNOWN_PATHS = new Set(Object.keys(ROUTES).map((r) => r.split(' ')[1]));

const READ_ONLY_ROUTES = new Set(
  Object.keys(ROUTES).filter((r) => r.startsWith('GET ') || r.endsWith('/search') || r.endsWith('/get-latest-versions')),
);

// ---------------------------------------------------------------- artifacts proxy

function safeArtifactPath(path: string): string {
  const decoded = path.replace(/^\/+/, '');
  const parts = decoded.split('/');
  if (decoded.includes('\\') || decoded.includes('\0') || parts.some((p) => p === '..' || p === '.') || /^[a-z]:/i.test(decoded)) {
    throw invalid(`Invalid path: '${path}'`);
  }
  return parts.filter((p) => p !== '').join('/');
}

function listProxy(s: State, dir: string): { path: string; is_dir: boolean; file_size?: number }[] {
  const prefix = dir === '' ? '' : `${dir.replace(/\/+$/, '')}/`;
  const entries = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
  for (const [key, bytes] of s.artifacts) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash === -1) entries.set(rest, { path: rest, is_dir: false, file_size: bytes.length });
    else entries.set(rest.slice(0, slash), { path: rest.slice(0, slash), is_dir: true });
  }
  return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
}

// ---------------------------------------------------------------- HTTP plumbing

const HTML_404 =
  '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n';
const HTML_405 = '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n';
const MAX_BODY = 1024 * 1024;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(clean(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, STATUS_BY_CODE[err.code] ?? 500, { error_code: err.code, message: err.message });
}

function sendText(res: ServerResponse, status: number, contentType: string, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function queryRecord(params: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of params) (out[k] ??= []).push(v);
  return out;
}

export async function startMlflowServer(options: MlflowServerOptions = {}): Promise<MlflowTestServer> {
  const state = new State(options.artifactRoot ?? 'mlflow-artifacts:');
  const requests: RecordedRequest[] = [];
  const failures: { status: number; retryAfter?: string }[] = [];
  let drops = 0;

  const authenticate = (req: IncomingMessage): { ok: boolean; user?: string } => {
    const auth = options.auth;
    if (!auth) return { ok: true };
    const header = req.headers.authorization ?? '';
    if (auth.bearer && header === `Bearer ${auth.bearer}`) return { ok: true };
    if (auth.basic && header.startsWith('Basic ')) {
      const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      const password = rest.join(':');
      if (auth.basic.some((u) => u.username === user && u.password === password)) return { ok: true, user };
    }
    return { ok: false };
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname;
      const body = await readBody(req);
      const record: RecordedRequest = { method: req.method ?? 'GET', path, query: queryRecord(url.searchParams), headers: req.headers, bodyBytes: body.length };
      requests.push(record);

      if (path === '/health') return sendText(res, 200, 'text/plain', 'OK');
      if (path === '/version') return sendText(res, 200, 'text/plain', '2.12.2');
      const isApi = path.startsWith('/api/2.0/') || path.startsWith('/ajax-api/2.0/');
      if (isApi && drops > 0) {
        drops -= 1;
        req.socket.destroy();
        return;
      }
      if (isApi && failures.length > 0) {
        const failure = failures.shift() as { status: number; retryAfter?: string };
        const text = JSON.stringify({ error_code: failure.status === 429 ? 'REQUEST_LIMIT_EXCEEDED' : 'TEMPORARILY_UNAVAILABLE', message: 'injected failure' });
        res.writeHead(failure.status, { 'Content-Type': 'application/json', ...(failure.retryAfter ? { 'Retry-After': failure.retryAfter } : {}) });
        res.end(text);
        return;
      }
      const who = isApi ? authenticate(req) : { ok: true };
      if (!who.ok) {
        return sendText(
          res,
          401,
          'text/plain',
          'You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.',
          { 'WWW-Authenticate': 'Basic realm="mlflow"' },
        );
      }
      const method = req.method ?? 'GET';

      const proxyPrefix = '/api/2.0/mlflow-artifacts/artifacts';
      if (path === proxyPrefix || path.startsWith(`${proxyPrefix}/`)) {
        try {
          if (options.serveArtifacts === false) {
            return sendText(res, 503, 'text/plain', 'Endpoint: /api/2.0/mlflow-artifacts/artifacts disabled due to the mlflow server running with `--no-serve-artifacts`.');
          }
          if (method !== 'GET' && who.user && options.readOnlyUsers?.includes(who.user)) throw new ApiError('PERMISSION_DENIED', 'Permission denied');
          if (path === proxyPrefix) {
            if (method !== 'GET') return sendText(res, 405, 'text/html; charset=utf-8', HTML_405);
            const dir = safeArtifactPath(url.searchParams.get('path') ?? '');
            return sendJson(res, 200, { files: listProxy(state, dir) });
          }
          const artifactPath = safeArtifactPath(decodeURIComponent(path.slice(proxyPrefix.length + 1)));
          if (method === 'PUT') {
            state.artifacts.set(artifactPath, body);
            return sendJson(res, 200, {});
          }
          if (method === 'GET') {
            const bytes = state.artifacts.get(artifactPath);
            if (!bytes) throw missing(`No such file or directory: '${artifactPath}'`);
            res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
            res.end(bytes);
            return;
          }
          if (method === 'DELETE') {
            for (const key of [...state.artifacts.keys()]) if (key === artifactPath || key.startsWith(`${artifactPath}/`)) state.artifacts.delete(key);
            return sendJson(res, 200, {});
          }
          return sendText(res, 405, 'text/html; charset=utf-8', HTML_405);
        } catch (err) {
          if (err instanceof ApiError) return sendError(res, err);
          throw err;
        }
      }

      const handler = ROUTES[`${method} ${path}`];
      if (!handler) {
        if (KNOWN_PATHS.has(path)) return sendText(res, 405, 'text/html; charset=utf-8', HTML_405);
        return sendText(res, 404, 'text/html; charset=utf-8', HTML_404);
      }
      try {
        if (who.user && options.readOnlyUsers?.includes(who.user) && !READ_ONLY_ROUTES.has(`${method} ${path}`)) {
          throw new ApiError('PERMISSION_DENIED', `Permission denied for ${method} ${path}`);
        }
        let data: Json;
        if (method === 'GET') {
          const q: Json = {};
          for (const [k, v] of Object.entries(record.query)) q[k] = v.length === 1 ? v[0] : v;
          data = q;
        } else {
          if (method === 'POST') {
            const type = req.headers['content-type'];
            if (!type) throw invalid('Bad Request. Content-Type header is missing.');
            if (!/^application\/json\b/i.test(type)) throw invalid(`Bad Request. Content-Type must be one of ['application/json'], got '${type}'.`);
          }
          if (body.length > MAX_BODY) throw invalid(`Request body of ${body.length} bytes exceeds the 1 MB limit.`);
          let parsed: unknown = {};
          if (body.length > 0) {
            try {
              parsed = JSON.parse(body.toString('utf8'));
            } catch {
              throw new ApiError('BAD_REQUEST', 'Malformed request: the body is not valid JSON.');
            }
          }
          if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiError('BAD_REQUEST', 'Malformed request: the body must be a JSON object.');
          data = parsed as Json;
          record.json = parsed;
        }
        // Arrays in GET queries for scalar fields take the last value; lists for list fields.
        const params = new Params(
          method === 'GET'
            ? Object.fromEntries(
                Object.entries(data).map(([k, v]) => [k, ['experiment_ids', 'order_by', 'stages'].includes(k) ? (Array.isArray(v) ? v : [v]) : v]),
              )
            : data,
          method === 'GET',
        );
        return sendJson(res, 200, handler(params, state, { user: who.user }));
      } catch (err) {
        if (err instanceof ApiError) return sendError(res, err);
        const message = err instanceof Error ? err.message : String(err);
        return sendJson(res, 500, { error_code: 'INTERNAL_ERROR', message });
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error_code: 'INTERNAL_ERROR', message: String(err) });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    artifacts: state.artifacts,
    failNext(count, status, retryAfter) {
      for (let i = 0; i < count; i++) failures.push({ status, retryAfter });
    },
    dropNext(count) {
      drops += count;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
