/** Atomic file writes (temp + rename) and a lock file for writers that must not interleave. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { acquireLock } from '../runtime/lock.js';

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
  /** A lock held from another host is broken after this long (ms); one from this host when its process is gone. */
  staleMs?: number;
}

/** Runs `fn` holding the exclusive lock file `lockPath` (src/runtime/lock.ts), released however `fn` ends. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  const release = await acquireLock(lockPath, options.timeoutMs ?? 30_000, options.staleMs ?? 60_000);
  try {
    return await fn();
  } finally {
    await release();
  }
}

export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text);
}

export { writeFile };
