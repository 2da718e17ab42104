import { describe, expect, it } from 'vitest';
import { RealFft } from '../../../src/audio/fft.js';
import { Framer } from '../../../src/audio/framing.js';

/** Seeded uniform numbers in [-1, 1) (mulberry32), so failures reproduce. */
function randomValues(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** e^{-2πi·m/n} with m reduced modulo n first, so the reference angle is exact whatever the size. */
function unitRoot(m: number, n: number): { cos: number; sin: number } {
  const angle = (2 * Math.PI * (m % n)) / n;
  return { cos: Math.cos(angle), sin: -Math.sin(angle) };
}

/** Bin k of the DFT of real x, summed directly: O(n) per bin. */
function naiveBin(x: Float64Array, k: number): { re: number; im: number } {
  const n = x.length;
  let re = 0;
  let im = 0;
  for (let t = 0; t < n; t++) {
    const w = unitRoot(k * t, n);
    re += x[t] * w.cos;
    im += x[t] * w.sin;
  }
  return { re, im };
}

/**
 * numpy.fft.irfft by its definition: the Hermitian extension of bins 0..n/2 summed directly, 1/n. As in
 * numpy, only the real parts of bins 0 and n/2 count.
 */
function naiveInverse(re: Float64Array, im: Float64Array, n: number): Float64Array {
  const half = n / 2;
  const out = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    let sum = re[0] + (t % 2 === 0 ? re[half] : -re[half]);
    for (let k = 1; k < half; k++) {
      const w = unitRoot(k * t, n); // e^{-iθ}; the inverse uses e^{+iθ}
      sum += 2 * (re[k] * w.cos + im[k] * w.sin);
    }
    out[t] = sum / n;
  }
  return out;
}

function maxAbs(values: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i]));
  return worst;
}

function spectrum(fft: RealFft, x: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const re = new Float64Array(fft.size / 2 + 1);
  const im = new Float64Array(fft.size / 2 + 1);
  fft.forward(x, re, im);
  return { re, im };
}

