/**
 * The in-memory table that `extract` writes and `train` / `evaluate` read: named columns, each either
 * numeric (Float64Array, NaN = missing) or text (string[]). Column order is kept as written.
 *
 * Readers for the three formats `extract` writes (the writers live in `writers.ts`):
 * - CSV: RFC 4180 (quoted fields may hold commas, quotes as "" and newlines); a UTF-8 BOM is ignored.
 *   A column is numeric when every non-missing cell parses as a number; empty, NaN, nan, NA and null
 *   cells are missing. `inf`, `-inf` and `Infinity` read as infinities.
 * - JSONL: one JSON object per line; keys of the first row give the column order (later new keys are
 *   appended). null is missing. A column is numeric when every non-null value is a number.
 * - Parquet: DOUBLE/FLOAT/INT columns are numeric, everything else text (via hyparquet).
 * `stringColumns` forces columns to stay text (e.g. a label column whose classes look like "1", "2").
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { SpotmlError } from '../errors.js';

export type ColumnData = Float64Array | string[];

export interface Table {
  readonly names: readonly string[];
  readonly columns: readonly ColumnData[];
  readonly nRows: number;
}

export type TableFormat = 'csv' | 'parquet' | 'jsonl';
export const TABLE_FORMATS: readonly TableFormat[] = ['csv', 'parquet', 'jsonl'];

export interface ReadTableOptions {
  /** Format; by default from the extension (.csv, .parquet/.pq, .jsonl/.ndjson). */
  format?: TableFormat;
  /** Columns to keep as text even when every value looks numeric. */
  stringColumns?: readonly string[];
}

/** Builds a table, checking that names are unique and all columns have the same length. */
export function makeTable(names: readonly string[], columns: readonly ColumnData[]): Table {
  if (names.length !== columns.length) {
    throw new SpotmlError('INVALID_INPUT', `table has ${names.length} column names but ${columns.length} columns`);
  }
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new SpotmlError('INVALID_INPUT', `table has two columns named "${name}": column names must be unique`, { column: name });
    seen.add(name);
  }
  const nRows = columns.length > 0 ? columns[0].length : 0;
  columns.forEach((column, i) => {
    if (column.length !== nRows) {
      throw new SpotmlError('INVALID_INPUT', `column "${names[i]}" has ${column.length} values, expected ${nRows}`, { column: names[i] });
    }
  });
  return { names: [...names], columns: [...columns], nRows };
}

export function columnIndex(table: Table, name: string): number {
  const index = table.names.indexOf(name);
  if (index < 0) {
    throw new SpotmlError('INVALID_INPUT', `table has no column "${name}" (columns: ${previewNames(table.names)})`, { column: name });
  }
  return index;
}

export function numericColumn(table: Table, name: string): Float64Array {
  const column = table.columns[columnIndex(table, name)];
  if (!(column instanceof Float64Array)) {
    throw new SpotmlError('INVALID_INPUT', `column "${name}" holds text, expected numbers`, { column: name });
  }
  return column;
}

/** A column as text; numeric columns are rendered (NaN as ''), so label columns of any type work. */
export function stringColumn(table: Table, name: string): string[] {
  const column = table.columns[columnIndex(table, name)];
  return column instanceof Float64Array ? Array.from(column, (v) => (Number.isNaN(v) ? '' : String(v))) : column;
}

function previewNames(names: readonly string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')}, … (${names.length} in all)`;
}

/** The table format `explicit` names, or the one `path`'s extension says (`withFlag`: the caller takes --format). */
export function formatFromPath(path: string, explicit?: string, withFlag = explicit !== undefined): TableFormat {
  if (explicit !== undefined) {
    const lower = explicit.toLowerCase();
    if ((TABLE_FORMATS as readonly string[]).includes(lower)) return lower as TableFormat;
    throw new SpotmlError('USAGE', `--format must be one of ${TABLE_FORMATS.join(', ')}, got "${explicit}"`, { flag: '--format' });
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  const isFolder = existsSync(path) && statSync(path).isDirectory();
  const what = isFolder ? `${path} is a folder, not a table file` : `cannot tell the table format of ${path}`;
  throw new SpotmlError('USAGE', `${what}: use a .csv, .parquet or .jsonl name${withFlag ? ', or pass --format' : ''}`, {
    file: path,
    ...(withFlag ? { flag: '--format' } : {}),
  });
}

export async function readTable(path: string, options: ReadTableOptions = {}): Promise<Table> {
  const format = options.format ?? formatFromPath(path);
  const keepText = new Set(options.stringColumns ?? []);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT') throw new SpotmlError('NOT_FOUND', `table ${path} does not exist: check the path`, { file: path });
    throw new SpotmlError('INVALID_INPUT', `table ${path} cannot be read (${(err as Error).message})`, { file: path }, { cause: err });
  }
  const table = format === 'csv' ? parseCsvTable(bytes.toString('utf8'), keepText, path) : format === 'jsonl' ? parseJsonlTable(bytes.toString('utf8'), keepText, path) : await readParquetTable(bytes, keepText, path);
  // Every reader (train, tune, evaluate, promote --if-better) needs rows; say so before "no numeric columns" would.
  if (table.nRows === 0) throw new SpotmlError('INVALID_INPUT', `table ${path} has no rows (only a header): check that the file is complete`, { file: path });
  return table;
}

// ---------------------------------------------------------------- CSV

