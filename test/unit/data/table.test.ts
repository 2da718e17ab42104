import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import {
  formatFromPath,
  makeTable,
  numericColumn,
  parseCsvRecords,
  readTable,
  stringColumn,
  type Table,
  type TableFormat,
} from '../../../src/data/table.js';
import { csvField, writeFileAtomic, writeTable } from '../../../src/data/writers.js';
import { SpotmlError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'spotml-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const awkwardStrings = ['plain', 'with, comma', 'with "quotes"', 'line\nbreak', 'crlf\r\nbreak', '', '  spaced  ', 'ünïcødé ♫', '"', ',', 'NaN'];

function sampleTable(): Table {
  const n = awkwardStrings.length;
  const values = Float64Array.from({ length: n }, (_, i) => (i - 3) * 0.1 + 1e-300 * i);
  values[1] = Number.NaN;
  values[2] = Number.POSITIVE_INFINITY;
  values[3] = -0;
  values[4] = 1.2345678901234568e-9;
  values[5] = -9.87654321e200;
  const ints = Float64Array.from({ length: n }, (_, i) => i);
  return makeTable(['path', 'feature_01_mean', 'index', 'label'], [awkwardStrings.map((s, i) => `dir/${i}.wav`), values, ints, [...awkwardStrings]]);
}

function expectSameColumn(actual: Float64Array | string[], expected: Float64Array | string[], nonFiniteAsNaN = false): void {
  if (expected instanceof Float64Array) {
    expect(actual).toBeInstanceOf(Float64Array);
    const a = actual as Float64Array;
    expect(a.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const want = nonFiniteAsNaN && !Number.isFinite(expected[i]) ? Number.NaN : expected[i];
      expect(Object.is(a[i], want), `row ${i}: ${a[i]} vs ${want}`).toBe(true);
    }
  } else {
    expect(actual).toEqual(expected);
  }
}

describe('round trips', () => {
  for (const format of ['csv', 'jsonl', 'parquet'] as TableFormat[]) {
    it(`${format}: names, order, numbers bit-exact, NaN and awkward strings survive`, async () => {
      const table = sampleTable();
      const path = join(dir, `round.${format}`);
      expect(await writeTable(table, path)).toBe(format);
      const back = await readTable(path, { stringColumns: ['label'] });
      expect(back.names).toEqual(table.names);
      expect(back.nRows).toBe(table.nRows);
      for (let c = 0; c < table.names.length; c++) {
        // JSON has no infinities: JSONL writes every non-finite number as null (read back as NaN).
        expectSameColumn(back.columns[c], table.columns[c], format === 'jsonl');
      }
    });
  }

  it('parquet written is readable by hyparquet directly, with DOUBLE and STRING columns', async () => {
    const table = sampleTable();
    const path = join(dir, 'direct.parquet');
    await writeTable(table, path);
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(path) });
    expect(rows.length).toBe(table.nRows);
    expect(rows[4].label).toBe('crlf\r\nbreak');
    expect(rows[4].feature_01_mean).toBe(1.2345678901234568e-9);
    expect(Number.isNaN(rows[1].feature_01_mean)).toBe(true);
  });

  it('csv: arbitrary strings and doubles round-trip (property)', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.double()), { minLength: 1, maxLength: 20 }),
        async (rows) => {
          const table = makeTable(['text', 'x'], [rows.map((r) => r[0]), Float64Array.from(rows, (r) => r[1])]);
          const path = join(dir, `prop-${k++}.csv`);
          await writeTable(table, path);
          const back = await readTable(path, { stringColumns: ['text'] });
          expect(back.columns[0]).toEqual(table.columns[0]);
          expectSameColumn(back.columns[1], table.columns[1]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('writes nothing but the target (temp file renamed away)', async () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    await writeTable(sampleTable(), join(sub, 'a.csv'));
    await writeFileAtomic(join(sub, 'b.json'), '{}');
    expect(readdirSync(sub).sort()).toEqual(['a.csv', 'b.json']);
  });

  it('creates missing output folders', async () => {
    const path = join(dir, 'deep', 'er', 'x.jsonl');
    await writeTable(sampleTable(), path);
    expect((await readTable(path)).nRows).toBe(awkwardStrings.length);
  });
});

