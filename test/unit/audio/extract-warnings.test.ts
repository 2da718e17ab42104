/**
 * Damaged-but-decodable WAVs in extract: every note the WAV reader can make reaches the per-file result,
 * the cache keeps it, extract() turns it into one warning per file (a failure with --strict), and a
 * clean file gives none. References: libsndfile's decodes of the shared corpus, and files written by
 * the independent test writer (test/helpers/wav-writer.ts) with known sizes.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheKey } from '../../../src/audio/cache.js';
import { extractFile, sha256File, type ExtractTask } from '../../../src/audio/extract.js';
import { resolveSettings, specHash, type FeatureSettingsInput } from '../../../src/audio/feature-spec.js';
import { extract } from '../../../src/api/extract.js';
import { extractOk, extractTask } from '../../helpers/extract-task.js';
import { readTable, stringColumn } from '../../../src/data/table.js';
import { asciiBytes, writeWav, type WavSpec } from '../../helpers/wav-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'spotml-extract-warn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DECODE_DIR = fileURLToPath(new URL('../../../../shared/reference/audio/decode/', import.meta.url));
const RMS: FeatureSettingsInput = { features: ['rms', 'zero_crossing_rate'] };
const SR = 22050;

/** 16-bit codes of a tone with some noise: every frame differs, so a lost or extra frame changes the rows. */
function toneCodes(frames: number, hz = 440): Int16Array {
  const codes = new Int16Array(frames);
  let seed = 3;
  for (let i = 0; i < frames; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    codes[i] = Math.round(12000 * Math.sin((2 * Math.PI * hz * i) / SR) + 2000 * (seed / 2147483648 - 0.5));
  }
  return codes;
}

function pcm16(codes: ArrayLike<number>, extra: Partial<WavSpec> = {}): Uint8Array {
  return writeWav({ formatTag: 1, channels: 1, sampleRate: SR, bitsPerSample: 16, samples: codes, ...extra });
}

