import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { analyzeSignal, type ClipAnalysis } from '../../../src/audio/analyze.js';
import { extractFile, framesFolder, npyFloat32, SegmentCutter, type ExtractTask } from '../../../src/audio/extract.js';
import { featureColumns, featureOptionsFor, resolveSettings, type FeatureSettingsInput } from '../../../src/audio/feature-spec.js';
import { Resampler } from '../../../src/audio/resample.js';
import { decodeWavToMono } from '../../../src/audio/wav.js';
import { extract } from '../../../src/api/extract.js';
import { extractOk, extractTask } from '../../helpers/extract-task.js';
import { makeTable, readTable, stringColumn, numericColumn, type ColumnData, type TableFormat } from '../../../src/data/table.js';
import { writeTable } from '../../../src/data/writers.js';
import { idColumns } from '../../../src/audio/feature-spec.js';

const dir = mkdtempSync(join(tmpdir(), 'spotml-extract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const reference = fileURLToPath(new URL('../../../../shared/reference/audio/', import.meta.url));

/** 16-bit PCM WAV bytes; `channels` interleaved copies with per-channel gain. */
function wavBytes(samples: Float64Array, sampleRate: number, channels = 1): Buffer {
  const dataBytes = samples.length * channels * 2;
  const b = Buffer.alloc(44 + dataBytes);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + dataBytes, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * channels * 2, 28);
  b.writeUInt16LE(channels * 2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) {
    for (let c = 0; c < channels; c++) {
      const v = Math.max(-32768, Math.min(32767, Math.round(samples[i] * (c === 0 ? 1 : 0.5) * 32767)));
      b.writeInt16LE(v, 44 + (i * channels + c) * 2);
    }
  }
  return b;
}

function tone(seconds: number, sampleRate: number, hz = 440, seed = 1): Float64Array {
  const n = Math.round(seconds * sampleRate);
  const y = new Float64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    y[i] = 0.4 * Math.sin((2 * Math.PI * hz * i) / sampleRate) + 0.1 * (s / 2147483648 - 0.5) + 0.2 * Math.sin((2 * Math.PI * 3.1 * hz * i) / sampleRate);
  }
  return y;
}

function writeWav(name: string, samples: Float64Array, sampleRate: number, channels = 1): string {
  const path = join(dir, name);
  writeFileSync(path, wavBytes(samples, sampleRate, channels));
  return path;
}

function task(absolutePath: string, input: FeatureSettingsInput = {}, extra: Partial<ExtractTask> = {}): ExtractTask {
  return extractTask(dir, absolutePath, input, extra);
}

const ok = extractOk;

/** Independent aggregation: naive mean and population std of one matrix row. */
function naiveMeanStd(analysis: ClipAnalysis, feature: keyof ClipAnalysis['matrices'], row: number): [number, number] {
  const m = analysis.matrices[feature];
  if (!m) throw new Error(`no ${feature}`);
  const values = Array.from(m.data.subarray(row * m.frames, (row + 1) * m.frames));
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return [mean, Math.sqrt(variance)];
}

function expectRowMatches(values: Float64Array, settingsInput: FeatureSettingsInput, analysis: ClipAnalysis, tolerance: number): void {
  const columns = featureColumns(resolveSettings(settingsInput));
  let checked = 0;
  columns.forEach((column, i) => {
    if (column.aggregate === null) {
      expect(values[i]).toBe(analysis.tempo?.feature);
      return;
    }
    if (column.aggregate !== 'mean' && column.aggregate !== 'std') return;
    const [mean, std] = naiveMeanStd(analysis, column.feature, column.row);
    const want = column.aggregate === 'mean' ? mean : std;
    expect(Math.abs(values[i] - want), `${column.name}: ${values[i]} vs ${want}`).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(want)));
    checked++;
  });
  expect(checked).toBeGreaterThan(0);
}

