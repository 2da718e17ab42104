import { describe, expect, it } from 'vitest';
import { knn } from '../../../src/learners/knn.js';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { Rng } from '../../../src/learners/rng.js';

/** Independent reference: full stable sort of all distances, scikit-learn's voting rules. */
function naiveProba(train: Matrix, y: Float64Array, query: Matrix, k: number, nClasses: number, byDistance: boolean): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < query.rows; i++) {
    const distances = Array.from({ length: train.rows }, (_, t) => {
      let s = 0;
      for (let j = 0; j < train.cols; j++) s += (train.data[t * train.cols + j] - query.data[i * query.cols + j]) ** 2;
      return { t, d: Math.sqrt(s) };
    }).sort((a, b) => a.d - b.d || a.t - b.t);
    const nearest = distances.slice(0, k);
    const exact = nearest.some((n) => n.d === 0);
    const votes = new Array(nClasses).fill(0);
    for (const n of nearest) votes[y[n.t]] += !byDistance ? 1 : exact ? (n.d === 0 ? 1 : 0) : 1 / n.d;
    const total = votes.reduce((a, b) => a + b, 0);
    out.push(votes.map((v) => v / total));
  }
  return out;
}

function randomData(seed: number, rows: number, cols: number, integer: boolean): { X: Matrix; y: Float64Array } {
  const rng = new Rng(seed);
  const X = createMatrix(rows, cols, Float64Array.from({ length: rows * cols }, () => (integer ? rng.int(3) : rng.normal())));
  return { X, y: Float64Array.from({ length: rows }, () => rng.int(3)) };
}

describe('knn', () => {
  for (const weights of ['uniform', 'distance'] as const) {
    it(`matches a full-sort reference (weights=${weights}, with ties and exact matches)`, async () => {
      for (const integer of [false, true]) {
        const { X, y } = randomData(integer ? 5 : 6, 40, 3, integer);
        const query = randomData(7, 15, 3, integer).X;
        const model = await knn.fit({ X, y, task: 'classification', nClasses: 3 }, { n_neighbors: 4, weights }, { seed: 0 });
        const proba = model.predictProba!(query);
        const reference = naiveProba(X, y, query, 4, 3, weights === 'distance');
        for (let i = 0; i < query.rows; i++) {
          for (let c = 0; c < 3; c++) expect(proba.data[i * 3 + c]).toBeCloseTo(reference[i][c], 12);
        }
      }
    });
  }

  it('regresses to the mean of the k nearest targets', async () => {
    const X = createMatrix(5, 1, Float64Array.from([0, 1, 2, 10, 11]));
    const y = Float64Array.from([1, 2, 3, 100, 200]);
    const model = await knn.fit({ X, y, task: 'regression' }, { n_neighbors: 2 }, { seed: 0 });
    expect(Array.from(model.predict(createMatrix(2, 1, Float64Array.from([0.4, 10.6]))))).toEqual([1.5, 150]);
  });

  it('refuses more neighbours than training rows', async () => {
    const X = createMatrix(3, 1, Float64Array.from([0, 1, 2]));
    await expect(knn.fit({ X, y: Float64Array.from([0, 1, 0]), task: 'classification', nClasses: 2 }, {}, { seed: 0 })).rejects.toThrow(/n_neighbors=5 exceeds the 3 training rows/);
  });
});
