/**
 * How the REST client meets a real team MLflow server: MLflow's client environment variables, credentials in
 * the URI, redirects, the 3.5+ Host-header check, pre-2.3 servers without aliases, TLS with private CAs, the
 * proxy without --serve-artifacts, and log-batch bodies under the 1 MB limit. Each expectation quotes the MLflow
 * behaviour it follows; servers are the strict test server or a few lines of node:http(s) here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestRegistry } from '../../../src/registry/rest-registry.js';
import { openStores } from '../../../src/tracking/open-store.js';
import { RestClient, restOptionsFromEnv } from '../../../src/tracking/rest/client.js';
import { RestStore, splitLogBatch, truncateValue } from '../../../src/tracking/rest-store.js';
import { startMlflowServer, type MlflowTestServer } from '../../helpers/mlflow-server.js';

let mlflow: MlflowTestServer;
let guarded: MlflowTestServer;
beforeAll(async () => {
  mlflow = await startMlflowServer();
  guarded = await startMlflowServer({ auth: { basic: [{ username: 'ana', password: 'pw:with@colons' }] } });
});
afterAll(async () => {
  await Promise.all([mlflow.close(), guarded.close()]);
});

/** A throwaway server whose every request is answered by `handler`; counts requests. */
async function rawServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits += 1;
    req.resume();
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const noWait = { maxRetries: 3, sleep: async () => {} };

describe("MLflow's client environment variables", () => {
  it('MLFLOW_HTTP_REQUEST_TIMEOUT bounds each attempt and MLFLOW_HTTP_REQUEST_MAX_RETRIES the attempts', async () => {
    // mlflow/environment_variables.py: MLFLOW_HTTP_REQUEST_TIMEOUT (int seconds, default 120),
    // MLFLOW_HTTP_REQUEST_MAX_RETRIES (int, default 7 in current MLflow).
    const silent = await rawServer(() => {
      // never answers
    });
    try {
      const stores = openStores({ trackingUri: silent.url, env: { MLFLOW_HTTP_REQUEST_TIMEOUT: '1', MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0' } });
      const started = Date.now();
      await expect(stores.tracking.getExperiment('0')).rejects.toMatchObject({
        code: 'STORE',
        message: expect.stringMatching(/did not answer within 1 s \(2 attempts\); raise MLFLOW_HTTP_REQUEST_TIMEOUT/),
      });
      expect(Date.now() - started).toBeLessThan(8000);
      expect(silent.hits()).toBe(2);
    } finally {
      await silent.close();
    }
  });

  it('retries as often as MLFLOW_HTTP_REQUEST_MAX_RETRIES says', async () => {
    const stores = openStores({ trackingUri: mlflow.url, env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0' } });
    const before = mlflow.requests.length;
    mlflow.failNext(3, 503);
    await expect(stores.tracking.getExperiment('0')).rejects.toMatchObject({ message: expect.stringMatching(/TEMPORARILY_UNAVAILABLE/) });
    expect(mlflow.requests.length - before).toBe(3);
  });

  it('refuses values MLflow would refuse, naming the variable', () => {
    // _BooleanEnvironmentVariable: "value must be one of ['true', 'false', '1', '0'] (case-insensitive)"
    expect(() => restOptionsFromEnv({ MLFLOW_TRACKING_INSECURE_TLS: 'yes' })).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringMatching(/^MLFLOW_TRACKING_INSECURE_TLS="yes"/) }));
    expect(() => restOptionsFromEnv({ MLFLOW_HTTP_REQUEST_TIMEOUT: '2m' })).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringMatching(/^MLFLOW_HTTP_REQUEST_TIMEOUT="2m"/) }));
    // request_utils.py: `assert 0 <= max_retries < 10` (the limit is _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT = 10)
    expect(() => restOptionsFromEnv({ MLFLOW_HTTP_REQUEST_MAX_RETRIES: '11' })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => restOptionsFromEnv({ MLFLOW_TRACKING_SERVER_CERT_PATH: '/nonexistent/ca.pem' })).toThrow(expect.objectContaining({ message: expect.stringMatching(/MLFLOW_TRACKING_SERVER_CERT_PATH=\/nonexistent\/ca.pem cannot be read/) }));
    expect(restOptionsFromEnv({ MLFLOW_TRACKING_INSECURE_TLS: 'False' })).toEqual({});
  });
});

