import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpotmlError } from '../../../src/errors.js';
import { Resampler, resample, type ResamplerPrecision } from '../../../src/audio/resample.js';

/** Interior margin: 30 ms covers the longest filter used here (~4.3 ms each side) with room to spare. */
function margin(toRate: number): number {
  return Math.ceil(0.03 * toRate);
}

function sine(n: number, rate: number, frequency: number, phase: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin((2 * Math.PI * frequency * i) / rate + phase);
  return out;
}

function seededNoise(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function rms(x: Float64Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i] * x[i];
  return Math.sqrt(sum / (to - from));
}

/** Exact ceil(n · to / from) in integers. */
function exactCeil(n: number, from: number, to: number): number {
  return Number((BigInt(n) * BigInt(to) + BigInt(from) - 1n) / BigInt(from));
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function firstMismatch(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/**
 * Naive single-stage reference written from the specification: every output is a direct sum of the
 * input against the Kaiser-windowed sinc (soxr HQ's recipe: passband 0.91363, stopband at the lower
 * Nyquist, (20 + 1) bits · 6.02 dB ≈ 126.4 dB; Kaiser's beta and length formulas) centred at the output's
 * exact time, normalised to unit DC gain. Float64 throughout.
 */
function naiveResample(x: Float64Array, from: number, to: number): Float64Array {
  const i0 = (v: number): number => {
    let term = 1;
    let sum = 1;
    for (let k = 1; k < 1000 && term > sum * 1e-18; k++) {
      term *= (v * v) / 4 / (k * k);
      sum += term;
    }
    return sum;
  };
  const attenuation = 21 * 20 * Math.log10(2);
  const nyquist = Math.min(from, to) / 2;
  const pass = (0.91363 * nyquist) / from;
  const stop = nyquist / from;
  const cutoff = (pass + stop) / 2;
  const halfLength = (attenuation - 7.95) / (2.285 * 2 * Math.PI * (stop - pass)) / 2;
  const beta = 0.1102 * (attenuation - 8.7);
  const kernel = (t: number): number => {
    if (Math.abs(t) >= halfLength) return 0;
    const r = t / halfLength;
    const u = 2 * cutoff * t;
    const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
    return sinc * (i0(beta * Math.sqrt(1 - r * r)) / i0(beta));
  };
  const n = Math.ceil((x.length * to) / from);
  const y = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const t = (j * from) / to;
    let acc = 0;
    let gain = 0;
    for (let k = Math.ceil(t - halfLength); k <= Math.floor(t + halfLength); k++) {
      const h = kernel(t - k);
      gain += h;
      if (k >= 0 && k < x.length) acc += x[k] * h;
    }
    y[j] = acc / gain;
  }
  return y;
}

const RATIOS: Array<[number, number]> = [
  [44100, 22050],
  [48000, 22050],
  [22050, 44100],
  [8000, 22050],
  [22050, 16000],
  [96000, 22050],
  [44100, 22051],
  [11025, 22050],
  [32000, 22050],
];

describe('resample: sines in the passband', () => {
  // Closed form at the new rate, same phase: any delay or gain error shows. The 10 kHz and 3.6 kHz cases sit
  // just inside the passband edge (0.907 and 0.9 of the lower Nyquist), where the ripple is largest.
  const cases: Array<[number, number, number]> = [
    [44100, 22050, 440],
    [44100, 22050, 5000],
    [44100, 22050, 10000],
    [48000, 22050, 440],
    [48000, 22050, 5000],
    [48000, 22050, 10000],
    [22050, 44100, 440],
    [22050, 44100, 5000],
    [22050, 44100, 10000],
    [8000, 22050, 440],
    [8000, 22050, 3600],
    [22050, 16000, 440],
    [22050, 16000, 5000],
    [96000, 22050, 440],
    [96000, 22050, 5000],
    [44100, 22051, 440],
    [44100, 22051, 5000],
    [44100.5, 22050, 5000],
  ];
  it.each(cases)('%d Hz -> %d Hz, %d Hz sine: matches the closed form (max error < 1e-5)', (from, to, frequency) => {
    const phase = 0.3;
    const y = resample(sine(Math.round(0.5 * from), from, frequency, phase), from, to);
    const expected = sine(y.length, to, frequency, phase);
    const m = margin(to);
    let worst = 0;
    for (let j = m; j < y.length - m; j++) worst = Math.max(worst, Math.abs(y[j] - expected[j]));
    expect(worst).toBeLessThan(1e-5);
  });
});

describe('resample: stopband and images', () => {
  // A sine above the new Nyquist must vanish (>= 100 dB down, RMS ratio).
  const aliasCases: Array<[number, number, number]> = [
    [44100, 22050, 15000],
    [44100, 22050, 11100],
    [48000, 22050, 12000],
    [48000, 22050, 20000],
    [96000, 22050, 30000],
    [22050, 16000, 9000],
    [44100, 22051, 15000],
  ];
  it.each(aliasCases)('%d Hz -> %d Hz: a %d Hz sine is attenuated by >= 100 dB', (from, to, frequency) => {
    const y = resample(sine(Math.round(0.5 * from), from, frequency, 0.1), from, to);
    const m = margin(to);
    const ratioDb = 20 * Math.log10(rms(y, m, y.length - m) / Math.SQRT1_2);
    expect(ratioDb).toBeLessThan(-100);
  });

  // Upsampling: any image of the input would remain in the residual against the exact sine.
  const imageCases: Array<[number, number, number]> = [
    [22050, 44100, 5000],
    [22050, 44100, 9000],
    [8000, 22050, 3000],
    [16000, 22050, 6000],
  ];
  it.each(imageCases)('%d Hz -> %d Hz: a %d Hz sine leaves a residual >= 100 dB down (no images)', (from, to, frequency) => {
    const y = resample(sine(Math.round(0.5 * from), from, frequency, 0.2), from, to);
    const expected = sine(y.length, to, frequency, 0.2);
    const residual = new Float64Array(y.length);
    for (let j = 0; j < y.length; j++) residual[j] = y[j] - expected[j];
    const m = margin(to);
    expect(20 * Math.log10(rms(residual, m, y.length - m) / Math.SQRT1_2)).toBeLessThan(-100);
  });
});

describe('resample: against a naive single-stage implementation of the specification', () => {
  // Whole output, edges included: checks delay compensation, zero padding at both ends and block alignment.
  // The two-stage evaluation differs from the single filter only by stage 2's ~1e-6 passband ripple; float32
  // arithmetic adds rounding noise of a few float32 ulps (~1e-7 on this unit-range noise).
  const cases = RATIOS.flatMap(([from, to]) => (['float64', 'float32'] as const).map((precision) => [from, to, precision] as const));
  it.each(cases)('%d Hz -> %d Hz on noise, %s arithmetic: max error < 1e-5', (from, to, precision) => {
    const x = seededNoise(Math.round(0.06 * from), from + to);
    const y = resample(x, from, to, { precision });
    const reference = naiveResample(x, from, to);
    expect(y.length).toBe(reference.length);
    let worst = 0;
    for (let j = 0; j < y.length; j++) worst = Math.max(worst, Math.abs(y[j] - reference[j]));
    expect(worst).toBeLessThan(1e-5);
  });
});

describe('resample: float32 arithmetic (the default, as soxr HQ)', () => {
  it.each(RATIOS)('%d Hz -> %d Hz: every output is a float32 value', (from, to) => {
    const y = resample(seededNoise(Math.round(0.05 * from), 3 * from + to), from, to);
    const firstNot32 = y.findIndex((v) => Math.fround(v) !== v);
    expect(firstNot32).toBe(-1);
  });

  // The point of float32 arithmetic: its rounding noise is white at ~eps·RMS (eps = 2^-24), as soxr's
  // single-precision engine leaves it, and fills bands the signal leaves empty. Measured as the RMS of the
  // float32 output minus the float64 one, for a 440 Hz sine of RMS 0.35: at least a tenth of an ulp-level
  // floor (so the float32 path really rounds) and at most 30 (so it does not add gross error).
  it.each([
    [44100, 22050],
    [48000, 22050],
    [22050, 44100],
  ])('%d Hz -> %d Hz: float32 minus float64 is a rounding floor of 0.1–30 eps·RMS', (from, to) => {
    const x = new Float64Array(Math.round(0.5 * from));
    for (let i = 0; i < x.length; i++) x[i] = Math.fround(0.5 * Math.sin((2 * Math.PI * 440 * i) / from));
    const single = resample(x, from, to);
    const double = resample(x, from, to, { precision: 'float64' });
    const difference = new Float64Array(single.length);
    for (let j = 0; j < single.length; j++) difference[j] = single[j] - double[j];
    const m = margin(to);
    const floor = rms(difference, m, single.length - m) / (rms(double, m, single.length - m) * 2 ** -24);
    expect(floor).toBeGreaterThan(0.1);
    expect(floor).toBeLessThan(30);
  });
});

describe('resample: length', () => {
  it.each(RATIOS)('%d Hz -> %d Hz: ceil(n * to / from) samples for many n', (from, to) => {
    const lengths = [0, 1, 2, 3, 5, 7, 31, 100, 441, 1000, 1023, 4096, 4097, 12345];
    for (const n of lengths) {
      expect(resample(new Float64Array(n), from, to).length, `n=${n}`).toBe(exactCeil(n, from, to));
    }
  });
});

describe('resample: DC', () => {
  // Unit DC gain: exact to 1e-9 in float64; in float32, within the coefficients' and sums' rounding (1e-6).
  const cases = RATIOS.flatMap(([from, to]) => [[from, to, 'float64', 1e-9] as const, [from, to, 'float32', 1e-6] as const]);
  it.each(cases)('%d Hz -> %d Hz, %s: a constant stays constant in the interior (%d)', (from, to, precision, tolerance) => {
    const x = new Float64Array(Math.round(0.3 * from)).fill(0.7);
    const y = resample(x, from, to, { precision });
    const m = margin(to);
    let worst = 0;
    for (let j = m; j < y.length - m; j++) worst = Math.max(worst, Math.abs(y[j] - 0.7));
    expect(worst).toBeLessThan(tolerance);
  });
});

describe('Resampler: streaming', () => {
  const cases = RATIOS.flatMap(([from, to]) => (['float32', 'float64'] as ResamplerPrecision[]).map((precision) => [from, to, precision] as const));
  it.each(cases)('%d Hz -> %d Hz, %s: random chunkings equal the one-shot result bit for bit', (from, to, precision) => {
    const x = seededNoise(Math.round(0.15 * from), 7 * from + to);
    const oneShot = resample(x, from, to, { precision });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        const resampler = new Resampler(from, to, { precision });
        const parts: Float64Array[] = [];
        let offset = 0;
        for (let i = 0; offset < x.length; i++) {
          const size = sizes[i % sizes.length] + (i >= sizes.length ? 1 : 0); // always progresses eventually
          parts.push(resampler.process(x.subarray(offset, Math.min(offset + size, x.length))));
          offset += size;
        }
        parts.push(resampler.flush());
        expect(firstMismatch(concat(parts), oneShot)).toBe(-1);
      }),
      { numRuns: 15, seed: from + to },
    );
  });

  it('takes Float32Array input the same as the equal Float64Array', () => {
    const x32 = Float32Array.from(seededNoise(5000, 3));
    expect(firstMismatch(resample(x32, 48000, 22050), resample(Float64Array.from(x32), 48000, 22050))).toBe(-1);
  });

  it('one sample at a time equals one-shot', () => {
    const x = seededNoise(3000, 11);
    const resampler = new Resampler(44100, 22050);
    const parts: Float64Array[] = [];
    for (let i = 0; i < x.length; i++) parts.push(resampler.process(x.subarray(i, i + 1)));
    parts.push(resampler.flush());
    expect(firstMismatch(concat(parts), resample(x, 44100, 22050))).toBe(-1);
  });

  it('refuses process() after flush()', () => {
    const resampler = new Resampler(44100, 22050);
    resampler.flush();
    expect(() => resampler.process(new Float64Array(4))).toThrow(SpotmlError);
  });
});

