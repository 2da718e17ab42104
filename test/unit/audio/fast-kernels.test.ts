/**
 * The fast paths of the feature pipeline against plain second implementations: block-summed ZCR/RMS,
 * block-log flatness, the fused centroid/bandwidth/rolloff pass, selection medians, the dB floor shortcut,
 * the tiled MFCC product, blocked chroma, frequency-domain windowing, the windowed power FFT, the two-band
 * mel walk, and the analyzer's one-pass chroma (kept spectrogram) against its two-pass path.
 */
import { describe, expect, it } from 'vitest';
import { analyzeSignal, ClipAnalyzer, defaultFeatureOptions, mfccFromMelDb, type ClipAnalysis, type FeatureOptions } from '../../../src/audio/analyze.js';
import { ChromaComputer, chromaFilterBank } from '../../../src/audio/chroma.js';
import { RealFft } from '../../../src/audio/fft.js';
import { Framer, hannPeriodic } from '../../../src/audio/framing.js';
import { melFilterbankDense, MelFilterbank } from '../../../src/audio/mel.js';
import { applyBasis, dctFrames, dctOrthoBasis, powerToDbInPlace } from '../../../src/audio/mfcc.js';
import { medianInPlace, onsetStrengths } from '../../../src/audio/onset.js';
import { spectralBandwidth, spectralCentroid, spectralFlatness, spectralRolloff, spectralShape } from '../../../src/audio/spectral.js';
import { fftFrequencies, SpectrumStream } from '../../../src/audio/spectrum.js';
import { rootMeanSquare, TimeFrameStats, zeroCrossingRate } from '../../../src/audio/time-domain.js';
import { decodeFramesToMono, parseWavHeader } from '../../../src/audio/wav.js';

const SR = 22050;

/** Seeded uniform numbers in [0, 1) (mulberry32), so failures reproduce. */
function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Noise with runs of exact zeros, values at the ±1e-10 zero-crossing threshold, and loud stretches. */
function awkwardSignal(n: number, seed: number): Float64Array {
  const next = uniform(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.1) out[i] = 0;
    else if (r < 0.15) out[i] = next() < 0.5 ? -1e-10 : 1e-10;
    else if (r < 0.2) out[i] = -0;
    else out[i] = (next() - 0.5) * (i % 300 < 150 ? 1 : 1e-3);
  }
  return out;
}

describe('TimeFrameStats (block sums) against framing each frame', () => {
  const layouts: [number, number][] = [
    [2048, 512],
    [8, 3],
    [7, 2],
    [9, 4],
    [16, 16],
    [5, 1],
    [6, 10],
  ];
  it.each(layouts)('frame %i, hop %i: same frame count, exact ZCR, RMS to 1e-12, whatever the chunking', (frameLength, hop) => {
    for (const n of [1, 2, hop - 1, hop, frameLength + 3, 5000]) {
      if (n < 1) continue;
      const signal = awkwardSignal(n, n * 31 + frameLength);
      const zcr: number[] = [];
      const rms: number[] = [];
      const edge = new Framer({ frameLength, hopLength: hop, padMode: 'edge' }, (f) => zcr.push(zeroCrossingRate(f)));
      const zero = new Framer({ frameLength, hopLength: hop, padMode: 'constant' }, (f) => rms.push(rootMeanSquare(f)));
      edge.push(signal);
      zero.push(signal);
      expect(edge.end()).toBe(1 + Math.floor(n / hop));
      zero.end();
      for (const chunk of [n, 1, 7, 1000]) {
        const gotZcr: number[] = [];
        const gotRms: number[] = [];
        const indices: number[] = [];
        const stats = new TimeFrameStats({ frameLength, hopLength: hop }, (index, z, r) => {
          indices.push(index);
          gotZcr.push(z);
          gotRms.push(r);
        });
        for (let i = 0; i < n; i += chunk) stats.push(signal.subarray(i, i + chunk));
        expect(stats.end()).toBe(zcr.length);
        expect(indices).toEqual(zcr.map((_, i) => i));
        expect(gotZcr).toEqual(zcr);
        gotRms.forEach((v, i) => expect(Math.abs(v - rms[i])).toBeLessThanOrEqual(1e-12 * Math.max(rms[i], 1e-300)));
      }
    }
  });
});

