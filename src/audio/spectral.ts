/**
 * Per-frame spectral features as librosa.feature computes them. Centroid, bandwidth, rolloff and contrast
 * read the MAGNITUDE spectrum; flatness reads the POWER spectrum. Each kernel works on one frame so the
 * analyzer never holds the spectrogram.
 */

import {
  featureKernel,
  FLAG_CONTRAST,
  FLAG_MAGNITUDE,
  FLAG_SHAPE,
  KERNEL_BATCH_FRAMES,
  SHAPE_STRIDE,
  type ChromaTable,
  type ContrastTable,
  type SpectralOutputs,
  type SpectralTables,
} from './feature-kernel.js';

/** np.finfo(float32).tiny: librosa.util.normalize leaves frames whose L1 norm is below it unscaled. */
const FLOAT32_TINY = 1.1754943508222875e-38;

/** Σ_k f_k S_k / Σ_k S_k (librosa.feature.spectral_centroid). */
export function spectralCentroid(magnitude: Float64Array, freqs: Float64Array): number {
  let total = 0;
  let weighted = 0;
  for (let k = 0; k < magnitude.length; k++) {
    total += magnitude[k];
    weighted += freqs[k] * magnitude[k];
  }
  return weighted / (total < FLOAT32_TINY ? 1 : total);
}

/** (Σ_k S̃_k |f_k − centroid|^p)^(1/p) with S̃ the L1-normalised frame (spectral_bandwidth, norm=True). */
export function spectralBandwidth(magnitude: Float64Array, freqs: Float64Array, centroid: number, p = 2): number {
  let total = 0;
  for (let k = 0; k < magnitude.length; k++) total += magnitude[k];
  const scale = total < FLOAT32_TINY ? 1 : total;
  let sum = 0;
  for (let k = 0; k < magnitude.length; k++) {
    const deviation = Math.abs(freqs[k] - centroid);
    sum += (magnitude[k] / scale) * (p === 2 ? deviation * deviation : deviation ** p);
  }
  return p === 2 ? Math.sqrt(sum) : sum ** (1 / p);
}

/** Frequency of the first bin whose cumulative magnitude reaches rollPercent of the frame's total. */
export function spectralRolloff(magnitude: Float64Array, freqs: Float64Array, rollPercent: number): number {
  let total = 0;
  for (let k = 0; k < magnitude.length; k++) total += magnitude[k];
  const threshold = rollPercent * total;
  let cumulative = 0;
  for (let k = 0; k < magnitude.length; k++) {
    cumulative += magnitude[k];
    if (cumulative >= threshold) return freqs[k];
  }
  return freqs[magnitude.length - 1];
}

/** Bins whose clamped powers are multiplied before one log: 16 values in [1e-10, 1e6] stay inside float64's range. */
const FLATNESS_LOG_BLOCK = 16;

/**
 * Geometric over arithmetic mean of max(amin, power) (spectral_flatness, power=2). The log-sum takes one
 * log per block of FLATNESS_LOG_BLOCK bins (log of the product); a block whose product leaves the normal
 * float64 range (only for absurd powers or amin) falls back to one log per bin.
 */
export function spectralFlatness(power: Float64Array, aminValue = 1e-10): number {
  // The unary plus types amin as a number where it is defined, so the optimizing compiler holds
  // `p > amin ? p : amin` as a raw double; with the bare parameter (type unknown) V8 boxed every bin's power
  // on the heap: ~40 MB of garbage per minute of audio and several times slower.
  const amin = +aminValue;
  let logSum = 0;
  let sum = 0;
  const n = power.length;
  let k = 0;
  for (; k + FLATNESS_LOG_BLOCK <= n; k += FLATNESS_LOG_BLOCK) {
    let product = 1;
    let blockSum = 0;
    for (let j = k; j < k + FLATNESS_LOG_BLOCK; j++) {
      const v = power[j] > amin ? power[j] : amin;
      product *= v;
      blockSum += v;
    }
    sum += blockSum;
    if (product > 1e-300 && product < 1e300) {
      logSum += Math.log(product);
    } else {
      for (let j = k; j < k + FLATNESS_LOG_BLOCK; j++) logSum += Math.log(power[j] > amin ? power[j] : amin);
    }
  }
  for (; k < n; k++) {
    const v = power[k] > amin ? power[k] : amin;
    logSum += Math.log(v);
    sum += v;
  }
  return Math.exp(logSum / n) / (sum / n);
}