function put(rel: string, bytes: Uint8Array): string {
  const path = join(dir, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

function task(absolutePath: string, extra: Partial<ExtractTask> = {}): ExtractTask {
  return extractTask(dir, absolutePath, RMS, extra);
}

const ok = extractOk;

const codes = toneCodes(SR); // 1 s
const clean = pcm16(codes);
// `head -c 30000 good.wav`: 44-byte header, then 29956 of the 44100 data bytes = 14978 whole frames.
const CUT = 30000;
const CUT_FRAMES = (CUT - 44) / 2;

describe('extractFile: the WAV reader notes of a damaged file reach the result', () => {
  const cases: { name: string; bytes: Uint8Array; frames: number; note: RegExp }[] = [
    { name: 'truncated.wav', bytes: clean.subarray(0, CUT), frames: CUT_FRAMES, note: /^truncated: data chunk declares 44100 bytes but only 29956 are present; decoded 0\.679 s of 1\.000 s$/ },
    { name: 'truncated-odd.wav', bytes: clean.subarray(0, CUT + 1), frames: CUT_FRAMES, note: /truncated: .*29957 are present.*; data ends with a partial frame \(1 byte, ignored\)$/ },
    { name: 'streaming.wav', bytes: pcm16(codes, { override: { dataSize: 0xffffffff, riffSize: 0xffffffff } }), frames: SR, note: /^data size 0xFFFFFFFF \(streaming writer\): read to end of file$/ },
    { name: 'riff-size.wav', bytes: pcm16(codes, { override: { riffSize: 1234 } }), frames: SR, note: /^RIFF size 1234 does not match the file size 44144/ },
    { name: 'byte-rate.wav', bytes: pcm16(codes, { override: { byteRate: 999 } }), frames: SR, note: /^byte rate 999 in the fmt chunk is inconsistent/ },
    { name: 'no-pad.wav', bytes: pcm16(codes, { before: [{ id: 'LIST', body: new Uint8Array(17), omitPad: true }] }), frames: SR, note: /odd size without the RIFF pad byte/ },
    {
      name: 'two-fmt.wav',
      // A second fmt chunk claiming 8 kHz stereo: ignored (the first one rules), but worth a word.
      bytes: pcm16(codes, { between: [{ id: 'fmt ', body: Uint8Array.of(1, 0, 2, 0, 0x40, 0x1f, 0, 0, 0, 0x7d, 0, 0, 4, 0, 16, 0) }] }),
      frames: SR,
      note: /^ignored a second fmt chunk at byte \d+$/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: decodes ${c.frames} frames and carries one note`, async () => {
      const result = await ok(task(put(`notes/${c.name}`, c.bytes)));
      expect(result.frames).toBe(c.frames);
      expect(result.decodeNotes.join('; ')).toMatch(c.note);
      expect(result.decodeNotes.length).toBe(c.name === 'truncated-odd.wav' ? 2 : 1);
      expect(result.warnings).toEqual([]);
    });
  }

  it('a well-formed file (with unknown chunks and an odd, padded one) has no notes', async () => {
    const withChunks = pcm16(codes, { before: [{ id: 'LIST', body: asciiBytes('INFOISFT\x05\x00\x00\x00abcde') }], after: [{ id: 'id3 ', body: new Uint8Array(9) }] });
    expect((await ok(task(put('notes/clean.wav', clean)))).decodeNotes).toEqual([]);
    expect((await ok(task(put('notes/chunks.wav', withChunks)))).decodeNotes).toEqual([]);
  });

  it('the truncated file gives exactly the rows of a clean file holding only the frames present (libsndfile keeps them)', async () => {
    const cut = await ok(task(put('rows/cut.wav', clean.subarray(0, CUT))));
    const whole = await ok(task(put('rows/present.wav', pcm16(codes.subarray(0, CUT_FRAMES)))));
    expect(cut.rows).toEqual(whole.rows);
    expect(cut.seconds).toBe(CUT_FRAMES / SR);
  });

  it('data size 0 with bytes after it: a failure whose reason says why there is no audio', async () => {
    const result = await extractFile(task(put('notes/zero.wav', pcm16(codes, { override: { dataSize: 0 } }))));
    expect(result).toMatchObject({ ok: false, code: 'DECODE', reason: expect.stringMatching(/^holds no audio \(0 sample frames\): data size 0 .*44100 bytes after it are ignored/) });
  });

  it('an offset past the end of a truncated file says it is truncated', async () => {
    const settings = resolveSettings({ ...RMS, offset: 0.8 });
    const result = await extractFile({ ...task(put('notes/cut-offset.wav', clean.subarray(0, CUT))), settings, specHash: specHash(settings) });
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/--offset 0\.8 s is past the end \(the file is 0\.679 s long\): truncated: data chunk declares/) });
  });
});

describe('extractFile on the shared decode corpus (libsndfile-decodes.json)', () => {
  const reference = JSON.parse(readFileSync(join(DECODE_DIR, 'libsndfile-decodes.json'), 'utf8')) as Record<string, { frames?: number; error?: string }>;
  // The corpus README: streaming writers' data sizes and truncated data are the damaged files libsndfile still decodes.
  const damaged: Record<string, RegExp> = {
    'truncated_data_16bit.wav': /^truncated: data chunk declares 22050 bytes but only 18049 are present; decoded 0\.409 s of 0\.500 s; data ends with a partial frame \(1 byte, ignored\)$/,
    'truncated_data_16bit_even.wav': /^truncated: data chunk declares 22050 bytes but only 18050 are present; decoded 0\.409 s of 0\.500 s$/,
    'data_size_0xFFFFFFFF_streaming.wav': /^data size 0xFFFFFFFF \(streaming writer\): read to end of file$/,
  };
  const accepted = Object.entries(reference).filter(([key, entry]) => key.startsWith('edge/') && entry.frames !== undefined && entry.frames > 0);
  expect(accepted.length).toBeGreaterThan(10);
  for (const [key, entry] of accepted) {
    const name = key.slice('edge/'.length);
    it(`${name}: libsndfile's ${entry.frames} frames, ${damaged[name] ? 'with a note' : 'no note'}`, async () => {
      const result = await extractFile({ ...task(join(DECODE_DIR, name)), path: name });
      if (!result.ok) throw new Error(`expected success, got ${result.reason}`);
      expect(result.frames).toBe(entry.frames);
      if (damaged[name]) expect(result.decodeNotes.join('; ')).toMatch(damaged[name]);
      else expect(result.decodeNotes).toEqual([]);
    });
  }
});

describe('extract cache keeps decode notes', () => {
  it('a re-run from the cache carries the same notes; an entry from before notes existed is recomputed', async () => {
    const path = put('cache/cut.wav', clean.subarray(0, CUT));
    const cacheDir = join(dir, 'cache-store');
    const first = await ok(task(path, { cacheDir }));
    const second = await ok(task(path, { cacheDir }));
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.decodeNotes).toEqual(first.decodeNotes);
    expect(second.decodeNotes[0]).toMatch(/^truncated:/);

    // What the previous entry format stored: the result without decodeNotes.
    const t = task(path, { cacheDir });
    const entryPath = join(cacheDir, `${cacheKey(await sha256File(path), t.specHash)}.json`);
    const entry = JSON.parse(readFileSync(entryPath, 'utf8')) as { format: number; key: string; value: Record<string, unknown> };
    delete entry.value.decodeNotes;
    for (const format of [1, entry.format]) {
      writeFileSync(entryPath, JSON.stringify({ ...entry, format }));
      const again = await ok(t);
      expect(again.cached, `format ${format}`).toBe(false);
      expect(again.decodeNotes).toEqual(first.decodeNotes);
    }
  });
});

