import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeFramesToChannels,
  decodeFramesToMono,
  decodeWav,
  decodeWavToMono,
  HEADER_PROBE_BYTES,
  parseWavHeader,
  WavFileReader,
  type WavInfo,
} from '../../../src/audio/wav.js';
import { SpotmlError } from '../../../src/errors.js';
import { asciiBytes, writeWav, type WavSpec } from '../../helpers/wav-writer.js';

const AUDIO_DIR = new URL('../../../../shared/reference/audio/', import.meta.url).pathname;
const DECODE_DIR = join(AUDIO_DIR, 'decode');

interface DecodedEntry {
  sr: number;
  channels: number;
  frames: number;
  sum: number[];
  sumsq: number[];
  first8: number[][];
  maxabs: number;
}
type ReferenceEntry = DecodedEntry | { error: string };
const reference = JSON.parse(readFileSync(join(DECODE_DIR, 'libsndfile-decodes.json'), 'utf8')) as Record<string, ReferenceEntry>;

function referencePath(key: string): string {
  return key.startsWith('edge/') ? join(DECODE_DIR, key.slice('edge/'.length)) : join(AUDIO_DIR, key);
}

/** What our refusal must say for each file libsndfile refuses (an unknown refusal fails the test). */
const REFUSAL_REASONS: Record<string, RegExp> = {
  'edge/bad_bits_0.wav': /0 bits per sample/,
  'edge/empty_file.wav': /empty file/,
  'edge/no_data_chunk.wav': /no data chunk/,
  'edge/random_garbage.wav': /not a WAV file/,
  'edge/truncated_in_header.wav': /ends inside the fmt chunk/,
};

/** Runs fn and returns the SpotmlError it throws (failing if it throws anything else or nothing). */
function spotmlErrorOf(fn: () => unknown): SpotmlError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpotmlError);
    return err as SpotmlError;
  }
  throw new Error('expected a SpotmlError, nothing was thrown');
}

async function asyncSpotmlErrorOf(fn: () => Promise<unknown>): Promise<SpotmlError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpotmlError);
    return err as SpotmlError;
  }
  throw new Error('expected a SpotmlError, nothing was thrown');
}

function expectDecodeError(fn: () => unknown, name: string, reason: RegExp): void {
  const err = spotmlErrorOf(fn);
  expect(err.code).toBe('DECODE');
  expect(err.message.startsWith(`${name}: `)).toBe(true);
  expect(err.message).toMatch(reason);
}

/** Sum and sum of squares (in float64), as the reference was computed. */
function moments(x: Float32Array): { sum: number; sumsq: number; maxabs: number } {
  let sum = 0;
  let sumsq = 0;
  let maxabs = 0;
  for (let i = 0; i < x.length; i++) {
    sum += x[i];
    sumsq += x[i] * x[i];
    maxabs = Math.max(maxabs, Math.abs(x[i]));
  }
  return { sum, sumsq, maxabs };
}

/** |actual − expected| ≤ 1e-6 relative, with samples in [-1, 1] making 1 the natural floor of the scale. */
function expectRelClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
}

/** Bitwise-equal float arrays; reports the first difference (vitest's deep equality is slow on millions of samples). */
function expectSameSamples(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let firstDifference = -1;
  for (let i = 0; i < actual.length && firstDifference < 0; i++) if (!Object.is(actual[i], expected[i])) firstDifference = i;
  if (firstDifference >= 0) expect({ index: firstDifference, value: actual[firstDifference] }).toEqual({ index: firstDifference, value: expected[firstDifference] });
}

async function readAllMono(path: string, maxFrames: number, seek = 0): Promise<{ info: WavInfo; mono: Float32Array; chunkSizes: number[] }> {
  const reader = await WavFileReader.open(path);
  try {
    reader.seekFrame(seek);
    const parts: Float32Array[] = [];
    for (let part = await reader.readMono(maxFrames); part; part = await reader.readMono(maxFrames)) parts.push(part);
    const mono = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      mono.set(p, at);
      at += p.length;
    }
    return { info: reader.info, mono, chunkSizes: parts.map((p) => p.length) };
  } finally {
    await reader.close();
  }
}

