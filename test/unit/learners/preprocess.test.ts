import { describe, expect, it } from 'vitest';
import { Preprocessor, fitPipeline, pipelineDefaults } from '../../../src/learners/preprocess.js';
import { createMatrix, fromRows } from '../../../src/data/matrix.js';
import { knn } from '../../../src/learners/knn.js';
import { Rng } from '../../../src/learners/rng.js';

/** Independent reference: median by full sort, ignoring NaN. */
function naiveMedian(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return 0;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

describe('Preprocessor', () => {
  it('imputes NaN-ignoring medians (odd, even, duplicates, all-NaN) like a full sort', () => {
    const rng = new Rng(3);
    for (const rows of [1, 2, 7, 50, 51]) {
      const X = createMatrix(rows, 4, Float64Array.from({ length: rows * 4 }, (_, i) => (i % 4 === 3 ? NaN : rng.next() < 0.2 ? NaN : Math.round(rng.normal() * 3))));
      const pre = Preprocessor.fit(X, { impute: true, missingIndicator: false, scale: false });
      for (let j = 0; j < 4; j++) {
        const column = Array.from({ length: rows }, (_, i) => X.data[i * 4 + j]);
        // + 0 folds −0 into 0: rounding makes both, and the sign of a zero median does not matter.
        expect((pre.state.medians?.[j] ?? NaN) + 0).toBe(naiveMedian(column) + 0);
      }
    }
  });

  it('bucketed medians of long columns equal a full sort (ties, skew, outliers, infinities, tiny ranges)', () => {
    const rng = new Rng(17);
    const generators: ((i: number) => number)[] = [
      () => rng.normal(),
      () => Math.round(rng.normal() * 2), // many ties
      () => Math.exp(rng.normal() * 4), // heavy right skew
      (i) => (i === 5 ? 1e300 : i === 9 ? -1e300 : rng.normal()), // outliers squeeze the rest into one bucket
      (i) => (i % 97 === 0 ? Infinity : i % 89 === 0 ? -Infinity : rng.normal()),
      (i) => (i % 2 ? 1 : 1 + Number.EPSILON), // two adjacent doubles
      (i) => (i % 3 ? 5e-324 : 0), // subnormal range
      () => 7, // constant
      () => (rng.next() < 0.5 ? NaN : rng.normal() * 1e-3 + 1e6),
      (i) => (i < 2900 ? 0 : rng.next()), // most values in the lowest bucket
      () => (rng.next() < 0.3 ? -0 : rng.normal()),
    ];
    // Columns of 4096 values or more take the bucket path; shorter ones are selected directly.
    for (const n of [5001, 5000, 4096, 65]) {
      const cols = generators.length;
      const X = createMatrix(n, cols, new Float64Array(n * cols));
      for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) X.data[i * cols + j] = generators[j](i);
      const pre = Preprocessor.fit(X, { impute: true, missingIndicator: false, scale: false });
      for (let j = 0; j < cols; j++) {
        const column = Array.from({ length: n }, (_, i) => X.data[i * cols + j]);
        expect((pre.state.medians?.[j] ?? NaN) + 0, `column ${j}, ${n} rows`).toBe(naiveMedian(column) + 0);
      }
    }
  });

  it('transform equals imputing, adding indicators and scaling entry by entry, bitwise', () => {
    const rng = new Rng(23);
    const rows = 300;
    const cols = 6;
    const X = createMatrix(rows, cols, Float64Array.from({ length: rows * cols }, (_, i) => (i % cols !== 1 && rng.next() < 0.1 ? NaN : rng.normal() * (1 + (i % cols)) + i % 4)));
    for (const options of [
      { impute: true, missingIndicator: true, scale: true },
      { impute: true, missingIndicator: true, scale: false },
      { impute: true, missingIndicator: false, scale: true },
      { impute: true, missingIndicator: false, scale: false },
      { impute: false, missingIndicator: false, scale: true },
    ]) {
      const pre = Preprocessor.fit(X, options);
      const { medians, indicatorColumns, means, scales } = pre.state;
      const out = pre.transform(X);
      const outCols = cols + indicatorColumns.length;
      expect(out.cols).toBe(outCols);
      for (let i = 0; i < rows; i++) {
        const row: number[] = [];
        for (let j = 0; j < cols; j++) {
          const v = X.data[i * cols + j];
          row.push(Number.isNaN(v) && medians !== null ? medians[j] : v);
        }
        for (const j of indicatorColumns) row.push(Number.isNaN(X.data[i * cols + j]) ? 1 : 0);
        const expected = means !== null && scales !== null ? row.map((v, j) => (v - means[j]) / scales[j]) : row;
        expect(Array.from(out.data.subarray(i * outCols, (i + 1) * outCols))).toEqual(expected);
      }
    }
  });

  it('standardises to mean 0 / std 1, leaves constant columns at 0, and appends indicators', () => {
    const X = fromRows([
      [1, 5, NaN],
      [2, 5, 4],
      [3, 5, 8],
      [NaN, 5, 6],
    ]);
    const pre = Preprocessor.fit(X, { impute: true, missingIndicator: true, scale: true });
    expect(pre.state.indicatorColumns).toEqual([0, 2]);
    const out = pre.transform(X);
    expect(out.cols).toBe(5);
    for (let j = 0; j < out.cols; j++) {
      const column = Array.from({ length: out.rows }, (_, i) => out.data[i * out.cols + j]);
      const mean = column.reduce((a, b) => a + b, 0) / column.length;
      const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / column.length;
      expect(Math.abs(mean)).toBeLessThan(1e-12);
      expect(variance).toBeCloseTo(j === 1 ? 0 : 1, 12);
    }
    // Imputed value for column 0 is the median of 1, 2, 3.
    expect(out.data[3 * 5 + 0]).toBeCloseTo((2 - 2) / Math.sqrt(0.5), 12);
    expect(X.data[2]).toBeNaN();
  });

  it('defaults follow the family tags', () => {
    expect(pipelineDefaults(knn)).toEqual({ impute: true, missingIndicator: false, scale: true });
    expect(pipelineDefaults(knn, { scale: false, missingIndicator: true })).toEqual({ impute: true, missingIndicator: true, scale: false });
  });

  it('a pipeline equals preprocessing by hand then the bare family', async () => {
    const rng = new Rng(9);
    const X = createMatrix(30, 3, Float64Array.from({ length: 90 }, () => (rng.next() < 0.1 ? NaN : rng.normal() * 10 + 3)));
    const y = Float64Array.from({ length: 30 }, (_, i) => i % 2);
    const data = { X, y, task: 'classification' as const, nClasses: 2 };
    const pipeline = await fitPipeline(knn, data, { n_neighbors: 3 }, { seed: 1 });
    const pre = Preprocessor.fit(X, pipelineDefaults(knn));
    const bare = await knn.fit({ ...data, X: pre.transform(X) }, { n_neighbors: 3 }, { seed: 1 });
    expect(pipeline.predictProba?.(X)).toEqual(bare.predictProba?.(pre.transform(X)));
  });
});
