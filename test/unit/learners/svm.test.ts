/**
 * svm: the SMO solver is checked against closed forms, against the KKT optimality conditions computed from
 * scratch, and against a naive second dual solver (dense Q, first-order maximal-violating-pair selection,
 * no shrinking, no cache) run to a tight tolerance. Agreement with scikit-learn's scores on the shared data
 * sets lives in others-accuracy.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { coupleProbabilities, fitSigmoid, scaleGamma, svm } from '../../../src/learners/svm.js';
import { KernelData, RBF_ROWS_PER_CALL, RbfRows, RowArena, RowCache, kernelAgainst, type RowFiller } from '../../../src/learners/svm/kernel.js';
import { ClassificationQ, solveSmo } from '../../../src/learners/svm/smo.js';
import { trainClassifier } from '../../../src/learners/svm/train.js';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { Rng } from '../../../src/learners/rng.js';
import { instantiateKernel } from '../../../src/runtime/wasm.js';
import { wasmBase64 } from '../../../src/generated/wasm/linalg.js';

interface SvmStateJson {
  labels: number[];
  counts: number[];
  sv: number[];
  coef: number[];
  rho: number[];
}

function blobs(seed: number, n: number, k: number, d = 3): { X: Matrix; y: Float64Array } {
  const rng = new Rng(seed);
  const X = createMatrix(n, d, new Float64Array(n * d));
  const y = Float64Array.from({ length: n }, () => rng.int(k));
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X.data[i * d + j] = rng.normal() + (y[i] === j % k ? 1.5 : 0);
  return { X, y };
}

/** Kernel written out independently: rbf from Σ(a − b)², linear as a plain sum. */
function referenceKernel(kind: 'rbf' | 'linear', gamma: number, X: Matrix, a: number, Y: Matrix, b: number): number {
  let sum = 0;
  for (let j = 0; j < X.cols; j++) {
    const u = X.data[a * X.cols + j];
    const v = Y.data[b * Y.cols + j];
    sum += kind === 'rbf' ? (u - v) ** 2 : u * v;
  }
  return kind === 'rbf' ? Math.exp(-gamma * sum) : sum;
}

/**
 * Reference dual solver for min ½αᵀQα + pᵀα, yᵀα = 0, 0 ≤ α ≤ C: each step moves the maximal violating
 * pair (Keerthi et al. 2001) to its clipped optimum. ρ = −(m + M)/2 from the final violation bounds.
 */
function naiveDual(Q: Float64Array, p: Float64Array, y: Int8Array, C: number, tol: number): { alpha: Float64Array; rho: number } {
  const l = p.length;
  const alpha = new Float64Array(l);
  const G = Float64Array.from(p);
  for (let iteration = 0; iteration < 1_000_000; iteration++) {
    let m = -Infinity;
    let M = Infinity;
    let i = -1;
    let j = -1;
    for (let t = 0; t < l; t++) {
      const v = -y[t] * G[t];
      const up = y[t] === 1 ? alpha[t] < C : alpha[t] > 0;
      const low = y[t] === 1 ? alpha[t] > 0 : alpha[t] < C;
      if (up && v > m) [m, i] = [v, t];
      if (low && v < M) [M, j] = [v, t];
    }
    if (m - M < tol) return { alpha, rho: -(m + M) / 2 };
    const curvature = Q[i * l + i] + Q[j * l + j] - 2 * y[i] * y[j] * Q[i * l + j];
    let step = (m - M) / Math.max(curvature, 1e-12);
    step = Math.min(step, y[i] === 1 ? C - alpha[i] : alpha[i], y[j] === 1 ? alpha[j] : C - alpha[j]);
    alpha[i] += y[i] * step;
    alpha[j] -= y[j] * step;
    for (let t = 0; t < l; t++) G[t] += step * (y[i] * Q[t * l + i] - y[j] * Q[t * l + j]);
  }
  throw new Error('reference solver did not converge');
}