describe('csv reader', () => {
  it('parses RFC 4180 records independently of the writer', () => {
    const text = '\ufeffa,b,c\r\n1,"x, y",""\n"multi\nline","say ""hi""",3\n\n';
    expect(parseCsvRecords(text)).toEqual([
      ['a', 'b', 'c'],
      ['1', 'x, y', ''],
      ['multi\nline', 'say "hi"', '3'],
    ]);
  });

  it('infers numeric columns, reading missing markers as NaN and inf as Infinity', async () => {
    const path = join(dir, 'infer.csv');
    writeFileSync(path, 'a,b,c,d\n1,x,,inf\n2.5e3,2,NaN,-inf\n-.5,y,nan,1\n');
    const table = await readTable(path);
    expect(Array.from(numericColumn(table, 'a'))).toEqual([1, 2500, -0.5]);
    expect(stringColumn(table, 'b')).toEqual(['x', '2', 'y']);
    expect(Array.from(numericColumn(table, 'c')).every(Number.isNaN)).toBe(true);
    expect(Array.from(numericColumn(table, 'd'))).toEqual([Infinity, -Infinity, 1]);
    expect(stringColumn(table, 'a')).toEqual(['1', '2500', '-0.5']);
  });

  it('does not take hex or half-numbers for numbers', async () => {
    const path = join(dir, 'strict.csv');
    writeFileSync(path, 'a\n0x1f\n12abc\n');
    expect(stringColumn(await readTable(path), 'a')).toEqual(['0x1f', '12abc']);
  });

  it('names the row with a wrong field count and an unclosed quote', async () => {
    const ragged = join(dir, 'ragged.csv');
    writeFileSync(ragged, 'a,b\n1,2\n3\n');
    await expect(readTable(ragged)).rejects.toThrow(/row 3 has 1 fields/);
    const open = join(dir, 'open.csv');
    writeFileSync(open, 'a\n"never closed\n');
    await expect(readTable(open)).rejects.toThrow(/never closed/);
  });

  it('csvField quotes only when needed', () => {
    expect(csvField('abc')).toBe('abc');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('a"b')).toBe('"a""b"');
  });
});

describe('jsonl reader', () => {
  it('takes columns in first-seen order, null as NaN, and names a bad line', async () => {
    const path = join(dir, 'x.jsonl');
    writeFileSync(path, '{"a":1,"b":"u"}\n\n{"a":null,"b":"v","c":2}\n');
    const table = await readTable(path);
    expect(table.names).toEqual(['a', 'b', 'c']);
    expect(Array.from(numericColumn(table, 'a'))).toEqual([1, Number.NaN]);
    expect(Array.from(numericColumn(table, 'c'))).toEqual([Number.NaN, 2]);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"a":1}\n{oops\n');
    await expect(readTable(bad)).rejects.toThrow(/line 2 is not valid JSON/);
  });
});

describe('table helpers', () => {
  it('formatFromPath: by extension or explicit, with a usage error otherwise', () => {
    expect(formatFromPath('a/b.CSV')).toBe('csv');
    expect(formatFromPath('x.pq')).toBe('parquet');
    expect(formatFromPath('x.ndjson')).toBe('jsonl');
    expect(formatFromPath('x.txt', 'JSONL')).toBe('jsonl');
    // --format is suggested only where the caller takes it (extract's output); readers name the extensions.
    expect(() => formatFromPath('x.txt', undefined, true)).toThrow(/or pass --format/);
    expect(() => formatFromPath('x.txt')).toThrow(/^cannot tell the table format of x\.txt: use a \.csv, \.parquet or \.jsonl name$/);
    expect(() => formatFromPath('x.csv', 'xlsx')).toThrow(SpotmlError);
  });

  it('a table with a header and no rows is refused as such', async () => {
    writeFileSync(join(dir, 'header-only.csv'), 'a,b,label\n');
    await expect(readTable(join(dir, 'header-only.csv'))).rejects.toMatchObject({ code: 'INVALID_INPUT', message: `table ${join(dir, 'header-only.csv')} has no rows (only a header): check that the file is complete` });
  });

  it('reading a folder as a table says it is a folder', async () => {
    const err = await readTable(dir).catch((e: unknown) => e);
    expect((err as SpotmlError).code).toBe('USAGE');
    expect((err as SpotmlError).message).toBe(`${dir} is a folder, not a table file: use a .csv, .parquet or .jsonl name`);
  });

  it('makeTable rejects duplicate names and ragged columns', () => {
    expect(() => makeTable(['a', 'a'], [['x'], ['y']])).toThrow(/two columns named "a"/);
    expect(() => makeTable(['a', 'b'], [['x'], ['y', 'z']])).toThrow(/has 2 values, expected 1/);
  });

  it('a missing table is NOT_FOUND naming the path', async () => {
    const err = await readTable(join(dir, 'nope.csv')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpotmlError);
    expect((err as SpotmlError).code).toBe('NOT_FOUND');
    expect((err as SpotmlError).message).toContain('nope.csv');
  });

  it('csv file text is as documented (NaN empty, inf spelled out, -0 kept)', async () => {
    const path = join(dir, 'text.csv');
    await writeTable(makeTable(['x', 's'], [Float64Array.of(Number.NaN, Infinity, -0, 0.1), ['a', 'b,c', 'd"e', 'f']]), path);
    expect(readFileSync(path, 'utf8')).toBe('x,s\n,a\ninf,"b,c"\n-0,"d""e"\n0.1,f\n');
  });
});
