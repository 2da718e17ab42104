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