describe('extractFile against librosa', () => {
  const cases = [
    { file: 'sine440_22050_mono_s16.wav', mfcc: 1e-3, centroid: 1e-3, chroma: 1e-5 },
    // Resampled from 44.1 kHz: the reference README's tolerances for resampled files.
    { file: 'chord_44100_stereo_s24.wav', mfcc: 0.05, centroid: 5, chroma: 1e-2 },
  ];
  for (const c of cases) {
    it(`${c.file}: clip means and stds within the reference tolerances`, async () => {
      const expected = JSON.parse(readFileSync(join(reference, 'expected', c.file.replace('.wav', '.json')), 'utf8')) as {
        features: Record<string, { mean: number[]; std: number[] }>;
        tempo: { feature_tempo: number };
      };
      const result = await ok({ ...task(join(reference, c.file)), path: c.file });
      const names = featureColumns(resolveSettings()).map((col) => col.name);
      const value = (name: string): number => result.rows[0].values[names.indexOf(name)];
      expect(result.rows.length).toBe(1);
      for (const [feature, tolerance, width] of [
        ['mfcc', c.mfcc, 2],
        ['chroma_stft', c.chroma, 2],
      ] as const) {
        expected.features[feature].mean.forEach((want, r) => {
          expect(Math.abs(value(`${feature}_${String(r + 1).padStart(width, '0')}_mean`) - want)).toBeLessThanOrEqual(tolerance);
        });
      }
      expect(Math.abs(value('spectral_centroid_mean') - expected.features.spectral_centroid.mean[0])).toBeLessThanOrEqual(c.centroid);
      expect(Math.abs(value('spectral_centroid_std') - expected.features.spectral_centroid.std[0])).toBeLessThanOrEqual(c.centroid);
      expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(result.analysisRate).toBe(22050);
      expect(result.seconds).toBeCloseTo(3, 10);
    });
  }
});