/** librosa.to_mono as documented in wav.ts: float64 sum of float32 samples, rounded to float32 once. */
function expectedMono(channels: Float32Array[]): Float32Array {
  const frames = channels[0]?.length ?? 0;
  const mono = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (const ch of channels) sum += ch[f];
    mono[f] = sum / channels.length;
  }
  return mono;
}

const tempDir = mkdtempSync(join(tmpdir(), 'spotml-wav-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

function writeTemp(fileName: string, bytes: Uint8Array): string {
  const path = join(tempDir, fileName);
  writeFileSync(path, bytes);
  return path;
}

describe('decodeWav against libsndfile (reference/audio/decode/libsndfile-decodes.json)', () => {
  it('the reference covers every WAV in decode/', () => {
    const files = readdirSync(DECODE_DIR).filter((f) => f.endsWith('.wav'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(reference[`edge/${f}`], f).toBeDefined();
  });

  for (const [key, entry] of Object.entries(reference)) {
    if ('error' in entry) {
      it(`${key}: refused, as libsndfile does`, async () => {
        const reason = REFUSAL_REASONS[key];
        expect(reason, `no expected reason written for ${key} (${entry.error})`).toBeDefined();
        expectDecodeError(() => decodeWav(readFileSync(referencePath(key)), key), key, reason);
        const err = await asyncSpotmlErrorOf(() => WavFileReader.open(referencePath(key)));
        expect(err.code).toBe('DECODE');
        expect(err.message).toContain(referencePath(key));
        expect(err.message).toMatch(reason);
      });
      continue;
    }
    it(`${key}: frames exact, sums 1e-6 relative, first samples 1e-7`, async () => {
      const { info, channels } = decodeWav(readFileSync(referencePath(key)), key);
      expect(info.sampleRate).toBe(entry.sr);
      expect(info.channels).toBe(entry.channels);
      expect(info.frames).toBe(entry.frames);
      expect(channels).toHaveLength(entry.channels);
      let maxabs = 0;
      channels.forEach((channel, c) => {
        expect(channel).toHaveLength(entry.frames);
        const m = moments(channel);
        expectRelClose(m.sum, entry.sum[c]);
        expectRelClose(m.sumsq, entry.sumsq[c]);
        maxabs = Math.max(maxabs, m.maxabs);
        expect(entry.first8[c].length).toBe(Math.min(8, entry.frames));
        entry.first8[c].forEach((value, i) => expect(Math.abs(channel[i] - value)).toBeLessThanOrEqual(1e-7));
      });
      expect(Math.abs(maxabs - entry.maxabs)).toBeLessThanOrEqual(1e-7);

      // The streaming reader gives the librosa mono mixdown of those same samples, in bounded chunks.
      const streamed = await readAllMono(referencePath(key), 4099);
      expect(streamed.info).toEqual(info);
      expect(streamed.chunkSizes.every((n) => n > 0 && n <= 4099)).toBe(true);
      expectSameSamples(streamed.mono, expectedMono(channels));
      if (entry.channels === 1) {
        expectRelClose(moments(streamed.mono).sum, entry.sum[0]);
        expectRelClose(moments(streamed.mono).sumsq, entry.sumsq[0]);
      }
    });
  }

  it('notes what a user may want to know about streaming-writer and truncated files', () => {
    const notesOf = (file: string): string[] => decodeWav(readFileSync(join(DECODE_DIR, file)), file).info.notes;
    expect(notesOf('data_size_0xFFFFFFFF_streaming.wav')).toContain('data size 0xFFFFFFFF (streaming writer): read to end of file');
    expect(notesOf('data_size_0_streaming.wav').join('\n')).toMatch(/data size 0 .*22050 bytes after it are ignored/);
    expect(notesOf('truncated_data_16bit.wav').join('\n')).toMatch(/truncated: data chunk declares 22050 bytes but only 18049 are present/);
    expect(notesOf('pcm16_mono.wav')).toEqual([]);
  });
});

// Closed forms for the synthetic files: what each stored code means as a float32 sample.
const scaleInt = (code: number, containerBits: number): number => Math.fround(code / 2 ** (containerBits - 1));

/** G.711 µ-law expansion written from the spec's segment table (not the decoder's shift formula). */
function mulawReference(code: number): number {
  const inverted = ~code & 0xff;
  const exponent = (inverted >> 4) & 0x07;
  const mantissa = inverted & 0x0f;
  const magnitude14 = (2 * mantissa + 33) * 2 ** exponent - 33; // 14-bit G.711 value
  return ((inverted & 0x80 ? -1 : 1) * magnitude14 * 4) / 32768;
}

/** G.711 A-law expansion from the spec's segment table. */
function alawReference(code: number): number {
  const toggled = code ^ 0x55;
  const exponent = (toggled >> 4) & 0x07;
  const mantissa = toggled & 0x0f;
  const magnitude13 = exponent === 0 ? 2 * mantissa + 1 : (2 * mantissa + 33) * 2 ** (exponent - 1); // 13-bit G.711 value
  return ((toggled & 0x80 ? 1 : -1) * magnitude13 * 8) / 32768;
}

function deinterleave(samples: number[], channels: number, toFloat: (code: number) => number): Float32Array[] {
  return Array.from({ length: channels }, (_, c) => Float32Array.from(samples.filter((_, i) => i % channels === c), toFloat));
}

interface SyntheticCase {
  label: string;
  spec: WavSpec;
  toFloat: (code: number) => number;
  format: WavInfo['format'];
  validBits: number;
}

const ramp = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));
const SYNTHETIC: SyntheticCase[] = [
  {
    label: 'u8 mono, (x − 128) / 128',
    spec: { formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 8, samples: [0, 1, 127, 128, 129, 255, 64] },
    toFloat: (x) => (x - 128) / 128,
    format: 'pcm',
    validBits: 8,
  },
  {
    label: 's16 3 channels at 1 Hz',
    spec: { formatTag: 1, channels: 3, sampleRate: 1, bitsPerSample: 16, samples: [-32768, -1, 0, 1, 32767, 12345, -7, 3, 9999] },
    toFloat: (x) => scaleInt(x, 16),
    format: 'pcm',
    validBits: 16,
  },
  {
    label: 's24 6 channels at 192 kHz',
    spec: { formatTag: 1, channels: 6, sampleRate: 192000, bitsPerSample: 24, samples: ramp(60, (i) => ((i * 2654435761) % 2 ** 24) - 2 ** 23) },
    toFloat: (x) => scaleInt(x, 24),
    format: 'pcm',
    validBits: 24,
  },
  {
    label: 's32 stereo, rounded to float32',
    spec: { formatTag: 1, channels: 2, sampleRate: 44100, bitsPerSample: 32, samples: [-(2 ** 31), 2 ** 31 - 1, 1, -1, 123456789, -987654321] },
    toFloat: (x) => scaleInt(x, 32),
    format: 'pcm',
    validBits: 32,
  },
  {
    label: '12-bit PCM in a 16-bit container (tag 1), scaled by the container',
    spec: { formatTag: 1, channels: 1, sampleRate: 22050, bitsPerSample: 12, samples: [-2048 * 16, 2047 * 16, 16, -16] },
    toFloat: (x) => scaleInt(x, 16),
    format: 'pcm',
    validBits: 12,
  },
  {
    label: 'EXTENSIBLE PCM 20 valid bits in 24',
    spec: { formatTag: 1, channels: 2, sampleRate: 96000, bitsPerSample: 24, extensible: { validBits: 20, channelMask: 3 }, samples: [-(2 ** 23), 16, 2 ** 23 - 16, -16] },
    toFloat: (x) => scaleInt(x, 24),
    format: 'pcm',
    validBits: 20,
  },
  {
    label: 'EXTENSIBLE PCM with valid bits 0 (treated as the container)',
    spec: { formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16, extensible: { validBits: 0 }, samples: [100, -100] },
    toFloat: (x) => scaleInt(x, 16),
    format: 'pcm',
    validBits: 16,
  },
  {
    label: 'float32 stereo, as stored',
    spec: { formatTag: 3, channels: 2, sampleRate: 44100, bitsPerSample: 32, samples: [0.5, -0.25, 1.5, -3, 1e-30, 0.1] },
    toFloat: (x) => x,
    format: 'float',
    validBits: 32,
  },
  {
    label: 'EXTENSIBLE float64, rounded to float32',
    spec: { formatTag: 3, channels: 1, sampleRate: 48000, bitsPerSample: 64, extensible: { validBits: 64 }, samples: [0.1, -0.3, 1 / 3, 2.5] },
    toFloat: (x) => x,
    format: 'float',
    validBits: 64,
  },
  {
    label: 'µ-law, all 256 codes',
    spec: { formatTag: 7, channels: 1, sampleRate: 8000, bitsPerSample: 8, samples: ramp(256, (i) => i) },
    toFloat: mulawReference,
    format: 'mulaw',
    validBits: 8,
  },
  {
    label: 'A-law stereo, all 256 codes',
    spec: { formatTag: 6, channels: 2, sampleRate: 8000, bitsPerSample: 8, samples: ramp(256, (i) => i) },
    toFloat: alawReference,
    format: 'alaw',
    validBits: 8,
  },
  {
    label: 'EXTENSIBLE µ-law',
    spec: { formatTag: 7, channels: 1, sampleRate: 8000, bitsPerSample: 8, extensible: { validBits: 8 }, samples: [0, 0x7f, 0x80, 0xff] },
    toFloat: mulawReference,
    format: 'mulaw',
    validBits: 8,
  },
];

describe('decodeWav on synthetic files (closed-form values)', () => {
  it('the G.711 references agree with the spec values', () => {
    expect(mulawReference(0x00) * 32768).toBe(-32124);
    expect(mulawReference(0x80) * 32768).toBe(32124);
    expect(mulawReference(0xff)).toBe(0);
    expect(alawReference(0xd5) * 32768).toBe(8);
    expect(alawReference(0x55) * 32768).toBe(-8);
    expect(alawReference(0xaa) * 32768).toBe(32256);
    expect(alawReference(0x2a) * 32768).toBe(-32256);
  });

  it.each(SYNTHETIC)('$label', ({ spec, toFloat, format, validBits }) => {
    const bytes = writeWav(spec);
    const { info, channels } = decodeWav(bytes, 'synthetic.wav');
    const samples = Array.from(spec.samples);
    const expected = deinterleave(samples, spec.channels, toFloat);
    expect(info).toMatchObject({
      sampleRate: spec.sampleRate,
      channels: spec.channels,
      bitsPerSample: spec.bitsPerSample,
      validBits,
      format,
      frames: samples.length / spec.channels,
      dataBytes: samples.length * Math.ceil(spec.bitsPerSample / 8),
    });
    expect(channels).toEqual(expected);
    expect(decodeWavToMono(bytes, 'synthetic.wav').mono).toEqual(expectedMono(expected));
  });

  it('mono mixdown of 3 channels is the float64 mean rounded once to float32', () => {
    const samples = [1, 1, 1, 32767, 32767, -32768, 3, 5, 7];
    const { mono } = decodeWavToMono(writeWav({ formatTag: 1, channels: 3, sampleRate: 8000, bitsPerSample: 16, samples }), 'three.wav');
    expect(Array.from(mono)).toEqual([
      Math.fround(3 / 3 / 32768),
      Math.fround((32767 + 32767 - 32768) / 3 / 32768),
      Math.fround(15 / 3 / 32768),
    ]);
  });
});

const PCM16 = (samples: number[], extra: Partial<WavSpec> = {}): Uint8Array =>
  writeWav({ formatTag: 1, channels: 1, sampleRate: 22050, bitsPerSample: 16, samples, ...extra });

describe('chunk layout', () => {
  const samples = [1000, -1000, 2000, -2000, 3];
  const expected = Float32Array.from(samples, (x) => x / 32768);

  it('skips unknown chunks before fmt, between fmt and data, and after data', () => {
    const bytes = PCM16(samples, {
      before: [{ id: 'LIST', body: asciiBytes('INFOISFT\x05\x00\x00\x00abcde') }, { id: 'JUNK', body: new Uint8Array(28) }],
      between: [{ id: 'fact', body: Uint8Array.of(5, 0, 0, 0) }, { id: 'bext', body: new Uint8Array(3) }],
      after: [{ id: 'LIST', body: new Uint8Array(7) }, { id: 'id3 ', body: new Uint8Array(100) }],
    });
    const { info, channels } = decodeWav(bytes, 'chunks.wav');
    expect(info.frames).toBe(5);
    expect(channels[0]).toEqual(expected);
    expect(info.notes).toEqual([]);
  });

  it('reads an odd-sized data chunk (with pad byte) followed by another chunk', () => {
    const bytes = writeWav({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 8, samples: [0, 128, 255], after: [{ id: 'LIST', body: new Uint8Array(4) }] });
    const { info, channels } = decodeWav(bytes, 'odd.wav');
    expect(info.frames).toBe(3);
    expect(Array.from(channels[0])).toEqual([-1, 0, 127 / 128]);
  });

  it('accepts an odd-sized chunk written without its pad byte, and says so', () => {
    const bytes = PCM16(samples, { before: [{ id: 'LIST', body: new Uint8Array(17), omitPad: true }] });
    const { info, channels } = decodeWav(bytes, 'nopad.wav');
    expect(channels[0]).toEqual(expected);
    expect(info.notes.join('\n')).toMatch(/odd size without the RIFF pad byte/);
  });

  it('ignores a RIFF size that disagrees with the file size, with a note', () => {
    const { info, channels } = decodeWav(PCM16(samples, { override: { riffSize: 4 } }), 'riff.wav');
    expect(channels[0]).toEqual(expected);
    expect(info.notes.join('\n')).toMatch(/RIFF size 4 does not match/);
  });

  it('a data size past the end of the file is truncated to whole frames present', () => {
    const bytes = PCM16(samples, { override: { dataSize: 0x7fffffff } });
    const { info, channels } = decodeWav(bytes.subarray(0, bytes.length - 3), 'cut.wav');
    expect(info.frames).toBe(3);
    expect(channels[0]).toEqual(expected.subarray(0, 3));
    expect(info.notes.join('\n')).toMatch(/truncated: data chunk declares 2147483647 bytes but only 7 are present/);
    expect(info.notes.join('\n')).toMatch(/partial frame/);
  });

  it('data size 0xFFFFFFFF reads to the end of the file, and 0 reads nothing (libsndfile)', () => {
    expect(decodeWav(PCM16(samples, { override: { dataSize: 0xffffffff } }), 's.wav').channels[0]).toEqual(expected);
    expect(decodeWav(PCM16(samples, { override: { dataSize: 0 } }), 's.wav').info.frames).toBe(0);
  });
});

describe('refusals: SpotmlError DECODE naming the file and the reason', () => {
  const base: WavSpec = { formatTag: 1, channels: 2, sampleRate: 22050, bitsPerSample: 16, samples: [1, 2, 3, 4] };
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty', new Uint8Array(0), /empty file/],
    ['too short', asciiBytes('RIFF\x04\x00\x00\x00WAV'), /only 11 bytes, too short for a RIFF\/WAVE header/],
    ['3 bytes', asciiBytes('RIF'), /only 3 bytes/],
    ['not RIFF', asciiBytes('ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'), /not a WAV file \(starts with 0x49443304/],
    ['RIFX', writeWav({ ...base, override: { riffId: 'RIFX' } }), /big-endian RIFX/],
    ['RF64', writeWav({ ...base, override: { riffId: 'RF64' } }), /RF64/],
    ['not WAVE', writeWav({ ...base, override: { waveId: 'AVI ' } }), /RIFF file of type 'AVI ', not WAVE/],
    ['zero channels', writeWav({ ...base, channels: 0, override: { blockAlign: 4 } }), /0 channels/],
    ['65535 channels', writeWav({ ...base, channels: 65535 }), /65535 channels; at most 1024/],
    ['zero rate', writeWav({ ...base, sampleRate: 0 }), /sample rate of 0 Hz/],
    ['bits 0', writeWav({ ...base, bitsPerSample: 0, override: { blockAlign: 4 } }), /0 bits per sample/],
    ['bits 33 PCM', writeWav({ ...base, bitsPerSample: 33 }), /33-bit integer PCM .*not supported/],
    ['bits 64 PCM', writeWav({ ...base, bitsPerSample: 64 }), /64-bit integer PCM/],
    ['float16', writeWav({ ...base, formatTag: 3, bitsPerSample: 16 }), /16-bit IEEE float/],
    ['µ-law 16-bit', writeWav({ ...base, formatTag: 7, bitsPerSample: 16 }), /µ-law must be 8 bits/],
    ['block align', writeWav({ ...base, override: { blockAlign: 3 } }), /block align 3 does not match 2 channel\(s\) × 2 byte/],
    ['ADPCM', writeWav({ ...base, formatTag: 2, bitsPerSample: 4, override: { blockAlign: 2048 } }), /unsupported WAV encoding: format tag 0x0002 \(Microsoft ADPCM\)/],
    ['EXTENSIBLE ADPCM', writeWav({ ...base, formatTag: 2, extensible: { validBits: 16 } }), /format tag 0x0002 .*EXTENSIBLE/],
    ['EXTENSIBLE unknown GUID', writeWav({ ...base, extensible: { validBits: 16, guidTail: new Array(14).fill(7) } }), /unknown sub-format GUID/],
    ['EXTENSIBLE short fmt', writeWav({ ...base, extensible: { validBits: 16 }, override: { fmtSize: 18 } }), /EXTENSIBLE fmt chunk is too short/],
    ['EXTENSIBLE valid bits > container', writeWav({ ...base, extensible: { validBits: 20 } }), /valid bits per sample \(20\) exceed the 16-bit container/],
    ['fmt too short', writeWav({ ...base, override: { fmtSize: 14 } }), /fmt chunk is 14 bytes/],
    ['no fmt', asciiBytes('RIFF\x10\x00\x00\x00WAVELIST\x04\x00\x00\x00abcd'), /no fmt chunk \(the file ends at byte 24\)/],
    ['data before fmt', asciiBytes('RIFF\x24\x00\x00\x00WAVEdata\x00\x00\x00\x00fmt \x10\x00\x00\x00'), /data chunk at byte 12 comes before the fmt chunk/],
    ['chunk past the end', writeWav({ ...base, before: [{ id: 'LIST', body: new Uint8Array(4) }] }).map((b, i) => (i === 16 ? 0xff : b)), /no fmt chunk \(chunk 'LIST' at byte 12 declares 255 bytes, past the end/],
    ['huge fmt size', writeWav({ ...base, override: { fmtSize: 0xffffff00 } }), /no data chunk \(chunk 'fmt ' at byte 12 declares 4294967040 bytes/],
  ];

  it.each(cases)('%s', (_label, bytes, reason) => {
    expectDecodeError(() => decodeWav(bytes, 'bad.wav'), 'bad.wav', reason);
  });

  it('refuses more than 4096 chunks before the data chunk', () => {
    const junk = Array.from({ length: 5000 }, () => ({ id: 'JUNK', body: new Uint8Array(0) }));
    expectDecodeError(() => decodeWav(writeWav({ ...base, before: junk }), 'many.wav'), 'many.wav', /more than 4096 chunks/);
  });

  it('refuses NaN or infinite float samples (also float64 beyond float32 range)', () => {
    const floats = (samples: number[], bits: number): Uint8Array => writeWav({ formatTag: 3, channels: 1, sampleRate: 8000, bitsPerSample: bits, samples });
    expectDecodeError(() => decodeWav(floats([0, NaN], 32), 'nan.wav'), 'nan.wav', /frame 1 is NaN or infinite/);
    expectDecodeError(() => decodeWav(floats([Infinity], 32), 'inf.wav'), 'inf.wav', /frame 0/);
    expectDecodeError(() => decodeWavToMono(floats([0, 0, 1e300], 64), 'big.wav'), 'big.wav', /frame 2/);
  });
});

describe('parseWavHeader from the start of a file', () => {
  it('gives the same info from the first 64 KiB as from the whole file', () => {
    const bytes = PCM16(Array.from({ length: 100_000 }, (_, i) => i % 3000));
    const whole = parseWavHeader(bytes, bytes.length, 'big.wav');
    expect(parseWavHeader(bytes.subarray(0, HEADER_PROBE_BYTES), bytes.length, 'big.wav')).toEqual(whole);
    expect(whole.frames).toBe(100_000);
    expect(whole.dataOffset).toBe(44);
  });

  it('asks for more bytes when a chunk before data pushes the header past the bytes given', () => {
    const bytes = PCM16([1, 2, 3], { before: [{ id: 'LIST', body: new Uint8Array(100_000) }] });
    expectDecodeError(() => parseWavHeader(bytes.subarray(0, HEADER_PROBE_BYTES), bytes.length, 'long-list.wav'), 'long-list.wav', /pass more of the file/);
    expect(parseWavHeader(bytes, bytes.length, 'long-list.wav').dataOffset).toBe(12 + 8 + 100_000 + 8 + 16 + 8);
  });
});

describe('decodeFramesToMono / decodeFramesToChannels', () => {
  const samples = [100, 200, -300, 400, 500, -600, 700];
  const bytes = writeWav({ formatTag: 1, channels: 2, sampleRate: 8000, bitsPerSample: 16, samples });
  const info = decodeWav(bytes, 'x.wav').info;
  const payload = bytes.subarray(info.dataOffset, info.dataOffset + 14); // 3 frames and one lone sample

  it('ignores a trailing partial frame and stops at the output length', () => {
    const out = new Float32Array(10);
    expect(decodeFramesToMono(payload, info, out)).toBe(3);
    expect(Array.from(out.subarray(0, 3))).toEqual([150 / 32768, 50 / 32768, -50 / 32768].map(Math.fround));
    expect(decodeFramesToMono(payload, info, new Float32Array(2))).toBe(2);
    expect(decodeFramesToMono(payload.subarray(0, 3), info, out)).toBe(0);
  });

  it('splits channels', () => {
    const out = [new Float32Array(3), new Float32Array(3)];
    expect(decodeFramesToChannels(payload, info, out)).toBe(3);
    expect(Array.from(out[0])).toEqual([100, -300, 500].map((x) => x / 32768));
    expect(Array.from(out[1])).toEqual([200, 400, -600].map((x) => x / 32768));
  });
});

describe('WavFileReader', () => {
  const samples = Array.from({ length: 3 * 10_007 }, (_, i) => ((i * 7919) % 65536) - 32768);
  const bytes = writeWav({ formatTag: 1, channels: 3, sampleRate: 16000, bitsPerSample: 16, samples, before: [{ id: 'LIST', body: new Uint8Array(70_001) }] });
  const path = writeTemp('three-channels.wav', bytes);
  const whole = decodeWavToMono(bytes, path).mono;

  it('streams the same mono samples as decodeWav, in chunks of at most maxFrames, with a header past 64 KiB', async () => {
    const { info, mono, chunkSizes } = await readAllMono(path, 1000);
    expect(info.frames).toBe(10_007);
    expect(info.dataOffset).toBeGreaterThan(HEADER_PROBE_BYTES);
    expect(mono).toEqual(whole);
    expect(chunkSizes).toEqual([...new Array(10).fill(1000), 7]);
  });

  it('seeks to a frame, and past the end gives null', async () => {
    expect((await readAllMono(path, 333, 5000)).mono).toEqual(whole.subarray(5000));
    expect((await readAllMono(path, 333, 10_007)).mono).toHaveLength(0);
    expect((await readAllMono(path, 333, 99_999)).mono).toHaveLength(0);
    const reader = await WavFileReader.open(path);
    expect(() => reader.seekFrame(-1)).toThrow(SpotmlError);
    expect(() => reader.seekFrame(1.5)).toThrow(SpotmlError);
    await expect(reader.readMono(0)).rejects.toThrow(SpotmlError);
    reader.seekFrame(10_000);
    expect(await reader.readMono()).toEqual(whole.subarray(10_000));
    expect(await reader.readMono()).toBeNull();
    await reader.close();
    await reader.close();
  });

  it('reads a truncated file to its last whole frame', async () => {
    const cut = writeTemp('cut.wav', bytes.subarray(0, bytes.length - 10));
    const { info, mono } = await readAllMono(cut, 4096);
    expect(info.frames).toBe(10_007 - 2);
    expect(mono).toEqual(whole.subarray(0, 10_005));
  });

  it('a missing file is NOT_FOUND and a directory or bad file is DECODE, naming the path', async () => {
    const missing = join(tempDir, 'nope.wav');
    const notFound = await asyncSpotmlErrorOf(() => WavFileReader.open(missing));
    expect(notFound.code).toBe('NOT_FOUND');
    expect(notFound.message).toContain(missing);
    const dir = await asyncSpotmlErrorOf(() => WavFileReader.open(tempDir));
    expect(dir.code).toBe('DECODE');
    expect(dir.message).toContain(tempDir);
    const garbage = writeTemp('garbage.wav', asciiBytes('hello, this is not audio'));
    const bad = await asyncSpotmlErrorOf(() => WavFileReader.open(garbage));
    expect(bad.code).toBe('DECODE');
    expect(bad.message).toMatch(new RegExp(`^${garbage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a WAV file`));
  });
});