describe('credentials and authentication errors', () => {
  it('uses user:password from the tracking URI (as requests does for MLflow) and never prints it', async () => {
    const { port } = new URL(guarded.url);
    const good = openStores({ trackingUri: `http://ana:${encodeURIComponent('pw:with@colons')}@127.0.0.1:${port}`, env: {}, retry: noWait });
    expect((await good.tracking.getExperiment('0')).name).toBe('Default');
    expect(good.location).toBe(`http://127.0.0.1:${port}`);
    const bad = openStores({ trackingUri: `http://ana:hunter2@127.0.0.1:${port}/`, env: {}, retry: noWait });
    const failure = await bad.tracking.getExperiment('0').then(
      () => new Error('expected a failure'),
      (err: unknown) => err as Error,
    );
    expect(failure).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/rejected the credentials from the user:password in MLFLOW_TRACKING_URI/) });
    expect(failure.message).not.toMatch(/hunter2/);
  });

  it('says which variables to set, or which were rejected, and names the server', async () => {
    const anonymous = openStores({ trackingUri: guarded.url, env: {}, retry: noWait });
    await expect(anonymous.tracking.getExperiment('0')).rejects.toMatchObject({
      message: `MLflow GET mlflow/experiments/get at ${guarded.url} failed: not authenticated (HTTP 401); set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD`,
    });
    const wrongToken = openStores({ trackingUri: guarded.url, env: { MLFLOW_TRACKING_TOKEN: 'nope' }, retry: noWait });
    await expect(wrongToken.tracking.getExperiment('0')).rejects.toMatchObject({ message: expect.stringMatching(/rejected the credentials from MLFLOW_TRACKING_TOKEN \(HTTP 401\)/) });
    const basic = openStores({ trackingUri: guarded.url, env: { MLFLOW_TRACKING_USERNAME: 'ana', MLFLOW_TRACKING_PASSWORD: 'pw:with@colons', MLFLOW_TRACKING_TOKEN: 'ignored' }, retry: noWait });
    expect((await basic.tracking.getExperiment('0')).name).toBe('Default');
  });

  it("explains MLflow 3.5+'s Host-header refusal instead of blaming permissions", async () => {
    // docs/mlflow.md §5 "Server-side checks in 3.5+": 403 text/plain "Invalid Host header - possible DNS rebinding attack detected"
    const strict = await rawServer((_req, res) => {
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      res.end('Invalid Host header - possible DNS rebinding attack detected');
    });
    try {
      const store = new RestStore({ baseUrl: strict.url, retry: noWait });
      await expect(store.getExperiment('0')).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringMatching(/does not accept requests addressed to 127\.0\.0\.1:\d+ .*--allowed-hosts 127\.0\.0\.1:\d+$/),
      });
      expect(strict.hits()).toBe(1);
    } finally {
      await strict.close();
    }
  });
});

describe('servers that are not where the URI says', () => {
  it('reports a redirect with the URI to use instead of following it (a followed POST turns into a GET)', async () => {
    const moved = await rawServer((req, res) => {
      res.writeHead(301, { Location: `https://mlflow.example.com/team${req.url ?? ''}` });
      res.end();
    });
    try {
      const store = new RestStore({ baseUrl: moved.url, retry: noWait });
      await expect(store.createExperiment('x')).rejects.toMatchObject({
        code: 'STORE',
        message: expect.stringMatching(/^MLflow POST mlflow\/experiments\/create at http:\/\/127\.0\.0\.1:\d+ was redirected \(HTTP 301\) to https:\/\/mlflow\.example\.com\/team\/api\/2\.0\/mlflow\/experiments\/create; set MLFLOW_TRACKING_URI=https:\/\/mlflow\.example\.com\/team$/),
      });
      expect(moved.hits()).toBe(1);
    } finally {
      await moved.close();
    }
  });

  it('points a redirect to a sign-in page at the credential variables', async () => {
    const sso = await rawServer((_req, res) => {
      res.writeHead(302, { Location: 'https://sso.example.com/login?next=%2F' });
      res.end();
    });
    try {
      await expect(new RestStore({ baseUrl: sso.url, retry: noWait }).getExperiment('0')).rejects.toMatchObject({
        message: expect.stringMatching(/redirected \(HTTP 302\) to https:\/\/sso\.example\.com\/login; if it is a sign-in page, set MLFLOW_TRACKING_TOKEN/),
      });
    } finally {
      await sso.close();
    }
  });

  it('says aliases need MLflow 2.3+ when the alias route does not exist', async () => {
    // Before 2.3 the server had no /registered-models/alias route: Flask answers its HTML 404 (docs/mlflow.md fact 6).
    const old = await rawServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>');
    });
    try {
      const registry = new RestRegistry({ baseUrl: old.url, retry: noWait });
      await expect(registry.getModelVersionByAlias('m', 'champion')).rejects.toMatchObject({ message: expect.stringMatching(/aliases need an MLflow 2\.3 or newer server/) });
      await expect(registry.getRegisteredModel('m')).rejects.toMatchObject({ message: expect.stringMatching(/is http:\/\/127\.0\.0\.1:\d+ an MLflow server/) });
    } finally {
      await old.close();
    }
  });

  it('does not retry a host name that does not resolve', async () => {
    const delays: number[] = [];
    const client = new RestClient({ baseUrl: 'http://no-such-host.invalid:5000', retry: { maxRetries: 3, sleep: async (ms) => void delays.push(ms) } });
    await expect(client.call('getExperiment', { experiment_id: '0' })).rejects.toMatchObject({ message: expect.stringMatching(/host no-such-host\.invalid .* does not resolve \(ENOTFOUND\); check MLFLOW_TRACKING_URI/) });
    expect(delays).toEqual([]);
  });
});

