import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultFeatureOptions } from '../../../src/audio/analyze.js';
import { ALL_FEATURES } from '../../../src/audio/feature-names.js';
import {
  buildSpec,
  canonicalJson,
  featureColumns,
  readFeatureSpec,
  resolveSettings,
  settingsDifferences,
  specHash,
  specPathFor,
  type FeatureSettingsInput,
} from '../../../src/audio/feature-spec.js';
import { SpotmlError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'spotml-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function usageError(input: FeatureSettingsInput): SpotmlError {
  try {
    resolveSettings(input);
  } catch (err) {
    if (err instanceof SpotmlError) return err;
    throw err;
  }
  throw new Error('expected resolveSettings to throw');
}

describe('resolveSettings', () => {
  it('defaults are librosa defaults at 22050 Hz, all features, mean and std', () => {
    const s = resolveSettings();
    const { sampleRate, features, ...librosa } = defaultFeatureOptions(22050);
    expect(s.sampleRate).toBe(sampleRate);
    expect(s.features).toEqual([...features]);
    expect(s.options).toEqual(librosa);
    expect(s.aggregates).toEqual(['mean', 'std']);
    expect(s).toMatchObject({ offset: 0, duration: null, segment: null });
  });

  it('puts features and aggregates in canonical order, so order and duplicates do not change the hash', () => {
    const a = resolveSettings({ features: ['rms', 'mfcc', 'rms'], aggregates: ['std', 'mean'] });
    const b = resolveSettings({ features: ['mfcc', ' rms '], aggregates: ['mean', 'std', 'std'] });
    expect(a.features).toEqual(['mfcc', 'rms']);
    expect(a.aggregates).toEqual(['mean', 'std']);
    expect(specHash(a)).toBe(specHash(b));
  });

  it('errors name the flag', () => {
    const cases: [FeatureSettingsInput, string][] = [
      [{ sampleRate: 100 }, '--sr'],
      [{ sampleRate: 22050.5 }, '--sr'],
      [{ options: { nFft: 1000 } }, '--n-fft'],
      [{ options: { hopLength: 0 } }, '--hop-length'],
      [{ options: { nMfcc: 40, nMels: 32 } }, '--n-mfcc'],
      [{ options: { fmax: 20000 } }, '--fmax'],
      [{ options: { fmin: 500, fmax: 400 } }, '--fmax'],
      [{ options: { tuning: 0.5 } }, '--tuning'],
      [{ options: { deltaWidth: 4 } }, '--delta-width'],
      [{ options: { rolloffPercent: 1 } }, '--rolloff-percent'],
      [{ options: { contrastQuantile: 0 } }, '--contrast-quantile'],
      [{ options: { topDb: -1 } }, '--top-db'],
      [{ features: ['mfcc', 'loudness'] }, '--features'],
      [{ features: [] }, '--features'],
      [{ aggregates: ['mean', 'p90'] }, '--aggregates'],
      [{ offset: -1 }, '--offset'],
      [{ duration: 0 }, '--duration'],
      [{ segment: { length: 0, hop: 1 } }, '--segment'],
      [{ segment: { length: 3, hop: Number.NaN } }, '--segment-hop'],
    ];
    for (const [input, flag] of cases) {
      const err = usageError(input);
      expect(err.code, JSON.stringify(input)).toBe('USAGE');
      expect(err.message.startsWith(flag), `${err.message} should start with ${flag}`).toBe(true);
      expect(err.details.flag).toBe(flag);
    }
  });

  it('native rate: fmax is only checked against fmin (each file has its own Nyquist)', () => {
    expect(resolveSettings({ sampleRate: 'native', options: { fmax: 20000 } }).options.fmax).toBe(20000);
  });
});

