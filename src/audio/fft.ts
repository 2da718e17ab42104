/**
 * Real-input FFT for power-of-two sizes N >= 4, numpy conventions: `forward` is numpy.fft.rfft
 * (e^{-2πi kn/N}, unnormalised), `inverse` is numpy.fft.irfft (1/N).
 *
 * The N real samples are packed as N/2 complex ones z[n] = x[2n] + i·x[2n+1], transformed by an iterative
 * radix-4 decimation-in-time FFT of size M = N/2, then split into the spectrum of the real sequence. Speed
 * comes from cutting loads and stores, which bound this code in V8 more than flops do: the bit-reversal
 * permutation is fused into the twiddle-free first stage (radix 4, or radix 8 when log2 M is odd), which
 * reads the input directly; radix-4 stages follow (half the passes of radix 2), each loading its
 * contiguous twiddles once per stage, not once per block; the split step is fused into the last stage,
 * whose butterflies k and M/4 − k produce exactly the mirror pairs it needs. Radix-8 stages were tried and
 * were no faster (register spills). The inverse undoes the split into Z with re/im swapped, since
 * swap(DFT(swap(Z))) is the unnormalised inverse DFT, runs the same stages, and its last stage writes the
 * samples directly.
 *
 * `forwardPower` is the STFT's kernel: it reads a frame in place (buffer + offset), multiplies by the window
 * as the first stage loads each sample, and the fused last stage writes |X|² instead of X, so no windowed
 * copy of the frame and no complex spectrum is ever stored.
 *
 * Plans precompute everything once; `forward`, `forwardPower` and `inverse` allocate nothing.
 */