describe('spectral kernels against per-bin formulas', () => {
  const freqs = fftFrequencies(SR, 2048);

  function naiveFlatness(power: Float64Array, amin: number): number {
    let logSum = 0;
    let sum = 0;
    for (const p of power) {
      const v = Math.max(amin, p);
      logSum += Math.log(v);
      sum += v;
    }
    return Math.exp(logSum / power.length) / (sum / power.length);
  }

  it('flatness with one log per block equals one log per bin (1e-12), including absurd ranges', () => {
    const next = uniform(7);
    for (let trial = 0; trial < 50; trial++) {
      const n = [1025, 1, 15, 17, 100][trial % 5];
      const scale = [1, 1e-12, 1e6, 1e150, 1e-200][trial % 5];
      const power = Float64Array.from({ length: n }, () => (next() < 0.1 ? 0 : next() ** 4 * scale));
      for (const amin of [1e-10, 1e-300]) {
        const want = naiveFlatness(power, amin);
        expect(Math.abs(spectralFlatness(power, amin) - want)).toBeLessThanOrEqual(1e-12 * want);
      }
    }
  });

  it('the fused shape pass gives the centroid and rolloff exactly and the bandwidth to 1e-12', () => {
    const next = uniform(11);
    const out = new Float64Array(3);
    for (let trial = 0; trial < 40; trial++) {
      const magnitude = Float64Array.from(freqs, (_, k) => (trial % 4 === 0 ? 0 : next() ** 3 / (1 + k / 50)));
      if (trial % 4 === 1) magnitude.fill(0, 0, 1000);
      spectralShape(magnitude, freqs, 0.85, out);
      const centroid = spectralCentroid(magnitude, freqs);
      expect(out[0]).toBe(centroid);
      expect(out[2]).toBe(spectralRolloff(magnitude, freqs, 0.85));
      const bandwidth = spectralBandwidth(magnitude, freqs, centroid);
      expect(Math.abs(out[1] - bandwidth)).toBeLessThanOrEqual(1e-12 * Math.max(bandwidth, 1));
    }
  });
});

describe('medians and onset envelopes', () => {
  function sortedMedian(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 === 1 ? s[mid] : 0.5 * (s[mid - 1] + s[mid]);
  }

  it('selection median equals the sorted median for any length, with ties and zeros', () => {
    const next = uniform(3);
    for (let n = 1; n <= 140; n++) {
      const values = Array.from({ length: n }, () => (next() < 0.4 ? 0 : Math.floor(next() * 6) / 2));
      expect(medianInPlace(Float64Array.from(values))).toBe(sortedMedian(values));
    }
  });

  it('the mean and median envelopes from one pass equal a per-frame computation', () => {
    const nMels = 16;
    const frames = 60;
    const next = uniform(5);
    const melDb = Float32Array.from({ length: nMels * frames }, () => -80 + 80 * next());
    const { mean, median } = onsetStrengths(melDb, nMels, frames, { nFft: 2048, hopLength: 512 }, { mean: true, median: true });
    const pad = 1 + 2;
    for (let t = 0; t < frames; t++) {
      if (t < pad) {
        expect(mean?.[t]).toBe(0);
        expect(median?.[t]).toBe(0);
        continue;
      }
      const current = t - pad + 1;
      const flux = Array.from({ length: nMels }, (_, m) => Math.max(0, melDb[m * frames + current] - melDb[m * frames + current - 1]));
      expect(mean?.[t]).toBeCloseTo(flux.reduce((a, b) => a + b, 0) / nMels, 12);
      expect(median?.[t]).toBe(sortedMedian(flux));
    }
  });
});

describe('power_to_db with the floor shortcut', () => {
  function naive(data: Float64Array, amin: number, topDb: number | null): Float64Array {
    const db = Float64Array.from(data, (p) => 10 * Math.log10(Math.max(amin, p)));
    if (topDb === null) return db;
    const floor = Math.max(...db) - topDb;
    return db.map((v) => Math.max(v, floor));
  }

  it('equals the plain computation exactly (float64), for loud, quiet, silent and mixed arrays', () => {
    const next = uniform(9);
    const cases: Float64Array[] = [
      Float64Array.from({ length: 500 }, () => next() ** 12),
      new Float64Array(50),
      Float64Array.from({ length: 300 }, (_, i) => (i % 2 ? 1e-12 : 1e-9 * next())),
      Float64Array.from({ length: 300 }, () => 10 ** (-14 * next())),
    ];
    for (const data of cases) {
      for (const [amin, topDb] of [
        [1e-10, 80],
        [1e-10, 0],
        [1e-10, null],
        [1e-20, 40],
      ] as [number, number | null][]) {
        const got = Float64Array.from(data);
        powerToDbInPlace(got, { amin, topDb });
        expect(Array.from(got)).toEqual(Array.from(naive(data, amin, topDb)));
      }
    }
  });
});

