/**
 * librosa 0.11's chroma_stft with its defaults: tuning estimated from the power spectrogram (piptrack
 * peaks → pitch_tuning histogram), the chroma filter bank for that tuning, and each frame normalised by its
 * maximum. Frames arrive one at a time; tuning needs the whole clip, so the estimator keeps only the
 * piptrack peaks (a pitch and a magnitude each), never the spectrogram.
 */

import { featureKernel, KERNEL_CHROMA_FRAMES, type ChromaTable } from './feature-kernel.js';

/** np.finfo(np.float32).tiny: librosa's spectra are float32, and util.normalize's threshold is that tiny. */
const FLOAT32_TINY = 1.1754943508222875e-38;
const FLOAT64_TINY = 2.2250738585072014e-308;
const PIPTRACK_FMIN = 150;
const PIPTRACK_FMAX = 4000;
const PIPTRACK_THRESHOLD = 0.1;
const TUNING_RESOLUTION = 0.01;
/** Peaks stored per chunk; chunks grow the store without copying earlier peaks. */
const PEAK_CHUNK = 1 << 16;

/**
 * Streaming librosa.estimate_tuning(S=power, sr, n_fft, bins_per_octave): piptrack with fmin 150, fmax 4000,
 * threshold 0.1 relative to each frame's maximum; keep the peaks whose magnitude reaches the median over all
 * peaks of the clip; the tuning is the left edge of the fullest bin of a 0.01-wide histogram of their
 * deviations from the equal-tempered grid (A440), in [-0.5, 0.5). No peaks at all gives 0.
 */
export class TuningEstimator {
  private readonly sampleRate: number;
  private readonly nFft: number;
  private readonly binsPerOctave: number;
  private readonly firstBin: number;
  private readonly lastBin: number;
  private readonly nHistogramBins: number;
  private readonly edges: Float64Array;
  private readonly pitchChunks: Float32Array[] = [];
  private readonly magChunks: Float32Array[] = [];
  private peakCount = 0;

  constructor(sampleRate: number, nFft: number, binsPerOctave = 12) {
    this.sampleRate = sampleRate;
    this.nFft = nFft;
    this.binsPerOctave = binsPerOctave;
    const nBins = nFft / 2 + 1;
    const fmax = Math.min(PIPTRACK_FMAX, sampleRate / 2);
    // Bins with fmin <= k·sr/n_fft < fmax, as piptrack's freq_mask.
    let first = 0;
    while (first < nBins && (first * sampleRate) / nFft < PIPTRACK_FMIN) first++;
    let last = first - 1;
    while (last + 1 < nBins && ((last + 1) * sampleRate) / nFft < fmax) last++;
    this.firstBin = first;
    this.lastBin = last;
    this.nHistogramBins = Math.ceil(1 / TUNING_RESOLUTION);
    // np.linspace(-0.5, 0.5, nHistogramBins + 1): start + i·step, last edge exactly 0.5.
    this.edges = new Float64Array(this.nHistogramBins + 1);
    const step = 1 / this.nHistogramBins;
    for (let i = 0; i < this.nHistogramBins; i++) this.edges[i] = i * step + -0.5;
    this.edges[this.nHistogramBins] = 0.5;
  }

  /**
   * One power-spectrum frame (length nFft/2 + 1). `frameMax`, the frame's largest power, may be passed by a
   * caller that has it already (it must be exactly that maximum).
   */
  addPowerFrame(power: Float64Array, frameMax = maxOf(power, 0, power.length)): void {
    this.addPowerFrameAt(power, 0, power.length, frameMax);
  }

