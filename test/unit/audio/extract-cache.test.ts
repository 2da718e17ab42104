import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheKey, defaultCacheRoot, extractCacheDir, JsonCache, replaceTypedArrays, reviveTypedArrays } from '../../../src/audio/cache.js';

const dir = mkdtempSync(join(tmpdir(), 'spotml-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Entry {
  name: string;
  rows: { values: Float64Array; start: number }[];
}

describe('JsonCache', () => {
  it('round-trips Float64Arrays bit-exactly, NaN, ±Infinity and -0 included', async () => {
    const cache = new JsonCache<Entry>(join(dir, 'a'));
    const values = Float64Array.of(1 / 3, Number.NaN, Infinity, -Infinity, -0, 1e-310, -1.7976931348623157e308);
    await cache.put('k1', { name: 'x', rows: [{ values, start: Number.NaN }] });
    const back = await cache.get('k1');
    expect(back?.name).toBe('x');
    const got = back?.rows[0].values as Float64Array;
    expect(got).toBeInstanceOf(Float64Array);
    for (let i = 0; i < values.length; i++) expect(Object.is(got[i], values[i]), `index ${i}`).toBe(true);
    expect(Number.isNaN(back?.rows[0].start)).toBe(true);
    expect(readdirSync(join(dir, 'a'))).toEqual(['k1.json']);
  });

  it('misses on absent, corrupt, truncated and foreign entries', async () => {
    const folder = join(dir, 'b');
    const cache = new JsonCache<Entry>(folder);
    expect(await cache.get('absent')).toBeUndefined();
    mkdirSync(folder, { recursive: true });
    writeFileSync(cache.pathFor('corrupt'), '{"format":1,"key":"corrupt","value":{"na');
    expect(await cache.get('corrupt')).toBeUndefined();
    await cache.put('real', { name: 'y', rows: [] });
    writeFileSync(cache.pathFor('other'), readFileSync(cache.pathFor('real'), 'utf8'));
    expect(await cache.get('other')).toBeUndefined();
    expect(await cache.get('real')).toEqual({ name: 'y', rows: [] });
  });

  it('codec leaves ordinary objects alone', () => {
    const text = JSON.stringify({ a: [1, 2], b: { c: 'd' } }, replaceTypedArrays);
    expect(JSON.parse(text, reviveTypedArrays)).toEqual({ a: [1, 2], b: { c: 'd' } });
  });
});

describe('cache keys and location', () => {
  it('depend on content, settings and version, never on the path', () => {
    const base = cacheKey('c1', 's1', '1.0.0');
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey('c1', 's1', '1.0.0')).toBe(base);
    expect(cacheKey('c2', 's1', '1.0.0')).not.toBe(base);
    expect(cacheKey('c1', 's2', '1.0.0')).not.toBe(base);
    expect(cacheKey('c1', 's1', '1.0.1')).not.toBe(base);
  });

  it('lives beside the output unless SPOTML_CACHE_DIR says otherwise', () => {
    expect(defaultCacheRoot('out/f.csv', {})).toBe(join(dirname(resolve('out/f.csv')), '.spotml-cache'));
    expect(defaultCacheRoot('out/f.csv', { SPOTML_CACHE_DIR: '/tmp/cc' })).toBe('/tmp/cc');
    expect(extractCacheDir('/tmp/cc')).toBe('/tmp/cc/extract');
  });
});
