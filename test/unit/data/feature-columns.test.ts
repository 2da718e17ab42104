/** Feature columns as train and tune read them: numbers, numbers kept as text, stray text cells, text columns. */
import { describe, expect, it } from 'vitest';
import { prepareData } from '../../../src/api/tune.js';
import { featureColumnsMatrix, splitFeatureColumns } from '../../../src/data/feature-columns.js';
import { makeTable } from '../../../src/data/table.js';

const table = makeTable(
  ['num', 'quoted', 'stray', 'colour', 'y'],
  [
    Float64Array.from([1, 2, 3, 4]),
    ['1.5', '', '-2e3', 'NaN'],
    ['1', '2', 'n/a?', '4'],
    ['red', 'blue', '', 'red'],
    ['a', 'b', 'a', 'b'],
  ],
);

describe('splitFeatureColumns', () => {
  it('keeps numeric columns and text columns of numbers, sets text columns apart', () => {
    expect(splitFeatureColumns(table, ['num', 'quoted', 'colour'], 't.csv', false)).toEqual({ names: ['num', 'quoted'], text: ['colour'] });
    const X = featureColumnsMatrix(table, ['num', 'quoted']);
    expect(Array.from(X.data)).toEqual([1, 1.5, 2, Number.NaN, 3, -2000, 4, Number.NaN]);
  });

  it('refuses a numeric column with a stray text cell, naming the row and value; a spec refuses any text', () => {
    expect(() => splitFeatureColumns(table, ['stray'], 't.csv', false)).toThrow('t.csv: column "stray" is numeric but row 3 holds "n/a?": fix the value, or leave the cell empty to mark it missing');
    expect(() => splitFeatureColumns(table, ['colour'], 't.csv', true)).toThrow(/column "colour" is numeric but row 1 holds "red" \(and 2 more such cells\)/);
  });

  it('tune reads the table as train does', () => {
    expect(() => prepareData(table, 'y', undefined, [], 't.csv')).toThrow(/column "stray" is numeric but row 3/);
    const data = prepareData(table, 'y', undefined, ['stray'], 't.csv');
    expect(data.featureNames).toEqual(['num', 'quoted']);
    expect(data.skipped).toEqual(['colour']);
  });
});
