/**
 * The 16-bit mono decode on the WebAssembly kernel (wasm/wav-decode.ts, used by mixToMono from
 * KERNEL_MIN_SAMPLES samples on) against the closed form: every int16 code c decodes to c / 32768, which
 * float32 holds exactly, so the comparison is bit for bit. Also at odd byte offsets and lengths that are
 * not a multiple of the kernel's eight lanes, and through the streaming reader's chunking.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFramesToMono, decodeWavToMono, parseWavHeader, WavFileReader } from '../../../src/audio/wav.js';
import { writeWav } from '../../helpers/wav-writer.js';

/** Every int16 code once (in a scrambled order), then a tail so the length is not a multiple of 8. */
function allCodes(extra: number): Int16Array {
  const codes = new Int16Array(65536 + extra);
  for (let i = 0; i < codes.length; i++) codes[i] = ((i * 40503) & 0xffff) - 32768;
  return codes;
}

const dir = mkdtempSync(join(tmpdir(), 'spotml-wav-kernel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('16-bit mono decode in the wav-decode kernel', () => {
  it('gives code / 32768 exactly for every int16 code', () => {
    const codes = allCodes(5);
    const { mono } = decodeWavToMono(writeWav({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 16, samples: codes }), 'all.wav');
    expect(mono.length).toBe(codes.length);
    for (let i = 0; i < codes.length; i++) {
      if (mono[i] !== codes[i] / 32768) expect(`${i}: ${mono[i]}`).toBe(`${i}: ${codes[i] / 32768}`);
    }
  });

  it('decodes a file longer than one kernel block (2^18 samples) block by block, exactly', () => {
    const codes = new Int16Array((1 << 18) * 2 + 777);
    for (let i = 0; i < codes.length; i++) codes[i] = ((i * 40503 + 17) & 0xffff) - 32768;
    const { mono } = decodeWavToMono(writeWav({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 16, samples: codes }), 'long.wav');
    expect(mono.length).toBe(codes.length);
    let mismatches = 0;
    for (let i = 0; i < codes.length; i++) if (mono[i] !== codes[i] / 32768) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('reads the bytes where they are (odd offsets) and stops at the output length', () => {
    const codes = allCodes(3).subarray(0, 3001);
    const bytes = writeWav({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 16, samples: codes });
    const info = parseWavHeader(bytes, bytes.length, 'odd.wav');
    const shifted = new Uint8Array(info.dataBytes + 1);
    shifted.set(bytes.subarray(info.dataOffset, info.dataOffset + info.dataBytes), 1);
    const out = new Float32Array(2999);
    expect(decodeFramesToMono(shifted.subarray(1), info, out)).toBe(2999);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBe(codes[i] / 32768);
  });

  it('the streaming reader gives the same samples whatever the chunk size', async () => {
    const codes = allCodes(11);
    const path = join(dir, 'stream.wav');
    writeFileSync(path, writeWav({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 16, samples: codes }));
    for (const chunk of [1000, 4099, 65536]) {
      const reader = await WavFileReader.open(path);
      const got: number[] = [];
      for (let part = await reader.readMono(chunk); part; part = await reader.readMono(chunk)) got.push(...part);
      await reader.close();
      expect(got.length).toBe(codes.length);
      for (let i = 0; i < codes.length; i++) if (got[i] !== codes[i] / 32768) expect(`${chunk} ${i}: ${got[i]}`).toBe(`${codes[i] / 32768}`);
    }
  });
});