/**
 * Centroid, bandwidth (p = 2) and rolloff of one magnitude frame in two passes over the bins, with the same
 * arithmetic as spectralCentroid and spectralRolloff (so identical values) and the bandwidth's
 * normalisation applied once to the sum rather than per bin. Writes [centroid, bandwidth, rolloff].
 */
export function spectralShape(magnitude: Float64Array, freqs: Float64Array, rollPercent: number, out: Float64Array): void {
  const n = magnitude.length;
  let total = 0;
  let weighted = 0;
  for (let k = 0; k < n; k++) {
    total += magnitude[k];
    weighted += freqs[k] * magnitude[k];
  }
  shapeFromSums(magnitude, freqs, rollPercent, total, weighted, out);
}

/** spectralShape's second pass (spread about the centroid, rolloff), given the first pass's sums. */
function shapeFromSums(magnitude: Float64Array, freqs: Float64Array, rollPercent: number, total: number, weighted: number, out: Float64Array): void {
  const n = magnitude.length;
  const scale = total < FLOAT32_TINY ? 1 : total;
  const centroid = weighted / scale;
  const threshold = rollPercent * total;
  let rolloff = freqs[n - 1];
  let cumulative = 0;
  let k = 0;
  let spread = 0;
  for (; k < n; k++) {
    const m = magnitude[k];
    const deviation = freqs[k] - centroid;
    spread += m * (deviation * deviation);
    cumulative += m;
    if (cumulative >= threshold) {
      rolloff = freqs[k];
      k++;
      break;
    }
  }
  for (; k < n; k++) {
    const deviation = freqs[k] - centroid;
    spread += magnitude[k] * (deviation * deviation);
  }
  out[0] = centroid;
  out[1] = Math.sqrt(spread / scale);
  out[2] = rolloff;
}

/**
 * spectralShape, spectralFlatness(power, amin) and the frame's largest power in one frame visit: the first
 * pass reads magnitude and power together (centroid sums, flatness blocks, maximum), the second is
 * spectralShape's. Every sum runs in the same order as in the separate kernels, so the values are
 * identical. Writes [centroid, bandwidth, rolloff, flatness, max power].
 */
export function spectralShapeAndFlatness(magnitude: Float64Array, power: Float64Array, freqs: Float64Array, rollPercent: number, aminValue: number, out: Float64Array): void {
  const amin = +aminValue; // see spectralFlatness
  const n = magnitude.length;
  let total = 0;
  let weighted = 0;
  let logSum = 0;
  let powerSum = 0;
  let maxPower = 0;
  let k = 0;
  for (; k + FLATNESS_LOG_BLOCK <= n; k += FLATNESS_LOG_BLOCK) {
    let product = 1;
    let blockSum = 0;
    for (let j = k; j < k + FLATNESS_LOG_BLOCK; j++) {
      const m = magnitude[j];
      total += m;
      weighted += freqs[j] * m;
      const p = power[j];
      if (p > maxPower) maxPower = p;
      const v = p > amin ? p : amin;
      product *= v;
      blockSum += v;
    }
    powerSum += blockSum;
    if (product > 1e-300 && product < 1e300) {
      logSum += Math.log(product);
    } else {
      for (let j = k; j < k + FLATNESS_LOG_BLOCK; j++) logSum += Math.log(power[j] > amin ? power[j] : amin);
    }
  }
  for (; k < n; k++) {
    const m = magnitude[k];
    total += m;
    weighted += freqs[k] * m;
    const p = power[k];
    if (p > maxPower) maxPower = p;
    const v = p > amin ? p : amin;
    logSum += Math.log(v);
    powerSum += v;
  }
  out[3] = Math.exp(logSum / n) / (powerSum / n);
  out[4] = maxPower;
  shapeFromSums(magnitude, freqs, rollPercent, total, weighted, out);
}

