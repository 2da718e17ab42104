/**
 * Tempo estimation and beat tracking as librosa 0.11 computes them with its defaults:
 * `librosa.feature.tempo` (autocorrelation tempogram over 8 s windows, mean over time, log-normal prior
 * around 120 BPM, argmax on the lag grid) and `librosa.beat.beat_track` (Ellis' dynamic programme with
 * tightness 100 and trimming), including the quirks of librosa's own implementation, which the reference
 * values depend on.
 */
import type { RealFft } from './fft.js';
import { sharedRealFft } from './spectrum.js';
import { acquireSpectrumKernel, BLOCK_FRAMES, KERNEL_MIN_FFT, releaseSpectrumKernel } from './spectrum-kernel.js';

const START_BPM = 120;
const STD_BPM = 1;
const AC_SIZE_SECONDS = 8;
const MAX_TEMPO = 320;
const TIGHTNESS = 100;
/** np.finfo(np.float32).tiny: librosa's onset envelope is float32, and its guards use that dtype's tiny. */
const FLOAT32_TINY = 1.1754943508222875e-38;

/** Autocorrelation window in frames: librosa.time_to_frames(ac_size), i.e. floor(floor(ac_size * sr) / hop). */
export function tempogramWindowLength(sampleRate: number, hopLength: number): number {
  return Math.floor(Math.floor(AC_SIZE_SECONDS * sampleRate) / hopLength);
}

/** The tempogram's window per (winLength, fftSize): a Hann of winLength, then zeros to fftSize. */
const tempogramWindows = new Map<string, Float64Array>();

function tempogramWindow(winLength: number, fftSize: number): Float64Array {
  const key = `${winLength}|${fftSize}`;
  let window = tempogramWindows.get(key);
  if (!window) {
    window = new Float64Array(fftSize);
    for (let i = 0; i < winLength; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / winLength);
    tempogramWindows.set(key, window);
  }
  return window;
}

/**
 * Mean over frames of librosa.feature.tempogram (hann window, centred with a linear ramp to zero, each
 * frame's autocorrelation divided by its maximum). Index = lag in frames.
 *
 * A frame's autocorrelation peaks at lag 0 (|r(k)| <= r(0) for any sequence), so its maximum is r(0), the
 * frame's energy, known from its power spectrum alone. And the inverse transform is linear, so the mean of
 * the normalised autocorrelations is the inverse transform of the mean of the normalised power spectra: one
 * forward FFT per frame and a single inverse at the end, instead of a forward and an inverse per frame.
 * The per-frame power spectra and their normalised sum run on the WebAssembly front end (hop 1, the
 * zero-padded Hann as its window), 64 frames per call.
 */
export function meanTempogram(onsetEnvelope: Float64Array, winLength: number): Float64Array {
  const n = onsetEnvelope.length;
  const mean = new Float64Array(winLength);
  if (n === 0) return mean;
  const half = Math.floor(winLength / 2);
  let fftSize = 4;
  while (fftSize < 2 * winLength - 1) fftSize *= 2;
  // Padded envelope: `half` samples ramping from 0 up to (not reaching) the first value, the envelope,
  // then the mirror ramp down from the last value (np.pad mode='linear_ramp', end_values 0); then zeros,
  // so that every frame can be read as fftSize samples in place.
  const paddedLength = n + 2 * half;
  const padded = new Float64Array(paddedLength + fftSize);
  const first = onsetEnvelope[0];
  const last = onsetEnvelope[n - 1];
  for (let i = 0; i < half; i++) {
    padded[i] = (first / half) * i;
    padded[paddedLength - 1 - i] = (last / half) * i;
  }
  padded.set(onsetEnvelope, half);

  // The Hann window, then zeros: the zero padding of the linear autocorrelation, applied as each frame
  // is loaded (the same products as windowing a zero-padded copy).
  const window = tempogramWindow(winLength, fftSize);
  const fft = sharedRealFft(fftSize);
  const halfSize = fftSize / 2;
  // Σ_t |X_t|² / r_t(0) over the bins 0..N/2.
  let powerSum: Float64Array;
  if (fftSize >= KERNEL_MIN_FFT) {
    powerSum = normalisedPowerSumByKernel(padded, n, window);
  } else {
    powerSum = new Float64Array(halfSize + 1);
    const power = new Float64Array(halfSize + 1);
    for (let t = 0; t < n; t++) addNormalisedFramePower(fft, padded, t, window, power, powerSum);
  }
  const autocorr = new Float64Array(winLength);
  autocorrelationFromPower(fft, powerSum, autocorr);
  for (let lag = 0; lag < winLength; lag++) mean[lag] = autocorr[lag] / n;
  return mean;
}

