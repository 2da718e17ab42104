/**
 * The extract cache: one JSON file per (audio content, feature settings, spotml version), so a re-run
 * over unchanged files reads results instead of recomputing them. Keys never use the path: a moved or
 * renamed file still hits, an edited one misses. The spotml version is part of the key so a fix to a
 * feature kernel is never hidden by old results.
 *
 * Location: `SPOTML_CACHE_DIR` if set, else `.spotml-cache/` beside the output table; entries live in
 * `<root>/extract/<key>.json`. Writes are atomic (temp + rename), so concurrent workers and crashed runs
 * leave either a whole entry or none; an unreadable entry counts as a miss. An entry holds the whole
 * per-file result, its warnings included, so a re-run from the cache reports what the first run did.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { SPOTML_VERSION } from '../version.js';
import { writeFileAtomic } from '../data/writers.js';

/** Bumped when an entry's value changes shape, so older entries miss (2: results carry the WAV decode notes). */
const ENTRY_FORMAT = 2;

export function defaultCacheRoot(outputPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SPOTML_CACHE_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? resolve(fromEnv) : join(dirname(resolve(outputPath)), '.spotml-cache');
}

export function extractCacheDir(root: string): string {
  return join(root, 'extract');
}

export function cacheKey(contentSha256: string, specHash: string, version: string = SPOTML_VERSION): string {
  return createHash('sha256').update(`spotml-extract\0${version}\0${specHash}\0${contentSha256}`).digest('hex');
}

export class JsonCache<T> {
  constructor(readonly dir: string) {}

  pathFor(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  async get(key: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathFor(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const entry = JSON.parse(text, reviveTypedArrays) as { format?: unknown; key?: unknown; value?: T };
      if (entry.format !== ENTRY_FORMAT || entry.key !== key || entry.value === undefined) return undefined;
      return entry.value;
    } catch {
      return undefined;
    }
  }

  async put(key: string, value: T): Promise<void> {
    await writeFileAtomic(this.pathFor(key), JSON.stringify({ format: ENTRY_FORMAT, key, value }, replaceTypedArrays), { durable: false });
  }
}

type EncodedNumber = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

/** Float64Arrays become {"$f64": [...]}, with non-finite values and -0 spelled out so they survive JSON exactly. */
export function replaceTypedArrays(_key: string, value: unknown): unknown {
  if (value instanceof Float64Array) {
    return { $f64: Array.from(value, (v): EncodedNumber => (Object.is(v, -0) ? '-0' : Number.isFinite(v) ? v : (String(v) as EncodedNumber))) };
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return { $num: String(value) };
  return value;
}

export function reviveTypedArrays(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if (Array.isArray(record.$f64)) return Float64Array.from(record.$f64 as EncodedNumber[], (v) => Number(v));
    if (typeof record.$num === 'string') return Number(record.$num);
  }
  return value;
}
