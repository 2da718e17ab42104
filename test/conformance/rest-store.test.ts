import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestStore } from '../../src/tracking/rest-store.js';
import { startMlflowServer, type MlflowTestServer } from '../helpers/mlflow-server.js';
import { trackingStoreCases } from './store.cases.js';

let server: MlflowTestServer;
beforeAll(async () => {
  server = await startMlflowServer();
});
afterAll(async () => {
  await server.close();
});

const noWait = { maxRetries: 2, sleep: async () => {} };

trackingStoreCases('MLflow REST store (strict test server)', async () => new RestStore({ baseUrl: server.url, retry: noWait }));

describe('REST store artifact locations', () => {
  for (const root of ['s3://bucket/mlruns', 'gs://bucket/mlruns', 'file:///srv/mlflow/mlruns', '/srv/mlflow/mlruns']) {
    it(`refuses to write artifacts when the server hands out ${root.split(':')[0]} URIs`, async () => {
      const other = await startMlflowServer({ artifactRoot: root });
      try {
        const store = new RestStore({ baseUrl: other.url, retry: noWait });
        const experimentId = await store.createExperiment('elsewhere');
        const run = await store.createRun({ experimentId });
        expect(run.artifactUri.startsWith(root)).toBe(true);
        const failure = store.writeArtifact(run.runId, 'a.txt', 'x');
        await expect(failure).rejects.toMatchObject({ code: 'STORE', message: expect.stringMatching(/cannot read or write over HTTP.*--serve-artifacts/) });
        await expect(store.listArtifacts(run.runId)).rejects.toMatchObject({ code: 'STORE' });
        expect(other.requests.some((r) => r.path.includes('mlflow-artifacts'))).toBe(false);
      } finally {
        await other.close();
      }
    });
  }

  it('puts artifact bytes under <exp>/<run>/artifacts/<path> of the proxy', async () => {
    const store = new RestStore({ baseUrl: server.url, retry: noWait });
    const experimentId = await store.createExperiment('proxy-layout');
    const run = await store.createRun({ experimentId });
    expect(run.artifactUri).toBe(`mlflow-artifacts:/${experimentId}/${run.runId}/artifacts`);
    await store.writeArtifact(run.runId, 'dir with space/ü.json', '{}');
    expect(server.artifacts.get(`${experimentId}/${run.runId}/artifacts/dir with space/ü.json`)?.toString('utf8')).toBe('{}');
  });
});
