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
 * Sparse mel filterbank: each band keeps only its non-zero run of bins, so applying it costs about
 * two multiplications per FFT bin instead of nMels.
 */
export class MelFilterbank {
  readonly nMels: number;
  readonly nBins: number;
  private readonly firstBin: Int32Array;
  private readonly weightOffset: Int32Array;
  private readonly weights: Float64Array;

  constructor(options: MelOptions) {
    const { sampleRate, nFft, nMels, fmin } = options;
    const fmax = options.fmax ?? sampleRate / 2;
    const htk = options.htk ?? false;
    this.nMels = nMels;
    this.nBins = nFft / 2 + 1;
    const dense = melFilterbankDense(sampleRate, nFft, nMels, fmin, fmax, htk);
    this.firstBin = new Int32Array(nMels);
    this.weightOffset = new Int32Array(nMels + 1);
    const kept: number[] = [];
    for (let m = 0; m < nMels; m++) {
      const row = dense.subarray(m * this.nBins, (m + 1) * this.nBins);
      let first = 0;
      while (first < this.nBins && row[first] === 0) first++;
      let last = this.nBins - 1;
      while (last >= first && row[last] === 0) last--;
      this.firstBin[m] = first;
      this.weightOffset[m] = kept.length;
      for (let k = first; k <= last; k++) kept.push(row[k]);
    }
    this.weightOffset[nMels] = kept.length;
    this.weights = Float64Array.from(kept);
  }

  /** out[m] = Σ_k W[m, k] · power[k]. */
  apply(power: Float64Array, out: Float64Array): void {
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
