/**
 * The scoring app in-process (hono `app.request()`, no socket): every endpoint, both runtimes, auth, limits,
 * the audio endpoint against `spotml extract`'s own rows, and a hot swap through a real file registry.
 * Predictions are checked against the fitted model called directly (native), a hand-computed softmax (onnx),
 * and extractFile on the same WAV (audio).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { extractFile, type SegmentRow } from '../../../src/audio/extract.js';
import { buildSpec, resolveSettings, type FeatureSpec } from '../../../src/audio/feature-spec.js';
import { readModelPackage } from '../../../src/registry/package.js';
import { register } from '../../../src/api/registry.js';
import { parseModelsUri } from '../../../src/registry/resolve.js';
import { openStores } from '../../../src/tracking/open-store.js';
import { AccessLog } from '../../../src/serve/access-log.js';
import { createServeApp, type ServeAppOptions } from '../../../src/serve/app.js';
import { featuriseWav } from '../../../src/serve/audio.js';
import { createAuthenticator, type AuthOptions } from '../../../src/serve/auth.js';
import { ServeMetrics } from '../../../src/serve/metrics.js';
import { ModelHolder } from '../../../src/serve/model-holder.js';
import { DirModelSource, RegistryModelSource } from '../../../src/serve/model-source.js';
import type { RuntimeName } from '../../../src/serve/runtime.js';
import { forestPackage, linearSoftmaxOnnx, linearSoftmaxReference, synthetic, tone, wavBytes, type SyntheticData } from './fixtures.js';

let root: string;
let forestDir: string;
let forest: SyntheticData;

interface Harness {
  app: ReturnType<typeof createServeApp>;
  holder: ModelHolder;
  metrics: ServeMetrics;
  logged: string[];
}

async function harness(dir: string, options: { runtime?: RuntimeName; auth?: AuthOptions; tenant?: string; limits?: ServeAppOptions['limits']; start?: boolean } = {}): Promise<Harness> {
  const holder = new ModelHolder(new DirModelSource(dir, options.tenant ?? null), { runtime: options.runtime ?? 'native' });
  if (options.start !== false) await holder.start();
  const metrics = new ServeMetrics();
  const logged: string[] = [];
  const log = new AccessLog({ write: (text: string) => logged.push(text) });
  const app = createServeApp({ holder, auth: await createAuthenticator(options.auth ?? {}), metrics, log, limits: options.limits });
  return { app, holder, metrics, logged };
}

function post(h: Harness, body: string, contentType = 'application/json', path = '/invocations', headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(h.app.request(path, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body }));
}

/** A registered version's artifact folder in the file store (its source URI). */
function artifactDir(source: string): string {
  return source.startsWith('file:') ? fileURLToPath(source) : source;
}

function rowsOf(X: Matrix, count: number): number[][] {
  return Array.from({ length: count }, (_, i) => Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols)));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotml-serve-app-'));
  forestDir = join(root, 'forest');
  forest = await forestPackage({ dir: forestDir, trees: 15, seed: 3 });
});