describe('extract(): damaged files are warnings, or failures with strict', () => {
  const root = join(dir, 'api');
  put('api/t2/good.wav', clean);
  put('api/t2/trunc_big.wav', clean.subarray(0, CUT));
  put('api/clean/a.wav', clean);
  put('api/clean/b.wav', pcm16(toneCodes(SR, 660)));
  put('api/piped/stream.wav', pcm16(codes, { override: { dataSize: 0xffffffff, riffSize: 0xffffffff } }));

  async function run(inputs: string[], out: string, extra: { strict?: boolean; cache?: boolean; settings?: FeatureSettingsInput } = {}) {
    const warned: { message: string; details: Record<string, unknown> }[] = [];
    const summary = await extract({ inputs, out, cwd: root, jobs: 1, cache: extra.cache ?? false, strict: extra.strict, settings: extra.settings ?? RMS, onWarning: (message, details) => warned.push({ message, details }) });
    return { summary, warned };
  }

  it('a truncated file is extracted, warned about once by name, listed and counted', async () => {
    const { summary, warned } = await run(['t2'], 'o2/f.csv');
    expect(summary.files).toEqual({ total: 2, ok: 2, failed: 0, withWarnings: 1, cached: 0, skippedNonWav: 0 });
    expect(summary.failures).toEqual([]);
    expect(summary.warnings).toEqual([{ path: 't2/trunc_big.wav', source: 'decode', message: expect.stringMatching(/^truncated: data chunk declares 44100 bytes but only 29956 are present/) }]);
    expect(warned).toEqual([{ message: `t2/trunc_big.wav: ${summary.warnings[0].message}`, details: { file: 't2/trunc_big.wav', source: 'decode' } }]);
    expect(stringColumn(await readTable(join(root, 'o2/f.csv')), 'path')).toEqual(['t2/good.wav', 't2/trunc_big.wav']);
  });

  it('with strict the truncated file fails the run (DECODE, naming it), and nothing is written', async () => {
    const err = await run(['t2'], 'o3/f.csv', { strict: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'DECODE',
      message: expect.stringMatching(/^t2\/trunc_big\.wav: truncated: data chunk declares .* \(--strict refuses a file that lost audio; without --strict it is decoded as far as it goes, with a warning\)$/),
      details: { file: 't2/trunc_big.wav' },
    });
    expect(existsSync(join(root, 'o3/f.csv'))).toBe(false);
    expect(existsSync(join(root, 'o3/f.csv.spec.json'))).toBe(false);
  });

  it('with strict a header slip that lost no audio (a streaming writer\'s size, as arecord or ffmpeg pipes leave) stays a warning', async () => {
    const { summary, warned } = await run(['piped'], 'o6/f.csv', { strict: true });
    expect(summary.files).toMatchObject({ ok: 1, failed: 0, withWarnings: 1 });
    expect(warned.map((w) => w.message)).toEqual(['piped/stream.wav: data size 0xFFFFFFFF (streaming writer): read to end of file']);
  });

  it('when every file fails on its label, the error says labels (INVALID_INPUT), not decoding', async () => {
    put('api/labels.csv', new TextEncoder().encode('path,label\nclean/a.wav,x\nclean/a.wav,y\nclean/b.wav,x\nclean/b.wav,z\n'));
    const err = await extract({ inputs: ['clean'], out: 'o7/f.csv', cwd: root, jobs: 1, cache: false, settings: RMS, labels: { kind: 'csv', path: join(root, 'labels.csv') } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/^none of the 2 files has a usable label \(first: clean\/a\.wav: .*labels\.csv gives clean\/a\.wav more than one label\)$/) });
  });

  it('strict passes clean files; no warnings for clean files', async () => {
    const { summary, warned } = await run(['clean'], 'o4/f.csv', { strict: true });
    expect(summary.files).toMatchObject({ ok: 2, failed: 0, withWarnings: 0 });
    expect(summary.warnings).toEqual([]);
    expect(warned).toEqual([]);
  });

  it('a re-run from the cache reports the same warning (and with strict still fails)', async () => {
    const first = await run(['t2'], 'o5/f.csv', { cache: true });
    const second = await run(['t2'], 'o5/f.csv', { cache: true });
    expect(first.summary.files.cached).toBe(0);
    expect(second.summary.files).toMatchObject({ cached: 2, withWarnings: 1 });
    expect(second.summary.warnings).toEqual(first.summary.warnings);
    expect(second.warned).toEqual(first.warned);
    await expect(run(['t2'], 'o5/g.csv', { cache: true, strict: true })).rejects.toMatchObject({ code: 'DECODE', message: expect.stringMatching(/^t2\/trunc_big\.wav: truncated/) });
  });

  it('many short clips warning about deltas never hide a damaged file', async () => {
    for (let i = 0; i < 7; i++) put(`api/short/s${i}.wav`, pcm16(toneCodes(2000, 300 + 50 * i)));
    put('api/short/z_cut.wav', clean.subarray(0, 3000));
    const { summary, warned } = await run(['short'], 'o6/f.csv', { settings: { features: ['mfcc', 'mfcc_delta'] } });
    expect(summary.files).toMatchObject({ total: 8, ok: 8, withWarnings: 8 });
    expect(summary.warnings.filter((w) => w.source === 'features')).toHaveLength(8);
    expect(summary.warnings.filter((w) => w.source === 'decode').map((w) => w.path)).toEqual(['short/z_cut.wav']);
    expect(warned[0].message).toMatch(/^short\/z_cut\.wav: truncated:/);
    // 8 delta caveats: 4 shown, then one line counting the rest.
    expect(warned.slice(1).map((w) => w.message)).toEqual([
      ...['s0', 's1', 's2', 's3'].map((s) => expect.stringMatching(new RegExp(`^short/${s}\\.wav: MFCC deltas`))),
      '… and 4 more files with feature warnings (see "warnings" in the --json output)',
    ]);
  });
});