describe('matrix kernels keep the per-frame summation order', () => {
  it('the tiled MFCC product equals a per-frame DCT dot product bit for bit', () => {
    const nMels = 128;
    const frames = 150;
    const next = uniform(13);
    const data = Float32Array.from({ length: nMels * frames }, () => -80 * next());
    for (const nMfcc of [20, 13, 3]) {
      const got = mfccFromMelDb({ rows: nMels, frames, data }, nMfcc);
      const basis = dctOrthoBasis(nMels, nMfcc);
      const column = new Float64Array(nMels);
      const coefficients = new Float64Array(nMfcc);
      for (let t = 0; t < frames; t++) {
        for (let m = 0; m < nMels; m++) column[m] = data[m * frames + t];
        applyBasis(basis, column, coefficients);
        for (let k = 0; k < nMfcc; k++) expect(got.data[k * frames + t]).toBe(Math.fround(coefficients[k]));
      }
    }
  });

  it('blocked chroma equals one dot product per row, from float32 power at an offset', () => {
    const next = uniform(17);
    for (const nChroma of [12, 7, 24]) {
      const computer = new ChromaComputer(SR, 2048, nChroma, -0.13);
      const bank = chromaFilterBank(SR, 2048, nChroma, -0.13);
      const power = Float32Array.from({ length: 1025 + 9 }, () => next() ** 6);
      const out = new Float64Array(nChroma);
      computer.frame(power, out, 9);
      const want = new Float64Array(nChroma);
      for (let c = 0; c < nChroma; c++) for (let k = 0; k < 1025; k++) want[c] += bank[c * 1025 + k] * power[9 + k];
      const peak = Math.max(...want);
      expect(Array.from(out)).toEqual(Array.from(want, (v) => v / peak));
    }
  });
});

describe('STFT windowing in the frequency domain', () => {
  it('matches multiplying each frame by the periodic Hann window before the FFT (1e-12 of the frame maximum)', () => {
    const nFft = 512;
    const hop = 128;
    const signal = awkwardSignal(5000, 21);
    const window = hannPeriodic(nFft);
    const fft = new RealFft(nFft);
    const frames: Float64Array[] = [];
    const framer = new Framer({ frameLength: nFft, hopLength: hop, padMode: 'constant' }, (f) => {
      const re = new Float64Array(nFft / 2 + 1);
      const im = new Float64Array(nFft / 2 + 1);
      fft.forward(f.map((v, i) => v * window[i]), re, im);
      frames.push(re.map((r, k) => r * r + im[k] * im[k]));
    });
    framer.push(signal);
    framer.end();
    let t = 0;
    const stream = new SpectrumStream({ nFft, hopLength: hop }, (frame) => {
      const want = frames[t++];
      const max = Math.max(...want);
      for (let k = 0; k < want.length; k++) {
        expect(Math.abs(frame.power[k] - want[k])).toBeLessThanOrEqual(1e-12 * max);
        expect(Math.abs(frame.magnitude[k] - Math.sqrt(want[k]))).toBeLessThanOrEqual(1e-6 * Math.sqrt(max));
      }
    });
    stream.push(signal);
    expect(stream.end()).toBe(frames.length);
  });
});

describe('one-pass chroma (kept spectrogram) and the two-pass path agree bit for bit', () => {
  const next = uniform(23);
  const n = SR * 3 + 123;
  const signal = Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 311 * i) / SR) + 0.05 * (next() - 0.5));
  const options: FeatureOptions = { ...defaultFeatureOptions(SR), features: ['chroma_stft', 'mfcc', 'spectral_contrast'] };
  const frames = 1 + Math.floor(n / 512);

  function run(hints: ConstructorParameters<typeof ClipAnalyzer>[1], expectSecondPass: boolean): ClipAnalysis {
    const analyzer = new ClipAnalyzer(options, hints);
    for (let i = 0; i < n; i += 10_000) analyzer.push(signal.subarray(i, i + 10_000));
    analyzer.endFirstPass();
    expect(analyzer.needsSecondPass).toBe(expectSecondPass);
    if (analyzer.needsSecondPass) for (let i = 0; i < n; i += 7_000) analyzer.pushSecondPass(signal.subarray(i, i + 7_000));
    return analyzer.finish();
  }

  it('whatever the budget and hints', () => {
    const bytesPerFrame = 4 * 1025;
    const reference = analyzeSignal(signal, options);
    const runs = [
      run({}, true),
      run({ spectrogramBudgetBytes: frames * bytesPerFrame }, false),
      run({ expectedSamples: n, spectrogramBudgetBytes: frames * bytesPerFrame }, false),
      // Over budget, found while streaming (no hint) or known up front (hint).
      run({ spectrogramBudgetBytes: (frames - 1) * bytesPerFrame }, true),
      run({ expectedSamples: n, spectrogramBudgetBytes: (frames - 1) * bytesPerFrame }, true),
    ];
    for (const r of runs) {
      expect(r.tuning).toBe(reference.tuning);
      for (const name of ['chroma_stft', 'mfcc', 'spectral_contrast'] as const) {
        expect(Array.from(r.matrices[name]?.data ?? []), name).toEqual(Array.from(reference.matrices[name]?.data ?? [0]));
      }
    }
  });
});

