/**
 * A table written row by row, in memory bounded by one chunk (CSV, JSONL) or one row group (Parquet)
 * rather than by the number of rows: `extract` appends each file's rows as it finishes.
 *
 * The output is the same as `writeTable` on the whole table: byte for byte for CSV and JSONL (same
 * header, cell text and line layout), value for value for Parquet (same schema and types; only the row
 * groups after the first are smaller, see `parquetGroupRows`).
 *
 * Atomic as `writeTable` is: rows go to a hidden temp file beside the output (`streamTempPath`), renamed
 * over the target by `commit()`; `abort()` deletes it. A process that exits mid-run (process.exit, e.g.
 * after Ctrl-C) deletes its temp file on the way out; one killed outright (kill -9) cannot, so `open`
 * sweeps the temp files of the same output left by processes of this machine that no longer run (the name
 * carries a tag of the host, so a run on another machine sharing the folder is never taken for dead).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SpotmlError } from '../errors.js';
import type { TableFormat } from './table.js';
import { csvField, csvNumber, finiteNumber, outputError } from './writers.js';

export interface StreamColumn {
  name: string;
  /** 'number' columns take numbers (NaN = missing), 'text' columns strings. */
  kind: 'number' | 'text';
}

/** One row: a number or a string per column, in column order. */
export type TableCell = number | string;

export interface TableStreamOptions {
  /** Bytes of buffered column values per Parquet row group (default 16 MiB): bounds memory, see `parquetGroupRows`. */
  parquetGroupBytes?: number;
}

/** Characters of CSV/JSONL text buffered before a write. */
const CHUNK_CHARS = 1 << 20;
/** hyparquet-writer's default first row group (1,000 rows, for fast previews); kept so small tables are byte-identical. */
const FIRST_GROUP_ROWS = 1000;
/** hyparquet-writer's default size of the later groups: the most rows a group holds here. */
const MAX_GROUP_ROWS = 100_000;
const DEFAULT_GROUP_BYTES = 16 << 20;
/** Bytes the Parquet writer buffers before handing them to the file. */
const PARQUET_FLUSH_BYTES = 1 << 20;

/**
 * Rows per Parquet row group after the first: as many as `groupBytes` of doubles hold (400 feature
 * columns: about 5,000 rows), between 1,000 and hyparquet-writer's default 100,000. A group is encoded
 * whole, so this is what the writer keeps in memory.
 */
export function parquetGroupRows(columns: readonly StreamColumn[], groupBytes = DEFAULT_GROUP_BYTES): number {
  const numeric = columns.filter((c) => c.kind === 'number').length;
  // Text cells (paths, labels) are references to strings the caller already holds: count them as 8 bytes too.
  const rowBytes = 8 * Math.max(1, numeric + (columns.length - numeric));
  return Math.max(FIRST_GROUP_ROWS, Math.min(MAX_GROUP_ROWS, Math.floor(groupBytes / rowBytes)));
}

interface RowEncoder {
  append(row: readonly TableCell[]): void;
  /** Hands what is buffered to the file when it is worth a write (or always, with `force`). */
  drain(force: boolean): Promise<void>;
  /** Writes whatever remains, the Parquet footer included. */
  end(): Promise<void>;
}

export class TableStreamWriter {
  private finished = false;
  private rowCount = 0;

  private constructor(
    readonly path: string,
    readonly format: TableFormat,
    readonly columns: readonly StreamColumn[],
    private readonly temp: string,
    private handle: FileHandle | undefined,
    private readonly encoder: RowEncoder,
  ) {}