describe('POST /invocations (native)', () => {
  it('answers every input form with the model’s own predictions and probabilities', async () => {
    const h = await harness(forestDir);
    const pkg = await readModelPackage(forestDir);
    const X = createMatrix(12, 4, forest.X.data.slice(0, 48));
    const expected = pkg.labels!.decode(pkg.model.predict(X));
    const expectedProba = Array.from(pkg.model.predictProba!(X).data);
    const rows = rowsOf(X, 12);
    const names = forest.featureNames;
    const bodies = [
      { dataframe_split: { columns: names, data: rows } },
      { dataframe_records: rows.map((r) => Object.fromEntries(names.map((n, j) => [n, r[j]]))) },
      { instances: rows },
      { inputs: Object.fromEntries(names.map((n, j) => [n, rows.map((r) => r[j])])) },
    ];
    for (const body of bodies) {
      const response = await post(h, JSON.stringify(body));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({ predictions: expected });
    }
    const csv = `${names.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`;
    expect(await (await post(h, csv, 'text/csv')).json()).toEqual({ predictions: expected });

    const withProba = (await (await post(h, JSON.stringify(bodies[0]), 'application/json; charset=utf-8', '/invocations?proba=true')).json()) as {
      probabilities: number[][];
      classes: string[];
    };
    expect(withProba.classes).toEqual(['cat', 'dog', 'owl']);
    expect(withProba.probabilities.flat()).toEqual(expectedProba);
    const viaHeader = (await (await post(h, JSON.stringify(bodies[2]), 'application/json', '/invocations', { 'x-spotml-proba': 'true' })).json()) as { probabilities: number[][] };
    expect(viaHeader.probabilities.flat()).toEqual(expectedProba);
    expect(h.metrics.rowsPredicted).toBe(12 * 7);
  });

  it('follows MLflow for content types (415 text/plain) and malformed bodies (400 BAD_REQUEST JSON)', async () => {
    const h = await harness(forestDir);
    for (const type of ['text/plain', 'application/json; charset=latin-1', 'application/json; format=pandas-split', 'application/x-www-form-urlencoded']) {
      const response = await post(h, '{"instances": [[1,2,3,4]]}', type);
      expect(response.status).toBe(415);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    }
    const bare = await post(h, '[[1,2,3,4]]');
    expect(bare.status).toBe(400);
    const error = (await bare.json()) as { error_code: string; message: string; request_id: string };
    expect(error.error_code).toBe('BAD_REQUEST');
    expect(error.message).toMatch(/exactly one of the input fields \{dataframe_split, dataframe_records, instances, inputs\}/);
    expect(bare.headers.get('x-request-id')).toBe(error.request_id);
    const named = (await (await post(h, '{"instances": [[1,2,"x",4]]}')).json()) as { message: string; details: Record<string, unknown> };
    expect(named.message).toMatch(/column "f2"/);
    expect(named.details).toEqual({ field: 'instances', row: 0, column: 'f2' });
  });

  it('enforces the body and row limits', async () => {
    const h = await harness(forestDir, { limits: { maxBodyBytes: 200, maxRows: 3 } });
    const big = JSON.stringify({ instances: Array.from({ length: 20 }, () => [1, 2, 3, 4]) });
    const tooBig = await post(h, big);
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { error_code: string }).error_code).toBe('PAYLOAD_TOO_LARGE');
    const tooMany = await post(h, JSON.stringify({ instances: Array.from({ length: 4 }, () => [1, 2, 3, 4]) }));
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { message: string }).message).toMatch(/4 rows is more than this server accepts per request \(3\)/);
    // A chunked body (no Content-Length) is held to the limit while it streams.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(50)));
        controller.close();
      },
    });
    const streamed = await h.app.request('/invocations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it('refuses probabilities for a regressor', async () => {
    const dir = join(root, 'regressor');
    await forestPackage({ dir, trees: 5, task: 'regression', seed: 4 });
    const h = await harness(dir);
    const pkg = await readModelPackage(dir);
    const X = createMatrix(2, 4, Float64Array.from([0, 1, 2, 3, 1, 1, 1, 1]));
    const ok = (await (await post(h, JSON.stringify({ instances: rowsOf(X, 2) }))).json()) as { predictions: number[] };
    expect(ok.predictions).toEqual(Array.from(pkg.model.predict(X)));
    expect((await post(h, JSON.stringify({ instances: rowsOf(X, 2) }), 'application/json', '/invocations?proba=1')).status).toBe(400);
  });
});

