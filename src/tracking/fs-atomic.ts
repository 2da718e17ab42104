/** Atomic file writes (temp + rename) and a lock file for writers that must not interleave. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { SpotmlError } from '../errors.js';

/** Writes `content` to `path` atomically: readers see the old file or the new one, never half of it. */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

export interface LockOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** A lock older than this whose holder is gone is broken (ms). */
  staleMs?: number;
}

/**
 * Runs `fn` holding an exclusive lock file (O_EXCL create). A lock left by a dead process (same host,
 * pid gone) or older than `staleMs` is broken, so a crash never blocks the store forever.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  await mkdir(dirname(lockPath), { recursive: true });
  const started = Date.now();
  let delay = 2;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now() }));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await isStale(lockPath, staleMs)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() - started > timeoutMs) {
        throw new SpotmlError('STORE', `timed out waiting for the lock ${lockPath}; if no spotml process is running, delete that file`, {
          lock: lockPath,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay));
      delay = Math.min(50, delay * 2);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  try {
    const text = await readFile(lockPath, 'utf8');
    const holder = JSON.parse(text) as { pid?: number; host?: string; time?: number };
    if (holder.host === hostname() && typeof holder.pid === 'number' && !processAlive(holder.pid)) return true;
    return typeof holder.time === 'number' && Date.now() - holder.time > staleMs;
  } catch {
    // Unreadable or half-written lock: judge by its age.
    try {
      const info = await stat(lockPath);
      return Date.now() - info.mtimeMs > Math.min(staleMs, 5_000);
    } catch {
      return true;
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text);
}

export { writeFile };
