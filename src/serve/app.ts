/**
 * The scoring server's HTTP app (hono). Routes:
 *   POST /invocations     MLflow scoring protocol (JSON or CSV) → {"predictions": [...]} (+ probabilities)
 *   POST /predict/audio   a WAV (raw body or multipart upload) featurised under the model's FeatureSpec (for a
 *                         model that reads frames, plus each clip's or segment's frame patch, as extract --frames)
 *   GET  /ping            liveness (MLflow: 200 "\n" with a model, 404 without)
 *   GET  /health          readiness: 200 "\n" when a model is loaded and the server is not draining, else 503
 *   GET  /version         spotml version and the loaded model (name, version, alias, FeatureSpec hash, frame input)
 *   GET  /metrics         Prometheus text
 *   GET  /openapi.json    the API description
 *
 * Every request gets an id (X-Request-Id in and out), one access-log line and a metrics sample, all in one
 * outer middleware. Errors never leak internals: a SpotmlError becomes its HTTP status with
 * {"error_code", "message", "details", "request_id"} (MLflow's error shape); anything else is logged with its
 * stack server-side and answered 500 with the request id only.
 *
 * The app is built from its parts (holder, auth, metrics, log) so tests drive it in-process with
 * `app.request()`, and the socket server (server.ts) only adds listening, draining and polling. Over a socket,
 * POST /invocations is answered by fast-path.ts on node:http directly; both share scoring.ts.
 */
import { Hono, type Context } from 'hono';
import { SpotmlError } from '../errors.js';
import { SPOTML_VERSION } from '../version.js';
import type { Matrix } from '../data/matrix.js';
import { AccessLog, RequestIds } from './access-log.js';
import { audioMatrix, featuriseWav, frameFeatureOf, frameWindows, specColumnMap, type AudioFeatures } from './audio.js';
import type { Authenticator } from './auth.js';
import { renderMetrics, type MetricsSnapshot, type ServeMetrics } from './metrics.js';
import type { LoadedModel, ModelHolder } from './model-holder.js';
import { openApiDocument } from './openapi.js';
import {
  DEFAULT_LIMITS,
  errorOutcome,
  extras,
  HttpRefusal,
  JSON_TYPE,
  recordRequest,
  scoreInvocation,
  truthy,
  type Outcome,
  type ScoringContext,
  type ServeLimits,
} from './scoring.js';

export { DEFAULT_LIMITS, type ServeLimits } from './scoring.js';

export interface ServeAppOptions {
  holder: ModelHolder;
  auth: Authenticator;
  metrics: ServeMetrics;
  log: AccessLog;
  limits?: Partial<ServeLimits>;
  /** Processes serving (for /metrics); default 1. */
  workers?: number;
  /** Merged metrics across workers (cluster); default this process's own. */
  metricsSnapshot?: () => Promise<MetricsSnapshot>;
  /** True once shutdown began: readiness fails and responses close their connection. */
  isDraining?: () => boolean;
  /** True while shutdown waits out --shutdown-delay: readiness fails, requests are still answered as usual. */
  isLeaving?: () => boolean;
  /** Shared with the server's fast path so request ids stay unique per process. */
  requestIds?: RequestIds;
}

type Env = { Variables: { requestId: string; rows: number; model: LoadedModel | null; warnings: string[] } };

const NEWLINE_BODY = '\n';
const WAV_TYPES = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'application/octet-stream']);

/** Reads the body, refusing more than `limit` bytes (declared or streamed). */
async function readBody(c: Context<Env>, limit: number, asText: true): Promise<string>;
async function readBody(c: Context<Env>, limit: number, asText: false): Promise<Uint8Array>;
async function readBody(c: Context<Env>, limit: number, asText: boolean): Promise<string | Uint8Array> {
  const declared = c.req.header('content-length');
  try {
    if (declared !== undefined) {
      const length = Number(declared);
      if (!Number.isSafeInteger(length) || length < 0) throw new HttpRefusal(400, `Content-Length "${declared.slice(0, 20)}" is not a byte count`);
      if (length > limit) throw new HttpRefusal(413, `the request body (${length} bytes) is larger than this server accepts (${limit} bytes)`);
      // The HTTP parser holds the body to the declared length, so the fast path cannot overrun the limit.
      return asText ? await c.req.text() : new Uint8Array(await c.req.arrayBuffer());
    }
    const stream = c.req.raw.body;
    if (stream === null) return asText ? '' : new Uint8Array(0);
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        throw new HttpRefusal(413, `the request body is larger than this server accepts (${limit} bytes)`);
      }
      chunks.push(value);
    }
    const bytes = Buffer.concat(chunks, total);
    return asText ? bytes.toString('utf8') : bytes;
  } catch (err) {
    if (err instanceof SpotmlError) throw err;
    throw new HttpRefusal(400, 'the request body could not be read (truncated or the connection closed)');
  }
}