describe('TLS with a private CA (MLFLOW_TRACKING_SERVER_CERT_PATH, MLFLOW_TRACKING_INSECURE_TLS)', () => {
  let dir: string;
  let url: string;
  let hits = 0;
  let close: () => Promise<void>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spotml-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
      hits += 1;
      req.resume();
      const body = JSON.stringify({ experiment: { experiment_id: '0', name: 'Default', lifecycle_stage: 'active' } });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  });
  afterAll(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an untrusted certificate at once, naming both variables', async () => {
    const before = hits;
    const stores = openStores({ trackingUri: url, env: {}, retry: noWait });
    await expect(stores.tracking.getExperiment('0')).rejects.toMatchObject({
      message: expect.stringMatching(/TLS certificate of 127\.0\.0\.1:\d+ is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\); set MLFLOW_TRACKING_SERVER_CERT_PATH .* MLFLOW_TRACKING_INSECURE_TLS=true/),
    });
    expect(hits).toBe(before);
  });

  it('trusts the CA bundle given, or skips the check when asked', async () => {
    const withCa = openStores({ trackingUri: url, env: { MLFLOW_TRACKING_SERVER_CERT_PATH: join(dir, 'cert.pem') }, retry: noWait });
    expect((await withCa.tracking.getExperiment('0')).name).toBe('Default');
    const insecure = openStores({ trackingUri: url, env: { MLFLOW_TRACKING_INSECURE_TLS: 'true' }, retry: noWait });
    expect((await insecure.tracking.getExperiment('0')).name).toBe('Default');
  });
});

describe('log-batch against the server limits', () => {
  it('cuts params to 6000 and tags to 5000 characters before sending (servers before MLflow 2.12 refuse longer ones)', async () => {
    // mlflow/utils/validation.py: MAX_PARAM_VAL_LENGTH = 6000, MAX_TAG_VAL_LENGTH = 5000 (2.x); only newer
    // servers cut over-long values themselves (_validate_length_limit(truncate=True)), older ones answer 400.
    const store = new RestStore({ baseUrl: mlflow.url, retry: noWait });
    const run = await store.createRun({ experimentId: await store.createExperiment('long-values'), tags: { note: 'n'.repeat(5200) } });
    await store.logBatch(run.runId, { params: [{ key: 'config', value: 'c'.repeat(7000) }], tags: [{ key: 'summary', value: 's'.repeat(9000) }] });
    const sent = mlflow.requests.filter((r) => r.path.endsWith('runs/log-batch')).at(-1)?.json as { params: { value: string }[]; tags: { value: string }[] };
    expect([sent.params[0].value.length, sent.tags[0].value.length]).toEqual([6000, 5000]);
    const created = mlflow.requests.filter((r) => r.path.endsWith('runs/create')).at(-1)?.json as { tags: { key: string; value: string }[] };
    expect(created.tags.find((t) => t.key === 'note')?.value.length).toBe(5000);
    const astral = truncateValue(`a${'😀'.repeat(6000)}`, 6000);
    expect(Array.from(astral)).toHaveLength(6000);
    expect(astral.at(-1)).not.toMatch(/[\ud800-\udbff]/); // no half of a surrogate pair
  });

  it('keeps every request body under 1 MB, so a full batch of long values is not refused', async () => {
    const store = new RestStore({ baseUrl: mlflow.url, retry: noWait });
    const run = await store.createRun({ experimentId: await store.createExperiment('big-batch') });
    const params = Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: 'é'.repeat(6000) }));
    const tags = Array.from({ length: 100 }, (_, i) => ({ key: `t${i}`, value: 'ü'.repeat(5000) }));
    expect(splitLogBatch({ params, tags })).toHaveLength(3); // 2.2 MB of UTF-8: the count limits alone would send one request
    const before = mlflow.requests.length;
    await store.logBatch(run.runId, { params, tags });
    const sent = mlflow.requests.slice(before).filter((r) => r.path.endsWith('runs/log-batch'));
    expect(sent.every((r) => r.bodyBytes <= 1_000_000)).toBe(true);
    const stored = await store.getRun(run.runId);
    expect(Object.keys(stored.data.params)).toHaveLength(100);
    expect(stored.data.tags.t99).toBe('ü'.repeat(5000));
  });
});

describe('artifacts on a server without the proxy', () => {
  it('does not retry the 503 of --no-serve-artifacts and passes on its reason', async () => {
    // docs/mlflow.md §5: "A server started with --no-serve-artifacts answers 503 on these."
    const bare = await startMlflowServer({ serveArtifacts: false });
    try {
      const store = new RestStore({ baseUrl: bare.url, retry: noWait });
      const run = await store.createRun({ experimentId: await store.createExperiment('no-proxy') });
      await expect(store.writeArtifact(run.runId, 'a.txt', 'x')).rejects.toMatchObject({ code: 'STORE', message: expect.stringMatching(/HTTP 503: .*--no-serve-artifacts/) });
      expect(bare.requests.filter((r) => r.path.includes('mlflow-artifacts')).length).toBe(1);
    } finally {
      await bare.close();
    }
  });
});
