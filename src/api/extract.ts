/**
 * The programmatic `extract`: inputs → feature table + FeatureSpec (+ optional frame matrices).
 * The CLI is a thin layer over `extract()`; tests and other commands call it directly.
 *
 * Files run in parallel on worker threads (`jobs`, default: the number of cores; 1 = in this thread).
 * Results are placed by input order, so the table is the same whatever the parallelism. A file that
 * cannot be read is reported (path + reason) and skipped; with `strict` the first failure stops the run
 * and nothing is written. A damaged file that still decodes (truncated data, a streaming writer's
 * placeholder size, a malformed header; see WavInfo.notes) gives its rows and one warning naming it;
 * with `strict` it is a failure like any other. Outputs are written atomically: the table, then
 * `<table>.spec.json`.
 */
import { availableParallelism } from 'node:os';
import { basename, relative, resolve } from 'node:path';
import { SpotmlError } from '../errors.js';
import { noteLosesAudio } from '../audio/wav.js';
import { makeTable, formatFromPath, type ColumnData, type TableFormat } from '../data/table.js';
import { writeFileAtomic, writeTable } from '../data/writers.js';
import { validateFeatureOptions } from '../audio/analyze.js';
import { defaultCacheRoot, extractCacheDir } from '../audio/cache.js';
import { discoverAudio, loadLabels, type AudioFile, type LabelSource } from '../audio/discover.js';
import { extractFile, framesFolder, type ExtractTask, type FileFailure, type FileResult, type FileSuccess } from '../audio/extract.js';
import {
  buildSpec,
  featureColumns,
  featureOptionsFor,
  idColumns,
  LABEL_COLUMN,
  resolveSettings,
  specHash,
  specPathFor,
  type FeatureSettings,
  type FeatureSettingsInput,
  type FeatureSpec,
  type SpecFile,
} from '../audio/feature-spec.js';
import { WorkerPool, workerAvailable } from '../runtime/pool.js';

export interface ExtractOptions {
  /** Files, folders (recursive) and globs. */
  inputs: readonly string[];
  /** The table to write; its extension picks the format unless `format` is given. */
  out: string;
  format?: TableFormat | string;
  labels?: LabelSource;
  settings?: FeatureSettingsInput;
  /** Folder for frame-level .npy matrices. */
  framesDir?: string | null;
  /** Worker threads; default availableParallelism(); 1 = in-process. */
  jobs?: number;
  /** false = neither read nor write the cache. */
  cache?: boolean;
  /** Cache root (default SPOTML_CACHE_DIR or `.spotml-cache` beside the output). */
  cacheDir?: string;
  strict?: boolean;
  /** Base for relative inputs and the `path` column (default process.cwd()). */
  cwd?: string;
  /** Called once per finished file (in completion order). */
  onFile?: (event: { done: number; total: number; result: FileResult; audioSeconds: number }) => void;
  /** Called with the number of files once they are known. */
  onStart?: (event: { total: number; jobs: number; specHash: string }) => void;
  onWarning?: (message: string, details: Record<string, unknown>) => void;
}

/** One line about a file that was extracted: 'decode' = the WAV is damaged or malformed; 'features' = an analysis caveat. */
export interface ExtractWarning {
  path: string;
  message: string;
  source: 'decode' | 'features';
}

export interface ExtractSummary {
  rows: number;
  columns: number;
  /** ok counts files with warnings too; withWarnings counts the files with at least one warning. */
  files: { total: number; ok: number; failed: number; withWarnings: number; cached: number; skippedNonWav: number };
  failures: { path: string; reason: string; code: string }[];
  warnings: ExtractWarning[];
  /** Folders below an input that could not be read: their files are not in the table. */
  unreadableFolders: { path: string; reason: string }[];
  audioSeconds: number;
  wallSeconds: number;
  throughput: { filesPerSecond: number; audioSecondsPerSecond: number };
  outputs: { table: string; format: TableFormat; spec: string; frames: string | null; cache: string | null };
  specHash: string;
  sampleRate: number | 'native';
  labels: string[] | null;
  jobs: number;
}