  /** Creates the temp file (and the output's folder); the header is written at once. */
  static async open(path: string, format: TableFormat, columns: readonly StreamColumn[], options: TableStreamOptions = {}): Promise<TableStreamWriter> {
    checkColumns(columns);
    const dir = dirname(path);
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw outputError(path, err);
    }
    sweepStaleTemps(path);
    const temp = streamTempPath(path);
    let handle: FileHandle;
    try {
      handle = await open(temp, 'w');
    } catch (err) {
      throw outputError(path, err);
    }
    liveTemps.add(temp);
    ensureExitCleanup();
    try {
      const encoder =
        format === 'csv' ? new TextRowEncoder(handle, columns, csvHeader, csvLine) : format === 'jsonl' ? new TextRowEncoder(handle, columns, () => '', jsonlLine(columns)) : await ParquetEncoder.create(handle, columns, options);
      return new TableStreamWriter(path, format, columns, temp, handle, encoder);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await removeTemp(temp);
      throw outputError(path, err);
    }
  }

  get rows(): number {
    return this.rowCount;
  }

  /** Appends rows (each a cell per column; the arrays may be reused once this returns). */
  async append(rows: readonly (readonly TableCell[])[]): Promise<void> {
    if (this.finished) throw new SpotmlError('INTERNAL', `table ${this.path} is already committed or aborted`);
    for (const row of rows) {
      if (row.length !== this.columns.length) {
        throw new SpotmlError('INTERNAL', `a row of ${row.length} cells for a table of ${this.columns.length} columns (${this.path})`);
      }
      this.encoder.append(row);
      this.rowCount++;
    }
    try {
      await this.encoder.drain(false);
    } catch (err) {
      throw outputError(this.path, err);
    }
  }

  /** Writes the rest, flushes it to disk and renames the temp file over the output. */
  async commit(): Promise<void> {
    if (this.finished) throw new SpotmlError('INTERNAL', `table ${this.path} is already committed or aborted`);
    this.finished = true;
    const handle = this.handle as FileHandle;
    try {
      await this.encoder.end();
      await handle.sync();
      await handle.close();
      this.handle = undefined;
      await rename(this.temp, this.path);
      liveTemps.delete(this.temp);
    } catch (err) {
      if (this.handle) await this.handle.close().catch(() => undefined);
      this.handle = undefined;
      await removeTemp(this.temp);
      throw outputError(this.path, err);
    }
  }

  /** Drops the table: the temp file is deleted, the output left as it was. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.finished && this.handle === undefined) return;
    this.finished = true;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await removeTemp(this.temp);
  }
}

function checkColumns(columns: readonly StreamColumn[]): void {
  const seen = new Set<string>();
  for (const { name } of columns) {
    if (seen.has(name)) throw new SpotmlError('INVALID_INPUT', `table has two columns named "${name}": column names must be unique`, { column: name });
    seen.add(name);
  }
}

// ---------------------------------------------------------------- temp files

/** Temp files of tables not yet committed or aborted, deleted if the process exits first. */
const liveTemps = new Set<string>();
let exitCleanupInstalled = false;

function ensureExitCleanup(): void {
  if (exitCleanupInstalled) return;
  exitCleanupInstalled = true;
  // 'exit' handlers must be synchronous: process.exit() (the CLI's Ctrl-C path) runs them and nothing after.
  process.on('exit', () => {
    for (const temp of liveTemps) {
      try {
        unlinkSync(temp);
      } catch {
        // Already gone: nothing to clean.
      }
    }
    liveTemps.clear();
  });
}

async function removeTemp(temp: string): Promise<void> {
  liveTemps.delete(temp);
  await unlink(temp).catch(() => undefined);
}

/** This machine's tag in temp names: a pid means something only on the host that made it. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** `.<name>.<host tag>-<pid>.<hex>.tmp` beside `path`. */
function streamTempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${HOST_TAG}-${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Deletes this machine's `.<name>.<host tag>-<pid>.<hex>.tmp` files beside `path` whose process is gone (a kill -9 cannot clean up). */
function sweepStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^([0-9a-f]{8})-(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!match || match[1] !== HOST_TAG) continue;
    const pid = Number(match[2]);
    if (pid === process.pid || processRuns(pid)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // Another run swept it first, or the folder is read-only: either way not this run's problem.
    }
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as { code?: unknown }).code === 'EPERM';
  }
}

// ---------------------------------------------------------------- CSV and JSONL

function csvHeader(columns: readonly StreamColumn[]): string {
  return `${columns.map((c) => csvField(c.name)).join(',')}\n`;
}

function csvLine(row: readonly TableCell[]): string {
  let line = '';
  for (let c = 0; c < row.length; c++) {
    const cell = row[c];
    if (c > 0) line += ',';
    line += typeof cell === 'number' ? csvNumber(cell) : csvField(cell);
  }
  return `${line}\n`;
}

function jsonlLine(columns: readonly StreamColumn[]): (row: readonly TableCell[]) => string {
  const keys = columns.map((c) => JSON.stringify(c.name));
  return (row) => {
    let line = '{';
    for (let c = 0; c < row.length; c++) {
      const cell = row[c];
      if (c > 0) line += ',';
      line += `${keys[c]}:${typeof cell === 'number' ? (Number.isFinite(cell) ? finiteNumber(cell) : 'null') : JSON.stringify(cell)}`;
    }
    return `${line}}\n`;
  };
}

class TextRowEncoder implements RowEncoder {
  private buffer: string;

  constructor(
    private readonly handle: FileHandle,
    private readonly columns: readonly StreamColumn[],
    header: (columns: readonly StreamColumn[]) => string,
    private readonly line: (row: readonly TableCell[]) => string,
  ) {
    this.buffer = header(columns);
  }

  append(row: readonly TableCell[]): void {
    for (let c = 0; c < row.length; c++) checkCell(row[c], this.columns[c]);
    this.buffer += this.line(row);
  }

  async drain(force: boolean): Promise<void> {
    if (this.buffer.length === 0 || (!force && this.buffer.length < CHUNK_CHARS)) return;
    const text = this.buffer;
    this.buffer = '';
    await this.handle.write(text, null, 'utf8');
  }

  end(): Promise<void> {
    return this.drain(true);
  }
}