  /** addPowerFrame for the frame power[offset, offset + nBins). */
  addPowerFrameAt(frames: Float64Array, offset: number, nBins: number, frameMax = maxOf(frames, offset, nBins)): void {
    // Read in place at the offset: no subarray object per frame.
    const power = frames;
    const o = offset;
    const n = nBins;
    const reference = PIPTRACK_THRESHOLD * frameMax;
    // Local maxima of S·(S > ref): x[k] > x[k-1] and x[k] >= x[k+1], ends padded by repetition.
    const last = this.lastBin;
    for (let k = this.firstBin; k <= last; k++) {
      // Most bins are below the reference: pass over them in a tight loop (frameMax >= 0, so a bin above
      // the reference is never 0, and `here` below is the gated value).
      while (k <= last && !(power[o + k] > reference)) k++;
      if (k > last) break;
      const here = power[o + k];
      const below = k > 0 ? (power[o + k - 1] > reference ? power[o + k - 1] : 0) : here;
      if (!(here > below)) continue;
      const above = k < n - 1 ? (power[o + k + 1] > reference ? power[o + k + 1] : 0) : here;
      if (!(here >= above)) continue;
      let shift = 0;
      let slope = 0;
      if (k > 0 && k < n - 1) {
        // Parabolic interpolation through the (ungated) neighbours; offsets beyond a bin count as 0.
        const curvature = power[o + k + 1] + power[o + k - 1] - 2 * power[o + k];
        slope = (power[o + k + 1] - power[o + k - 1]) / 2;
        shift = Math.abs(slope) >= Math.abs(curvature) ? 0 : -slope / curvature;
      }
      const pitch = Math.fround(((k + shift) * this.sampleRate) / this.nFft);
      if (!(pitch > 0)) continue;
      const magnitude = Math.fround(power[o + k] + 0.5 * slope * shift);
      // The histogram bin (a log) is only needed for peaks that reach the median: found in estimate().
      this.store(pitch, magnitude);
    }
  }

  /** Tuning deviation in fractions of a bin, in [-0.5, 0.5). */
  estimate(): number {
    if (this.peakCount === 0) return 0;
    const threshold = this.medianMagnitude();
    const counts = new Float64Array(this.nHistogramBins);
    for (let c = 0; c < this.pitchChunks.length; c++) {
      const pitches = this.pitchChunks[c];
      const mags = this.magChunks[c];
      const size = Math.min(PEAK_CHUNK, this.peakCount - c * PEAK_CHUNK);
      for (let i = 0; i < size; i++) if (mags[i] >= threshold) counts[this.histogramBin(pitches[i])]++;
    }
    let best = 0;
    for (let b = 1; b < counts.length; b++) if (counts[b] > counts[best]) best = b;
    return this.edges[best];
  }

  /**
   * Histogram bin of a pitch's deviation from the grid. librosa does this in float32 (the pitches are
   * float32), so the intermediate roundings are mirrored to land values near bin edges on the same side.
   */
  private histogramBin(pitch: number): number {
    const octaves = Math.fround(Math.log2(Math.fround(pitch / 27.5)));
    const scaled = Math.fround(this.binsPerOctave * octaves);
    // np.mod(x, 1.0) and the wrap to [-0.5, 0.5), each rounded to float32.
    let residual = Math.fround(scaled - Math.floor(scaled));
    if (residual >= 0.5) residual = Math.fround(residual - 1);
    const edges = this.edges;
    const last = this.nHistogramBins - 1;
    let bin = Math.min(last, Math.max(0, Math.floor((residual + 0.5) * this.nHistogramBins)));
    while (bin > 0 && residual < edges[bin]) bin--;
    while (bin < last && residual >= edges[bin + 1]) bin++;
    return bin;
  }

  private store(pitch: number, magnitude: number): void {
    const chunk = Math.floor(this.peakCount / PEAK_CHUNK);
    if (chunk === this.pitchChunks.length) {
      this.pitchChunks.push(new Float32Array(PEAK_CHUNK));
      this.magChunks.push(new Float32Array(PEAK_CHUNK));
    }
    const offset = this.peakCount - chunk * PEAK_CHUNK;
    this.pitchChunks[chunk][offset] = pitch;
    this.magChunks[chunk][offset] = magnitude;
    this.peakCount++;
  }

  /** np.median of the float32 magnitudes (mean of the two middle values, in float32, for an even count). */
  private medianMagnitude(): number {
    const n = this.peakCount;
    const upper = this.kthSmallest(n >> 1);
    if (n % 2 === 1) return upper;
    const lower = this.kthSmallest((n >> 1) - 1);
    return Math.fround(lower + upper) / 2;
  }

