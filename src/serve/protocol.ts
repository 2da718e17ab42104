/**
 * MLflow's scoring protocol (docs/mlflow.md §6) turned into one feature Matrix in the model's column order.
 *
 * JSON bodies carry exactly one of `dataframe_split`, `dataframe_records`, `instances`, `inputs`; other top-level
 * keys (MLflow 2.x's `params`) are ignored, as MLflow ignores them for models without a params schema. CSV bodies
 * are a header row plus data rows. Columns are matched by name; columns the model does not use are ignored (as
 * MLflow's schema enforcement does), a missing one is an error naming it. Positional forms (rows as arrays,
 * tensors, a split without `columns`) must have exactly the model's feature count (MLflow refuses these for a
 * named signature; spotml takes them in model order). Values must be finite numbers (numbers written as text,
 * "1.5", are read as MLflow casts them to the double schema); `null` (JSON) or an empty
 * cell (CSV) is a missing value (NaN), which the model's own pipeline imputes. So is the bare `NaN` that Python's
 * json.dumps writes (MLflow's own client sends `json.dumps({"dataframe_split": df.to_dict(orient="split")})`),
 * and, as pandas builds a frame from `dataframe_records`, a key one record leaves out that others have. Every
 * failure is a SpotmlError('INVALID_INPUT') whose message names the field, the row and the column, and whose
 * details carry them for clients.
 *
 * A model that reads frame-level input (src/learners/dl/frame-input.ts) takes its summary feature columns followed by
 * one n_bands × frames patch, band-major. Its schema names the patch columns `<feature>[<band>][<frame>]` (0-based,
 * e.g. `melspectrogram_db[3][17]`; no comma, so CSV headers need no quoting), so every form above works for it;
 * positional rows are simply the full width: summary values, then the flattened patch.
 *
 * Parsing touches each value once and writes straight into the matrix's Float64Array: no per-row arrays.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import type { FrameInput } from '../learners/dl/frame-input.js';

export const INPUT_FIELDS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;
export type InputField = (typeof INPUT_FIELDS)[number];

/** What parsing needs to know about the model. */
export interface InputSchema {
  /** Every input column in model order: the summary features, then (frame models) the patch columns. */
  readonly featureNames: readonly string[];
  /** feature name → column index in the model's matrix. */
  readonly featureIndex: ReadonlyMap<string, number>;
  /** How many leading columns are summary features (all of them unless the model reads frames). */
  readonly summaryFeatures: number;
  /** The patch after the summary columns, for frame models; null otherwise. */
  readonly frameInput: FrameInput | null;
}

/** The name of one patch column: `<feature>[<band>][<frame>]`, 0-based. */
export function patchColumnName(feature: string, band: number, frame: number): string {
  return `${feature}[${band}][${frame}]`;
}

export function inputSchema(summaryNames: readonly string[], frameInput: FrameInput | null = null): InputSchema {
  const featureNames = [...summaryNames];
  if (frameInput) {
    for (let b = 0; b < frameInput.n_bands; b++) for (let t = 0; t < frameInput.frames; t++) featureNames.push(patchColumnName(frameInput.feature, b, t));
  }
  return { featureNames, featureIndex: new Map(featureNames.map((name, i) => [name, i])), summaryFeatures: summaryNames.length, frameInput };
}

/** "the model takes …" for messages: the feature count, or for frame models what the row is made of. */
function describeInput(schema: InputSchema): string {
  const width = schema.featureNames.length;
  const frames = schema.frameInput;
  if (!frames) return `${width} features (${previewNames(schema.featureNames)})`;
  const summary = schema.summaryFeatures;
  const leading = summary > 0 ? `${summary} summary feature${summary === 1 ? '' : 's'} (${previewNames(schema.featureNames.slice(0, summary))}) then ` : '';
  return `${width} values: ${leading}a ${frames.n_bands} × ${frames.frames} ${frames.feature} patch, band-major`;
}

/** The fix for a frame model's missing patch columns. */
function patchHint(schema: InputSchema): string {
  const frames = schema.frameInput;
  if (!frames) return '';
  return `; patch columns are named ${patchColumnName(frames.feature, 0, 0)} … ${patchColumnName(frames.feature, frames.n_bands - 1, frames.frames - 1)} ([band][frame]), or send rows as arrays in "instances", or the WAV to /predict/audio`;
}

