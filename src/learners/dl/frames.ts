/**
 * Frame-level inputs for the CNN: the `.npy` matrices `spotml extract --frames DIR` writes
 * (`<DIR>/<path without extension>/<feature>.npy`, float32, rows × frames), read back and laid out as one
 * table row per clip: a bands × frames patch, band-major, cropped or padded to a common frame count.
 * That flat row is what the CNN's `fit`/`predict` take (with `n_bands` telling it where bands break).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpotmlError } from '../../errors.js';
import { framesFolder } from '../../audio/extract.js';
import { createMatrix, type Matrix } from '../../data/matrix.js';
import type { Table } from '../../data/table.js';

/** The frame matrix the CNN reads unless told otherwise. */
export const DEFAULT_FRAME_FEATURE = 'melspectrogram_db';

export interface NpyMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/** Reads a 2-D little-endian float32 C-order .npy (format 1.x or 2.x). */
export function parseNpy(bytes: Uint8Array, name: string): NpyMatrix {
  const bad = (why: string): SpotmlError => new SpotmlError('INVALID_INPUT', `${name}: not a float32 frame matrix (${why}); re-run spotml extract --frames`, { file: name });
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw bad('no .npy magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = Buffer.from(bytes.subarray(headerStart, headerStart + headerLength)).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header)) throw bad('dtype is not <f4');
  if (/'fortran_order':\s*True/.test(header)) throw bad('Fortran order');
  const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
  if (!shape) throw bad('shape is not 2-D');
  const rows = Number(shape[1]);
  const cols = Number(shape[2]);
  const offset = headerStart + headerLength;
  if (bytes.length - offset < rows * cols * 4) throw bad('truncated');
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(offset + i * 4, true);
  return { rows, cols, data };
}

export async function readNpy(path: string): Promise<NpyMatrix> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') {
      throw new SpotmlError('NOT_FOUND', `${path} is missing; run spotml extract with --frames for this clip`, { file: path });
    }
    throw err;
  }
  return parseNpy(bytes, path);
}

/**
 * Copies the first `frames` frames of a matrix into a band-major patch; shorter clips are padded on the
 * right with the matrix's smallest value (the silence floor of a dB spectrogram).
 */
export function fitFrames(matrix: NpyMatrix, frames: number, out: Float64Array, offset: number): void {
  let floor = Infinity;
  for (const v of matrix.data) if (v < floor) floor = v;
  if (!Number.isFinite(floor)) floor = 0;
  const copy = Math.min(frames, matrix.cols);
  for (let b = 0; b < matrix.rows; b++) {
    const dst = offset + b * frames;
    for (let t = 0; t < copy; t++) out[dst + t] = matrix.data[b * matrix.cols + t];
    for (let t = copy; t < frames; t++) out[dst + t] = floor;
  }
}

export interface FrameTable {
  /** rows × (bands · frames), band-major patches. */
  readonly X: Matrix;
  readonly bands: number;
  readonly frames: number;
}

/**
 * Loads `<framesDir>/<path>/<feature>.npy` for every table path (`segments[i]` when rows are segments) into
 * one matrix. `frames` defaults to the longest clip (shorter ones are padded).
 */
export async function loadFrameTable(options: {
  framesDir: string;
  paths: readonly string[];
  segments?: readonly (number | null)[];
  feature?: string;
  frames?: number;
}): Promise<FrameTable> {
  const feature = options.feature ?? DEFAULT_FRAME_FEATURE;
  const matrices = await Promise.all(
    options.paths.map((path, i) => readNpy(join(framesFolder(options.framesDir, path, options.segments?.[i] ?? null), `${feature}.npy`))),
  );
  if (matrices.length === 0) throw new SpotmlError('INVALID_INPUT', 'no clips to load frames for', {});
  const bands = matrices[0].rows;
  const mismatch = matrices.findIndex((m) => m.rows !== bands);
  if (mismatch >= 0) {
    throw new SpotmlError('INVALID_INPUT', `${options.paths[mismatch]}: ${feature} has ${matrices[mismatch].rows} rows, others ${bands}; extract every clip with the same settings`, {});
  }
  const frames = options.frames ?? Math.max(...matrices.map((m) => m.cols));
  const data = new Float64Array(matrices.length * bands * frames);
  matrices.forEach((m, i) => fitFrames(m, frames, data, i * bands * frames));
  return { X: createMatrix(matrices.length, bands * frames, data), bands, frames };
}

