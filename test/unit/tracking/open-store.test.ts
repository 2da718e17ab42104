import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileRegistry } from '../../../src/registry/file-registry.js';
import { RestRegistry } from '../../../src/registry/rest-registry.js';
import { FileStore } from '../../../src/tracking/file-store/index.js';
import { TENANT_TAG, openStores, resolveTrackingUri, type Stores } from '../../../src/tracking/open-store.js';
import { RestStore } from '../../../src/tracking/rest-store.js';
import { registryStoreCases } from '../../conformance/registry.cases.js';
import { trackingStoreCases } from '../../conformance/store.cases.js';
import { startMlflowServer, type MlflowTestServer } from '../../helpers/mlflow-server.js';

const servers: MlflowTestServer[] = [];
let shared: MlflowTestServer;
beforeAll(async () => {
  shared = await startMlflowServer();
  servers.push(shared);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
const noWait = { maxRetries: 1, sleep: async () => {} };

describe('resolveTrackingUri / openStores', () => {
  it('maps http(s) to REST and file:, paths and nothing to the file store', () => {
    expect(resolveTrackingUri(undefined)).toEqual({ kind: 'file', root: 'mlruns' });
    expect(resolveTrackingUri('  ')).toEqual({ kind: 'file', root: 'mlruns' });
    expect(resolveTrackingUri('http://localhost:5000')).toEqual({ kind: 'rest', url: 'http://localhost:5000' });
    expect(resolveTrackingUri('HTTPS://mlflow.example.com/prefix')).toEqual({ kind: 'rest', url: 'HTTPS://mlflow.example.com/prefix' });
    expect(resolveTrackingUri(pathToFileURL('/srv/mlruns').href)).toEqual({ kind: 'file', root: '/srv/mlruns' });
    expect(resolveTrackingUri('file:./local')).toEqual({ kind: 'file', root: './local' });
    expect(resolveTrackingUri('./runs')).toEqual({ kind: 'file', root: './runs' });
    for (const bad of ['sqlite:///mlflow.db', 'postgresql://u@h/db', 'databricks', 'databricks://profile', 's3://bucket/mlruns']) {
      expect(() => resolveTrackingUri(bad)).toThrow(expect.objectContaining({ code: 'USAGE', message: expect.stringMatching(/not supported.*http\(s\)/) }));
    }
  });

  it('prefers the option over MLFLOW_TRACKING_URI and defaults to ./mlruns', () => {
    const byEnv = openStores({ env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:1' } });
    expect(byEnv.kind).toBe('rest');
    expect(byEnv.tracking).toBeInstanceOf(RestStore);
    expect(byEnv.registry).toBeInstanceOf(RestRegistry);
    const byOption = openStores({ trackingUri: '/tmp/x-mlruns', env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:1' } });
    expect(byOption.kind).toBe('file');
    expect(byOption.tracking).toBeInstanceOf(FileStore);
    expect(byOption.registry).toBeInstanceOf(FileRegistry);
    expect(openStores({ env: {} }).location).toBe(resolve('mlruns'));
    expect(() => openStores({ env: {}, tenant: 'Acme.Corp' })).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('sends MLFLOW_TRACKING_TOKEN from the environment', async () => {
    const server = await startMlflowServer({ auth: { bearer: 's3cret' } });
    servers.push(server);
    const ok = openStores({ env: { MLFLOW_TRACKING_URI: server.url, MLFLOW_TRACKING_TOKEN: 's3cret' }, retry: noWait });
    expect(typeof (await ok.tracking.createExperiment('with-token'))).toBe('string');
    const denied = openStores({ env: { MLFLOW_TRACKING_URI: server.url }, retry: noWait });
    await expect(denied.tracking.createExperiment('no-token')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

// The tenant views must meet the same contracts as the stores they wrap.
trackingStoreCases('file store, tenant view', async () => openStores({ trackingUri: await mkdtemp(join(tmpdir(), 'spotml-tenant-')), tenant: 'acme' }).tracking);
registryStoreCases('file registry, tenant view', async () => {
  const { tracking, registry } = openStores({ trackingUri: await mkdtemp(join(tmpdir(), 'spotml-tenant-')), tenant: 'acme' });
  return { tracking, registry };
});
registryStoreCases('REST registry, tenant view', async () => {
  const server = await startMlflowServer();
  servers.push(server);
  const { tracking, registry } = openStores({ trackingUri: server.url, tenant: 'acme', env: {}, retry: noWait });
  return { tracking, registry };
});

async function tenantsOn(backend: 'file' | 'rest'): Promise<{ acme: Stores; globex: Stores; operator: Stores }> {
  let uri: string;
  if (backend === 'file') uri = await mkdtemp(join(tmpdir(), 'spotml-tenants-'));
  else {
    const server = await startMlflowServer();
    servers.push(server);
    uri = server.url;
  }
  const open = (tenant?: string): Stores => openStores({ trackingUri: uri, tenant, env: {}, retry: noWait, user: tenant ?? 'operator' });
  return { acme: open('acme'), globex: open('globex'), operator: open() };
}

for (const backend of ['file', 'rest'] as const) {
  describe(`tenancy on the ${backend} backend`, () => {
    it('keeps each tenant to its own experiments, runs and models, and refuses cross-tenant access', async () => {
      const { acme, globex, operator } = await tenantsOn(backend);
      const acmeExp = await acme.tracking.createExperiment('kws');
      const acmeRun = await acme.tracking.createRun({ experimentId: acmeExp });
      await acme.tracking.writeArtifact(acmeRun.runId, 'model/MLmodel', 'flavors: {}\n');
      await acme.registry.createRegisteredModel('kws-model', { tags: { owner: 'ana' } });
      const source = `${acmeRun.artifactUri}/model`;
      await acme.registry.createModelVersion('kws-model', source, { runId: acmeRun.runId });
      await acme.registry.setAlias('kws-model', 'champion', 1);

      // acme sees its objects under its own names, without the tenant tag.
      expect(await acme.tracking.getExperiment(acmeExp)).toMatchObject({ name: 'kws', tags: {} });
      expect((await acme.tracking.getExperimentByName('kws'))?.experimentId).toBe(acmeExp);
      const model = await acme.registry.getRegisteredModel('kws-model');
      expect(model).toMatchObject({ name: 'kws-model', tags: { owner: 'ana' }, aliases: { champion: 1 } });
      expect(model.latestVersions[0]).toMatchObject({ name: 'kws-model', tags: {} });

      // The same names are free in globex's namespace, and globex's objects do not leak into acme's searches.
      const globexExp = await globex.tracking.createExperiment('kws');
      expect(globexExp).not.toBe(acmeExp);
      await globex.registry.createRegisteredModel('kws-model');
      await globex.registry.createRegisteredModel('other');
      expect((await acme.registry.searchRegisteredModels()).items.map((m) => m.name)).toEqual(['kws-model']);
      expect((await globex.registry.searchRegisteredModels()).items.map((m) => m.name)).toEqual(['kws-model', 'other']);
      expect((await globex.registry.searchModelVersions()).items).toEqual([]);
      expect((await acme.registry.searchModelVersions()).items.map((v) => [v.name, v.version])).toEqual([['kws-model', 1]]);
      expect(await globex.registry.getLatestVersions('kws-model')).toEqual([]);

      // By id, globex is refused acme's experiment, run, artifacts and metrics.
      const forbidden = { code: 'FORBIDDEN', message: expect.stringMatching(/another tenant; tenant "globex"/) };
      await expect(globex.tracking.getExperiment(acmeExp)).rejects.toMatchObject(forbidden);
      await expect(globex.tracking.listRuns(acmeExp)).rejects.toMatchObject(forbidden);
      await expect(globex.tracking.createRun({ experimentId: acmeExp })).rejects.toMatchObject(forbidden);
      await expect(globex.tracking.getRun(acmeRun.runId)).rejects.toMatchObject(forbidden);
      await expect(globex.tracking.logBatch(acmeRun.runId, { params: [{ key: 'x', value: '1' }] })).rejects.toMatchObject(forbidden);
      await expect(globex.tracking.updateRun(acmeRun.runId, 'KILLED')).rejects.toMatchObject(forbidden);
      await expect(globex.tracking.writeArtifact(acmeRun.runId, 'evil.txt', 'x')).rejects.toMatchObject(forbidden);
      await expect(globex.tracking.listArtifacts(acmeRun.runId)).rejects.toMatchObject(forbidden);
      await expect(globex.tracking.getMetricHistory(acmeRun.runId, 'loss')).rejects.toMatchObject(forbidden);
      // …and cannot register a version from acme's run into its own model.
      await expect(globex.registry.createModelVersion('kws-model', source, { runId: acmeRun.runId })).rejects.toMatchObject(forbidden);
      // Nothing changed for acme.
      expect((await acme.tracking.getRun(acmeRun.runId)).data.params).toEqual({});
      expect((await acme.tracking.getRun(acmeRun.runId)).info.status).toBe('RUNNING');
      expect((await acme.registry.searchModelVersions({ name: 'kws-model' })).items).toHaveLength(1);

      // A tenant cannot forge or strip the tenant tag.
      await expect(globex.registry.setRegisteredModelTag('other', TENANT_TAG, 'acme')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(globex.registry.createRegisteredModel('forged', { tags: { [TENANT_TAG]: 'acme' } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(globex.tracking.createExperiment('forged', { [TENANT_TAG]: 'acme' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(acme.registry.deleteRegisteredModelTag('kws-model', TENANT_TAG)).rejects.toMatchObject({ code: 'FORBIDDEN' });

      // An untagged object that merely carries acme's prefix is not acme's.
      await operator.registry.createRegisteredModel('acme.squatter');
      await expect(acme.registry.getRegisteredModel('squatter')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(acme.registry.deleteRegisteredModel('squatter')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect((await acme.registry.searchRegisteredModels()).items.map((m) => m.name)).toEqual(['kws-model']);

      // The operator (no tenant) sees the stored names and tags.
      const all = (await operator.registry.searchRegisteredModels()).items;
      expect(all.map((m) => m.name)).toEqual(['acme.kws-model', 'acme.squatter', 'globex.kws-model', 'globex.other']);
      expect(all[0].tags[TENANT_TAG]).toBe('acme');
      expect((await operator.tracking.getExperiment(acmeExp)).name).toBe('acme.kws');
    });
  });
}