describe('GET endpoints', () => {
  it('ping, health, version, metrics and openapi', async () => {
    const h = await harness(forestDir);
    const ping = await h.app.request('/ping');
    expect(ping.status).toBe(200);
    expect(await ping.text()).toBe('\n');
    expect(ping.headers.get('content-type')).toBe('application/json');
    expect((await h.app.request('/health')).status).toBe(200);
    expect((await h.app.request('/health/live')).status).toBe(200);
    const version = (await (await h.app.request('/version')).json()) as { spotml: string; model: Record<string, unknown> };
    expect(version.spotml).toMatch(/^\d+\.\d+\.\d+/);
    expect(version.model).toMatchObject({ name: 'forest', version: null, alias: null, specHash: null, runtime: 'native', task: 'classification', features: 4 });
    await post(h, JSON.stringify({ instances: [[1, 2, 3, 4]] }));
    await post(h, 'nope');
    await h.app.request('/nowhere');
    const metrics = await (await h.app.request('/metrics')).text();
    expect(metrics).toMatch(/^spotml_requests_total\{route="invocations",status="200"\} 1$/m);
    expect(metrics).toMatch(/^spotml_requests_total\{route="invocations",status="400"\} 1$/m);
    expect(metrics).toMatch(/^spotml_requests_total\{route="other",status="404"\} 1$/m);
    expect(metrics).toMatch(/^spotml_request_duration_seconds_bucket\{route="invocations",le="\+Inf"\} 2$/m);
    expect(metrics).toMatch(/^spotml_rows_predicted_total 1$/m);
    expect(metrics).toMatch(/^spotml_model_info\{name="forest",version="",alias="",runtime="native",spec_hash=""\} 1$/m);
    const openapi = (await (await h.app.request('/openapi.json')).json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/invocations', '/predict/audio', '/ping', '/health', '/version', '/metrics', '/openapi.json']));
    expect(JSON.stringify(openapi.components.schemas.ScoringRequest)).toContain('"f3"');
    const notFound = await h.app.request('/nowhere');
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as { error_code: string }).error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    // A known route with another method: 405 and the methods it takes (RFC 9110 §15.5.6), as MLflow answers GET /invocations.
    const wrongMethod = await h.app.request('/invocations');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(await wrongMethod.json()).toMatchObject({ error_code: 'METHOD_NOT_ALLOWED', message: '/invocations takes POST, not GET' });
    const postToMetrics = await h.app.request('/metrics', { method: 'POST' });
    expect([postToMetrics.status, postToMetrics.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect((await h.app.request('/ping', { method: 'HEAD' })).status).toBe(200);
    // Access log: one JSON line per request with an id, route and status.
    await new Promise((resolve) => setImmediate(resolve));
    const lines = h.logged.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(9);
    expect(lines.find((l) => l.route === 'invocations' && l.status === 200)).toMatchObject({ msg: 'request', method: 'POST', rows: 1, model: expect.stringContaining('forest') });
    expect(lines.find((l) => l.status === 400)).toMatchObject({ error: 'INVALID_INPUT' });
  });

  it('without a model: ping 404, health 503, invocations 503', async () => {
    const h = await harness(forestDir, { start: false });
    expect((await h.app.request('/ping')).status).toBe(404);
    expect((await h.app.request('/health')).status).toBe(503);
    expect((await post(h, JSON.stringify({ instances: [[1, 2, 3, 4]] }))).status).toBe(503);
  });
});

describe('auth', () => {
  const body = JSON.stringify({ instances: [[1, 2, 3, 4]] });

  it('static token: none 401, wrong 401, right 200; liveness stays open', async () => {
    const h = await harness(forestDir, { auth: { token: 's3cret-token' } });
    const none = await post(h, body);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await none.json()) as { error_code: string }).error_code).toBe('UNAUTHENTICATED');
    expect((await post(h, body, 'application/json', '/invocations', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(h, body, 'application/json', '/invocations', { authorization: 'Basic czNjcmV0' })).status).toBe(401);
    expect((await post(h, body, 'application/json', '/invocations', { authorization: 'Bearer s3cret-token' })).status).toBe(200);
    expect((await h.app.request('/version')).status).toBe(401);
    expect((await h.app.request('/ping')).status).toBe(200);
    expect((await h.app.request('/health')).status).toBe(200);
  });

  it('JWTs from a public key and a JWKS: tenant must match the model’s (403 otherwise)', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const pemFile = join(root, 'jwt.pem');
    await writeFile(pemFile, await exportSPKI(publicKey));
    const jwksFile = join(root, 'jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }));
    const other = await generateKeyPair('ES256');
    const sign = (claims: Record<string, unknown>, key = privateKey, expires = '5m'): Promise<string> =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuedAt().setExpirationTime(expires).setIssuer('spotml-tests').sign(key);
    for (const auth of [{ jwtPublicKeyFile: pemFile }, { jwksFile }] as AuthOptions[]) {
      const h = await harness(forestDir, { auth: { ...auth, jwtIssuer: 'spotml-tests' }, tenant: 'acme' });
      const as = async (token: string): Promise<number> => (await post(h, body, 'application/json', '/invocations', { authorization: `Bearer ${token}` })).status;
      expect(await as(await sign({ tenant: 'acme', sub: 'alice' }))).toBe(200);
      expect(await as(await sign({ tenant: 'globex' }))).toBe(403);
      expect(await as(await sign({ sub: 'no-tenant' }))).toBe(403);
      // A tenant claim that is not a string is named as such, not reported missing.
      const listed = await post(h, body, 'application/json', '/invocations', { authorization: `Bearer ${await sign({ tenant: ['acme'] })}` });
      expect(listed.status).toBe(403);
      expect(((await listed.json()) as { message: string }).message).toBe('this model belongs to a tenant; the token\'s "tenant" claim must be a string naming one tenant, got an array');
      const missing = await post(h, body, 'application/json', '/invocations', { authorization: `Bearer ${await sign({ sub: 'no-tenant' })}` });
      expect(((await missing.json()) as { message: string }).message).toBe('this model belongs to a tenant; the token has no "tenant" claim');
      expect(await as(await sign({ tenant: 'acme' }, other.privateKey))).toBe(401);
      expect(await as(await sign({ tenant: 'acme' }, privateKey, '-1m'))).toBe(401);
      expect(await as('not.a.jwt')).toBe(401);
      expect((await post(h, body)).status).toBe(401);
    }
    // A model without a tenant accepts any valid token.
    const open = await harness(forestDir, { auth: { jwtPublicKeyFile: pemFile } });
    expect((await post(open, body, 'application/json', '/invocations', { authorization: `Bearer ${await sign({ tenant: 'globex' })}` })).status).toBe(200);
  });
});

