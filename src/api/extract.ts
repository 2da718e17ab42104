/**
 * The programmatic `extract`: inputs → feature table + FeatureSpec (+ optional frame matrices).
 * The CLI is a thin layer over `extract()`; tests and other commands call it directly.
 *
 * Files run in parallel on worker threads (`jobs`, default: the number of cores; 1 = in this thread).
 * Results are placed by input order, so the table is the same whatever the parallelism. A file that
 * cannot be read is reported (path + reason) and skipped; with `strict` the first failure stops the run
 * and nothing is written. A damaged file that still decodes (truncated data, a streaming writer's
 * placeholder size, a malformed header; see WavInfo.notes) gives its rows and one warning naming it;
 * with `strict` it is a failure like any other.
 *
 * Memory is bounded by the files in flight, not by their number: rows stream into the table as files
 * finish (a small reorder window keeps input order, see `runInOrder`), and per file only what the spec
 * and the summary need is kept (path, hash, rate, warnings), never the feature values. Outputs are still
 * atomic: the table grows in a temp file renamed at the end (see data/table-stream.ts), then
 * `<table>.spec.json` is written.
 */
import { availableParallelism } from 'node:os';
import { basename, relative, resolve } from 'node:path';
import { SpotmlError } from '../errors.js';
import { noteLosesAudio } from '../audio/wav.js';
import { formatFromPath, type TableFormat } from '../data/table.js';
import { TableStreamWriter, type StreamColumn, type TableCell } from '../data/table-stream.js';
import { writeFileAtomic } from '../data/writers.js';
import { validateFeatureOptions } from '../audio/analyze.js';
import { defaultCacheRoot, extractCacheDir } from '../audio/cache.js';
import { discoverAudio, loadLabels, type AudioFile, type LabelSource } from '../audio/discover.js';
import { extractFile, framesFolder, type ExtractTask, type FileFailure, type FileResult, type FileSuccess, type SegmentRow } from '../audio/extract.js';
import {
  buildSpec,
  featureColumns,
  featureOptionsFor,
  idColumns,
  LABEL_COLUMN,
  PATH_COLUMN,
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
/** Files started per worker ahead of the next row to write (a slow file holds back at most this many results). */
const REORDER_WINDOW_PER_JOB = 8;

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
  // Only files refused on their label are known before the run; the rest are looked up again as they are written.
  const labelFailures = new Map<number, FileFailure>();
  files.forEach((file, i) => {
    const lookup = labels.lookup(file);
    if (lookup && 'error' in lookup) labelFailures.set(i, labelFailure(file, lookup.error));
  });
  const toRunCount = total - labelFailures.size;
  const requestedJobs = options.jobs ?? availableParallelism();
  if (!Number.isInteger(requestedJobs) || requestedJobs < 1) {
    throw new SpotmlError('USAGE', `--jobs must be a whole number >= 1, got ${requestedJobs}`, { flag: '--jobs' });
  }
  let jobs = Math.max(1, Math.min(requestedJobs, toRunCount));
  if (jobs > 1 && !workerAvailable(WORKER_URL)) {
    // Running from TypeScript sources (tests, tsx): workers need the build, so stay in this thread.
    warn('worker threads need the compiled build (npm run build); running in one thread', {});
    jobs = 1;
  }
  options.onStart?.({ total, jobs, specHash: hash });

  let done = 0;
  let audioSeconds = 0;
  const report = (computed: FileResult): FileResult => {
    // --strict refuses files that lost audio; header slips a streaming writer leaves (arecord, ffmpeg pipes) stay warnings.
    const damaged = options.strict === true && computed.ok && computed.decodeNotes.some(noteLosesAudio);
    const result: FileResult = damaged ? damagedFailure(computed) : computed;
    done++;
    if (result.ok) audioSeconds += result.seconds;
    options.onFile?.({ done, total, result, audioSeconds });
    if (!result.ok && options.strict) {
      throw new SpotmlError(result.code === 'INTERNAL' ? 'INTERNAL' : 'DECODE', `${result.path}: ${result.reason} ${damaged ? STRICT_DAMAGED_HINT : STRICT_FAILURE_HINT}`, {
        file: result.path,
        reason: result.reason,
      });
    }
    return result;
  };
  for (const failure of labelFailures.values()) report(failure);

  const labelled = labelSource.kind !== 'none';
  // The header comes from the settings alone (no file has finished yet): id columns, label, features.
  const table = await TableStreamWriter.open(outPath, format, tableColumns(settings, labelled));
  // Per file, only what the spec and the summary need; feature values go to the table as files finish.
  const specFiles: SpecFile[] = [];
  const failures: FileFailure[] = [];
  const warnings: ExtractWarning[] = [];
  const classes = new Set<string>();
  const frameEntries: FrameIndexEntry[] = [];
  let filesWithWarnings = 0;
  let cached = 0;
  const writeResult = async (i: number, result: FileResult): Promise<void> => {
    if (!result.ok) {
      failures.push(result);
      return;
    }
    const lookup = labels.lookup(files[i]);
    const label = lookup && 'label' in lookup ? lookup.label : '';
    if (labelled) classes.add(label);
    specFiles.push(specFile(result));
    const fileWarningList = fileWarnings(result);
    warnings.push(...fileWarningList);
    if (fileWarningList.length > 0) filesWithWarnings++;
    if (result.cached) cached++;
    const rows = result.rows.map((segmentRow) => tableRow(settings, result.path, labelled ? label : null, segmentRow));
    await table.append(rows);
    if (framesDir) frameEntries.push(...frameIndexEntries(framesDir, settings, result));
  };

  try {
    await runInOrder({
      total,
      jobs,
      window: jobs === 1 ? 1 : jobs * REORDER_WINDOW_PER_JOB,
      known: (i) => labelFailures.get(i),
      task: (i): ExtractTask => ({ absolutePath: files[i].absolutePath, path: files[i].path, settings, specHash: hash, framesDir, cacheDir }),
      report,
      consume: writeResult,
    });

    if (specFiles.length === 0) {
      const first = failures[0];
      // Every file failing on its label (e.g. conflicting --labels rows) is a labels problem, not a decoding one.
      const labelsOnly = failures.every((f) => f.code === 'INVALID_INPUT');
      const what = labelsOnly ? 'has a usable label' : 'could be read';
      throw new SpotmlError(labelsOnly ? 'INVALID_INPUT' : 'DECODE', `none of the ${total} files ${what} (first: ${first.path}: ${first.reason})`, {
        failures: failures.map((f) => ({ path: f.path, reason: f.reason })),
      });
    }
    // Damaged files first, so many short clips' delta caveats never hide one; the rest are counted (all are in the summary).
    showWarnings(warnings.filter((w) => w.source === 'decode'), MAX_DECODE_WARNINGS_SHOWN, 'damaged files', warn);
    showWarnings(warnings.filter((w) => w.source === 'features'), MAX_FEATURE_WARNINGS_SHOWN, 'files with feature warnings', warn);
    await table.commit();
  } finally {
    await table.abort();
  }

  const sortedClasses = labelled ? [...classes].sort() : null;
  const spec: FeatureSpec = buildSpec({
    settings,
    labels: sortedClasses
      ? { column: LABEL_COLUMN, source: labelSource.kind === 'csv' ? 'csv' : 'dirs', ...(labelSource.kind === 'csv' ? { file: labelSource.path } : {}), classes: sortedClasses }
      : null,
    // The spec sits beside its table, so the bare file name finds it wherever the pair is moved.
    table: { file: basename(outPath), format, rows: table.rows },
    files: specFiles,
    failures: failures.map((f) => ({ path: f.path, reason: f.reason })),
  });
  const specPath = specPathFor(outPath);
  await writeFileAtomic(specPath, `${JSON.stringify(spec, null, 2)}\n`);
  if (framesDir) await writeFramesIndex(framesDir, settings, frameEntries);

  const wallSeconds = (performance.now() - started) / 1000;
  return {
    rows: table.rows,
    columns: table.columns.length,
    files: {
      total,
      ok: specFiles.length,
      failed: failures.length,
      withWarnings: filesWithWarnings,
      cached,
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
    labels: sortedClasses,
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

/** The table's columns, known from the settings before any file is read: id columns, the label, the features. */
function tableColumns(settings: FeatureSettings, labelled: boolean): StreamColumn[] {
  const id: StreamColumn[] = idColumns(settings).map((name) => ({ name, kind: name === PATH_COLUMN ? 'text' : 'number' }));
  const label: StreamColumn[] = labelled ? [{ name: LABEL_COLUMN, kind: 'text' }] : [];
  return [...id, ...label, ...featureColumns(settings).map((f): StreamColumn => ({ name: f.name, kind: 'number' }))];
}

/** One row of the table, in tableColumns order; `label` null = no label column. */
function tableRow(settings: FeatureSettings, path: string, label: string | null, row: SegmentRow): TableCell[] {
  const cells: TableCell[] = settings.segment ? [path, row.segment, row.startS, row.endS] : [path];
  if (label !== null) cells.push(label);
  for (let c = 0; c < row.values.length; c++) cells.push(row.values[c]);
  return cells;
}

interface OrderedRun {
  total: number;
  jobs: number;
  /** Files started ahead of the next one to write: the most results held while waiting for a slow file. */
  window: number;
  /** A result known before the run (already reported), or undefined to extract the file. */
  known: (index: number) => FileResult | undefined;
  task: (index: number) => ExtractTask;
  /** Counts a finished file (in completion order, for progress); throws to stop the run (--strict). */
  report: (result: FileResult) => FileResult;
  /** Takes each file's result in input order. */
  consume: (index: number, result: FileResult) => Promise<void>;
}

/**
 * Extracts every file and hands the results over in input order, whatever order they finish in. Only
 * `window` files are started ahead of the one awaited, so memory holds at most that many results
 * (not one per file), while the workers stay busy past one slow file.
 */
async function runInOrder(run: OrderedRun): Promise<void> {
  if (run.jobs === 1) {
    for (let i = 0; i < run.total; i++) await run.consume(i, run.known(i) ?? run.report(await extractFile(run.task(i))));
    return;
  }
  const pool = new WorkerPool<ExtractTask, FileResult>(WORKER_URL, run.jobs);
  // The first report that stops the run may come from any file in the window, not only the one awaited.
  let stopped: { error: unknown } | null = null;
  let wake: ((error: unknown) => void) | null = null;
  const start = (i: number): Promise<FileResult> => {
    const known = run.known(i);
    if (known) return Promise.resolve(known);
    const task = run.task(i);
    const finished = pool
      .run(task)
      .catch((err: unknown): FileResult => {
        if (pool.isClosed) throw err;
        // The worker died on this file (e.g. out of memory): a failure of this file, not of the run.
        return { ok: false, path: task.path, absolutePath: task.absolutePath, sha256: null, code: 'INTERNAL', reason: (err as Error).message };
      })
      .then((result) => {
        try {
          return run.report(result);
        } catch (err) {
          stopped ??= { error: err };
          wake?.(err);
          throw err;
        }
      });
    // Awaited in turn below; until then (or if the run stops first) a rejection must not count as unhandled.
    finished.catch(() => undefined);
    return finished;
  };
  const window: Promise<FileResult>[] = [];
  let started = 0;
  try {
    for (let i = 0; i < run.total; i++) {
      while (started < run.total && started < i + run.window) window.push(start(started++));
      const head = window.shift() as Promise<FileResult>;
      // Not Promise.race with one long-lived "stopped" promise: each race would leave a reaction on it
      // holding that file's result, i.e. every result kept to the end. This waiter lives for one file.
      const result = await new Promise<FileResult>((resolve, reject) => {
        if (stopped) return reject(stopped.error);
        wake = reject;
        head.then(resolve, reject);
      });
      wake = null;
      await run.consume(i, result);
    }
  } finally {
    await pool.close();
  }
}

interface FrameIndexEntry {
  path: string;
  segment?: number;
  start_s?: number;
  end_s?: number;
  folder: string;
}

/** A file's entries in `<frames>/index.json`: which folder holds each row's matrices. */
function frameIndexEntries(framesDir: string, settings: FeatureSettings, result: FileSuccess): FrameIndexEntry[] {
  return result.rows.map((row) => ({
    path: result.path,
    ...(settings.segment ? { segment: row.segment, start_s: row.startS, end_s: row.endS } : {}),
    folder: relative(framesDir, framesFolder(framesDir, result.path, settings.segment ? row.segment : null)).split('\\').join('/'),
  }));
}

/** `<frames>/index.json`: which folder holds which row's matrices, and their layout. */
async function writeFramesIndex(framesDir: string, settings: FeatureSettings, entries: readonly FrameIndexEntry[]): Promise<void> {
  const index = {
    layout: '<folder>/<feature>.npy, float32, shape (rows, frames)',
    specHash: specHash(settings),
    features: settings.features.filter((f) => f !== 'tempo'),
    entries,
  };
  await writeFileAtomic(`${framesDir}/index.json`, `${JSON.stringify(index, null, 2)}\n`);
}
