/**
 * Known answers for the feature kernels and the analyzer: closed forms (tones, noise, square waves,
 * constants, ramps), naive second implementations (filterbank, contrast bands, Savitzky-Golay deltas,
 * aggregates), and streaming invariance (any chunking gives bit-identical results).
 */
import { describe, expect, it } from 'vitest';
import {
  aggregateRows,
  aggregateRowsMany,
  AGGREGATES,
  analyzeSignal,
  ClipAnalyzer,
  defaultFeatureOptions,
  validateFeatureOptions,
  type AnalyzerHints,
  type ClipAnalysis,
  type FeatureOptions,
  type FrameMatrix,
} from '../../../src/audio/analyze.js';
import { hzToMel, melFilterbankDense, MelFilterbank, melToHz } from '../../../src/audio/mel.js';
import { dctOrthoBasis, delta, deltaRefusal, powerToDbInPlace } from '../../../src/audio/mfcc.js';
import { medianInPlace, onsetStrength, onsetStrengths } from '../../../src/audio/onset.js';
import { ContrastBands, spectralBandwidth, spectralCentroid, spectralFlatness, spectralRolloff, spectralShape, spectralShapeAndFlatness } from '../../../src/audio/spectral.js';
import { beatTrack } from '../../../src/audio/tempo.js';
import { fftFrequencies } from '../../../src/audio/spectrum.js';
import { rootMeanSquare, zeroCrossingRate } from '../../../src/audio/time-domain.js';
import { SpotmlError } from '../../../src/errors.js';

const SR = 22050;
const N_FFT = 2048;
const HOP = 512;
const BIN_HZ = SR / N_FFT;
const freqs = fftFrequencies(SR, N_FFT);

/** Deterministic standard normal noise (LCG + Box-Muller). */
function gaussianNoise(n: number, seed = 1): Float64Array {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

function sine(n: number, hz: number, amplitude = 0.5): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / SR);
  return out;
}

function options(features: FeatureOptions['features'], extra: Partial<FeatureOptions> = {}): FeatureOptions {
  return { ...defaultFeatureOptions(SR), features, ...extra };
}

function row(m: FrameMatrix | undefined, r = 0): number[] {
  if (!m) throw new Error('missing matrix');
  return Array.from(m.data.subarray(r * m.frames, (r + 1) * m.frames));
}

/** Frames whose 2048-sample window lies wholly inside an n-sample signal. */
function interiorFrames(n: number): number[] {
  const out: number[] = [];
  for (let t = 0; t * HOP - N_FFT / 2 + N_FFT <= n; t++) if (t * HOP - N_FFT / 2 >= 0) out.push(t);
  return out;
}

describe('spectral kernels on ideal spectra', () => {
  it('centroid of a single-bin spectrum is that bin, bandwidth 0', () => {
    for (const k of [0, 1, 37, 512, 1024]) {
      const mag = new Float64Array(N_FFT / 2 + 1);
      mag[k] = 3.5;
      expect(spectralCentroid(mag, freqs)).toBe(freqs[k]);
      expect(spectralBandwidth(mag, freqs, freqs[k])).toBe(0);
    }
  });

  it('centroid and bandwidth of two equal bins: midpoint and half the distance', () => {
    const mag = new Float64Array(N_FFT / 2 + 1);
    mag[100] = 1;
    mag[300] = 1;
    const c = spectralCentroid(mag, freqs);
    expect(c).toBeCloseTo(freqs[200], 9);
    expect(spectralBandwidth(mag, freqs, c)).toBeCloseTo(100 * BIN_HZ, 9);
  });

  it('centroid and bandwidth of an all-zero frame are 0 (librosa leaves tiny norms unscaled)', () => {
    const mag = new Float64Array(N_FFT / 2 + 1);
    expect(spectralCentroid(mag, freqs)).toBe(0);
    expect(spectralBandwidth(mag, freqs, 0)).toBe(0);
  });

  it('rolloff of a flat spectrum is the first bin reaching 85% of the bins', () => {
    const mag = new Float64Array(N_FFT / 2 + 1).fill(2);
    // cumsum reaches 0.85·1025·2 at the 872nd bin (index 871).
    expect(spectralRolloff(mag, freqs, 0.85)).toBe(freqs[Math.ceil(0.85 * 1025) - 1]);
    expect(spectralRolloff(new Float64Array(N_FFT / 2 + 1), freqs, 0.85)).toBe(0);
  });

  it('flatness: 1 for a flat or silent spectrum, tiny for a spike', () => {
    expect(spectralFlatness(new Float64Array(1025).fill(0.3))).toBeCloseTo(1, 12);
    expect(spectralFlatness(new Float64Array(1025))).toBeCloseTo(1, 12);
    const spike = new Float64Array(1025);
    spike[10] = 1;
    // gmean = exp((1024·ln 1e-10 + ln 1) / 1025), amean ≈ 1/1025.
    const expected = Math.exp((1024 * Math.log(1e-10)) / 1025) / ((1 + 1024e-10) / 1025);
    expect(spectralFlatness(spike)).toBeCloseTo(expected, 12);
  });
});

