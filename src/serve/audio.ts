/**
 * The audio endpoint's featuriser: a WAV held in memory → feature rows under the model's own FeatureSpec, by
 * the same steps `spotml extract` takes for a file (src/audio/extract.ts `analyzeFile`): mono mixdown
 * (librosa.to_mono), offset/duration counted in the file's own frames and truncated, resampling to the spec's
 * rate (the streaming Resampler equals one-shot `resample` bit for bit), then either the whole clip or
 * segments cut by extract's SegmentCutter, each analysed by `analyzeSignal` and aggregated by `rowValues`.
 *
 * extract.ts only offers a path-based entry (it streams files), so this in-memory adapter lives here; it
 * reuses every step rather than re-implementing one. The test checks it against extractFile on the same WAV.
 *
 * For a model that reads frame-level input it also keeps, per row, the frame matrix `extract --frames` would
 * write for that clip or segment (each segment's own analysis, as extract writes segment_NNNN/<feature>.npy),
 * rounded to float32 as the .npy stores it, and fits it to the model's frame count with training's `fitFrames`.
 * A whole clip longer than that frame count is cut into consecutive patch-length windows (`frameWindows`), so the
 * model sees all of it rather than its first patch.
 *
 * What extract would warn about comes back in `warnings`: the WAV reader's notes (a truncated or malformed
 * file that still decodes) and the analysis caveats extract reports (MFCC deltas refused on a short clip).
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { analyzeSignal, type ClipAnalysis, type FrameMatrix } from '../audio/analyze.js';
import { noteAnalysisWarning, rowValues, SegmentCutter, type SegmentRow } from '../audio/extract.js';
import { featureColumns, featureOptionsFor, type FeatureSpec } from '../audio/feature-spec.js';
import { isFeatureName, type FeatureName } from '../audio/feature-names.js';
import type { FrameInput } from '../learners/dl/frame-input.js';
import { fitFrames, type NpyMatrix } from '../learners/dl/frames.js';
import { resample } from '../audio/resample.js';
import { decodeWavToMono } from '../audio/wav.js';

export interface AudioFeatures {
  sampleRate: number;
  channels: number;
  /** Seconds of audio analysed (after offset/duration), in the file's own rate. */
  seconds: number;
  rows: SegmentRow[];
  /** Feature column names, in `rows[i].values` order. */
  columns: string[];
  /** With a frame feature asked for: each row's matrix of it, in float32 as extract --frames writes it; else null. */
  frames: NpyMatrix[] | null;
  /** Seconds between analysis frames (hop length / analysis rate): places frame windows in time. */
  frameSeconds: number;
  /** What extract would warn about for this file (decode notes, then analysis caveats); empty when nothing. */
  warnings: string[];
}

/**
 * The frame feature a model reads, checked against the spec that makes it: extract --frames writes only the
 * spec's own features, so a model trained on another one cannot have come from this spec.
 */
export function frameFeatureOf(frameInput: FrameInput, spec: FeatureSpec): FeatureName {
  const feature = frameInput.feature;
  if (!isFeatureName(feature) || !spec.settings.features.includes(feature)) {
    throw new SpotmlError('FEATURE_SPEC_MISMATCH', `the model reads "${feature}" frames but its FeatureSpec does not make them; the package is inconsistent, re-train it`, {
      feature,
    });
  }
  return feature;
}

/** `frameFeature`: also keep each row's matrix of this feature (see frameFeatureOf). */
export function featuriseWav(bytes: Uint8Array, spec: FeatureSpec, name = 'the uploaded WAV', frameFeature: FeatureName | null = null): AudioFeatures {
  const { settings } = spec;
  const { info, mono } = decodeWavToMono(bytes, name);
  if (info.frames === 0) throw new SpotmlError('DECODE', `${name} holds no audio (0 sample frames)`);
  const analysisRate = settings.sampleRate === 'native' ? info.sampleRate : settings.sampleRate;
  const startFrame = Math.trunc(settings.offset * info.sampleRate);
  if (startFrame >= info.frames) {
    throw new SpotmlError(
      'INVALID_INPUT',
      `${name} is ${(info.frames / info.sampleRate).toFixed(3)} s long, shorter than the model's offset of ${settings.offset} s`,
    );
  }
  const frameLimit = settings.duration === null ? Number.POSITIVE_INFINITY : Math.max(1, Math.trunc(settings.duration * info.sampleRate));
  const endFrame = Math.min(info.frames, startFrame + frameLimit);
  const selected = mono.subarray(startFrame, endFrame);
  const signal = info.sampleRate === analysisRate ? selected : resample(selected, info.sampleRate, analysisRate);
  const options = featureOptionsFor(settings, analysisRate);
  const columns = featureColumns(settings);
  const startS = startFrame / info.sampleRate;
  const rows: SegmentRow[] = [];
  const frames: NpyMatrix[] | null = frameFeature === null ? null : [];
  const warnings = [...info.notes];
  // The same caveat, once per file, as extract reports it.
  const noteAnalysis = (analysis: ClipAnalysis): void => noteAnalysisWarning(analysis, warnings);
  const finishClip = (analysis: ClipAnalysis, segment: number): void => {
    noteAnalysis(analysis);
    if (frameFeature === null || frames === null) return;
    const matrix = analysis.matrices[frameFeature];
    if (!matrix) {
      const where = settings.segment === null ? name : `segment ${segment} of ${name}`;
      throw new SpotmlError('INVALID_INPUT', `${where} yields no ${frameFeature} frames (too short for it); send a longer clip`, { feature: frameFeature, segment });
    }
    frames.push(asNpyMatrix(matrix));
  };
  if (settings.segment === null) {
    const analysis = analyzeSignal(signal, options);
    rows.push({ segment: 0, startS, endS: startS + analysis.nSamples / analysisRate, values: rowValues(analysis, columns) });
    finishClip(analysis, 0);
  } else {
    const length = Math.max(1, Math.round(settings.segment.length * analysisRate));
    const hop = Math.max(1, Math.round(settings.segment.hop * analysisRate));
    const cutter = new SegmentCutter(length, hop, (index, start, samples) => {
      const segStart = startS + start / analysisRate;
      const analysis = analyzeSignal(samples, options);
      rows.push({ segment: index, startS: segStart, endS: segStart + samples.length / analysisRate, values: rowValues(analysis, columns) });
      finishClip(analysis, index);
    });
    cutter.push(signal);
    cutter.end();
  }
  if (signal.length < options.nFft) {
    // extract does not flag this, but a client should know the answer rests on zero padding.
    warnings.push(`the analysed audio is ${signal.length} samples at ${analysisRate} Hz, shorter than one analysis window (n_fft ${options.nFft}); its features describe mostly padding`);
  }
  return {
    sampleRate: info.sampleRate,
    channels: info.channels,
    seconds: (endFrame - startFrame) / info.sampleRate,
    rows,
    columns: columns.map((c) => c.name),
    frames,
    frameSeconds: options.hopLength / analysisRate,
    warnings,
  };
}

