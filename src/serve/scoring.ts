/**
 * The scoring core shared by both front ends of /invocations: the hono route (app.ts, used in-process by
 * tests and for every other route) and the server's direct node:http fast path (fast-path.ts, which skips the
 * Request/Response adaptation that costs more than a 300-tree forest's prediction). Both call
 * `scoreInvocation` and turn failures into responses with `errorOutcome`, so they answer byte for byte alike.
 * JSON bodies try fast-json.ts first (plain numeric rows straight from bytes to float64); whatever it declines
 * goes to protocol.ts's general parser, which owns every validation message.
 */
import { SpotmlError } from '../errors.js';
import type { Matrix } from '../data/matrix.js';
import type { AccessEntry, AccessLog } from './access-log.js';
import type { Authenticator } from './auth.js';
import type { ServeMetrics } from './metrics.js';
import type { LoadedModel, ModelHolder } from './model-holder.js';
import { parseJsonFast } from './fast-json.js';
import { parseCsvInput, parseJsonInput, type ParsedInput } from './protocol.js';

export interface ServeLimits {
  /** Largest /invocations body in bytes. */
  maxBodyBytes: number;
  /** Largest /predict/audio body in bytes. */
  maxAudioBytes: number;
  /** Most rows per /invocations request. */
  maxRows: number;
}

export const DEFAULT_LIMITS: ServeLimits = { maxBodyBytes: 32 * 1024 * 1024, maxAudioBytes: 64 * 1024 * 1024, maxRows: 100_000 };

export const JSON_TYPE = 'application/json';

/** Fixed route names for metrics and logs (unknown paths are "other", so label cardinality stays bounded). */
export const ROUTES: Readonly<Record<string, string>> = {
  '/invocations': 'invocations',
  '/predict/audio': 'predict_audio',
  '/ping': 'ping',
  '/health': 'health',
  '/health/live': 'health',
  '/health/ready': 'health',
  '/version': 'version',
  '/metrics': 'metrics',
  '/openapi.json': 'openapi',
};

const MLFLOW_CODES: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'RESOURCE_DOES_NOT_EXIST',
  408: 'REQUEST_TIMEOUT',
  409: 'FEATURE_SPEC_MISMATCH',
  413: 'PAYLOAD_TOO_LARGE',
  405: 'METHOD_NOT_ALLOWED',
  422: 'INVALID_PARAMETER_VALUE',
  503: 'SERVICE_UNAVAILABLE',
};

/** An HTTP-level refusal with its own status (413, 415, 503…); `plain` answers text/plain (MLflow's 415). */
export class HttpRefusal extends SpotmlError {
  constructor(
    readonly status: number,
    message: string,
    readonly plain = false,
  ) {
    super('INVALID_INPUT', message);
  }
}

export interface Outcome {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
  rows: number;
  /** The error code for the access log, when the request failed. */
  errorCode?: string;
  /** An unexpected error to log with its stack (answered 500 without it). */
  internal?: unknown;
}

/** A failure as a response: client errors say what to fix, anything unexpected only names the request id. */
export function errorOutcome(err: unknown, requestId: string): Outcome {
  if (err instanceof HttpRefusal) {
    if (err.plain) return { status: err.status, body: err.message, contentType: 'text/plain; charset=utf-8', rows: 0, errorCode: String(err.status) };
    return { status: err.status, body: errorBody(MLFLOW_CODES[err.status] ?? 'BAD_REQUEST', err.message, undefined, requestId), contentType: JSON_TYPE, rows: 0, errorCode: String(err.status) };
  }
  if (err instanceof SpotmlError && err.httpStatus < 500) {
    const status = err.httpStatus;
    return {
      status,
      body: errorBody(MLFLOW_CODES[status] ?? err.code, err.message, err.details, requestId),
      contentType: JSON_TYPE,
      headers: status === 401 ? { 'WWW-Authenticate': 'Bearer' } : undefined,
      rows: 0,
      errorCode: err.code,
    };
  }
  return {
    status: 500,
    body: errorBody('INTERNAL_ERROR', `internal error; the server log has the details under request id ${requestId}`, undefined, requestId),
    contentType: JSON_TYPE,
    rows: 0,
    errorCode: 'INTERNAL',
    internal: err,
  };
}

export function errorBody(code: string, message: string, details: Readonly<Record<string, unknown>> | undefined, requestId: string): string {
  const body: Record<string, unknown> = { error_code: code, message };
  if (details && Object.keys(details).length > 0) body.details = details;
  body.request_id = requestId;
  return JSON.stringify(body);
}

/** MLflow's rule: application/json with at most `charset=utf-8`, or text/csv; anything else is 415. */
export function scoringContentType(header: string | undefined): 'json' | 'csv' | null {
  if (header === undefined) return null;
  if (header === JSON_TYPE) return 'json';
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase());
  if (type === JSON_TYPE) {
    if (params.length === 0 || (params.length === 1 && /^charset="?utf-8"?$/.test(params[0]))) return 'json';
    return null;
  }
  if (type === 'text/csv') return 'csv';
  return null;
}

export function truthy(value: string | null | undefined): boolean {
  return value !== undefined && value !== null && /^(1|true|yes)$/i.test(value);
}

/** Per-model response pieces, computed once per loaded model rather than per request. */
export interface ModelExtras {
  classJson: string[] | null;
  classesJson: string;
  openapi: string | null;
  audioMap: Int32Array | Error | null;
}

