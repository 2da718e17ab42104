/**
 * The AutoML ensemble (src/learners/ensemble.ts): labels and probabilities in one pass (what `serve ?proba=true`
 * uses) equal predict and predictProba bit for bit, and both equal the weighted average of the members'
 * probabilities computed here by hand.
 */
import { describe, expect, it } from 'vitest';
import { createMatrix } from '../../../src/data/matrix.js';
import { EnsembleModel } from '../../../src/learners/ensemble.js';
import { randomForest } from '../../../src/learners/forest.js';
import { gbdt } from '../../../src/learners/gbdt/index.js';
import { gaussianNb } from '../../../src/learners/naive-bayes.js';
import { fitPipeline } from '../../../src/learners/preprocess.js';
import { Rng } from '../../../src/learners/rng.js';
import type { TrainingData } from '../../../src/learners/types.js';
import { bits } from '../../conformance/checks.js';

function blobs(rows: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const data = new Float64Array(rows * 4);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 4; j++) data[i * 4 + j] = rng.normal() + (j % 3 === y[i] ? 1.2 : 0);
  }
  return { X: createMatrix(rows, 4, data), y, task: 'classification', nClasses: 3 };
}

describe('ensemble of classifiers', () => {
  it('predictWithProba equals predict and predictProba, and the hand-weighted member average', async () => {
    const train = blobs(150, 1);
    const test = blobs(40, 2).X;
    const members = [
      await fitPipeline(randomForest, train, { n_estimators: 15 }, { seed: 1 }),
      await fitPipeline(gbdt, train, { max_iter: 12 }, { seed: 1 }),
      await fitPipeline(gaussianNb, train, {}, { seed: 1 }),
    ];
    const weights = [0.5, 0.3, 0.2];
    const ensemble = new EnsembleModel(members, weights);
    const both = ensemble.predictWithProba!(test);
    expect(Array.from(both.labels)).toEqual(Array.from(ensemble.predict(test)));
    expect(Array.from(both.proba.data).map(bits)).toEqual(Array.from(ensemble.predictProba!(test).data).map(bits));

    const expected = new Float64Array(test.rows * 3);
    members.forEach((m, j) => {
      const p = m.predictProba!(test).data;
      for (let i = 0; i < expected.length; i++) expected[i] += weights[j] * p[i];
    });
    expect(Array.from(both.proba.data).map(bits)).toEqual(Array.from(expected).map(bits));
    for (let r = 0; r < test.rows; r++) {
      const row = Array.from(expected.subarray(r * 3, r * 3 + 3));
      expect(both.labels[r]).toBe(row.indexOf(Math.max(...row)));
    }
  });

  it('a regression ensemble offers neither probabilities nor predictWithProba', async () => {
    const train = blobs(60, 3);
    const regression: TrainingData = { X: train.X, y: train.X.data.filter((_, i) => i % 4 === 0), task: 'regression' };
    const ensemble = new EnsembleModel([await fitPipeline(randomForest, regression, { n_estimators: 5 }, { seed: 1 })], [1]);
    expect(ensemble.predictProba).toBeUndefined();
    expect(ensemble.predictWithProba).toBeUndefined();
  });
});
