import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MelFilterbank } from '../../../src/audio/mel.js';
import { powerToDbInPlace } from '../../../src/audio/mfcc.js';
import { onsetStrength, type OnsetAggregate } from '../../../src/audio/onset.js';
import { SpectrumStream } from '../../../src/audio/spectrum.js';
import {
  beatLocalScore,
  beatTrack,
  estimateTempo,
  meanTempogram,
  tempoFrequencies,
  tempogramWindowLength,
} from '../../../src/audio/tempo.js';
import { decodeWavToMono } from '../../../src/audio/wav.js';

const REFERENCE_DIR = '/work/shared/reference/audio';
const SR = 22050;
const N_FFT = 2048;
const HOP = 512;
const FRAME_RATE = SR / HOP;

const FILES_22050 = [
  'chord_22050_stereo_f32',
  'clicks120_22050_mono_s16',
  'long60_22050_mono_s16',
  'noise_22050_mono_u8',
  'short_0.1s_22050_s16',
  'silence_22050_mono_s16',
  'sine440_22050_mono_s16',
  'sweep_22050_mono_s16',
];

interface Expected {
  tempo: { feature_tempo: number; beat_track_tempo: number };
  beat_frames: number[];
  frames?: { onset_strength?: number[] | number[][] };
}

function expected(name: string): Expected {
  return JSON.parse(readFileSync(`${REFERENCE_DIR}/expected/${name}.json`, 'utf8')) as Expected;
}

function loadMono(name: string): Float32Array {
  const bytes = new Uint8Array(readFileSync(`${REFERENCE_DIR}/${name}.wav`));
  const { info, mono } = decodeWavToMono(bytes, name);
  expect(info.sampleRate).toBe(SR);
  return mono;
}

/** librosa.onset.onset_strength(y, sr) with each aggregate, built from the project's own pieces. */
function onsetEnvelopes(mono: ArrayLike<number>): Record<OnsetAggregate, Float64Array> {
  const mel = new MelFilterbank({ sampleRate: SR, nFft: N_FFT, nMels: 128, fmin: 0, fmax: null });
  const columns: Float64Array[] = [];
  const stream = new SpectrumStream({ nFft: N_FFT, hopLength: HOP }, (frame) => {
    const out = new Float64Array(128);
    mel.apply(frame.power, out);
    columns.push(out);
  });
  stream.push(mono);
  stream.end();
  const frames = columns.length;
  const melDb = new Float64Array(128 * frames);
  columns.forEach((column, t) => {
    for (let m = 0; m < 128; m++) melDb[m * frames + t] = column[m];
  });
  powerToDbInPlace(melDb, { amin: 1e-10, topDb: 80 });
  return {
    mean: onsetStrength(melDb, 128, frames, { nFft: N_FFT, hopLength: HOP, aggregate: 'mean' }),
    median: onsetStrength(melDb, 128, frames, { nFft: N_FFT, hopLength: HOP, aggregate: 'median' }),
  };
}

/** An onset envelope with unit impulses every `period` frames (fractional periods round each position). */
function impulseTrain(frames: number, period: number, offset = 5): Float64Array {
  const env = new Float64Array(frames);
  for (let i = 0; offset + i * period < frames; i++) env[Math.round(offset + i * period)] = 1;
  return env;
}

function onLagGrid(bpm: number): boolean {
  const lag = (60 * FRAME_RATE) / bpm;
  return Math.abs(lag - Math.round(lag)) < 1e-9;
}

describe('estimateTempo against librosa.feature.tempo on the reference onset envelopes', () => {
  const withFrames = FILES_22050.filter((name) => expected(name).frames?.onset_strength !== undefined);

  it('has reference envelopes to test', () => {
    expect(withFrames.length).toBeGreaterThanOrEqual(3);
  });

  it.each(withFrames)('%s', (name) => {
    const exp = expected(name);
    const envelope = Float64Array.from((exp.frames?.onset_strength ?? []).flat());
    expect(Math.abs(estimateTempo(envelope, SR, HOP) - exp.tempo.feature_tempo)).toBeLessThan(1e-6);
  });
});

describe('tempo and beats end to end (WAV → mel → onset strength → tempo / beat_track), exact', () => {
  describe.each(FILES_22050)('%s', (name) => {
    const exp = expected(name);
    const envelopes = onsetEnvelopes(loadMono(name));

    it('feature.tempo (mean-aggregated envelope)', () => {
      expect(estimateTempo(envelopes.mean, SR, HOP)).toBeCloseTo(exp.tempo.feature_tempo, 9);
    });

    it('beat_track tempo and beat frames (median-aggregated envelope)', () => {
      const { tempo, beats } = beatTrack(envelopes.median, SR, HOP);
      expect(tempo).toBeCloseTo(exp.tempo.beat_track_tempo, 9);
      expect(Array.from(beats)).toEqual(exp.beat_frames);
    });
  });
});