/** Splits CSV text into records of fields (RFC 4180). Exported for the label-file reader. */
export function parseCsvRecords(text: string, name = 'CSV'): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  let quoted = false;
  let fieldStarted = false;
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field.length === 0 && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
      i++;
    } else if (c === ',') {
      record.push(field);
      field = '';
      fieldStarted = false;
      i++;
    } else if (c === '\n' || c === '\r') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      fieldStarted = false;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  if (quoted) throw new SpotmlError('INVALID_INPUT', `${name}: a quoted field is never closed; check the quotes`, { file: name });
  if (field.length > 0 || fieldStarted || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  // Blank lines carry no record.
  return records.filter((r) => !(r.length === 1 && r[0] === ''));
}

const MISSING_TEXT = new Set(['', 'nan', 'na', 'null', 'none']);

/** A cell as a number, or undefined when it is not one. Missing cells are NaN. */
export function parseNumberCell(cell: string): number | undefined {
  const trimmed = cell.trim();
  const lower = trimmed.toLowerCase();
  if (MISSING_TEXT.has(lower)) return Number.NaN;
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') return Number.POSITIVE_INFINITY;
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  // Number('') and Number('0x1f') are too lenient for data files: insist on a decimal literal.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

function parseCsvTable(text: string, keepText: ReadonlySet<string>, path: string): Table {
  const records = parseCsvRecords(text, path);
  if (records.length === 0) throw new SpotmlError('INVALID_INPUT', `table ${path} is empty: expected a header row`, { file: path });
  const names = records[0];
  const body = records.slice(1);
  body.forEach((record, r) => {
    if (record.length !== names.length) {
      throw new SpotmlError('INVALID_INPUT', `table ${path}: row ${r + 2} has ${record.length} fields, the header has ${names.length}`, {
        file: path,
        row: r + 2,
      });
    }
  });
  const columns = names.map((name, c) => typedColumn(body.map((record) => record[c]), keepText.has(name)));
  return makeTable(names, columns);
}

function typedColumn(cells: readonly string[], forceText: boolean): ColumnData {
  if (!forceText) {
    const numbers = new Float64Array(cells.length);
    let numeric = true;
    for (let i = 0; i < cells.length; i++) {
      const value = parseNumberCell(cells[i]);
      if (value === undefined) {
        numeric = false;
        break;
      }
      numbers[i] = value;
    }
    // A column of only missing cells reads as numeric (all NaN); one with no rows at all stays text.
    if (numeric && cells.length > 0) return numbers;
  }
  return [...cells];
}

// ---------------------------------------------------------------- JSONL

function parseJsonlTable(text: string, keepText: ReadonlySet<string>, path: string): Table {
  const names: string[] = [];
  const known = new Set<string>();
  const rows: Record<string, unknown>[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new SpotmlError('INVALID_INPUT', `table ${path}: line ${i + 1} is not valid JSON (${(err as Error).message})`, { file: path, line: i + 1 });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new SpotmlError('INVALID_INPUT', `table ${path}: line ${i + 1} must be a JSON object`, { file: path, line: i + 1 });
    }
    const row = value as Record<string, unknown>;
    for (const key of Object.keys(row)) {
      if (!known.has(key)) {
        known.add(key);
        names.push(key);
      }
    }
    rows.push(row);
  });
  const columns = names.map((name): ColumnData => {
    const values = rows.map((row) => row[name]);
    const numeric = !keepText.has(name) && values.every((v) => v === null || v === undefined || typeof v === 'number');
    if (numeric) return Float64Array.from(values, (v) => (typeof v === 'number' ? v : Number.NaN));
    return values.map((v) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v)));
  });
  return makeTable(names, columns);
}

// ---------------------------------------------------------------- Parquet

async function readParquetTable(bytes: Buffer, keepText: ReadonlySet<string>, path: string): Promise<Table> {
  const { parquetMetadata, parquetSchema, parquetRead } = await import('hyparquet');
  const buffer = new Uint8Array(bytes).buffer;
  let names: string[];
  let numericByName: Map<string, boolean>;
  let rows: unknown[][] = [];
  try {
    const metadata = parquetMetadata(buffer);
    const schema = parquetSchema(metadata);
    names = schema.children.map((child) => child.element.name);
    numericByName = new Map(
      schema.children.map((child) => {
        const type = child.element.type;
        const isNumeric = type === 'DOUBLE' || type === 'FLOAT' || type === 'INT32' || type === 'INT64';
        return [child.element.name, isNumeric && !isTemporal(child.element.converted_type)];
      }),
    );
    await parquetRead({
      file: buffer,
      metadata,
      rowFormat: 'array',
      onComplete: (result: unknown[][]) => {
        rows = result;
      },
    });
  } catch (err) {
    if (err instanceof SpotmlError) throw err;
    throw new SpotmlError('INVALID_INPUT', `table ${path} is not a readable Parquet file (${(err as Error).message})`, { file: path }, { cause: err });
  }
  const columns = names.map((name, c): ColumnData => {
    if (numericByName.get(name) === true && !keepText.has(name)) {
      return Float64Array.from(rows, (row) => {
        const v = row[c];
        return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : Number.NaN;
      });
    }
    return rows.map((row) => {
      const v = row[c];
      return v === null || v === undefined ? '' : typeof v === 'string' ? v : String(v);
    });
  });
  return makeTable(names, columns);
}

function isTemporal(convertedType: string | undefined): boolean {
  return convertedType !== undefined && /DATE|TIME/.test(convertedType);
}
