/**
 * Mel filterbank as librosa.filters.mel with its defaults: Slaney mel scale (htk=False), Slaney area
 * normalisation, triangular weights evaluated at the exact FFT bin frequencies. Applied to POWER frames.
 */
import { fftFrequencies } from './spectrum.js';

/** Slaney scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4). */
const SLANEY_HZ_PER_MEL = 200 / 3;
const SLANEY_LOG_START_HZ = 1000;
const SLANEY_LOG_START_MEL = SLANEY_LOG_START_HZ / SLANEY_HZ_PER_MEL;
const SLANEY_LOG_STEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, htk = false): number {
  if (htk) return 2595 * Math.log10(1 + hz / 700);
  if (hz >= SLANEY_LOG_START_HZ) return SLANEY_LOG_START_MEL + Math.log(hz / SLANEY_LOG_START_HZ) / SLANEY_LOG_STEP;
  return hz / SLANEY_HZ_PER_MEL;
}

export function melToHz(mel: number, htk = false): number {
  if (htk) return 700 * (10 ** (mel / 2595) - 1);
  if (mel >= SLANEY_LOG_START_MEL) return SLANEY_LOG_START_HZ * Math.exp(SLANEY_LOG_STEP * (mel - SLANEY_LOG_START_MEL));
  return SLANEY_HZ_PER_MEL * mel;
}

/** `count` frequencies evenly spaced on the mel scale from fmin to fmax inclusive (librosa.mel_frequencies). */
export function melFrequencies(count: number, fmin: number, fmax: number, htk = false): Float64Array {
  const lo = hzToMel(fmin, htk);
  const hi = hzToMel(fmax, htk);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    // np.linspace: start + i * step, with the last point exactly the stop.
    const mel = count === 1 ? lo : i === count - 1 ? hi : lo + (i * (hi - lo)) / (count - 1);
    out[i] = melToHz(mel, htk);
  }
  return out;
}

export interface MelOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  fmin: number;
  /** null = sampleRate / 2. */
  fmax: number | null;
  htk?: boolean;
}

/**
 * Sparse mel filterbank. Slaney triangles sit on consecutive mel points, so every FFT bin lies under at
 * most two adjacent bands: the falling edge of band b and the rising edge of band b + 1. `apply` walks
 * the bins once, in segments of equal b, with two running sums in registers (about two multiplications
 * per bin, no stores but one per band). Each band's sum still starts at 0 and adds its bins in increasing
 * order, exactly as a per-band dot product over its non-zero run does, so the result is bit-identical to
 * `applyPerBand`. A bank that does not have this shape (never from melFilterbankDense, but checked) is
 * applied band by band.
 */
export class MelFilterbank {
  readonly nMels: number;
  readonly nBins: number;
  private readonly firstBin: Int32Array;
  private readonly weightOffset: Int32Array;
  private readonly weights: Float64Array;
  /** Segments of bins sharing one lower band: bins [segmentStart[s], segmentStart[s + 1]), lower band segmentBand[s] (−1: none). */
  private readonly segmentStart: Int32Array;
  private readonly segmentBand: Int32Array;
  /** Per bin: its weight in the segment's lower band and in the band above it (0 where the band is absent). */
  private readonly lowerWeight: Float64Array;
  private readonly upperWeight: Float64Array;
  private readonly twoBandShape: boolean;

  constructor(options: MelOptions) {
    const { sampleRate, nFft, nMels, fmin } = options;
    const fmax = options.fmax ?? sampleRate / 2;
    const htk = options.htk ?? false;
    this.nMels = nMels;
    const nBins = nFft / 2 + 1;
    this.nBins = nBins;
    const dense = melFilterbankDense(sampleRate, nFft, nMels, fmin, fmax, htk);
    this.firstBin = new Int32Array(nMels);
    this.weightOffset = new Int32Array(nMels + 1);
    const kept: number[] = [];
    for (let m = 0; m < nMels; m++) {
      const row = dense.subarray(m * nBins, (m + 1) * nBins);
      let first = 0;
      while (first < nBins && row[first] === 0) first++;
      let last = nBins - 1;
      while (last >= first && row[last] === 0) last--;
      this.firstBin[m] = first;
      this.weightOffset[m] = kept.length;
      for (let k = first; k <= last; k++) kept.push(row[k]);
    }
    this.weightOffset[nMels] = kept.length;
    this.weights = Float64Array.from(kept);

    // Lower band of each bin: the first band whose non-zero run holds it (−1: none). The two-band walk
    // needs every band's run inside the bins whose lower band is that band or the one below.
    const lower = new Int32Array(nBins).fill(-1);
    for (let m = nMels - 1; m >= 0; m--) {
      const count = this.weightOffset[m + 1] - this.weightOffset[m];
      for (let k = this.firstBin[m]; k < this.firstBin[m] + count; k++) lower[k] = m;
    }
    let shapeOk = true;
    for (let m = 0; m < nMels && shapeOk; m++) {
      const count = this.weightOffset[m + 1] - this.weightOffset[m];
      for (let k = this.firstBin[m]; k < this.firstBin[m] + count; k++) {
        if (lower[k] !== m && lower[k] !== m - 1) shapeOk = false;
      }
    }
    for (let k = 1; k < nBins && shapeOk; k++) if (lower[k] !== -1 && lower[k] < lower[k - 1]) shapeOk = false;
    this.twoBandShape = shapeOk;
    this.lowerWeight = new Float64Array(nBins);
    this.upperWeight = new Float64Array(nBins);
    const starts: number[] = [];
    const bands: number[] = [];
    for (let k = 0; k < nBins; k++) {
      const b = lower[k];
      if (k === 0 || b !== lower[k - 1]) {
        starts.push(k);
        bands.push(b);
      }
      if (b >= 0) {
        this.lowerWeight[k] = dense[b * nBins + k];
        if (b + 1 < nMels) this.upperWeight[k] = dense[(b + 1) * nBins + k];
      }
    }
    starts.push(nBins);
    this.segmentStart = Int32Array.from(starts);
    this.segmentBand = Int32Array.from(bands);
  }

