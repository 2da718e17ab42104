/**
 * A fast path for the common /invocations JSON bodies: `{"dataframe_split": {"columns": [...], "data": [[...]]}}`
 * (or without "columns"; with an "index" anywhere, as pandas' to_json and to_dict(orient="split") write it, so
 * MLflow's own client stays on it), `{"instances": [[...]]}` and `{"inputs": [[...]]}`, rows of plain numbers or
 * null, with any other top-level keys (MLflow 2.x's "params") before or after.
 * JSON.parse builds a JS array per row and a heap number per value (≈2.5 ms for 1,000 rows × 20 features); here
 * the rows go straight from the body's bytes into float64 values (wasm/trees-json.ts, correctly rounded).
 *
 * It only takes bodies it can read exactly as protocol.ts's parseJsonInput would read them, to the same
 * Matrix, bit for bit; for anything else (other keys or shapes, escapes or non-ASCII in the structure, a value
 * that is not a finite number or null, numbers it cannot convert exactly, any error) it returns null and the
 * caller parses the body the general way, so every message and check stays the general parser's.
 */
import { createMatrix } from '../data/matrix.js';
import { wasmBase64 } from '../generated/wasm/trees-json.js';
import { instantiateKernel, type WasmKernelModule } from '../runtime/wasm.js';
import type { InputSchema, ParsedInput, ParseLimits } from './protocol.js';

interface JsonKernel {
  parseRows(src: number, tables: number, out: number, capacity: number, width: number): number;
  parsedEnd(): number;
}

/**
 * Bodies above this go to the general parser. Kernel memory (never shrunk) is reserved for a body and up to 4 bytes
 * of values per body byte, but only the pages a body and its values fill become resident: a 1,000-row batch of a
 * quickstart model (429 features, about 8 MB) adds about 11 MB, and parses here in a fraction of JSON.parse's time.
 */
export const FAST_JSON_MAX_BYTES = 32 * 1024 * 1024;
const TABLES_AT = 1024;
/** 23 exact powers of ten (float64), then 651 128-bit powers of five, then 10^0 … 10^24 as u64 (mod 2^64; digit groups), then 7 vector constants. */
const TABLE_BYTES = 23 * 8 + 651 * 16 + 25 * 8 + 7 * 16;
/** The body (then its values) after the tables. */
const BODY_AT = Math.ceil((TABLES_AT + TABLE_BYTES) / 4096) * 4096;

interface JsonKernelState {
  module: WasmKernelModule<JsonKernel>;
}

let state: JsonKernelState | null = null;

/**
 * 5^q for q = -342 … 308 as 128-bit words (high, low), normalized so the top bit is set: truncated for q ≥ 0;
 * for q < 0, ⌊2^b / 5^-q⌋ + 1 (rounded up, as Eisel–Lemire's error analysis assumes) truncated to 128 bits.
 */
function powersOfFive(): BigUint64Array {
  const words = new BigUint64Array(651 * 2);
  const mask64 = (1n << 64n) - 1n;
  const top = 1n << 128n;
  for (let q = -342; q <= 308; q++) {
    let value: bigint;
    if (q < 0) {
      const power = 5n ** BigInt(-q);
      const z = BigInt(power.toString(2).length);
      const b = q >= -27 ? z + 127n : 2n * z + 128n;
      value = (1n << b) / power + 1n;
      while (value >= top) value >>= 1n;
    } else {
      value = 5n ** BigInt(q);
      while (value < 1n << 127n) value <<= 1n;
      while (value >= top) value >>= 1n;
    }
    const i = 2 * (q + 342);
    words[i] = value >> 64n;
    words[i + 1] = value & mask64;
  }
  return words;
}

function kernel(): JsonKernelState {
  if (state === null) {
    const module = instantiateKernel<JsonKernel>('trees-json', wasmBase64);
    module.ensureBytes(BODY_AT);
    const f64 = module.f64();
    // Exact: every 10^k for k ≤ 22 is a float64, and Number() rounds correctly.
    for (let k = 0; k <= 22; k++) f64[(TABLES_AT >> 3) + k] = Number(`1e${k}`);
    new BigUint64Array(module.memory.buffer, TABLES_AT + 23 * 8, 651 * 2).set(powersOfFive());
    const integerPowers = new BigUint64Array(module.memory.buffer, TABLES_AT + 23 * 8 + 651 * 16, 25);
    for (let k = 0; k <= 24; k++) integerPowers[k] = BigInt.asUintN(64, 10n ** BigInt(k));
    const vectors = TABLES_AT + 23 * 8 + 651 * 16 + 25 * 8;
    const bytes = module.u8();
    for (let i = 0; i < 16; i++) {
      bytes[vectors + i] = i;
      bytes[vectors + 16 + i] = 0x30;
      bytes[vectors + 32 + i] = 9;
    }
    const words = new Int16Array(module.memory.buffer, vectors + 48, 32);
    for (let i = 0; i < 8; i++) {
      words[i] = 0xff;
      words[8 + i] = 10;
      words[16 + i] = i % 2 === 0 ? 100 : 1;
      words[24 + i] = i % 2 === 0 ? 10000 : 1;
    }
    state = { module };
  }
  return state;
}

