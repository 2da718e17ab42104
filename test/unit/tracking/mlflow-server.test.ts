/**
 * The strict test server must answer as MLflow does (shared docs/mlflow.md §5); otherwise the REST store's
 * conformance run against it proves nothing. These tests speak raw HTTP to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMlflowServer, type MlflowTestServer } from '../../helpers/mlflow-server.js';

let server: MlflowTestServer;
beforeAll(async () => {
  server = await startMlflowServer();
});
afterAll(async () => {
  await server.close();
});

type Body = Record<string, unknown>;

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }): Promise<{ status: number; type: string; json: Body; text: string }> {
  // Bytes, not a string: fetch would add "Content-Type: text/plain" to a string body on its own.
  const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  const response = await fetch(`${server.url}/api/2.0/${path}`, { method, headers, body: payload });
  const text = await response.text();
  let json: Body = {};
  try {
    json = JSON.parse(text) as Body;
  } catch {
    // HTML or plain text
  }
  return { status: response.status, type: response.headers.get('content-type') ?? '', json, text };
}

const post = (path: string, body: unknown) => api('POST', `mlflow/${path}`, body);
const get = (path: string) => api('GET', `mlflow/${path}`);

async function newRun(): Promise<{ experimentId: string; runId: string }> {
  const name = `exp-${Math.random().toString(36).slice(2)}`;
  const experimentId = (await post('experiments/create', { name })).json.experiment_id as string;
  const run = (await post('runs/create', { experiment_id: experimentId, start_time: 5 })).json.run as { info: { run_id: string } };
  return { experimentId, runId: run.info.run_id };
}

describe('strict MLflow test server: protocol', () => {
  it('answers unknown routes with an HTML 404 and a wrong method with 405', async () => {
    const unknown = await post('runs/frobnicate', {});
    expect(unknown.status).toBe(404);
    expect(unknown.type).toMatch(/^text\/html/);
    expect(unknown.text).toMatch(/404 Not Found/);
    const wrongMethod = await api('DELETE', 'mlflow/runs/create', {});
    expect(wrongMethod.status).toBe(405);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('refuses a POST without Content-Type, but parses PATCH and DELETE bodies regardless', async () => {
    const noType = await api('POST', 'mlflow/experiments/create', JSON.stringify({ name: 'x' }), {});
    expect(noType.status).toBe(400);
    expect(noType.json).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Bad Request. Content-Type header is missing.' });
    const wrongType = await api('POST', 'mlflow/experiments/create', JSON.stringify({ name: 'x' }), { 'Content-Type': 'text/plain' });
    expect(wrongType.status).toBe(400);
    await post('registered-models/create', { name: 'patched' });
    const patch = await api('PATCH', 'mlflow/registered-models/update', { name: 'patched', description: 'd' }, {});
    expect(patch.status).toBe(200);
    expect((await api('DELETE', 'mlflow/registered-models/delete', { name: 'patched' }, {})).status).toBe(200);
  });

  it('maps error codes to MLflow statuses: RESOURCE_ALREADY_EXISTS → 400, missing → 404', async () => {
    await post('experiments/create', { name: 'twice' });
    const dup = await post('experiments/create', { name: 'twice' });
    expect([dup.status, dup.json.error_code]).toEqual([400, 'RESOURCE_ALREADY_EXISTS']);
    const gone = await get('runs/get?run_id=0123456789abcdef0123456789abcdef');
    expect([gone.status, gone.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    const noName = await post('experiments/create', {});
    expect([noName.status, noName.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
  });

  it('enforces protobuf JSON types: int64 as number or numeric string, version as a string', async () => {
    const { experimentId } = await newRun();
    const asString = await post('runs/create', { experiment_id: experimentId, start_time: '1795677508645' });
    expect((asString.json.run as { info: Body }).info.start_time).toBe(1795677508645);
    expect((await post('runs/create', { experiment_id: experimentId, start_time: 'soon' })).status).toBe(400);
    expect((await post('runs/create', { experiment_id: Number(experimentId) })).status).toBe(400);
    await post('registered-models/create', { name: 'typed' });
    expect((await post('model-versions/create', { name: 'typed', source: 's3://b/m' })).json.model_version).toMatchObject({ version: '1' });
    const numeric = await post('registered-models/alias', { name: 'typed', alias: 'a', version: 1 });
    expect(numeric.status).toBe(400);
  });

  it('omits unset and empty fields', async () => {
    const created = await post('registered-models/create', { name: 'bare' });
    expect(Object.keys(created.json.registered_model as Body).sort()).toEqual(['creation_timestamp', 'last_updated_timestamp', 'name']);
    const fetched = (await get('registered-models/get?name=bare')).json.registered_model as Body;
    expect(fetched.latest_versions).toBeUndefined();
    expect(fetched.tags).toBeUndefined();
    expect(fetched.aliases).toBeUndefined();
    expect((await post('registered-models/set-tag', { name: 'bare', key: 'k', value: 'v' })).text).toBe('{}');
    const run = (await post('runs/create', { experiment_id: '0' })).json.run as Body;
    expect(run.inputs).toEqual({});
    expect((run.info as Body).end_time).toBeUndefined();
  });
});

describe('strict MLflow test server: tracking rules', () => {
  it('applies the log-batch limits: 1000 metrics, 100 params, 100 tags, 1000 in total', async () => {
    const { runId } = await newRun();
    const metrics = (n: number) => Array.from({ length: n }, (_, i) => ({ key: 'm', value: i, timestamp: i, step: i }));
    const kv = (p: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: `${p}${i}`, value: 'v' }));
    expect((await post('runs/log-batch', { run_id: runId, metrics: metrics(1000) })).status).toBe(200);
    const tooMany = await post('runs/log-batch', { run_id: runId, metrics: metrics(1001) });
    expect([tooMany.status, tooMany.json.message]).toEqual([400, expect.stringMatching(/at most 1000 metrics/)]);
    expect((await post('runs/log-batch', { run_id: runId, params: kv('p', 101) })).json.message).toMatch(/at most 100 params/);
    expect((await post('runs/log-batch', { run_id: runId, tags: kv('t', 101) })).json.message).toMatch(/at most 100 tags/);
    const total = await post('runs/log-batch', { run_id: runId, metrics: metrics(850), params: kv('q', 100), tags: kv('u', 51) });
    expect([total.status, total.json.message]).toEqual([400, expect.stringMatching(/at most 1000 total/)]);
    expect((await post('runs/log-batch', { run_id: runId, metrics: metrics(800), params: kv('q', 100), tags: kv('u', 100) })).status).toBe(200);
  });

  it('rejects keys outside MLflow 2.x rules and accepts Unicode letters', async () => {
    const { runId } = await newRun();
    for (const key of ['a:b', '../x', '/abs', 'a//b', 'a/', 'a/./b', '', 'x'.repeat(251), 'semi;colon']) {
      const r = await post('runs/log-batch', { run_id: runId, params: [{ key, value: '1' }] });
      expect([key, r.status, r.json.error_code]).toEqual([key, 400, 'INVALID_PARAMETER_VALUE']);
    }
    expect((await post('runs/log-batch', { run_id: runId, params: [{ key: 'ü/ß é-1.x', value: '1' }] })).status).toBe(200);
  });

  it('keeps params immutable, truncates long values, and round-trips non-finite metrics as strings', async () => {
    const { runId } = await newRun();
    expect((await post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' })).status).toBe(200);
    expect((await post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' })).status).toBe(200);
    const changed = await post('runs/log-parameter', { run_id: runId, key: 'lr', value: '0.2' });
    expect([changed.status, changed.json.message]).toEqual([400, expect.stringMatching(/Changing param values is not allowed/)]);
    await post('runs/log-parameter', { run_id: runId, key: 'long', value: 'x'.repeat(7000) });
    await post('runs/log-metric', { run_id: runId, key: 'acc', value: 'NaN', timestamp: 1 });
    const run = (await get(`runs/get?run_id=${runId}`)).json.run as { data: { params: Body[]; metrics: Body[] } };
    expect((run.data.params.find((p) => p.key === 'long')?.value as string).length).toBe(6000);
    expect(run.data.metrics).toEqual([{ key: 'acc', value: 'NaN', timestamp: 1, step: 0 }]);
  });

  it('refuses a run_name that differs from the mlflow.runName tag', async () => {
    const r = await post('runs/create', { experiment_id: '0', run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] });
    expect(r.status).toBe(400);
  });

  it('limits max_results per endpoint', async () => {
    const { runId, experimentId } = await newRun();
    expect((await post('experiments/search', { max_results: 50_001 })).status).toBe(400);
    expect((await post('runs/search', { experiment_ids: [experimentId], max_results: 50_001 })).status).toBe(400);
    expect((await post('runs/search', { experiment_ids: [experimentId], max_results: 50_000 })).status).toBe(200);
    expect((await get(`metrics/get-history?run_id=${runId}&metric_key=m&max_results=25001`)).status).toBe(400);
    expect((await get('registered-models/search?max_results=1001')).status).toBe(400);
    expect((await get('registered-models/search?max_results=1000')).status).toBe(200);
    expect((await get('model-versions/search?max_results=200001')).status).toBe(400);
  });
});

describe('strict MLflow test server: registry rules', () => {
  it('answers an unknown alias with 400 and refuses reserved aliases', async () => {
    await post('registered-models/create', { name: 'aliased' });
    await post('model-versions/create', { name: 'aliased', source: 's3://b/m' });
    const unknown = await get('registered-models/alias?name=aliased&alias=nope');
    expect([unknown.status, unknown.json]).toEqual([400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'Registered model alias nope not found.' }]);
    for (const alias of ['latest', 'Latest', 'v3', 'bad alias']) {
      expect((await post('registered-models/alias', { name: 'aliased', alias, version: '1' })).status).toBe(400);
    }
    expect((await post('registered-models/alias', { name: 'aliased', alias: 'champion', version: '1' })).status).toBe(200);
    const byAlias = (await get('registered-models/alias?name=aliased&alias=champion')).json.model_version as Body;
    expect(byAlias).toMatchObject({ version: '1', aliases: ['champion'] });
  });

  it('applies the model-version source rule', async () => {
    await post('registered-models/create', { name: 'sourced' });
    const { runId } = await newRun();
    expect((await post('model-versions/create', { name: 'sourced', source: '/tmp/model' })).status).toBe(400);
    expect((await post('model-versions/create', { name: 'sourced', source: 'file:///tmp/model', run_id: runId })).status).toBe(400); // run URI is mlflow-artifacts:
    expect((await post('model-versions/create', { name: 'sourced', source: 's3://b/../etc' })).status).toBe(400);
    expect((await post('model-versions/create', { name: 'sourced', source: 'mlflow-artifacts:/1/r/artifacts/model', run_id: runId })).status).toBe(200);
  });

  it('requires archive_existing_versions on stage transitions', async () => {
    await post('registered-models/create', { name: 'staged' });
    await post('model-versions/create', { name: 'staged', source: 's3://b/m' });
    expect((await post('model-versions/transition-stage', { name: 'staged', version: '1', stage: 'Production' })).status).toBe(400);
    const ok = await post('model-versions/transition-stage', { name: 'staged', version: '1', stage: 'production', archive_existing_versions: false });
    expect((ok.json.model_version as Body).current_stage).toBe('Production');
  });
});

describe('strict MLflow test server: artifacts proxy and auth', () => {
  it('stores, lists (basenames) and serves artifacts, refusing unsafe paths', async () => {
    const base = `${server.url}/api/2.0/mlflow-artifacts/artifacts`;
    expect((await fetch(`${base}/1/r/artifacts/model/MLmodel`, { method: 'PUT', body: 'flavors: {}' })).status).toBe(200);
    expect((await fetch(`${base}/1/r/artifacts/top.txt`, { method: 'PUT', body: 'x' })).status).toBe(200);
    const listed = (await (await fetch(`${base}?path=1/r/artifacts`)).json()) as Body;
    expect(listed).toEqual({ files: [{ path: 'model', is_dir: true }, { path: 'top.txt', is_dir: false, file_size: 1 }] });
    expect(await (await fetch(`${base}/1/r/artifacts/model/MLmodel`)).text()).toBe('flavors: {}');
    expect((await fetch(`${base}/1/r/artifacts/missing`)).status).toBe(404);
    // Encoded slashes reach the server as one segment ("../../etc/passwd" once decoded); fetch would resolve plain "..".
    expect((await fetch(`${base}/1/r/..%2F..%2F..%2Fetc%2Fpasswd`, { method: 'PUT', body: 'x' })).status).toBe(400);
    expect((await fetch(`${base}?path=1/..%2F..%2Fetc`)).status).toBe(400);
  });

  it('answers 503 on the proxy without --serve-artifacts', async () => {
    const bare = await startMlflowServer({ serveArtifacts: false });
    try {
      expect((await fetch(`${bare.url}/api/2.0/mlflow-artifacts/artifacts?path=x`)).status).toBe(503);
    } finally {
      await bare.close();
    }
  });

  it('requires credentials when auth is on (401 text/plain), but not for /health', async () => {
    const guarded = await startMlflowServer({ auth: { basic: [{ username: 'u', password: 'p' }] } });
    try {
      const denied = await fetch(`${guarded.url}/api/2.0/mlflow/experiments/get?experiment_id=0`);
      expect([denied.status, denied.headers.get('content-type'), denied.headers.get('www-authenticate')]).toEqual([401, 'text/plain', 'Basic realm="mlflow"']);
      const allowed = await fetch(`${guarded.url}/api/2.0/mlflow/experiments/get?experiment_id=0`, { headers: { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } });
      expect(allowed.status).toBe(200);
      expect((await fetch(`${guarded.url}/health`)).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