/** Damaged files are each worth a line (as failures are); the delta caveat of many short clips is not. */
const MAX_DECODE_WARNINGS_SHOWN = 20;
const MAX_FEATURE_WARNINGS_SHOWN = 5;
const STRICT_FAILURE_HINT = '(--strict stops at the first file that fails)';
const STRICT_DAMAGED_HINT = '(--strict refuses a file that lost audio; without --strict it is decoded as far as it goes, with a warning)';
const WORKER_URL = new URL('../audio/extract-worker.js', import.meta.url);

export async function extract(options: ExtractOptions): Promise<ExtractSummary> {
  const started = performance.now();
  const cwd = resolve(options.cwd ?? process.cwd());
  const outPath = resolve(cwd, options.out);
  const format = formatFromPath(outPath, options.format, true);
  const settings = resolveSettings(options.settings);
  if (settings.sampleRate !== 'native') validateFeatureOptions(featureOptionsFor(settings, settings.sampleRate));
  const hash = specHash(settings);
  const warn = options.onWarning ?? (() => undefined);

  const discovery = await discoverAudio(options.inputs, { cwd });
  for (const glob of discovery.emptyGlobs) warn(`glob ${glob} matched no .wav file`, { pattern: glob });
  for (const folder of discovery.emptyFolders) warn(`folder ${folder} holds no .wav file`, { folder });
  for (const folder of discovery.unreadableFolders) warn(`folder ${folder.path} skipped: ${folder.reason}`, { folder: folder.path });
  if (discovery.files.length === 0) {
    throw new SpotmlError('NOT_FOUND', `no .wav files found in ${options.inputs.join(', ')}: check the inputs`, { inputs: [...options.inputs] });
  }
  const labelSource = options.labels ?? { kind: 'none' };
  const labels = await loadLabels(labelSource);
  const framesDir = options.framesDir ? resolve(cwd, options.framesDir) : null;
  const cacheRoot = options.cache === false ? null : options.cacheDir ? resolve(cwd, options.cacheDir) : defaultCacheRoot(outPath);
  const cacheDir = cacheRoot === null ? null : extractCacheDir(cacheRoot);

  const files = discovery.files;
  const total = files.length;
  const results: (FileResult | undefined)[] = new Array(total);
  const fileLabels: (string | undefined)[] = new Array(total);
  const toRun: number[] = [];
  files.forEach((file, i) => {
    const lookup = labels.lookup(file);
    if (lookup && 'error' in lookup) {
      results[i] = labelFailure(file, lookup.error);
    } else {
      fileLabels[i] = lookup?.label;
      toRun.push(i);
    }
  });
  const requestedJobs = options.jobs ?? availableParallelism();
  if (!Number.isInteger(requestedJobs) || requestedJobs < 1) {
    throw new SpotmlError('USAGE', `--jobs must be a whole number >= 1, got ${requestedJobs}`, { flag: '--jobs' });
  }
  let jobs = Math.max(1, Math.min(requestedJobs, toRun.length));
  if (jobs > 1 && !workerAvailable(WORKER_URL)) {
    // Running from TypeScript sources (tests, tsx): workers need the build, so stay in this thread.
    warn('worker threads need the compiled build (npm run build); running in one thread', {});
    jobs = 1;
  }
  options.onStart?.({ total, jobs, specHash: hash });

  let done = 0;
  let audioSeconds = 0;
  const report = (i: number, computed: FileResult): void => {
    // --strict refuses files that lost audio; header slips a streaming writer leaves (arecord, ffmpeg pipes) stay warnings.
    const damaged = options.strict === true && computed.ok && computed.decodeNotes.some(noteLosesAudio);
    const result: FileResult = damaged ? damagedFailure(computed) : computed;
    results[i] = result;
    done++;
    if (result.ok) audioSeconds += result.seconds;
    options.onFile?.({ done, total, result, audioSeconds });
    if (!result.ok && options.strict) {
      throw new SpotmlError(result.code === 'INTERNAL' ? 'INTERNAL' : 'DECODE', `${result.path}: ${result.reason} ${damaged ? STRICT_DAMAGED_HINT : STRICT_FAILURE_HINT}`, {
        file: result.path,
        reason: result.reason,
      });
    }
  };
  for (let i = 0; i < total; i++) {
    const early = results[i];
    if (early) report(i, early);
  }

  const taskFor = (i: number): ExtractTask => ({
    absolutePath: files[i].absolutePath,
    path: files[i].path,
    settings,
    specHash: hash,
    framesDir,
    cacheDir,
  });
  if (jobs === 1) {
    for (const i of toRun) report(i, await extractFile(taskFor(i)));
  } else {
    const pool = new WorkerPool<ExtractTask, FileResult>(WORKER_URL, jobs);
    try {
      await Promise.all(
        toRun.map(async (i) => {
          let result: FileResult;
          try {
            result = await pool.run(taskFor(i));
          } catch (err) {
            if (pool.isClosed) return;
            // The worker died on this file (e.g. out of memory): a failure of this file, not of the run.
            result = { ok: false, path: files[i].path, absolutePath: files[i].absolutePath, sha256: null, code: 'INTERNAL', reason: (err as Error).message };
          }
          try {
            report(i, result);
          } catch (err) {
            await pool.close();
            throw err;
          }
        }),
      );
    } finally {
      await pool.close();
    }
  }

  const successes: { result: FileSuccess; label: string | undefined }[] = [];
  const failures: FileFailure[] = [];
  results.forEach((result, i) => {
    if (!result) return;
    if (result.ok) successes.push({ result, label: fileLabels[i] });
    else failures.push(result);
  });
  const warnings = successes.flatMap(({ result }) => fileWarnings(result));
  // Damaged files first, so many short clips' delta caveats never hide one; the rest are counted (all are in the summary).
  showWarnings(warnings.filter((w) => w.source === 'decode'), MAX_DECODE_WARNINGS_SHOWN, 'damaged files', warn);
  showWarnings(warnings.filter((w) => w.source === 'features'), MAX_FEATURE_WARNINGS_SHOWN, 'files with feature warnings', warn);
  if (successes.length === 0) {
    const first = failures[0];
    // Every file failing on its label (e.g. conflicting --labels rows) is a labels problem, not a decoding one.
    const labelsOnly = failures.every((f) => f.code === 'INVALID_INPUT');
    const what = labelsOnly ? 'has a usable label' : 'could be read';
    throw new SpotmlError(labelsOnly ? 'INVALID_INPUT' : 'DECODE', `none of the ${total} files ${what} (first: ${first.path}: ${first.reason})`, {
      failures: failures.map((f) => ({ path: f.path, reason: f.reason })),
    });
  }

  const labelled = labelSource.kind !== 'none';
  const table = buildTable(settings, successes, labelled);
  await writeTable(table, outPath, format);
  const classes = labelled ? [...new Set(successes.map((s) => s.label as string))].sort() : null;
  const spec: FeatureSpec = buildSpec({
    settings,
    labels: classes
      ? { column: LABEL_COLUMN, source: labelSource.kind === 'csv' ? 'csv' : 'dirs', ...(labelSource.kind === 'csv' ? { file: labelSource.path } : {}), classes }
      : null,
    // The spec sits beside its table, so the bare file name finds it wherever the pair is moved.
    table: { file: basename(outPath), format, rows: table.nRows },
    files: successes.map(({ result }) => specFile(result)),
    failures: failures.map((f) => ({ path: f.path, reason: f.reason })),
  });
  const specPath = specPathFor(outPath);
  await writeFileAtomic(specPath, `${JSON.stringify(spec, null, 2)}\n`);
  if (framesDir) await writeFramesIndex(framesDir, settings, successes.map((s) => s.result));

  const wallSeconds = (performance.now() - started) / 1000;
  return {
    rows: table.nRows,
    columns: table.names.length,
    files: {
      total,
      ok: successes.length,
      failed: failures.length,
      withWarnings: new Set(warnings.map((w) => w.path)).size,
      cached: successes.filter((s) => s.result.cached).length,
      skippedNonWav: discovery.skippedNonWav,
    },
    failures: failures.map((f) => ({ path: f.path, reason: f.reason, code: f.code })),
    warnings,
    unreadableFolders: discovery.unreadableFolders.map((f) => ({ ...f })),
    audioSeconds,
    wallSeconds,
    throughput: { filesPerSecond: total / Math.max(wallSeconds, 1e-9), audioSecondsPerSecond: audioSeconds / Math.max(wallSeconds, 1e-9) },
    outputs: { table: outPath, format, spec: specPath, frames: framesDir, cache: cacheDir },
    specHash: hash,
    sampleRate: settings.sampleRate,
    labels: classes,
    jobs,
  };
}

