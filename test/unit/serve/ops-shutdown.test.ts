/**
 * --shutdown-delay: on SIGTERM a Kubernetes Service (or a load balancer) keeps routing to the instance for a few
 * seconds; for that long readiness fails while requests are still answered, and only then does the server drain.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../../../src/serve/server.js';
import { forestPackage } from './fixtures.js';

describe('shutdown delay', () => {
  it('keeps answering with readiness failing for the delay, then stops listening', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'spotml-shutdown-')), 'model');
    await forestPackage({ dir, trees: 3 });
    const server = await startServer({ model: dir, host: '127.0.0.1', port: 0, runtime: 'native', pollSeconds: 0, shutdownDelayMs: 1500, logSink: null });
    const body = JSON.stringify({ instances: [[0, 0, 0, 0]] });
    const score = (): Promise<Response> => fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
    const started = Date.now();
    const closed = server.close();
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(503);
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    const answer = await score();
    expect(answer.status).toBe(200);
    expect(answer.headers.get('connection')).not.toBe('close');
    await closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    await expect(score()).rejects.toThrow();
  });
});