  /** out[m] = Σ_k W[m, k] · power[k]. */
  apply(power: Float64Array, out: Float64Array): void {
    if (!this.twoBandShape) {
      this.applyPerBand(power, out);
      return;
    }
    const nMels = this.nMels;
    const starts = this.segmentStart;
    const bands = this.segmentBand;
    const lowerWeight = this.lowerWeight;
    const upperWeight = this.upperWeight;
    out.fill(0, 0, nMels);
    // carry: the sum so far of band carryBand, begun as the upper band of the previous segment.
    let carry = 0;
    let carryBand = -1;
    const segments = bands.length;
    for (let s = 0; s < segments; s++) {
      const band = bands[s];
      if (band < 0) continue;
      let lowerSum = 0;
      if (band === carryBand) {
        lowerSum = carry;
      } else if (carryBand >= 0 && carryBand < nMels) {
        out[carryBand] = carry;
      }
      let upperSum = 0;
      const end = starts[s + 1];
      for (let k = starts[s]; k < end; k++) {
        const p = power[k];
        lowerSum += lowerWeight[k] * p;
        upperSum += upperWeight[k] * p;
      }
      out[band] = lowerSum;
      carry = upperSum;
      carryBand = band + 1;
    }
    if (carryBand >= 0 && carryBand < nMels) out[carryBand] = carry;
  }

  /** Each band's non-zero run: its first bin, its length, and all runs' weights back to back (copies). */
  runs(): { firstBin: Int32Array; counts: Int32Array; weights: Float64Array } {
    const counts = new Int32Array(this.nMels);
    for (let m = 0; m < this.nMels; m++) counts[m] = this.weightOffset[m + 1] - this.weightOffset[m];
    return { firstBin: this.firstBin.slice(), counts, weights: this.weights.slice() };
  }

  /** The plain per-band dot products over each band's non-zero run (the reference for `apply`). */
  applyPerBand(power: Float64Array, out: Float64Array): void {
    const w = this.weights;
    for (let m = 0; m < this.nMels; m++) {
      const start = this.weightOffset[m];
      const end = this.weightOffset[m + 1];
      let bin = this.firstBin[m];
      let sum = 0;
      for (let i = start; i < end; i++) sum += w[i] * power[bin++];
      out[m] = sum;
    }
  }
}

const melCache = new Map<string, MelFilterbank>();

/** MelFilterbank for these options, built once per thread and shared (it is immutable). */
export function sharedMelFilterbank(options: MelOptions): MelFilterbank {
  const key = [options.sampleRate, options.nFft, options.nMels, options.fmin, options.fmax ?? 'nyquist', options.htk ?? false].join('|');
  let bank = melCache.get(key);
  if (!bank) {
    bank = new MelFilterbank(options);
    melCache.set(key, bank);
  }
  return bank;
}

/** Dense weights, row-major nMels × (nFft/2 + 1), exactly as librosa.filters.mel(norm='slaney'). */
export function melFilterbankDense(sampleRate: number, nFft: number, nMels: number, fmin: number, fmax: number, htk = false): Float64Array {
  const nBins = nFft / 2 + 1;
  const fftFreqs = fftFrequencies(sampleRate, nFft);
  const melF = melFrequencies(nMels + 2, fmin, fmax, htk);
  const out = new Float64Array(nMels * nBins);
  for (let m = 0; m < nMels; m++) {
    const lowerWidth = melF[m + 1] - melF[m];
    const upperWidth = melF[m + 2] - melF[m + 1];
    // Slaney normalisation: each triangle has unit area in Hz.
    const enorm = 2 / (melF[m + 2] - melF[m]);
    for (let k = 0; k < nBins; k++) {
      const rising = (fftFreqs[k] - melF[m]) / lowerWidth;
      const falling = (melF[m + 2] - fftFreqs[k]) / upperWidth;
      out[m * nBins + k] = Math.max(0, Math.min(rising, falling)) * enorm;
    }
  }
  return out;
}
