import { describe, expect, it } from 'vitest';
import { linearRegression, logisticObjective, logisticRegression, minimizeLbfgs } from '../../../src/learners/linear.js';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { Rng } from '../../../src/learners/rng.js';

function randomRegression(seed: number, n: number, d: number): { X: Matrix; y: Float64Array } {
  const rng = new Rng(seed);
  const X = createMatrix(n, d, Float64Array.from({ length: n * d }, () => rng.normal()));
  const y = Float64Array.from({ length: n }, (_, i) => {
    let t = 3;
    for (let j = 0; j < d; j++) t += (j % 2 ? -1 : 2) * X.data[i * d + j];
    return t + 0.3 * rng.normal();
  });
  return { X, y };
}

/** Independent reference: Gaussian elimination with partial pivoting. */
function gaussSolve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

function coefOf(model: { toJSON(): { state: unknown } }): number[] {
  return (model.toJSON().state as { coef: number[] }).coef;
}

describe('minimizeLbfgs', () => {
  it('finds the minimum of a convex quadratic', () => {
    // f(w) = ½ wᵀAw − bᵀw with A = diag(1..5) + 0.5·11ᵀ; minimum at A⁻¹b.
    const d = 5;
    const A = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? i + 1 : 0) + 0.5));
    const b = [1, -2, 3, 0.5, -1];
    const w = new Float64Array(d);
    minimizeLbfgs(
      (v, g) => {
        let f = 0;
        for (let i = 0; i < d; i++) {
          g[i] = -b[i];
          for (let j = 0; j < d; j++) g[i] += A[i][j] * v[j];
          f += 0.5 * v[i] * (g[i] - b[i]);
        }
        return f;
      },
      w,
      { maxIter: 200, gradientTol: 1e-12 },
    );
    const expected = gaussSolve(A, b);
    // The relative-decrease stop (scipy's ftol, 64ε) ends near 1e-9 from the optimum.
    for (let i = 0; i < d; i++) expect(w[i]).toBeCloseTo(expected[i], 7);
  });
});

describe('linear_regression', () => {
  it('ridge equals the closed form (X̃ᵀX̃ + αI)w = X̃ᵀỹ on centred data, with sample weights', async () => {
    const { X, y } = randomRegression(1, 40, 3);
    const rng = new Rng(2);
    const sw = Float64Array.from({ length: 40 }, () => 0.2 + rng.next());
    const model = await linearRegression.fit({ X, y, task: 'regression', sampleWeight: sw }, { alpha: 2.5 }, { seed: 0 });
    const total = sw.reduce((a, b) => a + b, 0);
    const xm = [0, 1, 2].map((j) => sw.reduce((a, w, i) => a + w * X.data[i * 3 + j], 0) / total);
    const ym = sw.reduce((a, w, i) => a + w * y[i], 0) / total;
    const A = [0, 1, 2].map((a) => [0, 1, 2].map((b) => sw.reduce((s, w, i) => s + w * (X.data[i * 3 + a] - xm[a]) * (X.data[i * 3 + b] - xm[b]), 0) + (a === b ? 2.5 : 0)));
    const rhs = [0, 1, 2].map((a) => sw.reduce((s, w, i) => s + w * (X.data[i * 3 + a] - xm[a]) * (y[i] - ym), 0));
    const expected = gaussSolve(A, rhs);
    const coef = coefOf(model);
    for (let j = 0; j < 3; j++) expect(coef[j]).toBeCloseTo(expected[j], 10);
    expect(coef[3]).toBeCloseTo(ym - expected.reduce((a, w, j) => a + w * xm[j], 0), 10);
  });

  for (const [penalty, l1Ratio] of [['l1', 1], ['elasticnet', 0.3]] as const) {
    it(`${penalty} satisfies the optimality (KKT) conditions`, async () => {
      const { X, y } = randomRegression(3, 60, 6);
      const alpha = 0.2;
      const model = await linearRegression.fit({ X, y, task: 'regression' }, { alpha, penalty, l1_ratio: 0.3, tol: 1e-10, max_iter: 100_000 }, { seed: 0 });
      const coef = coefOf(model);
      const n = 60;
      // Gradient of the smooth part: −(1/n) Xᵀ r + α(1−ρ)w; subgradient of αρ|w| must cancel it.
      for (let j = 0; j < 6; j++) {
        let g = 0;
        for (let i = 0; i < n; i++) {
          let r = y[i] - coef[6];
          for (let k = 0; k < 6; k++) r -= coef[k] * X.data[i * 6 + k];
          g -= (r * X.data[i * 6 + j]) / n;
        }
        g += alpha * (1 - l1Ratio) * coef[j];
        if (coef[j] !== 0) expect(g + alpha * l1Ratio * Math.sign(coef[j])).toBeCloseTo(0, 6);
        else expect(Math.abs(g)).toBeLessThanOrEqual(alpha * l1Ratio + 1e-6);
      }
      // Residuals have zero mean: the intercept is optimal.
      let mean = 0;
      for (let i = 0; i < n; i++) {
        let r = y[i] - coef[6];
        for (let k = 0; k < 6; k++) r -= coef[k] * X.data[i * 6 + k];
        mean += r / n;
      }
      expect(mean).toBeCloseTo(0, 8);
    });
  }

  it('a large l1 penalty zeroes every weight and predicts the mean', async () => {
    const { X, y } = randomRegression(4, 30, 3);
    const model = await linearRegression.fit({ X, y, task: 'regression' }, { alpha: 1e4, penalty: 'l1' }, { seed: 0 });
    expect(coefOf(model).slice(0, 3)).toEqual([0, 0, 0]);
    expect(model.predict(X)[0]).toBeCloseTo(y.reduce((a, b) => a + b, 0) / 30, 10);
  });
});

