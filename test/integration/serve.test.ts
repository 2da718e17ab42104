/**
 * `spotml serve` as a real process on a free loopback port (--port 0): every endpoint over the socket, both
 * runtimes, auth (401 / 401 / 403), validation errors, a hot swap under load while the registry alias moves
 * (no failed request), malformed traffic over the socket (truncated, slow and oversized bodies, garbage
 * HTTP), graceful shutdown with a request in flight, and --workers 2.
 *
 * The CLI is bundled once with esbuild (packages stay external) so each start costs a few hundred ms, as the
 * built CLI would; without esbuild it runs under tsx. Every loop is bounded by a count or a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliLauncher, spawnCaptured } from '../helpers/cli-launcher.js';
import { createMatrix } from '../../src/data/matrix.js';
import { buildSpec, resolveSettings } from '../../src/audio/feature-spec.js';
import { readModelPackage } from '../../src/registry/package.js';
import { register } from '../../src/api/registry.js';
import { openStores } from '../../src/tracking/open-store.js';
import { featuriseWav } from '../../src/serve/audio.js';
import { forestPackage, linearSoftmaxOnnx, synthetic, tone, wavBytes } from '../unit/serve/fixtures.js';

let launcher: string[];
let root: string;
const running = new Set<ChildProcess>();

interface Server {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function serve(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const { child, stdout: output, stderr: errors, exited } = spawnCaptured([...launcher, 'serve', ...args, '--port', '0', '--poll-interval', '0.05'], { cwd: root, env }, running);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const match = /"msg":"(?:cluster )?listening"[^\n]*"url":"([^"]+)"/.exec(output());
    if (match) return { child, url: match[1], stdout: output, stderr: errors, exited };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start (exit ${String(child.exitCode)}):\n${errors()}\n${output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stop(server: Server): Promise<number | null> {
  server.child.kill('SIGTERM');
  return server.exited;
}

/** Runs `spotml serve` expecting it to refuse to start; its exit code and output. */
async function serveRefused(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, [...launcher, 'serve', ...args, '--port', '0'], { cwd: root, env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  running.delete(child);
  return { code, stderr, stdout };
}

/** A registered version's artifact folder in the file store (its source URI). */
function artifactDir(source: string): string {
  return source.startsWith('file:') ? fileURLToPath(source) : source;
}

async function tamper(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  expect(text).toContain(from);
  await writeFile(file, text.replace(from, to));
}

/** Private copies spotml made under a TMPDIR (verified, decrypted or downloaded artifacts). */
function modelCopies(tmp: string): string[] {
  return readdirSync(tmp).filter((name) => /^spotml-(model|download)-/.test(name));
}

function invoke(url: string, body: unknown, headers: Record<string, string> = {}, path = '/invocations'): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Writes raw bytes on a fresh socket and returns what came back before the server closed it (or the deadline). */
function raw(url: string, chunks: { data: string | Buffer; delayMs?: number }[], endAfter = true, deadlineMs = 3000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolvePromise) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const timer = setTimeout(() => socket.destroy(), deadlineMs);
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolvePromise(received);
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (chunk.delayMs) await new Promise((r) => setTimeout(r, chunk.delayMs));
        if (socket.destroyed) return;
        socket.write(chunk.data);
      }
      if (endAfter) socket.end();
    });
  });
}

const SR = 8000;
let nativeDir: string;
let onnxDir: string;

