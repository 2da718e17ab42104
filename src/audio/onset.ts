/**
 * Spectral-flux onset strength as librosa.onset.onset_strength with its defaults (lag 1, max_size 1,
 * centred): from the dB mel spectrogram S (power_to_db, ref 1, top_db over the whole clip),
 * env[t] = aggregate_m max(0, S[m, t] − S[m, t − lag]), shifted right by lag + nFft // (2 hop) zeros and cut
 * to the number of frames.
 */

import { positiveFluxSums } from './mfcc.js';

export type OnsetAggregate = 'mean' | 'median';

export interface OnsetOptions {
  nFft: number;
  hopLength: number;
  lag?: number;
  aggregate?: OnsetAggregate;
}

/** melDb: row-major nMels × frames. Returns `frames` values. */
export function onsetStrength(melDb: Float32Array | Float64Array, nMels: number, frames: number, options: OnsetOptions): Float64Array {
  const aggregate = options.aggregate ?? 'mean';
  const both = onsetStrengths(melDb, nMels, frames, options, { mean: aggregate === 'mean', median: aggregate === 'median' });
  return (aggregate === 'mean' ? both.mean : both.median) as Float64Array;
}

/**
 * The mean- and/or median-aggregated envelopes from one pass over the flux (librosa.feature.tempo uses the
 * mean, beat_track the median). An envelope not asked for is null.
 */
export function onsetStrengths(
  melDb: Float32Array | Float64Array,
  nMels: number,
  frames: number,
  options: Omit<OnsetOptions, 'aggregate'>,
  wanted: { mean: boolean; median: boolean },
): { mean: Float64Array | null; median: Float64Array | null } {
  const lag = options.lag ?? 1;
  const pad = lag + Math.floor(options.nFft / (2 * options.hopLength));
  const mean = wanted.mean ? new Float64Array(frames) : null;
  const median = wanted.median ? new Float64Array(frames) : null;
  // The positive fluxes of one frame; the rest are zeros, which are only counted.
  const positive = new Float64Array(nMels);
  // On float32 (the analyzer's matrix) the mean's sums come from the WebAssembly kernel, the same sums in
  // the same order; the median, when asked for, still takes the JS pass.
  const kernelSums = mean && melDb instanceof Float32Array ? positiveFluxSums(melDb, nMels, frames, lag) : null;
  const jsMean = kernelSums ? null : mean;
  // One kernel call per frame: a small function called often is optimized by V8 as a whole.
  for (let t = pad; t < frames; t++) {
    // Output t holds the flux from frame (t - pad) to (t - pad + lag).
    const current = t - pad + lag;
    if (current >= frames) break;
    if (kernelSums && mean) mean[t] = kernelSums[current - lag] / nMels;
    if (jsMean || median) onsetFrame(melDb, nMels, frames, current, current - lag, t, jsMean, median, positive);
  }
  return { mean, median };
}

/** Mean and/or median over the mel bands of max(0, S[m, current] − S[m, previous]) into output t. */
function onsetFrame(
  melDb: Float32Array | Float64Array,
  nMels: number,
  frames: number,
  current: number,
  previous: number,
  t: number,
  mean: Float64Array | null,
  median: Float64Array | null,
  positive: Float64Array,
): void {
  let sum = 0;
  let nPositive = 0;
  for (let m = 0; m < nMels; m++) {
    const diff = melDb[m * frames + current] - melDb[m * frames + previous];
    if (diff > 0) {
      sum += diff;
      positive[nPositive++] = diff;
    }
  }
  if (mean) mean[t] = sum / nMels;
  if (!median) return;
  // Sorted, the fluxes are the zeros then the positives: the middle ones are zeros or ranks among the
  // positives, so only the positives need a selection (about half of them; none in a quiet frame).
  const middle = nMels >> 1;
  const zeros = nMels - nPositive;
  const upper = middle < zeros ? 0 : selectInPlace(positive, middle - zeros, 0, nPositive - 1);
  if (nMels % 2 === 1) {
    median[t] = upper;
    return;
  }
  let lower = 0;
  if (middle - 1 >= zeros) {
    // After the selection every positive left of the upper middle is <= it: the lower middle is their maximum.
    lower = positive[0];
    for (let i = 1; i < middle - zeros; i++) if (positive[i] > lower) lower = positive[i];
  }
  median[t] = 0.5 * (lower + upper);
}

/** np.median: the middle value, or the mean of the two middle values. Reorders `values`. */
export function medianInPlace(values: Float64Array): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  for (let i = 0; i < n; i++) if (values[i] !== values[i]) return Number.NaN;
  const mid = n >> 1;
  const upper = selectInPlace(values, mid, 0, n - 1);
  if (n % 2 === 1) return upper;
  // After selection every value left of mid is <= values[mid]: the lower middle is their maximum.
  let lower = values[0];
  for (let i = 1; i < mid; i++) if (values[i] > lower) lower = values[i];
  return 0.5 * (lower + upper);
}

/**
 * Hoare-partition quickselect (median-of-three pivot): places the k-th smallest of values[lo..hi] at k,
 * smaller-or-equal values before it and larger-or-equal after, and returns it. NaN-free input.
 */
function selectInPlace(values: Float64Array, k: number, lo: number, hi: number): number {
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    // Median of three into values[mid].
    if (values[mid] < values[lo]) swap(values, mid, lo);
    if (values[hi] < values[lo]) swap(values, hi, lo);
    if (values[hi] < values[mid]) swap(values, hi, mid);
    const pivot = values[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        swap(values, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

function swap(values: Float64Array, a: number, b: number): void {
  const v = values[a];
  values[a] = values[b];
  values[b] = v;
}
