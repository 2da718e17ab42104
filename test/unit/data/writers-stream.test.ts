/**
 * TableStreamWriter (rows appended as they come) against writeTable (the whole table at once), the writer
 * `extract` used before streaming: the same rows must give the same bytes (CSV, JSONL) or the same values
 * (Parquet; the same bytes too while the row groups coincide). Then atomicity: nothing at the target
 * before commit, no temp file after commit, abort, process.exit, or (on the next open) a kill -9.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parquetMetadata } from 'hyparquet';
import { makeTable, readTable, type ColumnData, type Table, type TableFormat } from '../../../src/data/table.js';
import { parquetGroupRows, TableStreamWriter, type StreamColumn, type TableCell } from '../../../src/data/table-stream.js';
import { writeTable } from '../../../src/data/writers.js';
import { SpotmlError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'spotml-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const FORMATS: TableFormat[] = ['csv', 'jsonl', 'parquet'];

/** The table's rows as cells, in column order. */
function rowsOf(table: Table): TableCell[][] {
  return Array.from({ length: table.nRows }, (_, r) => table.columns.map((column) => column[r]));
}

function columnsOf(table: Table): StreamColumn[] {
  return table.names.map((name, c) => ({ name, kind: table.columns[c] instanceof Float64Array ? 'number' : 'text' }));
}

/** Streams `table` to `path`, appending `batches` rows at a time (a file's rows at a time, as extract does). */
async function streamTable(table: Table, path: string, format: TableFormat, batch = 1, parquetGroupBytes?: number): Promise<void> {
  const writer = await TableStreamWriter.open(path, format, columnsOf(table), { parquetGroupBytes });
  const rows = rowsOf(table);
  for (let r = 0; r < rows.length; r += batch) await writer.append(rows.slice(r, r + batch));
  expect(writer.rows).toBe(table.nRows);
  await writer.commit();
}

/**
 * Same names, rows and values (Object.is: NaN and the sign of zero count). `anySignOfZero`: 0 and -0 are
 * equal, for Parquet files whose row groups differ: hyparquet-writer's dictionary keys values by a Map,
 * where 0 and -0 are one key, so a column chunk holding both writes the first one's sign for all. The
 * whole-table writer does the same; where the groups differ, which zero comes first in a chunk differs.
 */
function expectSameValues(actual: Table, expected: Table, anySignOfZero = false): void {
  expect(actual.names).toEqual(expected.names);
  expect(actual.nRows).toBe(expected.nRows);
  expected.columns.forEach((column, c) => {
    const other = actual.columns[c];
    if (column instanceof Float64Array) {
      expect(other, expected.names[c]).toBeInstanceOf(Float64Array);
      for (let r = 0; r < column.length; r++) {
        const value = (other as Float64Array)[r];
        const same = Object.is(value, column[r]) || (anySignOfZero && value === 0 && column[r] === 0);
        expect(same, `${expected.names[c]}[${r}]: ${value} vs ${column[r]}`).toBe(true);
      }
    } else {
      expect(other).toEqual(column);
    }
  });
}

/** What extract writes: path (unicode, commas, quotes), segment columns, a label (some empty), features with NaN, ±inf, -0. */
function extractLikeTable(files: number, segments: number): Table {
  const paths: string[] = [];
  const labels: string[] = [];
  const segment: number[] = [];
  const start: number[] = [];
  const end: number[] = [];
  const features: number[][] = [[], [], [], []];
  const odd = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2];
  for (let f = 0; f < files; f++) {
    const path = [`genres/blues/b${f}.wav`, `données/été ♫/${f}.wav`, `a, "quoted"/${f}.wav`, `line\nbreak/${f}.wav`][f % 4];
    for (let s = 0; s < segments; s++) {
      paths.push(path);
      labels.push(f % 5 === 0 ? '' : ['blues', 'ünïcødé', 'with,comma', 'NaN'][f % 4]);
      segment.push(s);
      start.push(s * 0.1);
      end.push(s * 0.1 + 0.1);
      features[0].push(Math.sin(f + s) * 1e3);
      features[1].push(odd[(f + s) % odd.length]);
      features[2].push(f % 7 === 0 ? Number.NaN : (f * 31 + s) / 7);
      features[3].push(-(f + 1) * 1e-12);
    }
  }
  const names = ['path', 'segment', 'start_s', 'end_s', 'label', 'mfcc_01_mean', 'rms_mean', 'mfcc_delta_01_std', 'tempo'];
  const columns: ColumnData[] = [paths, Float64Array.from(segment), Float64Array.from(start), Float64Array.from(end), labels, ...features.map((v) => Float64Array.from(v))];
  return makeTable(names, columns);
}