describe('logistic_regression', () => {
  /** Finite-difference check of the penalised objective's gradient at the optimum: it must vanish. */
  for (const k of [2, 3]) {
    it(`L2 solution has zero gradient of C·Σloss + ½‖W‖² (${k} classes)`, async () => {
      const rng = new Rng(5 + k);
      const n = 45;
      const d = 2;
      const X = createMatrix(n, d, Float64Array.from({ length: n * d }, () => rng.normal()));
      const y = Float64Array.from({ length: n }, (_, i) => (X.data[i * d] + 0.5 * rng.normal() > 0 ? 1 : 0) + (k === 3 && i % 3 === 0 ? 1 : 0));
      const C = 0.7;
      const model = await logisticRegression.fit({ X, y, task: 'classification', nClasses: k }, { C, tol: 1e-10, max_iter: 1000 }, { seed: 0 });
      const coef = coefOf(model);
      const rows = k === 2 ? 1 : k;
      // Objective written independently from probabilities.
      const objective = (w: number[]): number => {
        let f = 0;
        for (let i = 0; i < n; i++) {
          const z = Array.from({ length: rows }, (_, r) => w[r * 3 + 2] + w[r * 3] * X.data[i * 2] + w[r * 3 + 1] * X.data[i * 2 + 1]);
          const logits = rows === 1 ? [0, z[0]] : z;
          const m = Math.max(...logits);
          const lse = m + Math.log(logits.reduce((a, v) => a + Math.exp(v - m), 0));
          f += C * (lse - logits[y[i]]);
        }
        for (let r = 0; r < rows; r++) f += 0.5 * (w[r * 3] ** 2 + w[r * 3 + 1] ** 2);
        return f;
      };
      for (let p = 0; p < coef.length; p++) {
        const h = 1e-6;
        const plus = [...coef];
        const minus = [...coef];
        plus[p] += h;
        minus[p] -= h;
        expect((objective(plus) - objective(minus)) / (2 * h)).toBeCloseTo(0, 4);
      }
    });
  }

  it('L1 zeroes a useless feature and keeps a useful one', async () => {
    const rng = new Rng(21);
    const n = 200;
    const X = createMatrix(n, 2, Float64Array.from({ length: n * 2 }, () => rng.normal()));
    const y = Float64Array.from({ length: n }, (_, i) => (X.data[i * 2] > 0 ? 1 : 0));
    const model = await logisticRegression.fit({ X, y, task: 'classification', nClasses: 2 }, { penalty: 'l1', C: 0.05, max_iter: 500 }, { seed: 0 });
    const coef = coefOf(model);
    expect(coef[1]).toBe(0);
    expect(coef[0]).toBeGreaterThan(0);
  });
});