describe('mono 16-bit decoding', () => {
  it('reads the same samples from an unaligned buffer as from an aligned one', () => {
    const n = 1001;
    const bytes = new Uint8Array(44 + 2 * n + 1);
    const view = new DataView(bytes.buffer);
    const header = 'RIFF????WAVEfmt ';
    for (let i = 0; i < header.length; i++) bytes[i] = header.charCodeAt(i);
    view.setUint32(4, 36 + 2 * n, true);
    view.setUint32(16, 16, true);
    view.setUint16(20, 1, true);
    view.setUint16(22, 1, true);
    view.setUint32(24, SR, true);
    view.setUint32(28, SR * 2, true);
    view.setUint16(32, 2, true);
    view.setUint16(34, 16, true);
    for (let i = 0; i < 4; i++) bytes[36 + i] = 'data'.charCodeAt(i);
    view.setUint32(40, 2 * n, true);
    const next = uniform(29);
    for (let i = 0; i < n; i++) view.setInt16(44 + 2 * i, Math.floor(next() * 65536) - 32768, true);
    const info = parseWavHeader(bytes.subarray(0, 44 + 2 * n), 44 + 2 * n, 'test.wav');
    const aligned = new Float32Array(n);
    decodeFramesToMono(bytes.subarray(44, 44 + 2 * n), info, aligned);
    const shifted = new Uint8Array(2 * n + 1);
    shifted.set(bytes.subarray(44, 44 + 2 * n), 1);
    const unaligned = new Float32Array(n);
    decodeFramesToMono(shifted.subarray(1), info, unaligned);
    expect(Array.from(unaligned)).toEqual(Array.from(aligned));
    for (let i = 0; i < n; i++) expect(aligned[i]).toBe(view.getInt16(44 + 2 * i, true) / 32768);
  });
});

