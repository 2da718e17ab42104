/**
 * Reading the shared librosa reference (../shared/reference/audio) and comparing spotml's features to it.
 *
 * The WAV reader here is deliberately minimal and independent of src/audio/wav.ts (PCM u8/16/24/32 and
 * float32, plain or EXTENSIBLE; libsndfile scaling 1/2^(bits-1); mono = float32 mean over channels as
 * librosa.to_mono). It only has to read the reference files.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FeatureName, FrameMatrix } from '../../src/audio/analyze.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REFERENCE_DIR = resolve(HERE, '../../../shared/reference/audio');

export function referenceAvailable(): boolean {
  return existsSync(join(REFERENCE_DIR, 'expected'));
}

export interface ReferenceAudio {
  sampleRate: number;
  channels: number;
  /** Mono mixdown, values exactly as librosa sees them (float32). */
  mono: Float32Array;
}

export function readReferenceWav(fileName: string): ReferenceAudio {
  const bytes = readFileSync(join(REFERENCE_DIR, fileName));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string => String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error(`${fileName}: not a RIFF/WAVE file`);
  let offset = 12;
  let format = 0;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  let data: { start: number; length: number } | null = null;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real format tag.
      if (format === 0xfffe) format = view.getUint16(body + 24, true);
    } else if (id === 'data') {
      data = { start: body, length: Math.min(size, bytes.length - body) };
    }
    offset = body + size + (size % 2);
  }
  if (!data || channels === 0) throw new Error(`${fileName}: no fmt or data chunk`);
  const bytesPerSample = bits / 8;
  const frames = Math.floor(data.length / (bytesPerSample * channels));
  const mono = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const at = data.start + (f * channels + c) * bytesPerSample;
      sum += readSample(view, at, format, bits, fileName);
    }
    mono[f] = Math.fround(sum / channels);
  }
  return { sampleRate, channels, mono };
}

function readSample(view: DataView, at: number, format: number, bits: number, fileName: string): number {
  if (format === 3 && bits === 32) return view.getFloat32(at, true);
  if (format !== 1) throw new Error(`${fileName}: format ${format}/${bits} bits not handled by the test reader`);
  switch (bits) {
    case 8:
      return (view.getUint8(at) - 128) / 128;
    case 16:
      return view.getInt16(at, true) / 32768;
    case 24: {
      const raw = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16);
      return raw / 8388608;
    }
    case 32:
      return Math.fround(view.getInt32(at, true) / 2147483648);
    default:
      throw new Error(`${fileName}: ${bits}-bit PCM not handled by the test reader`);
  }
}

export interface RowStats {
  mean: number[];
  std: number[];
}

export interface ExpectedClip {
  file: string;
  sr: number;
  n_samples: number;
  n_frames: number;
  tuning: number;
  tempo: { feature_tempo: number; beat_track_tempo: number };
  beat_frames: number[];
  delta_error?: string;
  features: Partial<Record<FeatureName, RowStats>>;
  frames?: Partial<Record<FeatureName, number[][]>>;
}

export function loadExpected(wavName: string): ExpectedClip {
  const path = join(REFERENCE_DIR, 'expected', wavName.replace(/\.wav$/, '.json'));
  return JSON.parse(readFileSync(path, 'utf8')) as ExpectedClip;
}

/** Reference WAVs already at 22050 Hz (no resampling between the file and the features). */
export function nativeRateReferenceFiles(): string[] {
  return readdirSync(REFERENCE_DIR)
    .filter((f) => f.endsWith('.wav') && (f.includes('_22050_') || f.startsWith('short_0.1s_22050')))
    .sort();
}

/** Reference WAVs that go through the resampler (44.1 / 48 kHz). */
export function resampledReferenceFiles(): string[] {
  return readdirSync(REFERENCE_DIR)
    .filter((f) => f.endsWith('.wav') && !nativeRateReferenceFiles().includes(f))
    .sort();
}

/** README tolerances (absolute) for files at 22050 Hz. Rolloff is special-cased (see compareRolloff). */
export const NATIVE_TOLERANCES: Readonly<Record<Exclude<FeatureName, 'tempo'>, number>> = {
  mfcc: 1e-3,
  mfcc_delta: 1e-4,
  mfcc_delta2: 1e-4,
  melspectrogram_db: 1e-4,
  chroma_stft: 1e-5,
  spectral_centroid: 1e-3,
  spectral_bandwidth: 1e-3,
  spectral_contrast: 1e-4,
  spectral_flatness: 1e-5,
  rms: 1e-6,
  onset_strength: 1e-4,
  // "exact": the rate is a count over 2048, librosa returns float64; allow only summation-order rounding.
  zero_crossing_rate: 1e-12,
  // Per frame: exact or one bin; aggregates: see compareRolloff.
  spectral_rolloff: 0,
};

export const TUNING_TOLERANCE = 0.01;

/** One comparison's outcome: the worst absolute error and a description of each value out of tolerance. */
export interface Comparison {
  worst: number;
  failures: string[];
}

