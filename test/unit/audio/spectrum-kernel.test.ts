/**
 * The WebAssembly front end (wasm/spectrum.ts via SpectrumKernel) and the MFCC end (wasm/spectrum-mfcc.ts via
 * mfcc.ts) against independent JS references: RealFft.forwardPower + MelFilterbank.applyPerBand, a naive DFT,
 * and JS loops in the kernels' own order. The FFT's butterflies and the mel sums (two lanes) are ordered
 * differently from the JS code, so those agree to 1e-14 of the frame's largest value (float64 rounding is
 * ~1e-16 per operation); the DCT keeps the JS order per value and is compared bit for bit; dB may differ by
 * log10's last ulp (musl vs V8's fdlibm) before float32 rounding, so it is compared to one float32 ulp.
 */
import { describe, expect, it } from 'vitest';
import { RealFft } from '../../../src/audio/fft.js';
import { sharedHannPeriodic } from '../../../src/audio/framing.js';
import { MelFilterbank } from '../../../src/audio/mel.js';
import { applyBasis, dctFrames, dctOrthoBasis, positiveFluxSums, powerToDbInPlace } from '../../../src/audio/mfcc.js';
import { BLOCK_FRAMES, KERNEL_MIN_FFT, SpectrumKernel } from '../../../src/audio/spectrum-kernel.js';
import { SpectrumStream, type StftOptions } from '../../../src/audio/spectrum.js';

function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

describe('SpectrumKernel (window → FFT → power → mel in WebAssembly)', () => {
  it.each([16, 32, 64, 128, 256, 512, 1024, 2048, 4096])('n_fft %d: power and mel equal the JS kernels to 1e-14 of the frame maximum', (nFft) => {
    const hop = Math.max(1, nFft / 4 + 3);
    const mel = new MelFilterbank({ sampleRate: 22050, nFft, nMels: Math.min(128, nFft / 4), fmin: 0, fmax: null });
    const kernel = new SpectrumKernel(nFft, hop, mel);
    const next = uniform(nFft);
    // Noise plus a tone plus a slow ramp: bins spanning many orders of magnitude.
    for (let i = 0; i < kernel.inputCapacity; i++) kernel.input[i] = next() - 0.5 + Math.sin(i * 0.37) + i * 1e-4;
    const frames = BLOCK_FRAMES - 5;
    kernel.compute(7, frames);
    const fft = new RealFft(nFft);
    const window = sharedHannPeriodic(nFft);
    const power = new Float64Array(nFft / 2 + 1);
    const bands = new Float64Array(mel.nMels);
    for (let f = 0; f < frames; f++) {
      fft.forwardPower(kernel.input, 7 + f * hop, window, power);
      const gotPower = kernel.powerFrames[f];
      const powerScale = maxAbs(power);
      for (let k = 0; k < power.length; k++) expect(Math.abs(gotPower[k] - power[k])).toBeLessThanOrEqual(1e-14 * powerScale);
      mel.applyPerBand(power, bands);
      const gotMel = kernel.melFrames[f];
      const melScale = maxAbs(bands);
      for (let b = 0; b < bands.length; b++) expect(Math.abs(gotMel[b] - bands[b])).toBeLessThanOrEqual(1e-14 * melScale);
    }
  });

  it('matches a naive windowed DFT (1e-12 of the largest bin)', () => {
    const nFft = 64;
    const kernel = new SpectrumKernel(nFft, 16, null);
    const next = uniform(5);
    for (let i = 0; i < kernel.inputCapacity; i++) kernel.input[i] = 2 * next() - 1;
    kernel.compute(0, 3);
    const window = sharedHannPeriodic(nFft);
    for (let f = 0; f < 3; f++) {
      const want = new Float64Array(nFft / 2 + 1);
      for (let k = 0; k <= nFft / 2; k++) {
        let re = 0;
        let im = 0;
        for (let n = 0; n < nFft; n++) {
          const x = kernel.input[f * 16 + n] * window[n];
          re += x * Math.cos((2 * Math.PI * k * n) / nFft);
          im -= x * Math.sin((2 * Math.PI * k * n) / nFft);
        }
        want[k] = re * re + im * im;
      }
      const scale = maxAbs(want);
      const got = kernel.powerFrames[f];
      for (let k = 0; k < want.length; k++) expect(Math.abs(got[k] - want[k])).toBeLessThanOrEqual(1e-12 * scale);
    }
  });

  it('refuses sizes below its minimum and blocks that do not fit its input area', () => {
    expect(() => new SpectrumKernel(KERNEL_MIN_FFT / 2, 4, null)).toThrow(RangeError);
    expect(() => new SpectrumKernel(1000, 250, null)).toThrow(RangeError);
    const kernel = new SpectrumKernel(64, 16, null);
    expect(() => kernel.compute(0, BLOCK_FRAMES + 1)).toThrow(RangeError);
    expect(() => kernel.compute(1, BLOCK_FRAMES)).toThrow(RangeError);
  });
});

