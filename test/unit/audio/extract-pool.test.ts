import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerPool, workerAvailable } from '../../../src/runtime/pool.js';
import { SpotmlError } from '../../../src/errors.js';

// The pool's parent side against a plain-JS worker speaking the same message protocol ({id, task} →
// {id, result} | {id, error}); serveTasks itself runs in the built CLI tests (test/integration/extract.test.ts).
const dir = mkdtempSync(join(tmpdir(), 'spotml-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const workerPath = join(dir, 'worker.mjs');
writeFileSync(
  workerPath,
  `import { parentPort, threadId } from 'node:worker_threads';
parentPort.on('message', async (message) => {
  if (message.shutdown) return parentPort.close();
  const { id, task } = message;
  if (task.kind === 'crash') process.exit(3);
  if (task.kind === 'spin') { const end = Date.now() + 60000; while (Date.now() < end); }
  await new Promise((r) => setTimeout(r, task.delay ?? 0));
  if (task.kind === 'fail') parentPort.postMessage({ id, error: { message: 'bad file', code: 'DECODE', details: { file: task.n } } });
  else parentPort.postMessage({ id, result: { square: task.n * task.n, threadId } });
});
`,
);
const workerUrl = pathToFileURL(workerPath);

interface Task {
  kind: 'square' | 'fail' | 'crash' | 'spin';
  n: number;
  delay?: number;
}

describe('WorkerPool', () => {
  it('runs tasks on several threads and returns each result to its caller', async () => {
    const pool = new WorkerPool<Task, { square: number; threadId: number }>(workerUrl, 2);
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, n) => pool.run({ kind: 'square', n, delay: (n * 7) % 5 })));
      expect(results.map((r) => r.square)).toEqual(Array.from({ length: 20 }, (_, n) => n * n));
      expect(new Set(results.map((r) => r.threadId)).size).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('passes SpotmlErrors back with code and details', async () => {
    const pool = new WorkerPool<Task, unknown>(workerUrl, 1);
    try {
      const err = await pool.run({ kind: 'fail', n: 7 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SpotmlError);
      expect(err).toMatchObject({ code: 'DECODE', message: 'bad file', details: { file: 7 } });
    } finally {
      await pool.close();
    }
  });

  it('a worker that dies fails only its task; the pool replaces it and goes on', async () => {
    const pool = new WorkerPool<Task, { square: number }>(workerUrl, 1);
    try {
      const crashed = pool.run({ kind: 'crash', n: 0 });
      const after = pool.run({ kind: 'square', n: 3 });
      await expect(crashed).rejects.toThrow(/worker thread died: exited with code 3/);
      expect((await after).square).toBe(9);
    } finally {
      await pool.close();
    }
  });

  it('a task past its timeout is rejected and its stuck worker replaced', async () => {
    const pool = new WorkerPool<Task, { square: number }>(workerUrl, 1);
    try {
      const started = Date.now();
      const stuck = pool.run({ kind: 'spin', n: 0 }, { timeoutMs: 300 });
      const after = pool.run({ kind: 'square', n: 4 }, { timeoutMs: 5000 });
      await expect(stuck).rejects.toThrow(/timed out after 0.3 s/);
      expect((await after).square).toBe(16);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await pool.close();
    }
  });

  it('close rejects queued tasks and refuses new ones', async () => {
    const pool = new WorkerPool<Task, unknown>(workerUrl, 1);
    const running = pool.run({ kind: 'square', n: 1, delay: 200 }).catch((e: unknown) => e);
    const queued = pool.run({ kind: 'square', n: 2 }).catch((e: unknown) => e);
    await pool.close();
    expect(await queued).toMatchObject({ message: expect.stringMatching(/closed/) });
    expect(await running).toMatchObject({ message: expect.stringMatching(/closed/) });
    await expect(pool.run({ kind: 'square', n: 3 })).rejects.toThrow(/closed/);
    expect(pool.isClosed).toBe(true);
  });

  it('needs a built .js worker module', () => {
    expect(workerAvailable(workerUrl)).toBe(true);
    expect(workerAvailable(pathToFileURL(join(dir, 'missing.js')))).toBe(false);
    expect(workerAvailable(new URL('../../../src/audio/extract-worker.ts', import.meta.url))).toBe(false);
    expect(() => new WorkerPool(pathToFileURL(join(dir, 'missing.js')), 1)).toThrow(/npm run build/);
    expect(() => new WorkerPool(workerUrl, 0)).toThrow(/positive integer/);
  });
});
