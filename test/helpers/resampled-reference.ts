/**
 * Comparing spotml's features for the resampled reference files (44.1 / 48 kHz → 22050 Hz) with librosa's,
 * at the README's looser targets for files that pass through the resampler:
 *
 * - absolute: MFCC 0.05, spectral centroid and bandwidth 5 Hz, spectral contrast 4 dB, rolloff 2 bins;
 * - "1e-2 relative" for the rest (chroma, flatness, RMS, onset strength, MFCC deltas, ZCR): a row's
 *   mean and std may each be off by 1e-2 × that row's RMS over frames in the reference, √(mean² + std²)
 *   (ddof 0, so this is exactly the root mean square of the row's values). For a value well away from 0
 *   this is 1e-2 of the value itself; for a value near 0 (the mean of a delta row, the std of a steady
 *   row) it is 1e-2 of the size of the numbers the row holds, where a bound relative to the tiny value
 *   itself would demand more than float32 arithmetic can give.
 * - mel spectrogram in dB: 1e-2 relative in the mel power it is the logarithm of, i.e. 10·log10(1.01)
 *   ≈ 0.043 dB absolute. A dB value's size says nothing about its precision (0 dB is only the reference
 *   power 1: loud noise has mel rows around 0 dB), so 1e-2 of the dB value would be meaningless near 0 dB
 *   and needlessly loose (0.6 dB) at −60 dB.
 */
import type { FeatureName, FrameMatrix } from '../../src/audio/analyze.js';
import type { RowStats } from './reference.js';

export type MatrixFeature = Exclude<FeatureName, 'tempo'>;

/** Rolloff is reported in Hz on the 22050 / 2048 bin grid. */
export const ROLLOFF_BIN_HZ = 22050 / 2048;

export type ResampledTolerance =
  | { kind: 'absolute'; value: number; unit: string }
  | { kind: 'row-relative'; value: number }
  | { kind: 'power-relative-db'; value: number };

export const RESAMPLED_TARGETS: Readonly<Record<MatrixFeature, ResampledTolerance>> = {
  mfcc: { kind: 'absolute', value: 0.05, unit: '' },
  spectral_centroid: { kind: 'absolute', value: 5, unit: ' Hz' },
  spectral_bandwidth: { kind: 'absolute', value: 5, unit: ' Hz' },
  spectral_contrast: { kind: 'absolute', value: 4, unit: ' dB' },
  spectral_rolloff: { kind: 'absolute', value: 2 * ROLLOFF_BIN_HZ, unit: ' Hz (2 bins)' },
  mfcc_delta: { kind: 'row-relative', value: 1e-2 },
  mfcc_delta2: { kind: 'row-relative', value: 1e-2 },
  melspectrogram_db: { kind: 'power-relative-db', value: 1e-2 },
  chroma_stft: { kind: 'row-relative', value: 1e-2 },
  spectral_flatness: { kind: 'row-relative', value: 1e-2 },
  zero_crossing_rate: { kind: 'row-relative', value: 1e-2 },
  rms: { kind: 'row-relative', value: 1e-2 },
  onset_strength: { kind: 'row-relative', value: 1e-2 },
};

export interface ResampledComparison {
  /** Largest error as a fraction of its tolerance (<= 1 passes). */
  worstRatio: number;
  /** Largest absolute error. */
  worstError: number;
  failures: string[];
}

function rowMeanStd(m: FrameMatrix, row: number): { mean: number; std: number } {
  let sum = 0;
  for (let t = 0; t < m.frames; t++) sum += m.data[row * m.frames + t];
  const mean = sum / m.frames;
  let squares = 0;
  for (let t = 0; t < m.frames; t++) {
    const d = m.data[row * m.frames + t] - mean;
    squares += d * d;
  }
  return { mean, std: Math.sqrt(squares / m.frames) };
}

/** Per-row mean and std of `actual` against librosa's, at the feature's resampled target; one message per value out of tolerance. */
export function compareResampledStats(label: string, feature: MatrixFeature, actual: FrameMatrix, expected: RowStats): ResampledComparison {
  const target = RESAMPLED_TARGETS[feature];
  if (expected.mean.length !== actual.rows) {
    return { worstRatio: Number.POSITIVE_INFINITY, worstError: Number.POSITIVE_INFINITY, failures: [`${label}: ${actual.rows} rows, librosa has ${expected.mean.length}`] };
  }
  const failures: string[] = [];
  let worstRatio = 0;
  let worstError = 0;
  for (let r = 0; r < actual.rows; r++) {
    const got = rowMeanStd(actual, r);
    const rowRms = Math.hypot(expected.mean[r], expected.std[r]);
    let tolerance: number;
    let how: string;
    if (target.kind === 'absolute') {
      tolerance = target.value;
      how = `${target.value}${target.unit}`;
    } else if (target.kind === 'row-relative') {
      tolerance = target.value * rowRms;
      how = `${target.value} × row RMS ${rowRms.toPrecision(4)}`;
    } else {
      tolerance = 10 * Math.log10(1 + target.value);
      how = `${target.value} relative in power = ${tolerance.toPrecision(3)} dB`;
    }
    for (const stat of ['mean', 'std'] as const) {
      const want = expected[stat][r];
      const error = Math.abs(got[stat] - want);
      worstError = Math.max(worstError, error);
      worstRatio = Math.max(worstRatio, tolerance > 0 ? error / tolerance : error === 0 ? 0 : Number.POSITIVE_INFINITY);
      if (!(error <= tolerance)) {
        failures.push(`${label} ${feature}[${r}].${stat}: spotml ${got[stat].toPrecision(7)}, librosa ${want.toPrecision(7)}, error ${error.toPrecision(3)} > ${tolerance.toPrecision(3)} (${how})`);
      }
    }
  }
  return { worstRatio, worstError, failures };
}