describe('SpectrumStream on the kernel', () => {
  function collect(signal: Float64Array, options: StftOptions, chunk: number): { power: Float64Array[]; mel: Float64Array[]; count: number } {
    const power: Float64Array[] = [];
    const mel: Float64Array[] = [];
    let expectedIndex = 0;
    const stream = new SpectrumStream(options, (frame) => {
      expect(frame.index).toBe(expectedIndex++);
      power.push(Float64Array.from(frame.power));
      if (frame.mel) mel.push(Float64Array.from(frame.mel));
    });
    for (let start = 0; start < signal.length; start += chunk) stream.push(signal.subarray(start, start + chunk));
    const count = stream.end();
    return { power, mel, count };
  }

  it('gives every frame, in order, whatever the chunking and hop (hop > n_fft too), as RealFft.forwardPower on the padded signal', () => {
    const next = uniform(9);
    const signal = Float64Array.from({ length: 5000 }, () => next() - 0.5);
    for (const [nFft, hop] of [
      [256, 64],
      [128, 200],
      [512, 512],
    ]) {
      const mel = new MelFilterbank({ sampleRate: 22050, nFft, nMels: 20, fmin: 0, fmax: null });
      const padded = new Float64Array(signal.length + nFft);
      padded.set(signal, nFft / 2);
      const fft = new RealFft(nFft);
      const want = new Float64Array(nFft / 2 + 1);
      const wantMel = new Float64Array(20);
      for (const chunk of [1000, 777, 5000]) {
        const { power, mel: bands, count } = collect(signal, { nFft, hopLength: hop, magnitude: false, mel }, chunk);
        expect(count).toBe(1 + Math.floor(signal.length / hop));
        expect(power.length).toBe(count);
        expect(bands.length).toBe(count);
        for (let t = 0; t < count; t++) {
          fft.forwardPower(padded, t * hop, sharedHannPeriodic(nFft), want);
          const scale = maxAbs(want);
          for (let k = 0; k < want.length; k++) expect(Math.abs(power[t][k] - want[k])).toBeLessThanOrEqual(1e-14 * scale);
          mel.applyPerBand(want, wantMel);
          const melScale = maxAbs(wantMel);
          for (let b = 0; b < 20; b++) expect(Math.abs(bands[t][b] - wantMel[b])).toBeLessThanOrEqual(1e-14 * melScale);
        }
      }
    }
  });
  it('short and empty signals, one-sample chunks, float32 input: librosa\'s frame count and the padded frames', () => {
    const next = uniform(12);
    const nFft = 256;
    const fft = new RealFft(nFft);
    const want = new Float64Array(nFft / 2 + 1);
    for (const [length, hop, chunk] of [
      [1, 64, 1],
      [100, 64, 7],
      [255, 64, 1],
      [1000, 300, 1],
      [3000, 256, 1],
      [20000, 64, 4096],
    ]) {
      const signal = Float32Array.from({ length }, () => next() - 0.5);
      const padded = new Float64Array(length + nFft);
      padded.set(signal, nFft / 2);
      const power: Float64Array[] = [];
      const stream = new SpectrumStream({ nFft, hopLength: hop, magnitude: false }, (frame) => {
        expect(frame.index).toBe(power.length);
        power.push(Float64Array.from(frame.power));
      });
      for (let start = 0; start < length; start += chunk) stream.push(signal.subarray(start, start + chunk));
      const count = stream.end();
      expect(count).toBe(1 + Math.floor(length / hop));
      expect(power.length).toBe(count);
      for (let t = 0; t < count; t++) {
        fft.forwardPower(padded, t * hop, sharedHannPeriodic(nFft), want);
        const scale = maxAbs(want);
        for (let k = 0; k < want.length; k++) expect(Math.abs(power[t][k] - want[k])).toBeLessThanOrEqual(1e-14 * scale);
      }
    }
    const empty = new SpectrumStream({ nFft, hopLength: 64, magnitude: false }, () => {
      throw new Error('no frame expected');
    });
    expect(empty.end()).toBe(0);
  });
});

