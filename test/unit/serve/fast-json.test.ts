/**
 * The JSON fast path (src/serve/fast-json.ts, wasm/trees-json.ts) against the general parser and Number():
 *   - every number it converts is bit-identical to Number(token) (random doubles' shortest and long forms,
 *     random digit strings over the whole exponent range, rounding boundaries and ties), and it declines only
 *     what it documents (more than 19 significant digits, subnormal or infinite results);
 *   - for random bodies, valid and broken, it either declines (null) or gives exactly parseJsonInput's matrix.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonFast } from '../../../src/serve/fast-json.js';
import { inputSchema, parseJsonInput, type ParsedInput } from '../../../src/serve/protocol.js';
import { Rng } from '../../../src/learners/rng.js';

const LIMITS = { maxRows: 1000 };

function sameBits(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** The fast reading of one number, or null when the fast path declines it. */
function fastNumber(token: string): number | null {
  const parsed = parseJsonFast(`{"instances":[[${token}]]}`, inputSchema(['x']), LIMITS);
  return parsed === null ? null : parsed.matrix.data[0];
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

function randomDouble(rng: Rng): number {
  for (;;) {
    words[0] = rng.int(2 ** 32);
    words[1] = rng.int(2 ** 32);
    if (Number.isFinite(bits[0])) return bits[0];
  }
}

function digits(rng: Rng, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String(rng.int(10));
  return out;
}

/** A JSON number with random parts: sign, integer digits, fraction digits, exponent over the whole range. */
function randomToken(rng: Rng): string {
  const sign = rng.next() < 0.5 ? '-' : '';
  const intDigits = rng.int(21);
  const integer = intDigits === 0 ? '0' : String(1 + rng.int(9)) + digits(rng, intDigits - 1);
  const fraction = rng.next() < 0.7 ? `.${'0'.repeat(rng.next() < 0.3 ? rng.int(12) : 0)}${digits(rng, 1 + rng.int(19))}` : '';
  const exponent = rng.next() < 0.5 ? `${rng.next() < 0.5 ? 'e' : 'E'}${['', '+', '-'][rng.int(3)]}${rng.int(rng.next() < 0.2 ? 360 : 40)}` : '';
  return `${sign}${integer}${fraction}${exponent}`;
}

const MIN_NORMAL = 2.2250738585072014e-308;

/** Declines the fast path may make (documented): more than 19 significant digits, or a result that is not a normal double. */
function documentedDecline(token: string): boolean {
  const expected = Number(token);
  const digits = token.replace(/^-/, '').split(/[eE]/)[0].replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  // At or just below the smallest normal: a value that only rounds up to it is declined as subnormal.
  return digits.length > 19 || !Number.isFinite(expected) || Math.abs(expected) <= MIN_NORMAL;
}

/**
 * Checks every token against Number() bit for bit: in bodies of BATCH one-value rows (fast), and one by one
 * for any batch the fast path declines, to find which token it declined and why. Returns the count declined.
 */
function checkTokens(tokens: readonly string[]): { declined: number; undocumented: string[] } {
  const BATCH = 2000;
  const schema1 = inputSchema(['x']);
  let declined = 0;
  const undocumented: string[] = [];
  for (let start = 0; start < tokens.length; start += BATCH) {
    const batch = tokens.slice(start, start + BATCH);
    const parsed = parseJsonFast(`{"instances":[[${batch.join('],[')}]]}`, schema1, { maxRows: BATCH });
    if (parsed !== null) {
      const data = parsed.matrix.data;
      expect(data.length).toBe(batch.length);
      for (let i = 0; i < batch.length; i++) {
        if (!Object.is(data[i], Number(batch[i]))) expect.fail(`${batch[i]}: fast path gave ${data[i]}, Number() ${Number(batch[i])}`);
      }
      continue;
    }
    for (const token of batch) {
      const got = fastNumber(token);
      if (got === null) {
        declined++;
        if (!documentedDecline(token)) undocumented.push(token);
      } else if (!Object.is(got, Number(token))) expect.fail(`${token}: fast path gave ${got}, Number() ${Number(token)}`);
    }
  }
  return { declined, undocumented };
}

/** w as a decimal string with its point moved `shift` places left (shift may exceed its length: leading zeros). */
function placePoint(w: string, shift: number): string {
  if (shift <= 0) return w;
  const padded = w.padStart(shift + 1, '0');
  return `${padded.slice(0, padded.length - shift)}.${padded.slice(padded.length - shift)}`;
}

/** A random decimal mantissa of exactly `count` digits (first one non-zero). */
function mantissa(rng: Rng, count: number): string {
  return String(1 + rng.int(9)) + digits(rng, count - 1);
}

describe('numbers', () => {
  it('converts every accepted number exactly as Number(), declining only what it documents', () => {
    const rng = new Rng(5);
    const tokens: string[] = [
      '0', '-0', '0.0', '-0.0', '-0.0e5', '0e999', '-0e-999', '0.000', '-0.000000000000000000000000', '0E+3', '1', '-1', '0.1', '0.2', '0.3',
      '1e22', '1e23', '-1e22', '9007199254740992', '9007199254740993', '9007199254740994', '9007199254740995', '18014398509481985',
      '2.2250738585072014e-308', '2.2250738585072011e-308', '2.2250738585072009e-308', '2.225073858507201e-308', '-2.2250738585072014e-308',
      '1.7976931348623157e308', '1.7976931348623158e308', '1.7976931348623159e308', '-1.7976931348623157e+308', '1.8e308', '4.9e-324', '5e-324',
      '1e-400', '1e400', '1e308', '1e-307', '1e-308', '1e-309', '0.000000000000000000000000000001', '123456789012345678', '1234567890123456789',
      '12345678901234567890', '100000000000000000000', '1000000000000000000000000', '7.2057594037927933e16', '2.5', '3.5', '0.5e1',
      '1.00000000000000011102230246251565404236316680908203125', '9.5367431640625e-7', '1.4e-45', '0.30000000000000004', '-0.7314524180768497',
      '9999999999999999999', '99999999999999999999', '0.9999999999999999999', '1.0000000000000000000', '10.000000000000000000000',
    ];
    // 1. Shortest forms of random doubles over the whole range, and other precisions of the same.
    for (let i = 0; i < 25000; i++) {
      const v = randomDouble(rng);
      tokens.push(JSON.stringify(v), v.toPrecision(1 + rng.int(21)).replace(/\+/, ''), v.toExponential(rng.int(21)));
    }
    // 2. Feature-like values as JSON.stringify writes them (mostly 16–17 significant digits, as the serve bench's).
    for (let i = 0; i < 40000; i++) {
      const v = rng.normal() * 10 ** (rng.int(9) - 4) + (rng.next() < 0.3 ? rng.int(5) * 1.5 : 0);
      tokens.push(JSON.stringify(v));
      if (i % 4 === 0) tokens.push(v.toFixed(rng.int(20)));
    }
    // 3. 15–19-digit mantissas with exponents across the whole range, the point anywhere (or nowhere).
    for (let i = 0; i < 50000; i++) {
      const w = mantissa(rng, 15 + rng.int(5));
      const sign = rng.next() < 0.5 ? '-' : '';
      const e = rng.int(700) - 360;
      const form = rng.int(3);
      tokens.push(form === 0 ? `${sign}${w}e${e}` : form === 1 ? `${sign}${placePoint(w, rng.int(w.length + 3))}E${e >= 0 ? '+' : ''}${e}` : `${sign}${placePoint(w, rng.int(w.length + 8))}`);
    }
    // 4. Exact ties between adjacent doubles with ≤ 19 digits (M·2^e + 2^(e-1) for 2^52 ≤ M < 2^53, e from -3 to
    // 10: they round to even), the decimal one unit either side, and the same written with an exponent.
    for (let i = 0; i < 8000; i++) {
      const m = (1n << 52n) + BigInt(rng.int(2 ** 26)) * (1n << 26n) + BigInt(rng.int(2 ** 26));
      const e = rng.int(14) - 3;
      const twice = (2n * m + 1n) * (e >= 1 ? 1n << BigInt(e - 1) : 1n); // the tie times 2^(1-e) for e < 1
      const scale = e >= 1 ? 0 : 1 - e; // tie = twice / 2^scale = twice · 5^scale / 10^scale
      const tie = twice * 5n ** BigInt(scale);
      for (const w of [tie, tie + 1n, tie - 1n]) {
        const text = placePoint(String(w), scale);
        tokens.push(text, `-${text}`, `${w}e-${scale}`);
      }
    }
    // 5. Integers just around 2^53 (where Clinger's fast path ends) in several forms.
    for (let k = -1500; k <= 1500; k++) {
      const w = (1n << 53n) + BigInt(k);
      tokens.push(String(w), `${w}.0`, `${w}e0`, placePoint(String(w), 1 + (Math.abs(k) % 17)), `-${w}00e-2`);
    }
    // 6. Near the subnormal and overflow boundaries (those that are not normal doubles must be declined).
    for (let i = 0; i < 6000; i++) {
      const low = MIN_NORMAL * 2 ** (rng.next() * 8 - 4);
      const high = 1.7976931348623157e308 / 2 ** (rng.next() * 4);
      tokens.push(JSON.stringify(low), low.toPrecision(1 + rng.int(19)), JSON.stringify(high), high.toPrecision(1 + rng.int(19)).replace('+', ''));
      tokens.push(`${mantissa(rng, 1 + rng.int(19))}e${rng.next() < 0.5 ? -326 + rng.int(25) : 290 + rng.int(25)}`);
    }
    // 7. Random parts: sign, integer digits (up to 20), fraction (leading zeros now and then), exponent.
    for (let i = 0; i < 30000; i++) tokens.push(randomToken(rng));
    // 8. Long runs of zeros after "0." (more than one vector of them) before up to 19 significant digits.
    for (let i = 0; i < 3000; i++) {
      const zeros = '0'.repeat(rng.int(40));
      tokens.push(`0.${zeros}${mantissa(rng, 1 + rng.int(19))}`, `-0.${zeros}${mantissa(rng, 1 + rng.int(19))}e${rng.int(40)}`, `0.${zeros}`);
    }

    expect(tokens.length).toBeGreaterThan(200000);
    const { declined, undocumented } = checkTokens(tokens);
    // The 128-bit product cannot decide a handful of inputs: declined too, but they must stay rare.
    expect(undocumented.length).toBeLessThan(5);
    expect(declined).toBeLessThan(tokens.length / 8);
  });

  it('takes the shortest form of every normal double', () => {
    const rng = new Rng(9);
    const tokens: string[] = [];
    for (let i = 0; i < 50000; i++) {
      const v = randomDouble(rng);
      if (Math.abs(v) >= MIN_NORMAL) tokens.push(JSON.stringify(v));
    }
    expect(checkTokens(tokens).declined).toBe(0);
  });

  it('declines malformed numbers wherever they stand in a row', () => {
    const malformed = ['1.', '.5', '-', '-.5', '01', '-01', '00', '1e', '1e+', '1E-', '0x10', '1.e5', '--1', '1..2', '1.2.3', '00.5', '+1', '1ee5', '1e5.5', '0.5.', 'nul', 'nulll', 'NaN', '-null', '1 2', '1-', '٣'];
    const schema3 = inputSchema(['a', 'b', 'c']);
    for (const token of malformed) {
      for (const row of [`[${token},1,2]`, `[1,${token},2]`, `[1,2,${token}]`, `[ ${token} ,1,2]`, `[1.5,2.5,${token}]`]) {
        const body = `{"instances":[[0,0,0],${row}]}`;
        expect(parseJsonFast(body, schema3, LIMITS), body).toBeNull();
        expect(() => JSON.parse(body), body).toThrow();
      }
    }
  });
});

// ---------------------------------------------------------------- whole bodies

const NAMES = ['f0', 'f1', 'f2', 'f3'];
const schema = inputSchema(NAMES);

const goodValue = fc.oneof(
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => JSON.stringify(v)) },
  // Feature-like values (fast-check's doubles lean on subnormals, which the fast path declines by design).
  { weight: 8, arbitrary: fc.tuple(fc.integer(), fc.integer({ min: -15, max: 5 })).map(([m, e]) => JSON.stringify(m * 10 ** e)) },
  { weight: 2, arbitrary: fc.integer({ min: -1000, max: 1000 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('null', '-0', '1E5', '2.5e-3', '0.10') },
);
const badValue = fc.constantFrom('1e999', '"1"', 'true', '{}', '[]', '01', '1.', '.5', '+1', '-', '1e', 'NaN', 'nul', '1x', '0x10', '1'.repeat(30));
/** Mostly good values; one body in three has a bad one now and then. */
const values = fc.oneof(
  fc.array(goodValue, { minLength: 40, maxLength: 40 }),
  fc.array(fc.oneof({ weight: 12, arbitrary: goodValue }, { weight: 1, arbitrary: badValue }), { minLength: 40, maxLength: 40 }),
);
const space = fc.constantFrom('', '', '', ' ', '\n', '\t ', '\r\n', '\u00a0');
const columnName = fc.oneof(fc.constantFrom(...NAMES), fc.constantFrom('extra', 'f\\u0030', 'é', 'f0 ', ''));

/** Rows of `width` values (now and then one short, or another width) joined with optional whitespace. */
function rowsText(width: number): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: 0, max: 6 }), values, space, fc.nat(9)).map(([rows, cells, ws, shape]) => {
    const w = shape === 0 ? width + 1 : width;
    const out: string[] = [];
    for (let r = 0; r < rows; r++) out.push(`[${ws}${cells.slice(r * 6, r * 6 + (shape === 1 && r === rows - 1 ? w - 1 : w)).join(`,${ws}`)}${ws}]`);
    return `[${ws}${out.join(`${ws},`)}]`;
  });
}