describe('TableStreamWriter = writeTable on the same rows', () => {
  for (const format of FORMATS) {
    it(`${format}: segments, labels (some empty), unicode and quoted paths, NaN / ±inf / -0 give the same bytes`, async () => {
      const table = extractLikeTable(40, 3);
      await writeTable(table, join(dir, `whole.${format}`), format);
      await streamTable(table, join(dir, `stream.${format}`), format, 3);
      // Parquet too: under 1,000 rows both writers make one row group, so even the bytes agree.
      expect(readFileSync(join(dir, `stream.${format}`)).equals(readFileSync(join(dir, `whole.${format}`)))).toBe(true);
      expectSameValues(await readTable(join(dir, `stream.${format}`), { format, stringColumns: ['label'] }), await readTable(join(dir, `whole.${format}`), { format, stringColumns: ['label'] }));
    });
  }

  it('csv and jsonl: a table larger than the 1 MiB write chunk (several writes) is still byte-identical', async () => {
    const table = extractLikeTable(12_000, 2);
    for (const format of ['csv', 'jsonl'] as const) {
      await writeTable(table, join(dir, `big-whole.${format}`), format);
      await streamTable(table, join(dir, `big-stream.${format}`), format, 2);
      const bytes = readFileSync(join(dir, `big-stream.${format}`));
      expect(bytes.length).toBeGreaterThan(2 << 20);
      expect(bytes.equals(readFileSync(join(dir, `big-whole.${format}`)))).toBe(true);
    }
  });

  it('parquet: rows past the first group go out in several row groups, with the same values', async () => {
    const table = extractLikeTable(1750, 2);
    const streamed = join(dir, 'groups-stream.parquet');
    await writeTable(table, join(dir, 'groups-whole.parquet'), 'parquet');
    // 1 byte per group: clamped to the 1,000-row minimum, so 3,500 rows make 4 groups (writeTable: 2).
    await streamTable(table, streamed, 'parquet', 2, 1);
    const groups = parquetMetadata(new Uint8Array(readFileSync(streamed)).buffer).row_groups.map((g) => Number(g.num_rows));
    expect(groups).toEqual([1000, 1000, 1000, 500]);
    expectSameValues(await readTable(streamed, { stringColumns: ['label'] }), await readTable(join(dir, 'groups-whole.parquet'), { stringColumns: ['label'] }), true);
  });

  it('any rows, appended in any batches, give the same CSV and JSONL bytes and the same Parquet values (property)', async () => {
    const cell = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-310));
    const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('', ',', '"', '\r\n', 'NaN', 'null'));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.array(fc.tuple(text, text, cell, cell), { minLength: 1, maxLength: 30 }), async (batch, rows) => {
        run++;
        const table = makeTable(['path', 'label', 'a', 'b'], [rows.map((r) => r[0]), rows.map((r) => r[1]), Float64Array.from(rows, (r) => r[2]), Float64Array.from(rows, (r) => r[3])]);
        for (const format of FORMATS) {
          const whole = join(dir, `prop-whole-${run}.${format}`);
          const streamed = join(dir, `prop-stream-${run}.${format}`);
          await writeTable(table, whole, format);
          await streamTable(table, streamed, format, batch);
          if (format === 'parquet') {
            expectSameValues(await readTable(streamed, { stringColumns: ['path', 'label'] }), await readTable(whole, { stringColumns: ['path', 'label'] }));
          } else {
            expect(readFileSync(streamed).equals(readFileSync(whole))).toBe(true);
          }
        }
      }),
      { numRuns: 40, seed: 20240611 },
    );
  });

  it('parquetGroupRows: about 16 MiB of doubles per group, between 1,000 and 100,000 rows', () => {
    const columns = (n: number): StreamColumn[] => [{ name: 'path', kind: 'text' }, ...Array.from({ length: n }, (_, i): StreamColumn => ({ name: `f${i}`, kind: 'number' }))];
    expect(parquetGroupRows(columns(429))).toBe(Math.floor((16 << 20) / (8 * 430)));
    expect(parquetGroupRows(columns(1))).toBe(100_000);
    expect(parquetGroupRows(columns(100_000))).toBe(1000);
  });
});