describe('spectral contrast bands', () => {
  /** Naive librosa.feature.spectral_contrast peak/valley for one frame, from boolean band masks. */
  function naiveContrast(mag: Float64Array): { peak: number[]; valley: number[] } {
    const nBands = 6;
    const octa = [0, ...Array.from({ length: nBands + 1 }, (_, i) => 200 * 2 ** i)];
    const peak: number[] = [];
    const valley: number[] = [];
    for (let k = 0; k <= nBands; k++) {
      const mask = Array.from(freqs, (f) => f >= octa[k] && f <= octa[k + 1]);
      const idx = mask.flatMap((m, i) => (m ? [i] : []));
      if (k > 0) mask[idx[0] - 1] = true;
      if (k === nBands) for (let i = idx[idx.length - 1] + 1; i < mask.length; i++) mask[i] = true;
      let sub = Array.from(mag).filter((_, i) => mask[i]);
      const counted = mask.filter(Boolean).length;
      if (k < nBands) sub = sub.slice(0, -1);
      const q = 0.02 * counted;
      // np.rint (half to even); no half cases arise for these band sizes but keep it honest.
      const r = Math.abs(q - Math.floor(q) - 0.5) < 1e-12 ? 2 * Math.round(q / 2) : Math.round(q);
      const take = Math.max(1, r);
      sub.sort((a, b) => a - b);
      valley.push(sub.slice(0, take).reduce((a, b) => a + b, 0) / take);
      peak.push(sub.slice(-take).reduce((a, b) => a + b, 0) / take);
    }
    return { peak, valley };
  }

  it('equals the naive sorted means bit for bit on falling, noisy spectra with ties', () => {
    // Falling spectra make the valley search (top down) and the peak search (bottom up) both insert often;
    // the quantised copy has many ties. Both sum the selected values in ascending order, so the means are equal.
    const bands = new ContrastBands({ sampleRate: SR, nFft: N_FFT, nBands: 6, fmin: 200, quantile: 0.02 });
    const peak = new Float64Array(7);
    const valley = new Float64Array(7);
    for (let seed = 1; seed <= 6; seed++) {
      const noise = gaussianNoise(1025, seed);
      const falling = Float64Array.from(noise, (v, k) => Math.exp(-k / 150) * (1 + 0.5 * v * v) + (seed % 2) * 1e-6 * Math.abs(v));
      const quantised = Float64Array.from(falling, (v) => Math.round(v * 50) / 50);
      for (const mag of [falling, quantised]) {
        bands.frame(mag, peak, valley);
        const want = naiveContrast(mag);
        expect(Array.from(peak)).toEqual(want.peak);
        expect(Array.from(valley)).toEqual(want.valley);
      }
    }
  });

  it('matches a naive band-mask implementation on random spectra', () => {
    const bands = new ContrastBands({ sampleRate: SR, nFft: N_FFT, nBands: 6, fmin: 200, quantile: 0.02 });
    const peak = new Float64Array(7);
    const valley = new Float64Array(7);
    for (let seed = 1; seed <= 5; seed++) {
      const mag = gaussianNoise(1025, seed).map(Math.abs);
      bands.frame(mag, peak, valley);
      const want = naiveContrast(mag);
      for (let k = 0; k < 7; k++) {
        expect(peak[k]).toBeCloseTo(want.peak[k], 12);
        expect(valley[k]).toBeCloseTo(want.valley[k], 12);
      }
    }
  });

  it('refuses band layouts librosa refuses', () => {
    expect(() => new ContrastBands({ sampleRate: SR, nFft: N_FFT, nBands: 7, fmin: 200, quantile: 0.02 })).toThrow(/Nyquist/);
    expect(() => new ContrastBands({ sampleRate: SR, nFft: N_FFT, nBands: 6, fmin: 200, quantile: 1 })).toThrow(/quantile/);
  });
});