export interface ParseLimits {
  /** Most rows one request may carry. */
  readonly maxRows: number;
}

export interface ParsedInput {
  readonly matrix: Matrix;
  readonly format: InputField | 'csv';
}

function bad(message: string, details: Record<string, unknown> = {}): SpotmlError {
  return new SpotmlError('INVALID_INPUT', message, details);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `a string ("${value.length > 20 ? `${value.slice(0, 20)}…` : value}")`;
  return `a ${typeof value}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Writes one JSON cell: finite number, or null for missing. */
function cell(value: unknown, field: string, row: number, column: string): number {
  if (typeof value === 'number') {
    // JSON.parse turns 1e999 into Infinity, and Python's `Infinity` token arrives as ±1e999 (pythonJson): not a feature value.
    if (value === value && value !== Infinity && value !== -Infinity) return value;
    throw bad(`${field}: row ${row}, column "${column}": the number is infinite or out of range; send a finite number, or null for a missing value`, { field, row, column });
  }
  if (value === null) return Number.NaN;
  if (typeof value === 'string') {
    // Numbers sent as text ("1.5", what a client reading CSV without types sends): MLflow casts them to the
    // schema's double (pandas astype(float64)), so they are read as numbers here too; "nan" is missing.
    const number = numberFromText(value);
    if (number !== undefined) return Number.isNaN(number) ? number : cell(number, field, row, column);
  }
  throw bad(`${field}: row ${row}, column "${column}": expected a number or null, got ${typeName(value)}`, { field, row, column });
}

const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** The number a cell's text spells as Python's float() reads it (decimal, nan, inf), or undefined. */
function numberFromText(text: string): number | undefined {
  const trimmed = text.trim();
  if (DECIMAL_TEXT.test(trimmed)) return Number(trimmed);
  const word = trimmed.toLowerCase().replace(/^[+-]/, '');
  if (word === 'nan') return Number.NaN;
  if (word === 'inf' || word === 'infinity') return trimmed.startsWith('-') ? -Infinity : Infinity;
  return undefined;
}

function checkRowCount(rows: number, limits: ParseLimits, field: string): void {
  if (rows === 0) throw bad(`${field}: no rows to predict; send at least one row`, { field });
  if (rows > limits.maxRows) {
    throw bad(`${field}: ${rows} rows is more than this server accepts per request (${limits.maxRows}); split the batch`, {
      field,
      rows,
      maxRows: limits.maxRows,
    });
  }
}

/**
 * Maps request column names onto model columns: result[j] = the request column holding feature j.
 * Unknown columns are ignored; a missing or repeated feature column is an error naming it.
 */
function columnMap(columns: readonly unknown[], schema: InputSchema, field: string): Int32Array {
  const map = new Int32Array(schema.featureNames.length).fill(-1);
  for (let c = 0; c < columns.length; c++) {
    const name = columns[c];
    if (typeof name !== 'string') throw bad(`${field}.columns[${c}] must be a string column name, got ${typeName(name)}`, { field });
    const j = schema.featureIndex.get(name);
    if (j === undefined) continue;
    if (map[j] !== -1) throw bad(`${field}.columns names "${name}" twice`, { field, column: name });
    map[j] = c;
  }
  checkMapComplete(map, schema, field);
  return map;
}

function checkMapComplete(map: Int32Array, schema: InputSchema, field: string): void {
  for (let j = 0; j < map.length; j++) {
    if (map[j] === -1) {
      const missing = schema.featureNames.filter((_, k) => map[k] === -1);
      throw bad(
        `${field}: missing feature column "${schema.featureNames[j]}"${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}; the model needs ${schema.featureNames.length} columns${patchHint(schema)}`,
        { field, missing: missing.slice(0, 20) },
      );
    }
  }
}

function positionalWidth(width: number, schema: InputSchema, field: string, row: number): void {
  if (width !== schema.featureNames.length) {
    throw bad(`${field}: row ${row} has ${width} values; the model takes ${describeInput(schema)}`, {
      field,
      row,
      expected: schema.featureNames.length,
      actual: width,
    });
  }
}

function previewNames(names: readonly string[]): string {
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')}, … ${names[names.length - 1]}`;
}