/** Σ_t |X_t|² / r_t(0) for the frames padded[t, t + N), t < frames, windowed, on the spectrum kernel. */
function normalisedPowerSumByKernel(padded: Float64Array, frames: number, window: Float64Array): Float64Array {
  const fftSize = window.length;
  const kernel = acquireSpectrumKernel(fftSize, 1, null, window);
  try {
    kernel.powerSum.fill(0);
    for (let t = 0; t < frames; t += BLOCK_FRAMES) {
      const count = Math.min(BLOCK_FRAMES, frames - t);
      kernel.input.set(padded.subarray(t, t + count - 1 + fftSize));
      kernel.compute(0, count);
      kernel.addNormalisedPower(count, FLOAT32_TINY);
    }
    return Float64Array.from(kernel.powerSum);
  } finally {
    releaseSpectrumKernel(kernel);
  }
}

/**
 * Adds |X|² / r(0) of the frame padded[t, t + N) times the window (zero past the Hann part) to powerSum
 * (bins 0..N/2), where r(0), the frame's energy, is the autocorrelation's maximum. For sizes below the
 * kernel's smallest.
 */
function addNormalisedFramePower(fft: RealFft, padded: Float64Array, t: number, window: Float64Array, power: Float64Array, powerSum: Float64Array): void {
  const halfSize = fft.size / 2;
  fft.forwardPower(padded, t, window, power);
  // r(0) = (1/N) Σ over all N bins of |X_k|², the bins above N/2 mirroring those below.
  let inner = 0;
  for (let k = 1; k < halfSize; k++) inner += power[k];
  const peak = (power[0] + 2 * inner + power[halfSize]) / fft.size;
  // util.normalize(norm=inf): frames whose max is below tiny are left as they are (all zero here).
  const scale = peak < FLOAT32_TINY ? 1 : 1 / peak;
  for (let k = 0; k <= halfSize; k++) powerSum[k] += power[k] * scale;
}

/**
 * Inverse transform of a real, even power spectrum given by its bins 0..N/2, for lags 0..out.length-1: a
 * forward transform of the even extension (its spectrum is real and equals N times the inverse).
 */
function autocorrelationFromPower(fft: RealFft, power: Float64Array, out: Float64Array): void {
  const fftSize = fft.size;
  const half = fftSize / 2;
  const even = new Float64Array(fftSize);
  for (let k = 0; k <= half; k++) even[k] = power[k];
  for (let k = 1; k < half; k++) even[fftSize - k] = power[k];
  const acRe = new Float64Array(half + 1);
  const acIm = new Float64Array(half + 1);
  fft.forward(even, acRe, acIm);
  for (let lag = 0; lag < out.length; lag++) out[lag] = acRe[lag] / fftSize;
}

/** BPM of each autocorrelation lag (librosa.tempo_frequencies); lag 0 is +Infinity. */
export function tempoFrequencies(nBins: number, sampleRate: number, hopLength: number): Float64Array {
  const bpms = new Float64Array(nBins);
  bpms[0] = Number.POSITIVE_INFINITY;
  for (let lag = 1; lag < nBins; lag++) bpms[lag] = (60 * sampleRate) / (hopLength * lag);
  return bpms;
}

/**
 * librosa.feature.tempo(onset_envelope, sr, hop_length) with its defaults (start_bpm 120, std_bpm 1,
 * ac_size 8 s, max_tempo 320, aggregate mean). The result is always on the lag grid 60·sr/(hop·lag).
 */