function meanStd(m: FrameMatrix, row: number): { mean: number; std: number } {
  let sum = 0;
  for (let t = 0; t < m.frames; t++) sum += m.data[row * m.frames + t];
  const mean = sum / m.frames;
  let sq = 0;
  for (let t = 0; t < m.frames; t++) {
    const d = m.data[row * m.frames + t] - mean;
    sq += d * d;
  }
  return { mean, std: Math.sqrt(sq / m.frames) };
}

/** Per-row mean and std over frames (ddof 0) against the reference, at an absolute tolerance. */
export function compareRowStats(label: string, actual: FrameMatrix, expected: RowStats, tolerance: number): Comparison {
  const failures: string[] = [];
  let worst = 0;
  if (expected.mean.length !== actual.rows) return { worst: Number.POSITIVE_INFINITY, failures: [`${label}: ${actual.rows} rows, expected ${expected.mean.length}`] };
  for (let r = 0; r < actual.rows; r++) {
    const got = meanStd(actual, r);
    for (const [stat, want] of [['mean', expected.mean[r]], ['std', expected.std[r]]] as const) {
      const err = Math.abs(got[stat] - want);
      worst = Math.max(worst, err);
      if (!(err <= tolerance)) failures.push(`${label}[${r}].${stat}: got ${got[stat]}, expected ${want} (error ${err.toExponential(2)} > ${tolerance})`);
    }
  }
  return { worst, failures };
}

/** Full frame matrices against the reference ([rows][frames]), at an absolute tolerance. */
export function compareFrames(label: string, actual: FrameMatrix, expected: number[][], tolerance: number): Comparison {
  const failures: string[] = [];
  let worst = 0;
  if (expected.length !== actual.rows || expected[0].length !== actual.frames) {
    return { worst: Number.POSITIVE_INFINITY, failures: [`${label}: shape ${actual.rows}x${actual.frames}, expected ${expected.length}x${expected[0].length}`] };
  }
  for (let r = 0; r < actual.rows; r++) {
    for (let t = 0; t < actual.frames; t++) {
      const err = Math.abs(actual.data[r * actual.frames + t] - expected[r][t]);
      worst = Math.max(worst, err);
      if (!(err <= tolerance) && failures.length < 10) failures.push(`${label}[${r}][${t}]: got ${actual.data[r * actual.frames + t]}, expected ${expected[r][t]}`);
    }
  }
  return { worst, failures };
}

/**
 * Rolloff: librosa's float32 cumulative sum can land one bin to either side of ours when the 85% point
 * falls within rounding of a bin boundary. Allowed: up to `maxStepFraction` of frames one bin off.
 * The aggregate tolerances follow from that: a one-bin change in k of n frames moves the mean by at most
 * bin·k/n and the (ddof 0) std by at most the RMS of the change, bin·√(k/n).
 */
export function rolloffAggregateTolerance(binHz: number, frames: number, maxStepFraction = 0.01): { mean: number; std: number } {
  const steps = Math.max(1, Math.ceil(maxStepFraction * frames));
  return { mean: (binHz * steps) / frames + 1e-9, std: binHz * Math.sqrt(steps / frames) + 1e-9 };
}

export function compareRolloffFrames(actual: FrameMatrix, expected: number[][], binHz: number, maxStepFraction = 0.01): Comparison & { steps: number } {
  const failures: string[] = [];
  let worst = 0;
  let steps = 0;
  for (let t = 0; t < actual.frames; t++) {
    const err = Math.abs(actual.data[t] - expected[0][t]);
    worst = Math.max(worst, err);
    if (err <= 1e-6) continue;
    if (Math.abs(err - binHz) <= 1e-6) steps++;
    else failures.push(`spectral_rolloff[${t}]: got ${actual.data[t]}, expected ${expected[0][t]}`);
  }
  const allowed = Math.max(1, Math.ceil(maxStepFraction * actual.frames));
  if (steps > allowed) failures.push(`spectral_rolloff: ${steps} frames one bin off, at most ${allowed} allowed`);
  return { worst, failures, steps };
}

/** Rolloff mean and std against the reference at the tolerances of rolloffAggregateTolerance. */
export function compareRolloffStats(actual: FrameMatrix, expected: RowStats, binHz: number, maxStepFraction = 0.01): Comparison {
  const tolerance = rolloffAggregateTolerance(binHz, actual.frames, maxStepFraction);
  const got = meanStd(actual, 0);
  const failures: string[] = [];
  const meanError = Math.abs(got.mean - expected.mean[0]);
  const stdError = Math.abs(got.std - expected.std[0]);
  if (!(meanError <= tolerance.mean)) failures.push(`spectral_rolloff.mean: got ${got.mean}, expected ${expected.mean[0]} (> ${tolerance.mean})`);
  if (!(stdError <= tolerance.std)) failures.push(`spectral_rolloff.std: got ${got.std}, expected ${expected.std[0]} (> ${tolerance.std})`);
  return { worst: Math.max(meanError, stdError), failures };
}
