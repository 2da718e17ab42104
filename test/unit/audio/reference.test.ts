/**
 * spotml's features against librosa 0.11's own output for the shared reference WAVs at 22050 Hz, at the
 * README tolerances: per-row mean and std for every feature, full frame matrices where the reference has
 * them, frame counts, delta refusal, and (via chroma.ts / tempo.ts) tuning, tempo and beat frames.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_FEATURES, analyzeSignal, defaultFeatureOptions, type ClipAnalysis, type FeatureName } from '../../../src/audio/analyze.js';
import {
  compareFrames,
  compareRolloffFrames,
  compareRowStats,
  loadExpected,
  nativeRateReferenceFiles,
  NATIVE_TOLERANCES,
  readReferenceWav,
  compareRolloffStats,
  TUNING_TOLERANCE,
  type Comparison,
} from '../../helpers/reference.js';

const files = nativeRateReferenceFiles();
const worstByFeature = new Map<string, number>();

function record(feature: string, c: Comparison): void {
  worstByFeature.set(feature, Math.max(worstByFeature.get(feature) ?? 0, c.worst));
}

afterAll(() => {
  if (process.env.SPOTML_PRINT_REFERENCE_ERRORS) {
    const lines = [...worstByFeature].map(([f, e]) => `| ${f} | ${e.toExponential(2)} |`);
    console.log(['| feature | worst abs error |', '| --- | --- |', ...lines].join('\n'));
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