export function estimateTempo(onsetEnvelope: Float64Array, sampleRate: number, hopLength: number): number {
  const winLength = tempogramWindowLength(sampleRate, hopLength);
  const tempogram = meanTempogram(onsetEnvelope, winLength);
  const bpms = tempoFrequencies(winLength, sampleRate, hopLength);
  // Lags faster than max_tempo are excluded: everything before the first bpm below it.
  let firstAllowed = 0;
  while (firstAllowed < winLength && !(bpms[firstAllowed] < MAX_TEMPO)) firstAllowed++;
  if (firstAllowed === winLength) firstAllowed = 0; // np.argmax of an all-False mask is 0
  const log2Start = Math.log2(START_BPM);
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let lag = 0; lag < winLength; lag++) {
    const deviation = (Math.log2(bpms[lag]) - log2Start) / STD_BPM;
    const logPrior = lag < firstAllowed ? Number.NEGATIVE_INFINITY : -0.5 * deviation * deviation;
    const score = Math.log1p(1e6 * tempogram[lag]) + logPrior;
    if (best < 0 || score > bestScore) {
      best = lag;
      bestScore = score;
    }
  }
  return bpms[best];
}

export interface BeatTrackResult {
  /** Estimated tempo in BPM; 0 when the onset envelope is all zero. */
  tempo: number;
  /** Beat positions as frame indices, ascending. */
  beats: Int32Array;
}

/**
 * librosa.beat.beat_track(onset_envelope=…, sr, hop_length) with its defaults (start_bpm 120,
 * tightness 100, trim True). librosa computes the envelope for it with aggregate=np.median.
 */
export function beatTrack(onsetEnvelopeMedian: Float64Array, sampleRate: number, hopLength: number): BeatTrackResult {
  const envelope = onsetEnvelopeMedian;
  if (!envelope.some((v) => v !== 0)) return { tempo: 0, beats: new Int32Array(0) };
  const tempo = estimateTempo(envelope, sampleRate, hopLength);
  const frameRate = sampleRate / hopLength;
  const framesPerBeat = Math.round((frameRate * 60) / tempo);
  const localScore = beatLocalScore(normalizeOnsets(envelope), framesPerBeat);
  const { backlink, cumScore } = beatTrackDp(localScore, framesPerBeat, TIGHTNESS);
  const isBeat = new Uint8Array(envelope.length);
  for (let n = lastBeat(cumScore); n >= 0; n = backlink[n]) isBeat[n] = 1;
  trimBeats(localScore, isBeat);
  let count = 0;
  for (let i = 0; i < isBeat.length; i++) count += isBeat[i];
  const beats = new Int32Array(count);
  for (let i = 0, j = 0; i < isBeat.length; i++) if (isBeat[i]) beats[j++] = i;
  return { tempo, beats };
}

/** Divide by the sample standard deviation (ddof 1), plus tiny to avoid 0/0. */
function normalizeOnsets(envelope: Float64Array): Float64Array {
  const n = envelope.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += envelope[i];
  mean /= n;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) sumSquares += (envelope[i] - mean) ** 2;
  const std = n > 1 ? Math.sqrt(sumSquares / (n - 1)) : Number.NaN;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = envelope[i] / (std + FLOAT32_TINY);
  return out;
}

/**
 * Smooth the normalised envelope with a Gaussian of ±framesPerBeat frames. This is librosa's hand-written
 * "same" convolution, whose inner bound skips envelope[0]; we keep that so beat positions match.
 */
export function beatLocalScore(envelope: Float64Array, framesPerBeat: number): Float64Array {
  const n = envelope.length;
  const kernelLength = 2 * framesPerBeat + 1;
  const halfKernel = framesPerBeat;
  const window = new Float64Array(kernelLength);
  for (let k = 0; k < kernelLength; k++) {
    const x = ((k - framesPerBeat) * 32) / framesPerBeat;
    window[k] = Math.exp(-0.5 * x * x);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    const kStart = Math.max(0, i + halfKernel - n + 1);
    const kEnd = Math.min(i + halfKernel, kernelLength);
    for (let k = kStart; k < kEnd; k++) acc += window[k] * envelope[i + halfKernel - k];
    out[i] = acc;
  }
  return out;
}

