/**
 * Deterministic fuzzing of the WAV reader: mutated files must either decode sensibly or be refused with
 * SpotmlError('DECODE'); nothing else may escape, nothing may hang or allocate beyond the input.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeWav, decodeWavToMono, parseWavHeader, WavFileReader } from '../../../src/audio/wav.js';
import { SpotmlError } from '../../../src/errors.js';
import { writeWav } from '../../helpers/wav-writer.js';

/** mulberry32: small, seeded, good enough to pick mutations. */
function makeRandom(seed: number): { next: () => number; int: (n: number) => number; pick: <T>(items: readonly T[]) => T } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)] };
}

const random = makeRandom(20240607);

const BASES: Record<string, Uint8Array> = {
  pcm16Mono: writeWav({ formatTag: 1, channels: 1, sampleRate: 22050, bitsPerSample: 16, samples: Array.from({ length: 300 }, (_, i) => Math.round(20000 * Math.sin(i / 7))) }),
  pcm24StereoExtensible: writeWav({
    formatTag: 1,
    channels: 2,
    sampleRate: 48000,
    bitsPerSample: 24,
    extensible: { validBits: 24, channelMask: 3 },
    samples: Array.from({ length: 400 }, (_, i) => Math.round(4_000_000 * Math.cos(i / 5))),
    before: [{ id: 'LIST', body: Uint8Array.from('INFOISFT\x03\x00\x00\x00abc', (c) => c.charCodeAt(0)) }],
  }),
  float32Stereo: writeWav({
    formatTag: 3,
    channels: 2,
    sampleRate: 44100,
    bitsPerSample: 32,
    samples: Array.from({ length: 256 }, (_, i) => Math.sin(i / 3) * 0.8),
    between: [{ id: 'fact', body: Uint8Array.of(128, 0, 0, 0) }],
  }),
};

function chunkOffset(bytes: Uint8Array, id: string): number {
  for (let i = 12; i + 4 <= bytes.length; i++) {
    if (String.fromCharCode(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]) === id) return i;
  }
  throw new Error(`base has no ${id} chunk`);
}

function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value >>> 0, true);
  return copy;
}

function withU16(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint16(at, value & 0xffff, true);
  return copy;
}

interface Mutant {
  label: string;
  bytes: Uint8Array;
}

function buildMutants(): Mutant[] {
  const mutants: Mutant[] = [];
  for (const [baseName, base] of Object.entries(BASES)) {
    const fmt = chunkOffset(base, 'fmt ');
    const data = chunkOffset(base, 'data');
    // Cut headers: every length through the first 100 bytes, then a few cuts inside the data.
    for (let length = 0; length <= Math.min(100, base.length); length++) mutants.push({ label: `${baseName} cut at ${length}`, bytes: base.subarray(0, length) });
    for (let i = 0; i < 5; i++) {
      const length = data + 8 + random.int(base.length - data - 8);
      mutants.push({ label: `${baseName} cut in data at ${length}`, bytes: base.subarray(0, length) });
    }
    // Huge or odd declared sizes.
    const sizes = [0, 1, 3, 15, 17, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    for (const size of sizes) {
      mutants.push({ label: `${baseName} RIFF size ${size}`, bytes: withU32(base, 4, size) });
      mutants.push({ label: `${baseName} fmt size ${size}`, bytes: withU32(base, fmt + 4, size) });
      mutants.push({ label: `${baseName} data size ${size}`, bytes: withU32(base, data + 4, size) });
    }
    // fmt fields: tag, channels, rate, byte rate, block align, bits (and valid bits for EXTENSIBLE).
    const fields: Array<[string, number, 2 | 4, number[]]> = [
      ['tag', fmt + 8, 2, [0, 1, 2, 3, 6, 7, 0x55, 0xfffe, 0xffff]],
      ['channels', fmt + 10, 2, [0, 1, 2, 3, 1024, 1025, 65535]],
      ['rate', fmt + 12, 4, [0, 1, 0x7fffffff, 0xffffffff]],
      ['byte rate', fmt + 16, 4, [0, 0xffffffff]],
      ['block align', fmt + 20, 2, [0, 1, 3, 5, 8, 0xffff]],
      ['bits', fmt + 22, 2, [0, 1, 7, 8, 12, 16, 24, 32, 33, 64, 0xffff]],
      ['cbSize / valid bits', fmt + 24, 2, [0, 8, 20, 24, 40, 0xffff]],
      ['sub-format tag', fmt + 32, 2, [1, 3, 6, 7, 2]],
    ];
    for (const [field, at, width, values] of fields) {
      for (const value of values) {
        const bytes = width === 2 ? withU16(base, at, value) : withU32(base, at, value);
        mutants.push({ label: `${baseName} ${field} = ${value}`, bytes });
      }
    }
    // The PCM tag with bits that make no sense, with block align made to agree or not.
    for (const bits of [0, 7, 33, 64]) {
      const tagged = withU16(withU16(base, fmt + 8, 1), fmt + 22, bits);
      mutants.push({ label: `${baseName} PCM bits ${bits}`, bytes: tagged });
      const channels = tagged[fmt + 10] | (tagged[fmt + 11] << 8);
      mutants.push({ label: `${baseName} PCM bits ${bits}, block align agrees`, bytes: withU16(tagged, fmt + 20, channels * Math.ceil(bits / 8)) });
    }
    // Random chunk ids in place of RIFF, WAVE, fmt, data and the chunk ids.
    for (const at of [0, 8, fmt, data]) {
      for (let i = 0; i < 4; i++) {
        const copy = base.slice();
        for (let b = 0; b < 4; b++) copy[at + b] = i === 0 ? 0 : random.int(256);
        mutants.push({ label: `${baseName} random id at ${at}`, bytes: copy });
      }
    }
    // Random chunks inserted before fmt: random id, declared size random (sometimes huge), random body.
    for (let i = 0; i < 10; i++) {
      const bodyLength = random.int(40);
      const declared = random.pick([bodyLength, bodyLength + 1, random.int(2 ** 32), 0xffffffff]);
      const chunk = new Uint8Array(8 + bodyLength);
      for (let b = 0; b < 4; b++) chunk[b] = random.int(256);
      new DataView(chunk.buffer).setUint32(4, declared >>> 0, true);
      for (let b = 8; b < chunk.length; b++) chunk[b] = random.int(256);
      const bytes = new Uint8Array(base.length + chunk.length);
      bytes.set(base.subarray(0, 12));
      bytes.set(chunk, 12);
      bytes.set(base.subarray(12), 12 + chunk.length);
      mutants.push({ label: `${baseName} random chunk ${i} (declares ${declared})`, bytes });
    }
    // Flipped bytes, mostly in the header.
    for (let i = 0; i < 60; i++) {
      const copy = base.slice();
      const flips = 1 + random.int(4);
      for (let f = 0; f < flips; f++) {
        const at = random.next() < 0.8 ? random.int(Math.min(copy.length, data + 8)) : random.int(copy.length);
        copy[at] ^= 1 << random.int(8);
        if (random.next() < 0.3) copy[at] = random.int(256);
      }
      mutants.push({ label: `${baseName} flip ${i}`, bytes: copy });
    }
  }
  return mutants;
}

const MUTANTS = buildMutants();

function expectOnlyDecodeErrors(fn: () => void, label: string): 'ok' | 'refused' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof SpotmlError)) throw new Error(`${label}: threw ${String(err)} instead of SpotmlError`, { cause: err });
    expect(err.code, `${label}: ${err.message}`).toBe('DECODE');
    expect(err.message.startsWith('fuzz.wav: '), label).toBe(true);
    return 'refused';
  }
}

