/**
 * Table writers for CSV, JSONL and Parquet, all atomic: the data goes to a temporary file in the same
 * folder, which is renamed over the target only when complete, so readers never see half a table.
 *
 * Missing values: CSV writes NaN as an empty cell (as pandas does) and ±Infinity as inf / -inf;
 * JSONL writes any non-finite number as null (JSON has no NaN); Parquet stores DOUBLEs as they are.
 * Numbers are written in their shortest round-trip form, so CSV and JSONL reload bit-identical.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SpotmlError } from '../errors.js';
import { formatFromPath, type Table, type TableFormat } from './table.js';

/** Writes a table to `path` in `format` (default: from the extension). Returns the format used. */
export async function writeTable(table: Table, path: string, format?: TableFormat): Promise<TableFormat> {
  const resolved = format ?? formatFromPath(path);
  switch (resolved) {
    case 'csv':
      await writeChunksAtomic(path, csvChunks(table));
      break;
    case 'jsonl':
      await writeChunksAtomic(path, jsonlChunks(table));
      break;
    case 'parquet':
      await writeFileAtomic(path, await parquetBytes(table));
      break;
  }
  return resolved;
}

/**
 * Writes bytes or text to `path` atomically (temp file in the same folder + rename). `durable: false`
 * skips the fsync: for caches, where a lost entry after a power cut is only a miss, not worth a disk flush each.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { durable?: boolean } = {}): Promise<void> {
  await writeChunksAtomic(path, [data], options.durable ?? true);
}

async function writeChunksAtomic(path: string, chunks: Iterable<string | Uint8Array>, durable = true): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw outputError(path, err);
  }
  const temp = tempPathFor(path);
  let handle;
  try {
    handle = await open(temp, 'w');
  } catch (err) {
    throw outputError(path, err);
  }
  try {
    for (const chunk of chunks) {
      if (typeof chunk === 'string') await handle.write(chunk, null, 'utf8');
      else await handle.write(chunk);
    }
    if (durable) await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw outputError(path, err);
  }
}

/** `.<name>.<pid>.<random>.tmp` beside `path`: same folder (so rename is atomic), hidden, and naming the process that owns it. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The one-line error for an output that cannot be written (a SpotmlError passes through). */
export function outputError(path: string, err: unknown): SpotmlError {
  if (err instanceof SpotmlError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SpotmlError('INVALID_INPUT', `cannot write ${path} (${message}): check the folder exists and is writable`, { file: path }, { cause: err });
}

// ---------------------------------------------------------------- CSV

const CHUNK_CHARS = 1 << 20;

/** A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvNumber(value: number): string {
  if (Number.isNaN(value)) return '';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  return finiteNumber(value);
}

/** Shortest round-trip text; String(-0) is "0", so the sign of zero is kept by hand. */
export function finiteNumber(value: number): string {
  return Object.is(value, -0) ? '-0' : String(value);
}

function* csvChunks(table: Table): Generator<string> {
  let buffer = `${table.names.map(csvField).join(',')}\n`;
  const cells = new Array<string>(table.columns.length);
  for (let r = 0; r < table.nRows; r++) {
    for (let c = 0; c < table.columns.length; c++) {
      const column = table.columns[c];
      cells[c] = column instanceof Float64Array ? csvNumber(column[r]) : csvField(column[r]);
    }
    buffer += `${cells.join(',')}\n`;
    if (buffer.length >= CHUNK_CHARS) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer.length > 0) yield buffer;
}

// ---------------------------------------------------------------- JSONL

function* jsonlChunks(table: Table): Generator<string> {
  const keys = table.names.map((name) => JSON.stringify(name));
  let buffer = '';
  for (let r = 0; r < table.nRows; r++) {
    const parts = table.columns.map((column, c) => {
      const value = column instanceof Float64Array ? (Number.isFinite(column[r]) ? finiteNumber(column[r]) : 'null') : JSON.stringify(column[r]);
      return `${keys[c]}:${value}`;
    });
    buffer += `{${parts.join(',')}}\n`;
    if (buffer.length >= CHUNK_CHARS) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer.length > 0) yield buffer;
}

// ---------------------------------------------------------------- Parquet

async function parquetBytes(table: Table): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const columnData = table.names.map((name, c) => {
    const column = table.columns[c];
    return column instanceof Float64Array
      ? { name, data: column, type: 'DOUBLE' as const, nullable: false }
      : { name, data: column, type: 'STRING' as const, nullable: false };
  });
  const buffer = parquetWriteBuffer({ columnData, createdBy: 'spotml' });
  return new Uint8Array(buffer);
}
