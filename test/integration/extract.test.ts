/**
 * `spotml extract` end to end: the built CLI (node bin/spotml.js, worker threads included) on generated
 * WAV files in a temp folder, as a user runs it (no TTY, CI=true).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numericColumn, readTable, stringColumn, type Table } from '../../src/data/table.js';
import { pcm16MonoWav } from '../helpers/wav-writer.js';
import { readFeatureSpec } from '../../src/audio/feature-spec.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin', 'spotml.js');
let work: string;

/** Builds dist/ unless every compiled file is newer than its source (npm test builds first anyway). */
function ensureBuilt(): void {
  const stale = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((entry) => {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) return stale(full);
      if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) return false;
      const built = join(repo, 'dist', relative(join(repo, 'src'), full)).replace(/\.ts$/, '.js');
      return !existsSync(built) || statSync(built).mtimeMs < statSync(full).mtimeMs;
    });
  if (!stale(join(repo, 'src'))) return;
  // Errors in modules other than extract's must not stop these tests: tsc still emits, so check the files.
  spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json')], { cwd: repo, stdio: 'ignore' });
  for (const file of ['cli/main.js', 'api/extract.js', 'audio/extract-worker.js']) {
    if (!existsSync(join(repo, 'dist', file))) throw new Error(`build did not produce dist/${file}`);
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[], options: { env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: work,
      env: { ...process.env, CI: 'true', NO_COLOR: '1', SPOTML_CACHE_DIR: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function writeTone(rel: string, seconds: number, hz: number, sampleRate = 22050): void {
  const n = Math.round(seconds * sampleRate);
  const y = Float64Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / sampleRate) + 0.1 * Math.sin((2 * Math.PI * 2.7 * hz * i) / sampleRate));
  mkdirSync(join(work, rel, '..'), { recursive: true });
  writeFileSync(join(work, rel), pcm16MonoWav(y, sampleRate));
}

function sha256(rel: string): string {
  return createHash('sha256').update(readFileSync(join(work, rel))).digest('hex');
}

const FEW = ['--features', 'mfcc,spectral_centroid,rms,tempo', '--n-mfcc', '5'];

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'spotml-extract-cli-'));
  // A GTZAN-like layout: genres/<label>/<file>.wav
  writeTone('genres/blues/b1.wav', 1.0, 220);
  writeTone('genres/blues/b2.wav', 0.8, 247);
  writeTone('genres/rock/r1.wav', 1.2, 330);
  writeTone('genres/rock/r2.wav', 0.9, 392, 44100);
  writeFileSync(join(work, 'genres', 'rock', 'broken.wav'), 'RIFF\x24\x00\x00\x00WAVEdata');
  writeFileSync(join(work, 'genres', 'README.txt'), 'not audio');
  // The review's reproduction: `head -c 30000 good.wav > t2/trunc_big.wav` beside the good file.
  writeTone('t2/good.wav', 1.0, 440);
  writeFileSync(join(work, 't2', 'trunc_big.wav'), readFileSync(join(work, 't2', 'good.wav')).subarray(0, 30000));
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('spotml extract (built CLI)', () => {
  it('CSV + spec: rows sorted by path, labels from folders, the broken file reported and skipped', async () => {
    const run = await cli(['extract', 'genres', '--labels-from-dirs', '--out', 'out/f.csv', ...FEW]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/extracted 4 rows × \d+ columns from 4\/5 files \(1 failed, 0 from cache, 0 with warnings\)/);
    expect(run.stderr).not.toMatch(/warning/);
    expect(run.stdout).toMatch(/genres\/rock\/broken\.wav\s+\S/);
    const table = await readTable(join(work, 'out/f.csv'));
    expect(stringColumn(table, 'path')).toEqual(['genres/blues/b1.wav', 'genres/blues/b2.wav', 'genres/rock/r1.wav', 'genres/rock/r2.wav']);
    expect(stringColumn(table, 'label')).toEqual(['blues', 'blues', 'rock', 'rock']);

    const spec = await readFeatureSpec(join(work, 'out/f.csv.spec.json'));
    expect(spec.columns.all).toEqual(table.names);
    expect(table.names.slice(0, 4)).toEqual(['path', 'label', 'mfcc_01_mean', 'mfcc_02_mean']);
    expect(table.names[table.names.length - 1]).toBe('tempo');
    expect(spec.labels).toEqual({ column: 'label', source: 'dirs', classes: ['blues', 'rock'] });
    expect(spec.settings.options.nMfcc).toBe(5);
    expect(spec.settings.sampleRate).toBe(22050);
    expect(spec.files.map((f) => [f.path, f.sha256])).toEqual(
      ['genres/blues/b1.wav', 'genres/blues/b2.wav', 'genres/rock/r1.wav', 'genres/rock/r2.wav'].map((p) => [p, sha256(p)]),
    );
    expect(spec.files[3]).toMatchObject({ sampleRate: 44100, analysisRate: 22050, channels: 1 });
    expect(spec.failures).toEqual([{ path: 'genres/rock/broken.wav', reason: expect.any(String) }]);
    expect(spec.table).toEqual({ file: 'f.csv', format: 'csv', rows: 4 });
  });

  it('Parquet and JSONL hold the same table as CSV; --jobs 1 and --jobs 2 agree', async () => {
    const runs = await Promise.all([
      cli(['extract', 'genres', '--labels-from-dirs', '--out', 'fmt/a.csv', '--jobs', '1', '--no-cache', ...FEW]),
      cli(['extract', 'genres', '--labels-from-dirs', '--out', 'fmt/a.parquet', '--jobs', '2', '--no-cache', ...FEW]),
      cli(['extract', 'genres', '--labels-from-dirs', '--out', 'fmt/a.data', '--format', 'jsonl', '--jobs', '2', '--no-cache', ...FEW]),
    ]);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const csv = await readTable(join(work, 'fmt/a.csv'));
    const parquet = await readTable(join(work, 'fmt/a.parquet'));
    const jsonl = await readTable(join(work, 'fmt/a.data'), { format: 'jsonl' });
    for (const other of [parquet, jsonl]) {
      expect(other.names).toEqual(csv.names);
      expectSameValues(other, csv);
    }
    const specs = await Promise.all(['a.csv', 'a.parquet', 'a.data'].map((f) => readFeatureSpec(join(work, 'fmt', `${f}.spec.json`))));
    expect(new Set(specs.map((s) => s.specHash)).size).toBe(1);
    expect(specs[1].table.format).toBe('parquet');
    expect(readdirSync(join(work, 'fmt')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('--json: one result document on stdout with rows, files, failures, audio seconds, wall time, throughput and outputs', async () => {
    const run = await cli(['--json', 'extract', 'genres', '--out', 'json/f.jsonl', '--no-cache', ...FEW]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({
      rows: 4,
      files: { total: 5, ok: 4, failed: 1, withWarnings: 0, cached: 0, skippedNonWav: 1 },
      warnings: [],
      failures: [{ path: 'genres/rock/broken.wav', reason: expect.any(String), code: 'DECODE' }],
      outputs: { table: join(work, 'json/f.jsonl'), format: 'jsonl', spec: join(work, 'json/f.jsonl.spec.json'), frames: null, cache: null },
      specHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      sampleRate: 22050,
      labels: null,
    });
    expect(result.audioSeconds).toBeCloseTo(1.0 + 0.8 + 1.2 + 0.9, 6);
    expect(result.wallSeconds).toBeGreaterThan(0);
    expect((result.throughput as { filesPerSecond: number }).filesPerSecond).toBeGreaterThan(0);
    // Nothing but JSON-lines warnings on stderr (no progress bar without a TTY).
    for (const line of run.stderr.split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('labels from a CSV (relative paths, bare names), segments with their id columns', async () => {
    writeFileSync(join(work, 'labels.csv'), 'file,genre\ngenres/blues/b1.wav,slow\nb2.wav,slow\n"rock/r1.wav",loud\nr2.wav,"loud, very"\n');
    const run = await cli(['extract', 'genres/blues', 'genres/rock/r*.wav', '--labels', 'labels.csv', '--out', 'seg/f.csv', '--segment', '0.4', '--segment-hop', '0.2', ...FEW]);
    expect(run.code, run.stderr).toBe(0);
    const table = await readTable(join(work, 'seg/f.csv'));
    expect(table.names.slice(0, 5)).toEqual(['path', 'segment', 'start_s', 'end_s', 'label']);
    // Windows of 8820 samples every 4410 at 22050 Hz that fit: 1.0 s → 4, 0.8 s → 3, 1.2 s → 5,
    // 0.9 s at 44.1 kHz (19845 samples after resampling) → 3.
    const paths = stringColumn(table, 'path');
    expect(count(paths)).toEqual({ 'genres/blues/b1.wav': 4, 'genres/blues/b2.wav': 3, 'genres/rock/r1.wav': 5, 'genres/rock/r2.wav': 3 });
    expect(Array.from(numericColumn(table, 'segment'))).toEqual([0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4, 0, 1, 2]);
    const start = numericColumn(table, 'start_s');
    const end = numericColumn(table, 'end_s');
    for (let i = 0; i < table.nRows; i++) {
      expect(end[i] - start[i]).toBeCloseTo(0.4, 9);
      expect(start[i]).toBeCloseTo(0.2 * numericColumn(table, 'segment')[i], 9);
    }
    expect(stringColumn(table, 'label')).toEqual([...Array(7).fill('slow'), ...Array(5).fill('loud'), ...Array(3).fill('loud, very')]);
    const spec = await readFeatureSpec(join(work, 'seg/f.csv.spec.json'));
    expect(spec.settings.segment).toEqual({ length: 0.4, hop: 0.2 });
    expect(spec.labels).toMatchObject({ source: 'csv', file: 'labels.csv', classes: ['loud', 'loud, very', 'slow'] });
  });

  it('--sr native records each file rate; --frames writes .npy matrices and an index', async () => {
    const run = await cli(['extract', 'genres/rock/r1.wav', 'genres/rock/r2.wav', '--sr', 'native', '--out', 'native/f.csv', '--frames', 'native/frames', '--features', 'mfcc,rms']);
    expect(run.code, run.stderr).toBe(0);
    const spec = await readFeatureSpec(join(work, 'native/f.csv.spec.json'));
    expect(spec.settings.sampleRate).toBe('native');
    expect(spec.files.map((f) => f.analysisRate)).toEqual([22050, 44100]);
    const index = JSON.parse(readFileSync(join(work, 'native/frames/index.json'), 'utf8')) as { entries: { path: string; folder: string }[]; features: string[] };
    expect(index.features).toEqual(['mfcc', 'rms']);
    expect(index.entries).toEqual([
      { path: 'genres/rock/r1.wav', folder: 'genres/rock/r1' },
      { path: 'genres/rock/r2.wav', folder: 'genres/rock/r2' },
    ]);
    const npy = readFileSync(join(work, 'native/frames/genres/rock/r2/mfcc.npy'));
    const header = npy.subarray(10, 10 + npy.readUInt16LE(8)).toString('latin1');
    // 0.9 s at 44100 Hz, hop 512, centred: 1 + floor(39690 / 512) = 78 frames.
    expect(header).toContain("'shape': (20, 78)");
  });

  it('--strict: the first bad file is fatal, exit code 5 (DECODE), one error line naming it, nothing written', async () => {
    const run = await cli(['extract', 'genres', '--strict', '--out', 'strict/f.csv', ...FEW]);
    expect(run.code).toBe(5);
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('error'));
    expect(lines).toEqual([expect.stringMatching(/^error \[DECODE\] genres\/rock\/broken\.wav: .* \(--strict stops at the first file that fails\)$/)]);
    expect(existsSync(join(work, 'strict', 'f.csv'))).toBe(false);
    expect(existsSync(join(work, 'strict', 'f.csv.spec.json'))).toBe(false);
  });

  it('a truncated WAV (head -c 30000) is extracted with one warning naming it, counted; --json lists it; a cached re-run repeats it', async () => {
    const run = await cli(['extract', 't2', '--out', 'o2/f.csv', ...FEW]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/from 2\/2 files \(0 failed, 0 from cache, 1 with warnings\)/);
    // 30000 bytes = the 44-byte header + 29956 of the 44100 data bytes: 14978 frames, 0.679 s of 1.000 s.
    const truncatedLine = 'warning t2/trunc_big.wav: truncated: data chunk declares 44100 bytes but only 29956 are present; decoded 0.679 s of 1.000 s';
    expect(run.stderr.split('\n').filter((l) => l.startsWith('warning'))).toEqual([truncatedLine]);
    expect(stringColumn(await readTable(join(work, 'o2/f.csv')), 'path')).toEqual(['t2/good.wav', 't2/trunc_big.wav']);

    const again = await cli(['extract', 't2', '--out', 'o2/f.csv', ...FEW]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/from 2\/2 files \(0 failed, 2 from cache, 1 with warnings\)/);
    expect(again.stderr.split('\n').filter((l) => l.startsWith('warning'))).toEqual([truncatedLine]);

    const json = await cli(['--json', 'extract', 't2', '--out', 'o2/f.csv', ...FEW]);
    expect(json.code, json.stderr).toBe(0);
    const message = truncatedLine.slice('warning t2/trunc_big.wav: '.length);
    expect(JSON.parse(json.stdout)).toMatchObject({
      files: { total: 2, ok: 2, failed: 0, withWarnings: 1, cached: 2 },
      failures: [],
      warnings: [{ path: 't2/trunc_big.wav', message, source: 'decode' }],
    });
    const stderrLines = json.stderr.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(stderrLines).toEqual([{ level: 'warn', message: `t2/trunc_big.wav: ${message}`, file: 't2/trunc_big.wav', source: 'decode' }]);
  });

  it('--strict: a truncated WAV is a failure, exit code 5 (DECODE), from the cache too; nothing written', async () => {
    for (const cache of [['--no-cache'], []]) {
      const run = await cli(['extract', 't2', '--strict', '--out', 'o3/f.csv', ...cache, ...FEW]);
      expect(run.code, run.stderr).toBe(5);
      expect(run.stderr.split('\n').filter((l) => l.startsWith('error'))).toEqual([
        expect.stringMatching(/^error \[DECODE\] t2\/trunc_big\.wav: truncated: data chunk declares 44100 bytes but only 29956 are present; .* \(--strict refuses a file that lost audio; .*\)$/),
      ]);
      expect(existsSync(join(work, 'o3', 'f.csv'))).toBe(false);
    }
    const clean = await cli(['extract', 't2/good.wav', '--strict', '--out', 'o3/g.csv', ...FEW]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).not.toMatch(/warning/);
    expect(clean.stdout).toMatch(/from 1\/1 files \(0 failed, \d from cache, 0 with warnings\)/);
  });

  it('usage errors: missing inputs and --out name the flag (no prompt without a TTY); a missing path is NOT_FOUND', async () => {
    const noInput = await cli(['extract', '--out', 'x.csv']);
    expect(noInput.code).toBe(2);
    expect(noInput.stderr.trim()).toBe('error [USAGE] missing --input: pass --input <value> (no prompt without a terminal; see --help)');
    const noOut = await cli(['extract', 'genres']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr.trim()).toBe('error [USAGE] missing --out: pass --out <value> (no prompt without a terminal; see --help)');
    const missing = await cli(['extract', 'nowhere/x.wav', '--out', 'x.csv']);
    expect(missing.code).toBe(4);
    expect(missing.stderr.trim()).toBe('error [NOT_FOUND] input nowhere/x.wav does not exist: pass an existing .wav file, folder or glob');
    const badFlag = await cli(['extract', 'genres', '--out', 'x.csv', '--n-fft', '1000']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr.trim()).toMatch(/^error \[USAGE\] --n-fft must be a power of two/);
    const badFormat = await cli(['extract', 'genres', '--out', 'x.txt']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/--format/);
    const json = await cli(['--json', 'extract', 'nowhere/x.wav', '--out', 'x.csv']);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringContaining('nowhere/x.wav'), details: { file: 'nowhere/x.wav' } } });
    expect(existsSync(join(work, 'x.csv'))).toBe(false);
  });

  it('1,000 files with 3 corrupt: 997 rows, the 3 named with reasons; a re-run reads the cache and writes the same table', async () => {
    const root = join(work, 'many');
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 1000; i++) {
      const rel = `many/c${i % 10}/f${String(i).padStart(4, '0')}.wav`;
      writeTone(rel, 0.05 + 0.15 * random(), 150 + i);
    }
    writeFileSync(join(root, 'c1', 'f0001.wav'), 'junk');
    writeFileSync(join(root, 'c2', 'f0002.wav'), '');
    writeFileSync(join(root, 'c3', 'f0003.wav'), readFileSync(join(root, 'c3', 'f0013.wav')).subarray(0, 30));
    const args = ['--json', 'extract', 'many', '--labels-from-dirs', '--out', 'many-out/f.csv', '--features', 'rms,zero_crossing_rate,spectral_centroid'];

    const started = Date.now();
    const first = await cli(args);
    const seconds = (Date.now() - started) / 1000;
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout) as { rows: number; files: Record<string, number>; failures: { path: string; reason: string }[] };
    expect(result.rows).toBe(997);
    expect(result.files).toMatchObject({ total: 1000, ok: 997, failed: 3, cached: 0 });
    expect(result.failures.map((f) => f.path)).toEqual(['many/c1/f0001.wav', 'many/c2/f0002.wav', 'many/c3/f0003.wav']);
    expect(result.failures[0].reason).toMatch(/not a WAV file/);
    expect(result.failures[1].reason).toMatch(/empty/);
    for (const f of result.failures) expect(f.reason.length).toBeGreaterThan(5);
    const table = await readTable(join(work, 'many-out/f.csv'));
    expect(table.nRows).toBe(997);
    const paths = stringColumn(table, 'path');
    expect([...paths].sort()).toEqual(paths);
    expect(seconds).toBeLessThan(60);

    const csvBefore = readFileSync(join(work, 'many-out/f.csv'));
    const again = await cli(args);
    expect(again.code).toBe(0);
    const second = JSON.parse(again.stdout) as { files: Record<string, number>; outputs: { cache: string } };
    expect(second.files).toMatchObject({ ok: 997, failed: 3, cached: 997 });
    expect(second.outputs.cache).toBe(join(work, 'many-out', '.spotml-cache', 'extract'));
    expect(readFileSync(join(work, 'many-out/f.csv')).equals(csvBefore)).toBe(true);

    // SPOTML_CACHE_DIR moves the cache; a changed setting misses it.
    const moved = await cli([...args, '--aggregates', 'mean'], { env: { SPOTML_CACHE_DIR: join(work, 'elsewhere') } });
    expect(JSON.parse(moved.stdout)).toMatchObject({ files: { cached: 0 }, outputs: { cache: join(work, 'elsewhere', 'extract') } });
  }, 180_000);
});

describe('spotml extract streams rows as files finish (built CLI)', () => {
  it('a slow first file does not reorder the table: --jobs 2 gives the same bytes as --jobs 1, CSV, JSONL and Parquet, with segments', async () => {
    // The first file takes far longer than the rest: the others finish first and wait in the reorder window.
    writeTone('order/a/000 long.wav', 30, 110);
    for (let i = 1; i <= 60; i++) writeTone(`order/${i % 2 ? 'b' : 'c'}/${String(i).padStart(3, '0')} ü.wav`, 0.2 + 0.01 * i, 150 + 13 * i);
    writeFileSync(join(work, 'order', 'b', '031 broken.wav'), 'RIFF????WAVEjunk');
    const args = (out: string, jobs: string): string[] => ['--json', 'extract', 'order', '--labels-from-dirs', '--segment', '0.1', '--out', out, '--jobs', jobs, '--no-cache', ...FEW];
    for (const format of ['csv', 'jsonl', 'parquet']) {
      const [one, two] = await Promise.all([cli(args(`order-out/one.${format}`, '1')), cli(args(`order-out/two.${format}`, '2'))]);
      expect(one.code, one.stderr).toBe(0);
      expect(two.code, two.stderr).toBe(0);
      expect(readFileSync(join(work, `order-out/two.${format}`)).equals(readFileSync(join(work, `order-out/one.${format}`))), format).toBe(true);
      const summary = JSON.parse(two.stdout) as { rows: number; files: Record<string, number>; jobs: number };
      expect(summary.jobs).toBe(2);
      expect(summary.files).toMatchObject({ total: 62, ok: 61, failed: 1 });
      expect(summary.rows).toBeGreaterThan(300);
    }
    const table = await readTable(join(work, 'order-out/two.csv'));
    const paths = stringColumn(table, 'path');
    expect(paths[0]).toBe('order/a/000 long.wav');
    expect(paths.filter((p) => p === 'order/a/000 long.wav')).toHaveLength(300);
    expect([...paths].sort()).toEqual(paths);
    expect(readdirSync(join(work, 'order-out')).filter((f) => f.startsWith('.'))).toEqual([]);
  }, 180_000);
});

function count(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function expectSameValues(a: Table, b: Table): void {
  expect(a.nRows).toBe(b.nRows);
  a.columns.forEach((column, c) => {
    const other = b.columns[c];
    if (column instanceof Float64Array) {
      expect(other).toBeInstanceOf(Float64Array);
      for (let r = 0; r < a.nRows; r++) expect(Object.is(column[r], (other as Float64Array)[r]), `${a.names[c]}[${r}]`).toBe(true);
    } else {
      expect(other).toEqual(column);
    }
  });
}

describe('spotml extract interrupted half-way (built CLI)', () => {
  /** Starts the CLI and resolves once `cacheEntries` entries exist, with the running child. */
  function startUntilCached(args: readonly string[], cacheEntries: number, cacheDir: string) {
    const child = spawn(process.execPath, [bin, ...args], { cwd: work, env: { ...process.env, CI: 'true', NO_COLOR: '1', SPOTML_CACHE_DIR: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const n = existsSync(cacheDir) ? readdirSync(cacheDir).filter((f) => f.endsWith('.json')).length : 0;
        if (n >= cacheEntries) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
      void closed.then(() => {
        clearInterval(timer);
        reject(new Error(`extract ended before ${cacheEntries} files were cached: ${stderr}`));
      });
    });
    return { child, ready, closed };
  }

  beforeAll(() => {
    for (let i = 0; i < 80; i++) writeTone(`halfway/c${i % 4}/clip ${String(i).padStart(3, '0')}.wav`, 0.4, 200 + 7 * i);
  });

  const outputFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.spotml-cache')) : []);

  it('Ctrl-C (SIGINT): exit 130 with one line on how to resume, no table or temp file; the re-run computes only the rest', async () => {
    const args = ['extract', 'halfway', '--labels-from-dirs', '--out', 'halfway-int/f.csv', '--jobs', '1', ...FEW];
    const cacheDir = join(work, 'halfway-int', '.spotml-cache', 'extract');
    const run = startUntilCached(args, 10, cacheDir);
    await run.ready;
    run.child.kill('SIGINT');
    const stopped = await run.closed;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr.split('\n').filter((l) => l.includes('interrupted'))).toEqual([expect.stringMatching(/^warning interrupted: no table written; .*the same command resumes/)]);
    expect(outputFiles(join(work, 'halfway-int'))).toEqual([]);
    const cachedBefore = readdirSync(cacheDir).filter((f) => f.endsWith('.json')).length;
    expect(cachedBefore).toBeLessThan(80);

    const again = await cli(['--json', ...args]);
    expect(again.code, again.stderr).toBe(0);
    const summary = JSON.parse(again.stdout) as { rows: number; files: { cached: number } };
    expect(summary.rows).toBe(80);
    // Every file finished before the signal is read back, none computed twice.
    expect(summary.files.cached).toBeGreaterThanOrEqual(cachedBefore);
  }, 180_000);

  it('SIGTERM (a scheduler stopping the job) stops the same way: exit 143, the resume line, no table or temp file left', async () => {
    const args = ['extract', 'halfway', '--labels-from-dirs', '--out', 'halfway-term/f.csv', '--jobs', '1', ...FEW];
    const run = startUntilCached(args, 5, join(work, 'halfway-term', '.spotml-cache', 'extract'));
    await run.ready;
    run.child.kill('SIGTERM');
    const stopped = await run.closed;
    expect(stopped.code).toBe(143);
    expect(stopped.stderr).toMatch(/warning interrupted: no table written/);
    expect(outputFiles(join(work, 'halfway-term'))).toEqual([]);
  }, 180_000);

  it('SIGKILL: the cache stays valid (every entry parses) and the resumed table equals an uninterrupted one', async () => {
    const args = ['extract', 'halfway', '--labels-from-dirs', '--out', 'halfway-kill/f.csv', '--jobs', '2', ...FEW];
    const cacheDir = join(work, 'halfway-kill', '.spotml-cache', 'extract');
    const run = startUntilCached(args, 15, cacheDir);
    await run.ready;
    run.child.kill('SIGKILL');
    expect((await run.closed).signal).toBe('SIGKILL');
    // No table; the rows streamed so far sit in a hidden temp file no process can delete on a kill -9 ...
    expect(outputFiles(join(work, 'halfway-kill'))).toEqual([expect.stringMatching(/^\.f\.csv\.[0-9a-f]{8}-\d+\.[0-9a-f]{12}\.tmp$/)]);
    for (const entry of readdirSync(cacheDir).filter((f) => f.endsWith('.json'))) {
      expect(() => JSON.parse(readFileSync(join(cacheDir, entry), 'utf8'))).not.toThrow();
    }
    const resumed = await cli(['--json', ...args]);
    expect(resumed.code, resumed.stderr).toBe(0);
    // ... which the next run over the same table sweeps (its process is gone).
    expect(outputFiles(join(work, 'halfway-kill')).sort()).toEqual(['f.csv', 'f.csv.spec.json']);
    expect((JSON.parse(resumed.stdout) as { files: { cached: number } }).files.cached).toBeGreaterThan(0);
    const fresh = await cli(['--json', 'extract', 'halfway', '--labels-from-dirs', '--out', 'halfway-fresh/f.csv', '--no-cache', ...FEW]);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(readFileSync(join(work, 'halfway-kill/f.csv')).equals(readFileSync(join(work, 'halfway-fresh/f.csv')))).toBe(true);
  }, 180_000);
});