describe('specHash', () => {
  it('canonical JSON sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 'x' }], u: undefined, n: null })).toBe('{"a":[{"c":"x","d":1}],"b":1,"n":null}');
  });

  it('is sha256 of the canonical settings text', () => {
    const s = resolveSettings({ features: ['rms'], aggregates: ['mean'] });
    const text =
      '{"aggregates":["mean"],"duration":null,"features":["rms"],"offset":0,"options":{"contrastBands":6,"contrastFmin":200,' +
      '"contrastQuantile":0.02,"deltaWidth":9,"fmax":null,"fmin":0,"hopLength":512,"nChroma":12,"nFft":2048,"nMels":128,' +
      '"nMfcc":20,"rolloffPercent":0.85,"topDb":80,"tuning":null},"sampleRate":22050,"segment":null}';
    expect(specHash(s)).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('changes with any setting (property over option changes)', () => {
    const base = resolveSettings();
    const baseHash = specHash(base);
    fc.assert(
      fc.property(
        fc.constantFrom<[string, FeatureSettingsInput]>(
          ['sr', { sampleRate: 16000 }],
          ['native', { sampleRate: 'native' }],
          ['offset', { offset: 0.5 }],
          ['duration', { duration: 30 }],
          ['segment', { segment: { length: 3, hop: 1.5 } }],
          ['features', { features: ALL_FEATURES.slice(1) }],
          ['aggregates', { aggregates: ['mean'] }],
          ['nMels', { options: { nMels: 64 } }],
          ['hop', { options: { hopLength: 256 } }],
          ['tuning', { options: { tuning: 0 } }],
          ['fmax', { options: { fmax: 8000 } }],
          ['topDb', { options: { topDb: 60 } }],
        ),
        ([, change]) => {
          expect(specHash(resolveSettings(change))).not.toBe(baseHash);
        },
      ),
    );
  });

  it('settingsDifferences lists what changed', () => {
    const a = resolveSettings();
    const b = resolveSettings({ options: { nMels: 64 }, sampleRate: 16000 });
    expect(settingsDifferences(a, b)).toEqual(['options.nMels: 128 → 64', 'sampleRate: 22050 → 16000']);
    expect(settingsDifferences(a, resolveSettings())).toEqual([]);
  });
});

describe('featureColumns', () => {
  it('default settings: documented names, unique, counted from the option sizes', () => {
    const s = resolveSettings();
    const names = featureColumns(s).map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    // rows per feature × 2 aggregates + tempo
    const rows = 20 * 3 + 128 + 12 + 1 + 1 + 7 + 1 + 1 + 1 + 1 + 1;
    expect(names.length).toBe(rows * 2 + 1);
    expect(names.slice(0, 2)).toEqual(['mfcc_01_mean', 'mfcc_02_mean']);
    expect(names[20]).toBe('mfcc_01_std');
    expect(names).toContain('mfcc_delta2_20_std');
    expect(names).toContain('melspectrogram_db_001_mean');
    expect(names).toContain('melspectrogram_db_128_std');
    expect(names).toContain('chroma_stft_12_mean');
    expect(names).toContain('spectral_contrast_07_std');
    expect(names).toContain('spectral_centroid_mean');
    expect(names).toContain('zero_crossing_rate_std');
    expect(names[names.length - 1]).toBe('tempo');
  });

  it('matrix features keep their index even with one row; single-row features never get one', () => {
    const s = resolveSettings({ features: ['mfcc', 'rms', 'tempo'], aggregates: ['max', 'kurtosis'], options: { nMfcc: 1 } });
    expect(featureColumns(s).map((c) => c.name)).toEqual(['mfcc_01_max', 'mfcc_01_kurtosis', 'rms_max', 'rms_kurtosis', 'tempo']);
  });
});

describe('spec document', () => {
  it('lists columns in table order, records labels and files, and reads back with its hash checked', async () => {
    const settings = resolveSettings({ features: ['rms'], segment: { length: 3, hop: 1.5 } });
    const spec = buildSpec({
      settings,
      labels: { column: 'label', source: 'dirs', classes: ['a', 'b'] },
      table: { file: 'f.csv', format: 'csv', rows: 2 },
      files: [{ path: 'x.wav', sha256: 'ab', sampleRate: 44100, channels: 2, frames: 10, analysisRate: 22050, seconds: 1, rows: 2 }],
      failures: [{ path: 'bad.wav', reason: 'not a WAV file' }],
    });
    expect(spec.columns.all).toEqual(['path', 'segment', 'start_s', 'end_s', 'label', 'rms_mean', 'rms_std']);
    expect(spec.specHash).toBe(specHash(settings));
    const path = specPathFor(join(dir, 'f.csv'));
    expect(path).toBe(join(dir, 'f.csv.spec.json'));
    writeFileSync(path, JSON.stringify(spec));
    expect(await readFeatureSpec(path)).toEqual(spec);

    const tampered = JSON.parse(readFileSync(path, 'utf8')) as { settings: { options: { nMels: number } } };
    tampered.settings.options.nMels = 64;
    writeFileSync(path, JSON.stringify(tampered));
    await expect(readFeatureSpec(path)).rejects.toMatchObject({ code: 'FEATURE_SPEC_MISMATCH' });
    writeFileSync(path, '{"format":"other"}');
    await expect(readFeatureSpec(path)).rejects.toThrow(/not a spotml feature spec/);
    await expect(readFeatureSpec(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('CLI flags → settings', () => {
  it('parses lists (comma, YAML list, "all"), native rate, tuning, segments and numbers', async () => {
    const { settingsFromOptions } = await import('../../../src/cli/commands/extract.js');
    const s = resolveSettings(
      settingsFromOptions({ sr: 'native', features: 'rms, mfcc', aggregates: ['mean', 'max,min'], tuning: 'estimate', segment: '3', nMfcc: '13', fmax: '8000' }),
    );
    expect(s).toMatchObject({ sampleRate: 'native', features: ['mfcc', 'rms'], aggregates: ['mean', 'min', 'max'], segment: { length: 3, hop: 3 } });
    expect(s.options).toMatchObject({ tuning: null, nMfcc: 13, fmax: 8000 });
    expect(resolveSettings(settingsFromOptions({ aggregates: 'all', tuning: '-0.1' }))).toMatchObject({
      aggregates: ['mean', 'std', 'min', 'max', 'median', 'skew', 'kurtosis'],
      options: { tuning: -0.1 },
    });
    expect(() => settingsFromOptions({ nFft: '2k' })).toThrow(/^--n-fft must be a whole number, got "2k"$/);
    expect(() => settingsFromOptions({ sr: '22.05' })).toThrow(/^--sr must be a whole number/);
    expect(() => settingsFromOptions({ segmentHop: '1' })).toThrow(/--segment-hop needs --segment/);
  });
});