describe('ONNX runtime', () => {
  const W = [0.5, -1, 0.2, 1, 0.3, -0.4, -0.7, 0.8, 0.1, 0.25, -0.5, 0.9];
  const b = [0.1, -0.2, 0.05];

  it('predicts through onnxruntime-node like the hand-computed softmax (float and double inputs)', async () => {
    for (const inputType of ['float', 'double'] as const) {
      const dir = join(root, `onnx-${inputType}`);
      await forestPackage({ dir, trees: 3, seed: 5 });
      await writeFile(join(dir, 'model.onnx'), linearSoftmaxOnnx(W, b, 4, inputType));
      const h = await harness(dir, { runtime: 'onnx' });
      const X = synthetic(25, 4, 3, 11).X;
      // The graph computes in float32: round the inputs as onnxruntime sees them for the reference.
      const seen = createMatrix(X.rows, X.cols, Float64Array.from(Float32Array.from(X.data)));
      const reference = linearSoftmaxReference(seen, W, b);
      const answer = (await (await post(h, JSON.stringify({ instances: rowsOf(X, 25) }), 'application/json', '/invocations?proba=true')).json()) as {
        predictions: string[];
        probabilities: number[][];
      };
      const classes = ['cat', 'dog', 'owl'];
      expect(answer.predictions).toEqual(Array.from(reference.labels, (k) => classes[k]));
      answer.probabilities.flat().forEach((p, i) => expect(Math.abs(p - reference.proba[i])).toBeLessThan(1e-6));
      expect(((await (await h.app.request('/version')).json()) as { model: { runtime: string } }).model.runtime).toBe('onnx');
    }
  });

  it('is a clear usage error when the package has no model.onnx', async () => {
    await expect(harness(forestDir, { runtime: 'onnx' })).rejects.toThrow(/has no model\.onnx; export it to ONNX first or serve with --runtime native/);
  });
});