describe('RealFft.forwardPower (the STFT kernel: frame read in place, windowed on load, |X|² from the last stage)', () => {
  it('equals windowing a copy, forward, and squaring, bit for bit, at every size and offset', () => {
    const next = uniform(31);
    for (let size = 4; size <= 8192; size *= 2) {
      const fft = new RealFft(size);
      const window = hannPeriodic(size);
      const buffer = Float64Array.from({ length: size + 37 }, () => next() - 0.5);
      const power = new Float64Array(size / 2 + 1);
      const re = new Float64Array(size / 2 + 1);
      const im = new Float64Array(size / 2 + 1);
      for (const offset of [0, 1, 37]) {
        fft.forwardPower(buffer, offset, window, power);
        fft.forward(
          buffer.subarray(offset, offset + size).map((v, i) => v * window[i]),
          re,
          im,
        );
        for (let k = 0; k <= size / 2; k++) expect(power[k]).toBe(re[k] * re[k] + im[k] * im[k]);
      }
    }
  });

  it('matches a naive DFT of the windowed frame (1e-10 of the frame maximum)', () => {
    const next = uniform(32);
    const size = 256;
    const fft = new RealFft(size);
    const window = hannPeriodic(size);
    const buffer = Float64Array.from({ length: size + 5 }, () => next() - 0.5);
    const power = new Float64Array(size / 2 + 1);
    fft.forwardPower(buffer, 5, window, power);
    const want = new Float64Array(size / 2 + 1);
    for (let k = 0; k <= size / 2; k++) {
      let sr = 0;
      let si = 0;
      for (let n = 0; n < size; n++) {
        const x = buffer[5 + n] * window[n];
        sr += x * Math.cos((2 * Math.PI * k * n) / size);
        si -= x * Math.sin((2 * Math.PI * k * n) / size);
      }
      want[k] = sr * sr + si * si;
    }
    const max = Math.max(...want);
    for (let k = 0; k <= size / 2; k++) expect(Math.abs(power[k] - want[k])).toBeLessThanOrEqual(1e-10 * max);
  });

  it('refuses a frame that runs past the input, a short window or a short output', () => {
    const fft = new RealFft(64);
    const window = hannPeriodic(64);
    expect(() => fft.forwardPower(new Float64Array(70), 7, window, new Float64Array(33))).toThrow(RangeError);
    expect(() => fft.forwardPower(new Float64Array(70), 0, window.subarray(0, 63), new Float64Array(33))).toThrow(RangeError);
    expect(() => fft.forwardPower(new Float64Array(70), 0, window, new Float64Array(32))).toThrow(RangeError);
  });

  it('SpectrumStream with complex: true (frequency-domain window) agrees with the default power path (1e-12 of the frame maximum)', () => {
    const signal = awkwardSignal(6000, 33);
    const powerOnly: Float64Array[] = [];
    const a = new SpectrumStream({ nFft: 512, hopLength: 128, magnitude: false }, (frame) => powerOnly.push(Float64Array.from(frame.power)));
    a.push(signal);
    a.end();
    let t = 0;
    const b = new SpectrumStream({ nFft: 512, hopLength: 128, complex: true }, (frame) => {
      const want = powerOnly[t++];
      const max = Math.max(...want);
      for (let k = 0; k < want.length; k++) {
        expect(Math.abs(frame.power[k] - want[k])).toBeLessThanOrEqual(1e-12 * max);
        expect(frame.re[k] * frame.re[k] + frame.im[k] * frame.im[k]).toBe(frame.power[k]);
      }
    });
    b.push(signal);
    expect(b.end()).toBe(powerOnly.length);
  });
});

describe('mel filterbank: the two-band walk equals per-band dot products bit for bit', () => {
  const configs: [number, number, number, number, number | null, boolean][] = [
    [22050, 2048, 128, 0, null, false],
    [22050, 2048, 40, 300, 8000, false],
    [44100, 1024, 64, 0, null, true],
    [16000, 512, 128, 0, null, false], // more bands than bins in the low range: some bands are empty
    [22050, 256, 200, 50, 10000, false],
    [8000, 64, 4, 0, null, false],
  ];
  it.each(configs)('sr %d, n_fft %d, %d mels, fmin %d, fmax %s, htk %s', (sampleRate, nFft, nMels, fmin, fmax, htk) => {
    const bank = new MelFilterbank({ sampleRate, nFft, nMels, fmin, fmax, htk });
    const nBins = nFft / 2 + 1;
    const dense = melFilterbankDense(sampleRate, nFft, nMels, fmin, fmax ?? sampleRate / 2, htk);
    const next = uniform(nFft + nMels);
    const fast = new Float64Array(nMels);
    const perBand = new Float64Array(nMels);
    for (let trial = 0; trial < 5; trial++) {
      const power = Float64Array.from({ length: nBins }, () => (trial === 4 ? 0 : next() ** 6 * 100));
      fast.fill(Number.NaN);
      bank.apply(power, fast);
      bank.applyPerBand(power, perBand);
      expect(Array.from(fast)).toEqual(Array.from(perBand));
      // And the per-band form against the dense matrix product (its summation order skips only zeros).
      for (let m = 0; m < nMels; m++) {
        let sum = 0;
        for (let k = 0; k < nBins; k++) if (dense[m * nBins + k] !== 0) sum += dense[m * nBins + k] * power[k];
        expect(perBand[m]).toBe(sum);
      }
    }
  });
});

describe('dctFrames (the MFCC product in small functions) equals the analyzer\'s tiled product', () => {
  it('bit for bit, for tile-straddling frame counts and coefficient counts not a multiple of four', () => {
    const next = uniform(41);
    for (const [nMels, frames, nMfcc] of [
      [128, 150, 20],
      [128, 64, 13],
      [40, 1, 3],
      [64, 129, 64],
    ] as [number, number, number][]) {
      const data = Float32Array.from({ length: nMels * frames }, () => -80 * next());
      const want = mfccFromMelDb({ rows: nMels, frames, data }, nMfcc).data;
      const got = dctFrames(data, nMels, frames, dctOrthoBasis(nMels, nMfcc), nMfcc);
      expect(Array.from(got)).toEqual(Array.from(want));
    }
  });
});
