/**
 * Band-limited sample-rate conversion standing in for librosa's default (soxr 'HQ'): a linear-phase
 * Kaiser-windowed-sinc low-pass with passband edge 0.9136 × the lower Nyquist, stopband at that Nyquist and
 * ~126.4 dB attenuation (soxr's HQ recipe for 20 bits), delay-compensated (output sample j is the signal at time j / toRate) and trimmed or
 * padded to librosa's length ceil(n · (to / from)). The signal is taken as zero outside [0, n).
 *
 * Run in two stages, as soxr does, because the sharp filter is long (~380 taps at 44.1 kHz → 22.05 kHz) and
 * evaluating it directly per output sample is several times slower than by FFT:
 * 1. the sharp low-pass by FFT overlap-save, at the input rate (keeping every 2nd/4th… output when that
 *    still leaves stage 2 room, or lands exactly on the target: 44.1 kHz → 22.05 kHz ends here), or on the
 *    signal zero-stuffed to 2×/4×… when upsampling, so that stage 2 has a transition band to work in;
 * 2. a short polyphase interpolator (~16–34 taps) that is flat to ~1e-6 over the band stage 1 passes and
 *    as far down from the first image on, evaluated as a tight dot product per output sample. It uses an
 *    exact table of L phases when the reduced ratio L/M allows, otherwise a fine table
 *    (INTERPOLATED_PHASES rows) with linear interpolation between neighbouring rows.
 * The overall response is stage 1's to within ~1e-6.
 *
 * Arithmetic is float32 by default, as in soxr's HQ recipe (its precision of 20 bits selects soxr's
 * single-precision engine) and librosa's float32 signal: every FFT butterfly, spectrum product and
 * stage 2 accumulation is rounded to float32. This is not about accuracy (float64 is ~1e-9 closer to the
 * ideal filter) but about the noise floor: where a band holds no signal (the top bins of a pure sine), the
 * spectrum there is the arithmetic's rounding noise, ~eps · RMS, and features such as spectral contrast read
 * it. `precision: 'float64'` keeps the exact float64 evaluation.
 *
 * Streaming equals one-shot bit for bit: FFT blocks sit at fixed absolute positions and each output is
 * the same arithmetic on the same samples, however the input was chunked.
 */
import { SpotmlError } from '../errors.js';
import { RealFft } from './fft.js';

export interface ResamplerOptions {
  /** stopband attenuation dB, default DEFAULT_ATTENUATION_DB (126.4) */
  attenuationDb?: number;
  /** passband edge as a fraction of the output (or input, when downsampling: of the lower) Nyquist, default DEFAULT_PASSBAND (0.91363) */
  passband?: number;
  /** arithmetic of the filter, default 'float32' (soxr HQ's single-precision engine; see the file comment) */
  precision?: ResamplerPrecision;
}

export type ResamplerPrecision = 'float32' | 'float64';

type Samples = Float32Array | Float64Array;

/** soxr HQ: 20 bits of precision plus one for pass + stop, (20 + 1) · 20·log10(2) ≈ 126.4 dB. */
export const DEFAULT_ATTENUATION_DB = 21 * 20 * Math.log10(2);
/** soxr HQ's passband end for 20-bit precision, 0.91363 of Nyquist (soxr.h rounds it to 0.913). */
export const DEFAULT_PASSBAND = 0.91363;
export const DEFAULT_PRECISION: ResamplerPrecision = 'float32';

/** Beyond this many exact phases the table costs memory for nothing: interpolate a fine table instead. */
const MAX_EXACT_PHASES = 4096;
/**
 * Rows of the interpolated table. All taps of one output share the interpolation weight, so the error is
 * a tiny multiple of the kernel's second derivative: ~1e-7 passband gain change, stopband unchanged.
 */
const INTERPOLATED_PHASES = 1024;
/** Stage 2 needs a transition band of at least this fraction of its input rate; stage 1 upsamples until it has one. */
const MIN_STAGE2_TRANSITION = 0.25;

