/**
 * Permutation importance against a naive second implementation (fresh copy of X per repeat, same seeded
 * shuffles) and against what must hold exactly: an unused column has zero importance in every repeat.
 */
import { describe, expect, it } from 'vitest';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { Rng, hashSeed } from '../../../src/learners/rng.js';
import { permutationImportance } from '../../../src/metrics/importance.js';
import { rmse } from '../../../src/metrics/regression.js';

function data(n: number): { X: Matrix; y: Float64Array } {
  const rng = new Rng(21);
  const X = createMatrix(n, 3, Float64Array.from({ length: n * 3 }, () => rng.normal()));
  const y = Float64Array.from({ length: n }, (_, i) => 3 * X.data[i * 3] + X.data[i * 3 + 2]);
  return { X, y };
}

/** Uses columns 0 and 2 only; column 1 is ignored. */
const predict = (X: Matrix): Float64Array => Float64Array.from({ length: X.rows }, (_, i) => 3 * X.data[i * X.cols] + X.data[i * X.cols + 2]);

function naive(X: Matrix, y: Float64Array, nRepeats: number, seed: number): { mean: number; std: number }[] {
  const base = rmse(y, predict(X));
  const out: { mean: number; std: number }[] = [];
  for (let j = 0; j < X.cols; j++) {
    const rng = new Rng(hashSeed(seed, 'permutation-importance', j));
    const drops: number[] = [];
    for (let r = 0; r < nRepeats; r++) {
      const column = Float64Array.from({ length: X.rows }, (_, i) => X.data[i * X.cols + j]);
      rng.shuffle(column);
      const copy = Float64Array.from(X.data);
      for (let i = 0; i < X.rows; i++) copy[i * X.cols + j] = column[i];
      drops.push(rmse(y, predict(createMatrix(X.rows, X.cols, copy))) - base);
    }
    const mean = drops.reduce((a, b) => a + b, 0) / nRepeats;
    const variance = drops.reduce((a, d) => a + (d - mean) ** 2, 0) / nRepeats;
    out.push({ mean, std: Math.sqrt(variance) });
  }
  return out;
}

describe('permutationImportance', () => {
  const { X, y } = data(200);
  const run = (seed: number, nRepeats = 4) =>
    permutationImportance({ predict, X, y, score: rmse, greaterIsBetter: false, nRepeats, seed, featureNames: ['strong', 'unused', 'weak'] });

  it('equals a naive recomputation (same shuffles, fresh copies)', () => {
    const result = run(5);
    const expected = naive(X, y, 4, 5);
    expect(result.baseline).toBe(0);
    result.features.forEach((f, j) => {
      expect(f.mean).toBeCloseTo(expected[j].mean, 12);
      expect(f.std).toBeCloseTo(expected[j].std, 12);
      expect(f.drops).toHaveLength(4);
    });
  });

  it('an unused column has exactly zero importance; the strong one outranks the weak one', () => {
    const result = run(1);
    expect(result.features.map((f) => f.name)).toEqual(['strong', 'unused', 'weak']);
    expect(result.features[1].drops).toEqual([0, 0, 0, 0]);
    expect(result.features[0].mean).toBeGreaterThan(result.features[2].mean);
    expect(result.features[2].mean).toBeGreaterThan(0);
  });

  it('is reproducible under a seed, differs across seeds, and leaves X untouched', () => {
    const before = Float64Array.from(X.data);
    expect(run(3)).toEqual(run(3));
    expect(run(3).features[0].drops).not.toEqual(run(4).features[0].drops);
    expect(X.data).toEqual(before);
  });

  it('greater-is-better scorers report the loss as baseline − permuted', () => {
    const negRmse = (t: ArrayLike<number>, p: Float64Array): number => -rmse(t, p);
    const a = permutationImportance({ predict, X, y, score: negRmse, greaterIsBetter: true, nRepeats: 3, seed: 2 });
    const b = permutationImportance({ predict, X, y, score: rmse, greaterIsBetter: false, nRepeats: 3, seed: 2 });
    a.features.forEach((f, j) => expect(f.mean).toBeCloseTo(b.features[j].mean, 12));
    expect(a.features[0].name).toBe('feature_0');
  });

  it('rejects bad arguments', () => {
    expect(() => permutationImportance({ predict, X, y, score: rmse, greaterIsBetter: false, nRepeats: 0 })).toThrow(/positive integer/);
    expect(() => permutationImportance({ predict, X, y: y.subarray(1), score: rmse, greaterIsBetter: false })).toThrow(/rows/);
    expect(() => permutationImportance({ predict, X, y, score: rmse, greaterIsBetter: false, featureNames: ['a'] })).toThrow(/feature names/);
  });
});
