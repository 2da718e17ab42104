/**
 * The FeatureSpec: everything needed to compute the same features again (training, evaluation and
 * serving read it), written beside each feature table as `<table>.spec.json`.
 *
 * `settings` are the feature settings alone (sample rate, offset/duration, segmenting, features,
 * aggregates and every analysis option, with defaults filled in); `specHash` is the sha256 of their
 * canonical JSON (keys sorted, no whitespace). Two tables are comparable exactly when their specHash
 * matches; file lists, labels and timestamps do not enter the hash.
 *
 * Column scheme (stable; the order is the order below):
 * - id columns: `path`; with segments also `segment` (0-based), `start_s`, `end_s` (seconds in the file);
 * - `label` when labels are given;
 * - feature columns, features in ALL_FEATURES order, then for each feature every aggregate in
 *   AGGREGATES order, then each row:
 *   - matrix features (mfcc, mfcc_delta, mfcc_delta2, melspectrogram_db, chroma_stft, spectral_contrast)
 *     `<feature>_<row>_<aggregate>` with the 1-based row zero-padded to at least two digits
 *     (`mfcc_01_mean` … `mfcc_20_mean`, `melspectrogram_db_001_mean` … `_128_`; chroma row 01 = C,
 *     then C#, D, … B; spectral_contrast 01…(bands+1) from the lowest band);
 *   - one-row features `<feature>_<aggregate>` (`spectral_centroid_mean`, `rms_std`, …);
 *   - `tempo` (librosa.feature.tempo of the clip, BPM), one column, not aggregated.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SpotmlError } from '../errors.js';
import { SPOTML_VERSION } from '../version.js';
import { AGGREGATES, defaultFeatureOptions, type AggregateName, type FeatureOptions } from './analyze.js';
import { ALL_FEATURES, featureRows, isFeatureName, type FeatureName } from './feature-names.js';

export const DEFAULT_SAMPLE_RATE = 22050;
export const DEFAULT_AGGREGATES: readonly AggregateName[] = ['mean', 'std'];
export const SPEC_FORMAT = 'spotml.feature-spec';
export const SPEC_FORMAT_VERSION = 1;

/** Analysis options in the spec: FeatureOptions without the per-file sample rate and the feature list. */
export type AnalysisOptions = Omit<FeatureOptions, 'sampleRate' | 'features'>;

export interface SegmentSettings {
  /** Window length in seconds. */
  length: number;
  /** Step between window starts in seconds. */
  hop: number;
}

export interface FeatureSettings {
  /** Analysis rate in Hz, or 'native' to keep each file's own rate. */
  sampleRate: number | 'native';
  /** Seconds skipped at the start of each file (librosa.load offset). */
  offset: number;
  /** Seconds read after the offset (librosa.load duration); null = to the end. */
  duration: number | null;
  segment: SegmentSettings | null;
  features: FeatureName[];
  aggregates: AggregateName[];
  options: AnalysisOptions;
}

/** What a caller may give; everything missing takes its default. */
export interface FeatureSettingsInput {
  sampleRate?: number | 'native';
  offset?: number;
  duration?: number | null;
  segment?: SegmentSettings | null;
  features?: readonly string[];
  aggregates?: readonly string[];
  options?: Partial<AnalysisOptions>;
}

/** The CLI flag for each setting, so validation errors name what the user typed. */
export const SETTING_FLAGS: Readonly<Record<keyof AnalysisOptions | 'sampleRate' | 'offset' | 'duration' | 'segment' | 'segmentHop' | 'features' | 'aggregates', string>> = {
  sampleRate: '--sr',
  offset: '--offset',
  duration: '--duration',
  segment: '--segment',
  segmentHop: '--segment-hop',
  features: '--features',
  aggregates: '--aggregates',
  nFft: '--n-fft',
  hopLength: '--hop-length',
  nMels: '--n-mels',
  fmin: '--fmin',
  fmax: '--fmax',
  nMfcc: '--n-mfcc',
  deltaWidth: '--delta-width',
  nChroma: '--n-chroma',
  tuning: '--tuning',
  contrastBands: '--contrast-bands',
  contrastFmin: '--contrast-fmin',
  contrastQuantile: '--contrast-quantile',
  rolloffPercent: '--rolloff-percent',
  topDb: '--top-db',
};