const encoder = new TextEncoder();

/** The most values a body of `length` bytes can hold (each takes at least two bytes: a digit and a comma). */
function capacity(length: number): number {
  return (length >> 1) + 2;
}

/** Copies the body into kernel memory at BODY_AT with a zero byte after it; its length, or -1 (non-ASCII text). */
function loadBody(k: JsonKernelState, body: string | Uint8Array): number {
  const length = body.length;
  // The kernel reads up to 24 bytes past the zero byte that ends the body (whole digit groups).
  k.module.ensureBytes(BODY_AT + length + 8 + 8 * capacity(length) + 32);
  const bytes = k.module.u8();
  if (typeof body === 'string') {
    // Text that is not all ASCII would need more bytes than characters: leave it to the general parser.
    const { read, written } = encoder.encodeInto(body, bytes.subarray(BODY_AT, BODY_AT + length));
    if (read !== length || written !== length) return -1;
  } else bytes.set(body, BODY_AT);
  bytes[BODY_AT + length] = 0;
  return length;
}

// ---------------------------------------------------------------- the structure around the rows

const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

class Unusual extends Error {}

/** A cursor over the body's bytes in kernel memory; any surprise throws Unusual. */

class Cursor {
  constructor(
    private readonly bytes: Uint8Array,
    public at: number,
    private readonly end: number,
  ) {}

  skipSpace(): number {
    let c = this.bytes[this.at];
    while (c === SPACE || c === 0x0a || c === 0x0d || c === 0x09) c = this.bytes[++this.at];
    return this.at < this.end ? c : -1;
  }

  expect(char: number): void {
    if (this.skipSpace() !== char) throw new Unusual();
    this.at++;
  }

  /** The end of a string without escapes or non-ASCII starting at the cursor (anything else is Unusual). */
  private stringEnd(): number {
    this.expect(QUOTE);
    for (;;) {
      const c = this.bytes[this.at];
      if (this.at >= this.end || c < 0x20 || c > 0x7e || c === 0x5c) throw new Unusual();
      if (c === QUOTE) return this.at++;
      this.at++;
    }
  }

  /** A string without escapes or non-ASCII. */
  string(): string {
    const end = this.stringEnd();
    let start = end;
    while (this.bytes[start - 1] !== QUOTE) start--;
    return latin1(this.bytes, start, end);
  }

  /**
   * Moves past one JSON value of any kind (an index, params), checked by JSON.parse so a body the general parser
   * would refuse is never taken here; any doubt throws.
   */
  skipValue(): void {
    const start = this.skipSpace() === -1 ? this.end : this.at;
    let depth = 0;
    while (this.at < this.end) {
      const c = this.bytes[this.at];
      if (c === QUOTE) {
        for (this.at++; this.at < this.end && this.bytes[this.at] !== QUOTE; this.at++) if (this.bytes[this.at] === 0x5c) this.at++;
        if (this.at >= this.end) throw new Unusual();
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth === 0) break;
        depth--;
      } else if (depth === 0 && c === COMMA) break;
      this.at++;
      if (depth === 0 && (c === QUOTE || c === CLOSE_BRACE || c === CLOSE_BRACKET)) break;
    }
    if (depth !== 0 || this.at === start) throw new Unusual();
    JSON.parse(Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, this.at - start).toString('utf8'));
  }

  /** The span of the column names array (checked: strings without escapes or non-ASCII), moving past it. */
  namesSpan(): [number, number] {
    this.expect(OPEN_BRACKET);
    const start = this.at - 1;
    if (this.skipSpace() === CLOSE_BRACKET) return [start, ++this.at];
    for (;;) {
      this.stringEnd();
      const c = this.skipSpace();
      this.at++;
      if (c === CLOSE_BRACKET) return [start, this.at];
      if (c !== COMMA) throw new Unusual();
    }
  }
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** The last columns array seen per model schema (clients repeat it every request), with its column map. */
interface ColumnsCache {
  bytes: Uint8Array;
  map: Int32Array | null;
  width: number;
}

const columnsCache = new WeakMap<InputSchema, ColumnsCache>();