/** A file's decode notes as one line, then its analysis warnings. */
function fileWarnings(result: FileSuccess): ExtractWarning[] {
  const decode: ExtractWarning[] = result.decodeNotes.length > 0 ? [{ path: result.path, message: result.decodeNotes.join('; '), source: 'decode' }] : [];
  return [...decode, ...result.warnings.map((message): ExtractWarning => ({ path: result.path, message, source: 'features' }))];
}

function showWarnings(warnings: readonly ExtractWarning[], max: number, what: string, warn: (message: string, details: Record<string, unknown>) => void): void {
  const shown = warnings.length <= max ? warnings : warnings.slice(0, max - 1);
  for (const w of shown) warn(`${w.path}: ${w.message}`, { file: w.path, source: w.source });
  if (shown.length < warnings.length) {
    warn(`… and ${warnings.length - shown.length} more ${what} (see "warnings" in the --json output)`, { count: warnings.length, source: warnings[0].source });
  }
}

/** Under --strict a file that lost audio fails with those decode notes as the reason. */
function damagedFailure(result: FileSuccess): FileFailure {
  return { ok: false, path: result.path, absolutePath: result.absolutePath, sha256: result.sha256, code: 'DECODE', reason: result.decodeNotes.filter(noteLosesAudio).join('; ') };
}