function invalid(setting: keyof typeof SETTING_FLAGS, message: string): SpotmlError {
  const flag = SETTING_FLAGS[setting];
  return new SpotmlError('USAGE', `${flag} ${message}`, { flag });
}

function checkInteger(setting: keyof AnalysisOptions, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw invalid(setting, `must be a whole number >= ${min}, got ${value}`);
}

function checkRange(setting: keyof typeof SETTING_FLAGS, value: number, low: number, high: number, openLow = true, openHigh = true): void {
  const aboveLow = openLow ? value > low : value >= low;
  const belowHigh = openHigh ? value < high : value <= high;
  if (!Number.isFinite(value) || !aboveLow || !belowHigh) {
    throw invalid(setting, `must lie in ${openLow ? '(' : '['}${low}, ${high}${openHigh ? ')' : ']'}, got ${value}`);
  }
}

/** Fills defaults, checks every value (errors name the flag) and puts lists in their canonical order. */
export function resolveSettings(input: FeatureSettingsInput = {}): FeatureSettings {
  const sampleRate = input.sampleRate ?? DEFAULT_SAMPLE_RATE;
  if (sampleRate !== 'native' && (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 768000)) {
    throw invalid('sampleRate', `must be a whole number of Hz from 1000 to 768000, or "native", got ${sampleRate}`);
  }
  const offset = input.offset ?? 0;
  if (!Number.isFinite(offset) || offset < 0) throw invalid('offset', `must be seconds >= 0, got ${offset}`);
  const duration = input.duration ?? null;
  if (duration !== null && !(Number.isFinite(duration) && duration > 0)) throw invalid('duration', `must be seconds > 0, got ${duration}`);
  const segment = input.segment ?? null;
  if (segment !== null) {
    if (!(Number.isFinite(segment.length) && segment.length > 0)) throw invalid('segment', `must be seconds > 0, got ${segment.length}`);
    if (!(Number.isFinite(segment.hop) && segment.hop > 0)) throw invalid('segmentHop', `must be seconds > 0, got ${segment.hop}`);
  }

  const features = canonicalList(input.features ?? ALL_FEATURES, ALL_FEATURES, 'features');
  const aggregates = canonicalList(input.aggregates ?? DEFAULT_AGGREGATES, AGGREGATES, 'aggregates');

  const { sampleRate: _rate, features: _features, ...defaults } = defaultFeatureOptions(sampleRate === 'native' ? DEFAULT_SAMPLE_RATE : sampleRate);
  const options: AnalysisOptions = { ...defaults };
  for (const [key, value] of Object.entries(input.options ?? {}) as [keyof AnalysisOptions, number | null | undefined][]) {
    if (value !== undefined && key in options) (options as Record<string, number | null>)[key] = value;
  }
  validateAnalysisOptions(options, sampleRate);
  return { sampleRate, offset, duration, segment: segment && { length: segment.length, hop: segment.hop }, features, aggregates, options };
}

function canonicalList<T extends string>(given: readonly string[], allowed: readonly T[], setting: 'features' | 'aggregates'): T[] {
  const wanted = new Set<string>();
  for (const raw of given) {
    const name = raw.trim();
    if (name === '') continue;
    if (!(allowed as readonly string[]).includes(name)) throw invalid(setting, `has unknown name "${name}": use any of ${allowed.join(', ')}`);
    wanted.add(name);
  }
  if (wanted.size === 0) throw invalid(setting, `needs at least one of ${allowed.join(', ')}`);
  return allowed.filter((name) => wanted.has(name));
}