export interface ContrastOptions {
  sampleRate: number;
  nFft: number;
  nBands: number;
  fmin: number;
  quantile: number;
}

/** np.rint: round half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Octave-band peak/valley extraction of librosa.feature.spectral_contrast. Bands: [0, fmin],
 * [fmin, 2 fmin], …, [fmin 2^(n-1), fmin 2^n]. Each band above the first also takes the bin just below its
 * lower edge; the top band extends to Nyquist; every band but the top drops its last bin from the sorted
 * values. The count of values averaged (per side) is max(1, rint(quantile · bins counted in the band)),
 * where the count includes the dropped bin, as librosa.
 */
export class ContrastBands {
  readonly nRows: number;
  /** The bands as the WebAssembly kernel reads them. */
  readonly table: ContrastTable;
  private readonly lowest: Float64Array;
  private readonly highest: Float64Array;
  private readonly bandStart: Int32Array;
  private readonly bandLength: Int32Array;
  private readonly take: Int32Array;

  constructor(options: ContrastOptions) {
    const { sampleRate, nFft, nBands, fmin, quantile } = options;
    if (!Number.isInteger(nBands) || nBands < 1) throw new RangeError(`contrast bands must be a positive integer, got ${nBands}`);
    if (!(quantile > 0 && quantile < 1)) throw new RangeError(`contrast quantile must lie in (0, 1), got ${quantile}`);
    if (!(fmin > 0)) throw new RangeError(`contrast fmin must be positive, got ${fmin}`);
    if (fmin * 2 ** (nBands - 1) >= sampleRate / 2) {
      throw new RangeError(`contrast band edge ${fmin * 2 ** (nBands - 1)} Hz reaches Nyquist (${sampleRate / 2} Hz): reduce contrast fmin or bands`);
    }
    const nBins = nFft / 2 + 1;
    const binHz = sampleRate / nFft;
    this.nRows = nBands + 1;
    this.bandStart = new Int32Array(this.nRows);
    this.bandLength = new Int32Array(this.nRows);
    this.take = new Int32Array(this.nRows);
    let mostTaken = 1;
    for (let k = 0; k <= nBands; k++) {
      const fLow = k === 0 ? 0 : fmin * 2 ** (k - 1);
      const fHigh = fmin * 2 ** k;
      let first = -1;
      let last = -1;
      for (let b = 0; b < nBins; b++) {
        const f = b * binHz;
        if (f >= fLow && f <= fHigh) {
          if (first < 0) first = b;
          last = b;
        }
      }
      if (first < 0) throw new RangeError(`contrast band ${k} (${fLow}-${fHigh} Hz) holds no FFT bin: increase n_fft or contrast fmin`);
      if (k > 0) first -= 1;
      if (k === nBands) last = nBins - 1;
      const counted = last - first + 1;
      const length = k < nBands ? counted - 1 : counted;
      this.bandStart[k] = first;
      this.bandLength[k] = length;
      this.take[k] = Math.max(1, roundHalfEven(quantile * counted));
      mostTaken = Math.max(mostTaken, this.take[k]);
    }
    this.lowest = new Float64Array(mostTaken);
    this.highest = new Float64Array(mostTaken);
    this.table = { rows: this.nRows, start: this.bandStart, length: this.bandLength, take: this.take, mostTaken };
  }