  /**
   * k-th smallest stored magnitude (0-based) by a two-pass radix selection on the float32 bit patterns,
   * which order like the values for non-negative floats (piptrack magnitudes are >= 0): no copy needed.
   */
  private kthSmallest(k: number): number {
    const high = new Float64Array(1 << 16);
    for (let c = 0; c < this.magChunks.length; c++) countHighHalves(this.magBits(c), this.chunkSize(c), high);
    let prefix = 0;
    let rank = k;
    while (rank >= high[prefix]) rank -= high[prefix++];
    const low = new Float64Array(1 << 16);
    for (let c = 0; c < this.magChunks.length; c++) countLowHalves(this.magBits(c), this.chunkSize(c), prefix, low);
    let suffix = 0;
    while (rank >= low[suffix]) rank -= low[suffix++];
    const word = new Uint32Array([((prefix << 16) | suffix) >>> 0]);
    return new Float32Array(word.buffer)[0];
  }

  private magBits(chunk: number): Uint32Array {
    return new Uint32Array(this.magChunks[chunk].buffer);
  }

  private chunkSize(chunk: number): number {
    return Math.min(PEAK_CHUNK, this.peakCount - chunk * PEAK_CHUNK);
  }
}

/** Histogram of the high 16 bits of bits[0, size). */
function countHighHalves(bits: Uint32Array, size: number, counts: Float64Array): void {
  for (let i = 0; i < size; i++) counts[bits[i] >>> 16]++;
}

/** Histogram of the low 16 bits of those bits[0, size) whose high 16 bits are `prefix`. */
function countLowHalves(bits: Uint32Array, size: number, prefix: number, counts: Float64Array): void {
  for (let i = 0; i < size; i++) {
    const b = bits[i];
    if (b >>> 16 === prefix) counts[b & 0xffff]++;
  }
}

function maxOf(power: Float64Array, offset: number, n: number): number {
  let frameMax = 0;
  for (let k = offset; k < offset + n; k++) if (power[k] > frameMax) frameMax = power[k];
  return frameMax;
}

/**
 * librosa.filters.chroma(sr, n_fft, n_chroma, tuning) with ctroct 5, octwidth 2, norm 2, base_c: Gaussian
 * bumps around each pitch class on the log-frequency axis, each FFT column L2-normalised, weighted by a
 * Gaussian over octaves centred at 5 (C5-ish), rows starting at C. Returned row-major, nChroma × (nFft/2+1),
 * with the weights rounded to float32 as librosa stores them.
 */
