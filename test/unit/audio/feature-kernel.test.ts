/**
 * The WebAssembly per-frame feature kernel (SpectralFrameBatch, chroma's kernel path) and the tempogram's
 * in-place FFT against the JS code they replaced, on real audio (the bundled recordings): bit for bit where
 * the arithmetic is the same, within a stated tolerance where the kernel sums two lanes at a time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChromaComputer } from '../../../src/audio/chroma.js';
import type { RealFft } from '../../../src/audio/fft.js';
import { onsetStrength } from '../../../src/audio/onset.js';
import { resample } from '../../../src/audio/resample.js';
import { ContrastBands, SPECTRAL_BLOCK_STRIDE, SpectralFrameBatch, spectralShapeAndFlatness, type SpectralBlock } from '../../../src/audio/spectral.js';
import { fftFrequencies, sharedRealFft, SpectrumStream } from '../../../src/audio/spectrum.js';
import { meanTempogram, tempogramWindowLength } from '../../../src/audio/tempo.js';
import { decodeWavToMono } from '../../../src/audio/wav.js';
import { sharedMelFilterbank } from '../../../src/audio/mel.js';
import { powerToDbInPlace } from '../../../src/audio/mfcc.js';

const SR = 22050;
const N_FFT = 2048;
const HOP = 512;
const N_BINS = N_FFT / 2 + 1;
const AMIN = 1e-10;

/** The first recordings of each class of the bundled set, one after the other (some 20 s). */
function realAudio(): Float64Array {
  const root = new URL('../../../fixtures/audio/', import.meta.url).pathname;
  const parts: Float64Array[] = [];
  for (const cls of readdirSync(root).sort()) {
    for (const file of readdirSync(join(root, cls)).filter((f) => f.endsWith('.wav')).sort().slice(0, 4)) {
      const { info, mono } = decodeWavToMono(readFileSync(join(root, cls, file)), file);
      parts.push(info.sampleRate === SR ? Float64Array.from(mono) : resample(mono, info.sampleRate, SR));
    }
  }
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function powerFrames(signal: Float64Array): Float64Array[] {
  const frames: Float64Array[] = [];
  const stream = new SpectrumStream({ nFft: N_FFT, hopLength: HOP, magnitude: false }, (frame) => frames.push(Float64Array.from(frame.power)));
  stream.push(signal);
  stream.end();
  return frames;
}

function relativeError(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

const signal = realAudio();
const frames = powerFrames(signal);

describe('SpectralFrameBatch (WebAssembly) against the JS kernels', () => {
  const freqs = fftFrequencies(SR, N_FFT);
  const contrast = new ContrastBands({ sampleRate: SR, nFft: N_FFT, nBands: 6, fmin: 200, quantile: 0.02 });

  function runBatch(powers: Float64Array[], chroma: ChromaComputer | null, bands: ContrastBands = contrast): { shape: number[][]; peak: number[][]; valley: number[][]; rounded: Float32Array[]; chroma: number[][] } {
    const got = { shape: [] as number[][], peak: [] as number[][], valley: [] as number[][], rounded: [] as Float32Array[], chroma: [] as number[][] };
    const onBlock = (block: SpectralBlock): void => {
      for (let f = 0; f < block.frames; f++) {
        got.shape.push(Array.from(block.shape.subarray(f * SPECTRAL_BLOCK_STRIDE, f * SPECTRAL_BLOCK_STRIDE + 5)));
        got.peak.push(Array.from(block.peak.subarray(f * bands.nRows, (f + 1) * bands.nRows)));
        got.valley.push(Array.from(block.valley.subarray(f * bands.nRows, (f + 1) * bands.nRows)));
        if (block.rounded) got.rounded.push(block.rounded.slice(f * N_BINS, (f + 1) * N_BINS));
        if (block.chroma) got.chroma.push(Array.from(block.chroma.subarray(f * 12, (f + 1) * 12)));
      }
    };
    const batch = new SpectralFrameBatch(
      { nBins: N_BINS, freqs, rollPercent: 0.85, amin: AMIN, shape: true, contrast: bands, keepRounded: true, chroma: chroma?.table ?? null },
      onBlock,
    );
    for (const p of powers) batch.push(p);
    batch.flush();
    return got;
  }

  it('gives the same contrast, rolloff, maximum and rounded power, and centroid/bandwidth/flatness within 1e-12', () => {
    expect(frames.length).toBeGreaterThan(500);
    const got = runBatch(frames, null);
    expect(got.shape.length).toBe(frames.length);
    const want = new Float64Array(5);
    const peak = new Float64Array(7);
    const valley = new Float64Array(7);
    let worst = 0;
    frames.forEach((power, f) => {
      const magnitude = power.map(Math.sqrt);
      spectralShapeAndFlatness(magnitude, power, freqs, 0.85, AMIN, want);
      contrast.frame(magnitude, peak, valley);
      const [centroid, bandwidth, rolloff, flatness, maxPower] = got.shape[f];
      expect(rolloff).toBe(want[2]);
      expect(maxPower).toBe(want[4]);
      for (const [a, b] of [
        [centroid, want[0]],
        [bandwidth, want[1]],
        [flatness, want[3]],
      ]) {
        worst = Math.max(worst, relativeError(a, b));
      }
      expect(got.peak[f]).toEqual(Array.from(peak));
      expect(got.valley[f]).toEqual(Array.from(valley));
      expect(got.rounded[f]).toEqual(Float32Array.from(power));
    });
    expect(worst).toBeLessThan(1e-12);
  });

  it('selects the same contrast extremes as the JS reference on adversarial frames: ties, zeros, NaN and infinite bins, rising spectra, noise, larger quantiles', () => {
    // The kernel narrows each band to the bins past a cut before selecting; these frames probe the cut
    // (many equal values, a NaN or an infinity anywhere in a band, spectra rising instead of falling).
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const cases: Float64Array[] = [new Float64Array(N_BINS), new Float64Array(N_BINS).fill(0.25)];
    cases.push(Float64Array.from({ length: N_BINS }, (_, k) => k * k));
    cases.push(Float64Array.from({ length: N_BINS }, () => random()));
    cases.push(Float64Array.from({ length: N_BINS }, () => Math.floor(random() * 4)));
    for (const at of [0, 18, 40, 600, 601, 605, 1024]) {
      const withNan = Float64Array.from(frames[300]);
      withNan[at] = Number.NaN;
      cases.push(withNan);
      const withInfinity = Float64Array.from(frames[301]);
      withInfinity[at] = Number.POSITIVE_INFINITY;
      cases.push(withInfinity);
    }
    cases.push(...frames.slice(400, 460));
    for (const bands of [contrast, new ContrastBands({ sampleRate: SR, nFft: N_FFT, nBands: 6, fmin: 200, quantile: 0.2 }), new ContrastBands({ sampleRate: SR, nFft: N_FFT, nBands: 3, fmin: 1000, quantile: 0.05 })]) {
      const got = runBatch(cases, null, bands);
      const peak = new Float64Array(bands.nRows);
      const valley = new Float64Array(bands.nRows);
      cases.forEach((power, f) => {
        bands.frame(power.map(Math.sqrt), peak, valley);
        expect(got.peak[f]).toEqual(Array.from(peak));
        expect(got.valley[f]).toEqual(Array.from(valley));
      });
    }
  });

  it('recomputes frames whose powers leave the renormalised product range exactly as the JS kernel; NaN bins count as amin in both', () => {
    const huge = Float64Array.from(frames[200], (v) => v * 1e45);
    const nan = Float64Array.from(frames[201]);
    nan[300] = Number.NaN;
    const got = runBatch([frames[199], huge, nan], null);
    const want = new Float64Array(5);
    spectralShapeAndFlatness(huge.map(Math.sqrt), huge, freqs, 0.85, AMIN, want);
    expect(got.shape[1]).toEqual(Array.from(want));
    spectralShapeAndFlatness(nan.map(Math.sqrt), nan, freqs, 0.85, AMIN, want);
    const [centroid, bandwidth, rolloff, flatness, maxPower] = got.shape[2];
    expect([centroid, bandwidth, rolloff, maxPower]).toEqual([want[0], want[1], want[2], want[4]]);
    expect(Number.isNaN(centroid)).toBe(true);
    expect(relativeError(flatness, want[3])).toBeLessThan(1e-12);
  });

  it('computes chroma from the rounded power as the JS product does, bit for bit', () => {
    const computer = new ChromaComputer(SR, N_FFT, 12, 0.13);
    const got = runBatch(frames.slice(0, 301), computer);
    const out = new Float64Array(12);
    frames.slice(0, 301).forEach((power, f) => {
      // Float64Array input takes the JS path; the values are the float32-rounded powers the kernel reads.
      computer.frame(Float64Array.from(Float32Array.from(power)), out);
      expect(got.chroma[f]).toEqual(Array.from(out));
    });
  });

  it('ChromaComputer.frames on float32 blocks (the kernel) equals the JS path, odd frame counts and odd row counts included', () => {
    for (const nChroma of [12, 7]) {
      const computer = new ChromaComputer(SR, N_FFT, nChroma, -0.2);
      const count = 261;
      const block = new Float32Array(count * N_BINS);
      for (let f = 0; f < count; f++) block.set(frames[f + 40], f * N_BINS);
      const viaKernel = new Float64Array(count * nChroma);
      computer.frames(block, 0, count, viaKernel);
      const viaJs = new Float64Array(count * nChroma);
      computer.frames(Float64Array.from(block), 0, count, viaJs);
      expect(Array.from(viaKernel)).toEqual(Array.from(viaJs));
    }
  });
});

/** The tempogram as it was: a windowed, zero-padded copy per frame, forward FFT, then |X|² (the reference). */
function meanTempogramByCopy(onsetEnvelope: Float64Array, winLength: number): Float64Array {
  const n = onsetEnvelope.length;
  const half = Math.floor(winLength / 2);
  const padded = new Float64Array(n + 2 * half);
  const first = onsetEnvelope[0];
  const last = onsetEnvelope[n - 1];
  for (let i = 0; i < half; i++) {
    padded[i] = (first / half) * i;
    padded[n + 2 * half - 1 - i] = (last / half) * i;
  }
  padded.set(onsetEnvelope, half);
  const window = new Float64Array(winLength);
  for (let i = 0; i < winLength; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / winLength);
  let fftSize = 4;
  while (fftSize < 2 * winLength - 1) fftSize *= 2;
  const fft: RealFft = sharedRealFft(fftSize);
  const halfSize = fftSize / 2;
  const frame = new Float64Array(fftSize);
  const re = new Float64Array(halfSize + 1);
  const im = new Float64Array(halfSize + 1);
  const powerSum = new Float64Array(halfSize + 1);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < winLength; i++) frame[i] = padded[t + i] * window[i];
    fft.forward(frame, re, im);
    let inner = 0;
    for (let k = 1; k < halfSize; k++) {
      const p = re[k] * re[k] + im[k] * im[k];
      re[k] = p;
      inner += p;
    }
    re[0] = re[0] * re[0] + im[0] * im[0];
    re[halfSize] = re[halfSize] * re[halfSize] + im[halfSize] * im[halfSize];
    const peak = (re[0] + 2 * inner + re[halfSize]) / fftSize;
    const scale = peak < 1.1754943508222875e-38 ? 1 : 1 / peak;
    for (let k = 0; k <= halfSize; k++) powerSum[k] += re[k] * scale;
  }
  const even = new Float64Array(fftSize);
  for (let k = 0; k <= halfSize; k++) even[k] = powerSum[k];
  for (let k = 1; k < halfSize; k++) even[fftSize - k] = powerSum[k];
  fft.forward(even, re, im);
  const mean = new Float64Array(winLength);
  for (let lag = 0; lag < winLength; lag++) mean[lag] = re[lag] / fftSize / n;
  return mean;
}