/** Round half to even, as np.round. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The DP: each frame's best predecessor between framesPerBeat/2 and 2·framesPerBeat frames back. */
export function beatTrackDp(
  localScore: Float64Array,
  framesPerBeat: number,
  tightness: number,
): { backlink: Int32Array; cumScore: Float64Array } {
  const n = localScore.length;
  const backlink = new Int32Array(n);
  const cumScore = new Float64Array(n);
  let maxScore = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) maxScore = Math.max(maxScore, localScore[i]);
  const scoreThreshold = 0.01 * maxScore;
  const nearest = roundHalfEven(framesPerBeat / 2);
  const farthest = 2 * framesPerBeat;
  // The transition penalty depends only on the gap, so it is tabulated once (same expression as librosa;
  // a gap of 0, possible only at 1 frame per beat, gets an infinite penalty as log(0) does there).
  const penalty = new Float64Array(farthest + 1);
  for (let gap = nearest; gap <= farthest; gap++) {
    penalty[gap] = tightness * (Math.log(gap) - Math.log(framesPerBeat)) ** 2;
  }
  let firstBeat = true;
  for (let i = 0; i < n; i++) {
    let bestScore = Number.NEGATIVE_INFINITY;
    let beatLocation = -1;
    for (let loc = i - nearest; loc >= i - farthest; loc--) {
      if (loc < 0) break;
      const score = cumScore[loc] - penalty[i - loc];
      if (score > bestScore) {
        bestScore = score;
        beatLocation = loc;
      }
    }
    cumScore[i] = beatLocation >= 0 ? localScore[i] + bestScore : localScore[i];
    if (firstBeat && localScore[i] < scoreThreshold) {
      backlink[i] = -1;
    } else {
      backlink[i] = beatLocation;
      firstBeat = false;
    }
  }
  return { backlink, cumScore };
}

/** Local maxima as librosa.util.localmax: x[i] > x[i-1] and x[i] >= x[i+1], edges padded by repetition. */
function isLocalMax(x: Float64Array, i: number): boolean {
  const prev = i > 0 ? x[i - 1] : x[0];
  const next = i < x.length - 1 ? x[i + 1] : x[x.length - 1];
  return x[i] > prev && x[i] >= next;
}

/** The last local maximum of the cumulative score reaching half the median of all its local maxima. */
export function lastBeat(cumScore: Float64Array): number {
  const n = cumScore.length;
  const peaks: number[] = [];
  for (let i = 0; i < n; i++) if (isLocalMax(cumScore, i)) peaks.push(cumScore[i]);
  if (peaks.length === 0) return n - 1;
  peaks.sort((a, b) => a - b);
  const mid = peaks.length >> 1;
  const median = peaks.length % 2 === 1 ? peaks[mid] : (peaks[mid - 1] + peaks[mid]) / 2;
  const threshold = 0.5 * median;
  for (let i = n - 1; i >= 0; i--) if (isLocalMax(cumScore, i) && cumScore[i] >= threshold) return i;
  return n - 1;
}

/**
 * Drop weak leading and trailing beats. The threshold is half the RMS of the beats' local scores smoothed
 * by a 5-point Hann window; librosa slices the full convolution as [2, n_frames + 2), which keeps the two
 * trailing convolution samples in the RMS. It then clears beats from each end of the clip while the local
 * score (of every frame, not only beats) stays at or below the threshold.
 */
export function trimBeats(localScore: Float64Array, isBeat: Uint8Array): void {
  const n = localScore.length;
  const beatScores: number[] = [];
  for (let i = 0; i < n; i++) if (isBeat[i]) beatScores.push(localScore[i]);
  const hann5 = [0, 0.5, 1, 0.5, 0];
  const fullLength = beatScores.length + hann5.length - 1;
  const sliceEnd = Math.min(n + 2, fullLength);
  let sumSquares = 0;
  let count = 0;
  for (let j = 2; j < sliceEnd; j++) {
    let acc = 0;
    for (let k = 0; k < hann5.length; k++) {
      const m = j - k;
      if (m >= 0 && m < beatScores.length) acc += beatScores[m] * hann5[k];
    }
    sumSquares += acc * acc;
    count++;
  }
  const threshold = count > 0 ? 0.5 * Math.sqrt(sumSquares / count) : 0;
  for (let i = 0; i < n && localScore[i] <= threshold; i++) isBeat[i] = 0;
  for (let i = n - 1; i >= 0 && localScore[i] <= threshold; i--) isBeat[i] = 0;
}