export class RealFft {
  readonly size: number;
  private readonly half: number;
  /** 2 (M = 2), 8 (log2 M odd) or 4: the first stage's radix; radix-4 stages follow. */
  private readonly firstRadix: number;
  /** Bit reversal (log2 M bits) of each first-stage block start, divided by the block length. */
  private readonly blockSources: Uint32Array;
  /** Radix-4 stage twiddles, stage after stage: for k < quarter, w^k, w^2k, w^3k (re, im) with w = e^{-2πi/(4·quarter)}. */
  private readonly stageTwiddles: Float64Array;
  /** 0.5·e^{-2πik/N} (re, im) for k <= M/2: the split step's twiddle with its halving folded in. */
  private readonly splitTwiddles: Float64Array;
  /** (1/N)·e^{+2πik/N} (re, im) for k <= M/2: the inverse split's twiddle with the normalisation folded in. */
  private readonly unsplitTwiddles: Float64Array;
  private readonly workRe: Float64Array;
  private readonly workIm: Float64Array;
  /** Interleaved complex input for the kernel: a Float64Array copy of non-Float64Array input, or the inverse's Z. */
  private readonly packed: Float64Array;
  /** Spectrum scratch for forwardPower at sizes whose last stage is not fused (N <= 16). */
  private readonly spectrumRe: Float64Array;
  private readonly spectrumIm: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 4, got ${size}`);
    }
    this.size = size;
    const half = size >> 1;
    this.half = half;
    const bits = Math.log2(half);
    // Radix-4 stages need an even number of bits after the first stage.
    const firstRadix = bits === 1 ? 2 : bits % 2 === 1 ? 8 : 4;
    this.firstRadix = firstRadix;
    this.blockSources = firstStageSources(half, firstRadix);
    this.stageTwiddles = radix4Twiddles(half, firstRadix);
    this.splitTwiddles = new Float64Array(half + 2);
    this.unsplitTwiddles = new Float64Array(half + 2);
    for (let k = 0; k <= half >> 1; k++) {
      const angle = (2 * Math.PI * k) / size;
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      this.splitTwiddles[2 * k] = 0.5 * c;
      this.splitTwiddles[2 * k + 1] = -0.5 * s;
      this.unsplitTwiddles[2 * k] = c / size;
      this.unsplitTwiddles[2 * k + 1] = s / size;
    }
    this.workRe = new Float64Array(half);
    this.workIm = new Float64Array(half);
    this.packed = new Float64Array(size);
    this.spectrumRe = new Float64Array(half + 1);
    this.spectrumIm = new Float64Array(half + 1);
  }

  /**
   * Forward transform of `input` (length `size`) into `outRe`/`outIm` (length size/2 + 1),
   * e^{-2πi kn/N} convention, unnormalised (as numpy.fft.rfft). A Float64Array input is read directly;
   * any other array-like is first copied (so the kernel only ever sees one array type).
   */
  forward(input: Float64Array | ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    this.checkLengths('forward', input.length, this.size, outRe.length, outIm.length);
    let samples: Float64Array;
    if (input instanceof Float64Array) {
      samples = input;
    } else {
      samples = this.packed;
      for (let i = 0; i < this.size; i++) samples[i] = input[i];
    }
    const half = this.half;
    if (this.stageTwiddles.length === 0) {
      complexFft(samples, 0, null, half, this.firstRadix, this.blockSources, this.stageTwiddles, this.workRe, this.workIm, false);
      splitSpectrum(this.workRe, this.workIm, half, this.splitTwiddles, outRe, outIm);
    } else {
      complexFft(samples, 0, null, half, this.firstRadix, this.blockSources, this.stageTwiddles, this.workRe, this.workIm, true);
      const lastOffset = this.stageTwiddles.length - 6 * (half >> 2);
      lastStageWithSplit(this.workRe, this.workIm, half, this.stageTwiddles, lastOffset, this.splitTwiddles, outRe, outIm);
    }
  }

  /**
   * power[k] = |rfft(w · x)[k]|² for k <= size/2, where x = input[offset … offset + size) and w = window
   * (length >= size): the STFT's frame, read in place. Same arithmetic as multiplying the frame by the
   * window and calling `forward`, then squaring, without storing either.
   */
  forwardPower(input: Float64Array, offset: number, window: Float64Array, power: Float64Array): void {
    const size = this.size;
    if (!Number.isInteger(offset) || offset < 0 || offset + size > input.length || window.length < size || power.length < this.half + 1) {
      throw new RangeError(
        `RealFft(${size}).forwardPower needs input[offset, offset + ${size}) inside the input (offset ${offset}, length ${input.length}), a window of ${size} and ${this.half + 1} power bins (got ${window.length} and ${power.length})`,
      );
    }
    const half = this.half;
    if (this.stageTwiddles.length === 0) {
      // N <= 16: no fused last stage (and N = 4 has a radix-2 first stage); window a copy instead.
      const re = this.spectrumRe;
      const im = this.spectrumIm;
      const packed = this.packed;
      for (let i = 0; i < size; i++) packed[i] = input[offset + i] * window[i];
      complexFft(packed, 0, null, half, this.firstRadix, this.blockSources, this.stageTwiddles, this.workRe, this.workIm, false);
      splitSpectrum(this.workRe, this.workIm, half, this.splitTwiddles, re, im);
      for (let k = 0; k <= half; k++) power[k] = re[k] * re[k] + im[k] * im[k];
    } else {
      complexFft(input, offset, window, half, this.firstRadix, this.blockSources, this.stageTwiddles, this.workRe, this.workIm, true);
      const lastOffset = this.stageTwiddles.length - 6 * (half >> 2);
      lastStageWithSplitPower(this.workRe, this.workIm, half, this.stageTwiddles, lastOffset, this.splitTwiddles, power);
    }
  }

  /**
   * Inverse of `forward` (numpy.fft.irfft with n = size): `re`/`im` hold bins 0..size/2, `out` receives
   * `size` real samples scaled by 1/size. As numpy does, the imaginary parts of bins 0 and size/2 are ignored.
   */
  inverse(re: Float64Array, im: Float64Array, out: Float64Array): void {
    this.checkLengths('inverse', out.length, this.size, re.length, im.length);
    const half = this.half;
    unsplitSpectrum(re, im, half, this.unsplitTwiddles, this.packed);
    // The swapped transform: real parts come back as imaginary parts and vice versa.
    if (this.stageTwiddles.length === 0) {
      complexFft(this.packed, 0, null, half, this.firstRadix, this.blockSources, this.stageTwiddles, this.workRe, this.workIm, false);
      const workRe = this.workRe;
      const workIm = this.workIm;
      for (let n = 0; n < half; n++) {
        out[2 * n] = workIm[n];
        out[2 * n + 1] = workRe[n];
      }
    } else {
      complexFft(this.packed, 0, null, half, this.firstRadix, this.blockSources, this.stageTwiddles, this.workRe, this.workIm, true);
      const lastOffset = this.stageTwiddles.length - 6 * (half >> 2);
      lastStageToSamples(this.workRe, this.workIm, half, this.stageTwiddles, lastOffset, out);
    }
  }

  /** Short arrays would read as NaN or drop writes silently; longer ones are fine (only the prefix is used). */
  private checkLengths(method: string, samples: number, samplesNeeded: number, binsRe: number, binsIm: number): void {
    const bins = this.half + 1;
    if (samples < samplesNeeded || binsRe < bins || binsIm < bins) {
      throw new RangeError(`RealFft(${this.size}).${method} needs ${samplesNeeded} samples and ${bins} bins per re/im array, got ${samples}, ${binsRe} and ${binsIm}`);
    }
  }
}

/** Bit reversal of `value` over `bits` bits. */
function reverseBits(value: number, bits: number): number {
  let reversed = 0;
  for (let b = 0; b < bits; b++) reversed |= ((value >> b) & 1) << (bits - 1 - b);
  return reversed;
}

/**
 * For first-stage block j (positions j·radix … j·radix + radix − 1 of the bit-reversed order) the source
 * index r of its first point; position j·radix + p holds z[r + reverse(p)·M/radix].
 */
function firstStageSources(half: number, radix: number): Uint32Array {
  const bits = Math.log2(half);
  const sources = new Uint32Array(half / radix);
  for (let j = 0; j < sources.length; j++) sources[j] = reverseBits(j * radix, bits);
  return sources;
}

function radix4Twiddles(half: number, firstRadix: number): Float64Array {
  let total = 0;
  for (let quarter = firstRadix; 4 * quarter <= half; quarter *= 4) total += 6 * quarter;
  const table = new Float64Array(total);
  let offset = 0;
  for (let quarter = firstRadix; 4 * quarter <= half; quarter *= 4) {
    for (let k = 0; k < quarter; k++) {
      for (let power = 1; power <= 3; power++) {
        const angle = (-2 * Math.PI * power * k) / (4 * quarter);
        table[offset++] = Math.cos(angle);
        table[offset++] = Math.sin(angle);
      }
    }
  }
  return table;
}

/**
 * Unnormalised forward DFT of the `half` complex points interleaved in input[base …] (re, im, re, im, …),
 * each real value multiplied by window[its index] as it is loaded, into re/im in natural order; with
 * `skipLastStage` the final radix-4 stage is left to `lastStageWithSplit`.
 */
function complexFft(
  input: Float64Array,
  base: number,
  window: Float64Array | null,
  half: number,
  firstRadix: number,
  sources: Uint32Array,
  twiddles: Float64Array,
  re: Float64Array,
  im: Float64Array,
  skipLastStage: boolean,
): void {
  let quarter: number;
  if (window !== null) {
    // Windowed input (the STFT): only sizes with a radix-4 or radix-8 first stage come here.
    if (firstRadix === 8) firstRadix8Windowed(input, base, window, half, sources, re, im);
    else firstRadix4Windowed(input, base, window, half, sources, re, im);
    quarter = firstRadix;
  } else if (firstRadix === 8) {
    firstRadix8(input, half, sources, re, im);
    quarter = 8;
  } else if (firstRadix === 2) {
    // Radix 2, twiddle-free: positions 2j, 2j+1 hold z[r], z[r + M/2].
    const offset = half; // (M/2) complex points = M doubles
    for (let j = 0, p = 0; j < half; j += 2, p++) {
      const a = 2 * sources[p];
      const b = a + offset;
      const ar = input[a];
      const ai = input[a + 1];
      const br = input[b];
      const bi = input[b + 1];
      re[j] = ar + br;
      im[j] = ai + bi;
      re[j + 1] = ar - br;
      im[j + 1] = ai - bi;
    }
    quarter = 2;
  } else {
    // Radix 4, twiddle-free: positions 4j … 4j+3 hold z[r], z[r + M/2], z[r + M/4], z[r + 3M/4].
    const quarterOffset = half >> 1; // (M/4) complex points
    for (let j = 0, p = 0; j < half; j += 4, p++) {
      const a = 2 * sources[p];
      const c = a + quarterOffset;
      const b = c + quarterOffset;
      const d = b + quarterOffset;
      const ar = input[a];
      const ai = input[a + 1];
      const br = input[b];
      const bi = input[b + 1];
      const cr = input[c];
      const ci = input[c + 1];
      const dr = input[d];
      const di = input[d + 1];
      const s0r = ar + br;
      const s0i = ai + bi;
      const d0r = ar - br;
      const d0i = ai - bi;
      const s1r = cr + dr;
      const s1i = ci + di;
      const d1r = cr - dr;
      const d1i = ci - di;
      re[j] = s0r + s1r;
      im[j] = s0i + s1i;
      re[j + 2] = s0r - s1r;
      im[j + 2] = s0i - s1i;
      re[j + 1] = d0r + d1i;
      im[j + 1] = d0i - d1r;
      re[j + 3] = d0r - d1i;
      im[j + 3] = d0i + d1r;
    }
    quarter = 4;
  }

  const end = skipLastStage ? half >> 2 : half;
  let offset = 0;
  for (; 4 * quarter <= end; quarter *= 4) {
    radix4Stage(re, im, half, quarter, twiddles, offset, 1);
    offset += 6 * quarter;
  }
}

/**
 * Twiddle-free radix-8 first stage reading the input at bit-reversed sources: an 8-point DFT per block, as
 * the radix-4 DFT of the even residues (positions 0–3) and of the odd ones (4–7), joined with e^{-iπm/4}.
 */
function firstRadix8(input: Float64Array, half: number, sources: Uint32Array, re: Float64Array, im: Float64Array): void {
  const e = half >> 2; // M/8 complex points, in doubles
  for (let j = 0, p = 0; j < half; j += 8, p++) {
    const a = 2 * sources[p];
    // Even residues: z[r], z[r + 4M/8], z[r + 2M/8], z[r + 6M/8].
    let xr = input[a];
    let xi = input[a + 1];
    let yr = input[a + 4 * e];
    let yi = input[a + 4 * e + 1];
    let s0r = xr + yr;
    let s0i = xi + yi;
    let d0r = xr - yr;
    let d0i = xi - yi;
    xr = input[a + 2 * e];
    xi = input[a + 2 * e + 1];
    yr = input[a + 6 * e];
    yi = input[a + 6 * e + 1];
    let s1r = xr + yr;
    let s1i = xi + yi;
    let d1r = xr - yr;
    let d1i = xi - yi;
    const e0r = s0r + s1r;
    const e0i = s0i + s1i;
    const e2r = s0r - s1r;
    const e2i = s0i - s1i;
    const e1r = d0r + d1i;
    const e1i = d0i - d1r;
    const e3r = d0r - d1i;
    const e3i = d0i + d1r;
    // Odd residues: z[r + M/8], z[r + 5M/8], z[r + 3M/8], z[r + 7M/8].
    xr = input[a + e];
    xi = input[a + e + 1];
    yr = input[a + 5 * e];
    yi = input[a + 5 * e + 1];
    s0r = xr + yr;
    s0i = xi + yi;
    d0r = xr - yr;
    d0i = xi - yi;
    xr = input[a + 3 * e];
    xi = input[a + 3 * e + 1];
    yr = input[a + 7 * e];
    yi = input[a + 7 * e + 1];
    s1r = xr + yr;
    s1i = xi + yi;
    d1r = xr - yr;
    d1i = xi - yi;
    const o0r = s0r + s1r;
    const o0i = s0i + s1i;
    const o2r = s0r - s1r;
    const o2i = s0i - s1i;
    const o1r = d0r + d1i;
    const o1i = d0i - d1r;
    const o3r = d0r - d1i;
    const o3i = d0i + d1r;
    // Odd part times e^{-iπm/4}: m = 1 is (1 − i)/√2, m = 2 is −i, m = 3 is −(1 + i)/√2.
    const p1r = (o1r + o1i) * Math.SQRT1_2;
    const p1i = (o1i - o1r) * Math.SQRT1_2;
    const p3r = (o3i - o3r) * Math.SQRT1_2;
    const p3i = -(o3r + o3i) * Math.SQRT1_2;
    re[j] = e0r + o0r;
    im[j] = e0i + o0i;
    re[j + 4] = e0r - o0r;
    im[j + 4] = e0i - o0i;
    re[j + 1] = e1r + p1r;
    im[j + 1] = e1i + p1i;
    re[j + 5] = e1r - p1r;
    im[j + 5] = e1i - p1i;
    re[j + 2] = e2r + o2i;
    im[j + 2] = e2i - o2r;
    re[j + 6] = e2r - o2i;
    im[j + 6] = e2i + o2r;
    re[j + 3] = e3r + p3r;
    im[j + 3] = e3i + p3i;
    re[j + 7] = e3r - p3r;
    im[j + 7] = e3i - p3i;
  }
}

/** The radix-4 first stage of `complexFft` over input[base …], each real value multiplied by window[its index] as it is loaded. */
function firstRadix4Windowed(input: Float64Array, base: number, window: Float64Array, half: number, sources: Uint32Array, re: Float64Array, im: Float64Array): void {
  const quarterOffset = half >> 1; // (M/4) complex points
  for (let j = 0, p = 0; j < half; j += 4, p++) {
    const a = 2 * sources[p];
    const c = a + quarterOffset;
    const b = c + quarterOffset;
    const d = b + quarterOffset;
    const ar = input[base + a] * window[a];
    const ai = input[base + a + 1] * window[a + 1];
    const br = input[base + b] * window[b];
    const bi = input[base + b + 1] * window[b + 1];
    const cr = input[base + c] * window[c];
    const ci = input[base + c + 1] * window[c + 1];
    const dr = input[base + d] * window[d];
    const di = input[base + d + 1] * window[d + 1];
    const s0r = ar + br;
    const s0i = ai + bi;
    const d0r = ar - br;
    const d0i = ai - bi;
    const s1r = cr + dr;
    const s1i = ci + di;
    const d1r = cr - dr;
    const d1i = ci - di;
    re[j] = s0r + s1r;
    im[j] = s0i + s1i;
    re[j + 2] = s0r - s1r;
    im[j + 2] = s0i - s1i;
    re[j + 1] = d0r + d1i;
    im[j + 1] = d0i - d1r;
    re[j + 3] = d0r - d1i;
    im[j + 3] = d0i + d1r;
  }
}

/**
 * `firstRadix8` over input[base …], each real value multiplied by window[its index] as it is loaded.
 * Twiddle-free radix-8 first stage reading the input at bit-reversed sources: an 8-point DFT per block, as
 * the radix-4 DFT of the even residues (positions 0–3) and of the odd ones (4–7), joined with e^{-iπm/4}.
 */
function firstRadix8Windowed(input: Float64Array, base: number, window: Float64Array, half: number, sources: Uint32Array, re: Float64Array, im: Float64Array): void {
  const e = half >> 2; // M/8 complex points, in doubles
  for (let j = 0, p = 0; j < half; j += 8, p++) {
    const a = 2 * sources[p];
    // Even residues: z[r], z[r + 4M/8], z[r + 2M/8], z[r + 6M/8].
    let xr = input[base + a] * window[a];
    let xi = input[base + a + 1] * window[a + 1];
    let yr = input[base + a + 4 * e] * window[a + 4 * e];
    let yi = input[base + a + 4 * e + 1] * window[a + 4 * e + 1];
    let s0r = xr + yr;
    let s0i = xi + yi;
    let d0r = xr - yr;
    let d0i = xi - yi;
    xr = input[base + a + 2 * e] * window[a + 2 * e];
    xi = input[base + a + 2 * e + 1] * window[a + 2 * e + 1];
    yr = input[base + a + 6 * e] * window[a + 6 * e];
    yi = input[base + a + 6 * e + 1] * window[a + 6 * e + 1];
    let s1r = xr + yr;
    let s1i = xi + yi;
    let d1r = xr - yr;
    let d1i = xi - yi;
    const e0r = s0r + s1r;
    const e0i = s0i + s1i;
    const e2r = s0r - s1r;
    const e2i = s0i - s1i;
    const e1r = d0r + d1i;
    const e1i = d0i - d1r;
    const e3r = d0r - d1i;
    const e3i = d0i + d1r;
    // Odd residues: z[r + M/8], z[r + 5M/8], z[r + 3M/8], z[r + 7M/8].
    xr = input[base + a + e] * window[a + e];
    xi = input[base + a + e + 1] * window[a + e + 1];
    yr = input[base + a + 5 * e] * window[a + 5 * e];
    yi = input[base + a + 5 * e + 1] * window[a + 5 * e + 1];
    s0r = xr + yr;
    s0i = xi + yi;
    d0r = xr - yr;
    d0i = xi - yi;
    xr = input[base + a + 3 * e] * window[a + 3 * e];
    xi = input[base + a + 3 * e + 1] * window[a + 3 * e + 1];
    yr = input[base + a + 7 * e] * window[a + 7 * e];
    yi = input[base + a + 7 * e + 1] * window[a + 7 * e + 1];
    s1r = xr + yr;
    s1i = xi + yi;
    d1r = xr - yr;
    d1i = xi - yi;
    const o0r = s0r + s1r;
    const o0i = s0i + s1i;
    const o2r = s0r - s1r;
    const o2i = s0i - s1i;
    const o1r = d0r + d1i;
    const o1i = d0i - d1r;
    const o3r = d0r - d1i;
    const o3i = d0i + d1r;
    // Odd part times e^{-iπm/4}: m = 1 is (1 − i)/√2, m = 2 is −i, m = 3 is −(1 + i)/√2.
    const p1r = (o1r + o1i) * Math.SQRT1_2;
    const p1i = (o1i - o1r) * Math.SQRT1_2;
    const p3r = (o3i - o3r) * Math.SQRT1_2;
    const p3i = -(o3r + o3i) * Math.SQRT1_2;
    re[j] = e0r + o0r;
    im[j] = e0i + o0i;
    re[j + 4] = e0r - o0r;
    im[j + 4] = e0i - o0i;
    re[j + 1] = e1r + p1r;
    im[j + 1] = e1i + p1i;
    re[j + 5] = e1r - p1r;
    im[j + 5] = e1i - p1i;
    re[j + 2] = e2r + o2i;
    im[j + 2] = e2i - o2r;
    re[j + 6] = e2r - o2i;
    im[j + 6] = e2i + o2r;
    re[j + 3] = e3r + p3r;
    im[j + 3] = e3i + p3i;
    re[j + 7] = e3r - p3r;
    im[j + 7] = e3i - p3i;
  }
}

/**
 * One radix-4 DIT stage, in place: each block of 4·quarter points combines four quarter-length DFTs,
 * stored in bit-reversed sub-order (residues 0, 2, 1, 3 mod 4), so the second gets w^2k, the third w^k,
 * the fourth w^3k. Runs the butterflies k = 0, kStep, 2·kStep, … < quarter of every block.
 */
function radix4Stage(re: Float64Array, im: Float64Array, half: number, quarter: number, twiddles: Float64Array, offset: number, kStep: number): void {
  const span = 4 * quarter;
  const tStep = 6 * kStep;
  // k outer: each twiddle is loaded once per stage, not once per block (loads, not flops, bound this loop).
  for (let k = 0, t = offset; k < quarter; k += kStep, t += tStep) {
    const w1r = twiddles[t];
    const w1i = twiddles[t + 1];
    const w2r = twiddles[t + 2];
    const w2i = twiddles[t + 3];
    const w3r = twiddles[t + 4];
    const w3i = twiddles[t + 5];
    for (let i0 = k; i0 < half; i0 += span) {
      const i1 = i0 + quarter;
      const i2 = i1 + quarter;
      const i3 = i2 + quarter;
      const ar = re[i0];
      const ai = im[i0];
      const xbr = re[i1];
      const xbi = im[i1];
      const xcr = re[i2];
      const xci = im[i2];
      const xdr = re[i3];
      const xdi = im[i3];
      const br = xbr * w2r - xbi * w2i;
      const bi = xbr * w2i + xbi * w2r;
      const cr = xcr * w1r - xci * w1i;
      const ci = xcr * w1i + xci * w1r;
      const dr = xdr * w3r - xdi * w3i;
      const di = xdr * w3i + xdi * w3r;
      const s0r = ar + br;
      const s0i = ai + bi;
      const d0r = ar - br;
      const d0i = ai - bi;
      const s1r = cr + dr;
      const s1i = ci + di;
      const d1r = cr - dr;
      const d1i = ci - di;
      re[i0] = s0r + s1r;
      im[i0] = s0i + s1i;
      re[i2] = s0r - s1r;
      im[i2] = s0i - s1i;
      re[i1] = d0r + d1i;
      im[i1] = d0i - d1r;
      re[i3] = d0r - d1i;
      im[i3] = d0i + d1r;
    }
  }
}

/**
 * From Z = DFT(x_even + i·x_odd) to X = rfft(x): with E = (Z[k] + conj Z[M−k]) / 2 and
 * O = (Z[k] − conj Z[M−k]) / 2i, X[k] = E + W^k·O and X[M−k] = conj(E − W^k·O), W = e^{-2πi/N}.
 */
function splitSpectrum(re: Float64Array, im: Float64Array, half: number, twiddles: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
  outRe[0] = re[0] + im[0];
  outIm[0] = 0;
  outRe[half] = re[0] - im[0];
  outIm[half] = 0;
  const middle = half >> 1;
  for (let k = 1; k < middle; k++) splitPair(re[k], im[k], re[half - k], im[half - k], k, half, twiddles, outRe, outIm);
  // k = M/2 is its own mirror: X = conj Z there.
  outRe[middle] = re[middle];
  outIm[middle] = -im[middle];
}

/** X[k] and X[M−k] from z = Z[k] and c = Z[M−k] (see `splitSpectrum`); small enough for V8 to inline. */
function splitPair(zr: number, zi: number, cr: number, ci: number, k: number, half: number, twiddles: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
  const er = 0.5 * (zr + cr);
  const ei = 0.5 * (zi - ci);
  // O without its 1/2, which sits in the twiddle: (zi + ci) − i(zr − cr).
  const or = zi + ci;
  const oi = cr - zr;
  const wr = twiddles[2 * k];
  const wi = twiddles[2 * k + 1];
  const pr = wr * or - wi * oi;
  const pi = wr * oi + wi * or;
  const m = half - k;
  outRe[k] = er + pr;
  outIm[k] = ei + pi;
  outRe[m] = er - pr;
  outIm[m] = pi - ei;
}

/** As `splitPair`, but writes |X[k]|² and |X[M−k]|² to `power` (the same values, squared). */
function splitPairPower(zr: number, zi: number, cr: number, ci: number, k: number, half: number, twiddles: Float64Array, power: Float64Array): void {
  const er = 0.5 * (zr + cr);
  const ei = 0.5 * (zi - ci);
  const or = zi + ci;
  const oi = cr - zr;
  const wr = twiddles[2 * k];
  const wi = twiddles[2 * k + 1];
  const pr = wr * or - wi * oi;
  const pi = wr * oi + wi * or;
  const xr = er + pr;
  const xi = ei + pi;
  const yr = er - pr;
  const yi = pi - ei;
  power[k] = xr * xr + xi * xi;
  power[half - k] = yr * yr + yi * yi;
}

/**
 * The last radix-4 stage (quarter q = M/4, one block) fused with `splitSpectrum`, so Z is never stored and
 * reloaded. Butterflies k and q − k are done together: their outputs Z[k], Z[k+q], Z[k+2q], Z[k+3q] and
 * Z[q−k], Z[2q−k], Z[3q−k], Z[4q−k] are exactly four mirror pairs (j, M − j). The partner's twiddles follow
 * from w^k, w = e^{-2πi/M}: w^(q−k) = −i·conj(w^k), w^2(q−k) = −conj(w^2k), w^3(q−k) = i·conj(w^3k).
 * Butterflies 0 and q/2 pair with themselves; they run in place first. Needs M >= 8.
 */
function lastStageWithSplit(
  re: Float64Array,
  im: Float64Array,
  half: number,
  twiddles: Float64Array,
  offset: number,
  splitTwiddles: Float64Array,
  outRe: Float64Array,
  outIm: Float64Array,
): void {
  const q = half >> 2;
  const q2 = q >> 1;
  radix4Stage(re, im, half, q, twiddles, offset, q2);
  outRe[0] = re[0] + im[0];
  outIm[0] = 0;
  outRe[half] = re[0] - im[0];
  outIm[half] = 0;
  outRe[2 * q] = re[2 * q];
  outIm[2 * q] = -im[2 * q];
  splitPair(re[q], im[q], re[3 * q], im[3 * q], q, half, splitTwiddles, outRe, outIm);
  splitPair(re[q2], im[q2], re[7 * q2], im[7 * q2], q2, half, splitTwiddles, outRe, outIm);
  splitPair(re[3 * q2], im[3 * q2], re[5 * q2], im[5 * q2], 3 * q2, half, splitTwiddles, outRe, outIm);

  for (let k = 1, t = offset + 6; k < q2; k++, t += 6) {
    const w1r = twiddles[t];
    const w1i = twiddles[t + 1];
    const w2r = twiddles[t + 2];
    const w2i = twiddles[t + 3];
    const w3r = twiddles[t + 4];
    const w3i = twiddles[t + 5];

    // Butterfly k: A0..A3 = Z[k], Z[k+q], Z[k+2q], Z[k+3q].
    let i0 = k;
    let ar = re[i0];
    let ai = im[i0];
    let xr = re[i0 + q];
    let xi = im[i0 + q];
    let br = xr * w2r - xi * w2i;
    let bi = xr * w2i + xi * w2r;
    xr = re[i0 + 2 * q];
    xi = im[i0 + 2 * q];
    let cr = xr * w1r - xi * w1i;
    let ci = xr * w1i + xi * w1r;
    xr = re[i0 + 3 * q];
    xi = im[i0 + 3 * q];
    let dr = xr * w3r - xi * w3i;
    let di = xr * w3i + xi * w3r;
    let s0r = ar + br;
    let s0i = ai + bi;
    let d0r = ar - br;
    let d0i = ai - bi;
    let s1r = cr + dr;
    let s1i = ci + di;
    let d1r = cr - dr;
    let d1i = ci - di;
    const a0r = s0r + s1r;
    const a0i = s0i + s1i;
    const a2r = s0r - s1r;
    const a2i = s0i - s1i;
    const a1r = d0r + d1i;
    const a1i = d0i - d1r;
    const a3r = d0r - d1i;
    const a3i = d0i + d1r;

    // Butterfly q − k: B0..B3 = Z[q−k], Z[2q−k], Z[3q−k], Z[4q−k].
    i0 = q - k;
    ar = re[i0];
    ai = im[i0];
    xr = re[i0 + q];
    xi = im[i0 + q];
    br = -xr * w2r - xi * w2i;
    bi = xr * w2i - xi * w2r;
    xr = re[i0 + 2 * q];
    xi = im[i0 + 2 * q];
    cr = -xr * w1i + xi * w1r;
    ci = -xr * w1r - xi * w1i;
    xr = re[i0 + 3 * q];
    xi = im[i0 + 3 * q];
    dr = xr * w3i - xi * w3r;
    di = xr * w3r + xi * w3i;
    s0r = ar + br;
    s0i = ai + bi;
    d0r = ar - br;
    d0i = ai - bi;
    s1r = cr + dr;
    s1i = ci + di;
    d1r = cr - dr;
    d1i = ci - di;
    const b0r = s0r + s1r;
    const b0i = s0i + s1i;
    const b2r = s0r - s1r;
    const b2i = s0i - s1i;
    const b1r = d0r + d1i;
    const b1i = d0i - d1r;
    const b3r = d0r - d1i;
    const b3i = d0i + d1r;

    splitPair(a0r, a0i, b3r, b3i, k, half, splitTwiddles, outRe, outIm);
    splitPair(a1r, a1i, b2r, b2i, q + k, half, splitTwiddles, outRe, outIm);
    splitPair(b1r, b1i, a2r, a2i, 2 * q - k, half, splitTwiddles, outRe, outIm);
    splitPair(b0r, b0i, a3r, a3i, q - k, half, splitTwiddles, outRe, outIm);
  }
}

/**
 * `lastStageWithSplit` writing |X|² to `power` instead of X (for `forwardPower`); kept as its own function so
 * each stays monomorphic. The last radix-4 stage (quarter q = M/4, one block) fused with `splitSpectrum`, so Z is never stored and
 * reloaded. Butterflies k and q − k are done together: their outputs Z[k], Z[k+q], Z[k+2q], Z[k+3q] and
 * Z[q−k], Z[2q−k], Z[3q−k], Z[4q−k] are exactly four mirror pairs (j, M − j). The partner's twiddles follow
 * from w^k, w = e^{-2πi/M}: w^(q−k) = −i·conj(w^k), w^2(q−k) = −conj(w^2k), w^3(q−k) = i·conj(w^3k).
 * Butterflies 0 and q/2 pair with themselves; they run in place first. Needs M >= 8.
 */
function lastStageWithSplitPower(
  re: Float64Array,
  im: Float64Array,
  half: number,
  twiddles: Float64Array,
  offset: number,
  splitTwiddles: Float64Array,
  power: Float64Array,
): void {
  const q = half >> 2;
  const q2 = q >> 1;
  radix4Stage(re, im, half, q, twiddles, offset, q2);
  const dc = re[0] + im[0];
  const nyquist = re[0] - im[0];
  const middleRe = re[2 * q];
  const middleIm = -im[2 * q];
  power[0] = dc * dc;
  power[half] = nyquist * nyquist;
  power[2 * q] = middleRe * middleRe + middleIm * middleIm;
  splitPairPower(re[q], im[q], re[3 * q], im[3 * q], q, half, splitTwiddles, power);
  splitPairPower(re[q2], im[q2], re[7 * q2], im[7 * q2], q2, half, splitTwiddles, power);
  splitPairPower(re[3 * q2], im[3 * q2], re[5 * q2], im[5 * q2], 3 * q2, half, splitTwiddles, power);

  for (let k = 1, t = offset + 6; k < q2; k++, t += 6) {
    const w1r = twiddles[t];
    const w1i = twiddles[t + 1];
    const w2r = twiddles[t + 2];
    const w2i = twiddles[t + 3];
    const w3r = twiddles[t + 4];
    const w3i = twiddles[t + 5];

    // Butterfly k: A0..A3 = Z[k], Z[k+q], Z[k+2q], Z[k+3q].
    let i0 = k;
    let ar = re[i0];
    let ai = im[i0];
    let xr = re[i0 + q];
    let xi = im[i0 + q];
    let br = xr * w2r - xi * w2i;
    let bi = xr * w2i + xi * w2r;
    xr = re[i0 + 2 * q];
    xi = im[i0 + 2 * q];
    let cr = xr * w1r - xi * w1i;
    let ci = xr * w1i + xi * w1r;
    xr = re[i0 + 3 * q];
    xi = im[i0 + 3 * q];
    let dr = xr * w3r - xi * w3i;
    let di = xr * w3i + xi * w3r;
    let s0r = ar + br;
    let s0i = ai + bi;
    let d0r = ar - br;
    let d0i = ai - bi;
    let s1r = cr + dr;
    let s1i = ci + di;
    let d1r = cr - dr;
    let d1i = ci - di;
    const a0r = s0r + s1r;
    const a0i = s0i + s1i;
    const a2r = s0r - s1r;
    const a2i = s0i - s1i;
    const a1r = d0r + d1i;
    const a1i = d0i - d1r;
    const a3r = d0r - d1i;
    const a3i = d0i + d1r;

    // Butterfly q − k: B0..B3 = Z[q−k], Z[2q−k], Z[3q−k], Z[4q−k].
    i0 = q - k;
    ar = re[i0];
    ai = im[i0];
    xr = re[i0 + q];
    xi = im[i0 + q];
    br = -xr * w2r - xi * w2i;
    bi = xr * w2i - xi * w2r;
    xr = re[i0 + 2 * q];
    xi = im[i0 + 2 * q];
    cr = -xr * w1i + xi * w1r;
    ci = -xr * w1r - xi * w1i;
    xr = re[i0 + 3 * q];
    xi = im[i0 + 3 * q];
    dr = xr * w3i - xi * w3r;
    di = xr * w3r + xi * w3i;
    s0r = ar + br;
    s0i = ai + bi;
    d0r = ar - br;
    d0i = ai - bi;
    s1r = cr + dr;
    s1i = ci + di;
    d1r = cr - dr;
    d1i = ci - di;
    const b0r = s0r + s1r;
    const b0i = s0i + s1i;
    const b2r = s0r - s1r;
    const b2i = s0i - s1i;
    const b1r = d0r + d1i;
    const b1i = d0i - d1r;
    const b3r = d0r - d1i;
    const b3i = d0i + d1r;

    splitPairPower(a0r, a0i, b3r, b3i, k, half, splitTwiddles, power);
    splitPairPower(a1r, a1i, b2r, b2i, q + k, half, splitTwiddles, power);
    splitPairPower(b1r, b1i, a2r, a2i, 2 * q - k, half, splitTwiddles, power);
    splitPairPower(b0r, b0i, a3r, a3i, q - k, half, splitTwiddles, power);
  }
}

/**
 * The inverse's last radix-4 stage (one block of M points): as `radix4Stage`, but each result z goes
 * straight to the output samples, swapped back: out[2n] = Im z[n], out[2n + 1] = Re z[n].
 */
function lastStageToSamples(re: Float64Array, im: Float64Array, half: number, twiddles: Float64Array, offset: number, out: Float64Array): void {
  const quarter = half >> 2;
  for (let k = 0, t = offset; k < quarter; k++, t += 6) {
    const w1r = twiddles[t];
    const w1i = twiddles[t + 1];
    const w2r = twiddles[t + 2];
    const w2i = twiddles[t + 3];
    const w3r = twiddles[t + 4];
    const w3i = twiddles[t + 5];
    const ar = re[k];
    const ai = im[k];
    let xr = re[k + quarter];
    let xi = im[k + quarter];
    const br = xr * w2r - xi * w2i;
    const bi = xr * w2i + xi * w2r;
    xr = re[k + 2 * quarter];
    xi = im[k + 2 * quarter];
    const cr = xr * w1r - xi * w1i;
    const ci = xr * w1i + xi * w1r;
    xr = re[k + 3 * quarter];
    xi = im[k + 3 * quarter];
    const dr = xr * w3r - xi * w3i;
    const di = xr * w3i + xi * w3r;
    const s0r = ar + br;
    const s0i = ai + bi;
    const d0r = ar - br;
    const d0i = ai - bi;
    const s1r = cr + dr;
    const s1i = ci + di;
    const d1r = cr - dr;
    const d1i = ci - di;
    // z[k + j·quarter] lands at out[2k + j·half/2].
    const o0 = 2 * k;
    const o1 = o0 + (half >> 1);
    const o2 = o0 + half;
    const o3 = o1 + half;
    out[o0] = s0i + s1i;
    out[o0 + 1] = s0r + s1r;
    out[o2] = s0i - s1i;
    out[o2 + 1] = s0r - s1r;
    out[o1] = d0i - d1r;
    out[o1 + 1] = d0r + d1i;
    out[o3] = d0i + d1r;
    out[o3 + 1] = d0r - d1i;
  }
}

/**
 * Undoes `splitSpectrum` with the inverse's 1/N folded in, writing Z (re/im swapped) interleaved into
 * `packed`: E = X[k] + conj X[M−k], O = (X[k] − conj X[M−k])·conj(W^k), Z[k] = (E + iO)/N and
 * Z[M−k] = (conj E + i·conj O)/N. Bins 0 and M are taken as real.
 */
function unsplitSpectrum(re: Float64Array, im: Float64Array, half: number, twiddles: Float64Array, packed: Float64Array): void {
  const scale = twiddles[0]; // 1/N
  const dc = re[0];
  const nyquist = re[half];
  // Z[0] = (dc + nyquist) + i(dc − nyquist), stored swapped.
  packed[0] = (dc - nyquist) * scale;
  packed[1] = (dc + nyquist) * scale;
  const middle = half >> 1;
  for (let k = 1; k < middle; k++) {
    const m = half - k;
    const ar = re[k];
    const ai = im[k];
    const br = re[m];
    const bi = im[m];
    const er = ar + br;
    const ei = ai - bi;
    const dr = ar - br;
    const di = ai + bi;
    const wr = twiddles[2 * k];
    const wi = twiddles[2 * k + 1];
    // O/N = (d · (wr + i·wi)), the 1/N already in the twiddle; E/N needs it explicitly.
    const or = dr * wr - di * wi;
    const oi = dr * wi + di * wr;
    const esr = er * scale;
    const esi = ei * scale;
    // Z[k] = E + iO → re = er − oi, im = ei + or; Z[M−k] = conj E + i conj O → re = er + oi, im = or − ei.
    packed[2 * k] = esi + or;
    packed[2 * k + 1] = esr - oi;
    packed[2 * m] = or - esi;
    packed[2 * m + 1] = esr + oi;
  }
  // k = M/2: Z = 2·conj X / N.
  packed[2 * middle] = -2 * im[middle] * scale;
  packed[2 * middle + 1] = 2 * re[middle] * scale;
}
