import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestClient, authorizationHeader, credentialsFromEnv, type Credentials } from '../../../src/tracking/rest/client.js';
import { LOG_BATCH_LIMITS } from '../../../src/tracking/rest/endpoints.js';
import { RestStore, proxyPathOf, splitLogBatch } from '../../../src/tracking/rest-store.js';
import type { Metric } from '../../../src/tracking/store.js';
import { startMlflowServer, type MlflowTestServer } from '../../helpers/mlflow-server.js';

let server: MlflowTestServer;
beforeAll(async () => {
  server = await startMlflowServer({
    auth: { bearer: 'tok-2', basic: [{ username: 'ana', password: 'pw:with:colons' }, { username: 'viewer', password: 'v' }] },
    readOnlyUsers: ['viewer'],
  });
});
afterAll(async () => {
  await server.close();
});

const requestsTo = (path: string): number => server.requests.filter((r) => r.path.endsWith(path)).length;

function clientWith(overrides: { credentials?: Credentials; maxRetries?: number; delays?: number[]; random?: () => number } = {}): RestClient {
  const delays = overrides.delays ?? [];
  return new RestClient({
    baseUrl: `${server.url}/`,
    getCredentials: () => overrides.credentials ?? { token: 'tok-2' },
    retry: {
      maxRetries: overrides.maxRetries ?? 4,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: overrides.random ?? (() => 0.5),
      sleep: async (ms) => {
        delays.push(ms);
      },
    },
  });
}