describe('extractFile: decoding choices', () => {
  const sr = 22050;
  const y = tone(3, sr);
  const mono = writeWav('tone.wav', y, sr);
  const stereo44 = writeWav('tone44.wav', tone(2, 44100, 330), 44100, 2);
  const decoded = decodeWavToMono(readFileSync(mono), 'tone.wav').mono;

  it('whole clip = the in-memory analysis of the decoded signal (streamed in chunks, aggregated independently)', async () => {
    const input = { features: ['mfcc', 'chroma_stft', 'spectral_contrast', 'rms', 'tempo'] };
    const result = await ok(task(mono, input));
    const analysis = analyzeSignal(decoded, featureOptionsFor(resolveSettings(input), sr));
    expectRowMatches(result.rows[0].values, input, analysis, 1e-9);
    expect(result.rows[0]).toMatchObject({ segment: 0, startS: 0 });
    expect(result.rows[0].endS).toBeCloseTo(3, 12);
  });

  it('offset and duration cut the native signal by truncated frame counts, as librosa.load', async () => {
    const input = { features: ['mfcc', 'spectral_centroid'], offset: 0.5, duration: 1.25 };
    const result = await ok(task(mono, input));
    const start = Math.trunc(0.5 * sr);
    const slice = decoded.slice(start, start + Math.trunc(1.25 * sr));
    expectRowMatches(result.rows[0].values, input, analyzeSignal(slice, featureOptionsFor(resolveSettings(input), sr)), 1e-9);
    // int(1.25 · 22050) = 27562 frames, not 27562.5.
    expect(result.seconds).toBe(27562 / sr);
    expect(result.rows[0].startS).toBeCloseTo(0.5, 12);
  });

  it('resamples after the offset cut, and native keeps the file rate', async () => {
    const input = { features: ['mfcc', 'rms'], offset: 0.25 };
    const result = await ok(task(stereo44, input));
    const native = decodeWavToMono(readFileSync(stereo44), 'tone44.wav').mono.slice(Math.trunc(0.25 * 44100));
    const resampler = new Resampler(44100, 22050);
    const head = resampler.process(native);
    const tail = resampler.flush();
    const resampled = new Float64Array(head.length + tail.length);
    resampled.set(head);
    resampled.set(tail, head.length);
    expectRowMatches(result.rows[0].values, input, analyzeSignal(resampled, featureOptionsFor(resolveSettings(input), 22050)), 1e-9);
    expect(result).toMatchObject({ sampleRate: 44100, channels: 2, analysisRate: 22050 });

    const nativeInput = { features: ['rms'], sampleRate: 'native' as const };
    const nativeResult = await ok(task(stereo44, nativeInput));
    expect(nativeResult.analysisRate).toBe(44100);
    const full = decodeWavToMono(readFileSync(stereo44), 'tone44.wav').mono;
    expectRowMatches(nativeResult.rows[0].values, nativeInput, analyzeSignal(full, featureOptionsFor(resolveSettings(nativeInput), 44100)), 1e-9);
  });

  it('segments: windows of round(L·sr) every round(H·sr), each analysed as its own clip; last partial dropped', async () => {
    const input = { features: ['mfcc', 'spectral_centroid', 'tempo'], segment: { length: 1, hop: 0.5 } };
    const result = await ok(task(mono, input));
    // 3 s: starts 0, 0.5, 1, 1.5, 2 (2 + 1 = 3 fits); 2.5 would be partial.
    expect(result.rows.map((r) => r.segment)).toEqual([0, 1, 2, 3, 4]);
    result.rows.forEach((row, k) => {
      expect(row.startS).toBeCloseTo(k * 0.5, 12);
      expect(row.endS).toBeCloseTo(k * 0.5 + 1, 12);
      const slice = decoded.slice(k * 11025, k * 11025 + 22050);
      expectRowMatches(row.values, input, analyzeSignal(slice, featureOptionsFor(resolveSettings(input), sr)), 1e-9);
    });
  });

  it('segments: a file shorter than one window gives one row over the whole file; offset shifts the times', async () => {
    const short = await ok(task(mono, { features: ['rms'], segment: { length: 5, hop: 5 } }));
    expect(short.rows.length).toBe(1);
    expect(short.rows[0].endS).toBeCloseTo(3, 12);
    const shifted = await ok(task(mono, { features: ['rms'], offset: 1, segment: { length: 0.75, hop: 1 } }));
    // round(0.75 · 22050) = 16538 samples per window.
    expect(shifted.rows.map((r) => [r.startS, r.endS])).toEqual([
      [1, 1 + 16538 / sr],
      [2, 2 + 16538 / sr],
    ]);
  });

  it('a clip shorter than the delta width: delta columns NaN, a warning, other columns filled', async () => {
    const tiny = writeWav('tiny.wav', tone(0.1, sr), sr);
    const input = { features: ['mfcc', 'mfcc_delta', 'mfcc_delta2'] };
    const result = await ok(task(tiny, input));
    const columns = featureColumns(resolveSettings(input));
    columns.forEach((c, i) => {
      const v = result.rows[0].values[i];
      if (c.feature === 'mfcc') expect(Number.isFinite(v)).toBe(true);
      else expect(Number.isNaN(v)).toBe(true);
    });
    expect(result.warnings).toEqual([expect.stringMatching(/MFCC deltas need at least 9 frames .* the clip has 5.*delta columns are empty/)]);
  });
});

describe('extractFile: failures are reported, not thrown', () => {
  const cases: [string, RegExp, string][] = [
    ['empty_file.wav', /./, 'DECODE'],
    ['random_garbage.wav', /not a WAV file/, 'DECODE'],
    ['truncated_in_header.wav', /./, 'DECODE'],
    ['data_size_0_streaming.wav', /./, 'DECODE'],
    ['no_data_chunk.wav', /./, 'DECODE'],
  ];
  for (const [name, reason, code] of cases) {
    it(name, async () => {
      const path = join(reference, 'decode', name);
      const result = await extractFile({ ...task(path, { features: ['rms'] }), path: name });
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.reason).toMatch(reason);
      expect(result.reason).not.toContain(path);
      expect(result.code).toBe(code);
    });
  }

  it('a missing file, and an offset past the end', async () => {
    const missing = await extractFile(task(join(dir, 'gone.wav'), { features: ['rms'] }));
    expect(missing).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    const short = writeWav('one-second.wav', tone(1, 22050), 22050);
    const past = await extractFile(task(short, { features: ['rms'], offset: 2 }));
    expect(past).toMatchObject({ ok: false, reason: expect.stringMatching(/--offset 2 s is past the end \(the file is 1.000 s long\)/) });
  });
});

