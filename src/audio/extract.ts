/**
 * One file through the extract pipeline: hash → (cache) → decode → mono → resample → analyse →
 * aggregate → row(s). Streams throughout: WavFileReader chunks go through the Resampler into the
 * ClipAnalyzer. Chroma needs the clip's tuning first: a clip of a few minutes keeps its power spectrogram
 * for that (one pass over the file); a longer one gets a second pass that re-opens the file rather than
 * keeping the signal, so memory stays at the analyzer's per-frame results whatever the file length.
 *
 * Offset and duration follow librosa.load: counted in the file's own frames, truncated
 * (int(offset · sr)), applied before resampling.
 *
 * Segments (`--segment L --segment-hop H`): windows of round(L · sr) samples starting every
 * round(H · sr) samples of the analysed signal, each analysed as its own clip (its own top_db floor,
 * tuning and tempo, as librosa on the slice would). A final window shorter than L is dropped, unless it
 * is the only one (a file shorter than L gives one row over the whole file), so every row of a table
 * covers the same length except those of files that are too short. `start_s` / `end_s` are seconds in
 * the original file (the offset included).
 *
 * Per-file problems (missing, unreadable, corrupt, empty, offset past the end) are returned as a failure
 * with a reason, never thrown, so a run over many files goes on. A file that decodes only with the WAV
 * reader's notes (truncated data, a streaming writer's placeholder size, a malformed header) succeeds
 * with those notes in `decodeNotes`, cached with the rows, so the caller can warn or, with --strict, refuse.
 */
import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SpotmlError, type ErrorCode } from '../errors.js';
import { writeFileAtomic } from '../data/writers.js';
import { aggregateRowsMany, ClipAnalyzer, analyzeSignal, DEFAULT_SPECTROGRAM_BUDGET_BYTES, type AggregateName, type ClipAnalysis, type FeatureOptions, type FrameMatrix } from './analyze.js';
import { cacheKey, JsonCache } from './cache.js';
import { featureColumns, featureOptionsFor, type FeatureColumn, type FeatureSettings } from './feature-spec.js';
import type { FeatureName } from './feature-names.js';
import { Resampler } from './resample.js';
import { WavFileReader } from './wav.js';

export interface ExtractTask {
  absolutePath: string;
  /** The display path (the table's `path` column). */
  path: string;
  settings: FeatureSettings;
  specHash: string;
  /** Folder for frame-level .npy matrices, or null. */
  framesDir: string | null;
  /** The extract cache folder, or null for no cache. */
  cacheDir: string | null;
}

export interface SegmentRow {
  /** 0-based window index (0 for a whole clip). */
  segment: number;
  startS: number;
  endS: number;
  /** Feature values in featureColumns(settings) order. */
  values: Float64Array;
}

export interface FileSuccess {
  ok: true;
  path: string;
  absolutePath: string;
  sha256: string;
  sampleRate: number;
  channels: number;
  frames: number;
  analysisRate: number;
  /** Seconds of audio analysed. */
  seconds: number;
  rows: SegmentRow[];
  /** The WAV reader's notes (WavInfo.notes): the file is damaged or malformed but decoded as libsndfile does. */
  decodeNotes: string[];
  /** Analysis warnings (e.g. MFCC deltas refused on a short clip). */
  warnings: string[];
  cached: boolean;
}

export interface FileFailure {
  ok: false;
  path: string;
  absolutePath: string;
  sha256: string | null;
  code: ErrorCode;
  reason: string;
}

export type FileResult = FileSuccess | FileFailure;

type CachedValue = Omit<FileSuccess, 'path' | 'absolutePath' | 'cached'>;

/** Frames read from the file per chunk: 2^18 (512 KiB of 16-bit mono) keeps the per-read overhead small. */
const READ_FRAMES = 1 << 18;

/** Bytes per read while hashing: one buffer, reused for every read of the file (no per-chunk allocation). */
const HASH_READ_BYTES = 1 << 20;
/** The thread's spare hash buffer; null while a call holds it (a concurrent call allocates its own). */
let spareHashBuffer: Uint8Array | null = null;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  const buffer = spareHashBuffer ?? new Uint8Array(HASH_READ_BYTES);
  spareHashBuffer = null;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    spareHashBuffer = buffer;
    await handle.close();
  }
  return hash.digest('hex');
}