/** Independent reference: the mean weighted log-loss and its gradient, one row at a time, in row order. */
function naiveLogistic(X: Matrix, y: Float64Array, sw: Float64Array, rows: number, w: Float64Array): { loss: number; grad: Float64Array } {
  const d = X.cols;
  const grad = new Float64Array(w.length);
  let total = 0;
  for (let i = 0; i < X.rows; i++) total += sw[i];
  let loss = 0;
  for (let i = 0; i < X.rows; i++) {
    const weight = sw[i] / total;
    if (weight === 0) continue;
    const z = Array.from({ length: rows }, (_, r) => {
      // Same four-way split of the dot product as the kernel, so the comparison can be exact.
      const acc = [0, 0, 0, 0];
      let j = 0;
      for (; j + 3 < d; j += 4) for (let l = 0; l < 4; l++) acc[l] += w[r * (d + 1) + j + l] * X.data[i * d + j + l];
      for (; j < d; j++) acc[0] += w[r * (d + 1) + j] * X.data[i * d + j];
      return w[r * (d + 1) + d] + (acc[0] + acc[1] + acc[2] + acc[3]);
    });
    const factors: number[] = [];
    if (rows === 1) {
      const p = z[0] >= 0 ? 1 / (1 + Math.exp(-z[0])) : Math.exp(z[0]) / (1 + Math.exp(z[0]));
      loss += weight * ((z[0] > 0 ? z[0] + Math.log1p(Math.exp(-z[0])) : Math.log1p(Math.exp(z[0]))) - y[i] * z[0]);
      factors.push(weight * (p - y[i]));
    } else {
      const max = Math.max(...z);
      const e = z.map((v) => Math.exp(v - max));
      let sum = 0;
      for (const v of e) sum += v;
      loss += weight * (Math.log(sum) + max - z[y[i]]);
      for (let r = 0; r < rows; r++) factors.push(weight * (e[r] / sum - (r === y[i] ? 1 : 0)));
    }
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) grad[r * (d + 1) + j] += factors[r] * X.data[i * d + j];
      grad[r * (d + 1) + d] += factors[r];
    }
  }
  return { loss, grad };
}

describe('logistic objective kernel', () => {
  it('equals a row-by-row evaluation bitwise (blocks of four, a ragged tail, zero weights)', () => {
    const rng = new Rng(21);
    for (const [n, d, k] of [
      [23, 7, 2],
      [41, 13, 4],
      [9, 3, 3],
      // Two classes take the sigmoid kernel: blocks of eight samples, then a ragged tail.
      [203, 21, 2],
      [8, 4, 2],
      [7, 2, 2],
    ] as const) {
      const X = createMatrix(n, d, Float64Array.from({ length: n * d }, () => rng.normal() * 2));
      const y = Float64Array.from({ length: n }, () => rng.int(k));
      const sw = Float64Array.from({ length: n }, (_, i) => (i % 5 === 2 ? 0 : 0.5 + rng.next()));
      const rows = k === 2 ? 1 : k;
      const f = logisticObjective({ X, y, task: 'classification', nClasses: k, sampleWeight: sw }, rows);
      for (let trial = 0; trial < 3; trial++) {
        const w = Float64Array.from({ length: rows * (d + 1) }, () => rng.normal());
        const grad = new Float64Array(w.length);
        const loss = f(w, grad);
        const reference = naiveLogistic(X, y, sw, rows, w);
        expect(loss).toBe(reference.loss);
        expect(Array.from(grad)).toEqual(Array.from(reference.grad));
      }
    }
  });
});

describe('logistic predict kernel', () => {
  // 1 and 3 rows (odd: a zero row pads the last pair), 1101 rows (three kernel calls of up to 512).
  for (const [n, k] of [
    [1, 2],
    [3, 3],
    [1101, 2],
    [1101, 4],
  ]) {
    it(`probabilities equal a row-by-row evaluation from the saved weights, bitwise (${n} rows, ${k} classes)`, async () => {
      const rng = new Rng(40 + n + k);
      const d = 5;
      const train = 60;
      const X = createMatrix(train, d, Float64Array.from({ length: train * d }, () => rng.normal()));
      const y = Float64Array.from({ length: train }, (_, i) => i % k);
      const model = await logisticRegression.fit({ X, y, task: 'classification', nClasses: k }, {}, { seed: 0 });
      const coef = coefOf(model);
      const rows = k === 2 ? 1 : k;
      const Q = createMatrix(n, d, Float64Array.from({ length: n * d }, () => rng.normal() * 3));
      const proba = model.predictProba!(Q).data;
      for (let i = 0; i < n; i++) {
        // z_r = b_r + Σ_j w_rj·x_j, added onto the intercept in j order.
        const z = Array.from({ length: rows }, (_, r) => {
          let sum = coef[r * (d + 1) + d];
          for (let j = 0; j < d; j++) sum += coef[r * (d + 1) + j] * Q.data[i * d + j];
          return sum;
        });
        let expected: number[];
        if (rows === 1) {
          const p1 = z[0] >= 0 ? 1 / (1 + Math.exp(-z[0])) : Math.exp(z[0]) / (1 + Math.exp(z[0]));
          expected = [1 - p1, p1];
        } else {
          const max = Math.max(...z);
          const e = z.map((v) => Math.exp(v - max));
          let sum = 0;
          for (const v of e) sum += v;
          expected = e.map((v) => v / sum);
        }
        expect(Array.from(proba.subarray(i * k, (i + 1) * k))).toEqual(expected);
      }
    });
  }
});
