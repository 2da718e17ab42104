/**
 * librosa 0.11's chroma_stft with its defaults: tuning estimated from the power spectrogram (piptrack
 * peaks → pitch_tuning histogram), the chroma filter bank for that tuning, and each frame normalised by its
 * maximum. Frames arrive one at a time; tuning needs the whole clip, so the estimator keeps only the
 * piptrack peaks (a histogram bin and a magnitude each), never the spectrogram.
 */

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
  private readonly binChunks: Uint8Array[] = [];
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

  /** One power-spectrum frame (length nFft/2 + 1). */
  addPowerFrame(power: Float64Array): void {
    const n = power.length;
    let frameMax = 0;
    for (let k = 0; k < n; k++) if (power[k] > frameMax) frameMax = power[k];
    const reference = PIPTRACK_THRESHOLD * frameMax;
    // Local maxima of S·(S > ref): x[k] > x[k-1] and x[k] >= x[k+1], ends padded by repetition.
    for (let k = this.firstBin; k <= this.lastBin; k++) {
      const here = power[k] > reference ? power[k] : 0;
      if (here === 0) continue;
      const below = k > 0 ? (power[k - 1] > reference ? power[k - 1] : 0) : here;
      if (!(here > below)) continue;
      const above = k < n - 1 ? (power[k + 1] > reference ? power[k + 1] : 0) : here;
      if (!(here >= above)) continue;
      let shift = 0;
      let slope = 0;
      if (k > 0 && k < n - 1) {
        // Parabolic interpolation through the (ungated) neighbours; offsets beyond a bin count as 0.
        const curvature = power[k + 1] + power[k - 1] - 2 * power[k];
        slope = (power[k + 1] - power[k - 1]) / 2;
        shift = Math.abs(slope) >= Math.abs(curvature) ? 0 : -slope / curvature;
      }
      const pitch = Math.fround(((k + shift) * this.sampleRate) / this.nFft);
      if (!(pitch > 0)) continue;
      const magnitude = Math.fround(power[k] + 0.5 * slope * shift);
      this.store(this.histogramBin(pitch), magnitude);
    }
  }

  /** Tuning deviation in fractions of a bin, in [-0.5, 0.5). */
  estimate(): number {
    if (this.peakCount === 0) return 0;
    const threshold = this.medianMagnitude();
    const counts = new Float64Array(this.nHistogramBins);
    for (let c = 0; c < this.binChunks.length; c++) {
      const bins = this.binChunks[c];
      const mags = this.magChunks[c];
      const size = Math.min(PEAK_CHUNK, this.peakCount - c * PEAK_CHUNK);
      for (let i = 0; i < size; i++) if (mags[i] >= threshold) counts[bins[i]]++;
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

  private store(bin: number, magnitude: number): void {
    const chunk = Math.floor(this.peakCount / PEAK_CHUNK);
    if (chunk === this.binChunks.length) {
      this.binChunks.push(new Uint8Array(PEAK_CHUNK));
      this.magChunks.push(new Float32Array(PEAK_CHUNK));
    }
    const offset = this.peakCount - chunk * PEAK_CHUNK;
    this.binChunks[chunk][offset] = bin;
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
    this.forEachBits((bits) => {
      high[bits >>> 16]++;
    });
    let prefix = 0;
    let rank = k;
    while (rank >= high[prefix]) rank -= high[prefix++];
    const low = new Float64Array(1 << 16);
    this.forEachBits((bits) => {
      if (bits >>> 16 === prefix) low[bits & 0xffff]++;
    });
    let suffix = 0;
    while (rank >= low[suffix]) rank -= low[suffix++];
    const word = new Uint32Array([((prefix << 16) | suffix) >>> 0]);
    return new Float32Array(word.buffer)[0];
  }

  private forEachBits(visit: (bits: number) => void): void {
    for (let c = 0; c < this.magChunks.length; c++) {
      const bits = new Uint32Array(this.magChunks[c].buffer);
      const size = Math.min(PEAK_CHUNK, this.peakCount - c * PEAK_CHUNK);
      for (let i = 0; i < size; i++) visit(bits[i]);
    }
  }
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

/**
 * One chroma frame: filter bank × power spectrum, divided by the frame's maximum (all-zero frames stay 0).
 * Rows are computed four at a time (one read of each power bin serves four sums); each row's sum still runs
 * over the bins in order, so the result is the same as one dot product per row.
 */
export class ChromaComputer {
  private readonly filterBank: Float64Array;
  private readonly nChroma: number;
  private readonly nBins: number;

  constructor(sampleRate: number, nFft: number, nChroma: number, tuning: number) {
    this.filterBank = sharedChromaFilterBank(sampleRate, nFft, nChroma, tuning);
    this.nChroma = nChroma;
    this.nBins = nFft / 2 + 1;
  }

  /** `power[offset…]` holds nFft/2 + 1 bins; `out` receives nChroma values. */
  frame(power: Float64Array | Float32Array, out: Float64Array, offset = 0): void {
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
        const p = power[offset + k];
        a0 += fb[b0 + k] * p;
        a1 += fb[b1 + k] * p;
        a2 += fb[b2 + k] * p;
        a3 += fb[b3 + k] * p;
      }
      out[c] = a0;
      out[c + 1] = a1;
      out[c + 2] = a2;
      out[c + 3] = a3;
    }
    for (; c < nChroma; c++) {
      let acc = 0;
      const base = c * nBins;
      for (let k = 0; k < nBins; k++) acc += fb[base + k] * power[offset + k];
      out[c] = acc;
    }
    let peak = 0;
    for (let r = 0; r < nChroma; r++) {
      const magnitude = Math.abs(out[r]);
      if (magnitude > peak) peak = magnitude;
    }
    // util.normalize(norm=inf) leaves frames whose maximum is below float32 tiny un-normalised.
    if (peak < FLOAT32_TINY) return;
    for (let r = 0; r < nChroma; r++) out[r] /= peak;
  }
}
