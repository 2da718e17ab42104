/** The scoring protocol parser: every MLflow input form gives the same matrix, and every refusal names its field. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpotmlError } from '../../../src/errors.js';
import { inputSchema, parseCsvInput, parseJsonInput, patchColumnName } from '../../../src/serve/protocol.js';

const schema = inputSchema(['a', 'b', 'c']);
const limits = { maxRows: 100 };

function json(body: unknown): Float64Array {
  return parseJsonInput(JSON.stringify(body), schema, limits).matrix.data;
}

function refusal(run: () => unknown): SpotmlError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SpotmlError);
    expect((err as SpotmlError).httpStatus).toBe(400);
    return err as SpotmlError;
  }
  throw new Error('expected a refusal');
}

describe('scoring protocol', () => {
  const rows = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const expected = Float64Array.from(rows.flat());

  it('reads all four JSON forms and CSV into the model column order', () => {
    // Columns in another order, plus one the model does not use (ignored, as MLflow does).
    const split = { dataframe_split: { columns: ['c', 'extra', 'a', 'b'], data: rows.map(([a, b, c]) => [c, 99, a, b]), index: [0, 1] } };
    expect(json(split)).toEqual(expected);
    expect(json({ dataframe_split: { data: rows } })).toEqual(expected);
    expect(json({ dataframe_records: rows.map(([a, b, c]) => ({ c, b, a, path: 'x.wav' })) })).toEqual(expected);
    expect(json({ instances: rows })).toEqual(expected);
    expect(json({ instances: rows.map(([a, b, c]) => ({ a, b, c })) })).toEqual(expected);
    expect(json({ inputs: { b: [2, 5], a: [1, 4], c: [3, 6] } })).toEqual(expected);
    expect(json({ inputs: rows, params: { ignored: true } })).toEqual(expected);
    const csv = parseCsvInput('path,c,a,"b"\r\nx.wav,3,1,2\r\n"y,z.wav",6,4,5\r\n', schema, limits);
    expect(csv.matrix.data).toEqual(expected);
    expect(csv.format).toBe('csv');
  });

  it('treats null and empty CSV cells as missing values (NaN)', () => {
    expect(Array.from(json({ instances: [[1, null, 3]] }))).toEqual([1, Number.NaN, 3]);
    expect(Array.from(parseCsvInput('a,b,c\n1,,3\n', schema, limits).matrix.data)).toEqual([1, Number.NaN, 3]);
  });

  it('gives one matrix whichever form carries random rows (property)', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 });
    fc.assert(
      fc.property(fc.array(fc.tuple(finite, finite, finite), { minLength: 1, maxLength: 20 }), (data) => {
        const want = Float64Array.from(data.flat().map((v) => (Object.is(v, -0) ? 0 : v)));
        const normalise = (m: Float64Array): Float64Array => m.map((v) => (Object.is(v, -0) ? 0 : v));
        expect(normalise(json({ dataframe_split: { columns: ['a', 'b', 'c'], data } }))).toEqual(want);
        expect(normalise(json({ dataframe_records: data.map(([a, b, c]) => ({ a, b, c })) }))).toEqual(want);
        expect(normalise(json({ inputs: { a: data.map((r) => r[0]), b: data.map((r) => r[1]), c: data.map((r) => r[2]) } }))).toEqual(want);
        const csv = `a,b,c\n${data.map((r) => r.join(',')).join('\n')}\n`;
        expect(normalise(parseCsvInput(csv, schema, limits).matrix.data)).toEqual(want);
      }),
      { numRuns: 100 },
    );
  });

  it('enforces the exactly-one-of rule and refuses bare lists', () => {
    expect(refusal(() => json([[1, 2, 3]])).message).toMatch(/exactly one of the input fields/);
    expect(refusal(() => json({ instances: rows, inputs: rows })).message).toMatch(/exactly one.*it has 2/);
    expect(refusal(() => json({ dataframe_spilt: {} })).message).toMatch(/none \(keys: dataframe_spilt\)/);
    expect(refusal(() => parseJsonInput('{"instances": [[1,2', schema, limits)).message).toMatch(/not valid JSON/);
  });

  it('names the field, row and column of a bad value', () => {
    const wrongType = refusal(() => json({ instances: [[1, 2, 3], [1, 'x', 3]] }));
    expect(wrongType.message).toBe('instances: row 1, column "b": expected a number or null, got a string ("x")');
    expect(wrongType.details).toEqual({ field: 'instances', row: 1, column: 'b' });
    // Rows sent under "inputs" are named as such.
    expect(refusal(() => json({ inputs: [[1, 2, 3], [1, 'x', 3]] })).message).toBe('inputs: row 1, column "b": expected a number or null, got a string ("x")');
    expect(refusal(() => parseJsonInput('{"instances": [[1, 2, 1e999]]}', schema, limits)).message).toMatch(/column "c": the number is infinite or out of range; send a finite number, or null for a missing value/);
    // No record has "c": MLflow's schema enforcement answers "Model is missing inputs ['c']" (mlflow/models/utils.py _enforce_schema).
    expect(refusal(() => json({ dataframe_records: [{ a: 1, b: 2 }] })).message).toBe('dataframe_records: missing feature column "c"; the model needs 3 columns');
    expect(refusal(() => json({ instances: [{ a: 1, b: 2, c: 3 }, { a: 1, b: 2 }] })).message).toBe('instances: row 1 lacks feature "c"');
    expect(refusal(() => json({ dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } })).message).toMatch(/missing feature column "c"/);
    expect(refusal(() => json({ instances: [[1, 2]] })).message).toMatch(/row 0 has 2 values; the model takes 3 features \(a, b, c\)/);
    expect(refusal(() => json({ inputs: { a: [1], b: [2, 3], c: [4] } })).message).toMatch(/column "b" has 2 values/);
    expect(refusal(() => json({ instances: [[1, [2], 3]] })).message).toMatch(/column "b".*got an array/);
    expect(refusal(() => json({ instances: [{ a: 1, b: { x: 1 }, c: 3 }] })).message).toMatch(/column "b".*got an object/);
    expect(refusal(() => parseCsvInput('a,b,c\n1,two,3\n', schema, limits)).message).toBe('csv: row 0, column "b": expected a finite number, got "two"');
    expect(refusal(() => parseCsvInput('a,b,c\n1,2\n', schema, limits)).message).toMatch(/line 2 has 2 cells, the header 3/);
  });

  it('refuses empty requests and more rows than the limit', () => {
    expect(refusal(() => json({ instances: [] })).message).toMatch(/no rows to predict/);
    const many = Array.from({ length: 101 }, () => [1, 2, 3]);
    const tooMany = refusal(() => json({ instances: many }));
    expect(tooMany.message).toMatch(/101 rows is more than this server accepts per request \(100\)/);
    expect(refusal(() => parseCsvInput(`a,b,c\n${many.map((r) => r.join(',')).join('\n')}`, schema, limits)).message).toMatch(/101 rows/);
  });
});

describe('scoring protocol for a model that reads frames', () => {
  // Two summary features, then a 2-band × 3-frame patch: row = [a, b, m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]].
  const frameInput = { feature: 'm', n_bands: 2, frames: 3 };
  const frameSchema = inputSchema(['a', 'b'], frameInput);
  const patchNames = ['m[0][0]', 'm[0][1]', 'm[0][2]', 'm[1][0]', 'm[1][1]', 'm[1][2]'];
  const rows = [
    [1, 2, 10, 11, 12, 20, 21, 22],
    [3, 4, 30, 31, 32, 40, 41, 42],
  ];
  const expected = Float64Array.from(rows.flat());

  it('names the patch columns <feature>[band][frame] after the summary features, band-major', () => {
    expect(frameSchema.featureNames).toEqual(['a', 'b', ...patchNames]);
    expect(patchColumnName('m', 1, 2)).toBe('m[1][2]');
    expect(frameSchema.summaryFeatures).toBe(2);
    expect(inputSchema([], frameInput).featureNames).toEqual(patchNames);
  });

  it('reads full-width rows positionally and by column name, in every form and CSV', () => {
    const parse = (body: unknown): Float64Array => parseJsonInput(JSON.stringify(body), frameSchema, limits).matrix.data;
    const names = frameSchema.featureNames;
    // Columns reversed: matched by name, not position.
    const reversed = [...names].reverse();
    expect(parse({ instances: rows })).toEqual(expected);
    expect(parse({ inputs: rows })).toEqual(expected);
    expect(parse({ dataframe_split: { data: rows } })).toEqual(expected);
    expect(parse({ dataframe_split: { columns: reversed, data: rows.map((r) => [...r].reverse()) } })).toEqual(expected);
    expect(parse({ dataframe_records: rows.map((r) => Object.fromEntries(names.map((n, j) => [n, r[j]]))) })).toEqual(expected);
    expect(parse({ inputs: Object.fromEntries(names.map((n, j) => [n, rows.map((r) => r[j])])) })).toEqual(expected);
    const csv = `${reversed.join(',')}\n${rows.map((r) => [...r].reverse().join(',')).join('\n')}\n`;
    expect(parseCsvInput(csv, frameSchema, limits).matrix.data).toEqual(expected);
  });

  it('says what the row is made of, and how patch columns are named, when they do not fit', () => {
    const parse = (body: unknown): unknown => parseJsonInput(JSON.stringify(body), frameSchema, limits);
    expect(refusal(() => parse({ instances: [[1, 2]] })).message).toBe('instances: row 0 has 2 values; the model takes 8 values: 2 summary features (a, b) then a 2 × 3 m patch, band-major');
    const hint = '; patch columns are named m[0][0] … m[1][2] ([band][frame]), or send rows as arrays in "instances", or the WAV to /predict/audio';
    expect(refusal(() => parse({ dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } })).message).toBe(`dataframe_split: missing feature column "m[0][0]" (and 5 more); the model needs 8 columns${hint}`);
    expect(refusal(() => parse({ dataframe_records: [{ a: 1, b: 2 }] })).message).toBe(`dataframe_records: missing feature column "m[0][0]" (and 5 more); the model needs 8 columns${hint}`);
    expect(refusal(() => parse({ instances: [{ a: 1, b: 2 }] })).message).toBe(`instances: row 0 lacks feature "m[0][0]"${hint}`);
    expect(refusal(() => parseCsvInput('a,b\n1,2\n', frameSchema, limits)).message).toBe(`csv: missing feature column "m[0][0]" (and 5 more); the model needs 8 columns${hint}`);
  });
});