export async function extractFile(task: ExtractTask): Promise<FileResult> {
  let sha256: string | null = null;
  try {
    sha256 = await sha256File(task.absolutePath);
    const cache = task.cacheDir === null ? null : new JsonCache<CachedValue>(task.cacheDir);
    const key = cacheKey(sha256, task.specHash);
    // With --frames the matrices must be written, so a cached row alone is not enough.
    if (cache && task.framesDir === null) {
      const hit = await cache.get(key);
      // An entry without decode notes predates them: recompute rather than lose a file's warning.
      if (hit && Array.isArray(hit.decodeNotes)) return { ...hit, path: task.path, absolutePath: task.absolutePath, cached: true };
    }
    const computed = await analyzeFile(task, sha256);
    if (cache) await cache.put(key, computed).catch(() => undefined);
    return { ...computed, path: task.path, absolutePath: task.absolutePath, cached: false };
  } catch (err) {
    return failure(task, sha256, err);
  }
}

function failure(task: ExtractTask, sha256: string | null, err: unknown): FileFailure {
  const fileSystem = fileSystemReason(err);
  const code: ErrorCode = err instanceof SpotmlError ? err.code : (fileSystem?.code ?? 'INTERNAL');
  let reason = fileSystem?.reason ?? (err instanceof Error ? err.message : String(err));
  // The report pairs each path with its reason: drop the path the decoder put in front.
  for (const prefix of [`${task.absolutePath}: `, `${task.path}: `]) {
    if (reason.startsWith(prefix)) reason = reason.slice(prefix.length);
  }
  if (code === 'INTERNAL' && !(err instanceof SpotmlError)) reason = `internal error: ${reason}`;
  return { ok: false, path: task.path, absolutePath: task.absolutePath, sha256, code, reason };
}

/**
 * What an errno failure on an input file means, as a one-line reason without the path (the report pairs
 * them); undefined for anything else. A file the user cannot read is their input's problem, not an internal error.
 */
export function fileSystemReason(err: unknown): { code: ErrorCode; reason: string } | undefined {
  const errno = (err as { code?: unknown } | null)?.code;
  switch (errno) {
    case 'ENOENT':
      return { code: 'NOT_FOUND', reason: 'file not found (removed during the run?)' };
    case 'EACCES':
    case 'EPERM':
      return { code: 'INVALID_INPUT', reason: 'permission denied: make the file readable (chmod +r) or leave it out' };
    case 'EISDIR':
      return { code: 'INVALID_INPUT', reason: 'is a folder, not a file: pass the folder itself to search it for .wav files' };
    case 'EIO':
      return { code: 'DECODE', reason: 'the disk reported an I/O error reading it: copy the file again or leave it out' };
    default:
      return undefined;
  }
}

interface SignalRange {
  startFrame: number;
  /** Frames to read after startFrame (Infinity = to the end). */
  frameLimit: number;
  fromRate: number;
  toRate: number;
}

/** The selected range of a file as resampled mono chunks. */
async function* resampledChunks(reader: WavFileReader, range: SignalRange): AsyncGenerator<Float32Array | Float64Array> {
  reader.seekFrame(range.startFrame);
  const resampler = range.fromRate === range.toRate ? null : new Resampler(range.fromRate, range.toRate);
  let remaining = range.frameLimit;
  while (remaining > 0) {
    const chunk = await reader.readMono(Number.isFinite(remaining) ? Math.min(READ_FRAMES, remaining) : READ_FRAMES);
    if (!chunk) break;
    remaining -= chunk.length;
    yield resampler ? resampler.process(chunk) : chunk;
  }
  if (resampler) yield resampler.flush();
}

