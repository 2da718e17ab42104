import { describe, expect, it } from 'vitest';
import { createMatrix } from '../../../src/data/matrix.js';
import { extraTrees } from '../../../src/learners/forest.js';
import { Rng } from '../../../src/learners/rng.js';
import { CartKernel } from '../../../src/learners/tree/cart.js';
import * as reference from './cart-reference.js';

/** Column-major values with ties, ±0 and a constant column, and a node: a random subset of rows in random order. */
function scenario(seed: number, n: number, p: number, K: number) {
  const rng = new Rng(seed);
  const columns = new Float64Array(n * p);
  for (let i = 0; i < columns.length; i++) {
    const f = Math.floor(i / n);
    columns[i] = f === 0 ? 2.5 : f === 1 ? [0, -0, 1, -1][rng.int(4)] : Math.round(rng.normal() * 8) / 4;
  }
  const labels = Int32Array.from({ length: n }, () => rng.int(K));
  const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  return { rng, columns, labels, order };
}

describe('extra-trees WebAssembly kernels against the JavaScript reference', () => {
  it.each([
    [2, 1, 900, 6],
    [5, 2, 700, 4],
    [10, 3, 37, 3],
  ])('%i classes (seed %i): gather, side counts and partition match bit for bit', (K, seed, n, p) => {
    const { rng, columns, labels, order } = scenario(seed, n, p, K);
    const kernel = new CartKernel(columns, n, K);
    const idx = new Int32Array(kernel.buffer, kernel.indices, n);
    const kernelLabels = new Int32Array(kernel.buffer, kernel.labels, n);
    const values = new Float64Array(kernel.buffer, kernel.values, n);
    const range = new Float64Array(kernel.buffer, kernel.range, 2);
    const counts = new Int32Array(kernel.buffer, kernel.counts, 2 * K);
    for (let trial = 0; trial < 20; trial++) {
      idx.set(order);
      kernelLabels.set(Int32Array.from(order, (r) => labels[r]));
      const start = rng.int(n >> 2);
      const end = start + 2 + rng.int(n - start - 2);
      const f = rng.int(p);
      const expectedValues = new Float64Array(n);
      const expectedRange = new Float64Array(2);
      reference.gatherColumn(columns, f * n, idx, expectedValues, start, end, expectedRange);
      kernel.fn.gatherColumn(kernel.columns + 8 * f * n, kernel.indices, kernel.values, start, end, kernel.range);
      expect(Array.from(values.subarray(start, end))).toEqual(Array.from(expectedValues.subarray(start, end)));
      // Object.is tells −0 from +0.
      expect([Object.is(range[0], expectedRange[0]), Object.is(range[1], expectedRange[1])]).toEqual([true, true]);

      const [min, max] = expectedRange;
      const threshold = trial % 5 === 0 ? min : min + rng.next() * (max - min);
      const labelsCopy = Int32Array.from(kernelLabels);
      const expectedLeft = new Float64Array(K);
      const left = new Float64Array(K);
      if (K === 2) {
        const expectedRight = reference.countBinary(expectedValues, labelsCopy, start, end, threshold, expectedLeft);
        kernel.fn.countBinary(kernel.values, kernel.labels, start, end, threshold, kernel.out);
        const [countLeft, countLeftOne] = kernel.outView;
        expect([countLeft - countLeftOne, countLeftOne, end - start - countLeft]).toEqual([...expectedLeft, expectedRight]);
      } else {
        const expectedRight = reference.countClasses(expectedValues, labelsCopy, start, end, threshold, new Int32Array(2 * K), K, expectedLeft);
        const nRight = kernel.fn.countClasses(kernel.values, kernel.labels, start, end, threshold, kernel.counts, K);
        for (let c = 0; c < K; c++) left[c] = counts[c];
        expect([...left, nRight]).toEqual([...expectedLeft, expectedRight]);
      }

      // The partition: a stable filter, left rows then right rows, each in their order.
      const positions = Array.from({ length: end - start }, (_, k) => start + k);
      const sides = [positions.filter((i) => expectedValues[i] <= threshold), positions.filter((i) => expectedValues[i] > threshold)];
      const expectedIdx = Array.from(idx);
      const expectedLabels = Array.from(kernelLabels);
      sides.flat().forEach((i, k) => {
        expectedIdx[start + k] = idx[i];
        expectedLabels[start + k] = kernelLabels[i];
      });
      values.set(expectedValues.subarray(start, end), start);
      const mid = kernel.fn.partitionStable(kernel.values, kernel.indices, kernel.labels, threshold, start, end, kernel.spareRows, kernel.spareLabels);
      expect(mid).toBe(start + sides[0].length);
      expect(Array.from(idx)).toEqual(expectedIdx);
      expect(Array.from(kernelLabels)).toEqual(expectedLabels);
    }
  });
});

describe('extra trees: the row order inside a node changes no tree', () => {
  // Unit weights take the kernel's stable partition and integer counts; weights of 2 take the JavaScript partition
  // (its own swap order) and float sums, which scale every sum, proxy and class fraction exactly by powers of two.
  it.each([2, 4])('%i classes: unit weights and weights of 2 grow identical forests', async (K) => {
    const rng = new Rng(40 + K);
    const n = 600;
    const p = 6;
    const X = createMatrix(n, p, Float64Array.from({ length: n * p }, () => Math.round(rng.normal() * 6) / 2));
    const y = Float64Array.from({ length: n }, (_, i) => (X.data[i * p] + X.data[i * p + 1] > 0 ? 1 : 0) + (K > 2 ? rng.int(K - 1) : 0));
    const data = { X, y, task: 'classification' as const, nClasses: K };
    const params = { n_estimators: 8 };
    const unit = await extraTrees.fit(data, params, { seed: 3 });
    const doubled = await extraTrees.fit({ ...data, sampleWeight: new Float64Array(n).fill(2) }, params, { seed: 3 });
    expect(JSON.stringify(doubled.toJSON().state)).toBe(JSON.stringify(unit.toJSON().state));
  });
});