function checkCell(cell: TableCell, column: StreamColumn): void {
  if ((typeof cell === 'number') !== (column.kind === 'number')) {
    throw new SpotmlError('INTERNAL', `column "${column.name}" holds ${column.kind === 'number' ? 'numbers' : 'text'}, got ${JSON.stringify(cell)}`);
  }
}

// ---------------------------------------------------------------- Parquet

type HyparquetWriter = typeof import('hyparquet-writer');
type ParquetColumnSource = Parameters<HyparquetWriter['schemaFromColumnData']>[0]['columnData'][number];

/**
 * Row groups through hyparquet-writer's ParquetWriter, which writes a group at a time: rows are kept as
 * columns (a Float64Array per numeric column) until a group is full, then encoded and written.
 */
class ParquetEncoder implements RowEncoder {
  private readonly numeric: (Float64Array | null)[];
  private readonly text: (string[] | null)[];
  private filled = 0;
  private groups = 0;

  private constructor(
    private readonly columns: readonly StreamColumn[],
    private readonly writer: InstanceType<HyparquetWriter['ParquetWriter']>,
    private readonly file: FileSink,
    private readonly laterGroupRows: number,
  ) {
    const capacity = Math.max(FIRST_GROUP_ROWS, laterGroupRows);
    this.numeric = columns.map((c) => (c.kind === 'number' ? new Float64Array(capacity) : null));
    this.text = columns.map((c) => (c.kind === 'text' ? new Array<string>(capacity) : null));
  }

  static async create(handle: FileHandle, columns: readonly StreamColumn[], options: TableStreamOptions): Promise<ParquetEncoder> {
    const hyparquet = await import('hyparquet-writer');
    // The schema writeTable's parquetWriteBuffer infers for the same columns: DOUBLE / STRING, required.
    const schema = hyparquet.schemaFromColumnData({ columnData: columns.map((c) => columnSource(c, c.kind === 'number' ? new Float64Array(0) : [])) });
    const file = new FileSink(hyparquet, handle.fd);
    const writer = new hyparquet.ParquetWriter({ writer: file.writer, schema, createdBy: 'spotml' });
    return new ParquetEncoder(columns, writer, file, parquetGroupRows(columns, options.parquetGroupBytes));
  }

  private get groupRows(): number {
    return this.groups === 0 ? FIRST_GROUP_ROWS : this.laterGroupRows;
  }

  append(row: readonly TableCell[]): void {
    for (let c = 0; c < row.length; c++) {
      const cell = row[c];
      checkCell(cell, this.columns[c]);
      const numbers = this.numeric[c];
      if (numbers) numbers[this.filled] = cell as number;
      else (this.text[c] as string[])[this.filled] = cell as string;
    }
    this.filled++;
    // A full group is encoded at once (synchronously): the buffers are then free for the next rows.
    if (this.filled === this.groupRows) this.writeGroup();
  }

  async drain(): Promise<void> {
    await this.file.flush();
  }

  async end(): Promise<void> {
    if (this.filled > 0) this.writeGroup();
    await this.writer.finish();
    await this.file.flush();
  }

  private writeGroup(): void {
    const rows = this.filled;
    const columnData = this.columns.map((c, i) => columnSource(c, this.numeric[i]?.subarray(0, rows) ?? (this.text[i] as string[]).slice(0, rows)));
    // One group of `rows` rows; the writer's flush hook is synchronous, so this returns no promise.
    void this.writer.write({ columnData, rowGroupSize: rows });
    this.groups++;
    this.filled = 0;
    for (const strings of this.text) strings?.fill('');
  }
}

function columnSource(column: StreamColumn, data: Float64Array | string[]): ParquetColumnSource {
  return column.kind === 'number' ? { name: column.name, data, type: 'DOUBLE', nullable: false } : { name: column.name, data, type: 'STRING', nullable: false };
}

/**
 * hyparquet-writer's ByteWriter, emptied into the file every PARQUET_FLUSH_BYTES (synchronously: the
 * writer calls `ensure` mid-encoding and cannot wait), so a row group never sits whole in memory twice.
 */
class FileSink {
  readonly writer: InstanceType<HyparquetWriter['ByteWriter']>;

  constructor(
    hyparquet: HyparquetWriter,
    private readonly fd: number,
  ) {
    const writer = new hyparquet.ByteWriter(PARQUET_FLUSH_BYTES * 2);
    const grow = writer.ensure.bind(writer);
    writer.ensure = (size: number): void => {
      if (writer.index > 0 && writer.index + size > PARQUET_FLUSH_BYTES) this.flushSync();
      grow(size);
    };
    writer.finish = () => this.flushSync();
    this.writer = writer;
  }

  /** Everything buffered so far goes to the file. */
  flush(): Promise<void> {
    this.flushSync();
    return Promise.resolve();
  }

  private flushSync(): void {
    const { writer } = this;
    let written = 0;
    while (written < writer.index) written += writeSync(this.fd, new Uint8Array(writer.buffer, written, writer.index - written));
    writer.index = 0;
  }
}