describe('the MFCC end on float32 matrices (wasm/spectrum-mfcc.ts)', () => {
  it('power_to_db with top_db equals the float64 JS path to one float32 ulp', () => {
    const next = uniform(21);
    for (const length of [1, 7, 4096, 12345]) {
      const power = Float64Array.from({ length }, () => 10 ** (-14 * next() + 2) * (next() < 0.05 ? 0 : 1));
      for (const [amin, topDb] of [
        [1e-10, 80],
        [1e-10, 0],
        [1e-20, 200],
      ]) {
        const got = Float32Array.from(power);
        powerToDbInPlace(got, { amin, topDb });
        const want = Float64Array.from(Float32Array.from(power));
        powerToDbInPlace(want, { amin, topDb });
        for (let i = 0; i < length; i++) {
          const rounded = Math.fround(want[i]);
          // One float32 ulp at this magnitude.
          const ulp = Math.abs(rounded) > 0 ? 2 ** (Math.floor(Math.log2(Math.abs(rounded))) - 23) : 2 ** -149;
          expect(Math.abs(got[i] - rounded)).toBeLessThanOrEqual(ulp);
        }
      }
    }
  });

  it('the vectorised log10 (finite data, normal amin) over 18 decades and around each power of two: one float32 ulp', () => {
    const next = uniform(77);
    const values: number[] = [];
    for (let i = 0; i < 200000; i++) values.push(10 ** (18 * next() - 12));
    // Mantissas at the √2 switch and at 1 (e changes), where the reduction is most delicate.
    for (let e = -40; e <= 20; e++) for (const m of [1, Math.SQRT2, 1 - 2 ** -24, 1 + 2 ** -23, Math.SQRT2 * (1 + 2 ** -23)]) values.push(m * 2 ** e);
    const data = Float32Array.from(values);
    const want = Float64Array.from(data);
    powerToDbInPlace(data, { amin: 1e-13, topDb: 300 });
    powerToDbInPlace(want, { amin: 1e-13, topDb: 300 });
    let exact = 0;
    const beyondUlp: number[] = [];
    for (let i = 0; i < data.length; i++) {
      const rounded = Math.fround(want[i]);
      const ulp = Math.abs(rounded) > 0 ? 2 ** (Math.floor(Math.log2(Math.abs(rounded))) - 23) : 2 ** -149;
      if (!(Math.abs(data[i] - rounded) <= ulp)) beyondUlp.push(values[i]);
      if (data[i] === rounded) exact++;
    }
    expect(beyondUlp).toEqual([]);
    // Off by an ulp only at float32 rounding ties: all but a handful are equal.
    expect(exact).toBeGreaterThanOrEqual(data.length - 10);
  });

  it('an infinite value or a subnormal amin takes the scalar path and still equals the JS path', () => {
    for (const [values, amin] of [
      [[1, Number.POSITIVE_INFINITY, 0.5, 2, 3, 1e-3, 0, 7], 1e-10],
      [[1, 0.5, 2, 3, 1e-3, 0, 7, 1e-300], 1e-310],
    ] as const) {
      const data = Float32Array.from(values);
      const want = Float64Array.from(data);
      powerToDbInPlace(data, { amin, topDb: 80 });
      powerToDbInPlace(want, { amin, topDb: 80 });
      expect(Array.from(data)).toEqual(Array.from(Float32Array.from(want)));
    }
  });

  it('a NaN anywhere gives the JS result (NaN propagates)', () => {
    const data = Float32Array.from([1, Number.NaN, 0.5, 2, 3]);
    const want = Float64Array.from(data);
    powerToDbInPlace(data, { amin: 1e-10, topDb: 80 });
    powerToDbInPlace(want, { amin: 1e-10, topDb: 80 });
    expect(Array.from(data)).toEqual(Array.from(Float32Array.from(want)));
  });

  it('long clips pass through the kernel in blocks with the same results (dB, DCT and onset flux past 2^20 values)', () => {
    const next = uniform(99);
    const nMels = 40;
    const frames = 60001; // 2.4M values: three dB blocks, three DCT column blocks of 26,214 frames
    const power = Float32Array.from({ length: nMels * frames }, () => 10 ** (-12 * next() + 1));
    const db = Float32Array.from(power);
    powerToDbInPlace(db, { amin: 1e-10, topDb: 80 });
    const want = Float64Array.from(power);
    powerToDbInPlace(want, { amin: 1e-10, topDb: 80 });
    let offByUlp = 0;
    for (let i = 0; i < db.length; i++) {
      const rounded = Math.fround(want[i]);
      if (db[i] === rounded) continue;
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(rounded))) - 23);
      expect(Math.abs(db[i] - rounded)).toBeLessThanOrEqual(ulp);
      offByUlp++;
    }
    expect(offByUlp).toBeLessThanOrEqual(db.length / 20000);

    // The float64 input takes the JS tiles, which equal the per-frame dot product (test below).
    const basis = dctOrthoBasis(nMels, 13);
    const got = dctFrames(db, nMels, frames, basis, 13);
    const reference = dctFrames(Float64Array.from(db), nMels, frames, basis, 13);
    expect(Buffer.from(got.buffer).equals(Buffer.from(reference.buffer))).toBe(true);

    const lag = 1;
    const flux = positiveFluxSums(db, nMels, frames, lag);
    expect(flux.length).toBe(frames - lag);
    for (let t = lag; t < frames; t += 997) {
      let sum = 0;
      for (let m = 0; m < nMels; m++) {
        const d = db[m * frames + t] - db[m * frames + t - lag];
        sum += d > 0 ? d : 0;
      }
      expect(flux[t - lag]).toBe(sum);
    }
    expect(flux[frames - lag - 1]).toBe(
      Array.from({ length: nMels }, (_, m) => db[m * frames + frames - 1] - db[m * frames + frames - 2]).reduce((a, d) => a + (d > 0 ? d : 0), 0),
    );
  });

  it('the DCT product equals a per-frame JS dot product bit for bit (frame counts not a multiple of four)', () => {
    const next = uniform(33);
    for (const [nMels, frames, nMfcc] of [
      [128, 1031, 20],
      [40, 3, 13],
      [64, 9, 1],
      [32, 10, 7],
    ]) {
      const data = Float32Array.from({ length: nMels * frames }, () => -80 * next());
      const basis = dctOrthoBasis(nMels, nMfcc);
      const got = dctFrames(data, nMels, frames, basis, nMfcc);
      const column = new Float64Array(nMels);
      const coefficients = new Float64Array(nMfcc);
      for (let t = 0; t < frames; t++) {
        for (let m = 0; m < nMels; m++) column[m] = data[m * frames + t];
        applyBasis(basis, column, coefficients);
        for (let k = 0; k < nMfcc; k++) expect(got[k * frames + t]).toBe(Math.fround(coefficients[k]));
      }
    }
  });
});