function validateAnalysisOptions(o: AnalysisOptions, sampleRate: number | 'native'): void {
  checkInteger('nFft', o.nFft, 4);
  if ((o.nFft & (o.nFft - 1)) !== 0) throw invalid('nFft', `must be a power of two (512, 1024, 2048, …), got ${o.nFft}`);
  checkInteger('hopLength', o.hopLength, 1);
  checkInteger('nMels', o.nMels, 1);
  checkInteger('nMfcc', o.nMfcc, 1);
  if (o.nMfcc > o.nMels) throw invalid('nMfcc', `must not exceed --n-mels (${o.nMels}), got ${o.nMfcc}`);
  checkInteger('deltaWidth', o.deltaWidth, 3);
  if (o.deltaWidth % 2 === 0) throw invalid('deltaWidth', `must be odd, got ${o.deltaWidth}`);
  checkInteger('nChroma', o.nChroma, 1);
  checkInteger('contrastBands', o.contrastBands, 1);
  if (!(Number.isFinite(o.fmin) && o.fmin >= 0)) throw invalid('fmin', `must be Hz >= 0, got ${o.fmin}`);
  if (o.fmax !== null) {
    if (!(Number.isFinite(o.fmax) && o.fmax > o.fmin)) throw invalid('fmax', `must be Hz above --fmin (${o.fmin}), got ${o.fmax}`);
    if (sampleRate !== 'native' && o.fmax > sampleRate / 2) throw invalid('fmax', `must not exceed half the sample rate (${sampleRate / 2} Hz), got ${o.fmax}`);
  }
  if (o.tuning !== null) checkRange('tuning', o.tuning, -0.5, 0.5, false, true);
  if (!(Number.isFinite(o.contrastFmin) && o.contrastFmin > 0)) throw invalid('contrastFmin', `must be Hz > 0, got ${o.contrastFmin}`);
  checkRange('contrastQuantile', o.contrastQuantile, 0, 1);
  checkRange('rolloffPercent', o.rolloffPercent, 0, 1);
  if (!(Number.isFinite(o.topDb) && o.topDb >= 0)) throw invalid('topDb', `must be dB >= 0, got ${o.topDb}`);
}

/** FeatureOptions for one file analysed at `sampleRate` (the file's own rate when settings say native). */
export function featureOptionsFor(settings: FeatureSettings, sampleRate: number): FeatureOptions {
  return { ...settings.options, sampleRate, features: settings.features };
}

// ---------------------------------------------------------------- columns

const MATRIX_FEATURES: ReadonlySet<FeatureName> = new Set(['mfcc', 'mfcc_delta', 'mfcc_delta2', 'melspectrogram_db', 'chroma_stft', 'spectral_contrast']);

export function isMatrixFeature(name: FeatureName): boolean {
  return MATRIX_FEATURES.has(name);
}

export interface FeatureColumn {
  name: string;
  feature: FeatureName;
  /** 0-based matrix row (0 for one-row features and tempo). */
  row: number;
  /** null for tempo. */
  aggregate: AggregateName | null;
}

/** The feature columns of a table made with these settings, in table order. */
export function featureColumns(settings: FeatureSettings): FeatureColumn[] {
  const columns: FeatureColumn[] = [];
  for (const feature of settings.features) {
    if (feature === 'tempo') {
      columns.push({ name: 'tempo', feature, row: 0, aggregate: null });
      continue;
    }
    const rows = featureRows(feature, settings.options);
    const width = Math.max(2, String(rows).length);
    for (const aggregate of settings.aggregates) {
      if (!isMatrixFeature(feature)) {
        columns.push({ name: `${feature}_${aggregate}`, feature, row: 0, aggregate });
        continue;
      }
      for (let row = 0; row < rows; row++) {
        columns.push({ name: `${feature}_${String(row + 1).padStart(width, '0')}_${aggregate}`, feature, row, aggregate });
      }
    }
  }
  return columns;
}

export const PATH_COLUMN = 'path';
export const SEGMENT_COLUMNS = ['segment', 'start_s', 'end_s'] as const;
export const LABEL_COLUMN = 'label';

export function idColumns(settings: FeatureSettings): string[] {
  return settings.segment ? [PATH_COLUMN, ...SEGMENT_COLUMNS] : [PATH_COLUMN];
}

// ---------------------------------------------------------------- hashing