describe('TableStreamWriter: atomic', () => {
  const tempsIn = (folder: string): string[] => readdirSync(folder).filter((f) => f.endsWith('.tmp'));

  for (const format of FORMATS) {
    it(`${format}: nothing at the target until commit; then the table and no temp file`, async () => {
      const folder = join(dir, `atomic-${format}`);
      const path = join(folder, `t.${format}`);
      const writer = await TableStreamWriter.open(path, format, [{ name: 'path', kind: 'text' }, { name: 'x', kind: 'number' }]);
      await writer.append([['a.wav', 1]]);
      expect(existsSync(path)).toBe(false);
      expect(tempsIn(folder)).toHaveLength(1);
      await writer.commit();
      expect(tempsIn(folder)).toEqual([]);
      expect((await readTable(path)).nRows).toBe(1);
      await writer.abort();
      expect(existsSync(path)).toBe(true);
    });
  }

  it('abort leaves an existing table as it was and removes the temp file', async () => {
    const folder = join(dir, 'abort');
    mkdirSync(folder, { recursive: true });
    const path = join(folder, 't.csv');
    writeFileSync(path, 'old\n');
    const writer = await TableStreamWriter.open(path, 'csv', [{ name: 'x', kind: 'number' }]);
    await writer.append([[1], [2]]);
    await writer.abort();
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(tempsIn(folder)).toEqual([]);
    await expect(writer.append([[3]])).rejects.toThrow(/already committed or aborted/);
  });

  it('process.exit mid-table (the CLI on Ctrl-C) deletes the temp file', () => {
    const folder = join(dir, 'exit');
    const script = `
      import { readdirSync } from 'node:fs';
      import { TableStreamWriter } from ${JSON.stringify(join(repo, 'src/data/table-stream.ts'))};
      const writer = await TableStreamWriter.open(${JSON.stringify(join(folder, 't.csv'))}, 'csv', [{ name: 'x', kind: 'number' }]);
      await writer.append([[1]]);
      console.log(readdirSync(${JSON.stringify(folder)}).join(','));
      process.exit(130);`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(130);
    expect(child.stdout).toMatch(/^\.t\.csv\.[0-9a-f]{8}-\d+\.[0-9a-f]{12}\.tmp$/m);
    expect(readdirSync(folder)).toEqual([]);
  }, 30_000);

  it('open sweeps the temp files of the same table left by dead processes of this machine (kill -9), not those of live ones, other machines or other tables', async () => {
    const folder = join(dir, 'sweep');
    mkdirSync(folder, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
    const otherHost = host === '00000000' ? '11111111' : '00000000';
    try {
      const names = [
        `.t.csv.${host}-${dead}.0123456789ab.tmp`,
        `.t.csv.${host}-${live.pid}.0123456789ab.tmp`,
        `.t.csv.${otherHost}-${dead}.0123456789ab.tmp`,
        `.other.csv.${host}-${dead}.0123456789ab.tmp`,
        'keep.txt',
      ];
      for (const name of names) writeFileSync(join(folder, name), 'x');
      const writer = await TableStreamWriter.open(join(folder, 't.csv'), 'csv', [{ name: 'x', kind: 'number' }]);
      await writer.abort();
      expect(readdirSync(folder).sort()).toEqual(names.slice(1).sort());
    } finally {
      live.kill();
    }
  });

  it('a folder that cannot be written is one SpotmlError naming the table', async () => {
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'a file, not a folder');
    const error = await TableStreamWriter.open(join(blocker, 't.csv'), 'csv', [{ name: 'x', kind: 'number' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpotmlError);
    expect((error as SpotmlError).message).toMatch(/cannot write .*blocker\/t\.csv .*check the folder exists and is writable/);
  });

  it('refuses duplicate column names, rows of the wrong width and cells of the wrong kind', async () => {
    await expect(TableStreamWriter.open(join(dir, 'dup.csv'), 'csv', [{ name: 'x', kind: 'number' }, { name: 'x', kind: 'text' }])).rejects.toThrow(/two columns named "x"/);
    for (const format of FORMATS) {
      const writer = await TableStreamWriter.open(join(dir, `kinds.${format}`), format, [{ name: 'x', kind: 'number' }, { name: 's', kind: 'text' }]);
      await expect(writer.append([[1]])).rejects.toThrow(/a row of 1 cells for a table of 2 columns/);
      await expect(writer.append([['1', 's']])).rejects.toThrow(/column "x" holds numbers/);
      await writer.abort();
    }
  });
});