/** Binary C-SVC by the reference solver: decision(x) = Σ yᵢαᵢK(xᵢ, x) − ρ, positive for `positiveClass`. */
function naiveBinary(X: Matrix, positive: boolean[], kind: 'rbf' | 'linear', gamma: number, C: number) {
  const l = X.rows;
  const y = Int8Array.from(positive, (isPositive) => (isPositive ? 1 : -1));
  const Q = new Float64Array(l * l);
  for (let a = 0; a < l; a++) for (let b = 0; b < l; b++) Q[a * l + b] = y[a] * y[b] * referenceKernel(kind, gamma, X, a, X, b);
  const { alpha, rho } = naiveDual(Q, new Float64Array(l).fill(-1), y, C, 1e-10);
  const coef = Float64Array.from(alpha, (a, i) => a * y[i]);
  return { coef, rho, decision: (query: Matrix, q: number) => coef.reduce((sum, c, i) => sum + c * referenceKernel(kind, gamma, X, i, query, q), 0) - rho };
}

/** One-vs-one vote from the reference solver, ties to the lower class (libsvm's rule). */
function naivePredict(X: Matrix, y: Float64Array, k: number, query: Matrix, kind: 'rbf' | 'linear', gamma: number, C: number): number[] {
  const votes = Array.from({ length: query.rows }, () => new Array<number>(k).fill(0));
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const rows = [...y.keys()].filter((i) => y[i] === a || y[i] === b);
      const sub = createMatrix(rows.length, X.cols, Float64Array.from(rows.flatMap((i) => Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols)))));
      const model = naiveBinary(sub, rows.map((i) => y[i] === a), kind, gamma, C);
      for (let q = 0; q < query.rows; q++) votes[q][model.decision(query, q) > 0 ? a : b]++;
    }
  }
  return votes.map((v) => v.indexOf(Math.max(...v)));
}

/** The training row each support vector was copied from (rows are distinct in these data). */
function svTrainingRows(state: SvmStateJson, X: Matrix): number[] {
  const d = X.cols;
  return state.coef.slice(0, state.sv.length / d).map((_, s) => {
    for (let i = 0; i < X.rows; i++) if (X.data.subarray(i * d, (i + 1) * d).every((v, j) => v === state.sv[s * d + j])) return i;
    throw new Error(`support vector ${s} is not a training row`);
  });
}

