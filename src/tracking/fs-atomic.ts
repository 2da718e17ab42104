/** Atomic file writes (temp + rename) and a lock file for writers that must not interleave. */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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
      const seen = await staleLock(lockPath, staleMs);
      if (seen === 'gone') continue; // released meanwhile: try again at once
      if (seen !== null && (await breakLock(lockPath, seen))) continue;
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

/**
 * The lock file's content when its holder is gone (same host, pid dead) or it is older than `staleMs`; null
 * when it is live; 'gone' when it no longer exists (its holder released it between our create and this read).
 * Never "stale" for a missing file: a lock that vanished was released, and removing whatever is at the path now
 * could remove a lock another process has just taken.
 */
export async function staleLock(lockPath: string, staleMs: number): Promise<string | null | 'gone'> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch {
    return 'gone';
  }
  try {
    const holder = JSON.parse(text) as { pid?: number; host?: string; time?: number };
    if (holder.host === hostname() && typeof holder.pid === 'number' && !processAlive(holder.pid)) return text;
    return typeof holder.time === 'number' && Date.now() - holder.time > staleMs ? text : null;
  } catch {
    // Half-written (created, content not yet written) or damaged: judge by its age.
    try {
      const info = await stat(lockPath);
      return Date.now() - info.mtimeMs > Math.min(staleMs, 5_000) ? text : null;
    } catch {
      return 'gone';
    }
  }
}

/**
 * Removes the stale lock whose content was `seen`, and only that one: it is first renamed aside (atomic), then
 * compared; a lock taken afresh in between is put back. Returns whether the stale lock is gone.
 */
export async function breakLock(lockPath: string, seen: string): Promise<boolean> {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch {
    return true; // someone else broke or released it first
  }
  const moved = await readFile(aside, 'utf8').catch(() => null);
  if (moved !== seen) {
    // A fresh lock replaced the stale one before our rename: give it back to its holder.
    await link(aside, lockPath).catch(() => undefined);
  }
  await rm(aside, { force: true });
  return moved === seen;
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
