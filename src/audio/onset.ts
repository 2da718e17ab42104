/**
 * Spectral-flux onset strength as librosa.onset.onset_strength with its defaults (lag 1, max_size 1,
 * centred): from the dB mel spectrogram S (power_to_db, ref 1, top_db over the whole clip),
 * env[t] = aggregate_m max(0, S[m, t] − S[m, t − lag]), shifted right by lag + nFft // (2 hop) zeros and cut
 * to the number of frames.
 */

export type OnsetAggregate = 'mean' | 'median';

export interface OnsetOptions {
  nFft: number;
  hopLength: number;
  lag?: number;
  aggregate?: OnsetAggregate;
}

/** melDb: row-major nMels × frames. Returns `frames` values. */
export function onsetStrength(melDb: Float32Array | Float64Array, nMels: number, frames: number, options: OnsetOptions): Float64Array {
  const lag = options.lag ?? 1;
  const aggregate = options.aggregate ?? 'mean';
  const pad = lag + Math.floor(options.nFft / (2 * options.hopLength));
  const out = new Float64Array(frames);
  const flux = new Float64Array(nMels);
  for (let t = pad; t < frames; t++) {
    // Output t holds the flux from frame (t - pad) to (t - pad + lag).
    const current = t - pad + lag;
    if (current >= frames) break;
    const previous = current - lag;
    for (let m = 0; m < nMels; m++) {
      const diff = melDb[m * frames + current] - melDb[m * frames + previous];
      flux[m] = diff > 0 ? diff : 0;
    }
    out[t] = aggregate === 'mean' ? meanOf(flux) : medianInPlace(flux);
  }
  return out;
}

function meanOf(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** np.median: the middle value, or the mean of the two middle values. Sorts `values`. */
export function medianInPlace(values: Float64Array): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  values.sort();
  const mid = n >> 1;
  return n % 2 === 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}