/** Width and column map for the names array at bytes[start, end): from the cache when the bytes repeat. */
function columnsAt(bytes: Uint8Array, start: number, end: number, schema: InputSchema): ColumnsCache {
  const cached = columnsCache.get(schema);
  if (cached !== undefined && cached.bytes.length === end - start) {
    let same = true;
    for (let i = 0; i < cached.bytes.length && same; i++) same = cached.bytes[i] === bytes[start + i];
    if (same) return cached;
  }
  const names = (JSON.parse(latin1(bytes, start, end)) as string[]);
  const entry = { bytes: bytes.slice(start, end), map: namedColumns(names, schema), width: names.length };
  columnsCache.set(schema, entry);
  return entry;
}

/** The rows array at the cursor, `width` values each; returns the row count and moves past the array. */
function rowsAt(k: JsonKernelState, cursor: Cursor, length: number, width: number): { rows: number; valuesAt: number } {
  const valuesAt = (BODY_AT + length + 1 + 7) & ~7;
  const rows = k.module.exports.parseRows(cursor.at, TABLES_AT, valuesAt, capacity(length), width);
  if (rows < 0) throw new Unusual();
  cursor.at = k.module.exports.parsedEnd();
  return { rows, valuesAt };
}

/** Model column j ← request column map[j], or null when the names do not cover the model exactly once each. */
function namedColumns(names: readonly string[], schema: InputSchema): Int32Array | null {
  const map = new Int32Array(schema.featureNames.length).fill(-1);
  for (let c = 0; c < names.length; c++) {
    const j = schema.featureIndex.get(names[c]);
    if (j === undefined) continue;
    if (map[j] !== -1) return null;
    map[j] = c;
  }
  return map.includes(-1) ? null : map;
}

/** The body as parseJsonInput would read it, or null: parse it with parseJsonInput. */
export function parseJsonFast(body: string | Uint8Array, schema: InputSchema, limits: ParseLimits): ParsedInput | null {
  if (body.length > FAST_JSON_MAX_BYTES || body.length < 2) return null;
  const k = kernel();
  const length = loadBody(k, body);
  if (length < 0) return null;
  const cursor = new Cursor(k.module.u8(), BODY_AT, BODY_AT + length);
  const p = schema.featureNames.length;
  try {
    let map: Int32Array | null = null;
    let width = p;
    let parsed: { rows: number; valuesAt: number } | null = null;
    let format: 'dataframe_split' | 'instances' | 'inputs' | null = null;
    cursor.expect(OPEN_BRACE);
    for (;;) {
      const key = cursor.string();
      cursor.expect(COLON);
      if (key === 'dataframe_split' || key === 'instances' || key === 'inputs') {
        if (format !== null) return null;
        format = key;
        if (key === 'dataframe_split') {
          // pandas' split keys in pandas' orders (to_json: columns, index, data; to_dict: index, columns, data).
          cursor.expect(OPEN_BRACE);
          let seenIndex = false;
          let seenColumns = false;
          for (;;) {
            const part = cursor.string();
            cursor.expect(COLON);
            if (part === 'index' && !seenIndex) {
              seenIndex = true;
              cursor.skipValue();
            } else if (part === 'columns' && !seenColumns && parsed === null) {
              seenColumns = true;
              const [start, end] = cursor.namesSpan();
              const columns = columnsAt(k.module.u8(), start, end, schema);
              if (columns.map === null) return null;
              map = columns.map;
              width = columns.width;
            } else if (part === 'data' && parsed === null) parsed = rowsAt(k, cursor, length, width);
            else return null;
            if (cursor.skipSpace() !== COMMA) break;
            cursor.at++;
          }
          cursor.expect(CLOSE_BRACE);
          if (parsed === null) return null;
        } else parsed = rowsAt(k, cursor, length, width);
      } else if (key === 'dataframe_records') return null;
      // Any other key (params, or one MLflow and the general parser ignore): its value only has to be JSON.
      else cursor.skipValue();
      if (cursor.skipSpace() !== COMMA) break;
      cursor.at++;
    }
    cursor.expect(CLOSE_BRACE);
    if (cursor.skipSpace() !== -1 || parsed === null || format === null) return null;
    const { rows, valuesAt } = parsed;
    if (rows > limits.maxRows) return null;
    const values = k.module.f64().subarray(valuesAt >> 3, (valuesAt >> 3) + rows * width);
    let identity = map === null || width === p;
    if (map !== null) for (let j = 0; j < p && identity; j++) identity = map[j] === j;
    let data: Float64Array;
    // One copy out of kernel memory (the caller owns the matrix; kernel memory is reused by the next body).
    if (identity) data = values.slice();
    else {
      data = new Float64Array(rows * p);
      if (map !== null) for (let r = 0; r < rows; r++) for (let j = 0; j < p; j++) data[r * p + j] = values[r * width + map[j]];
    }
    return { matrix: createMatrix(rows, p, data), format };
  } catch {
    // Unusual, or anything unforeseen: the general parser answers (and words any error) instead.
    return null;
  }
}