describe('mel filterbank and the MFCC chain', () => {
  it('Slaney mel scale: linear to 1 kHz (15 mel), 27 mel per factor 6.4 above', () => {
    expect(hzToMel(1000)).toBeCloseTo(15, 12);
    expect(hzToMel(6400)).toBeCloseTo(42, 12);
    expect(hzToMel(500)).toBeCloseTo(7.5, 12);
    for (const hz of [0, 123.4, 999.9, 1000, 4321, 11025]) expect(melToHz(hzToMel(hz))).toBeCloseTo(hz, 8);
    expect(hzToMel(1000, true)).toBeCloseTo(2595 * Math.log10(1 + 1000 / 700), 12);
  });

  it('sparse application equals the dense filterbank; each Slaney triangle integrates to ~1 over Hz', () => {
    const fb = new MelFilterbank({ sampleRate: SR, nFft: N_FFT, nMels: 128, fmin: 0, fmax: null });
    const dense = melFilterbankDense(SR, N_FFT, 128, 0, SR / 2);
    const power = gaussianNoise(1025, 7).map((v) => v * v);
    const out = new Float64Array(128);
    fb.apply(power, out);
    for (let m = 0; m < 128; m++) {
      let want = 0;
      for (let k = 0; k < 1025; k++) want += dense[m * 1025 + k] * power[k];
      expect(out[m]).toBeCloseTo(want, 10);
    }
    // Area of triangle m sampled every BIN_HZ ≈ 1 (Slaney norm 2 / width); exact for wide bands.
    let area = 0;
    for (let k = 0; k < 1025; k++) area += dense[100 * 1025 + k] * BIN_HZ;
    expect(area).toBeCloseTo(1, 2);
  });

  it('orthonormal DCT-II: the full basis is orthogonal', () => {
    const n = 16;
    const b = dctOrthoBasis(n, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += b[i * n + k] * b[j * n + k];
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    }
  });

  it('power_to_db floors at the whole array maximum minus top_db', () => {
    const data = Float64Array.from([1, 1e-3, 1e-9, 0, 1e-12]);
    powerToDbInPlace(data, { amin: 1e-10, topDb: 80 });
    expect(Array.from(data)).toEqual([0, -30, -80, -80, -80]);
    const noFloor = Float64Array.from([1, 0]);
    powerToDbInPlace(noFloor, { amin: 1e-10, topDb: null });
    expect(Array.from(noFloor)).toEqual([0, -100]);
  });
});

describe('deltas (Savitzky-Golay, mode interp)', () => {
  /** Naive: for each t, least-squares polynomial of degree `order` on the window scipy uses, derivative at t. */
  function naiveDelta(x: number[], width: number, order: number): number[] {
    const half = (width - 1) / 2;
    const n = x.length;
    return x.map((_, t) => {
      const start = Math.min(Math.max(t - half, 0), n - width);
      // Solve the normal equations (Vandermonde, positions relative to t) by Gaussian elimination.
      const deg = order;
      const a: number[][] = Array.from({ length: deg + 1 }, () => new Array<number>(deg + 2).fill(0));
      for (let j = 0; j < width; j++) {
        const p = start + j - t;
        for (let r = 0; r <= deg; r++) {
          for (let c = 0; c <= deg; c++) a[r][c] += p ** (r + c);
          a[r][deg + 1] += p ** r * x[start + j];
        }
      }
      for (let c = 0; c <= deg; c++) {
        for (let r = c + 1; r <= deg; r++) {
          const f = a[r][c] / a[c][c];
          for (let k = c; k <= deg + 1; k++) a[r][k] -= f * a[c][k];
        }
      }
      const coef = new Array<number>(deg + 1).fill(0);
      for (let r = deg; r >= 0; r--) {
        let s = a[r][deg + 1];
        for (let k = r + 1; k <= deg; k++) s -= a[r][k] * coef[k];
        coef[r] = s / a[r][r];
      }
      // order-th derivative at p = 0 of Σ coef[k] p^k is order! · coef[order].
      let factorial = 1;
      for (let k = 2; k <= order; k++) factorial *= k;
      return factorial * coef[order];
    });
  }

  it('ramp has delta 1 and delta2 0; a parabola t² has delta2 2 everywhere, edges included', () => {
    const frames = 20;
    const ramp = Float64Array.from({ length: frames }, (_, t) => 3 * t - 7);
    const parabola = Float64Array.from({ length: frames }, (_, t) => t * t);
    const out = new Float64Array(frames);
    delta(ramp, 1, frames, 9, 1, out);
    for (const v of out) expect(v).toBeCloseTo(3, 12);
    delta(ramp, 1, frames, 9, 2, out);
    for (const v of out) expect(v).toBeCloseTo(0, 12);
    delta(parabola, 1, frames, 9, 2, out);
    for (const v of out) expect(v).toBeCloseTo(2, 10);
  });

  it.each([
    [9, 1],
    [9, 2],
    [5, 1],
    [7, 2],
  ])('width %i order %i matches a per-frame polynomial fit on random rows', (width, order) => {
    const frames = 23;
    const rows = 3;
    const data = gaussianNoise(rows * frames, 11);
    const out = new Float64Array(rows * frames);
    delta(data, rows, frames, width, order, out);
    for (let r = 0; r < rows; r++) {
      const want = naiveDelta(Array.from(data.subarray(r * frames, (r + 1) * frames)), width, order);
      for (let t = 0; t < frames; t++) expect(out[r * frames + t]).toBeCloseTo(want[t], 10);
    }
  });

  it('float32 rows at width 9 (the unrolled kernel) equal the generic window sums bit for bit, and the polynomial fit', () => {
    const rows = 4;
    for (const frames of [9, 10, 57]) {
      const data = Float32Array.from(gaussianNoise(rows * frames, 5 + frames), (v) => 40 * v);
      for (const order of [1, 2]) {
        const unrolled = new Float32Array(rows * frames);
        delta(data, rows, frames, 9, order, unrolled);
        // Float64 input takes the generic loop; the values are the same float32 numbers.
        const generic = new Float32Array(rows * frames);
        delta(Float64Array.from(data), rows, frames, 9, order, generic);
        expect(Array.from(unrolled)).toEqual(Array.from(generic));
        for (let r = 0; r < rows; r++) {
          const want = naiveDelta(Array.from(data.subarray(r * frames, (r + 1) * frames)), 9, order);
          for (let t = 0; t < frames; t++) expect(unrolled[r * frames + t]).toBeCloseTo(want[t], 3);
        }
      }
    }
  });

  it('refuses fewer frames than the width, with librosa reason', () => {
    expect(deltaRefusal(5, 9)).toBe("when mode='interp', width=9 cannot exceed data.shape[axis]=5");
    expect(deltaRefusal(9, 9)).toBeNull();
    expect(deltaRefusal(20, 4)).toMatch(/odd/);
    expect(() => delta(new Float64Array(5), 1, 5, 9, 1, new Float64Array(5))).toThrow(/cannot exceed/);
  });
});