describe('POST /predict/audio', () => {
  const SR = 16000;
  let spec: FeatureSpec;
  let segmentedSpec: FeatureSpec;

  function makeSpec(segment: { length: number; hop: number } | null): FeatureSpec {
    const settings = resolveSettings({ sampleRate: 22050, features: ['mfcc', 'chroma_stft', 'spectral_centroid', 'zero_crossing_rate', 'rms'], aggregates: ['mean', 'std'], segment, options: { nMfcc: 8 } });
    return buildSpec({ settings, labels: null, table: { file: 'features.csv', format: 'csv', rows: 0 }, files: [], failures: [] });
  }

  async function extracted(file: string, s: FeatureSpec): Promise<SegmentRow[]> {
    const result = await extractFile({ absolutePath: file, path: file, settings: s.settings, specHash: s.specHash, framesDir: null, cacheDir: null });
    if (!result.ok) throw new Error(result.reason);
    return result.rows;
  }

  /** Trains a forest on extract's rows of low and high tones, with the spec in the package. */
  async function audioPackage(dir: string, s: FeatureSpec): Promise<void> {
    const values: number[] = [];
    const labels: number[] = [];
    // Enough files and trees that the forest separates the tones by pitch, not by chance features of 12 rows.
    for (let i = 0; i < 12; i++) {
      const file = join(root, `train-${i}.wav`);
      await writeFile(file, wavBytes(tone(i % 2 === 0 ? 220 : 2000, 1, SR, i + 1), SR));
      for (const row of await extracted(file, s)) {
        values.push(...row.values);
        labels.push(i % 2);
      }
    }
    const p = s.columns.features.length;
    const X = createMatrix(labels.length, p, Float64Array.from(values, (v) => (Number.isFinite(v) ? v : 0)));
    await forestPackage({ dir, trees: 25, classes: ['high', 'low'], data: { X, y: Float64Array.from(labels, (l) => 1 - l), featureNames: s.columns.features }, spec: s });
  }

  beforeAll(async () => {
    spec = makeSpec(null);
    segmentedSpec = makeSpec({ length: 0.5, hop: 0.5 });
    await audioPackage(join(root, 'audio'), spec);
    await audioPackage(join(root, 'audio-seg'), segmentedSpec);
  });

  it('featurises an in-memory WAV exactly as spotml extract does the same file (whole clip and segments, resampled)', async () => {
    const bytes = wavBytes(tone(440, 1.3, SR, 9), SR);
    const file = join(root, 'probe.wav');
    await writeFile(file, bytes);
    for (const s of [spec, segmentedSpec]) {
      const fromFile = await extracted(file, s);
      const inMemory = featuriseWav(bytes, s).rows;
      expect(inMemory.length).toBe(fromFile.length);
      inMemory.forEach((row, i) => {
        expect(row.segment).toBe(fromFile[i].segment);
        expect(row.startS).toBe(fromFile[i].startS);
        expect(row.endS).toBe(fromFile[i].endS);
        expect(Array.from(row.values)).toEqual(Array.from(fromFile[i].values));
      });
    }
    expect(featuriseWav(bytes, segmentedSpec).rows.length).toBe(2);
  });

  it('predicts per segment plus an aggregate, from a raw body or a multipart upload', async () => {
    const h = await harness(join(root, 'audio-seg'));
    const pkg = await readModelPackage(join(root, 'audio-seg'));
    const bytes = wavBytes(tone(2000, 2, SR, 42), SR);
    const file = join(root, 'high.wav');
    await writeFile(file, bytes);
    const rows = await extracted(file, segmentedSpec);
    const X = createMatrix(rows.length, rows[0].values.length, Float64Array.from(rows.flatMap((r) => Array.from(r.values))));
    const expected = pkg.labels!.decode(pkg.model.predict(X));
    const proba = pkg.model.predictProba!(X);
    const raw = await h.app.request('/predict/audio', { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: bytes });
    expect(raw.status).toBe(200);
    const answer = (await raw.json()) as { predictions: string[]; segments: { start_s: number; probabilities: number[] }[]; aggregate: { prediction: string; method: string; probabilities: number[] }; spec_hash: string };
    expect(answer.predictions).toEqual(expected);
    expect(answer.segments.map((s) => s.start_s)).toEqual([0, 0.5, 1, 1.5]);
    expect(answer.spec_hash).toBe(segmentedSpec.specHash);
    const mean = [0, 1].map((k) => (proba.data[k] + proba.data[2 + k] + proba.data[4 + k] + proba.data[6 + k]) / 4);
    answer.aggregate.probabilities.forEach((p, k) => expect(p).toBeCloseTo(mean[k], 12));
    expect(answer.aggregate).toMatchObject({ prediction: mean[0] >= mean[1] ? 'high' : 'low', method: 'mean_probability' });
    expect(answer.aggregate.prediction).toBe('high');

    const form = new FormData();
    form.append('note', 'ignored');
    form.append('file', new Blob([bytes], { type: 'audio/wav' }), 'high.wav');
    const multipart = await h.app.request('/predict/audio', { method: 'POST', body: form });
    expect(multipart.status).toBe(200);
    expect(((await multipart.json()) as { predictions: string[] }).predictions).toEqual(expected);
  });

  it('refuses what it cannot featurise, with the reason', async () => {
    const h = await harness(join(root, 'audio'));
    const notWav = await h.app.request('/predict/audio', { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: 'RIFF....WAVEjunk' });
    expect(notWav.status).toBe(422);
    expect(((await notWav.json()) as { message: string }).message.length).toBeGreaterThan(10);
    const wrongType = await h.app.request('/predict/audio', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(wrongType.status).toBe(415);
    expect(wrongType.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await wrongType.json()) as Record<string, unknown>).toMatchObject({ error_code: 'BAD_REQUEST', message: 'Content-Type must be audio/wav (or multipart/form-data with a "file" part), got "text/plain"' });
    const noFile = new FormData();
    noFile.append('note', 'no file here');
    expect((await h.app.request('/predict/audio', { method: 'POST', body: noFile })).status).toBe(400);
    const low = (await (await h.app.request('/predict/audio', { method: 'POST', headers: { 'content-type': 'audio/x-wav' }, body: wavBytes(tone(220, 1, SR, 77), SR) })).json()) as { aggregate: { prediction: string } };
    expect(low.aggregate.prediction).toBe('low');
    const plain = await harness(forestDir);
    const noSpec = await plain.app.request('/predict/audio', { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: wavBytes(tone(220, 1, SR), SR) });
    expect(noSpec.status).toBe(409);
    expect(((await noSpec.json()) as { message: string }).message).toMatch(/no FeatureSpec/);
  });
});