describe('meanTempogram (frames on the WebAssembly front end at hop 1)', () => {
  // The kernel's FFT groups its butterflies differently from RealFft.forward (radix-2 first stage for
  // n_fft 1024, sums two lanes at a time), so the sums differ in the last bits: the tempogram is normalised
  // (lag 0 is 1), and every lag is held to 1e-13 absolute (observed: at most 2.2e-16).
  it('matches the windowed-copy computation with RealFft on a real onset envelope, even and odd windows', () => {
    const mel = sharedMelFilterbank({ sampleRate: SR, nFft: N_FFT, nMels: 128, fmin: 0, fmax: null });
    const n = frames.length;
    const melDb = new Float64Array(128 * n);
    const scratch = new Float64Array(128);
    frames.forEach((power, t) => {
      mel.apply(power, scratch);
      for (let m = 0; m < 128; m++) melDb[m * n + t] = scratch[m];
    });
    powerToDbInPlace(melDb, { amin: AMIN, topDb: 80 });
    const envelope = onsetStrength(melDb, 128, n, { nFft: N_FFT, hopLength: HOP });
    expect(envelope.some((v) => v > 0)).toBe(true);
    for (const winLength of [tempogramWindowLength(SR, HOP), 101]) {
      const viaKernel = meanTempogram(envelope, winLength);
      const reference = meanTempogramByCopy(envelope, winLength);
      expect(viaKernel.length).toBe(winLength);
      expect(reference[0]).toBeCloseTo(1, 9);
      let worst = 0;
      for (let lag = 0; lag < winLength; lag++) worst = Math.max(worst, Math.abs(viaKernel[lag] - reference[lag]));
      expect(worst).toBeLessThanOrEqual(1e-13);
    }
    // Below the kernel's smallest n_fft (a 3-frame window: n_fft 8) RealFft.forwardPower runs, bit for bit.
    expect(Array.from(meanTempogram(envelope, 3))).toEqual(Array.from(meanTempogramByCopy(envelope, 3)));
  });
});