/** Rows given as arrays: positional (map null) or through a column map. */
function fromArrayRows(rows: readonly unknown[], schema: InputSchema, field: string, map: Int32Array | null): Matrix {
  const p = schema.featureNames.length;
  const data = new Float64Array(rows.length * p);
  const names = schema.featureNames;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!Array.isArray(r)) throw bad(`${field}: row ${i} must be an array of values, got ${typeName(r)}`, { field, row: i });
    const o = i * p;
    if (map === null) {
      positionalWidth(r.length, schema, field, i);
      for (let j = 0; j < p; j++) data[o + j] = cell(r[j], field, i, names[j]);
    } else {
      for (let j = 0; j < p; j++) {
        const c = map[j];
        if (c >= r.length) throw bad(`${field}: row ${i} has ${r.length} values but the columns list more`, { field, row: i });
        data[o + j] = cell(r[c], field, i, names[j]);
      }
    }
  }
  return createMatrix(rows.length, p, data);
}

/**
 * Rows given as {column: value} objects. With `absentIsMissing` (dataframe_records, `inputs` as records) a key one
 * record leaves out is a missing value, as in the DataFrame pandas builds from the records for MLflow; a feature no
 * record has is still an error. Without it (`instances`, whose records MLflow turns into columns that must be
 * equally long) every record needs every feature.
 */
function fromRecordRows(rows: readonly unknown[], schema: InputSchema, field: string, absentIsMissing: boolean): Matrix {
  const p = schema.featureNames.length;
  const names = schema.featureNames;
  const data = new Float64Array(rows.length * p);
  // seen[j] = 1 once some record has feature j (the answer to "is it missing everywhere?").
  const seen = absentIsMissing ? new Uint8Array(p) : null;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!isRecord(r)) throw bad(`${field}: row ${i} must be an object of column → value, got ${typeName(r)}`, { field, row: i });
    const o = i * p;
    for (let j = 0; j < p; j++) {
      const value = r[names[j]];
      if (value === undefined) {
        if (seen === null) throw bad(`${field}: row ${i} lacks feature "${names[j]}"${j >= schema.summaryFeatures ? patchHint(schema) : ''}`, { field, row: i, column: names[j] });
        data[o + j] = Number.NaN;
        continue;
      }
      if (seen !== null) seen[j] = 1;
      data[o + j] = cell(value, field, i, names[j]);
    }
  }
  if (seen !== null) checkMapComplete(Int32Array.from(seen, (s) => s - 1), schema, field);
  return createMatrix(rows.length, p, data);
}

const SPLIT_KEYS: ReadonlySet<string> = new Set(['columns', 'data', 'index']);

function parseSplit(value: unknown, schema: InputSchema, limits: ParseLimits): Matrix {
  const field = 'dataframe_split';
  if (!isRecord(value)) throw bad(`${field} must be an object {"columns": [...], "data": [[...]]}, got ${typeName(value)}`, { field });
  // As MLflow (proto_json_utils.dataframe_from_parsed_json): only pandas' split keys. A misspelt "columns" would
  // otherwise turn named rows into positional ones without a word.
  for (const key of Object.keys(value)) {
    if (!SPLIT_KEYS.has(key)) {
      throw bad(`${field} has an unknown key "${key.slice(0, 40)}"; it takes "data" and optionally "columns" and "index" (pandas' orient="split")`, { field, key: key.slice(0, 40) });
    }
  }
  const rows = value.data;
  if (!Array.isArray(rows)) throw bad(`${field}.data must be an array of rows, got ${typeName(rows)}`, { field: `${field}.data` });
  checkRowCount(rows.length, limits, field);
  const columns = value.columns;
  if (columns === undefined) return fromArrayRows(rows, schema, field, null);
  if (!Array.isArray(columns)) throw bad(`${field}.columns must be an array of column names, got ${typeName(columns)}`, { field: `${field}.columns` });
  const map = columnMap(columns, schema, field);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (Array.isArray(r) && r.length !== columns.length) {
      throw bad(`${field}: row ${i} has ${r.length} values for ${columns.length} columns`, { field, row: i });
    }
  }
  return fromArrayRows(rows, schema, field, map);
}