describe('extractFile: cache and frames', () => {
  it('a second run hits the cache with identical rows; other settings or a changed file miss', async () => {
    const path = writeWav('cached.wav', tone(1, 22050, 500), 22050);
    const cacheDir = join(dir, 'cache');
    const input = { features: ['mfcc', 'rms'], segment: { length: 0.5, hop: 0.25 } };
    const first = await ok(task(path, input, { cacheDir }));
    const second = await ok(task(path, input, { cacheDir }));
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.rows).toEqual(first.rows);
    expect(second.rows[0].values).toBeInstanceOf(Float64Array);
    expect((await ok(task(path, { ...input, aggregates: ['max'] }, { cacheDir }))).cached).toBe(false);
    writeFileSync(path, wavBytes(tone(1, 22050, 600), 22050));
    expect((await ok(task(path, input, { cacheDir }))).cached).toBe(false);
    expect(readdirSync(cacheDir).every((f) => /^[0-9a-f]{64}\.json$/.test(f))).toBe(true);
  });

  it('--frames writes one float32 .npy per feature and clip (segments in their own folders), bypassing cache reads', async () => {
    const path = writeWav('framed.wav', tone(1, 22050, 700), 22050);
    const framesDir = join(dir, 'frames');
    const cacheDir = join(dir, 'cache2');
    const input = { features: ['mfcc', 'rms', 'tempo'], segment: { length: 0.5, hop: 0.5 } };
    await ok(task(path, input, { cacheDir }));
    const result = await ok(task(path, input, { cacheDir, framesDir }));
    expect(result.cached).toBe(false);
    expect(result.rows.length).toBe(2);
    const folder = framesFolder(framesDir, 'framed.wav', 1);
    expect(folder).toBe(join(framesDir, 'framed', 'segment_0001'));
    expect(readdirSync(folder).sort()).toEqual(['mfcc.npy', 'rms.npy']);
    const bytes = readFileSync(join(folder, 'mfcc.npy'));
    const parsed = parseNpy(bytes);
    const decoded = decodeWavToMono(readFileSync(path), 'framed.wav').mono;
    const analysis = analyzeSignal(decoded.slice(11025, 22050), featureOptionsFor(resolveSettings(input), 22050));
    const mfcc = analysis.matrices.mfcc;
    expect(parsed.shape).toEqual([20, mfcc?.frames]);
    expect(Array.from(parsed.data)).toEqual(Array.from(Float32Array.from(mfcc?.data ?? [])));
    expect(existsSync(join(framesDir, 'framed', 'segment_0000', 'rms.npy'))).toBe(true);
  });

  it('framesFolder keeps the path layout and neutralises ..', () => {
    expect(framesFolder('/f', 'a/b/c.wav', null)).toBe('/f/a/b/c');
    expect(framesFolder('/f', '../up/x.WAV', 12)).toBe('/f/__/up/x/segment_0012');
    expect(framesFolder('/f', '/abs/y.wav', null)).toBe('/f/abs/y');
  });

  it('npy header is 64-byte aligned and numpy-shaped', () => {
    const bytes = npyFloat32({ rows: 2, frames: 3, data: Float64Array.of(1, 2, 3, 4, 5, 6.5) });
    const { shape, data, headerEnd } = parseNpy(Buffer.from(bytes));
    expect(headerEnd % 64).toBe(0);
    expect(shape).toEqual([2, 3]);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6.5]);
  });
});

/** Minimal independent .npy v1.0 reader (magic, header dict, little-endian float32 payload). */
function parseNpy(bytes: Buffer): { shape: number[]; data: Float32Array; headerEnd: number } {
  expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(\d+, \d+\), \} *\n$/);
  const shape = (/\((\d+), (\d+)\)/.exec(header) as RegExpExecArray).slice(1).map(Number);
  const headerEnd = 10 + headerLength;
  const data = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < data.length; i++) data[i] = bytes.readFloatLE(headerEnd + i * 4);
  return { shape, data, headerEnd };
}