/**
 * A frame model's view of a whole clip longer than its patch: consecutive windows of `frames` frames (hop = the
 * patch), each a row of its own with its true start/end seconds and the clip's summary values. The last window
 * keeps only its own frames, so audioMatrix pads it with its own floor, as training pads a short clip. Only for
 * a whole-clip spec (the caller checks): segments are cropped or padded as training did. A clip that fits in one
 * patch is returned unchanged.
 */
export function frameWindows(features: AudioFeatures, frames: number): AudioFeatures {
  const whole = features.frames;
  if (whole === null || whole.length !== 1 || features.rows.length !== 1 || whole[0].cols <= frames) return features;
  const matrix = whole[0];
  const clip = features.rows[0];
  const rows: SegmentRow[] = [];
  const windows: NpyMatrix[] = [];
  for (let start = 0, index = 0; start < matrix.cols; start += frames, index++) {
    const cols = Math.min(frames, matrix.cols - start);
    const data = new Float32Array(matrix.rows * cols);
    for (let b = 0; b < matrix.rows; b++) data.set(matrix.data.subarray(b * matrix.cols + start, b * matrix.cols + start + cols), b * cols);
    windows.push({ rows: matrix.rows, cols, data });
    const startS = clip.startS + start * features.frameSeconds;
    const endS = start + frames >= matrix.cols ? clip.endS : Math.min(clip.endS, clip.startS + (start + frames) * features.frameSeconds);
    rows.push({ segment: index, startS, endS, values: clip.values });
  }
  return { ...features, rows, frames: windows };
}

/** Indices into the spec's feature columns for each model feature; throws when the model needs a column the spec does not make. */
export function specColumnMap(specColumns: readonly string[], featureNames: readonly string[]): Int32Array {
  const index = new Map(specColumns.map((name, i) => [name, i]));
  const map = new Int32Array(featureNames.length);
  featureNames.forEach((name, j) => {
    const i = index.get(name);
    if (i === undefined) {
      throw new SpotmlError('FEATURE_SPEC_MISMATCH', `the model's feature "${name}" is not made by its FeatureSpec; the package is inconsistent, re-train it`, {
        feature: name,
      });
    }
    map[j] = i;
  });
  return map;
}

/**
 * The model's matrix from featurised rows (one row per segment, model column order). With `frameInput`, each row
 * continues with its frame patch (band-major, `frameInput.frames` wide): the matrix as float32, exactly as
 * extract --frames stores and training reads it back, cropped or padded by training's own `fitFrames`.
 */
export function audioMatrix(features: AudioFeatures, map: Int32Array, frameInput: FrameInput | null = null): Matrix {
  const p = map.length;
  const patch = frameInput ? frameInput.n_bands * frameInput.frames : 0;
  const width = p + patch;
  const data = new Float64Array(features.rows.length * width);
  features.rows.forEach((row, i) => {
    for (let j = 0; j < p; j++) data[i * width + j] = row.values[map[j]];
  });
  if (frameInput) {
    const frames = features.frames;
    if (frames === null || frames.length !== features.rows.length) throw new SpotmlError('INTERNAL', 'audio rows were featurised without their frame matrices');
    frames.forEach((matrix, i) => {
      if (matrix.rows !== frameInput.n_bands) {
        throw new SpotmlError('FEATURE_SPEC_MISMATCH', `the audio gives ${matrix.rows} ${frameInput.feature} bands but the model takes ${frameInput.n_bands}; the package is inconsistent, re-train it`, {
          expected: frameInput.n_bands,
          actual: matrix.rows,
        });
      }
      fitFrames(matrix, frameInput.frames, data, i * width + p);
    });
  }
  return createMatrix(features.rows.length, width, data);
}

/** The matrix as its .npy holds it: float32 (Float32Array.from rounds to nearest, as npyFloat32's setFloat32). */
function asNpyMatrix(matrix: FrameMatrix): NpyMatrix {
  const data = matrix.data instanceof Float32Array ? matrix.data : Float32Array.from(matrix.data);
  return { rows: matrix.rows, cols: matrix.frames, data };
}