describe('onset strength', () => {
  it('a level step gives one flux frame, delayed by lag + n_fft/(2 hop)', () => {
    const nMels = 4;
    const frames = 20;
    const melDb = new Float64Array(nMels * frames);
    for (let m = 0; m < nMels; m++) for (let t = 0; t < frames; t++) melDb[m * frames + t] = t >= 10 ? -20 + m : -60;
    const mean = onsetStrength(melDb, nMels, frames, { nFft: N_FFT, hopLength: HOP });
    // Step between frames 9 and 10 appears at output 10 + 3 - 1 = 12.
    const expectedMean = (40 + 41 + 42 + 43) / 4;
    expect(Array.from(mean)).toEqual(Array.from({ length: frames }, (_, t) => (t === 12 ? expectedMean : 0)));
    const median = onsetStrength(melDb, nMels, frames, { nFft: N_FFT, hopLength: HOP, aggregate: 'median' });
    expect(median[12]).toBe(41.5);
  });

  it('decreases are clipped to zero', () => {
    const melDb = Float64Array.from({ length: 10 }, (_, t) => -t);
    expect(Array.from(onsetStrength(melDb, 1, 10, { nFft: N_FFT, hopLength: HOP }))).toEqual(new Array(10).fill(0));
  });

  it('float32 matrices (the kernel sums) give the same envelopes bit for bit as the JS pass on float64, NaN, ±0, ±Infinity and ties included', () => {
    const nMels = 37;
    for (const frames of [1, 2, 7, 8, 9, 23, 130]) {
      const data = Float32Array.from(gaussianNoise(nMels * frames, frames), (v) => Math.round(20 * v) / 4 - 40);
      if (frames > 5) {
        data[3 * frames + 4] = Number.NaN;
        data[5 * frames + 2] = Number.POSITIVE_INFINITY;
        data[6 * frames + 3] = Number.NEGATIVE_INFINITY;
        data[7 * frames + 1] = -0;
        data[7 * frames + 2] = 0;
      }
      for (const lag of [1, 2]) {
        const options = { nFft: N_FFT, hopLength: HOP, lag };
        const viaKernel = onsetStrengths(data, nMels, frames, options, { mean: true, median: true });
        const viaJs = onsetStrengths(Float64Array.from(data), nMels, frames, options, { mean: true, median: true });
        expect(Array.from(viaKernel.mean as Float64Array), `frames ${frames} lag ${lag}`).toEqual(Array.from(viaJs.mean as Float64Array));
        expect(Array.from(viaKernel.median as Float64Array)).toEqual(Array.from(viaJs.median as Float64Array));
        const meanOnly = onsetStrengths(data, nMels, frames, options, { mean: true, median: false });
        expect(Array.from(meanOnly.mean as Float64Array)).toEqual(Array.from(viaJs.mean as Float64Array));
        expect(meanOnly.median).toBeNull();
      }
    }
  });

  it('median follows numpy for odd and even counts', () => {
    expect(medianInPlace(Float64Array.from([3, 1, 2]))).toBe(2);
    expect(medianInPlace(Float64Array.from([4, 1, 3, 2]))).toBe(2.5);
  });
});

