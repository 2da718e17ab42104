/**
 * spotml's features against librosa 0.11's own output for the shared reference WAVs, at the README
 * tolerances: per-row mean and std for every feature, full frame matrices where the reference has them,
 * frame counts, delta refusal, and (via chroma.ts / tempo.ts) tuning, tempo and beat frames. Files at
 * 22050 Hz at float tolerance; files at 44.1 / 48 kHz through the resampler as the pipeline runs it, at
 * the README's looser targets (see test/helpers/resampled-reference.ts for what "relative" means).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_FEATURES, analyzeSignal, defaultFeatureOptions, type ClipAnalysis, type FeatureName } from '../../../src/audio/analyze.js';
import { resample } from '../../../src/audio/resample.js';
import { compareResampledStats, RESAMPLED_TARGETS, type MatrixFeature } from '../../helpers/resampled-reference.js';
import {
  compareFrames,
  compareRolloffFrames,
  compareRowStats,
  loadExpected,
  nativeRateReferenceFiles,
  NATIVE_TOLERANCES,
  readReferenceWav,
  resampledReferenceFiles,
  compareRolloffStats,
  TUNING_TOLERANCE,
  type Comparison,
} from '../../helpers/reference.js';

const files = nativeRateReferenceFiles();
const worstByFeature = new Map<string, number>();

function record(feature: string, c: Comparison): void {
  worstByFeature.set(feature, Math.max(worstByFeature.get(feature) ?? 0, c.worst));
}

/** Resampled files: worst absolute error and its fraction of the target, per file and feature. */
const resampledWorst: string[] = [];

afterAll(() => {
  if (process.env.SPOTML_PRINT_REFERENCE_ERRORS) {
    const lines = [...worstByFeature].map(([f, e]) => `| ${f} | ${e.toExponential(2)} |`);
    console.log(['| feature | worst abs error |', '| --- | --- |', ...lines].join('\n'));
    if (resampledWorst.length > 0) console.log(['| resampled file | feature | worst error | of target |', '| --- | --- | --- | --- |', ...resampledWorst.sort()].join('\n'));
  }
});

describe('reference files at 22050 Hz', () => {
  it('finds the reference files', () => {
    expect(files.length).toBe(8);
  });

  describe.each(files)('%s', (file) => {
    const expected = loadExpected(file);
    let analysis: ClipAnalysis | null = null;
    const analyse = (): ClipAnalysis => {
      if (!analysis) {
        const audio = readReferenceWav(file);
        expect(audio.sampleRate).toBe(22050);
        expect(audio.mono.length).toBe(expected.n_samples);
        analysis = analyzeSignal(audio.mono, defaultFeatureOptions(22050));
      }
      return analysis;
    };

    it('has librosa frame count and delta refusal', () => {
      const a = analyse();
      expect(a.nSamples).toBe(expected.n_samples);
      expect(a.nFrames).toBe(expected.n_frames);
      if (expected.delta_error) {
        expect(a.deltaError).toContain(expected.delta_error);
        expect(a.matrices.mfcc_delta).toBeUndefined();
        expect(a.matrices.mfcc_delta2).toBeUndefined();
      } else {
        expect(a.deltaError).toBeNull();
      }
    });

    it('returns every default feature', () => {
      const a = analyse();
      const refused = expected.delta_error ? ['mfcc_delta', 'mfcc_delta2'] : [];
      const matrixFeatures = ALL_FEATURES.filter((f) => f !== 'tempo' && !refused.includes(f));
      expect(Object.keys(a.matrices).sort()).toEqual([...matrixFeatures].sort());
      expect(a.tempo).not.toBeNull();
    });

    const compared = (Object.keys(expected.features) as Exclude<FeatureName, 'tempo'>[])

    it.each(compared)('%s: per-row mean and std', (feature) => {
      const a = analyse();
      const actual = a.matrices[feature];
      expect(actual, `${feature} missing`).toBeDefined();
      if (!actual) return;
      expect(actual.frames).toBe(expected.n_frames);
      const want = expected.features[feature];
      if (!want) throw new Error(`reference lacks ${feature}`);
      if (feature === 'spectral_rolloff') {
        const c = compareRolloffStats(actual, want, 22050 / 2048);
        record(`${feature} (mean/std)`, c);
        expect(c.failures).toEqual([]);
        return;
      }
      const c = compareRowStats(feature, actual, want, NATIVE_TOLERANCES[feature]);
      record(feature, c);
      expect(c.failures).toEqual([]);
    });

    const framed = Object.keys(expected.frames ?? {}) as Exclude<FeatureName, 'tempo'>[];
    if (framed.length > 0) {
      it.each(framed)('%s: full frame matrix', (feature) => {
        const a = analyse();
        const actual = a.matrices[feature];
        const want = expected.frames?.[feature];
        expect(actual).toBeDefined();
        if (!actual || !want) return;
        if (feature === 'spectral_rolloff') {
          const c = compareRolloffFrames(actual, want, 22050 / 2048);
          record(`${feature} (frames)`, c);
          expect(c.failures).toEqual([]);
          return;
        }
        const c = compareFrames(feature, actual, want, NATIVE_TOLERANCES[feature]);
        record(`${feature} (frames)`, c);
        expect(c.failures).toEqual([]);
      });
    }

    it('tuning estimate', () => {
      const a = analyse();
      expect(a.tuning).not.toBeNull();
      const err = Math.abs((a.tuning as number) - expected.tuning);
      record('tuning', { worst: err, failures: [] });
      expect(err).toBeLessThanOrEqual(TUNING_TOLERANCE);
    });

    it('tempo and beat frames', () => {
      const a = analyse();
      expect(a.tempo).not.toBeNull();
      const tempoError = Math.max(Math.abs((a.tempo?.feature ?? Number.NaN) - expected.tempo.feature_tempo), Math.abs((a.tempo?.beatTrack ?? Number.NaN) - expected.tempo.beat_track_tempo));
      record('tempo (feature, beat_track)', { worst: tempoError, failures: [] });
      expect(a.tempo?.feature).toBeCloseTo(expected.tempo.feature_tempo, 9);
      expect(a.tempo?.beatTrack).toBeCloseTo(expected.tempo.beat_track_tempo, 9);
      expect(Array.from(a.beatFrames ?? [])).toEqual(expected.beat_frames);
    });
  });
});