describe('svm solver', () => {
  it('two points, linear kernel: the closed-form hard-margin and box-bounded solutions', async () => {
    // x₊ = (1, 0), x₋ = (−1, 0): α = 2/‖x₊ − x₋‖² = 0.5 when C ≥ 0.5, else α = C; ρ = 0 by symmetry.
    const X = createMatrix(2, 2, Float64Array.from([1, 0, -1, 0]));
    const y = Float64Array.from([0, 1]);
    for (const [C, alpha] of [
      [10, 0.5],
      [0.1, 0.1],
    ]) {
      const model = await svm.fit({ X, y, task: 'classification', nClasses: 2 }, { kernel: 'linear', C, tol: 1e-12 }, { seed: 0 });
      const state = model.toJSON().state as SvmStateJson;
      expect(state.sv).toEqual([1, 0, -1, 0]);
      expect(state.coef[0]).toBeCloseTo(alpha, 12);
      expect(state.coef[1]).toBeCloseTo(-alpha, 12);
      expect(Math.abs(state.rho[0])).toBeLessThan(1e-12);
      expect(Array.from(model.predict(createMatrix(3, 2, Float64Array.from([0.2, 5, -0.1, -3, 3, 0]))))).toEqual([0, 1, 0]);
    }
  });

  for (const kind of ['rbf', 'linear'] as const) {
    it(`binary ${kind}: dual coefficients and rho match the reference solver (both to 1e-10)`, async () => {
      const { X, y } = blobs(21, 70, 2);
      const gamma = scaleGamma(X);
      const model = await svm.fit({ X, y, task: 'classification', nClasses: 2 }, { kernel: kind, C: 2, tol: 1e-10 }, { seed: 0 });
      const state = model.toJSON().state as SvmStateJson;
      const reference = naiveBinary(X, Array.from(y, (c) => c === 0), kind, gamma, 2);
      // The rbf dual is strictly convex (unique α); the linear one need not be, so compare w and ρ there.
      if (kind === 'rbf') {
        const coefByRow = new Float64Array(X.rows);
        svTrainingRows(state, X).forEach((row, s) => (coefByRow[row] = state.coef[s]));
        for (let i = 0; i < X.rows; i++) expect(Math.abs(coefByRow[i] - reference.coef[i])).toBeLessThan(1e-6);
      } else {
        const rows = svTrainingRows(state, X);
        for (let j = 0; j < X.cols; j++) {
          const w = rows.reduce((sum, row, s) => sum + state.coef[s] * X.data[row * X.cols + j], 0);
          const wReference = reference.coef.reduce((sum, c, i) => sum + c * X.data[i * X.cols + j], 0);
          expect(Math.abs(w - wReference)).toBeLessThan(1e-6);
        }
      }
      expect(Math.abs(state.rho[0] - reference.rho)).toBeLessThan(1e-6);
    });

    it(`4 classes, ${kind}: one-vs-one predictions equal the reference solver's vote`, async () => {
      const { X, y } = blobs(3, 120, 4);
      const query = blobs(4, 60, 4).X;
      const model = await svm.fit({ X, y, task: 'classification', nClasses: 4 }, { kernel: kind, C: 2, tol: 1e-10 }, { seed: 0 });
      expect(Array.from(model.predict(query))).toEqual(naivePredict(X, y, 4, query, kind, scaleGamma(X), 2));
    });
  }

  it('at the default tolerance the binary solution satisfies the KKT conditions to within tol', async () => {
    const { X, y } = blobs(9, 150, 2, 4);
    const tol = 1e-3;
    const C = 0.7;
    const model = await svm.fit({ X, y, task: 'classification', nClasses: 2 }, { C, tol }, { seed: 0 });
    const state = model.toJSON().state as SvmStateJson;
    const gamma = scaleGamma(X);
    const alphaY = new Float64Array(X.rows);
    svTrainingRows(state, X).forEach((row, s) => (alphaY[row] = state.coef[s]));
    for (let i = 0; i < X.rows; i++) {
      let f = -state.rho[0];
      for (let t = 0; t < X.rows; t++) if (alphaY[t] !== 0) f += alphaY[t] * referenceKernel('rbf', gamma, X, t, X, i);
      const yi = y[i] === 0 ? 1 : -1;
      const alpha = alphaY[i] * yi;
      expect(alpha).toBeGreaterThanOrEqual(0);
      expect(alpha).toBeLessThanOrEqual(C);
      // yᵢf(xᵢ) − 1 = yᵢ(yᵢ∇ᵢ − ρ): ≥ 0 at α = 0, = 0 when free, ≤ 0 at α = C, each to within tol.
      const margin = yi * f - 1;
      if (alpha === 0) expect(margin).toBeGreaterThan(-tol);
      else if (alpha === C) expect(margin).toBeLessThan(tol);
      else expect(Math.abs(margin)).toBeLessThan(tol);
    }
    expect(state.coef.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 10); // yᵀα = 0
  });

  it('epsilon-SVR satisfies its KKT conditions and matches the reference solver', async () => {
    const { X } = blobs(5, 80, 2);
    const y = Float64Array.from({ length: 80 }, (_, i) => X.data[i * 3] * 2 - X.data[i * 3 + 1] + 0.3 * Math.sin(7 * i));
    const C = 3;
    const epsilon = 0.05;
    const gamma = scaleGamma(X);
    const model = await svm.fit({ X, y, task: 'regression' }, { C, epsilon, tol: 1e-10 }, { seed: 0 });
    const state = model.toJSON().state as SvmStateJson;
    const coef = new Float64Array(X.rows);
    svTrainingRows(state, X).forEach((row, s) => (coef[row] = state.coef[s]));
    // Reference: the same 2l-variable dual (α⁺ then α⁻) with p = ε ∓ y.
    const l = X.rows;
    const signs = new Int8Array(2 * l).fill(1, 0, l).fill(-1, l);
    const Q = new Float64Array(4 * l * l);
    for (let a = 0; a < 2 * l; a++) {
      for (let b = 0; b < 2 * l; b++) Q[a * 2 * l + b] = signs[a] * signs[b] * referenceKernel('rbf', gamma, X, a % l, X, b % l);
    }
    const p = Float64Array.from({ length: 2 * l }, (_, a) => (a < l ? epsilon - y[a] : epsilon + y[a - l]));
    const reference = naiveDual(Q, p, signs, C, 1e-10);
    for (let i = 0; i < l; i++) expect(Math.abs(coef[i] - (reference.alpha[i] - reference.alpha[i + l]))).toBeLessThan(1e-6);
    expect(Math.abs(state.rho[0] - reference.rho)).toBeLessThan(1e-6);
    const predicted = model.predict(X);
    for (let i = 0; i < l; i++) {
      const residual = y[i] - predicted[i];
      // |residual| < ε ⇒ coefficient 0; |coefficient| < C ⇒ |residual| ≤ ε; the sign of a nonzero coefficient follows the residual.
      if (Math.abs(residual) < epsilon - 1e-6) expect(Math.abs(coef[i])).toBeLessThan(1e-9);
      if (Math.abs(coef[i]) > 1e-9 && Math.abs(coef[i]) < C - 1e-9) expect(Math.abs(Math.abs(residual) - epsilon)).toBeLessThan(1e-6);
      if (Math.abs(coef[i]) > 1e-9) expect(Math.sign(coef[i])).toBe(Math.sign(residual));
    }
  });

  it('a cache of two rows gives the same solution as a full cache; without shrinking, the same decisions to O(tol)', () => {
    // Overlapping classes and a large C: thousands of iterations, so shrinking (and cache swaps) really happen.
    const n = 300;
    const C = 100;
    const rng = new Rng(13);
    const labels = Float64Array.from({ length: n }, () => rng.int(2));
    const X = createMatrix(n, 5, new Float64Array(n * 5));
    for (let i = 0; i < n; i++) for (let j = 0; j < 5; j++) X.data[i * 5 + j] = rng.normal() + (labels[i] === j % 2 ? 0.5 : 0);
    const signs = Int8Array.from(labels, (c) => (c === 0 ? 1 : -1));
    const kernel = new KernelData(X.data, n, 5, 'rbf', scaleGamma(X), false);
    const rows = Int32Array.from({ length: n }, (_, i) => i);
    const solve = (cacheBytes: number | undefined, shrinking: boolean) =>
      solveSmo({
        q: new ClassificationQ(kernel, rows, signs, cacheBytes),
        linear: new Float64Array(n).fill(-1),
        y: signs,
        alpha: new Float64Array(n),
        cPositive: C,
        cNegative: C,
        tolerance: 1e-3,
        shrinking,
      });
    const full = solve(undefined, true);
    expect(full.converged).toBe(true);
    expect(full.iterations).toBeGreaterThan(2 * n);
    // Eviction only forces recomputation: the same path, bit for bit.
    const tiny = solve(2 * 8 * n, true);
    expect(tiny.alpha).toEqual(full.alpha);
    expect(tiny.rho).toBe(full.rho);
    // Without shrinking the path differs; both stop once the maximal violation is below tol = 1e-3.
    const unshrunk = solve(undefined, false);
    expect(unshrunk.iterations).not.toBe(full.iterations);
    const decision = (alpha: Float64Array, rho: number, i: number): number => {
      let f = -rho;
      for (let t = 0; t < n; t++) if (alpha[t] !== 0) f += signs[t] * alpha[t] * referenceKernel('rbf', scaleGamma(X), X, t, X, i);
      return f;
    };
    for (let i = 0; i < n; i++) expect(Math.abs(decision(full.alpha, full.rho, i) - decision(unshrunk.alpha, unshrunk.rho, i))).toBeLessThan(5e-3);
  });

  it('one-vs-one training (shared memoised kernel in class order, reused row memory) equals each pair solved alone, bit for bit', () => {
    const { X, y } = blobs(21, 150, 4, 5);
    const n = X.rows;
    for (const kind of ['rbf', 'linear'] as const) {
      const gamma = scaleGamma(X);
      const trained = trainClassifier(X, y, { kernel: kind, gamma, C: 2, epsilon: 0, tolerance: 1e-3 });
      const svIndex = new Map(Array.from(trained.svRows, (row, s) => [row, s]));
      const totalSv = trained.svRows.length;
      let p = 0;
      for (let a = 0; a < 4; a++) {
        for (let b = a + 1; b < 4; b++) {
          // Pair (a, b) from scratch: original row order, unmemoised kernel, a cache of its own.
          const rows = Int32Array.from([...y.keys()].filter((i) => y[i] === a).concat([...y.keys()].filter((i) => y[i] === b)));
          const signs = Int8Array.from(rows, (i) => (y[i] === a ? 1 : -1));
          const alone = solveSmo({
            q: new ClassificationQ(new KernelData(X.data, n, X.cols, kind, gamma, false), rows, signs),
            linear: new Float64Array(rows.length).fill(-1),
            y: signs,
            alpha: new Float64Array(rows.length),
            cPositive: 2,
            cNegative: 2,
            tolerance: 1e-3,
            shrinking: true,
          });
          expect(trained.rho[p++]).toBe(alone.rho);
          rows.forEach((row, k) => {
            const coefficient = alone.alpha[k] * signs[k];
            const s = svIndex.get(row);
            if (s === undefined) {
              expect(coefficient === 0).toBe(true); // ±0: not a support vector of any pair
              return;
            }
            // Coefficients of class a's vectors sit in coefficient row b − 1, of class b's in row a (libsvm's layout).
            expect(trained.coef[(y[row] === a ? b - 1 : a) * totalSv + s]).toBe(coefficient);
          });
        }
      }
    }
  });

  it('rbf kernel rows and decision sums in blocks (WebAssembly) equal a direct evaluation bit for bit, and so do predictions', async () => {
    const rng = new Rng(3);
    const d = 7;
    const count = 23; // not a multiple of the kernel's 8-vector block: padding lanes are dropped
    const gamma = 0.3;
    const sv = Float64Array.from({ length: count * d }, () => rng.normal());
    const otherSv = Float64Array.from({ length: 5 * d }, () => rng.normal());
    const x = Float64Array.from({ length: 70 * d }, () => rng.normal());
    // Three one-vs-one blocks of support vectors (7, 8 and 8), libsvm's coefficient layout.
    const starts = Int32Array.from([0, 7, 15, 23]);
    const coef = Float64Array.from({ length: 2 * count }, () => rng.normal());
    const rho = Float64Array.from({ length: 3 }, () => rng.normal());
    const blocks = new RbfRows(sv, count, d, gamma, { coef, starts, rho });
    const other = new RbfRows(otherSv, 5, d, gamma, { coef: new Float64Array(0), starts: Int32Array.from([0, 5]), rho: new Float64Array(1) });
    const direct = (vectors: Float64Array, row: number, s: number): number => {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += (x[row * d + j] - vectors[s * d + j]) ** 2;
      return Math.exp(-gamma * sum);
    };
    // 1 and 3 rows (odd: a zero row pads the pair), a full block, and another RbfRows in between (memory handed over).
    for (const [first, rows] of [[0, 1], [5, 3], [6, RBF_ROWS_PER_CALL]]) {
      const out = new Float64Array(RBF_ROWS_PER_CALL * count);
      blocks.fill(x, first, rows, out);
      const single = new Float64Array(count);
      for (let r = 0; r < rows; r++) {
        kernelAgainst('rbf', gamma, x, (first + r) * d, sv, count, d, single);
        expect(Array.from(out.subarray(r * count, (r + 1) * count))).toEqual(Array.from(single));
        for (let s = 0; s < count; s++) expect(out[r * count + s]).toBe(direct(sv, first + r, s));
      }
      const otherOut = new Float64Array(RBF_ROWS_PER_CALL * 5);
      other.fill(x, first, 2, otherOut);
      for (let s = 0; s < 5; s++) expect(otherOut[5 + s]).toBe(direct(otherSv, first + 1, s));
      // Decision sums: per block pair (0,1), (0,2), (1,2), block i's vectors then block j's, in order, minus rho.
      const sums = Array.from(blocks.pairSums(x, first, rows));
      const expected: number[] = [];
      for (let r = 0; r < rows; r++) {
        let p = 0;
        for (let i = 0; i < 3; i++) {
          for (let j = i + 1; j < 3; j++) {
            let sum = 0;
            for (let s = starts[i]; s < starts[i + 1]; s++) sum += coef[(j - 1) * count + s] * direct(sv, first + r, s);
            for (let s = starts[j]; s < starts[j + 1]; s++) sum += coef[i * count + s] * direct(sv, first + r, s);
            expected.push(sum - rho[p++]);
          }
        }
      }
      expect(sums).toEqual(expected);
    }
    // 131 rows: two full blocks of 64 and an odd remainder; each row predicted alone must agree.
    const { X, y } = blobs(8, 131, 3);
    const model = await svm.fit({ X, y, task: 'classification', nClasses: 3 }, {}, { seed: 0 });
    const together = model.predict(X);
    for (let i = 0; i < X.rows; i++) {
      expect(model.predict(createMatrix(1, X.cols, X.data.slice(i * X.cols, (i + 1) * X.cols)))[0]).toBe(together[i]);
    }
  });

  it('a row arena never hands out overlapping rows between resets, and reuses its memory after one', () => {
    const arena = new RowArena();
    const overlaps = (rows: Float64Array[]): boolean =>
      rows.some((a, i) => rows.some((b, j) => i !== j && a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength));
    const first = Array.from({ length: 10 }, () => arena.take(7, 4 * 7));
    expect(first.every((row) => row.length === 7)).toBe(true);
    expect(overlaps(first)).toBe(false);
    arena.reset();
    const again = Array.from({ length: 10 }, () => arena.take(7, 4 * 7));
    expect(overlaps(again)).toBe(false);
    expect(again.map((row) => [row.buffer, row.byteOffset])).toEqual(first.map((row) => [row.buffer, row.byteOffset]));
    arena.reset();
    // Rows longer than every chunk so far: fresh memory, still disjoint.
    const long = Array.from({ length: 3 }, () => arena.take(50, 2 * 50));
    expect(long.every((row) => row.length === 50)).toBe(true);
    expect(overlaps(long)).toBe(false);
  });

  it('the row cache keeps entries consistent under LRU eviction and index swaps (libsvm swap_index)', () => {
    const n = 12;
    // Entry (r, c) of the matrix as seen after the swaps applied so far.
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const truth = (r: number, c: number): number => 100 * order[r] + order[c];
    let filled = 0;
    const filler: RowFiller = {
      fillRow(index, from, to, row) {
        for (let c = from; c < to; c++) row[c] = truth(index, c);
        filled += to - from;
      },
    };
    const cache = new RowCache(n, n, 8 * n * 4); // four rows
    const rng = new Rng(5);
    for (let step = 0; step < 2000; step++) {
      if (rng.next() < 0.2) {
        const i = rng.int(n);
        const j = rng.int(n);
        cache.swap(i, j);
        [order[i], order[j]] = [order[j], order[i]];
      } else {
        const index = rng.int(n);
        const len = 1 + rng.int(n);
        const row = cache.get(index, len, filler);
        for (let c = 0; c < len; c++) expect(row[c]).toBe(truth(index, c));
      }
    }
    expect(filled).toBeLessThan(2000 * n * 0.6); // hits happened: not every request recomputed its row
  });
});

