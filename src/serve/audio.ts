/**
 * The audio endpoint's featuriser: a WAV held in memory → feature rows under the model's own FeatureSpec, by
 * the same steps `spotml extract` takes for a file (src/audio/extract.ts `analyzeFile`): mono mixdown
 * (librosa.to_mono), offset/duration counted in the file's own frames and truncated, resampling to the spec's
 * rate (the streaming Resampler equals one-shot `resample` bit for bit), then either the whole clip or
 * segments cut by extract's SegmentCutter, each analysed by `analyzeSignal` and aggregated by `rowValues`.
 *
 * extract.ts only offers a path-based entry (it streams files), so this in-memory adapter lives here; it
 * reuses every step rather than re-implementing one. The test checks it against extractFile on the same WAV.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { analyzeSignal } from '../audio/analyze.js';
import { rowValues, SegmentCutter, type SegmentRow } from '../audio/extract.js';
import { featureColumns, featureOptionsFor, type FeatureSpec } from '../audio/feature-spec.js';
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
}

export function featuriseWav(bytes: Uint8Array, spec: FeatureSpec, name = 'the uploaded WAV'): AudioFeatures {
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
  if (settings.segment === null) {
    const analysis = analyzeSignal(signal, options);
    rows.push({ segment: 0, startS, endS: startS + analysis.nSamples / analysisRate, values: rowValues(analysis, columns) });
  } else {
    const length = Math.max(1, Math.round(settings.segment.length * analysisRate));
    const hop = Math.max(1, Math.round(settings.segment.hop * analysisRate));
    const cutter = new SegmentCutter(length, hop, (index, start, samples) => {
      const segStart = startS + start / analysisRate;
      rows.push({ segment: index, startS: segStart, endS: segStart + samples.length / analysisRate, values: rowValues(analyzeSignal(samples, options), columns) });
    });
    cutter.push(signal);
    cutter.end();
  }
  return {
    sampleRate: info.sampleRate,
    channels: info.channels,
    seconds: (endFrame - startFrame) / info.sampleRate,
    rows,
    columns: columns.map((c) => c.name),
  };
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

/** The model's matrix from featurised rows (one row per segment, model column order). */
export function audioMatrix(features: AudioFeatures, map: Int32Array): Matrix {
  const p = map.length;
  const data = new Float64Array(features.rows.length * p);
  features.rows.forEach((row, i) => {
    for (let j = 0; j < p; j++) data[i * p + j] = row.values[map[j]];
  });
  return createMatrix(features.rows.length, p, data);
}