describe('reference files through the resampler (44.1 / 48 kHz → 22050 Hz)', () => {
  const resampledFiles = resampledReferenceFiles();

  it('finds the resampled reference files', () => {
    expect(resampledFiles).toEqual([
      'chord_44100_stereo_s24.wav',
      'noise_44100_stereo_s32.wav',
      'sine1k_48000_mono_s24.wav',
      'sine440_44100_mono_s16.wav',
      'sweep_44100_stereo_f32.wav',
    ]);
  });

  describe.each(resampledFiles)('%s', (file) => {
    const expected = loadExpected(file);
    let analysis: ClipAnalysis | null = null;
    // The extract pipeline's steps: float32 mono mixdown (WavFileReader.readMono), the default Resampler
    // (soxr HQ's recipe in float32 arithmetic; one-shot equals streaming bit for bit), then the analyzer.
    const analyse = (): ClipAnalysis => {
      if (!analysis) {
        const audio = readReferenceWav(file);
        expect(audio.sampleRate, `${file} should not be at 22050 Hz`).not.toBe(22050);
        const signal = resample(audio.mono, audio.sampleRate, 22050);
        expect(signal.length, `${file}: resampled length vs librosa's n_samples`).toBe(expected.n_samples);
        analysis = analyzeSignal(signal, defaultFeatureOptions(22050));
      }
      return analysis;
    };

    it('has librosa sample and frame counts, and deltas', () => {
      const a = analyse();
      expect(a.nSamples).toBe(expected.n_samples);
      expect(a.nFrames).toBe(expected.n_frames);
      expect(expected.delta_error).toBeUndefined();
      expect(a.deltaError).toBeNull();
    });

    it('returns every default feature', () => {
      const a = analyse();
      const matrixFeatures = ALL_FEATURES.filter((f) => f !== 'tempo');
      expect(Object.keys(a.matrices).sort()).toEqual([...matrixFeatures].sort());
      expect(Object.keys(expected.features).sort(), `${file}: the reference should hold every feature`).toEqual([...matrixFeatures].sort());
    });

    const compared = Object.keys(RESAMPLED_TARGETS) as MatrixFeature[];
    it.each(compared)('%s: per-row mean and std within the resampled target', (feature) => {
      const a = analyse();
      const actual = a.matrices[feature];
      const want = expected.features[feature];
      expect(actual, `${file}: spotml did not return ${feature}`).toBeDefined();
      expect(want, `${file}: the reference lacks ${feature}`).toBeDefined();
      if (!actual || !want) return;
      expect(actual.frames).toBe(expected.n_frames);
      const c = compareResampledStats(file, feature, actual, want);
      resampledWorst.push(`| ${file} | ${feature} | ${c.worstError.toExponential(2)} | ${(100 * c.worstRatio).toFixed(0)}% |`);
      expect(c.failures).toEqual([]);
    });

    it('tuning estimate within ±0.01', () => {
      const a = analyse();
      expect(a.tuning).not.toBeNull();
      const error = Math.abs((a.tuning as number) - expected.tuning);
      resampledWorst.push(`| ${file} | tuning | ${error.toExponential(2)} | ${(100 * error / TUNING_TOLERANCE).toFixed(0)}% |`);
      expect(error, `${file}: tuning ${a.tuning}, librosa ${expected.tuning}`).toBeLessThanOrEqual(TUNING_TOLERANCE);
    });

    it('tempo (both ways) and beat frames exactly', () => {
      const a = analyse();
      expect(a.tempo).not.toBeNull();
      expect(a.tempo?.feature, `${file}: feature.tempo`).toBeCloseTo(expected.tempo.feature_tempo, 9);
      expect(a.tempo?.beatTrack, `${file}: beat_track tempo`).toBeCloseTo(expected.tempo.beat_track_tempo, 9);
      expect(Array.from(a.beatFrames ?? []), `${file}: beat frames`).toEqual(expected.beat_frames);
    });
  });
});