const extrasOf = new WeakMap<LoadedModel, ModelExtras>();

export function extras(model: LoadedModel): ModelExtras {
  let found = extrasOf.get(model);
  if (found === undefined) {
    const classJson = model.classes ? model.classes.map((c) => JSON.stringify(c)) : null;
    found = { classJson, classesJson: classJson ? `[${classJson.join(',')}]` : 'null', openapi: null, audioMap: null };
    extrasOf.set(model, found);
  }
  return found;
}

function numberJson(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}

/** The predictions array as JSON text: class labels (classification) or numbers. */
export function predictionsJson(model: LoadedModel, values: Float64Array): string {
  const classJson = extras(model).classJson;
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += classJson ? classJson[values[i]] : numberJson(values[i]);
  }
  return `${out}]`;
}

export function probaJson(proba: Matrix): string {
  let out = '[';
  for (let r = 0; r < proba.rows; r++) {
    out += r > 0 ? ',[' : '[';
    for (let k = 0; k < proba.cols; k++) {
      if (k > 0) out += ',';
      out += numberJson(proba.data[r * proba.cols + k]);
    }
    out += ']';
  }
  return `${out}]`;
}

export interface ScoringContext {
  holder: ModelHolder;
  auth: Authenticator;
  metrics: ServeMetrics;
  limits: ServeLimits;
}

export interface InvocationRequest {
  contentType: string | undefined;
  authorization: string | undefined;
  proba: boolean;
  /** Reads the body as text, refusing more than `limit` bytes (HttpRefusal 413 / 400). */
  readText(limit: number): Promise<string>;
  /** The same as bytes, when the front end has them (saves decoding a JSON body the fast path reads as bytes). */
  readBytes?(limit: number): Promise<Buffer>;
}

/**
 * One /invocations request against one model version from start to end (acquired, then released), so a hot
 * swap never mixes versions inside a request. Order: model → auth → content type → body → parse → predict.
 */
export async function scoreInvocation(ctx: ScoringContext, request: InvocationRequest, onModel?: (model: LoadedModel) => void): Promise<Outcome> {
  const model = ctx.holder.acquire();
  if (model === null) throw new HttpRefusal(503, 'no model is loaded yet; retry shortly');
  try {
    onModel?.(model);
    if (ctx.auth.enabled) await ctx.auth.authenticate(request.authorization, model.resolved.tenant);
    const kind = scoringContentType(request.contentType);
    if (kind === null) {
      throw new HttpRefusal(415, `Content-Type must be application/json or text/csv, got "${(request.contentType ?? 'none').slice(0, 80)}"`, true);
    }
    const parseLimits = { maxRows: ctx.limits.maxRows };
    let parsed: ParsedInput;
    if (kind === 'json') {
      const body = request.readBytes ? await request.readBytes(ctx.limits.maxBodyBytes) : await request.readText(ctx.limits.maxBodyBytes);
      parsed = parseJsonFast(body, model.schema, parseLimits) ?? parseJsonInput(typeof body === 'string' ? body : body.toString('utf8'), model.schema, parseLimits);
    } else parsed = parseCsvInput(await request.readText(ctx.limits.maxBodyBytes), model.schema, parseLimits);
    const { matrix } = parsed;
    if (request.proba && !model.predictor.hasProba) {
      throw new SpotmlError('INVALID_INPUT', 'probabilities are only available for classifiers; drop ?proba=true', { field: 'proba' });
    }
    const prediction = await model.predictor.predict(matrix, request.proba);
    ctx.metrics.rowsPredicted += matrix.rows;
    let body = `{"predictions":${predictionsJson(model, prediction.values)}`;
    if (prediction.proba) body += `,"probabilities":${probaJson(prediction.proba)},"classes":${extras(model).classesJson}`;
    return { status: 200, body: `${body}}`, contentType: JSON_TYPE, rows: matrix.rows };
  } finally {
    ctx.holder.release(model);
  }
}

export interface RequestRecord {
  id: string;
  method: string;
  path: string;
  status: number;
  /** performance.now() at the start. */
  started: number;
  rows: number;
  modelKey: string | undefined;
  errorCode: string | undefined;
  /** Warnings the answer carried (damaged or degenerate audio), logged with the request. */
  warnings?: readonly string[];
}

/** One metrics sample and one access-log line per request, whichever front end answered it. */
export function recordRequest(metrics: ServeMetrics, log: AccessLog, r: RequestRecord): void {
  const queryAt = r.path.indexOf('?');
  const path = queryAt >= 0 ? r.path.slice(0, queryAt) : r.path;
  const route = ROUTES[path] ?? 'other';
  const seconds = (performance.now() - r.started) / 1000;
  metrics.observe(route, r.status, seconds);
  if (!log.enabled) return;
  const entry: AccessEntry = {
    id: r.id,
    method: r.method.length > 16 ? r.method.slice(0, 16) : r.method,
    path: path.length > 200 ? `${path.slice(0, 200)}…` : path,
    route,
    status: r.status,
    ms: Math.round(seconds * 1e5) / 100,
  };
  if (r.rows > 0) entry.rows = r.rows;
  if (r.modelKey !== undefined) entry.model = r.modelKey;
  if (r.errorCode !== undefined) entry.error = r.errorCode;
  if (r.warnings !== undefined && r.warnings.length > 0) entry.warnings = [...r.warnings];
  log.write(entry);
}
