/**
 * Per-feature CPU cost of analyzeSignal on 60 s of real audio (issue #2): the full default set, then each
 * feature (or feature group) alone, in CPU milliseconds per 60 s of audio, best of several rounds. A feature
 * alone includes the STFT it reads: compare with `mfcc` (power STFT + mel + MFCC) or `spectral_flatness`
 * (power STFT + one cheap pass) to see a feature's own share.
 *
 * With `--baseline <dir>`, where <dir> holds another copy of src/ (e.g. `git archive HEAD src | tar -x -C
 * /tmp/base`), that copy's analyzeSignal runs too, alternating with this tree's in the same process, so both
 * see the same machine load. Extract reads only `tempo.feature`, so beat tracking (run on demand) is not
 * timed.
 *
 * Run: npx tsx test/bench/extract-features.ts [--rounds 6] [--baseline /tmp/base/src]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as current from '../../src/audio/analyze.js';
import { resample } from '../../src/audio/resample.js';
import { decodeWavToMono } from '../../src/audio/wav.js';

type Analyzer = Pick<typeof current, 'analyzeSignal' | 'aggregateRows' | 'defaultFeatureOptions'>;

const SR = 22050;
const SECONDS = 60;

const CASES: [string, current.FeatureName[] | null][] = [
  ['full default set', null],
  ['mfcc', ['mfcc']],
  ['melspectrogram_db', ['melspectrogram_db']],
  ['mfcc + deltas', ['mfcc', 'mfcc_delta', 'mfcc_delta2']],
  ['chroma_stft (tuning estimated)', ['chroma_stft']],
  ['centroid + bandwidth + rolloff', ['spectral_centroid', 'spectral_bandwidth', 'spectral_rolloff']],
  ['spectral_flatness', ['spectral_flatness']],
  ['spectral_contrast', ['spectral_contrast']],
  ['zero_crossing_rate + rms', ['zero_crossing_rate', 'rms']],
  ['onset_strength', ['onset_strength']],
  ['tempo', ['tempo']],
];

/** 60 s of the bundled recordings, looped and mixed two at a time (as test/bench/extract.ts builds its files). */
function realAudio(): Float64Array {
  const root = new URL('../../fixtures/audio/', import.meta.url).pathname;
  const clips: Float64Array[] = [];
  for (const cls of readdirSync(root).sort()) {
    for (const file of readdirSync(join(root, cls)).sort()) {
      if (!file.endsWith('.wav')) continue;
      const { info, mono } = decodeWavToMono(readFileSync(join(root, cls, file)), file);
      clips.push(info.sampleRate === SR ? Float64Array.from(mono) : resample(mono, info.sampleRate, SR));
    }
  }
  const out = new Float64Array(SECONDS * SR);
  for (let position = 0, k = 0; position < out.length; k++) {
    const clip = clips[k % clips.length];
    const layer = clips[(k * 7 + 3) % clips.length];
    for (let i = 0; i < clip.length && position + i < out.length; i++) out[position + i] = 0.7 * clip[i] + 0.3 * (layer[i] ?? 0);
    position += clip.length;
  }
  return out;
}

/** CPU milliseconds for one analysis plus the mean/std aggregates extract takes by default. */
function cpuMs(analyzer: Analyzer, signal: Float64Array, features: current.FeatureName[] | null): number {
  const options = analyzer.defaultFeatureOptions(SR);
  if (features) options.features = features;
  const start = process.cpuUsage();
  const analysis = analyzer.analyzeSignal(signal, options);
  for (const matrix of Object.values(analysis.matrices)) {
    if (!matrix) continue;
    analyzer.aggregateRows(matrix, 'mean');
    analyzer.aggregateRows(matrix, 'std');
  }
  void analysis.tempo?.feature;
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, baseline: { type: 'string' } } });
  const rounds = Math.max(1, Number(values.rounds));
  const analyzers: [string, Analyzer][] = [['this tree', current]];
  if (values.baseline) {
    const url = new URL(`file://${join(values.baseline, 'audio', 'analyze.js')}`);
    analyzers.unshift(['baseline', (await import(url.href)) as Analyzer]);
  }
  const signal = realAudio();
  // Warm-up: let the JIT optimize the kernels before any timing.
  for (const [, analyzer] of analyzers) for (let i = 0; i < 2; i++) cpuMs(analyzer, signal, null);
  for (const [name, features] of CASES) {
    const best = analyzers.map(() => Number.POSITIVE_INFINITY);
    for (let round = 0; round < rounds; round++) {
      analyzers.forEach(([, analyzer], i) => {
        best[i] = Math.min(best[i], cpuMs(analyzer, signal, features));
      });
    }
    const cells = analyzers.map(([label], i) => `${label} ${best[i].toFixed(1).padStart(7)} ms`);
    console.log(`${name.padEnd(32)} ${cells.join('   ')}   (CPU per ${SECONDS} s of audio, best of ${rounds})`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