async function analyzeFile(task: ExtractTask, sha256: string): Promise<CachedValue> {
  const { settings } = task;
  const reader = await WavFileReader.open(task.absolutePath);
  try {
    const info = reader.info;
    // When the header explains an empty or short file (truncated, data size 0), the reason says so.
    const becauseOfNotes = info.notes.length > 0 ? `: ${info.notes.join('; ')}` : '';
    if (info.frames === 0) throw new SpotmlError('DECODE', `holds no audio (0 sample frames)${becauseOfNotes}`);
    const analysisRate = settings.sampleRate === 'native' ? info.sampleRate : settings.sampleRate;
    const startFrame = Math.trunc(settings.offset * info.sampleRate);
    if (startFrame >= info.frames) {
      throw new SpotmlError('INVALID_INPUT', `--offset ${settings.offset} s is past the end (the file is ${(info.frames / info.sampleRate).toFixed(3)} s long)${becauseOfNotes}`);
    }
    const frameLimit = settings.duration === null ? Number.POSITIVE_INFINITY : Math.max(1, Math.trunc(settings.duration * info.sampleRate));
    const range: SignalRange = { startFrame, frameLimit, fromRate: info.sampleRate, toRate: analysisRate };
    const nativeFrames = Math.min(frameLimit, info.frames - startFrame);
    const options = featureOptionsFor(settings, analysisRate);
    const columns = featureColumns(settings);
    const warnings: string[] = [];
    const startS = startFrame / info.sampleRate;

    const rows: SegmentRow[] = [];
    const frameJobs: Promise<void>[] = [];
    const onClip = (segment: number, analysis: ClipAnalysis, segStartS: number, segEndS: number): void => {
      noteAnalysisWarning(analysis, warnings);
      rows.push({ segment, startS: segStartS, endS: segEndS, values: rowValues(analysis, columns) });
      if (task.framesDir !== null) frameJobs.push(writeFrames(task.framesDir, task.path, settings.segment ? segment : null, analysis, settings.features));
    };

    if (settings.segment === null) {
      // The resampled length, for the analyzer's memory planning only (its results never depend on it).
      const expectedSamples = Math.ceil((nativeFrames * analysisRate) / info.sampleRate);
      const analysis = await analyzeStreaming(task.absolutePath, reader, range, options, expectedSamples);
      onClip(0, analysis, startS, startS + analysis.nSamples / analysisRate);
    } else {
      const length = Math.max(1, Math.round(settings.segment.length * analysisRate));
      const hop = Math.max(1, Math.round(settings.segment.hop * analysisRate));
      const cutter = new SegmentCutter(length, hop, (index, start, samples) => {
        const segStart = startS + start / analysisRate;
        onClip(index, analyzeSignal(samples, options), segStart, segStart + samples.length / analysisRate);
      });
      for await (const chunk of resampledChunks(reader, range)) cutter.push(chunk);
      cutter.end();
    }
    await Promise.all(frameJobs);
    return {
      ok: true,
      sha256,
      sampleRate: info.sampleRate,
      channels: info.channels,
      frames: info.frames,
      analysisRate,
      seconds: nativeFrames / info.sampleRate,
      rows,
      decodeNotes: [...info.notes],
      warnings,
    };
  } finally {
    await reader.close().catch(() => undefined);
  }
}

async function analyzeStreaming(path: string, reader: WavFileReader, range: SignalRange, options: FeatureOptions, expectedSamples: number): Promise<ClipAnalysis> {
  // Clips of a few minutes keep their power spectrogram for chroma; longer ones re-read the file instead.
  const analyzer = new ClipAnalyzer(options, { expectedSamples, spectrogramBudgetBytes: DEFAULT_SPECTROGRAM_BUDGET_BYTES });
  for await (const chunk of resampledChunks(reader, range)) analyzer.push(chunk);
  analyzer.endFirstPass();
  if (analyzer.needsSecondPass) {
    // Chroma needs the clip's tuning before its first frame: read the same range again.
    const again = await WavFileReader.open(path);
    try {
      for await (const chunk of resampledChunks(again, range)) analyzer.pushSecondPass(chunk);
    } finally {
      await again.close().catch(() => undefined);
    }
  }
  return analyzer.finish();
}

/** A clip's analysis caveat (MFCC deltas of a clip too short for them), added once per file to `warnings`. */
export function noteAnalysisWarning(analysis: ClipAnalysis, warnings: string[]): void {
  if (analysis.deltaError !== null && !warnings.some((w) => w.startsWith('MFCC deltas'))) warnings.push(`${analysis.deltaError}; the delta columns are empty`);
}

/** Aggregates a clip's matrices into one row, in column order; missing matrices (refused deltas) give NaN. */
export function rowValues(analysis: ClipAnalysis, columns: readonly FeatureColumn[]): Float64Array {
  const values = new Float64Array(columns.length);
  // Each matrix's aggregates are computed together (mean and std share the mean pass).
  const wanted = new Map<FeatureName, Set<AggregateName>>();
  for (const column of columns) {
    if (column.aggregate === null) continue;
    let set = wanted.get(column.feature);
    if (!set) {
      set = new Set();
      wanted.set(column.feature, set);
    }
    set.add(column.aggregate);
  }
  const aggregated = new Map<FeatureName, Map<AggregateName, Float64Array> | null>();
  wanted.forEach((aggregates, feature) => {
    const matrix = analysis.matrices[feature];
    aggregated.set(feature, matrix ? aggregateRowsMany(matrix, [...aggregates]) : null);
  });
  columns.forEach((column, i) => {
    if (column.aggregate === null) {
      values[i] = analysis.tempo?.feature ?? Number.NaN;
      return;
    }
    const rows = aggregated.get(column.feature)?.get(column.aggregate);
    values[i] = rows ? rows[column.row] : Number.NaN;
  });
  return values;
}