describe('svm', () => {
  it("gamma='scale' is 1 / (n_features · Var(X))", () => {
    const X = createMatrix(2, 2, Float64Array.from([0, 2, 4, 6]));
    expect(scaleGamma(X)).toBeCloseTo(1 / (2 * 5), 15);
  });

  it('training kernel values equal the directly computed kernel', () => {
    const { X } = blobs(2, 30, 3, 7);
    for (const kind of ['rbf', 'linear'] as const) {
      const kernel = new KernelData(X.data, X.rows, X.cols, kind, 0.37);
      const rows = Int32Array.from({ length: X.rows }, (_, i) => i);
      const signs = Float64Array.from({ length: X.rows }, (_, i) => (i % 3 === 0 ? -1 : 1));
      const out = new Float64Array(X.rows);
      for (const a of [0, 17, 29, 17, 3]) {
        kernel.fill(a, rows, 0, X.rows, out, signs, signs[a]); // repeats (17, then 3 after 0) read memoised values
        for (let b = 0; b < X.rows; b++) {
          expect(Math.abs(out[b] - signs[a] * signs[b] * referenceKernel(kind, 0.37, X, a, X, b))).toBeLessThan(1e-12);
        }
      }
    }
  });

  it('kernel rows from the whole Gram matrix (WebAssembly) equal rows computed one dot product at a time, bit for bit', () => {
    // 37 rows (not a multiple of four: padded blocks) and 9 features (odd); a second kernel's Gram matrix takes
    // over the module's memory in between, and the first lays its own out again.
    const { X } = blobs(5, 37, 3, 9);
    const other = blobs(6, 90, 3, 9).X;
    for (const kind of ['rbf', 'linear'] as const) {
      const rows = Int32Array.from({ length: X.rows }, (_, i) => (i * 11) % X.rows);
      const signs = Float64Array.from({ length: X.rows }, (_, i) => (i % 4 === 1 ? -1 : 1));
      const whole = new KernelData(X.data, X.rows, X.cols, kind, 0.21);
      const direct = new KernelData(X.data, X.rows, X.cols, kind, 0.21, false);
      const fromGram = new Float64Array(X.rows);
      const fromDots = new Float64Array(X.rows);
      for (const a of [0, 36, 5, 19]) {
        whole.fill(a, rows, 3, X.rows, fromGram, signs, signs[a]);
        direct.fill(a, rows, 3, X.rows, fromDots, signs, signs[a]);
        expect(Array.from(fromGram)).toEqual(Array.from(fromDots));
        new KernelData(other.data, other.rows, other.cols, kind, 0.21);
      }
    }
  });

  it('pairwise coupling recovers consistent probabilities', () => {
    // If r_ij = p_i / (p_i + p_j) for a true p, Wu–Lin–Weng's fixed point is p.
    const p = [0.5, 0.3, 0.2];
    const r = new Float64Array(9);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) r[i * 3 + j] = p[i] / (p[i] + p[j]);
    const out = new Float64Array(3);
    coupleProbabilities(r, 3, out);
    // libsvm stops once the fixed-point residual is below 0.005/k, so agreement is to about 1e-3.
    for (let i = 0; i < 3; i++) expect(Math.abs(out[i] - p[i])).toBeLessThan(2e-3);
  });

  it('Platt sigmoid is monotone in the decision value and matches class frequencies on separable data', () => {
    const decisions = [-3, -2, -1.5, -1, 1, 1.5, 2, 3];
    const positive = decisions.map((d) => d > 0);
    const { A, B } = fitSigmoid(decisions, positive);
    expect(A).toBeLessThan(0); // P(positive) = 1 / (1 + exp(A·f + B)) rises with f
    expect(Math.abs(B)).toBeLessThan(1e-6);
  });

  it('probability=true gives Platt probabilities; false leaves predictProba out', async () => {
    const { X, y } = blobs(8, 90, 3);
    const plain = await svm.fit({ X, y, task: 'classification', nClasses: 3 }, {}, { seed: 0 });
    expect(plain.predictProba).toBeUndefined();
    const calibrated = await svm.fit({ X, y, task: 'classification', nClasses: 3 }, { probability: true }, { seed: 0 });
    const proba = calibrated.predictProba!(X);
    let agree = 0;
    const predicted = calibrated.predict(X);
    for (let i = 0; i < X.rows; i++) {
      const row = Array.from(proba.data.subarray(i * 3, i * 3 + 3));
      if (row.indexOf(Math.max(...row)) === predicted[i]) agree++;
    }
    expect(agree / X.rows).toBeGreaterThan(0.9);
  });

  it('a cancelled fit stops with a clear error', async () => {
    const { X, y } = blobs(8, 60, 3);
    const controller = new AbortController();
    controller.abort();
    await expect(svm.fit({ X, y, task: 'classification', nClasses: 3 }, {}, { seed: 0, signal: controller.signal })).rejects.toThrow(/cancelled/);
  });
  it('the WebAssembly selection scans and gradient update equal the scalar loops they replace, bit for bit', () => {
    interface SmoExports {
      smoMaxViolation(g: number, ySign: number, upMask: number, activeSize: number, out: number): void;
      smoSecondIndex(g: number, ySign: number, lowMask: number, qd: number, qi: number, activeSize: number, i: number, gMax: number, tau: number, out: number): void;
      smoUpdateGradient(g: number, qi: number, qj: number, deltaI: number, deltaJ: number, count: number): void;
    }
    const kernel = instantiateKernel<SmoExports>('linalg', wasmBase64);
    const rng = new Rng(21);
    for (const l of [1, 2, 37, 300]) {
      kernel.ensureBytes(8 * (8 * l + 8));
      const view = (slot: number, length = l): Float64Array => new Float64Array(kernel.memory.buffer, 8 * slot * l, length);
      const [G, ySign, upMask, lowMask, qd, qi, qj] = [0, 1, 2, 3, 4, 5, 6].map((slot) => view(slot));
      const out = view(7, 4);
      for (let t = 0; t < l; t++) {
        G[t] = rng.normal();
        ySign[t] = rng.next() < 0.5 ? 1 : -1;
        // About a third masked out of each set; a few gradient ties so "the last among equals" is exercised.
        upMask[t] = rng.next() < 0.3 ? NaN : 0;
        lowMask[t] = rng.next() < 0.3 ? NaN : 0;
        if (t % 7 === 3) G[t] = G[t - 1] * (ySign[t] * ySign[t - 1]);
        qd[t] = 0.5 + rng.next();
        qi[t] = rng.normal() * (t % 11 === 0 ? 0 : 1);
        qj[t] = rng.normal();
      }
      const activeSize = Math.max(1, l - 3);
      // The scalar loops (smo.ts before the kernels).
      let gMax = -Infinity;
      let gMaxIndex = -1;
      for (let t = 0; t < activeSize; t++) {
        const value = upMask[t] - ySign[t] * G[t];
        if (value >= gMax) {
          gMax = value;
          gMaxIndex = t;
        }
      }
      kernel.exports.smoMaxViolation(0, 8 * l, 16 * l, activeSize, 56 * l);
      expect([out[0], out[1]]).toEqual([gMax, gMaxIndex]);
      const i = Math.max(gMaxIndex, 0);
      let gMax2 = -Infinity;
      let gMinIndex = -1;
      let objDiffMin = Infinity;
      const twoYi = 2 * ySign[i];
      for (let j = 0; j < activeSize; j++) {
        const yj = ySign[j];
        const value = lowMask[j] + yj * G[j];
        if (value >= gMax2) gMax2 = value;
        const gradDiff = gMax + value;
        if (gradDiff > 0) {
          const quad = qd[i] + qd[j] - twoYi * yj * qi[j];
          const objDiff = -(gradDiff * gradDiff) / (quad > 0 ? quad : 1e-12);
          if (objDiff <= objDiffMin) {
            gMinIndex = j;
            objDiffMin = objDiff;
          }
        }
      }
      kernel.exports.smoSecondIndex(0, 8 * l, 24 * l, 32 * l, 40 * l, activeSize, i, gMax, 1e-12, 56 * l);
      expect([out[2], out[3]]).toEqual([gMax2, gMinIndex]);
      const expected = Float64Array.from(G);
      for (let k = 0; k < activeSize; k++) expected[k] += qi[k] * 0.37 + qj[k] * -1.9;
      kernel.exports.smoUpdateGradient(0, 40 * l, 48 * l, 0.37, -1.9, activeSize);
      expect(Array.from(G)).toEqual(Array.from(expected));
    }
  });
});