/** pandas' "index" (ints or labels; the general parser ignores it whatever it holds), some of it malformed, or none. */
const index = fc.constantFrom('', '', '"index":[0,1,2]', '"index": ["a", "b\\"]", "c"]', '"index":{"x":[1,{"y":"]"}]}', '"index":[0,]', '"index":NaN', '"index":[0, 1');
/** Keys beside the input field: MLflow 2.x's params (valid, malformed, Python's NaN), or others the parser ignores. */
const beside = fc.constantFrom('', '', '"params":{"k":[1,"}"],"n":null}', '"params":{', '"params":NaN', '"signature_name":"x"', '"params":{"a":1} x');

const split = fc
  .tuple(fc.shuffledSubarray(NAMES, { minLength: 3 }), fc.array(columnName, { maxLength: 1 }), space, fc.nat(5), index, beside, fc.boolean())
  .chain(([cols, extra, ws, order, indexKey, besideKey, besideFirst]) =>
    rowsText(cols.length + extra.length).map((rows) => {
      const columns = `"columns":${ws}[${[...cols, ...extra].map((c) => `"${c}"`).join(',')}]`;
      const data = `"data":${ws}${rows}`;
      // pandas writes columns, index, data (to_json) or index, columns, data (to_dict); others are the general parser's.
      const parts = order === 0 ? [data, columns] : order === 1 ? [columns, data] : order === 2 ? [indexKey, columns, data] : order === 3 ? [columns, indexKey, data] : [columns, data, indexKey];
      const inner = parts.filter((part) => part !== '').join(`,${ws}`);
      const field = `"dataframe_split":${ws}{${inner}}`;
      const fields = besideKey === '' ? [field] : besideFirst ? [besideKey, field] : [field, besideKey];
      return `${ws}{${ws}${fields.join(`,${ws}`)}${ws}}${ws}`;
    }),
  );
