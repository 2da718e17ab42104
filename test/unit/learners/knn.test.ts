import { describe, expect, it } from 'vitest';
import { euclideanRowStats, kNearest, kNearestEuclidean, knn } from '../../../src/learners/knn.js';
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

  it('the blocked Euclidean search returns exactly the one-row search (neighbours, ties, distances)', () => {
    const rng = new Rng(13);
    // Integer grids make many exact ties and duplicates; a large offset makes ‖q‖²+‖t‖²−2q·t cancel badly;
    // odd row counts and query counts off a multiple of four (the padded last block) exercise the ragged edges.
    const cases = [
      { d: 3, nTrain: 57, nQuery: 22, k: 4, draw: () => rng.int(3) },
      { d: 8, nTrain: 81, nQuery: 13, k: 5, draw: () => rng.int(2) },
      { d: 20, nTrain: 200, nQuery: 31, k: 7, draw: () => rng.normal() },
      { d: 64, nTrain: 149, nQuery: 18, k: 5, draw: () => (rng.next() < 0.5 ? 0 : rng.int(17)) },
      { d: 11, nTrain: 95, nQuery: 17, k: 3, draw: () => 1e6 + rng.int(4) * 1e-3 },
      // Fewer than four queries (a served row): the whole search is one padded block.
      { d: 64, nTrain: 33, nQuery: 3, k: 5, draw: () => rng.int(3) },
      { d: 5, nTrain: 10, nQuery: 1, k: 10, draw: () => rng.normal() },
      // Training rows past the last block of four, and more queries than one block.
      { d: 20, nTrain: 1003, nQuery: 41, k: 5, draw: () => rng.normal() },
      { d: 1, nTrain: 6, nQuery: 9, k: 6, draw: () => rng.int(4) },
    ];
    for (const { d, nTrain, nQuery, k, draw } of cases) {
      const train = Float64Array.from({ length: nTrain * d }, draw);
      // Some queries repeat training rows exactly (distance 0).
      const queries = Float64Array.from({ length: nQuery * d }, (_, i) => (Math.floor(i / d) % 3 === 0 ? train[(Math.floor(i / d) * 7 % nTrain) * d + (i % d)] : draw()));
      const neighbours = new Int32Array(nQuery * k);
      const distances = new Float64Array(nQuery * k);
      kNearestEuclidean(train, euclideanRowStats(train, nTrain, d), nTrain, d, queries, nQuery, k, neighbours, distances);
      for (let q = 0; q < nQuery; q++) {
        const refNeighbours = new Int32Array(k);
        const refDistances = new Float64Array(k);
        kNearest(train, nTrain, d, queries, q * d, false, refNeighbours, refDistances);
        expect(Array.from(neighbours.subarray(q * k, (q + 1) * k))).toEqual(Array.from(refNeighbours));
        expect(Array.from(distances.subarray(q * k, (q + 1) * k))).toEqual(Array.from(refDistances));
      }
    }
  });

  it('models predicting in turn each get their own neighbours (the kernel swaps the training rows it holds)', async () => {
    const first = randomData(31, 60, 4, false);
    const second = randomData(32, 45, 4, false);
    const query = randomData(33, 9, 4, false).X;
    const modelA = await knn.fit({ X: first.X, y: first.y, task: 'classification', nClasses: 3 }, { n_neighbors: 3 }, { seed: 0 });
    const modelB = await knn.fit({ X: second.X, y: second.y, task: 'classification', nClasses: 3 }, { n_neighbors: 3 }, { seed: 0 });
    const expectedA = naiveProba(first.X, first.y, query, 3, 3, false);
    const expectedB = naiveProba(second.X, second.y, query, 3, 3, false);
    for (let round = 0; round < 2; round++) {
      expect(Array.from(modelA.predictProba!(query).data)).toEqual(expectedA.flat());
      expect(Array.from(modelB.predictProba!(query).data)).toEqual(expectedB.flat());
    }
  });

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