  /**
   * Writes each band's peak and valley (mean of the top / bottom `take` magnitudes) for one frame. The
   * analyzer runs the same selection in the WebAssembly kernel (SpectralFrameBatch); this is its reference.
   */
  frame(magnitude: Float64Array, peak: Float64Array, valley: Float64Array): void {
    // Only the `take` (<= a few percent) extremes matter: keep them in small sorted arrays instead of
    // sorting the band. Same multisets as librosa's full sort, summed in the same (ascending) order, so the
    // same means.
    const lowest = this.lowest;
    const highest = this.highest;
    for (let k = 0; k < this.nRows; k++) {
      const start = this.bandStart[k];
      const end = start + this.bandLength[k];
      const take = Math.min(this.take[k], this.bandLength[k]);
      if (take === 1) {
        let low = magnitude[start];
        let high = low;
        for (let b = start + 1; b < end; b++) {
          const v = magnitude[b];
          if (v < low) low = v;
          if (v > high) high = v;
        }
        valley[k] = low;
        peak[k] = high;
        continue;
      }
      // Spectra mostly fall with frequency, so the lowest values are looked for from the band's top down and
      // the highest from its bottom up: then most bins fail the test against the current cut, and the few
      // insertions are cheap. Both searches share one loop (two cursors), which halves the loop overhead.
      for (let filled = 0; filled < take; filled++) {
        insertAscending(lowest, filled, magnitude[end - 1 - filled]);
        insertAscending(highest, filled, magnitude[start + filled]);
      }
      let lowCut = lowest[take - 1];
      let highCut = highest[0];
      const rest = end - start - take;
      for (let i = 0, down = end - 1 - take, up = start + take; i < rest; i++, down--, up++) {
        const v = magnitude[down];
        if (v < lowCut) {
          // Drop the largest of the lowest; insert v.
          insertAscending(lowest, take - 1, v);
          lowCut = lowest[take - 1];
        }
        const h = magnitude[up];
        if (h > highCut) {
          // Drop the smallest of the highest; insert h.
          let j = 1;
          while (j < take && highest[j] < h) {
            highest[j - 1] = highest[j];
            j++;
          }
          highest[j - 1] = h;
          highCut = highest[0];
        }
      }
      let low = 0;
      let high = 0;
      for (let i = 0; i < take; i++) {
        low += lowest[i];
        high += highest[i];
      }
      valley[k] = low / take;
      peak[k] = high / take;
    }
  }
}

/** Inserts v into sorted a[0..length) (ascending), giving a[0..length] sorted. */
function insertAscending(a: Float64Array, length: number, v: number): void {
  let i = length;
  while (i > 0 && a[i - 1] > v) {
    a[i] = a[i - 1];
    i--;
  }
  a[i] = v;
}

/**
 * contrast = power_to_db(peak) − power_to_db(valley), each power_to_db with its own top_db floor measured
 * from the whole clip (all bands, all frames), as librosa applies it to the full peak and valley arrays.
 * Overwrites `peak` with the result.
 */
export function contrastFromPeakValley(peak: Float64Array, valley: Float64Array, amin = 1e-10, topDb = 80): void {
  const peakFloor = dbFloor(peak, amin, topDb);
  const valleyFloor = dbFloor(valley, amin, topDb);
  for (let i = 0; i < peak.length; i++) {
    const p = Math.max(10 * Math.log10(Math.max(amin, peak[i])), peakFloor);
    const v = Math.max(10 * Math.log10(Math.max(amin, valley[i])), valleyFloor);
    peak[i] = p - v;
  }
}

function dbFloor(values: Float64Array, amin: number, topDb: number): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  return 10 * Math.log10(Math.max(amin, max)) - topDb;
}

export interface SpectralBatchOptions {
  nBins: number;
  freqs: Float64Array;
  rollPercent: number;
  amin: number;
  /** Centroid, bandwidth and rolloff (flatness and the frame maximum come always). */
  shape: boolean;
  contrast: ContrastBands | null;
  /** Hand each frame's power rounded to float32 to the block (the kept spectrogram). */
  keepRounded: boolean;
  /** Chroma with this filter bank (its tuning known), from the float32-rounded power. */
  chroma: ChromaTable | null;
}

/** Results for a run of consecutive frames, valid during the callback only (buffers are reused). */
export interface SpectralBlock {
  frames: number;
  /** The frames' power, frame after frame (nBins each). */
  power: Float64Array;
  /** Per frame: centroid, bandwidth, rolloff (0 unless asked for), flatness, max power, then a slot of no meaning. */
  shape: Float64Array;
  /** Per frame: contrast rows of band peaks, and of valleys (see ContrastBands.frame). */
  peak: Float64Array;
  valley: Float64Array;
  /** Per frame: nBins float32-rounded powers (keepRounded). */
  rounded: Float32Array | null;
  /** Per frame: nChroma normalised chroma values (chroma). */
  chroma: Float64Array | null;
}

/** Values per frame in SpectralBlock.shape. */
export const SPECTRAL_BLOCK_STRIDE = SHAPE_STRIDE;

