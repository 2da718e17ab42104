/**
 * Which table columns are model features, and the feature matrix from them: shared by train and tune so both
 * read a table the same way. Numeric columns are features; a text column holding only numbers (e.g. quoted in
 * JSON lines) is parsed as numbers; a column that is numeric but for a few cells is refused, naming the first
 * bad cell (dropping it would silently lose a feature, and evaluate/serve would then disagree with the table);
 * other text columns are reported to the caller, which leaves them out with a warning.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from './matrix.js';
import { columnIndex, parseNumberCell, type Table } from './table.js';

/** Extract's metadata columns: never features, left out without a word. */
export const ID_COLUMNS: ReadonlySet<string> = new Set(['path', 'segment', 'start_s', 'end_s']);

/**
 * Splits `candidates` into feature columns and text columns. `strict` (the columns a FeatureSpec names) refuses
 * any text cell; otherwise a column is text when at least half its present cells are not numbers.
 */
export function splitFeatureColumns(table: Table, candidates: readonly string[], tableName: string, strict: boolean): { names: string[]; text: string[] } {
  const names: string[] = [];
  const text: string[] = [];
  for (const name of candidates) {
    const column = table.columns[columnIndex(table, name)];
    if (column instanceof Float64Array) {
      names.push(name);
      continue;
    }
    const bad = nonNumericCells(column);
    if (bad.count === 0) {
      names.push(name);
      continue;
    }
    if (strict || bad.count < (column.length - bad.missing) / 2) {
      throw new SpotmlError(
        'INVALID_INPUT',
        `${tableName}: column "${name}" is numeric but row ${bad.first + 1} holds "${column[bad.first]}"${bad.count > 1 ? ` (and ${bad.count - 1} more such cells)` : ''}: fix the value, or leave the cell empty to mark it missing`,
        { column: name, row: bad.first + 1, value: column[bad.first] },
      );
    }
    text.push(name);
  }
  return { names, text };
}

/** The warning for text columns left out, naming the first few. */
export function textColumnsWarning(tableName: string, text: readonly string[]): string {
  return `${tableName}: text columns are not features and were left out: ${text.slice(0, 6).map((n) => `"${n}"`).join(', ')}${text.length > 6 ? `, … (${text.length} in all)` : ''}`;
}

/** rows × features matrix of the named columns (text columns of numbers parsed; missing cells NaN). */
export function featureColumnsMatrix(table: Table, names: readonly string[]): Matrix {
  const data = new Float64Array(table.nRows * names.length);
  names.forEach((name, j) => {
    const column = table.columns[columnIndex(table, name)];
    for (let i = 0; i < table.nRows; i++) data[i * names.length + j] = column instanceof Float64Array ? column[i] : (parseNumberCell(column[i]) ?? Number.NaN);
  });
  return createMatrix(table.nRows, names.length, data);
}

/** Cells the table reader could not read as numbers (missing cells are counted apart). */
function nonNumericCells(column: readonly string[]): { count: number; first: number; missing: number } {
  let count = 0;
  let first = -1;
  let missing = 0;
  column.forEach((cell, i) => {
    const value = parseNumberCell(cell);
    if (value === undefined) {
      count++;
      if (first < 0) first = i;
    } else if (Number.isNaN(value)) missing++;
  });
  return { count, first, missing };
}