describe('WAV decoder fuzz', () => {
  it('has at least 500 mutants from three bases', () => {
    expect(MUTANTS.length).toBeGreaterThanOrEqual(500);
  });

  it('every mutant decodes within the bytes present, or is refused with DECODE', () => {
    const outcomes = { ok: 0, refused: 0 };
    for (const { label, bytes } of MUTANTS) {
      const outcome = expectOnlyDecodeErrors(() => {
        const { info, channels } = decodeWav(bytes, 'fuzz.wav');
        expect(info.dataOffset, label).toBeLessThanOrEqual(bytes.length);
        expect(info.frames, label).toBeLessThanOrEqual(Math.floor((bytes.length - info.dataOffset) / info.blockAlign));
        expect(info.dataBytes, label).toBe(info.frames * info.blockAlign);
        expect(info.channels > 0 && info.sampleRate > 0 && info.bitsPerSample > 0, label).toBe(true);
        expect(channels.length, label).toBe(info.channels);
        for (const channel of channels) {
          expect(channel.length, label).toBe(info.frames);
          for (let i = 0; i < channel.length; i++) if (!Number.isFinite(channel[i])) expect.fail(`${label}: sample ${i} is ${channel[i]}`);
        }
        const { mono } = decodeWavToMono(bytes, 'fuzz.wav');
        expect(mono.length, label).toBe(info.frames);
        // Parsing from a 64-byte head either agrees or asks for more of the file (never anything else).
        expectOnlyDecodeErrors(() => expect(parseWavHeader(bytes.subarray(0, 64), bytes.length, 'fuzz.wav'), label).toEqual(info), label);
      }, label);
      outcomes[outcome]++;
    }
    // The mutants exercise both paths, in good number.
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(outcomes.refused).toBeGreaterThan(100);
  });
});

describe('WavFileReader fuzz', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spotml-wav-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('streams exactly what decodeWav decodes, through random seeks and chunk sizes, or refuses with DECODE', async () => {
    const picks = MUTANTS.filter((_, i) => i % 15 === 0);
    expect(picks.length).toBeGreaterThanOrEqual(40);
    let streamed = 0;
    for (const [n, { label, bytes }] of picks.entries()) {
      const path = join(dir, `mutant-${n}.wav`);
      writeFileSync(path, bytes);
      let expected: Float32Array | undefined;
      try {
        expected = decodeWavToMono(bytes, path).mono;
      } catch (err) {
        expect(err, label).toBeInstanceOf(SpotmlError);
      }
      try {
        const reader = await WavFileReader.open(path);
        try {
          const start = random.int(reader.info.frames + 2);
          reader.seekFrame(start);
          const got: number[] = [];
          for (let part = await reader.readMono(1 + random.int(200)); part; part = await reader.readMono(1 + random.int(200))) got.push(...part);
          expect(expected, `${label}: the reader decoded a file decodeWav refused`).toBeDefined();
          expect(Float32Array.from(got), label).toEqual(expected?.subarray(Math.min(start, expected.length)));
          streamed++;
        } finally {
          await reader.close();
        }
      } catch (err) {
        if (!(err instanceof SpotmlError)) throw new Error(`${label}: reader threw ${String(err)}`, { cause: err });
        expect(err.code, `${label}: ${err.message}`).toBe('DECODE');
        expect(err.message.startsWith(`${path}: `), label).toBe(true);
        expect(expected, `${label}: the reader refused a file decodeWav decoded`).toBeUndefined();
      }
    }
    expect(streamed).toBeGreaterThan(10);
  });
});