function labelFailure(file: AudioFile, reason: string): FileFailure {
  return { ok: false, path: file.path, absolutePath: file.absolutePath, sha256: null, code: 'INVALID_INPUT', reason };
}

function specFile(result: FileSuccess): SpecFile {
  return {
    path: result.path,
    sha256: result.sha256,
    sampleRate: result.sampleRate,
    channels: result.channels,
    frames: result.frames,
    analysisRate: result.analysisRate,
    seconds: result.seconds,
    rows: result.rows.length,
  };
}

function buildTable(settings: FeatureSettings, successes: readonly { result: FileSuccess; label: string | undefined }[], labelled: boolean) {
  const features = featureColumns(settings);
  const nRows = successes.reduce((n, s) => n + s.result.rows.length, 0);
  const paths: string[] = new Array(nRows);
  const labels: string[] = new Array(nRows);
  const segment = new Float64Array(nRows);
  const startS = new Float64Array(nRows);
  const endS = new Float64Array(nRows);
  const values = features.map(() => new Float64Array(nRows));
  let r = 0;
  for (const { result, label } of successes) {
    for (const row of result.rows) {
      paths[r] = result.path;
      labels[r] = label ?? '';
      segment[r] = row.segment;
      startS[r] = row.startS;
      endS[r] = row.endS;
      for (let c = 0; c < values.length; c++) values[c][r] = row.values[c];
      r++;
    }
  }
  const names: string[] = [...idColumns(settings)];
  const columns: ColumnData[] = settings.segment ? [paths, segment, startS, endS] : [paths];
  if (labelled) {
    names.push(LABEL_COLUMN);
    columns.push(labels);
  }
  names.push(...features.map((f) => f.name));
  columns.push(...values);
  return makeTable(names, columns);
}

/** `<frames>/index.json`: which folder holds which row's matrices, and their layout. */
async function writeFramesIndex(framesDir: string, settings: FeatureSettings, results: readonly FileSuccess[]): Promise<void> {
  const entries = results.flatMap((result) =>
    result.rows.map((row) => ({
      path: result.path,
      ...(settings.segment ? { segment: row.segment, start_s: row.startS, end_s: row.endS } : {}),
      folder: relative(framesDir, framesFolder(framesDir, result.path, settings.segment ? row.segment : null)).split('\\').join('/'),
    })),
  );
  const index = {
    layout: '<folder>/<feature>.npy, float32, shape (rows, frames)',
    specHash: specHash(settings),
    features: settings.features.filter((f) => f !== 'tempo'),
    entries,
  };
  await writeFileAtomic(`${framesDir}/index.json`, `${JSON.stringify(index, null, 2)}\n`);
}