describe('resample: same rate and errors', () => {
  it('same rate returns an equal copy', () => {
    const x = Float32Array.from(seededNoise(1000, 5));
    const y = resample(x, 22050, 22050);
    expect(y).toBeInstanceOf(Float64Array);
    expect(firstMismatch(y, Float64Array.from(x))).toBe(-1);
    const streaming = new Resampler(22050, 22050);
    const copy = Float64Array.from(x);
    const out = streaming.process(copy);
    expect(out).not.toBe(copy);
    expect(streaming.flush().length).toBe(0);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects rate %d with a USAGE error', (rate) => {
    expect(() => resample(new Float64Array(10), rate, 22050)).toThrow(SpotmlError);
    expect(() => new Resampler(44100, rate)).toThrow(/toRate/);
    try {
      resample(new Float64Array(10), rate, 22050);
    } catch (err) {
      expect((err as SpotmlError).code).toBe('USAGE');
    }
  });

  it('rejects a passband outside (0, 1), a non-positive attenuation and an unknown precision', () => {
    expect(() => new Resampler(44100, 22050, { passband: 1 })).toThrow(/passband/);
    expect(() => new Resampler(44100, 22050, { attenuationDb: 0 })).toThrow(/attenuationDb/);
    expect(() => new Resampler(44100, 22050, { precision: 'float16' as ResamplerPrecision })).toThrow(/precision/);
  });
});
