/**
 * The one cross-process lock file spotml uses (the tracking and registry file stores, journal studies): created
 * complete in one step, broken only when its holder is provably gone, released only by its own holder.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { SpotmlError } from '../errors.js';

interface LockHolder {
  host: string;
  pid: number;
  token: string;
  time: number;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<LockHolder | null | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockHolder;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return null;
  }
}

/**
 * An exclusive lock file created complete in one step (written to a temp file, then hard-linked into
 * place), so no reader ever sees an empty lock. A lock whose holder process on this host is gone is
 * moved aside atomically and removed; holders on other hosts are broken only after `foreignStaleMs`.
 */
export async function acquireLock(lockPath: string, timeoutMs: number, foreignStaleMs = 60_000): Promise<() => Promise<void>> {
  const me: LockHolder = { host: hostname(), pid: process.pid, token: randomBytes(8).toString('hex'), time: Date.now() };
  const temp = `${lockPath}.${me.token}.tmp`;
  await writeFile(temp, JSON.stringify(me));
  const started = Date.now();
  let delay = 1;
  try {
    for (;;) {
      try {
        await link(temp, lockPath);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readHolder(lockPath);
      if (holder === undefined) continue;
      const dead =
        holder !== null &&
        ((holder.host === me.host && !processAlive(holder.pid)) || (holder.host !== me.host && Date.now() - holder.time > foreignStaleMs));
      let unreadable = false;
      if (holder === null) {
        // Link makes a lock complete at once, so an unreadable one is foreign damage: judge it by age.
        const info = await stat(lockPath).catch(() => undefined);
        unreadable = info !== undefined && Date.now() - info.mtimeMs > 5_000;
      }
      if (dead || unreadable) {
        const aside = `${lockPath}.stale.${me.token}`;
        try {
          await rename(lockPath, aside);
          const moved = await readHolder(aside);
          if (holder !== null && moved?.token !== holder.token) {
            // Someone took the lock in between: put theirs back.
            await link(aside, lockPath).catch(() => undefined);
          }
          await unlink(aside).catch(() => undefined);
        } catch {
          // Another waiter moved it first.
        }
        continue;
      }
      if (Date.now() - started > timeoutMs) {
        throw new SpotmlError('STORE', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${lockPath}; if no spotml process is using it, delete that file`, {
          lock: lockPath,
        });
      }
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(20, delay * 2);
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return async () => {
    const holder = await readHolder(lockPath);
    if (holder?.token === me.token) await unlink(lockPath).catch(() => undefined);
  };
}