/**
 * Everything the analyzer computes per frame after the power spectrum, batched for the WebAssembly kernel
 * (src/audio/feature-kernel.ts): frames are collected, then run KERNEL_BATCH_FRAMES at a time, and each
 * run's results are handed to `onBlock`. Call `flush` after the last frame.
 *
 * Versus spectralShapeAndFlatness and ContrastBands.frame: the magnitude, the contrast peaks and valleys,
 * the rolloff's running sum, the maximum and the rounded power are computed the same way (identical
 * values); the centroid, bandwidth and flatness sums are taken two lanes at a time, and the flatness log
 * as one log of a renormalised product, so they differ by rounding only (test/unit/audio/feature-kernel.test.ts).
 * Frames whose powers are too large for the renormalised product are recomputed in JS.
 */
export class SpectralFrameBatch {
  private readonly tables: SpectralTables;
  private readonly flags: number;
  private readonly batch: Float64Array;
  private readonly outputs: SpectralOutputs;
  private readonly block: SpectralBlock;
  private readonly magnitudeScratch: Float64Array;
  private readonly fallbackShape = new Float64Array(5);
  private batched = 0;

  constructor(
    private readonly options: SpectralBatchOptions,
    private readonly onBlock: (block: SpectralBlock) => void,
  ) {
    const { nBins, contrast, chroma } = options;
    this.tables = { nBins, freqs: options.freqs, rollPercent: options.rollPercent, amin: options.amin, contrast: contrast?.table ?? null };
    this.flags = (options.shape || contrast ? FLAG_MAGNITUDE : 0) | (options.shape ? FLAG_SHAPE : 0) | (contrast ? FLAG_CONTRAST : 0);
    this.batch = new Float64Array(KERNEL_BATCH_FRAMES * nBins);
    const rows = contrast?.nRows ?? 0;
    this.outputs = {
      shape: new Float64Array(KERNEL_BATCH_FRAMES * SHAPE_STRIDE),
      peak: new Float64Array(KERNEL_BATCH_FRAMES * rows),
      valley: new Float64Array(KERNEL_BATCH_FRAMES * rows),
      rounded: options.keepRounded ? new Float32Array(KERNEL_BATCH_FRAMES * nBins) : null,
      chroma: chroma ? new Float64Array(KERNEL_BATCH_FRAMES * chroma.nChroma) : null,
    };
    const o = this.outputs;
    this.block = { frames: 0, power: this.batch, shape: o.shape, peak: o.peak, valley: o.valley, rounded: o.rounded, chroma: o.chroma };
    this.magnitudeScratch = new Float64Array(nBins);
  }

  /** One power frame (nBins values; copied). */
  push(power: Float64Array): void {
    this.batch.set(power, this.batched * this.options.nBins);
    this.batched++;
    if (this.batched === KERNEL_BATCH_FRAMES) this.flush();
  }

  flush(): void {
    const frames = this.batched;
    if (frames === 0) return;
    this.batched = 0;
    const o = this.outputs;
    featureKernel().spectral(this.tables, this.flags, this.batch, frames, o, this.options.chroma);
    for (let f = 0; f < frames; f++) if (o.shape[f * SHAPE_STRIDE + 5] !== 0) this.recompute(f);
    this.block.frames = frames;
    this.onBlock(this.block);
  }

  /** spectralShapeAndFlatness for frame f (powers out of the kernel's safe range). */
  private recompute(f: number): void {
    const n = this.options.nBins;
    const power = this.batch.subarray(f * n, (f + 1) * n);
    const magnitude = this.magnitudeScratch;
    for (let k = 0; k < n; k++) magnitude[k] = Math.sqrt(power[k]);
    const s = this.fallbackShape;
    spectralShapeAndFlatness(magnitude, power, this.options.freqs, this.options.rollPercent, this.options.amin, s);
    const shape = this.outputs.shape;
    const at = f * SHAPE_STRIDE;
    if (this.options.shape) {
      shape[at] = s[0];
      shape[at + 1] = s[1];
      shape[at + 2] = s[2];
    }
    shape[at + 3] = s[3];
    shape[at + 4] = s[4];
  }
}