describe('POST /predict/audio warnings (damaged or degenerate audio)', () => {
  const SR = 16000;

  function deltaSpec(): FeatureSpec {
    const settings = resolveSettings({ sampleRate: 22050, features: ['mfcc', 'mfcc_delta', 'rms'], aggregates: ['mean'], segment: null, options: { nMfcc: 8 } });
    return buildSpec({ settings, labels: null, table: { file: 'features.csv', format: 'csv', rows: 0 }, files: [], failures: [] });
  }

  /** A WAV whose data chunk declares `seconds` of audio but holds only the first `keep` of it. */
  function truncatedWav(seconds: number, keep: number): Uint8Array {
    const whole = wavBytes(tone(440, seconds, SR, 4), SR);
    return whole.subarray(0, 44 + 2 * Math.round(keep * SR));
  }

  it('reports what extract reports for the same file: its decode notes and analysis warnings', async () => {
    const spec = deltaSpec();
    const cases: [string, Uint8Array][] = [
      ['truncated.wav', truncatedWav(3, 1)],
      // 0.1 s: a full analysis window, but fewer frames than the delta width.
      ['short.wav', wavBytes(tone(440, 0.1, SR, 5), SR)],
      ['clean.wav', wavBytes(tone(440, 1, SR, 6), SR)],
    ];
    for (const [name, bytes] of cases) {
      const file = join(root, name);
      await writeFile(file, bytes);
      const result = await extractFile({ absolutePath: file, path: file, settings: spec.settings, specHash: spec.specHash, framesDir: null, cacheDir: null });
      if (!result.ok) throw new Error(result.reason);
      expect(featuriseWav(bytes, spec).warnings, name).toEqual([...result.decodeNotes, ...result.warnings]);
    }
    const truncated = featuriseWav(truncatedWav(3, 1), spec).warnings;
    expect(truncated.some((w) => w.startsWith('truncated: data chunk declares 96000 bytes but only 32000 are present'))).toBe(true);
    expect(featuriseWav(wavBytes(tone(440, 0.1, SR, 5), SR), spec).warnings.some((w) => w.startsWith('MFCC deltas need at least'))).toBe(true);
  });

  it('says so for a clip shorter than one analysis window, which extract does not flag', () => {
    // Native rate, so the sample counts are the file's own.
    const settings = resolveSettings({ sampleRate: 'native', features: ['rms'], aggregates: ['mean'], segment: null });
    const native = buildSpec({ settings, labels: null, table: { file: 'features.csv', format: 'csv', rows: 0 }, files: [], failures: [] });
    expect(featuriseWav(wavBytes([0.25], SR), native).warnings).toEqual([
      'the analysed audio is 1 samples at 16000 Hz, shorter than one analysis window (n_fft 2048); its features describe mostly padding',
    ]);
    // The edge: n_fft samples are enough.
    expect(featuriseWav(wavBytes(new Float64Array(2048).fill(0.1), SR), native).warnings).toEqual([]);
    expect(featuriseWav(wavBytes(new Float64Array(2047).fill(0.1), SR), native).warnings).toHaveLength(1);
  });

  it('adds them to the answer, the access log line and /metrics; a clean file has none', async () => {
    const dir = join(root, 'audio-warn');
    const settings = resolveSettings({ sampleRate: 22050, features: ['rms', 'zero_crossing_rate'], aggregates: ['mean', 'std'], segment: null });
    const spec = buildSpec({ settings, labels: null, table: { file: 'features.csv', format: 'csv', rows: 0 }, files: [], failures: [] });
    await forestPackage({ dir, trees: 3, features: 4, featureNames: spec.columns.features, spec });
    const h = await harness(dir);
    const send = async (bytes: Uint8Array, id: string): Promise<{ warnings?: string[] }> => {
      const response = await h.app.request('/predict/audio', { method: 'POST', headers: { 'content-type': 'audio/wav', 'x-request-id': id }, body: bytes });
      expect(response.status).toBe(200);
      return (await response.json()) as { warnings?: string[] };
    };
    const damaged = truncatedWav(20, 6.67);
    const expected = featuriseWav(damaged, spec).warnings;
    expect(expected.length).toBeGreaterThanOrEqual(1);
    expect((await send(damaged, 'req-damaged')).warnings).toEqual(expected);
    const clean = await send(wavBytes(tone(440, 1, SR, 8), SR), 'req-clean');
    expect('warnings' in clean).toBe(false);
    const tiny = await send(wavBytes([0.5], SR), 'req-tiny');
    expect(tiny.warnings).toHaveLength(1);

    await new Promise((resolve) => setImmediate(resolve));
    const lines = h.logged.join('').trim().split('\n').map((l) => JSON.parse(l) as { id: string; warnings?: string[] });
    expect(lines.find((l) => l.id === 'req-damaged')?.warnings).toEqual(expected);
    expect(lines.find((l) => l.id === 'req-clean')).not.toHaveProperty('warnings');
    const metrics = await (await h.app.request('/metrics')).text();
    expect(metrics).toContain(`spotml_audio_warnings_total ${expected.length + 1}\n`);
  });
});