export interface TableFramesOptions {
  /** The folder `spotml extract --frames` wrote. */
  framesDir: string;
  table: Table;
  /** How to name the table in errors. */
  tableName: string;
  feature?: string;
  /** Crop or pad every clip to this many frames (a model's); default the longest clip. */
  frames?: number;
  /** The band count a model expects; a mismatch is an error naming both. */
  bands?: number;
}

/**
 * The frame patches for every row of a table `spotml extract` wrote, matched by its `path` column (and
 * `segment` when rows are segments), in table row order. Errors name the missing folder or clip and the fix.
 */
export async function loadTableFrames(options: TableFramesOptions): Promise<FrameTable> {
  const { framesDir, table, tableName } = options;
  const feature = options.feature ?? DEFAULT_FRAME_FEATURE;
  if (!existsSync(framesDir) || !statSync(framesDir).isDirectory()) {
    throw new SpotmlError('NOT_FOUND', `--frames ${framesDir} is not a folder; run spotml extract --frames ${framesDir} on the audio ${tableName} was made from`, {
      framesDir,
    });
  }
  const pathAt = table.names.indexOf('path');
  if (pathAt < 0) {
    throw new SpotmlError('INVALID_INPUT', `${tableName} has no path column to match frames by; use the table spotml extract --frames wrote`, { table: tableName });
  }
  const paths = Array.from(table.columns[pathAt] as ArrayLike<string | number>, String);
  const segmentAt = table.names.indexOf('segment');
  const segments = segmentAt >= 0 ? Array.from(table.columns[segmentAt] as ArrayLike<string | number>, (v) => Number(v)) : null;
  const matrices = await Promise.all(
    paths.map(async (path, i) => {
      const file = join(framesFolder(framesDir, path, segments?.[i] ?? null), `${feature}.npy`);
      if (!existsSync(file)) {
        throw new SpotmlError('NOT_FOUND', `no frames for ${path} (row ${i + 1} of ${tableName}): ${file} is missing; run spotml extract --frames ${framesDir} on it`, {
          file,
          row: i + 1,
        });
      }
      return readNpy(file);
    }),
  );
  if (matrices.length === 0) throw new SpotmlError('INVALID_INPUT', `${tableName} has no rows to load frames for`, { table: tableName });
  const bands = matrices[0].rows;
  const mismatch = matrices.findIndex((m) => m.rows !== bands);
  if (mismatch >= 0) {
    throw new SpotmlError('INVALID_INPUT', `${paths[mismatch]}: ${feature} has ${matrices[mismatch].rows} bands, others ${bands}; extract every clip with the same settings`, {});
  }
  if (options.bands !== undefined && bands !== options.bands) {
    throw new SpotmlError('FEATURE_SPEC_MISMATCH', `${framesDir}: ${feature} has ${bands} bands but the model takes ${options.bands}; extract the frames with the model's settings (its feature-spec.json)`, {
      expected: options.bands,
      actual: bands,
    });
  }
  const frames = options.frames ?? Math.max(...matrices.map((m) => m.cols));
  const data = new Float64Array(matrices.length * bands * frames);
  matrices.forEach((m, i) => fitFrames(m, frames, data, i * bands * frames));
  return { X: createMatrix(matrices.length, bands * frames, data), bands, frames };
}

/** The specHash `extract --frames` recorded in `<framesDir>/index.json`, or null without one. */
export async function framesSpecHash(framesDir: string): Promise<string | null> {
  const file = join(framesDir, 'index.json');
  if (!existsSync(file)) return null;
  try {
    const index = JSON.parse(await readFile(file, 'utf8')) as { specHash?: unknown };
    return typeof index.specHash === 'string' ? index.specHash : null;
  } catch {
    return null;
  }
}