beforeAll(async () => {
  launcher = await buildCliLauncher('spotml-serve-it');
  root = await mkdtemp(join(tmpdir(), 'spotml-serve-it-'));
  // The native package carries a FeatureSpec, so its server has a working /predict/audio too.
  const settings = resolveSettings({ sampleRate: 16000, features: ['rms', 'zero_crossing_rate', 'spectral_centroid'], aggregates: ['mean', 'std'], segment: { length: 0.25, hop: 0.25 } });
  const spec = buildSpec({ settings, labels: null, table: { file: 't.csv', format: 'csv', rows: 0 }, files: [], failures: [] });
  nativeDir = join(root, 'native');
  await forestPackage({ dir: nativeDir, trees: 10, data: { ...synthetic(90, 6, 3, 1), featureNames: spec.columns.features }, spec, seed: 1 });
  onnxDir = join(root, 'onnx');
  await forestPackage({ dir: onnxDir, trees: 3, seed: 2 });
  await writeFile(join(onnxDir, 'model.onnx'), linearSoftmaxOnnx([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0], [0, 0, 0], 4));
}, 60_000);

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

describe('spotml serve (real process)', () => {
  it('serves every endpoint with the native runtime, refuses malformed traffic over the socket, then drains on SIGTERM', async () => {
    const server = await serve([nativeDir, '--request-timeout', '1', '--max-body', '0.0625']);
    const { url } = server;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const pkg = await readModelPackage(nativeDir);
    const names = pkg.document.featureNames;
    const X = synthetic(5, 6, 3, 9).X;
    const rows = Array.from({ length: 5 }, (_, i) => Array.from(X.data.subarray(i * 6, i * 6 + 6)));
    const expected = pkg.labels!.decode(pkg.model.predict(X));

    const split = await invoke(url, { dataframe_split: { columns: names, data: rows } }, { 'x-request-id': 'trace-123' });
    expect(split.status).toBe(200);
    expect(split.headers.get('x-request-id')).toBe('trace-123');
    expect(await split.json()).toEqual({ predictions: expected });
    const csv = await fetch(`${url}/invocations?proba=true`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: `${names.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}` });
    const csvAnswer = (await csv.json()) as { predictions: string[]; probabilities: number[][] };
    expect(csvAnswer.predictions).toEqual(expected);
    expect(csvAnswer.probabilities.flat()).toEqual(Array.from(pkg.model.predictProba!(X).data));
    const invalid = await invoke(url, { instances: [[1, 2, 'x', 4, 5, 6]] });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { message: string }).message).toBe(`instances: row 0, column "${names[2]}": expected a number or null, got a string ("x")`);
    const unsupported = await invoke(url, 'a,b', { 'content-type': 'text/plain' });
    expect(unsupported.status).toBe(415);
    expect(unsupported.headers.get('content-type')).toMatch(/^text\/plain/);

    const wav = wavBytes(tone(1000, 1, SR, 3), SR);
    const features = featuriseWav(wav, pkg.spec!);
    const audioX = createMatrix(features.rows.length, names.length, Float64Array.from(features.rows.flatMap((r) => Array.from(r.values))));
    const audio = await fetch(`${url}/predict/audio`, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: wav });
    expect(audio.status).toBe(200);
    const audioAnswer = (await audio.json()) as { predictions: string[]; segments: unknown[]; aggregate: { prediction: string } };
    expect(audioAnswer.segments.length).toBe(4);
    expect(audioAnswer.predictions).toEqual(pkg.labels!.decode(pkg.model.predict(audioX)));

    expect(await (await fetch(`${url}/ping`)).text()).toBe('\n');
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const version = (await (await fetch(`${url}/version`)).json()) as { spotml: string; model: Record<string, unknown> };
    expect(version.model).toMatchObject({ name: 'native', specHash: pkg.document.specHash, runtime: 'native' });
    expect(((await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string }).openapi).toBe('3.1.0');
    expect((await fetch(`${url}/missing`)).status).toBe(404);

    // Malformed traffic over the socket: truncated, slow, oversized, garbage.
    const body = JSON.stringify({ instances: rows });
    const head = (length: number, extra = ''): string => `POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;
    const answers: string[] = [];
    for (let i = 0; i < 150; i++) answers.push(await raw(url, [{ data: head(body.length) + body.slice(0, (i * 7) % body.length) }], true, 2000));
    for (let i = 0; i < 100; i++) answers.push(await raw(url, [{ data: `${['GARBAGE', 'POST /invocations HTTP/9.9', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5', '\u0000\u0001\u0002', `POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X: y\r\n'.repeat(2000)}`][i % 5]}\r\n\r\n` }], true, 2000));
    const big = await raw(url, [{ data: head(10 * 1024 * 1024) }, { data: 'x'.repeat(1000) }], false, 2000);
    expect(big).toMatch(/^HTTP\/1\.1 413/);
    const chunked = `POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${`10000\r\n${' '.repeat(0x10000)}\r\n`.repeat(2)}0\r\n\r\n`;
    expect(await raw(url, [{ data: chunked }], false, 2000)).toMatch(/^HTTP\/1\.1 413/);
    // Slow bodies: the request timeout (1 s) ends them with 408; 8 at once while a normal request still works.
    const slow = Array.from({ length: 8 }, () => raw(url, [{ data: head(body.length) + body.slice(0, 5) }, { data: body.slice(5, 9), delayMs: 300 }], false, 4000));
    expect((await invoke(url, { instances: rows })).status).toBe(200);
    // Node answers 408 when the request timeout strikes mid-body (or just closes a socket it already answered).
    const slowAnswers = await Promise.all(slow);
    for (const answer of slowAnswers) expect(answer.slice(0, 200)).toMatch(/^(HTTP\/1\.1 408 |$)/);
    expect(slowAnswers.filter((a) => a.startsWith('HTTP/1.1 408')).length).toBeGreaterThan(0);
    for (const answer of answers) expect(answer).not.toMatch(/^HTTP\/1\.1 5/);
    // Truncated bodies get no answer (the client is gone) or a 400; garbage gets Node's 400.
    expect(answers.filter((a) => a.startsWith('HTTP/1.1 400')).length).toBeGreaterThanOrEqual(100);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).not.toMatch(/status="5\d\d"/);
    expect(metrics).toMatch(/spotml_requests_total\{route="invocations",status="400"\}/);
    expect(metrics).toMatch(/spotml_requests_total\{route="predict_audio",status="200"\} 1/);
    expect((await invoke(url, { instances: rows })).status).toBe(200);

    // Graceful shutdown: a request whose body is still arriving when SIGTERM lands completes with 200.
    const inFlight = raw(url, [{ data: head(body.length) + body.slice(0, 10) }, { data: body.slice(10), delayMs: 400 }], false, 4000);
    await new Promise((r) => setTimeout(r, 100));
    server.child.kill('SIGTERM');
    expect(await inFlight).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*Connection: close[\s\S]*"predictions"/i);
    expect(await server.exited).toBe(0);
    const logLines = server.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logLines.some((l) => l.msg === 'request' && l.id === 'trace-123' && l.status === 200 && l.rows === 5)).toBe(true);
    expect(logLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['model loaded', 'listening', 'draining', 'stopped']));
    await expect(fetch(`${url}/ping`)).rejects.toThrow();
  });

  it('serves the package model.onnx with --runtime onnx, and refuses a package without one', async () => {
    const server = await serve([onnxDir, '--runtime', 'onnx']);
    // W is the identity on the first three features: the class is the largest of them.
    const answer = (await (await invoke(server.url, { instances: [[0, 5, 1, 9], [3, 1, 2, 0], [0, 0, 7, 1]] }, {}, '/invocations?proba=true')).json()) as { predictions: string[]; probabilities: number[][] };
    expect(answer.predictions).toEqual(['dog', 'cat', 'owl']);
    const softmax = (z: number[]): number[] => z.map((v) => Math.exp(v) / z.reduce((s, w) => s + Math.exp(w), 0));
    answer.probabilities[0].forEach((p, k) => expect(p).toBeCloseTo(softmax([0, 5, 1])[k], 6));
    expect(((await (await fetch(`${server.url}/version`)).json()) as { model: { runtime: string } }).model.runtime).toBe('onnx');
    expect(await stop(server)).toBe(0);

    const refused = spawn(process.execPath, [...launcher, 'serve', nativeDir, '--runtime', 'onnx', '--port', '0'], { cwd: root, env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    let stderr = '';
    refused.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await new Promise((r) => refused.once('exit', r))).toBe(2);
    expect(stderr).toMatch(/has no model\.onnx; export it to ONNX first or serve with --runtime native/);
  });

  it('authenticates: no token 401, bad token 401, wrong tenant 403', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwks = join(root, 'jwks.json');
    await writeFile(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'main', alg: 'RS256' }] }));
    const token = (tenant: string): Promise<string> => new SignJWT({ tenant }).setProtectedHeader({ alg: 'RS256', kid: 'main' }).setExpirationTime('5m').sign(privateKey);
    const server = await serve([onnxDir, '--jwks', jwks, '--tenant', 'acme'], { SPOTML_SERVE_TOKEN: 'operator-token' });
    const body = { instances: [[1, 2, 3, 4]] };
    expect((await invoke(server.url, body)).status).toBe(401);
    expect((await invoke(server.url, body, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await invoke(server.url, body, { authorization: `Bearer ${await token('globex')}` })).status).toBe(403);
    expect((await invoke(server.url, body, { authorization: `Bearer ${await token('acme')}` })).status).toBe(200);
    expect((await invoke(server.url, body, { authorization: 'Bearer operator-token' })).status).toBe(200);
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    expect(await stop(server)).toBe(0);
  });

  it('swaps to the version the alias moves to, under load, without a failed request', async () => {
    const mlruns = join(root, 'mlruns');
    const v1 = join(root, 'swap-v1');
    const v2 = join(root, 'swap-v2');
    await forestPackage({ dir: v1, trees: 20, classes: ['old-a', 'old-b'], seed: 1 });
    await forestPackage({ dir: v2, trees: 20, classes: ['new-a', 'new-b'], seed: 2 });
    const stores = openStores({ trackingUri: mlruns });
    await register({ stores, source: v1, name: 'birds' });
    await register({ stores, source: v2, name: 'birds' });
    const registry = stores.registry;
    await registry.setAlias('birds', 'champion', 1);
    const server = await serve(['models:/birds@champion', '--tracking-uri', mlruns]);
    const seen = new Set<string>();
    const failures: string[] = [];
    let sent = 0;
    const deadline = Date.now() + 2500;
    let moved = false;
    const client = async (): Promise<void> => {
      while (Date.now() < deadline && sent < 20_000) {
        sent++;
        const response = await invoke(server.url, { instances: [[0.1, 0.2, 0.3, 0.4], [2, 2, 2, 2]] }).catch((err: Error) => err);
        if (response instanceof Error) failures.push(response.message);
        else if (response.status !== 200) failures.push(`${response.status} ${await response.text()}`);
        else for (const p of ((await response.json()) as { predictions: string[] }).predictions) seen.add(p.split('-')[0]);
      }
    };
    const mover = (async () => {
      await new Promise((r) => setTimeout(r, 800));
      await registry.setAlias('birds', 'champion', 2);
      moved = true;
    })();
    await Promise.all([client(), client(), client(), client(), mover]);
    expect(moved).toBe(true);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(100);
    expect([...seen].sort()).toEqual(['new', 'old']);
    const version = (await (await fetch(`${server.url}/version`)).json()) as { model: { name: string; version: number; alias: string } };
    expect(version.model).toMatchObject({ name: 'birds', version: 2, alias: 'champion' });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^spotml_model_swaps_total 1$/m);
    expect(metrics).toMatch(/^spotml_model_version\{name="birds"\} 2$/m);
    expect(await stop(server)).toBe(0);
  });

  it('refuses to start on a tampered registry version, with one line naming the file', async () => {
    const mlruns = join(root, 'mlruns-tampered');
    const dir = join(root, 'tampered-pkg');
    await forestPackage({ dir, trees: 3, classes: ['brass', 'wood'], seed: 4 });
    const stores = openStores({ trackingUri: mlruns });
    const registered = await register({ stores, source: dir, name: 'instruments' });
    await stores.registry.setAlias('instruments', 'champion', 1);
    await tamper(join(artifactDir(registered.source), 'model.json'), '"brass"', '"BRASS"');
    for (const uri of ['models:/instruments/1', 'models:/instruments@champion']) {
      const { code, stderr, stdout } = await serveRefused([uri, '--tracking-uri', mlruns]);
      expect(code).toBe(7);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/instruments version 1: file "model\.json" fails its sha256 check .*refusing to load/);
      expect(stdout).not.toMatch(/"msg":"listening"/);
    }
  });

  it('follows models:/name/Production under load: refuses a tampered version entering the stage (keeps serving, logs it), swaps to the next sound one, leaves no copies in TMPDIR', async () => {
    const mlruns = join(root, 'mlruns-stage');
    const tmp = await mkdtemp(join(root, 'tmp-stage-'));
    const dirs = ['one', 'two', 'three'].map((n) => join(root, `stage-${n}`));
    await forestPackage({ dir: dirs[0], trees: 10, classes: ['one-a', 'one-b'], seed: 1 });
    await forestPackage({ dir: dirs[1], trees: 10, classes: ['two-a', 'two-b'], seed: 2 });
    await forestPackage({ dir: dirs[2], trees: 10, classes: ['three-a', 'three-b'], seed: 3 });
    const stores = openStores({ trackingUri: mlruns });
    const versions = [];
    for (const dir of dirs) versions.push(await register({ stores, source: dir, name: 'conc' }));
    await tamper(join(artifactDir(versions[1].source), 'model.json'), '"two-a"', '"TWO-A"');
    await stores.registry.transitionStage('conc', 1, 'Production', false);
    const server = await serve(['models:/conc/Production', '--tracking-uri', mlruns], { TMPDIR: tmp });
    const seen = new Set<string>();
    const failures: string[] = [];
    let sent = 0;
    let phase = 'start';
    const client = async (): Promise<void> => {
      while (phase !== 'done' && sent < 20_000) {
        sent++;
        const response = await invoke(server.url, { instances: [[0.1, 0.2, 0.3, 0.4], [2, 2, 2, 2]] }).catch((err: Error) => err);
        if (response instanceof Error) failures.push(response.message);
        else if (response.status !== 200) failures.push(`${response.status} ${await response.text()}`);
        else for (const p of ((await response.json()) as { predictions: string[] }).predictions) seen.add(p.split('-')[0]);
      }
    };
    const waitFor = async (what: () => boolean, ms: number): Promise<void> => {
      const deadline = Date.now() + ms;
      while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    // The file store moves the stage one version file at a time, so a poll may also find the stage briefly empty.
    const refusals = (): string[] => server.stdout().split('\n').filter((l) => l.includes('model refresh failed') && l.includes('conc version 2'));
    const mover = (async () => {
      await new Promise((r) => setTimeout(r, 500));
      await stores.registry.transitionStage('conc', 2, 'Production', true);
      await waitFor(() => refusals().length >= 1, 5000);
      phase = 'tampered';
      await new Promise((r) => setTimeout(r, 300));
      await stores.registry.transitionStage('conc', 3, 'Production', true);
      await waitFor(() => server.stdout().includes('"msg":"model swapped"'), 5000);
      await new Promise((r) => setTimeout(r, 300));
      phase = 'done';
    })();
    await Promise.all([client(), client(), client(), mover]);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(50);
    // Never "two"/"TWO": the tampered version was not served for a single request.
    expect([...seen].sort()).toEqual(['one', 'three']);
    // Polled every 50 ms, yet refused once: the same failure is logged once and the version not re-fetched every poll.
    expect(refusals()).toHaveLength(1);
    const refusal = JSON.parse(refusals()[0]) as { level: string; error: string };
    expect(refusal.level).toBe('warn');
    expect(refusal.error).toMatch(/^conc version 2: file "model\.json" fails its sha256 check/);
    const version = (await (await fetch(`${server.url}/version`)).json()) as { model: Record<string, unknown> };
    expect(version.model).toMatchObject({ name: 'conc', version: 3, alias: null, uri: 'models:/conc/Production' });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^spotml_model_swaps_total 1$/m);
    expect(modelCopies(tmp)).toEqual([]);
    expect(await stop(server)).toBe(0);
    expect(modelCopies(tmp)).toEqual([]);
  });

  it('serves an encrypted version with --key-file (or SPOTML_MODEL_KEY), refuses without the key, leaves no decrypted files', async () => {
    const mlruns = join(root, 'mlruns-encrypted');
    const tmp = await mkdtemp(join(root, 'tmp-enc-'));
    const key = randomBytes(32).toString('base64');
    const keyFile = join(root, 'serve-model.key');
    await writeFile(keyFile, key);
    const stores = openStores({ trackingUri: mlruns });
    await register({ stores, source: onnxDir, name: 'enc', encrypt: true, env: { SPOTML_MODEL_KEY: key } });
    await stores.registry.setAlias('enc', 'champion', 1);
    const body = { instances: [[0, 5, 1, 9], [3, 1, 2, 0]] };
    const noKeyEnv = { SPOTML_MODEL_KEY: '', TMPDIR: tmp };

    const refused = await serveRefused(['models:/enc@champion', '--tracking-uri', mlruns], noKeyEnv);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/enc version 1 is encrypted \(key [0-9a-f]{16}\): set SPOTML_MODEL_KEY or pass --key-file/);

    // The ONNX graph is the identity on the first three features, so these are the decrypted package's own answers.
    for (const [args, env] of [
      [['models:/enc@champion', '--key-file', keyFile, '--runtime', 'onnx'], noKeyEnv],
      [['models:/enc/latest', '--runtime', 'auto'], { SPOTML_MODEL_KEY: key, TMPDIR: tmp }],
    ] as const) {
      const server = await serve([...args, '--tracking-uri', mlruns], env);
      const answer = (await (await invoke(server.url, body)).json()) as { predictions: string[] };
      expect(answer.predictions).toEqual(['dog', 'cat']);
      const version = (await (await fetch(`${server.url}/version`)).json()) as { model: Record<string, unknown> };
      expect(version.model).toMatchObject({ name: 'enc', version: 1, runtime: 'onnx' });
      expect(modelCopies(tmp)).toEqual([]);
      expect(await stop(server)).toBe(0);
    }
    expect(modelCopies(tmp)).toEqual([]);
  });

  it('runs --workers 2 on one port, merges their metrics, and stops on SIGTERM', async () => {
    const server = await serve([onnxDir, '--workers', '2', '--runtime', 'auto']);
    const listening = (): Set<number> => new Set(server.stdout().split('\n').filter((l) => l.includes('"msg":"listening"')).map((l) => (JSON.parse(l) as { pid: number }).pid));
    // spotml_workers counts the workers that answer: wait for the second to finish loading its model.
    for (const deadline = Date.now() + 30_000; listening().size < 2 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    const results = await Promise.all(Array.from({ length: 40 }, () => invoke(server.url, { instances: [[1, 2, 3, 4]] }).then((r) => r.status)));
    expect(results.every((s) => s === 200)).toBe(true);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^spotml_workers 2$/m);
    // No --runtime: auto picks the package's model.onnx.
    expect(metrics).toMatch(/^spotml_model_info\{[^}]*runtime="onnx"/m);
    expect(metrics).toMatch(/^spotml_requests_total\{route="invocations",status="200"\} 40$/m);
    expect(listening().size).toBe(2);
    expect(await stop(server)).toBe(0);
  });
});
