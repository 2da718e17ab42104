/**
 * withLock (the stores' lock, src/runtime/lock.ts): one holder at a time under heavy contention (in one process
 * the async file operations of many contenders interleave); stale locks (dead holder on this host, a foreign
 * one too old) are broken, live ones never; nothing is left behind.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withLock } from '../../../src/tracking/fs-atomic.js';

const dir = mkdtempSync(join(tmpdir(), 'spotml-lock-unit-'));

describe('withLock', () => {
  it('never lets two holders in at once, however the contenders interleave', async () => {
    for (let round = 0; round < 5; round++) {
      const lock = join(dir, `contended-${round}.lock`);
      let inside = 0;
      let overlaps = 0;
      let done = 0;
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          await withLock(
            lock,
            async () => {
              inside++;
              if (inside > 1) overlaps++;
              // Hold it across a few event-loop turns, longer for some, so releases and retakes interleave.
              for (let k = 0; k < 1 + (i % 4); k++) await new Promise((r) => setImmediate(r));
              inside--;
              done++;
            },
            { timeoutMs: 60_000 },
          );
        }),
      );
      expect(overlaps, `round ${round}`).toBe(0);
      expect(done).toBe(40);
    }
    // Nothing left behind: no lock, no set-aside stale copies.
    expect(readdirSync(dir).filter((f) => f.startsWith('contended'))).toEqual([]);
  });

  it('breaks a lock whose holder is dead or that is older than staleMs; waits for a live one', async () => {
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    const dead = join(dir, 'dead.lock');
    writeFileSync(dead, JSON.stringify({ pid: deadPid, host: hostname(), token: 'x', time: Date.now() }));
    expect(await withLock(dead, async () => 'taken', { timeoutMs: 2_000 })).toBe('taken');

    const old = join(dir, 'old.lock');
    writeFileSync(old, JSON.stringify({ pid: process.pid, host: 'elsewhere', token: 'x', time: Date.now() - 120_000 }));
    expect(await withLock(old, async () => 'taken', { timeoutMs: 2_000, staleMs: 60_000 })).toBe('taken');

    const live = join(dir, 'live.lock');
    writeFileSync(live, JSON.stringify({ pid: process.pid, host: hostname(), token: 'x', time: Date.now() }));
    await expect(withLock(live, async () => 'taken', { timeoutMs: 300 })).rejects.toMatchObject({ code: 'STORE' });
  });
});