describe('time-domain kernels', () => {
  it('zero-crossing rate counts sign changes over the frame length; |x| <= 1e-10 counts as positive', () => {
    expect(zeroCrossingRate(Float64Array.from([1, -1, 1, -1]))).toBe(3 / 4);
    expect(zeroCrossingRate(Float64Array.from([1e-11, -1e-11, 0, -1e-10]))).toBe(0);
    expect(zeroCrossingRate(Float64Array.from([0, -0.5, 0, 0.5]))).toBe(2 / 4);
    expect(zeroCrossingRate(Float64Array.from([-0, -0, -0]))).toBe(0);
  });

  it('rms of a constant is its magnitude', () => {
    expect(rootMeanSquare(new Float64Array(2048).fill(-0.25))).toBeCloseTo(0.25, 15);
  });
});

describe('analyzer on synthetic signals', () => {
  it('a tone at an exact bin frequency has its centroid at that bin (interior frames)', () => {
    const n = SR * 2;
    const k = 93;
    const a = analyzeSignal(sine(n, freqs[k]), options(['spectral_centroid', 'spectral_bandwidth', 'spectral_rolloff']));
    const centroid = row(a.matrices.spectral_centroid);
    const rolloff = row(a.matrices.spectral_rolloff);
    const bandwidth = row(a.matrices.spectral_bandwidth);
    for (const t of interiorFrames(n)) {
      // The periodic Hann main lobe (bins k±1 at half weight) is symmetric; far sidelobes shift it < 0.01 Hz.
      expect(Math.abs(centroid[t] - freqs[k])).toBeLessThan(0.01);
      expect(rolloff[t]).toBe(freqs[k + 1]);
      // Magnitude lobe 0.25, 0.5, 0.25 at ±1 bin: std = bin · √0.5.
      expect(bandwidth[t]).toBeCloseTo(BIN_HZ * Math.SQRT1_2, 1);
    }
  });

  it('flatness: white noise near e^-γ (exponential power), a tone near 0', () => {
    const n = SR * 3;
    const noise = analyzeSignal(gaussianNoise(n, 3), options(['spectral_flatness']));
    const tone = analyzeSignal(sine(n, 1000), options(['spectral_flatness']));
    const noiseFlatness = aggregateRows(noise.matrices.spectral_flatness as FrameMatrix, 'median')[0];
    expect(Math.abs(noiseFlatness - Math.exp(-0.5772156649))).toBeLessThan(0.03);
    const toneFlatness = aggregateRows(tone.matrices.spectral_flatness as FrameMatrix, 'max')[0];
    expect(toneFlatness).toBeLessThan(1e-3);
  });

  it('zero-crossing rate of a square wave (period 32) is 127/2048 in aligned interior frames', () => {
    const n = SR;
    const square = Float64Array.from({ length: n }, (_, i) => (Math.floor(i / 16) % 2 === 0 ? 1 : -1));
    const zcr = row(analyzeSignal(square, options(['zero_crossing_rate'])).matrices.zero_crossing_rate);
    // Interior frames start at t·512 − 1024, a multiple of 16: transitions at offsets 16, 32, …, 2032.
    for (const t of interiorFrames(n)) expect(zcr[t]).toBe(127 / 2048);
    // Frame 0 is edge padded: 1024 copies of x[0] = 1, then x[0..1023]: 63 transitions (offsets 1040, 1056, …, 2032).
    expect(zcr[0]).toBe(63 / 2048);
  });

  it('rms of a constant: |c| inside, |c|/√2 in the first frame (half zero padding)', () => {
    const n = SR;
    const rms = row(analyzeSignal(new Float64Array(n).fill(0.3), options(['rms'])).matrices.rms);
    for (const t of interiorFrames(n)) expect(rms[t]).toBeCloseTo(0.3, 12);
    expect(rms[0]).toBeCloseTo(0.3 * Math.SQRT1_2, 12);
  });

  it('frame count is 1 + floor(n / hop) for every feature; silence analyses without error', () => {
    for (const n of [1, 511, 512, 513, 4000]) {
      const a = analyzeSignal(new Float64Array(n), options(['mfcc', 'rms', 'zero_crossing_rate', 'spectral_contrast', 'onset_strength']));
      const frames = 1 + Math.floor(n / HOP);
      expect(a.nFrames).toBe(frames);
      for (const m of Object.values(a.matrices)) expect(m?.frames).toBe(frames);
      // Without any spectral feature no STFT runs; the time-domain framers give the same count.
      const timeOnly = analyzeSignal(new Float64Array(n), options(['rms', 'zero_crossing_rate']));
      expect(timeOnly.nFrames).toBe(frames);
      expect(timeOnly.matrices.rms?.frames).toBe(frames);
    }
  });

  it('short clips: deltas refused with the reason, everything else computed', () => {
    const a = analyzeSignal(sine(2205, 440), options(['mfcc', 'mfcc_delta', 'mfcc_delta2']));
    expect(a.nFrames).toBe(5);
    expect(a.matrices.mfcc?.frames).toBe(5);
    expect(a.matrices.mfcc_delta).toBeUndefined();
    expect(a.deltaError).toMatch(/at least 9 frames.*width=9 cannot exceed data.shape\[axis\]=5/);
  });

  it('an empty clip is a DECODE error saying it has no samples', () => {
    const err = (() => {
      try {
        analyzeSignal(new Float32Array(0), defaultFeatureOptions());
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(SpotmlError);
    expect((err as SpotmlError).code).toBe('DECODE');
    expect((err as SpotmlError).message).toMatch(/no samples/);
  });

  it('rejects bad options with USAGE errors naming the option', () => {
    const bad: [Partial<FeatureOptions>, RegExp][] = [
      [{ nFft: 1000 }, /n_fft/],
      [{ hopLength: 0 }, /hop/],
      [{ deltaWidth: 8 }, /delta width/],
      [{ nMfcc: 200 }, /n_mfcc/],
      [{ rolloffPercent: 1 }, /rolloff/],
      [{ contrastBands: 7 }, /Nyquist/],
      [{ features: [] }, /no features/],
      [{ features: ['mfcc', 'loudness' as never] }, /unknown feature "loudness"/],
      [{ tuning: 0.7 }, /tuning/],
    ];
    for (const [extra, message] of bad) {
      expect(() => validateFeatureOptions({ ...defaultFeatureOptions(), ...extra })).toThrow(message);
      expect(() => new ClipAnalyzer({ ...defaultFeatureOptions(), ...extra })).toThrow(SpotmlError);
    }
  });
});

describe('streaming', () => {
  const signal = (() => {
    const n = SR * 2 + 777;
    const noise = gaussianNoise(n, 5);
    const tone = sine(n, 440);
    return Float32Array.from(tone, (v, i) => v + 0.05 * noise[i] * (i > n / 2 ? 4 : 1));
  })();

  function chunked(chunkSizes: number[], secondPassSizes: number[], o: FeatureOptions, hints: AnalyzerHints = {}): ClipAnalysis {
    const analyzer = new ClipAnalyzer(o, hints);
    const feed = (push: (c: Float32Array) => void, sizes: number[]): void => {
      for (let start = 0, i = 0; start < signal.length; i++) {
        const size = sizes[i % sizes.length];
        push(signal.subarray(start, Math.min(signal.length, start + size)));
        start += size;
      }
    };
    feed((c) => analyzer.push(c), chunkSizes);
    analyzer.endFirstPass();
    if (analyzer.needsSecondPass) feed((c) => analyzer.pushSecondPass(c), secondPassSizes);
    return analyzer.finish();
  }

  it.each([
    ['no length hint', {}],
    ['an exact length hint', { expectedSamples: signal.length }],
    ['a short length hint', { expectedSamples: 3000 }],
    ['a long length hint', { expectedSamples: signal.length * 3 }],
    ['an absurd length hint', { expectedSamples: 1e15 }],
  ] as [string, AnalyzerHints][])('any chunking gives bit-identical results to one-shot analysis (both passes), %s', (_label, hints) => {
    const o = defaultFeatureOptions();
    const whole = analyzeSignal(signal, o);
    const pieces = chunked([1, 7, 513, 2048, 3, 100000], [4096, 1, 999], o, hints);
    expect(pieces.nFrames).toBe(whole.nFrames);
    expect(pieces.tuning).toBe(whole.tuning);
    expect(pieces.tempo).toEqual(whole.tempo);
    expect(pieces.beatFrames).toEqual(whole.beatFrames);
    expect(Object.keys(pieces.matrices).sort()).toEqual(Object.keys(whole.matrices).sort());
    for (const [name, m] of Object.entries(whole.matrices)) {
      const other = pieces.matrices[name as keyof typeof whole.matrices];
      expect(other?.rows, name).toBe(m?.rows);
      expect(Array.from(other?.data ?? []), name).toEqual(Array.from(m?.data ?? []));
    }
  });

  it('a given tuning needs no second pass and reproduces the estimated-tuning chroma', () => {
    const estimated = analyzeSignal(signal, options(['chroma_stft']));
    const analyzer = new ClipAnalyzer(options(['chroma_stft'], { tuning: estimated.tuning }));
    expect(analyzer.needsSecondPass).toBe(false);
    analyzer.push(signal);
    analyzer.endFirstPass();
    const given = analyzer.finish();
    expect(given.tuning).toBe(estimated.tuning);
    expect(Array.from(given.matrices.chroma_stft?.data ?? [])).toEqual(Array.from(estimated.matrices.chroma_stft?.data ?? []));
  });

  it('a second pass with a different length is an error', () => {
    const analyzer = new ClipAnalyzer(options(['chroma_stft']));
    analyzer.push(signal);
    analyzer.endFirstPass();
    expect(analyzer.needsSecondPass).toBe(true);
    analyzer.pushSecondPass(signal.subarray(0, 1000));
    expect(() => analyzer.finish()).toThrow(/same signal/);
  });

  it('top_db is measured over the whole clip: a loud ending lowers the floor of the quiet start', () => {
    const quietThenLoud = Float64Array.from({ length: SR }, (_, i) => (i < SR / 2 ? 1e-6 : 1) * Math.sin(i / 3));
    const whole = analyzeSignal(quietThenLoud, options(['melspectrogram_db']));
    const firstHalf = analyzeSignal(quietThenLoud.subarray(0, SR / 2), options(['melspectrogram_db']));
    const wholeMin = aggregateRows(whole.matrices.melspectrogram_db as FrameMatrix, 'min');
    const wholeMax = Math.max(...aggregateRows(whole.matrices.melspectrogram_db as FrameMatrix, 'max'));
    expect(Math.min(...wholeMin)).toBeCloseTo(wholeMax - 80, 4);
    const halfMax = Math.max(...aggregateRows(firstHalf.matrices.melspectrogram_db as FrameMatrix, 'max'));
    expect(halfMax).toBeLessThan(wholeMax - 80);
  });
});

describe('aggregateRows', () => {
  /** Independent formulas: scipy-style moments from raw power sums. */
  function naive(values: number[]): Record<string, number> {
    const n = values.length;
    const s1 = values.reduce((a, b) => a + b, 0);
    const s2 = values.reduce((a, b) => a + b * b, 0);
    const s3 = values.reduce((a, b) => a + b ** 3, 0);
    const s4 = values.reduce((a, b) => a + b ** 4, 0);
    const mu = s1 / n;
    const m2 = s2 / n - mu * mu;
    const m3 = s3 / n - 3 * mu * (s2 / n) + 2 * mu ** 3;
    const m4 = s4 / n - 4 * mu * (s3 / n) + 6 * mu * mu * (s2 / n) - 3 * mu ** 4;
    const sorted = [...values].sort((a, b) => a - b);
    const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    return { mean: mu, std: Math.sqrt(m2), min: sorted[0], max: sorted[n - 1], median, skew: m3 / m2 ** 1.5, kurtosis: m4 / m2 ** 2 - 3 };
  }

  it('matches direct formulas row by row', () => {
    const rows = 4;
    const frames = 51;
    const data = gaussianNoise(rows * frames, 9).map((v, i) => v ** 3 + (i % 7));
    const m: FrameMatrix = { rows, frames, data };
    for (const agg of AGGREGATES) {
      const got = aggregateRows(m, agg);
      for (let r = 0; r < rows; r++) {
        const want = naive(Array.from(data.subarray(r * frames, (r + 1) * frames)))[agg];
        expect(got[r], `${agg}[${r}]`).toBeCloseTo(want, 8);
      }
    }
  });

  it('aggregateRowsMany gives each aggregate bit for bit as the two-pass formulas (mean, then central powers), in any combination', () => {
    const rows = 3;
    const frames = 77;
    const data = Float32Array.from(gaussianNoise(rows * frames, 4), (v, i) => v * 3 + (i % 5));
    const m: FrameMatrix = { rows, frames, data };
    /** The plain two-pass moments (sum in frame order, then Σd², Σd³, Σd⁴ about that mean). */
    const twoPass = (r: number): Record<string, number> => {
      let sum = 0;
      for (let t = 0; t < frames; t++) sum += data[r * frames + t];
      const mean = sum / frames;
      let m2 = 0;
      let m3 = 0;
      let m4 = 0;
      for (let t = 0; t < frames; t++) {
        const d = data[r * frames + t] - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * (d * d);
      }
      m2 /= frames;
      m3 /= frames;
      m4 /= frames;
      return { mean, std: Math.sqrt(m2), skew: m3 / m2 ** 1.5, kurtosis: m4 / (m2 * m2) - 3 };
    };
    for (const combination of [['mean', 'std'], ['std'], ['mean'], ['std', 'skew', 'kurtosis', 'mean'], ['median', 'min', 'max', 'std'], AGGREGATES] as const) {
      const many = aggregateRowsMany(m, combination);
      expect([...many.keys()].sort()).toEqual([...combination].sort());
      for (const aggregate of combination) {
        const got = many.get(aggregate) as Float64Array;
        expect(Array.from(got), aggregate).toEqual(Array.from(aggregateRows(m, aggregate)));
        if (aggregate === 'min' || aggregate === 'max' || aggregate === 'median') continue;
        for (let r = 0; r < rows; r++) expect(got[r], `${aggregate}[${r}]`).toBe(twoPass(r)[aggregate]);
      }
    }
    const empty = aggregateRowsMany({ rows: 2, frames: 0, data: new Float32Array(0) }, ['mean', 'std', 'median']);
    for (const values of empty.values()) expect(Array.from(values)).toEqual([Number.NaN, Number.NaN]);
  });

  it('known values for [1, 2, 3, 4]; constant rows give NaN skew and kurtosis as scipy', () => {
    const m: FrameMatrix = { rows: 2, frames: 4, data: Float32Array.from([1, 2, 3, 4, 5, 5, 5, 5]) };
    expect(Array.from(aggregateRows(m, 'mean'))).toEqual([2.5, 5]);
    expect(aggregateRows(m, 'std')[0]).toBeCloseTo(Math.sqrt(1.25), 15);
    expect(Array.from(aggregateRows(m, 'median'))).toEqual([2.5, 5]);
    expect(aggregateRows(m, 'skew')[0]).toBeCloseTo(0, 15);
    expect(aggregateRows(m, 'kurtosis')[0]).toBeCloseTo(-1.36, 12);
    expect(aggregateRows(m, 'skew')[1]).toBeNaN();
    expect(aggregateRows(m, 'kurtosis')[1]).toBeNaN();
    expect(Array.from(aggregateRows(m, 'min'))).toEqual([1, 5]);
    expect(Array.from(aggregateRows(m, 'max'))).toEqual([4, 5]);
  });
});

describe('fused and reorganised kernels equal their plain versions bit for bit (issue #2)', () => {
  it('spectralShapeAndFlatness = spectralShape + spectralFlatness + the frame maximum', () => {
    const amin = 1e-10;
    const cases: Float64Array[] = [];
    for (let seed = 1; seed <= 4; seed++) cases.push(Float64Array.from(gaussianNoise(1025, seed), (v, k) => (v * v * Math.exp(-k / 200)) ** 2));
    // Powers below amin (clamped), exact zeros, and a block whose product leaves float64's range (fallback logs).
    const awkward = Float64Array.from(cases[0]);
    for (let k = 0; k < 1025; k += 7) awkward[k] = 0;
    for (let k = 3; k < 1025; k += 11) awkward[k] = 1e-13;
    for (let k = 32; k < 48; k++) awkward[k] = 1e40;
    cases.push(awkward, new Float64Array(1025), new Float64Array(1025).fill(0.3));
    const fused = new Float64Array(5);
    const shape = new Float64Array(3);
    for (const power of cases) {
      const magnitude = Float64Array.from(power, Math.sqrt);
      spectralShapeAndFlatness(magnitude, power, freqs, 0.85, amin, fused);
      spectralShape(magnitude, freqs, 0.85, shape);
      expect(Array.from(fused.subarray(0, 3))).toEqual(Array.from(shape));
      expect(fused[3]).toBe(spectralFlatness(power, amin));
      expect(fused[4]).toBe(Math.max(0, ...power));
    }
  });

  it("onset strength's median (zeros counted, positives selected) equals a sort-based np.median", () => {
    for (const nMels of [128, 7, 2, 1]) {
      const frames = 60;
      const noise = gaussianNoise(nMels * frames, nMels);
      // Coarse levels: many bands do not rise from one frame to the next, so many fluxes are exactly zero.
      const melDb = Float64Array.from(noise, (v) => Math.round(v * 2) * 10);
      const median = onsetStrength(melDb, nMels, frames, { nFft: N_FFT, hopLength: HOP, aggregate: 'median' });
      const pad = 1 + N_FFT / (2 * HOP);
      for (let t = 0; t < frames; t++) {
        const current = t - pad + 1;
        if (t < pad || current >= frames) {
          expect(median[t]).toBe(0);
          continue;
        }
        const flux = Array.from({ length: nMels }, (_, m) => Math.max(0, melDb[m * frames + current] - melDb[m * frames + current - 1])).sort((a, b) => a - b);
        const mid = nMels >> 1;
        expect(median[t]).toBe(nMels % 2 === 1 ? flux[mid] : 0.5 * (flux[mid - 1] + flux[mid]));
      }
    }
  });

  it('beat tracking, run on demand, equals beat_track on the median onset envelope of the same clip', () => {
    const signal = new Float64Array(SR * 4);
    for (let i = 0; i < signal.length; i += SR / 2) for (let j = 0; j < 200 && i + j < signal.length; j++) signal[i + j] = 0.8 * Math.exp(-j / 40) * Math.sin(j);
    const analysis = analyzeSignal(signal, options(['melspectrogram_db', 'tempo']));
    const melDb = analysis.matrices.melspectrogram_db as FrameMatrix;
    const envelope = onsetStrength(melDb.data, melDb.rows, melDb.frames, { nFft: N_FFT, hopLength: HOP, aggregate: 'median' });
    const direct = beatTrack(envelope, SR, HOP);
    expect(analysis.beatFrames).not.toBeNull();
    expect(Array.from(analysis.beatFrames ?? [])).toEqual(Array.from(direct.beats));
    expect(analysis.tempo?.beatTrack).toBe(direct.tempo);
    expect(direct.beats.length).toBeGreaterThan(3);
  });
});