/** librosa's output length: ceil(n · ratio) with the ratio rounded first, exactly as `librosa.resample` computes it. */
export function resampledLength(inputLength: number, fromRate: number, toRate: number): number {
  if (inputLength === 0) return 0;
  if (fromRate === toRate) return inputLength;
  return Math.ceil(inputLength * (toRate / fromRate));
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for the betas used here). */
function besselI0(x: number): number {
  const quarterSquare = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 1000; k++) {
    term *= quarterSquare / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser's empirical window parameter for a stopband attenuation in dB. */
function kaiserBeta(attenuationDb: number): number {
  if (attenuationDb > 50) return 0.1102 * (attenuationDb - 8.7);
  if (attenuationDb >= 21) return 0.5842 * (attenuationDb - 21) ** 0.4 + 0.07886 * (attenuationDb - 21);
  return 0;
}

/** A continuous Kaiser-windowed-sinc low-pass, in units of the samples it is applied to. */
interface Lowpass {
  /** Centre of the transition band, cycles per sample. */
  cutoff: number;
  /** Zero for |t| >= halfLength samples. */
  halfLength: number;
  beta: number;
  i0Beta: number;
}

/** Kaiser's design: band edges in cycles per sample, order from the transition width and attenuation. */
function kaiserLowpass(passEdge: number, stopEdge: number, attenuationDb: number): Lowpass {
  const deltaOmega = 2 * Math.PI * (stopEdge - passEdge);
  // Kaiser's formula gives the order N (taps − 1); below 21 dB the rectangular-window figure applies.
  const order = attenuationDb > 21 ? (attenuationDb - 7.95) / (2.285 * deltaOmega) : 5.79 / deltaOmega;
  const beta = kaiserBeta(attenuationDb);
  return { cutoff: (passEdge + stopEdge) / 2, halfLength: Math.max(order / 2, 1), beta, i0Beta: besselI0(beta) };
}

function lowpassAt(filter: Lowpass, t: number): number {
  const r = t / filter.halfLength;
  if (r <= -1 || r >= 1) return 0;
  const window = besselI0(filter.beta * Math.sqrt(1 - r * r)) / filter.i0Beta;
  const u = 2 * filter.cutoff * t;
  const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
  return 2 * filter.cutoff * sinc * window;
}

/**
 * Stage 2 coefficients. Row p serves an output at position q + p / phaseDenominator (in stage-2 input
 * samples); tap i multiplies sample q − (half − 1) + i. Each row sums to exactly 1 (unit DC gain).
 */
function polyphaseTable(filter: Lowpass, half: number, rows: number, phaseDenominator: number): Float64Array {
  const taps = 2 * half;
  const table = new Float64Array(rows * taps);
  for (let p = 0; p < rows; p++) {
    const fraction = p / phaseDenominator;
    const offset = p * taps;
    let sum = 0;
    for (let i = 0; i < taps; i++) {
      const value = lowpassAt(filter, half - 1 - i + fraction);
      table[offset + i] = value;
      sum += value;
    }
    for (let i = 0; i < taps; i++) table[offset + i] /= sum;
  }
  return table;
}

function greatestCommonDivisor(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function nextPowerOfTwo(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

function checkRate(name: string, rate: number): void {
  if (!Number.isFinite(rate) || rate <= 0) {
    throw new SpotmlError('USAGE', `${name} must be a positive, finite number of Hz (got ${rate}); pass a real sample rate such as 22050`, { [name]: rate });
  }
}

function checkOptions(options: ResamplerOptions): void {
  const { attenuationDb, passband, precision } = options;
  if (precision !== undefined && precision !== 'float32' && precision !== 'float64') {
    throw new SpotmlError('USAGE', `resampler precision must be 'float32' or 'float64' (got ${String(precision)}); the default is ${DEFAULT_PRECISION}`, { precision });
  }
  if (attenuationDb !== undefined && !(Number.isFinite(attenuationDb) && attenuationDb > 0 && attenuationDb <= 300)) {
    throw new SpotmlError('USAGE', `resampler attenuationDb must be in (0, 300] dB (got ${attenuationDb}); the default is ${DEFAULT_ATTENUATION_DB}`, { attenuationDb });
  }
  if (passband !== undefined && !(Number.isFinite(passband) && passband > 0 && passband < 1)) {
    throw new SpotmlError('USAGE', `resampler passband must be in (0, 1) of the lower Nyquist (got ${passband}); the default is ${DEFAULT_PASSBAND}`, { passband });
  }
}

/** Dot product of `taps` coefficients from table[offset] with buffer[start…]: the stage 2 hot loop. */
function dot(buffer: Float64Array, start: number, table: Float64Array, offset: number, taps: number): number {
  let a0 = 0;
  let a1 = 0;
  let i = 0;
  const pairsEnd = taps - 1;
  for (; i < pairsEnd; i += 2) {
    a0 += buffer[start + i] * table[offset + i];
    a1 += buffer[start + i + 1] * table[offset + i + 1];
  }
  if (i < taps) a0 += buffer[start + i] * table[offset + i];
  return a0 + a1;
}

/** `dot` in float32 arithmetic: each product and each partial sum rounded, as a float FIR loop computes it. */
function dot32(buffer: Float32Array, start: number, table: Float32Array, offset: number, taps: number): number {
  const round = Math.fround;
  let sum = 0;
  for (let i = 0; i < taps; i++) sum = round(sum + round(buffer[start + i] * table[offset + i]));
  return sum;
}

/** `interpolatedDot` in float32 arithmetic. */
function interpolatedDot32(buffer: Float32Array, start: number, table: Float32Array, offset0: number, taps: number, weight: number): number {
  const round = Math.fround;
  const offset1 = offset0 + taps;
  let a = 0;
  let b = 0;
  for (let i = 0; i < taps; i++) {
    const x = buffer[start + i];
    a = round(a + round(x * table[offset0 + i]));
    b = round(b + round(x * table[offset1 + i]));
  }
  return round(a + round(round(weight) * round(b - a)));
}

/** Rows row and row + 1 of the interpolated table against the same samples: row0·x + weight·(row1·x − row0·x). */
function interpolatedDot(buffer: Float64Array, start: number, table: Float64Array, offset0: number, taps: number, weight: number): number {
  const offset1 = offset0 + taps;
  let a = 0;
  let b = 0;
  for (let i = 0; i < taps; i++) {
    const x = buffer[start + i];
    a += x * table[offset0 + i];
    b += x * table[offset1 + i];
  }
  return a + weight * (b - a);
}


/** What stage 1 needs of a real FFT: numpy.fft.rfft's convention, N/2 + 1 bins out. */
interface RealTransform {
  forward(input: Samples, outRe: Samples, outIm: Samples): void;
}

/**
 * A real FFT in float32 arithmetic (every product and sum rounded to float32, twiddles rounded once), so that
 * stage 1 has the rounding noise of soxr's single-precision FFT. Plain radix-2: the N reals packed as N/2
 * complex values, an iterative decimation-in-time transform, then the split into the real spectrum.
 */
class Float32RealFft implements RealTransform {
  private readonly half: number;
  private readonly reversed: Uint32Array;
  /** e^{-2πik/M} for k < M/2 (M = N/2), float32. */
  private readonly twiddleRe: Float32Array;
  private readonly twiddleIm: Float32Array;
  /** e^{-2πik/N} for k <= M, float32: the split step's twiddle. */
  private readonly splitRe: Float32Array;
  private readonly splitIm: Float32Array;
  private readonly workRe: Float32Array;
  private readonly workIm: Float32Array;

  constructor(size: number) {
    const half = size / 2;
    this.half = half;
    const bits = Math.round(Math.log2(half));
    this.reversed = new Uint32Array(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.reversed[i] = r;
    }
    this.twiddleRe = new Float32Array(Math.max(half / 2, 1));
    this.twiddleIm = new Float32Array(Math.max(half / 2, 1));
    for (let k = 0; k < half / 2; k++) {
      this.twiddleRe[k] = Math.cos((2 * Math.PI * k) / half);
      this.twiddleIm[k] = -Math.sin((2 * Math.PI * k) / half);
    }
    this.splitRe = new Float32Array(half + 1);
    this.splitIm = new Float32Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.splitRe[k] = Math.cos((2 * Math.PI * k) / size);
      this.splitIm[k] = -Math.sin((2 * Math.PI * k) / size);
    }
    this.workRe = new Float32Array(half);
    this.workIm = new Float32Array(half);
  }

  forward(input: Samples, outRe: Samples, outIm: Samples): void {
    const round = Math.fround;
    const { half, reversed, twiddleRe, twiddleIm, workRe: re, workIm: im } = this;
    for (let n = 0; n < half; n++) {
      re[reversed[n]] = input[2 * n];
      im[reversed[n]] = input[2 * n + 1];
    }
    for (let length = 2; length <= half; length *= 2) {
      const span = length / 2;
      const stride = half / length;
      for (let start = 0; start < half; start += length) {
        for (let j = 0; j < span; j++) {
          const wr = twiddleRe[j * stride];
          const wi = twiddleIm[j * stride];
          const a = start + j;
          const b = a + span;
          const br = re[b];
          const bi = im[b];
          const tr = round(round(wr * br) - round(wi * bi));
          const ti = round(round(wr * bi) + round(wi * br));
          const ar = re[a];
          const ai = im[a];
          re[b] = ar - tr; // the Float32Array store rounds the sum
          im[b] = ai - ti;
          re[a] = ar + tr;
          im[a] = ai + ti;
        }
      }
    }
    // X[k] = E[k] + e^{-2πik/N} · O[k], E = (Z[k] + conj Z[M−k]) / 2, O = (Z[k] − conj Z[M−k]) / 2i.
    for (let k = 0; k <= half; k++) {
      const p = k % half;
      const q = (half - k) % half;
      const evenRe = round(0.5 * round(re[p] + re[q]));
      const evenIm = round(0.5 * round(im[p] - im[q]));
      const oddRe = round(0.5 * round(im[p] + im[q]));
      const oddIm = round(-0.5 * round(re[p] - re[q]));
      const wr = this.splitRe[k];
      const wi = this.splitIm[k];
      outRe[k] = round(evenRe + round(round(wr * oddRe) - round(wi * oddIm)));
      outIm[k] = round(evenIm + round(round(wr * oddIm) + round(wi * oddRe)));
    }
  }
}

/**
 * Stage 1: the sharp zero-phase low-pass by FFT overlap-save, at `upsample` × the input rate on the
 * zero-stuffed input, keeping every `decimate`-th output (decimation is exact: the spectrum is folded
 * before a smaller inverse transform). Positions are absolute "stuffed" indices (input index × upsample);
 * a block covers the outputs [blockStart, blockStart + hop) and reads stuffed input from blockStart − half,
 * so blocks never depend on how the input was chunked.
 */
class OverlapSaveLowpass {
  private readonly upsample: number;
  private readonly decimate: number;
  private readonly half: number;
  private readonly size: number;
  private readonly hop: number;
  /** Outputs per block after decimation. */
  readonly outputHop: number;
  private readonly fft: RealTransform;
  private readonly inverseFft: RealTransform;
  /** Transform of the input samples alone when upsampling (the stuffed zeros only repeat the spectrum). */
  private readonly compactFft: RealTransform;
  /** Float32Array throughout in float32 precision: every store rounds, as soxr's float buffers do. */
  private readonly kernelRe: Samples;
  private readonly kernelIm: Samples;
  private readonly frame: Samples;
  private readonly spectrumRe: Samples;
  private readonly spectrumIm: Samples;
  private readonly folded: Samples;
  /** The last block's outputs, [0, outputHop). */
  readonly output: Samples;

  /** Raw input not yet consumed; input[0] is absolute input index inputStart. */
  private input = new Float64Array(1 << 14);
  private inputStart = 0;
  private inputLength = 0;
  private blockStart: number;

  /** `firstOutput` is the index (at the decimated rate) of the first output wanted. */
  constructor(filter: Lowpass, upsample: number, decimate: number, firstOutput: number, single: boolean) {
    this.upsample = upsample;
    this.decimate = decimate;
    // Taps at m / upsample input samples, |m| <= half; half and the first block's start are multiples of
    // upsample · decimate (one of them is 1) so every block starts on an input sample and a kept output.
    const align = upsample * decimate;
    this.half = Math.ceil(Math.ceil(filter.halfLength * upsample) / align) * align;
    this.size = Math.max(1024, nextPowerOfTwo(8 * this.half));
    this.hop = this.size - 2 * this.half;
    this.outputHop = this.hop / decimate;
    const transform = (size: number): RealTransform => (single ? new Float32RealFft(size) : new RealFft(size));
    const samples = (length: number): Samples => (single ? new Float32Array(length) : new Float64Array(length));
    this.fft = transform(this.size);
    this.inverseFft = decimate === 1 ? this.fft : transform(this.size / decimate);
    this.compactFft = upsample === 1 ? this.fft : transform(this.size / upsample);
    const bins = this.size / 2 + 1;

    // Each of the `upsample` phases of the kernel sums to 1: unit DC gain on the zero-stuffed input.
    const taps = new Float64Array(2 * this.half + 1);
    const phaseSums = new Float64Array(upsample);
    const phaseOf = (m: number): number => ((m % upsample) + upsample) % upsample;
    for (let m = -this.half; m <= this.half; m++) {
      taps[m + this.half] = lowpassAt(filter, m / upsample);
      phaseSums[phaseOf(m)] += taps[m + this.half];
    }
    // The kernel's spectrum is computed exactly, then stored (rounded) like the rest: soxr keeps float coefficients.
    const wrapped = new Float64Array(this.size);
    for (let m = -this.half; m <= this.half; m++) wrapped[(m + this.size) % this.size] = taps[m + this.half] / phaseSums[phaseOf(m)];
    const exactRe = new Float64Array(bins);
    const exactIm = new Float64Array(bins);
    new RealFft(this.size).forward(wrapped, exactRe, exactIm);
    this.kernelRe = single ? Float32Array.from(exactRe) : exactRe;
    this.kernelIm = single ? Float32Array.from(exactIm) : exactIm;

    this.frame = samples(this.size / upsample);
    this.spectrumRe = samples(bins);
    this.spectrumIm = samples(bins);
    this.folded = samples(this.size / decimate);
    this.output = samples(this.outputHop);
    this.blockStart = Math.floor(firstOutput / upsample) * upsample * decimate;
  }

  push(samples: Float32Array | Float64Array): void {
    if (this.inputLength + samples.length > this.input.length) {
      const firstNeeded = Math.floor((this.blockStart - this.half) / this.upsample);
      const keepFrom = Math.min(Math.max(firstNeeded - this.inputStart, 0), this.inputLength);
      const kept = this.inputLength - keepFrom;
      if (kept + samples.length > this.input.length) {
        const grown = new Float64Array(Math.max(2 * this.input.length, kept + samples.length));
        grown.set(this.input.subarray(keepFrom, this.inputLength));
        this.input = grown;
      } else {
        this.input.copyWithin(0, keepFrom, this.inputLength);
      }
      this.inputStart += keepFrom;
      this.inputLength = kept;
    }
    this.input.set(samples, this.inputLength);
    this.inputLength += samples.length;
  }

  /** How many further blocks have all their input once `received` input samples have arrived. */
  blocksReady(received: number): number {
    // A block is ready when its last stuffed input index maps below `received`.
    const lastStuffed = this.blockStart - this.half + this.size - 1;
    const limit = received * this.upsample - 1;
    if (lastStuffed > limit) return 0;
    return Math.floor((limit - lastStuffed) / this.hop) + 1;
  }

  /** Index (stage-1 rate) of the first output: at or before the `firstOutput` asked for. */
  get firstOutput(): number {
    return this.blockStart / this.decimate;
  }

  /** Index (stage-1 rate) one past the last output produced so far. */
  get outputEnd(): number {
    return this.blockStart / this.decimate;
  }

  /** Filters the next block into output[0, outputHop) and advances; input at or beyond `received` reads as zero. */
  runBlock(received: number): void {
    const { frame, upsample, size, input } = this;
    // The frame holds the input samples of the block; with upsampling the stuffed zeros are left out and
    // the spectrum of the stuffed block is the compact spectrum repeated `upsample` times.
    const firstInput = (this.blockStart - this.half) / upsample;
    const compact = size / upsample;
    frame.fill(0);
    const from = Math.max(firstInput, 0);
    const to = Math.min(firstInput + compact, received);
    for (let i = from; i < to; i++) frame[i - firstInput] = input[i - this.inputStart];

    const re = this.spectrumRe;
    const im = this.spectrumIm;
    this.compactFft.forward(frame, re, im);
    const bins = size / 2;
    if (upsample > 1) {
      const compactHalf = compact / 2;
      // In place: bin k > compact/2 copies a bin <= compact/2 (or its conjugate), which is never overwritten.
      for (let k = bins; k > compactHalf; k--) {
        const source = k % compact;
        if (source <= compactHalf) {
          re[k] = re[source];
          im[k] = im[source];
        } else {
          re[k] = re[compact - source];
          im[k] = -im[compact - source];
        }
      }
    }
    for (let k = 0; k <= bins; k++) {
      const yr = re[k] * this.kernelRe[k] - im[k] * this.kernelIm[k];
      const yi = re[k] * this.kernelIm[k] + im[k] * this.kernelRe[k];
      re[k] = yr;
      im[k] = yi;
    }

    // Fold the spectrum for decimation (Z[k] = Σ_a Y[k + a·N/D], the upper half read as conjugates), then
    // invert with the forward transform: for a Hermitian Z of size n, z = (Re + Im)(FFT(Re Z + Im Z)) / n
    // on [0, n/2] and (Re − Im) on the mirror. Scaling by 1/size (not 1/n) completes the decimation.
    const n = size / this.decimate;
    const folded = this.folded;
    const foldedHalf = n / 2;
    for (let k = 0; k <= foldedHalf; k++) {
      let zr = 0;
      let zi = 0;
      for (let source = k; source < size; source += n) {
        if (source <= bins) {
          zr += re[source];
          zi += im[source];
        } else {
          zr += re[size - source];
          zi -= im[size - source];
        }
      }
      if (k === 0 || k === foldedHalf) {
        folded[k] = zr; // real by symmetry; drop rounding residue
      } else {
        folded[k] = zr + zi;
        folded[n - k] = zr - zi;
      }
    }
    this.inverseFft.forward(folded, re, im);
    const out = this.output;
    const scale = 1 / size;
    const first = this.half / this.decimate;
    for (let i = 0; i < this.outputHop; i++) {
      const t = first + i;
      out[i] = t <= foldedHalf ? (re[t] + im[t]) * scale : (re[n - t] - im[n - t]) * scale;
    }
    this.blockStart += this.hop;
  }
}

/** Rates that stage 1 can reach exactly: the input rate times a power of two (up) or over one (down). */
interface StagePlan {
  upsample: number;
  decimate: number;
}

/**
 * Picks stage 1's output rate: the lowest one from which stage 2 is either a copy (the rates match) or
 * has a transition band of at least MIN_STAGE2_TRANSITION between the band edge and the first image.
 */
function planStages(fromRate: number, toRate: number): StagePlan {
  const bandEdge = Math.min(fromRate, toRate) / 2;
  const roomy = (rate: number): boolean => rate === toRate || (rate - 2 * bandEdge) / rate >= MIN_STAGE2_TRANSITION;
  let best: StagePlan | null = null;
  for (let decimate = 1; fromRate / decimate >= 2 * bandEdge; decimate *= 2) {
    if (roomy(fromRate / decimate)) best = { upsample: 1, decimate };
  }
  if (best !== null) return best;
  let upsample = 2;
  while (!roomy(fromRate * upsample)) upsample *= 2;
  return { upsample, decimate: 1 };
}

/**
 * Streaming resampler. Push chunks of any size with `process`, then call `flush` once for the tail; the
 * concatenated outputs equal `resample` on the whole signal bit for bit.
 */
export class Resampler {
  private readonly fromRate: number;
  private readonly toRate: number;
  private readonly stage1: OverlapSaveLowpass | null = null;
  /** Stage-1 samples per input sample. */
  private readonly stage1PerInput: number = 1;

  /** Stage 2 step in stage-1 samples: M / L reduced, tracked as whole part and remainder (integer rates). */
  private readonly integerRates: boolean = false;
  private readonly stepDenominator: number = 1;
  private readonly stepWhole: number = 0;
  private readonly stepRemainder: number = 0;
  /** Stage-1 samples per output, for rates that are not whole numbers. */
  private readonly samplesPerOutput: number = 1;
  private readonly exactTable: boolean = false;
  private readonly half: number = 0;
  private readonly taps: number = 0;
  private readonly table: Samples = new Float64Array(0);
  /** Float32 arithmetic (table, buffer and stage 2 sums in float32); see the file comment. */
  private readonly single: boolean = true;

  /** Stage-1 output not yet consumed; buffer[0] is absolute stage-1 index bufferStart. */
  private buffer: Samples = new Float64Array(0);
  private bufferStart = 0;
  private bufferLength = 0;
  private inputLength = 0;
  /** Next output index and its stage-1 position: q + remainder / L (integer rates) or q + fraction. */
  private outputIndex = 0;
  private position = 0;
  private remainder = 0;
  private fraction = 0;
  private flushed = false;

  constructor(fromRate: number, toRate: number, options: ResamplerOptions = {}) {
    checkRate('fromRate', fromRate);
    checkRate('toRate', toRate);
    checkOptions(options);
    this.fromRate = fromRate;
    this.toRate = toRate;
    if (fromRate === toRate) return;

    const attenuationDb = options.attenuationDb ?? DEFAULT_ATTENUATION_DB;
    const passband = options.passband ?? DEFAULT_PASSBAND;
    this.single = (options.precision ?? DEFAULT_PRECISION) === 'float32';
    const bandEdge = Math.min(fromRate, toRate) / 2;
    const plan = planStages(fromRate, toRate);
    const stage1Rate = (fromRate * plan.upsample) / plan.decimate;
    this.stage1PerInput = plan.upsample / plan.decimate;

    this.integerRates = Number.isSafeInteger(stage1Rate) && Number.isSafeInteger(toRate);
    this.samplesPerOutput = stage1Rate / toRate;
    if (stage1Rate === toRate) {
      // Stage 2 is a copy: one tap of 1 (the second, 0, keeps the loop shape).
      this.half = 1;
      this.taps = 2;
      this.table = Float64Array.of(1, 0);
      this.exactTable = true;
      this.stepWhole = 1;
    } else {
      // Flat over what stage 1 passes, [0, bandEdge]; stopband from the first image, stage1Rate − bandEdge.
      const interpolator = kaiserLowpass(bandEdge / stage1Rate, (stage1Rate - bandEdge) / stage1Rate, attenuationDb);
      this.half = Math.ceil(interpolator.halfLength);
      this.taps = 2 * this.half;
      if (this.integerRates) {
        const divisor = greatestCommonDivisor(stage1Rate, toRate);
        this.stepDenominator = toRate / divisor;
        this.stepWhole = Math.floor(stage1Rate / divisor / this.stepDenominator);
        this.stepRemainder = (stage1Rate / divisor) % this.stepDenominator;
        this.exactTable = this.stepDenominator <= MAX_EXACT_PHASES;
      }
      this.table = this.exactTable
        ? polyphaseTable(interpolator, this.half, this.stepDenominator, this.stepDenominator)
        : polyphaseTable(interpolator, this.half, INTERPOLATED_PHASES + 1, INTERPOLATED_PHASES);
    }
    if (this.single) this.table = Float32Array.from(this.table);

    // Stage 1 starts where the first output's leftmost tap reads (the filtered signal rings before t = 0).
    const sharp = kaiserLowpass((passband * bandEdge) / fromRate, bandEdge / fromRate, attenuationDb);
    const firstNeeded = -(this.half - 1);
    this.stage1 = new OverlapSaveLowpass(sharp, plan.upsample, plan.decimate, firstNeeded, this.single);
    this.buffer = this.samples(4 * this.stage1.outputHop + 2 * this.taps);
    this.bufferStart = this.stage1.firstOutput;
  }

  process(input: Float32Array | Float64Array): Float64Array {
    if (this.flushed) throw new SpotmlError('USAGE', 'Resampler.process called after flush(); create a new Resampler for the next signal');
    const stage1 = this.stage1;
    if (stage1 === null) {
      this.inputLength += input.length;
      return Float64Array.from(input);
    }
    const blocks = stage1.blocksReady(this.inputLength + input.length);
    const out = new Float64Array(this.countReady(Number.POSITIVE_INFINITY, stage1.outputEnd + blocks * stage1.outputHop - 1));
    // Feed the input a block's worth at a time so the buffers stay small (and in cache).
    const slice = Math.max(1, Math.floor(stage1.outputHop / this.stage1PerInput));
    let written = 0;
    for (let offset = 0; offset < input.length; offset += slice) {
      const part = input.subarray(offset, Math.min(offset + slice, input.length));
      stage1.push(part);
      this.inputLength += part.length;
      for (let b = stage1.blocksReady(this.inputLength); b > 0; b--) written = this.runStage1Block(stage1, out, written, Number.POSITIVE_INFINITY);
    }
    return out;
  }

  flush(): Float64Array {
    if (this.flushed) return new Float64Array(0);
    this.flushed = true;
    const stage1 = this.stage1;
    if (stage1 === null) return new Float64Array(0);
    const total = resampledLength(this.inputLength, this.fromRate, this.toRate);
    const out = new Float64Array(total - this.outputIndex);
    let written = 0;
    while (this.outputIndex < total) written = this.runStage1Block(stage1, out, written, total);
    this.buffer = this.samples(0);
    return out;
  }

  /** Runs one stage-1 block (input beyond what arrived reads as zero), then every stage-2 output it completes. */
  private runStage1Block(stage1: OverlapSaveLowpass, out: Float64Array, written: number, limit: number): number {
    stage1.runBlock(this.inputLength);
    this.append(stage1.output);
    return this.drainInto(out, written, limit, this.bufferStart + this.bufferLength - 1);
  }

  /** Appends stage-1 output, dropping samples no future output reads. */
  private samples(length: number): Samples {
    return this.single ? new Float32Array(length) : new Float64Array(length);
  }

  private append(samples: Samples): void {
    if (this.bufferLength + samples.length > this.buffer.length) {
      const keepFrom = Math.min(Math.max(this.position - (this.half - 1) - this.bufferStart, 0), this.bufferLength);
      const kept = this.bufferLength - keepFrom;
      if (kept + samples.length > this.buffer.length) {
        const grown = this.samples(Math.max(2 * this.buffer.length, kept + samples.length));
        grown.set(this.buffer.subarray(keepFrom, this.bufferLength));
        this.buffer = grown;
      } else {
        this.buffer.copyWithin(0, keepFrom, this.bufferLength);
      }
      this.bufferStart += keepFrom;
      this.bufferLength = kept;
    }
    this.buffer.set(samples, this.bufferLength);
    this.bufferLength += samples.length;
  }

  /** Counts the outputs below index `limit` whose taps all lie at or before stage-1 index `lastIndex`. */
  private countReady(limit: number, lastIndex: number): number {
    let count = 0;
    let index = this.outputIndex;
    let position = this.position;
    let remainder = this.remainder;
    while (index < limit && position + this.half <= lastIndex) {
      count++;
      index++;
      if (this.integerRates) {
        position += this.stepWhole;
        remainder += this.stepRemainder;
        if (remainder >= this.stepDenominator) {
          remainder -= this.stepDenominator;
          position++;
        }
      } else {
        position = Math.floor(index * this.samplesPerOutput);
      }
    }
    return count;
  }

  /** Computes outputs below index `limit` whose taps all lie at or before stage-1 index `lastIndex`; returns the new offset. */
  private drainInto(out: Float64Array, offset: number, limit: number, lastIndex: number): number {
    const { buffer, table, taps, half } = this;
    let j = offset;
    while (this.outputIndex < limit && this.position + half <= lastIndex) {
      const start = this.position - (half - 1) - this.bufferStart;
      if (this.exactTable) {
        const offset = this.remainder * taps;
        out[j++] = this.single
          ? dot32(buffer as Float32Array, start, table as Float32Array, offset, taps)
          : dot(buffer as Float64Array, start, table as Float64Array, offset, taps);
      } else {
        const fraction = this.integerRates ? this.remainder / this.stepDenominator : this.fraction;
        const scaled = fraction * INTERPOLATED_PHASES;
        const row = Math.min(Math.floor(scaled), INTERPOLATED_PHASES - 1);
        out[j++] = this.single
          ? interpolatedDot32(buffer as Float32Array, start, table as Float32Array, row * taps, taps, scaled - row)
          : interpolatedDot(buffer as Float64Array, start, table as Float64Array, row * taps, taps, scaled - row);
      }
      this.outputIndex++;
      if (this.integerRates) {
        this.position += this.stepWhole;
        this.remainder += this.stepRemainder;
        if (this.remainder >= this.stepDenominator) {
          this.remainder -= this.stepDenominator;
          this.position++;
        }
      } else {
        const x = this.outputIndex * this.samplesPerOutput;
        this.position = Math.floor(x);
        this.fraction = x - this.position;
      }
    }
    return j;
  }
}

/** One-shot resampling of a whole signal: exactly the concatenated output of a streaming Resampler. */
export function resample(signal: Float32Array | Float64Array, fromRate: number, toRate: number, options: ResamplerOptions = {}): Float64Array {
  const resampler = new Resampler(fromRate, toRate, options);
  const head = resampler.process(signal);
  const tail = resampler.flush();
  if (tail.length === 0) return head;
  const out = new Float64Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