/** JSON with object keys sorted at every level: the same settings always give the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new SpotmlError('INTERNAL', `cannot hash a non-finite number (${value})`);
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

export function specHash(settings: FeatureSettings): string {
  return createHash('sha256').update(canonicalJson(settings)).digest('hex');
}

/** Human-readable differences between two settings ("options.nMels: 128 → 64"), empty when equal. */
export function settingsDifferences(expected: FeatureSettings, actual: FeatureSettings): string[] {
  const flat = (s: FeatureSettings): Map<string, string> => {
    const out = new Map<string, string>();
    const visit = (prefix: string, v: unknown): void => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        for (const [k, child] of Object.entries(v as Record<string, unknown>)) visit(prefix ? `${prefix}.${k}` : k, child);
      } else out.set(prefix, canonicalJson(v));
    };
    visit('', s);
    return out;
  };
  const a = flat(expected);
  const b = flat(actual);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? 'unset'} → ${b.get(k) ?? 'unset'}`);
}

// ---------------------------------------------------------------- the spec document

export interface SpecFile {
  /** As in the table's `path` column. */
  path: string;
  sha256: string;
  /** The file's own rate, channels and frames. */
  sampleRate: number;
  channels: number;
  frames: number;
  /** The rate the features were computed at (differs per file only with --sr native). */
  analysisRate: number;
  /** Seconds of audio analysed (after offset/duration). */
  seconds: number;
  rows: number;
}

export interface FeatureSpec {
  format: typeof SPEC_FORMAT;
  formatVersion: typeof SPEC_FORMAT_VERSION;
  spotmlVersion: string;
  createdAt: string;
  specHash: string;
  settings: FeatureSettings;
  columns: {
    /** Every column of the table, in order. */
    all: string[];
    id: string[];
    label: string | null;
    features: string[];
  };
  labels: {
    column: string;
    source: 'dirs' | 'csv';
    /** The labels CSV as given (csv source only). */
    file?: string;
    /** Sorted distinct labels of the rows written. */
    classes: string[];
  } | null;
  /** The table this spec describes: its file name (in the spec's folder), format and row count. */
  table: { file: string; format: string; rows: number };
  files: SpecFile[];
  failures: { path: string; reason: string }[];
}

export function buildSpec(args: {
  settings: FeatureSettings;
  labels: FeatureSpec['labels'];
  table: FeatureSpec['table'];
  files: SpecFile[];
  failures: FeatureSpec['failures'];
  createdAt?: Date;
}): FeatureSpec {
  const id = idColumns(args.settings);
  const features = featureColumns(args.settings).map((c) => c.name);
  const label = args.labels ? args.labels.column : null;
  return {
    format: SPEC_FORMAT,
    formatVersion: SPEC_FORMAT_VERSION,
    spotmlVersion: SPOTML_VERSION,
    createdAt: (args.createdAt ?? new Date()).toISOString(),
    specHash: specHash(args.settings),
    settings: args.settings,
    columns: { all: [...id, ...(label ? [label] : []), ...features], id, label, features },
    labels: args.labels,
    table: args.table,
    files: args.files,
    failures: args.failures,
  };
}

/** `<table path>.spec.json`: the spec sits beside its table and names it. */
export function specPathFor(tablePath: string): string {
  return `${tablePath}.spec.json`;
}

/** Reads a spec, checking its format and that its specHash matches its settings. */
export async function readFeatureSpec(path: string): Promise<FeatureSpec> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT') throw new SpotmlError('NOT_FOUND', `feature spec ${path} does not exist: run spotml extract first`, { file: path });
    throw new SpotmlError('INVALID_INPUT', `feature spec ${path} is not valid JSON (${(err as Error).message})`, { file: path });
  }
  const spec = data as Partial<FeatureSpec> | null;
  if (!spec || spec.format !== SPEC_FORMAT || typeof spec.settings !== 'object' || spec.settings === null) {
    throw new SpotmlError('INVALID_INPUT', `${path} is not a spotml feature spec (format "${SPEC_FORMAT}" expected)`, { file: path });
  }
  if (spec.formatVersion !== SPEC_FORMAT_VERSION) {
    throw new SpotmlError('INVALID_INPUT', `${path} has spec format version ${String(spec.formatVersion)}; this spotml reads ${SPEC_FORMAT_VERSION}`, { file: path });
  }
  const settings = spec.settings as FeatureSettings;
  for (const f of settings.features ?? []) {
    if (!isFeatureName(f)) throw new SpotmlError('INVALID_INPUT', `${path} names unknown feature "${String(f)}"`, { file: path });
  }
  const recomputed = specHash(settings);
  if (recomputed !== spec.specHash) {
    throw new SpotmlError('FEATURE_SPEC_MISMATCH', `${path}: specHash does not match its settings (edited by hand?); re-run spotml extract`, {
      file: path,
      expected: spec.specHash,
      actual: recomputed,
    });
  }
  return spec as FeatureSpec;
}