/** The methods each route answers (hono answers HEAD for GET routes by itself). */
const ROUTE_METHODS: Readonly<Record<string, string>> = {
  '/invocations': 'POST',
  '/predict/audio': 'POST',
  '/ping': 'GET, HEAD',
  '/health': 'GET, HEAD',
  '/health/live': 'GET, HEAD',
  '/health/ready': 'GET, HEAD',
  '/version': 'GET, HEAD',
  '/metrics': 'GET, HEAD',
  '/openapi.json': 'GET, HEAD',
};

function send(c: Context<Env>, outcome: Outcome): Response {
  return c.body(outcome.body, outcome.status as 200, { 'Content-Type': outcome.contentType, ...outcome.headers });
}

export function createServeApp(options: ServeAppOptions): Hono<Env> {
  const { holder, auth, metrics, log } = options;
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const ids = options.requestIds ?? new RequestIds();
  const draining = options.isDraining ?? (() => false);
  const leaving = options.isLeaving ?? (() => false);
  const workers = options.workers ?? 1;
  const scoring: ScoringContext = { holder, auth, metrics, limits };
  const app = new Hono<Env>();

  app.use('*', async (c, next) => {
    const started = performance.now();
    const requestId = ids.next(c.req.header('x-request-id'));
    c.set('requestId', requestId);
    c.set('rows', 0);
    c.set('model', null);
    c.set('warnings', []);
    metrics.inflight++;
    try {
      await next();
    } finally {
      metrics.inflight--;
    }
    c.header('X-Request-Id', requestId);
    if (draining()) c.header('Connection', 'close');
    const error = c.error;
    recordRequest(metrics, log, {
      id: requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      started,
      rows: c.get('rows'),
      modelKey: c.get('model')?.resolved.key,
      errorCode: error === undefined ? undefined : error instanceof SpotmlError ? error.code : 'INTERNAL',
      warnings: c.get('warnings'),
    });
  });

  const authenticate = async (c: Context<Env>, model: LoadedModel | null): Promise<void> => {
    if (!auth.enabled) return;
    await auth.authenticate(c.req.header('authorization'), model?.resolved.tenant ?? null);
  };

  /** Runs `work` with one model from start to end, so a hot swap never mixes versions inside a request. */
  const withModel = async (c: Context<Env>, work: (model: LoadedModel) => Promise<Response>): Promise<Response> => {
    const model = holder.acquire();
    if (model === null) throw new HttpRefusal(503, 'no model is loaded yet; retry shortly');
    c.set('model', model);
    try {
      return await work(model);
    } finally {
      holder.release(model);
    }
  };

  app.post('/invocations', async (c) => {
    const outcome = await scoreInvocation(
      scoring,
      {
        contentType: c.req.header('content-type'),
        authorization: c.req.header('authorization'),
        proba: truthy(c.req.query('proba')) || truthy(c.req.header('x-spotml-proba')),
        readText: (limit) => readBody(c, limit, true),
      },
      (model) => c.set('model', model),
    );
    c.set('rows', outcome.rows);
    return send(c, outcome);
  });

  app.post('/predict/audio', async (c) => {
    return withModel(c, async (model) => {
      await authenticate(c, model);
      const header = c.req.header('content-type') ?? '';
      const type = header.split(';')[0].trim().toLowerCase();
      const multipart = type === 'multipart/form-data';
      if (!multipart && !WAV_TYPES.has(type)) {
        // JSON like every other spotml error: MLflow's plain-text 415 is kept only where MLflow defines it (/invocations).
        throw new HttpRefusal(415, `Content-Type must be audio/wav (or multipart/form-data with a "file" part), got "${header.slice(0, 80) || 'none'}"`);
      }
      const spec = model.pkg.spec;
      if (spec === null) {
        throw new SpotmlError('FEATURE_SPEC_MISMATCH', 'this model was trained on a plain feature table (no FeatureSpec), so it cannot featurise audio; send feature rows to /invocations');
      }
      const extra = extras(model);
      if (extra.audioMap === null) {
        try {
          extra.audioMap = specColumnMap(spec.columns.features, model.pkg.document.featureNames);
        } catch (err) {
          extra.audioMap = err as Error;
        }
      }
      if (extra.audioMap instanceof Error) throw extra.audioMap;
      const frameInput = model.schema.frameInput;
      const frameFeature = frameInput ? frameFeatureOf(frameInput, spec) : null;
      let bytes = await readBody(c, limits.maxAudioBytes, false);
      let name = 'the request body';
      if (multipart) ({ bytes, name } = await multipartFile(bytes, header));
      const clip = featuriseWav(bytes, spec, name, frameFeature);
      // A frame model on a whole clip longer than its patch predicts every patch-length window, not only the first.
      const features = frameInput && spec.settings.segment === null ? frameWindows(clip, frameInput.frames) : clip;
      const X = audioMatrix(features, extra.audioMap, frameInput);
      const prediction = await model.predictor.predict(X, model.predictor.hasProba);
      c.set('rows', X.rows);
      c.set('warnings', features.warnings);
      metrics.rowsPredicted += X.rows;
      metrics.audioWarnings += features.warnings.length;
      return c.body(audioResponseJson(model, features, prediction.values, prediction.proba), 200, { 'Content-Type': JSON_TYPE });
    });
  });

  const modelOrNull = (): LoadedModel | null => holder.current;

  app.get('/ping', (c) => c.body(NEWLINE_BODY, modelOrNull() ? 200 : 404, { 'Content-Type': JSON_TYPE }));
  app.get('/health/live', (c) => c.body(NEWLINE_BODY, 200, { 'Content-Type': JSON_TYPE }));
  const ready = (c: Context<Env>): Response => c.body(NEWLINE_BODY, modelOrNull() && !draining() && !leaving() ? 200 : 503, { 'Content-Type': JSON_TYPE });
  app.get('/health', ready);
  app.get('/health/ready', ready);

  app.get('/version', async (c) => {
    const model = modelOrNull();
    await authenticate(c, model);
    return c.json({
      spotml: SPOTML_VERSION,
      model: model
        ? {
            name: model.resolved.name,
            version: model.resolved.version,
            alias: model.resolved.alias,
            uri: holder.source.uri,
            specHash: model.pkg.document.specHash,
            family: model.pkg.document.model.family,
            task: model.pkg.document.task,
            features: model.pkg.document.featureNames.length,
            // Frame models read a patch after the features: what it is, and the full row width /invocations takes.
            frameInput: model.schema.frameInput,
            inputWidth: model.schema.featureNames.length,
            classes: model.classes,
            runtime: model.predictor.runtime,
            tenant: model.resolved.tenant,
            loadedAt: model.loadedAt.toISOString(),
          }
        : null,
    });
  });

  app.get('/metrics', async (c) => {
    const model = modelOrNull();
    await authenticate(c, model);
    const snapshot = options.metricsSnapshot ? await options.metricsSnapshot() : metrics.snapshot();
    const info = model
      ? {
          name: model.resolved.name,
          version: model.resolved.version,
          alias: model.resolved.alias,
          runtime: model.predictor.runtime,
          specHash: model.pkg.document.specHash,
          loadedAt: model.loadedAt,
        }
      : null;
    return c.body(renderMetrics(snapshot, info, workers), 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  app.get('/openapi.json', async (c) => {
    const model = modelOrNull();
    // The model's document names the model, its features and its classes: only callers allowed to use the
    // model get it; anyone else (a server with auth, no or another tenant's token) gets the generic one.
    const allowed = model !== null && (!auth.enabled || (await auth.authenticate(c.req.header('authorization'), model.resolved.tenant).then(() => true, () => false)));
    let text: string;
    if (model && allowed) {
      const extra = extras(model);
      extra.openapi ??= JSON.stringify(
        openApiDocument(
          { name: model.resolved.name, featureNames: model.pkg.document.featureNames, frameInput: model.schema.frameInput, classes: model.classes, hasSpec: model.pkg.spec !== null },
          auth.enabled,
        ),
      );
      text = extra.openapi;
    } else text = JSON.stringify(openApiDocument(null, auth.enabled));
    return c.body(text, 200, { 'Content-Type': JSON_TYPE });
  });

  app.notFound((c) => {
    const method = c.req.method.slice(0, 16);
    const path = c.req.path.slice(0, 100);
    const allowed = ROUTE_METHODS[path];
    // A known route asked with another method is a 405 naming the methods it takes (HTTP's rule; MLflow's
    // Flask server answers GET /invocations so), not a 404 that reads as "no such endpoint".
    if (allowed !== undefined && Object.hasOwn(ROUTE_METHODS, path)) {
      const outcome = errorOutcome(new HttpRefusal(405, `${path} takes ${allowed}, not ${method}`), c.get('requestId'));
      return send(c, { ...outcome, headers: { ...outcome.headers, Allow: allowed } });
    }
    return send(c, errorOutcome(new HttpRefusal(404, `no route ${method} ${path}; see /openapi.json`), c.get('requestId')));
  });

  app.onError((err, c) => {
    const outcome = errorOutcome(err, c.get('requestId'));
    if (outcome.internal !== undefined) {
      const internal = outcome.internal;
      log.event('internal error', { id: c.get('requestId'), path: c.req.path.slice(0, 200), error: internal instanceof Error ? (internal.stack ?? internal.message) : String(internal) }, 'error');
    }
    return send(c, outcome);
  });

  return app;
}

/** The WAV inside a multipart upload: the `file` part, else the first file part. */
async function multipartFile(bytes: Uint8Array, contentType: string): Promise<{ bytes: Uint8Array; name: string }> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw new SpotmlError('INVALID_INPUT', 'the multipart body cannot be parsed; send multipart/form-data with a "file" part holding the WAV', { field: 'file' });
  }
  let part: unknown = form.get('file');
  if (!(part instanceof Blob)) part = [...form.values()].find((v) => v instanceof Blob) ?? null;
  if (!(part instanceof Blob)) throw new SpotmlError('INVALID_INPUT', 'the multipart body has no file part; upload the WAV as "file"', { field: 'file' });
  const name = part instanceof File && part.name ? part.name.slice(0, 100) : 'the uploaded file';
  return { bytes: new Uint8Array(await part.arrayBuffer()), name };
}

/** Per-segment predictions plus one for the whole file: mean probabilities' argmax (classifiers with
 * probabilities), the most frequent class (ties → lowest class index) or the mean value (regression).
 * `warnings` (only when there are any) says the audio was damaged or degenerate, as extract would. */
function audioResponseJson(model: LoadedModel, features: AudioFeatures, values: Float64Array, proba: Matrix | null): string {
  const classes = model.classes;
  const segments = features.rows.map((row, i) => ({
    segment: row.segment,
    start_s: row.startS,
    end_s: row.endS,
    prediction: classes ? classes[values[i]] : values[i],
    ...(proba ? { probabilities: Array.from(proba.data.subarray(i * proba.cols, (i + 1) * proba.cols)) } : {}),
  }));
  let aggregate: Record<string, unknown>;
  if (classes) {
    const K = classes.length;
    const score = new Float64Array(K);
    if (proba) for (let i = 0; i < proba.rows; i++) for (let k = 0; k < K; k++) score[k] += proba.data[i * K + k] / proba.rows;
    else for (const v of values) score[v] += 1 / values.length;
    let best = 0;
    for (let k = 1; k < K; k++) if (score[k] > score[best]) best = k;
    aggregate = { prediction: classes[best], method: proba ? 'mean_probability' : 'majority_vote', ...(proba ? { probabilities: Array.from(score) } : { votes: Array.from(score) }) };
  } else {
    let sum = 0;
    for (const v of values) sum += v;
    aggregate = { prediction: sum / values.length, method: 'mean' };
  }
  return JSON.stringify({
    predictions: segments.map((s) => s.prediction),
    segments,
    aggregate,
    classes,
    audio: { sample_rate: features.sampleRate, channels: features.channels, seconds: features.seconds },
    spec_hash: model.pkg.spec?.specHash ?? null,
    ...(features.warnings.length > 0 ? { warnings: features.warnings } : {}),
  });
}