describe('RealFft', () => {
  // The sizes cover each path: 4 (radix-2 first stage only), 8 and 16 (one radix-4 / radix-8 first stage,
  // separate split), 32 and 64 (one radix-4 stage after it, fused with the split, at its smallest), 2048
  // (radix-4 start), 1024 and 4096 (radix-8 start).
  it.each([4, 8, 16, 32, 64, 1024, 2048, 4096])('forward matches a naive DFT for size %i (1e-10 of the largest bin)', (n) => {
    const x = randomValues(n, n);
    const { re, im } = spectrum(new RealFft(n), x);
    const refRe = new Float64Array(n / 2 + 1);
    const refIm = new Float64Array(n / 2 + 1);
    for (let k = 0; k <= n / 2; k++) ({ re: refRe[k], im: refIm[k] } = naiveBin(x, k));
    const scale = Math.max(maxAbs(refRe), maxAbs(refIm));
    let error = 0;
    for (let k = 0; k <= n / 2; k++) error = Math.max(error, Math.abs(re[k] - refRe[k]), Math.abs(im[k] - refIm[k]));
    expect(error).toBeLessThan(1e-10 * scale);
    expect(im[0]).toBe(0);
    expect(im[n / 2]).toBe(0);
  });

  it('forward matches a naive DFT at sampled bins for size 65536', () => {
    const n = 65536;
    const x = randomValues(n, 7);
    const { re, im } = spectrum(new RealFft(n), x);
    // Bins near the stage boundaries (multiples of n/8, n/16) and the ends, plus a spread of others.
    const bins = [0, 1, 2, 3, n / 16 - 1, n / 16, n / 8, n / 8 + 1, n / 4 - 1, n / 4, n / 4 + 1, 12345, n / 2 - 1, n / 2];
    for (const u of randomValues(20, 100)) bins.push(Math.floor(((u + 1) / 2) * (n / 2 + 1)));
    const scale = Math.sqrt(n); // |X| of white noise with unit-order samples
    for (const k of bins) {
      const ref = naiveBin(x, k);
      expect(Math.abs(re[k] - ref.re)).toBeLessThan(1e-10 * scale);
      expect(Math.abs(im[k] - ref.im)).toBeLessThan(1e-10 * scale);
    }
  });

  it.each([4, 8, 16, 32, 64, 1024, 2048, 4096, 65536])('inverse(forward(x)) gives x back for size %i (1e-12)', (n) => {
    const fft = new RealFft(n);
    const x = randomValues(n, 3 * n + 1);
    const { re, im } = spectrum(fft, x);
    const back = new Float64Array(n);
    fft.inverse(re, im, back);
    let error = 0;
    for (let i = 0; i < n; i++) error = Math.max(error, Math.abs(back[i] - x[i]));
    expect(error).toBeLessThan(1e-12);
  });

  it.each([4, 8, 16, 32, 64, 1024, 2048])('inverse matches a naive inverse DFT (numpy irfft) for size %i', (n) => {
    const bins = n / 2 + 1;
    // Arbitrary bins, not a spectrum of anything: imaginary parts at DC and Nyquist must be ignored.
    const re = randomValues(bins, 11 * n);
    const im = randomValues(bins, 13 * n);
    expect(im[0]).not.toBe(0);
    const out = new Float64Array(n);
    new RealFft(n).inverse(re, im, out);
    const ref = naiveInverse(re, im, n);
    let error = 0;
    for (let t = 0; t < n; t++) error = Math.max(error, Math.abs(out[t] - ref[t]));
    expect(error).toBeLessThan(1e-13);
  });

  it('inverse leaves its input untouched', () => {
    const fft = new RealFft(64);
    const re = randomValues(33, 1);
    const im = randomValues(33, 2);
    const reCopy = Float64Array.from(re);
    const imCopy = Float64Array.from(im);
    fft.inverse(re, im, new Float64Array(64));
    expect(re).toEqual(reCopy);
    expect(im).toEqual(imCopy);
  });

  it.each([4, 8, 64, 2048, 65536])("satisfies Parseval's identity for size %i", (n) => {
    const x = randomValues(n, 5 * n);
    const { re, im } = spectrum(new RealFft(n), x);
    let timeEnergy = 0;
    for (let i = 0; i < n; i++) timeEnergy += x[i] * x[i];
    // Bins 1..n/2−1 stand for themselves and their mirror images.
    let frequencyEnergy = re[0] * re[0] + re[n / 2] * re[n / 2];
    for (let k = 1; k < n / 2; k++) frequencyEnergy += 2 * (re[k] * re[k] + im[k] * im[k]);
    frequencyEnergy /= n;
    expect(Math.abs(frequencyEnergy - timeEnergy)).toBeLessThan(1e-12 * timeEnergy);
  });

  it.each([
    [4, 1],
    [8, 3],
    [16, 7],
    [32, 8],
    [64, 5],
    [1024, 17],
    [2048, 1],
    [2048, 256],
    [2048, 1000],
    [4096, 1023],
    [65536, 4099],
  ])('a cosine at bin k gives n/2 at bin k and nothing elsewhere (n %i, k %i)', (n, k0) => {
    const x = new Float64Array(n);
    for (let t = 0; t < n; t++) x[t] = unitRoot(k0 * t, n).cos;
    const { re, im } = spectrum(new RealFft(n), x);
    expect(re[k0]).toBeCloseTo(n / 2, 9);
    re[k0] -= n / 2;
    expect(maxAbs(re)).toBeLessThan(1e-10 * n);
    expect(maxAbs(im)).toBeLessThan(1e-10 * n);
  });

  it('a constant gives n at DC and an alternating sequence n at Nyquist', () => {
    const n = 256;
    const constant = new Float64Array(n).fill(1);
    const alternating = Float64Array.from({ length: n }, (_, t) => (t % 2 === 0 ? 1 : -1));
    const fft = new RealFft(n);
    const dc = spectrum(fft, constant);
    expect(dc.re[0]).toBeCloseTo(n, 9);
    expect(maxAbs(dc.re.subarray(1))).toBeLessThan(1e-10 * n);
    const nyquist = spectrum(fft, alternating);
    expect(nyquist.re[n / 2]).toBeCloseTo(n, 9);
    expect(maxAbs(nyquist.re.subarray(0, n / 2))).toBeLessThan(1e-10 * n);
  });

  it('gives the same spectrum for a Float64Array, a Float32Array and a plain array of the same values', () => {
    const n = 512;
    const x32 = Float32Array.from(randomValues(n, 9));
    const fft = new RealFft(n);
    const from64 = spectrum(fft, Float64Array.from(x32));
    const from32 = spectrum(fft, x32);
    const fromArray = spectrum(fft, Array.from(x32));
    expect(from32).toEqual(from64);
    expect(fromArray).toEqual(from64);
  });

  it('is reusable: a second transform does not depend on the first', () => {
    const fft = new RealFft(128);
    const a = randomValues(128, 21);
    const b = randomValues(128, 22);
    const first = spectrum(fft, b);
    spectrum(fft, a);
    expect(spectrum(fft, b)).toEqual(first);
  });

  it('refuses sizes that are not powers of two >= 4', () => {
    expect(() => new RealFft(1000)).toThrow(/power of two/);
    expect(() => new RealFft(2)).toThrow(/power of two/);
    expect(() => new RealFft(0)).toThrow(/power of two/);
  });

  it('refuses arrays that are too short', () => {
    const fft = new RealFft(16);
    expect(() => fft.forward(new Float64Array(15), new Float64Array(9), new Float64Array(9))).toThrow(/needs 16 samples and 9 bins/);
    expect(() => fft.forward(new Float64Array(16), new Float64Array(8), new Float64Array(9))).toThrow(RangeError);
    expect(() => fft.inverse(new Float64Array(9), new Float64Array(9), new Float64Array(8))).toThrow(RangeError);
    expect(() => fft.inverse(new Float64Array(9), new Float64Array(8), new Float64Array(16))).toThrow(RangeError);
  });
});

describe('Framer', () => {
  function frames(signal: Float64Array, chunk: number, padMode: 'constant' | 'edge'): number[][] {
    const out: number[][] = [];
    const framer = new Framer({ frameLength: 8, hopLength: 3, padMode }, (f) => out.push(Array.from(f)));
    for (let i = 0; i < signal.length; i += chunk) framer.push(signal.subarray(i, i + chunk));
    framer.end();
    return out;
  }

  it('gives librosa centring (1 + n // hop frames) whatever the chunking', () => {
    const signal = Float64Array.from({ length: 23 }, (_, i) => i + 1);
    const whole = frames(signal, 1000, 'constant');
    expect(whole.length).toBe(1 + Math.floor(23 / 3));
    // Frame 0 is 4 zeros then the first 4 samples.
    expect(whole[0]).toEqual([0, 0, 0, 0, 1, 2, 3, 4]);
    for (const chunk of [1, 2, 5, 7]) expect(frames(signal, chunk, 'constant')).toEqual(whole);
    const edge = frames(signal, 4, 'edge');
    expect(edge[0]).toEqual([1, 1, 1, 1, 1, 2, 3, 4]);
    // Last frame t=7 starts at padded index 21, i.e. sample 18 (1-based), and runs past the end into edge padding.
    expect(edge[edge.length - 1]).toEqual([18, 19, 20, 21, 22, 23, 23, 23]);
  });
});