export function chromaFilterBank(sampleRate: number, nFft: number, nChroma: number, tuning: number): Float64Array {
  const ctroct = 5;
  const octwidth = 2;
  const nBins = nFft / 2 + 1;
  const a440 = 440 * 2 ** (tuning / nChroma);
  const binStep = sampleRate / nFft;
  // frqbins over all n_fft FFT bins (librosa builds the full two-sided width before cutting).
  const frqbins = new Float64Array(nFft);
  for (let k = 1; k < nFft; k++) frqbins[k] = nChroma * Math.log2((k * binStep) / (a440 / 16));
  // The DC bin gets a made-up position 1.5 octaves below bin 1.
  frqbins[0] = frqbins[1] - 1.5 * nChroma;
  const binWidth = new Float64Array(nFft);
  for (let k = 0; k < nFft - 1; k++) binWidth[k] = Math.max(frqbins[k + 1] - frqbins[k], 1);
  binWidth[nFft - 1] = 1;

  const halfChroma = roundHalfEven(nChroma / 2);
  const weights = new Float64Array(nChroma * nBins);
  const column = new Float64Array(nChroma);
  const rotation = 3 * Math.floor(nChroma / 12);
  for (let k = 0; k < nBins; k++) {
    let sumSquares = 0;
    for (let c = 0; c < nChroma; c++) {
      // Distance to pitch class c folded into [-n/2, n/2); the 10·n offset keeps the remainder's input positive.
      const d = ((frqbins[k] - c + halfChroma + 10 * nChroma) % nChroma) - halfChroma;
      const x = (2 * d) / binWidth[k];
      const w = Math.exp(-0.5 * (x * x));
      column[c] = w;
      sumSquares += w * w;
    }
    // util.normalize leaves columns whose norm is below float64 tiny as they are.
    const norm = Math.sqrt(sumSquares);
    const divisor = norm < FLOAT64_TINY ? 1 : norm;
    const octave = (frqbins[k] / nChroma - ctroct) / octwidth;
    const octaveWeight = Math.exp(-0.5 * (octave * octave));
    for (let c = 0; c < nChroma; c++) {
      // np.roll(wts, -rotation, axis=0): output row r is input row r + rotation.
      const row = (c - rotation + nChroma) % nChroma;
      weights[row * nBins + k] = Math.fround((column[c] / divisor) * octaveWeight);
    }
  }
  return weights;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const chromaCache = new Map<string, Float64Array>();

/** chromaFilterBank, built once per thread for each (sr, n_fft, n_chroma, tuning) and shared read-only. */
export function sharedChromaFilterBank(sampleRate: number, nFft: number, nChroma: number, tuning: number): Float64Array {
  const key = `${sampleRate}|${nFft}|${nChroma}|${tuning}`;
  let bank = chromaCache.get(key);
  if (!bank) {
    bank = chromaFilterBank(sampleRate, nFft, nChroma, tuning);
    chromaCache.set(key, bank);
  }
  return bank;
}

const tableCache = new WeakMap<Float64Array, ChromaTable>();

/**
 * The filter bank as the WebAssembly kernel reads it: rows in pairs, (w_2j[k], w_2j+1[k]) consecutive for
 * each bin, pair after pair, an odd last row paired with zeros. Cached per shared bank.
 */
export function chromaKernelTable(bank: Float64Array, nChroma: number, nBins: number): ChromaTable {
  let table = tableCache.get(bank);
  if (!table) {
    const nPairs = (nChroma + 1) >> 1;
    const pairs = new Float64Array(nPairs * nBins * 2);
    for (let c = 0; c < nChroma; c++) {
      const base = (c >> 1) * nBins * 2 + (c & 1);
      for (let k = 0; k < nBins; k++) pairs[base + 2 * k] = bank[c * nBins + k];
    }
    table = { nChroma, nBins, pairs };
    tableCache.set(bank, table);
  }
  return table;
}

/**
 * Chroma frames: filter bank × power spectrum, each frame divided by its maximum (all-zero frames stay 0).
 * `frames` computes two frames at a time, four rows at a time: each weight read serves two frames and each
 * power read four rows, with eight independent sums in flight (about twice the speed of one frame at a
 * time). Every row's sum still runs over the bins in order, so each value is exactly one dot product per
 * row.
 */
export class ChromaComputer {
  private readonly filterBank: Float64Array;
  private readonly nChroma: number;
  private readonly nBins: number;
  /** The bank for the WebAssembly kernel, which computes float32 frames (the analyzer's). */
  readonly table: ChromaTable;

  constructor(sampleRate: number, nFft: number, nChroma: number, tuning: number) {
    this.filterBank = sharedChromaFilterBank(sampleRate, nFft, nChroma, tuning);
    this.nChroma = nChroma;
    this.nBins = nFft / 2 + 1;
    this.table = chromaKernelTable(this.filterBank, nChroma, this.nBins);
  }

  /** `power[offset…]` holds nFft/2 + 1 bins; `out` receives nChroma values. */
  frame(power: Float64Array | Float32Array, out: Float64Array, offset = 0): void {
    this.frames(power, offset, 1, out);
  }

  /**
   * `count` consecutive frames of nFft/2 + 1 bins from `power[offset…]`; `out` receives count × nChroma
   * values, frame after frame.
   */
  frames(power: Float64Array | Float32Array, offset: number, count: number, out: Float64Array): void {
    const nBins = this.nBins;
    const nChroma = this.nChroma;
    if (power instanceof Float32Array) {
      // The kernel: the same in-order dot product per row (two rows per f64x2), so the same values.
      const kernel = featureKernel();
      for (let f = 0; f < count; f += KERNEL_CHROMA_FRAMES) {
        const n = Math.min(KERNEL_CHROMA_FRAMES, count - f);
        kernel.chroma(this.table, power, offset + f * nBins, n, f === 0 ? out : out.subarray(f * nChroma));
      }
      return;
    }
    let f = 0;
    for (; f + 2 <= count; f += 2) {
      this.pair(power, offset + f * nBins, out, f * nChroma);
      normalizeByMaximum(out, f * nChroma, nChroma);
      normalizeByMaximum(out, (f + 1) * nChroma, nChroma);
    }
    if (f < count) {
      this.single(power, offset + f * nBins, out, f * nChroma);
      normalizeByMaximum(out, f * nChroma, nChroma);
    }
  }

  /** Raw products for the frames at p0 and p0 + nBins into out[o…] and out[o + nChroma…]. */
  private pair(power: Float64Array | Float32Array, p0: number, out: Float64Array, o: number): void {
    const fb = this.filterBank;
    const nBins = this.nBins;
    const nChroma = this.nChroma;
    const p1 = p0 + nBins;
    const o1 = o + nChroma;
    let c = 0;
    for (; c + 4 <= nChroma; c += 4) {
      const b0 = c * nBins;
      const b1 = b0 + nBins;
      const b2 = b1 + nBins;
      const b3 = b2 + nBins;
      let x0 = 0;
      let x1 = 0;
      let x2 = 0;
      let x3 = 0;
      let y0 = 0;
      let y1 = 0;
      let y2 = 0;
      let y3 = 0;
      for (let k = 0; k < nBins; k++) {
        const p = power[p0 + k];
        const q = power[p1 + k];
        let w = fb[b0 + k];
        x0 += w * p;
        y0 += w * q;
        w = fb[b1 + k];
        x1 += w * p;
        y1 += w * q;
        w = fb[b2 + k];
        x2 += w * p;
        y2 += w * q;
        w = fb[b3 + k];
        x3 += w * p;
        y3 += w * q;
      }
      out[o + c] = x0;
      out[o + c + 1] = x1;
      out[o + c + 2] = x2;
      out[o + c + 3] = x3;
      out[o1 + c] = y0;
      out[o1 + c + 1] = y1;
      out[o1 + c + 2] = y2;
      out[o1 + c + 3] = y3;
    }
    for (; c < nChroma; c++) {
      const base = c * nBins;
      let x = 0;
      let y = 0;
      for (let k = 0; k < nBins; k++) {
        const w = fb[base + k];
        x += w * power[p0 + k];
        y += w * power[p1 + k];
      }
      out[o + c] = x;
      out[o1 + c] = y;
    }
  }

  /** Raw products for the frame at p0 into out[o…], four rows at a time. */
  private single(power: Float64Array | Float32Array, p0: number, out: Float64Array, o: number): void {
    const fb = this.filterBank;
    const nBins = this.nBins;
    const nChroma = this.nChroma;
    let c = 0;
    for (; c + 4 <= nChroma; c += 4) {
      const b0 = c * nBins;
      const b1 = b0 + nBins;
      const b2 = b1 + nBins;
      const b3 = b2 + nBins;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let k = 0; k < nBins; k++) {
        const p = power[p0 + k];
        a0 += fb[b0 + k] * p;
        a1 += fb[b1 + k] * p;
        a2 += fb[b2 + k] * p;
        a3 += fb[b3 + k] * p;
      }
      out[o + c] = a0;
      out[o + c + 1] = a1;
      out[o + c + 2] = a2;
      out[o + c + 3] = a3;
    }
    for (; c < nChroma; c++) {
      let acc = 0;
      const base = c * nBins;
      for (let k = 0; k < nBins; k++) acc += fb[base + k] * power[p0 + k];
      out[o + c] = acc;
    }
  }
}

/** util.normalize(norm=inf) of out[o, o + n): frames whose maximum is below float32 tiny stay un-normalised. */
function normalizeByMaximum(out: Float64Array, o: number, n: number): void {
  let peak = 0;
  for (let r = o; r < o + n; r++) {
    const magnitude = Math.abs(out[r]);
    if (magnitude > peak) peak = magnitude;
  }
  if (peak < FLOAT32_TINY) return;
  for (let r = o; r < o + n; r++) out[r] /= peak;
}