describe('hot swap through the registry', () => {
  it('moves to the version the alias names, atomically, and keeps serving when a version is broken', async () => {
    const mlruns = join(root, 'mlruns');
    const v1 = join(root, 'v1');
    const v2 = join(root, 'v2');
    await forestPackage({ dir: v1, trees: 5, classes: ['a', 'b'], seed: 1 });
    await forestPackage({ dir: v2, trees: 5, classes: ['x', 'y'], seed: 2 });
    const stores = openStores({ trackingUri: mlruns });
    await register({ stores, source: v1, name: 'birds' });
    await register({ stores, source: v2, name: 'birds' });
    // A version whose artifacts vanished after registration.
    const gone = await register({ stores, source: v2, name: 'birds' });
    await rm(artifactDir(gone.source), { recursive: true });
    const registry = stores.registry;
    await registry.setAlias('birds', 'prod', 1);
    const reference = parseModelsUri('models:/birds@prod');
    expect(reference).toEqual({ kind: 'alias', name: 'birds', alias: 'prod' });
    const source = new RegistryModelSource('models:/birds@prod', reference, {}, stores);
    const holder = new ModelHolder(source, { runtime: 'native' });
    await holder.start();
    const app = createServeApp({ holder, auth: await createAuthenticator({}), metrics: new ServeMetrics(), log: new AccessLog(null) });
    const ask = async (): Promise<string> => ((await (await app.request('/invocations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances":[[0,0,0,0]]}' })).json()) as { predictions: string[] }).predictions[0];
    expect(['a', 'b']).toContain(await ask());
    expect(await holder.refresh()).toBe('unchanged');

    // A request that holds v1 keeps it to the end even though the swap lands meanwhile.
    const held = holder.acquire()!;
    await registry.setAlias('birds', 'prod', 2);
    expect(await holder.refresh()).toBe('swapped');
    expect(held.resolved.version).toBe(1);
    expect(held.retired).toBe(true);
    holder.release(held);
    expect(['x', 'y']).toContain(await ask());
    const version = (await (await app.request('/version')).json()) as { model: { version: number; alias: string } };
    expect(version.model).toMatchObject({ version: 2, alias: 'prod' });

    await registry.setAlias('birds', 'prod', 3);
    expect(await holder.refresh()).toBe('failed');
    expect(holder.lastError?.message).toMatch(/has no artifact "model"/);
    expect(holder.current?.resolved.version).toBe(2);
    expect(['x', 'y']).toContain(await ask());
    await holder.close();
  });
});
