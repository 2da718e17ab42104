import { afterAll } from 'vitest';
import { RestRegistry } from '../../src/registry/rest-registry.js';
import { RestClient } from '../../src/tracking/rest/client.js';
import { RestStore } from '../../src/tracking/rest-store.js';
import { startMlflowServer, type MlflowTestServer } from '../helpers/mlflow-server.js';
import { registryStoreCases } from './registry.cases.js';

// Each case gets a fresh server so model names do not collide between cases.
const servers: MlflowTestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

registryStoreCases('MLflow REST registry (strict test server)', async () => {
  const fresh = await startMlflowServer();
  servers.push(fresh);
  const client = new RestClient({ baseUrl: fresh.url, retry: { maxRetries: 1, sleep: async () => {} } });
  return { registry: new RestRegistry(client), tracking: new RestStore(client) };
});