function parseRecords(value: unknown, schema: InputSchema, limits: ParseLimits): Matrix {
  const field = 'dataframe_records';
  if (!Array.isArray(value)) throw bad(`${field} must be an array of {column: value} objects, got ${typeName(value)}`, { field });
  checkRowCount(value.length, limits, field);
  return fromRecordRows(value, schema, field, true);
}

/** TF-serving row format: records, rows as arrays, or (one-feature models) bare scalars; `field` names it in errors. */
function parseInstances(value: unknown, schema: InputSchema, limits: ParseLimits, field: 'instances' | 'inputs' = 'instances'): Matrix {
  if (!Array.isArray(value)) throw bad(`${field} must be an array of rows, got ${typeName(value)}`, { field });
  checkRowCount(value.length, limits, field);
  const first = value[0];
  if (isRecord(first)) return fromRecordRows(value, schema, field, field === 'inputs');
  if (Array.isArray(first)) return fromArrayRows(value, schema, field, null);
  if (schema.featureNames.length === 1) return scalarColumn(value, schema, field);
  throw bad(`${field}: row 0 must be an array of values or an object of column → value, got ${typeName(first)}`, { field, row: 0 });
}

function scalarColumn(values: readonly unknown[], schema: InputSchema, field: string): Matrix {
  const data = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = cell(values[i], field, i, schema.featureNames[0]);
  return createMatrix(values.length, 1, data);
}

/** TF-serving columnar format: {name: [values…]}, or a tensor (array of rows). */
function parseInputs(value: unknown, schema: InputSchema, limits: ParseLimits): Matrix {
  const field = 'inputs';
  if (Array.isArray(value)) return parseInstances(value, schema, limits, field);
  if (!isRecord(value)) throw bad(`${field} must be an object of column → values or an array of rows, got ${typeName(value)}`, { field });
  const p = schema.featureNames.length;
  const names = schema.featureNames;
  let rows = -1;
  const columns: unknown[][] = new Array(p);
  for (let j = 0; j < p; j++) {
    const column = value[names[j]];
    if (column === undefined) {
      const missing = names.filter((n) => value[n] === undefined);
      throw bad(`${field}: missing feature column "${names[j]}"${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}${patchHint(schema)}`, {
        field,
        missing: missing.slice(0, 20),
      });
    }
    const list = Array.isArray(column) ? column : [column];
    if (rows === -1) {
      rows = list.length;
      checkRowCount(rows, limits, field);
    } else if (list.length !== rows) {
      throw bad(`${field}: column "${names[j]}" has ${list.length} values, column "${names[0]}" has ${rows}; columns must be equally long`, {
        field,
        column: names[j],
      });
    }
    columns[j] = list;
  }
  if (rows === -1) throw bad(`${field}: the model takes no features`, { field });
  const data = new Float64Array(rows * p);
  for (let j = 0; j < p; j++) {
    const list = columns[j];
    for (let i = 0; i < rows; i++) data[i * p + j] = cell(list[i], field, i, names[j]);
  }
  return createMatrix(rows, p, data);
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * `text` with Python's non-standard number words outside strings made JSON: `NaN` → null (a missing value, as
 * MLflow's NaN is), `Infinity` / `-Infinity` → ±1e999 (JSON.parse reads ±Infinity, which `cell` refuses by row
 * and column). Null when there are none, so the caller keeps the original syntax error.
 */
function pythonJson(text: string): string | null {
  if (!/NaN|Infinity/.test(text)) return null;
  let out = '';
  let from = 0;
  let changed = false;
  for (let k = 0; k < text.length; k++) {
    const ch = text.charCodeAt(k);
    if (ch === 0x22) {
      // Skip the string, escapes included.
      for (k++; k < text.length && text.charCodeAt(k) !== 0x22; k++) if (text.charCodeAt(k) === 0x5c) k++;
    } else if (ch === 0x4e && text.startsWith('NaN', k)) {
      out += `${text.slice(from, k)}null`;
      from = k + 3;
      k += 2;
      changed = true;
    } else if (ch === 0x49 && text.startsWith('Infinity', k)) {
      out += `${text.slice(from, k)}1e999`;
      from = k + 8;
      k += 7;
      changed = true;
    }
  }
  return changed ? out + text.slice(from) : null;
}

