import { describe, expect, it } from 'vitest';
import { gaussianNb } from '../../../src/learners/naive-bayes.js';
import { createMatrix } from '../../../src/data/matrix.js';
import { Rng } from '../../../src/learners/rng.js';

describe('gaussian_nb', () => {
  it('matches the textbook posterior computed directly (with sample weights)', async () => {
    const rng = new Rng(11);
    const n = 30;
    const d = 2;
    const X = createMatrix(n, d, Float64Array.from({ length: n * d }, () => rng.normal() * 2));
    const y = Float64Array.from({ length: n }, (_, i) => i % 2);
    const w = Float64Array.from({ length: n }, () => 0.5 + rng.next());
    const model = await gaussianNb.fit({ X, y, task: 'classification', nClasses: 2, sampleWeight: w }, { var_smoothing: 1e-3 }, { seed: 0 });
    // Reference: weighted class statistics, epsilon from the largest unweighted column variance.
    let maxVar = 0;
    for (let j = 0; j < d; j++) {
      const col = Array.from({ length: n }, (_, i) => X.data[i * d + j]);
      const m = col.reduce((a, b) => a + b, 0) / n;
      maxVar = Math.max(maxVar, col.reduce((a, b) => a + (b - m) ** 2, 0) / n);
    }
    const stats = [0, 1].map((c) => {
      const rows = [...Array(n).keys()].filter((i) => y[i] === c);
      const total = rows.reduce((a, i) => a + w[i], 0);
      const mean = [0, 1].map((j) => rows.reduce((a, i) => a + w[i] * X.data[i * d + j], 0) / total);
      const variance = [0, 1].map((j) => rows.reduce((a, i) => a + w[i] * (X.data[i * d + j] - mean[j]) ** 2, 0) / total + 1e-3 * maxVar);
      return { total, mean, variance };
    });
    const weightSum = stats[0].total + stats[1].total;
    const query = createMatrix(1, 2, Float64Array.from([0.3, -1.2]));
    const likelihood = stats.map((s) => {
      let p = s.total / weightSum;
      for (let j = 0; j < d; j++) p *= Math.exp(-((query.data[j] - s.mean[j]) ** 2) / (2 * s.variance[j])) / Math.sqrt(2 * Math.PI * s.variance[j]);
      return p;
    });
    const proba = model.predictProba!(query);
    expect(proba.data[0]).toBeCloseTo(likelihood[0] / (likelihood[0] + likelihood[1]), 12);
    expect(proba.data[1]).toBeCloseTo(likelihood[1] / (likelihood[0] + likelihood[1]), 12);
  });

  it('stays finite far from every class (log-sum-exp)', async () => {
    const X = createMatrix(4, 1, Float64Array.from([0, 0.1, 5, 5.1]));
    const model = await gaussianNb.fit({ X, y: Float64Array.from([0, 0, 1, 1]), task: 'classification', nClasses: 2 }, {}, { seed: 0 });
    const proba = model.predictProba!(createMatrix(1, 1, Float64Array.from([1e6])));
    expect(Array.from(proba.data)).toEqual([0, 1]);
  });

  // 1100 rows span three kernel calls of 512 rows.
  it.each([53, 1100])('class statistics equal column-by-column sums in row order, bitwise (%i rows)', async (n) => {
    const rng = new Rng(5);
    const d = 6;
    const k = 3;
    const X = createMatrix(n, d, Float64Array.from({ length: n * d }, () => rng.normal() * 3 + 1));
    const y = Float64Array.from({ length: n }, (_, i) => i % k);
    const model = await gaussianNb.fit({ X, y, task: 'classification', nClasses: k }, {}, { seed: 0 });
    const state = model.toJSON().state as { means: number[]; variances: number[] };
    let maxVar = 0;
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += X.data[i * d + j];
      m /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (X.data[i * d + j] - m) ** 2;
      maxVar = Math.max(maxVar, v / n);
    }
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < d; j++) {
        let total = 0;
        let sum = 0;
        for (let i = 0; i < n; i++) {
          if (y[i] !== c) continue;
          total += 1;
          sum += X.data[i * d + j];
        }
        const mean = sum / total;
        let sq = 0;
        for (let i = 0; i < n; i++) if (y[i] === c) sq += (X.data[i * d + j] - mean) * (X.data[i * d + j] - mean);
        expect(state.means[c * d + j]).toBe(mean);
        expect(state.variances[c * d + j]).toBe(sq / total + 1e-9 * maxVar);
      }
    }
  });

  it.each([61, 1100])('probabilities equal a row-by-row evaluation from the saved statistics, bitwise (absent class included, %i rows)', async (n) => {
    const rng = new Rng(8);
    const d = 5;
    const k = 4;
    const X = createMatrix(n, d, Float64Array.from({ length: n * d }, () => rng.normal() * 2 - 0.5));
    // Class 3 never occurs: prior 0, probability 0.
    const y = Float64Array.from({ length: n }, (_, i) => i % 3);
    const model = await gaussianNb.fit({ X, y, task: 'classification', nClasses: k }, {}, { seed: 0 });
    const state = model.toJSON().state as { means: number[]; variances: number[]; priors: number[] };
    const proba = model.predictProba!(X);
    for (let i = 0; i < n; i++) {
      const jll = Array.from({ length: k }, (_, c) => {
        let logDet = 0;
        for (let j = 0; j < d; j++) logDet += Math.log(2 * Math.PI * state.variances[c * d + j]);
        const constant = Math.log(state.priors[c]) - 0.5 * logDet;
        if (constant === -Infinity) return constant;
        let quad = 0;
        for (let j = 0; j < d; j++) {
          const diff = X.data[i * d + j] - state.means[c * d + j];
          quad += diff * diff * (1 / state.variances[c * d + j]);
        }
        return constant - 0.5 * quad;
      });
      const max = Math.max(...jll);
      const e = jll.map((v) => Math.exp(v - max));
      let sum = 0;
      for (const v of e) sum += v;
      expect(Array.from(proba.data.subarray(i * k, (i + 1) * k))).toEqual(e.map((v) => v / sum));
      expect(proba.data[i * k + 3]).toBe(0);
    }
  });
});