const body = fc.oneof(
  { weight: 4, arbitrary: split },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom('instances', 'inputs', 'instances', 'inputs', 'dataframe_records', 'params'), rowsText(4), space).map(([field, rows, ws]) => `{${ws}"${field}"${ws}:${rows}}`),
  },
  { weight: 1, arbitrary: fc.tuple(rowsText(4), fc.constantFrom(',"params":{}', ',"params":[1,{"a":"]"}]', ',"params":[1,', ',"instances":[[1,2,3,4]]', ',"dataframe_records":null', '}', ' x', '', ']')).map(([rows, tail]) => `{"instances":${rows}${tail}}`) },
  { weight: 1, arbitrary: fc.tuple(rowsText(4), fc.nat(200)).map(([rows, cut]) => `{"dataframe_split":{"data":${rows}}}`.slice(0, -1 - (cut % 20))) },
  { weight: 1, arbitrary: rowsText(4).map((rows) => `\ufeff{"instances":${rows}}`) },
);

function general(text: string): ParsedInput | Error {
  try {
    return parseJsonInput(text, schema, LIMITS);
  } catch (err) {
    return err as Error;
  }
}

describe('bodies', () => {
  it('either declines a body or reads it exactly as the general parser does', () => {
    let taken = 0;
    fc.assert(
      fc.property(body, fc.boolean(), (text, asBytes) => {
        const fast = parseJsonFast(asBytes ? Buffer.from(text, 'utf8') : text, schema, LIMITS);
        if (fast === null) return;
        taken++;
        const expected = general(text);
        expect(expected).not.toBeInstanceOf(Error);
        const { matrix, format } = expected as ParsedInput;
        expect(format).toBe(fast.format);
        expect([fast.matrix.rows, fast.matrix.cols]).toEqual([matrix.rows, matrix.cols]);
        expect(sameBits(fast.matrix.data, matrix.data)).toBe(true);
      }),
      { numRuns: 4000, seed: 17 },
    );
    // The generator makes plenty of ordinary bodies: the fast path must have taken a good share of them.
    expect(taken).toBeGreaterThan(300);
  });

  it('maps named columns in any order, ignores unknown ones and leaves row limits to the general parser', () => {
    const text = '{"dataframe_split": {"columns": ["f3", "extra", "f1", "f0", "f2"], "data": [[3, "x", 1, 0, 2], [7, 9, 5, 4, null]]}}';
    expect(parseJsonFast(text, schema, LIMITS)).toBeNull(); // a string in an ignored column: the general parser decides
    const clean = text.replace('"x"', '1.5');
    const fast = parseJsonFast(clean, schema, LIMITS);
    expect(Array.from(fast?.matrix.data ?? [])).toEqual([0, 1, 2, 3, 4, 5, NaN, 7]);
    expect(parseJsonFast(clean, schema, { maxRows: 1 })).toBeNull();
  });
});