describe('RestClient retries', () => {
  it('retries 503 and 429 with exponential backoff, then succeeds', async () => {
    const delays: number[] = [];
    const client = clientWith({ delays });
    server.failNext(3, 503);
    const before = requestsTo('experiments/get');
    const body = await client.call<{ experiment: { name: string } }>('getExperiment', { experiment_id: '0' });
    expect(body.experiment.name).toBe('Default');
    expect(requestsTo('experiments/get') - before).toBe(4);
    // equal jitter with random = 0.5: 3/4 of base·2^n
    expect(delays).toEqual([75, 150, 300]);
  });

  it('honours Retry-After and caps delays at maxDelayMs', async () => {
    const delays: number[] = [];
    const client = clientWith({ delays });
    server.failNext(1, 429, '0.5');
    server.failNext(1, 429, '60');
    await client.call('getExperiment', { experiment_id: '0' });
    expect(delays).toEqual([500, 1000]);
  });

  it('retries dropped connections (network errors)', async () => {
    const delays: number[] = [];
    server.dropNext(2);
    const body = await clientWith({ delays }).call<{ experiment: { name: string } }>('getExperiment', { experiment_id: '0' });
    expect(body.experiment.name).toBe('Default');
    expect(delays).toHaveLength(2);
  });

  it('gives up after maxRetries with a one-line STORE error naming the endpoint', async () => {
    const delays: number[] = [];
    server.failNext(3, 500);
    const failure = clientWith({ delays, maxRetries: 2 }).call('getExperiment', { experiment_id: '0' });
    await expect(failure).rejects.toMatchObject({ code: 'STORE', message: expect.stringMatching(/^MLflow GET mlflow\/experiments\/get failed: TEMPORARILY_UNAVAILABLE: injected failure$/) });
    expect(delays).toHaveLength(2);
  });

  it('does not retry client errors', async () => {
    const delays: number[] = [];
    const before = requestsTo('experiments/get');
    await expect(clientWith({ delays }).call('getExperiment', { experiment_id: '987654' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(requestsTo('experiments/get') - before).toBe(1);
    expect(delays).toEqual([]);
  });

  it('reports an unreachable server after the retries', async () => {
    const delays: number[] = [];
    const client = new RestClient({ baseUrl: 'http://127.0.0.1:9', retry: { maxRetries: 2, sleep: async (ms) => void delays.push(ms) } });
    await expect(client.call('getExperiment', { experiment_id: '0' })).rejects.toMatchObject({
      code: 'STORE',
      message: expect.stringMatching(/cannot reach http:\/\/127\.0\.0\.1:9 .* after 3 attempts; check MLFLOW_TRACKING_URI/),
    });
    expect(delays).toHaveLength(2);
  });

  it('backoff grows as base·2^n within [half, full] of the capped delay', () => {
    const low = clientWith({ random: () => 0 });
    const high = clientWith({ random: () => 0.999999 });
    for (let n = 0; n < 8; n++) {
      const capped = Math.min(1000, 100 * 2 ** n);
      expect(low.backoff(n, null)).toBeCloseTo(capped / 2, 6);
      expect(high.backoff(n, null)).toBeCloseTo(capped, 2);
    }
  });
});

describe('RestClient errors and auth', () => {
  it('maps MLflow error codes to SpotmlError codes', async () => {
    const client = clientWith();
    await client.call('createExperiment', { name: 'dup' });
    await expect(client.call('createExperiment', { name: 'dup' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      details: { errorCode: 'RESOURCE_ALREADY_EXISTS', status: 400 },
      message: "MLflow POST mlflow/experiments/create failed: RESOURCE_ALREADY_EXISTS: Experiment 'dup' already exists.",
    });
    await expect(client.call('getRun', { run_id: 'abc' })).rejects.toMatchObject({ code: 'NOT_FOUND', details: { status: 404 } });
    await expect(client.call('logBatch', { run_id: 'abc', metrics: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('reports an HTML 404 (not an MLflow server, or a wrong path prefix) as STORE with a hint', async () => {
    const client = new RestClient({ baseUrl: `${server.url}/wrong-prefix`, getCredentials: () => ({ token: 'tok-2' }), retry: { maxRetries: 0 } });
    await expect(client.call('getExperiment', { experiment_id: '0' })).rejects.toMatchObject({
      code: 'STORE',
      message: expect.stringMatching(/HTTP 404: 404 Not Found Not Found .*; is http:\/\/127\.0\.0\.1:\d+\/wrong-prefix an MLflow server/),
    });
  });

  it('maps 401 to UNAUTHENTICATED and 403 to FORBIDDEN with the fix', async () => {
    await expect(clientWith({ credentials: {} }).call('getExperiment', { experiment_id: '0' })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringMatching(/MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/),
    });
    await expect(clientWith({ credentials: { token: 'wrong' } }).call('getExperiment', { experiment_id: '0' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const viewer = clientWith({ credentials: { username: 'viewer', password: 'v' } });
    await viewer.call('getExperiment', { experiment_id: '0' });
    await expect(viewer.call('createExperiment', { name: 'viewer-exp' })).rejects.toMatchObject({ code: 'FORBIDDEN', details: { errorCode: 'PERMISSION_DENIED' } });
  });

  it('builds Basic and Bearer headers, and asks the credentials callback on every request', async () => {
    expect(authorizationHeader({ token: 't' })).toBe('Bearer t');
    // mlflow/utils/rest_utils.py http_request: `if host_creds.username and host_creds.password: Basic … elif
    // host_creds.token: Bearer …` — Basic wins when both are set, and needs both halves.
    expect(authorizationHeader({ token: 't', username: 'u', password: 'p' })).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(authorizationHeader({ token: 't', username: 'u' })).toBe('Bearer t');
    expect(authorizationHeader({ username: 'u' })).toBeUndefined();
    expect(authorizationHeader({ username: 'ana', password: 'pw:with:colons' })).toBe(`Basic ${Buffer.from('ana:pw:with:colons').toString('base64')}`);
    expect(authorizationHeader({})).toBeUndefined();
    expect(credentialsFromEnv({ MLFLOW_TRACKING_USERNAME: 'ana', MLFLOW_TRACKING_PASSWORD: 'pw' })()).toEqual({ token: undefined, username: 'ana', password: 'pw' });

    const basic = clientWith({ credentials: { username: 'ana', password: 'pw:with:colons' } });
    expect(((await basic.call('getExperiment', { experiment_id: '0' })) as { experiment: unknown }).experiment).toBeDefined();

    const tokens = ['tok-1', 'tok-2'];
    let calls = 0;
    const refreshing = new RestClient({
      baseUrl: server.url,
      getCredentials: () => ({ token: tokens[Math.min(calls++, 1)] }),
      retry: { maxRetries: 0 },
    });
    await expect(refreshing.call('getExperiment', { experiment_id: '0' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await refreshing.call('getExperiment', { experiment_id: '0' });
    expect(calls).toBe(2);
  });

  it('sends JSON with Content-Type on POST and repeats list parameters on GET', async () => {
    const client = clientWith();
    await client.call('searchExperiments', { max_results: 5 });
    const post = server.requests.filter((r) => r.path.endsWith('experiments/search')).at(-1);
    expect(post?.headers['content-type']).toBe('application/json');
    expect(post?.json).toEqual({ max_results: 5 });
    await client.call('searchRegisteredModels', { order_by: ['name ASC', 'last_updated_timestamp DESC'], filter: undefined }).catch(() => undefined);
    const get = server.requests.filter((r) => r.path.endsWith('registered-models/search')).at(-1);
    expect(get?.query.order_by).toEqual(['name ASC', 'last_updated_timestamp DESC']);
    expect(get?.query.filter).toBeUndefined();
  });
});

describe('RestStore requests', () => {
  it('sends user_id in runs/create along with the mlflow.user tag', async () => {
    const store = new RestStore(clientWith());
    const experimentId = await store.createExperiment('user-id');
    const run = await store.createRun({ experimentId, userId: 'ana', runName: 'r' });
    expect(run.userId).toBe('ana');
    const body = server.requests.filter((r) => r.path.endsWith('runs/create')).at(-1)?.json as Record<string, unknown>;
    expect(body).toMatchObject({ experiment_id: experimentId, user_id: 'ana', run_name: 'r' });
    expect(body.tags).toEqual(expect.arrayContaining([{ key: 'mlflow.user', value: 'ana' }, { key: 'mlflow.runName', value: 'r' }]));
  });

  it('splits a large batch into requests the server accepts, preserving order', async () => {
    const store = new RestStore(clientWith());
    const experimentId = await store.createExperiment('split');
    const run = await store.createRun({ experimentId });
    const before = server.requests.length;
    const metrics: Metric[] = Array.from({ length: 2300 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), step: i, timestamp: i }));
    await store.logBatch(run.runId, { metrics, params: Array.from({ length: 230 }, (_, i) => ({ key: `p${i}`, value: String(i) })) });
    const sent = server.requests.slice(before).filter((r) => r.path.endsWith('runs/log-batch')).map((r) => r.json as { metrics: unknown[]; params: unknown[] });
    expect(sent.length).toBe(3); // 230 params need 3 requests; 2300 metrics fit in the room left
    for (const body of sent) {
      expect((body.metrics ?? []).length + (body.params ?? []).length).toBeLessThanOrEqual(1000);
      expect((body.params ?? []).length).toBeLessThanOrEqual(100);
    }
    expect((await store.getMetricHistory(run.runId, 'loss')).map((m) => m.step)).toEqual(metrics.map((m) => m.step));
  });

  it('turns mlflow-artifacts URIs into proxy paths and refuses other schemes', () => {
    expect(proxyPathOf('r', 'mlflow-artifacts:/12/abc/artifacts')).toBe('12/abc/artifacts');
    expect(proxyPathOf('r', 'mlflow-artifacts://host:5000/12/abc/artifacts/')).toBe('12/abc/artifacts');
    for (const uri of ['s3://b/1/abc/artifacts', 'gs://b/x', 'wasbs://c@a.blob.core.windows.net/x', 'file:///srv/mlruns/1/abc/artifacts', '/srv/mlruns/x']) {
      expect(() => proxyPathOf('r', uri)).toThrow(expect.objectContaining({ code: 'STORE', message: expect.stringMatching(/cannot read or write over HTTP/) }));
    }
  });
});

describe('splitLogBatch', () => {
  const kv = (prefix: string) => fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 450 }).map((xs) => xs.map((x, i) => ({ key: `${prefix}${i}`, value: String(x) })));
  it('keeps every item in order and every chunk within MLflow limits', () => {
    fc.assert(
      fc.property(fc.nat(4500), kv('p'), kv('t'), (metricCount, params, tags) => {
        const metrics: Metric[] = Array.from({ length: metricCount }, (_, i) => ({ key: 'm', value: i, step: i, timestamp: 0 }));
        const chunks = splitLogBatch({ metrics, params, tags });
        for (const c of chunks) {
          expect(c.metrics.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.metrics);
          expect(c.params.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.params);
          expect(c.tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.tags);
          expect(c.metrics.length + c.params.length + c.tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.total);
          expect(c.metrics.length + c.params.length + c.tags.length).toBeGreaterThan(0);
        }
        expect(chunks.flatMap((c) => c.metrics)).toEqual(metrics);
        expect(chunks.flatMap((c) => c.params)).toEqual(params);
        expect(chunks.flatMap((c) => c.tags)).toEqual(tags);
        // No more requests than the tightest limit forces, plus at most one.
        const lowerBound = Math.max(Math.ceil(params.length / 100), Math.ceil(tags.length / 100), Math.ceil((metricCount + params.length + tags.length) / 1000));
        expect(chunks.length).toBeLessThanOrEqual(lowerBound + 1);
      }),
      { numRuns: 200 },
    );
  });
});
