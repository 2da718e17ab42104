/** The one dense matrix type used everywhere: row-major Float64Array + shape. NaN marks a missing value. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function createMatrix(rows: number, cols: number, data?: Float64Array): Matrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`matrix shape must be non-negative integers, got ${rows}x${cols}`);
  }
  const buffer = data ?? new Float64Array(rows * cols);
  if (buffer.length !== rows * cols) throw new RangeError(`matrix data has ${buffer.length} values, expected ${rows}x${cols}`);
  return { rows, cols, data: buffer };
}

/** Copies the given rows (in order) into a new matrix. */
export function takeRows(m: Matrix, indices: ArrayLike<number>): Matrix {
  const out = new Float64Array(indices.length * m.cols);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i] * m.cols;
    out.set(m.data.subarray(src, src + m.cols), i * m.cols);
  }
  return createMatrix(indices.length, m.cols, out);
}

export function fromRows(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows.length > 0 ? rows[0].length : 0;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new RangeError(`row ${i} has ${r.length} values, expected ${cols}`);
    data.set(r, i * cols);
  });
  return createMatrix(rows.length, cols, data);
}

export function row(m: Matrix, i: number): Float64Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}