describe('known answers', () => {
  it('uses librosa’s 8 s autocorrelation window (344 frames at 22050 / 512) and lag grid', () => {
    expect(tempogramWindowLength(SR, HOP)).toBe(344);
    const bpms = tempoFrequencies(344, SR, HOP);
    expect(bpms[0]).toBe(Number.POSITIVE_INFINITY);
    expect(bpms[22]).toBeCloseTo(117.45383522727273, 12);
  });

  it('a click train at 120 BPM gives the nearest grid tempo (lag 21 or 22 frames), and beats on the clicks', () => {
    // 20 s of 5 ms decaying 2 kHz bursts every 0.5 s, through the whole onset pipeline.
    const samples = new Float64Array(20 * SR);
    const clickLength = Math.round(0.005 * SR);
    const clickStarts: number[] = [];
    for (let start = Math.round(0.25 * SR); start + clickLength < samples.length; start += SR / 2) {
      clickStarts.push(start);
      for (let i = 0; i < clickLength; i++) {
        samples[start + i] = 0.8 * Math.exp(-i / (clickLength / 4)) * Math.sin((2 * Math.PI * 2000 * i) / SR);
      }
    }
    const { mean, median } = onsetEnvelopes(samples);
    const tempo = estimateTempo(mean, SR, HOP);
    expect(onLagGrid(tempo)).toBe(true);
    expect([(60 * FRAME_RATE) / 22, (60 * FRAME_RATE) / 21]).toContain(tempo);
    const { tempo: beatTempo, beats } = beatTrack(median, SR, HOP);
    expect([(60 * FRAME_RATE) / 22, (60 * FRAME_RATE) / 21]).toContain(beatTempo);
    // Every beat is within two frames of a click onset, and they are 21-22 frames apart.
    const clickFrames = clickStarts.map((start) => start / HOP);
    for (const b of beats) expect(Math.min(...clickFrames.map((f) => Math.abs(f - b)))).toBeLessThanOrEqual(2);
    for (let i = 1; i < beats.length; i++) expect([21, 22]).toContain(beats[i] - beats[i - 1]);
    expect(beats.length).toBeGreaterThan(30);
  });

  it('an impulse train with a 20-frame period gives exactly 60·sr/(hop·20) BPM, a 40-frame one 60·sr/(hop·40)', () => {
    expect(estimateTempo(impulseTrain(1000, 20), SR, HOP)).toBe((60 * SR) / (HOP * 20));
    expect(estimateTempo(impulseTrain(1000, 40), SR, HOP)).toBe((60 * SR) / (HOP * 40));
  });

  it('an all-zero envelope: tempo falls back to the prior’s peak, beat_track gives 0 and no beats', () => {
    const zeros = new Float64Array(200);
    expect(estimateTempo(zeros, SR, HOP)).toBeCloseTo((60 * SR) / (HOP * 22), 12);
    const { tempo, beats } = beatTrack(zeros, SR, HOP);
    expect(tempo).toBe(0);
    expect(beats.length).toBe(0);
  });

  it('meanTempogram equals a direct windowed autocorrelation (1e-12)', () => {
    let seed = 3;
    const env = new Float64Array(150);
    for (let i = 0; i < env.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      env[i] = seed / 2 ** 31;
    }
    const win = 40;
    const half = win / 2;
    const naive = new Float64Array(win);
    const padded = (j: number): number => {
      if (j < 0) return (env[0] * (j + half)) / half;
      if (j >= env.length) return (env[env.length - 1] * (env.length - 1 + half - j)) / half;
      return env[j];
    };
    for (let t = 0; t < env.length; t++) {
      const x = new Float64Array(win);
      for (let i = 0; i < win; i++) x[i] = padded(t - half + i) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / win));
      const ac = new Float64Array(win);
      for (let lag = 0; lag < win; lag++) for (let i = 0; i + lag < win; i++) ac[lag] += x[i] * x[i + lag];
      const peak = Math.max(...ac.map(Math.abs));
      for (let lag = 0; lag < win; lag++) naive[lag] += ac[lag] / peak / env.length;
    }
    const fast = meanTempogram(env, win);
    for (let lag = 0; lag < win; lag++) expect(Math.abs(fast[lag] - naive[lag])).toBeLessThan(1e-12);
  });

  it('the local score is librosa’s Gaussian smoothing, which leaves out envelope[0]', () => {
    const env = new Float64Array(30);
    env[0] = 1;
    env[10] = 1;
    const score = beatLocalScore(env, 8);
    // Only the impulse at 10 contributes; the Gaussian exp(-0.5 (32 d / 8)²) peaks there.
    for (let i = 0; i < env.length; i++) {
      const d = i - 10;
      const expectedValue = Math.abs(d) <= 8 ? Math.exp(-0.5 * ((32 * d) / 8) ** 2) : 0;
      expect(score[i]).toBeCloseTo(expectedValue, 14);
    }
  });
});