describe('SegmentCutter', () => {
  it('equals naive slicing for any chunking, length and hop (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 80 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (n, length, hop, chunkSizes) => {
          const signal = Float64Array.from({ length: n }, (_, i) => i + 1);
          const got: [number, number, number[]][] = [];
          const cutter = new SegmentCutter(length, hop, (index, start, samples) => got.push([index, start, Array.from(samples)]));
          let offset = 0;
          let c = 0;
          while (offset < n) {
            const size = chunkSizes[c++ % chunkSizes.length];
            cutter.push(signal.subarray(offset, Math.min(n, offset + size)));
            offset += size;
          }
          cutter.end();
          const want: [number, number, number[]][] = [];
          for (let start = 0, k = 0; start + length <= n; start += hop, k++) want.push([k, start, Array.from(signal.slice(start, start + length))]);
          if (want.length === 0 && n > 0) want.push([0, 0, Array.from(signal)]);
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('extract() in one thread', () => {
  it('writes rows sorted by path with labels, skips and reports bad files, and stops on the first with strict', async () => {
    const root = mkdtempSync(join(dir, 'api-'));
    for (const [rel, hz] of [
      ['b/z.wav', 300],
      ['a/y.wav', 400],
      ['a/x.wav', 500],
    ] as const) {
      const path = join(root, rel);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, wavBytes(tone(0.5, 22050, hz), 22050));
    }
    writeFileSync(join(root, 'a', 'broken.wav'), 'RIFF????WAVEjunk');
    const out = join(root, 'out', 'features.jsonl');
    const summary = await extract({
      inputs: ['a', 'b'],
      out,
      cwd: root,
      jobs: 1,
      cache: false,
      labels: { kind: 'dirs' },
      settings: { features: ['rms', 'spectral_centroid'], aggregates: ['mean', 'median'] },
    });
    expect(summary.files).toEqual({ total: 4, ok: 3, failed: 1, withWarnings: 0, cached: 0, skippedNonWav: 0 });
    expect(summary.failures).toEqual([{ path: 'a/broken.wav', reason: expect.any(String), code: 'DECODE' }]);
    const table = await readTable(out);
    expect(table.names).toEqual(['path', 'label', 'spectral_centroid_mean', 'spectral_centroid_median', 'rms_mean', 'rms_median']);
    expect(stringColumn(table, 'path')).toEqual(['a/x.wav', 'a/y.wav', 'b/z.wav']);
    expect(stringColumn(table, 'label')).toEqual(['a', 'a', 'b']);
    const centroid = numericColumn(table, 'spectral_centroid_mean');
    expect(centroid[0]).toBeGreaterThan(centroid[1]);
    expect(existsSync(`${out}.spec.json`)).toBe(true);

    const strictOut = join(root, 'out', 'strict.csv');
    const err = await extract({ inputs: ['a'], out: strictOut, cwd: root, jobs: 1, cache: false, strict: true, settings: { features: ['rms'] } }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'DECODE', message: expect.stringMatching(/^a\/broken\.wav: .*--strict/) });
    expect(existsSync(strictOut)).toBe(false);
  });
});

describe('extract() streams the table it used to build whole', () => {
  /** The table as extract built it before streaming: every file's result kept, then one column per name, written by writeTable. */
  async function wholeTable(root: string, rels: readonly string[], input: FeatureSettingsInput, out: string, format: TableFormat): Promise<void> {
    const settings = resolveSettings(input);
    const paths: string[] = [];
    const labels: string[] = [];
    const ids: number[][] = [[], [], []];
    const values: number[][] = featureColumns(settings).map(() => []);
    for (const rel of [...rels].sort()) {
      const result = await extractFile(extractTask(root, join(root, rel), input));
      if (!result.ok) continue;
      for (const row of result.rows) {
        paths.push(result.path);
        labels.push(rel.split('/').at(-2) as string);
        [row.segment, row.startS, row.endS].forEach((v, k) => ids[k].push(v));
        row.values.forEach((v, c) => values[c].push(v));
      }
    }
    const names = [...idColumns(settings), 'label', ...featureColumns(settings).map((f) => f.name)];
    const columns: ColumnData[] = [paths, ...(settings.segment ? ids.map((v) => Float64Array.from(v)) : []), labels, ...values.map((v) => Float64Array.from(v))];
    await writeTable(makeTable(names, columns), out, format);
  }

  for (const segment of [null, { length: 0.1, hop: 0.05 }]) {
    it(`${segment ? 'segments' : 'whole clips'}: the same CSV / JSONL / Parquet bytes (unicode paths, a short clip with NaN deltas, a broken file skipped)`, async () => {
      const root = mkdtempSync(join(dir, 'stream-'));
      const rels = ['é ♫/ü, "1".wav', 'a/short.wav', 'a/x.wav', 'b/broken.wav', 'b/z.wav', 'b/2.wav'];
      rels.forEach((rel, i) => {
        mkdirSync(join(root, rel, '..'), { recursive: true });
        writeFileSync(join(root, rel), rel.includes('broken') ? 'RIFF????WAVEjunk' : wavBytes(tone(rel.includes('short') ? 0.1 : 0.3 + 0.05 * i, 22050, 200 + 90 * i, i + 1), 22050));
      });
      const input: FeatureSettingsInput = { features: ['mfcc', 'mfcc_delta', 'rms', 'tempo'], aggregates: ['mean', 'std'], options: { nMfcc: 4 }, segment };
      for (const format of ['csv', 'jsonl', 'parquet'] as const) {
        const out = join(root, 'out', `streamed.${format}`);
        const summary = await extract({ inputs: ['.'], out, cwd: root, jobs: 1, cache: false, labels: { kind: 'dirs' }, settings: input });
        // Deltas need 9 frames: the 0.1 s clip has fewer, and so does every 0.1 s segment.
        expect(summary.files).toMatchObject({ total: 6, ok: 5, failed: 1, withWarnings: segment ? 5 : 1 });
        const expected = join(root, 'out', `whole.${format}`);
        await wholeTable(root, rels, input, expected, format);
        expect(readFileSync(out).equals(readFileSync(expected)), format).toBe(true);
        expect(summary.rows).toBe((await readTable(expected)).nRows);
      }
      const table = await readTable(join(root, 'out', 'streamed.csv'));
      expect(numericColumn(table, 'mfcc_delta_01_mean').some(Number.isNaN)).toBe(true);
      expect(stringColumn(table, 'path')[table.nRows - 1]).toBe('é ♫/ü, "1".wav');
      expect(readdirSync(join(root, 'out')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  }

  it('a run that fails leaves neither the table nor a temp file; an existing table is kept', async () => {
    const root = mkdtempSync(join(dir, 'stream-fail-'));
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a', 'x.wav'), wavBytes(tone(0.3, 22050), 22050));
    writeFileSync(join(root, 'a', 'y.wav'), 'RIFF????WAVEjunk');
    mkdirSync(join(root, 'out'));
    writeFileSync(join(root, 'out', 'f.csv'), 'previous\n');
    const strict = await extract({ inputs: ['a'], out: 'out/f.csv', cwd: root, jobs: 1, cache: false, strict: true, settings: { features: ['rms'] } }).catch((e: unknown) => e);
    expect(strict).toMatchObject({ code: 'DECODE' });
    const none = await extract({ inputs: ['a/y.wav'], out: 'out/g.csv', cwd: root, jobs: 1, cache: false, settings: { features: ['rms'] } }).catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'DECODE', message: expect.stringMatching(/none of the 1 files could be read/) });
    expect(readdirSync(join(root, 'out'))).toEqual(['f.csv']);
    expect(readFileSync(join(root, 'out', 'f.csv'), 'utf8')).toBe('previous\n');
  });
});