/**
 * Cuts a stream into windows of `length` samples every `hop` samples, keeping only what a window still
 * needs. The last partial window is dropped unless no full window exists.
 */
export class SegmentCutter {
  private buffer: Float64Array;
  /** Absolute index of buffer[0]. */
  private bufferStart = 0;
  private bufferLength = 0;
  private nextStart = 0;
  private emitted = 0;
  private total = 0;

  constructor(
    private readonly length: number,
    private readonly hop: number,
    private readonly onSegment: (index: number, startSample: number, samples: Float64Array) => void,
  ) {
    this.buffer = new Float64Array(Math.max(length, 1 << 16));
  }

  push(chunk: Float32Array | Float64Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      // Skip samples no window needs (hop > length leaves gaps).
      const bufferEnd = this.bufferStart + this.bufferLength;
      if (this.bufferLength === 0 && bufferEnd < this.nextStart && this.emitted > 0) {
        const skip = Math.min(chunk.length - offset, this.nextStart - bufferEnd);
        offset += skip;
        this.bufferStart += skip;
        this.total += skip;
        continue;
      }
      const room = this.buffer.length - this.bufferLength;
      const take = Math.min(room, chunk.length - offset);
      this.buffer.set(chunk.subarray(offset, offset + take), this.bufferLength);
      this.bufferLength += take;
      this.total += take;
      offset += take;
      this.emitReady();
    }
  }

  end(): void {
    this.emitReady();
    if (this.emitted === 0 && this.total > 0) {
      this.onSegment(0, 0, this.buffer.slice(0, this.bufferLength));
      this.emitted = 1;
    }
  }

  private emitReady(): void {
    while (this.bufferStart + this.bufferLength >= this.nextStart + this.length && this.nextStart >= this.bufferStart) {
      const from = this.nextStart - this.bufferStart;
      this.onSegment(this.emitted, this.nextStart, this.buffer.slice(from, from + this.length));
      this.emitted++;
      this.nextStart += this.hop;
    }
    if (this.emitted === 0) {
      // Until the first window is out, keep everything: it may be the only (partial) one.
      if (this.bufferLength === this.buffer.length) this.grow();
      return;
    }
    const drop = Math.min(this.bufferLength, this.nextStart - this.bufferStart);
    if (drop > 0) {
      this.buffer.copyWithin(0, drop, this.bufferLength);
      this.bufferLength -= drop;
      this.bufferStart += drop;
    }
  }

  private grow(): void {
    const bigger = new Float64Array(this.buffer.length * 2);
    bigger.set(this.buffer.subarray(0, this.bufferLength));
    this.buffer = bigger;
  }
}

// ---------------------------------------------------------------- frame-level output

/**
 * `<framesDir>/<path without extension>/<feature>.npy` per clip, or
 * `<framesDir>/<path without extension>/segment_<NNNN>/<feature>.npy` per segment: float32, C order,
 * shape (rows, frames), readable with numpy.load. Paths outside the working directory keep their
 * absolute layout under framesDir, with '..' written as '__'.
 */
export function framesFolder(framesDir: string, displayPath: string, segment: number | null): string {
  const stem = displayPath
    .replace(/\.[^./]*$/, '')
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .map((p) => (p === '..' ? '__' : p));
  const folder = join(framesDir, ...stem);
  return segment === null ? folder : join(folder, `segment_${String(segment).padStart(4, '0')}`);
}

async function writeFrames(framesDir: string, displayPath: string, segment: number | null, analysis: ClipAnalysis, features: readonly FeatureName[]): Promise<void> {
  const folder = framesFolder(framesDir, displayPath, segment);
  for (const feature of features) {
    const matrix = analysis.matrices[feature];
    if (matrix) await writeFileAtomic(join(folder, `${feature}.npy`), npyFloat32(matrix));
  }
}

/** A .npy (format 1.0) holding the matrix as little-endian float32, shape (rows, frames). */
export function npyFloat32(matrix: FrameMatrix): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${matrix.rows}, ${matrix.frames}), }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces and a newline to 64 bytes.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + matrix.rows * matrix.frames * 4);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, 10 + header.length);
  const data = matrix.data;
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}