/** Parses a JSON scoring body (already checked to be application/json). */
export function parseJsonInput(text: string, schema: InputSchema, limits: ParseLimits): ParsedInput {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    // Python's json.dumps (MLflow's client, requests' json=) writes NaN and ±Infinity as bare words; MLflow's
    // json.loads reads them. Tried only once strict JSON failed, so ordinary bodies pay nothing.
    const relaxed = pythonJson(text);
    body = relaxed === null ? undefined : parseOrUndefined(relaxed);
    if (body === undefined) {
      const reason = err instanceof Error ? err.message.slice(0, 200) : 'parse error';
      throw bad(`the request body is not valid JSON (${reason})`, { field: 'body' });
    }
  }
  if (!isRecord(body)) {
    throw bad(`the request body must be a JSON object with exactly one of the input fields {${INPUT_FIELDS.join(', ')}}, got ${typeName(body)}`, {
      field: 'body',
    });
  }
  let format: InputField | undefined;
  let found = 0;
  for (const name of INPUT_FIELDS) {
    if (body[name] !== undefined) {
      format = name;
      found++;
    }
  }
  if (found !== 1 || format === undefined) {
    const keys = Object.keys(body).slice(0, 10);
    throw bad(
      `the request body must have exactly one of the input fields {${INPUT_FIELDS.join(', ')}}; it has ${found === 0 ? `none (keys: ${keys.join(', ') || 'none'})` : found}`,
      { field: 'body' },
    );
  }
  const value = body[format];
  switch (format) {
    case 'dataframe_split':
      return { matrix: parseSplit(value, schema, limits), format };
    case 'dataframe_records':
      return { matrix: parseRecords(value, schema, limits), format };
    case 'instances':
      return { matrix: parseInstances(value, schema, limits), format };
    case 'inputs':
      return { matrix: parseInputs(value, schema, limits), format };
  }
}

/** Splits one CSV line (RFC 4180 quotes: "" inside quotes is a quote). */
function splitCsvLine(line: string, lineNumber: number): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let k = 0; k < line.length; k++) {
    const ch = line[k];
    if (quoted) {
      if (ch === '"') {
        if (line[k + 1] === '"') {
          current += '"';
          k++;
        } else quoted = false;
      } else current += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(current);
      current = '';
    } else current += ch;
  }
  if (quoted) throw bad(`csv: line ${lineNumber} has an unclosed quote`, { field: 'csv', line: lineNumber });
  out.push(current);
  return out;
}

/**
 * Cells that are a missing value: pandas.read_csv's default na_values (what MLflow's parse_csv_input reads a CSV
 * body with), so `df.to_csv()` output and hand-written files mean the same here.
 */
const CSV_MISSING: ReadonlySet<string> = new Set(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null']);

/** Parses a text/csv body: a header row naming columns, then one row per line. */
export function parseCsvInput(text: string, schema: InputSchema, limits: ParseLimits): ParsedInput {
  const field = 'csv';
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw bad('csv: the body is empty; send a header row and data rows', { field });
  const header = splitCsvLine(lines[0], 1).map((name) => name.trim());
  const rows = lines.length - 1;
  checkRowCount(rows, limits, field);
  const map = columnMap(header, schema, field);
  const p = schema.featureNames.length;
  const names = schema.featureNames;
  const data = new Float64Array(rows * p);
  for (let i = 0; i < rows; i++) {
    const cells = splitCsvLine(lines[i + 1], i + 2);
    if (cells.length !== header.length) {
      throw bad(`csv: line ${i + 2} has ${cells.length} cells, the header ${header.length}`, { field, row: i, line: i + 2 });
    }
    for (let j = 0; j < p; j++) {
      const raw = cells[map[j]].trim();
      if (CSV_MISSING.has(raw)) {
        data[i * p + j] = Number.NaN;
        continue;
      }
      const value = Number(raw);
      if (!Number.isFinite(value)) {
        throw bad(`csv: row ${i}, column "${names[j]}": expected a finite number, got "${raw.slice(0, 20)}"`, { field, row: i, column: names[j] });
      }
      data[i * p + j] = value;
    }
  }
  return { matrix: createMatrix(rows, p, data), format: 'csv' };
}
