/** decision_tree, random_forest and extra_trees: known answers, determinism, save/load, probabilities, errors. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMatrix, fromRows, type Matrix } from '../../../src/data/matrix.js';
import { SpotmlError } from '../../../src/errors.js';
import { decisionTree } from '../../../src/learners/decision-tree.js';
import { extraTrees, randomForest } from '../../../src/learners/forest.js';
import { Rng } from '../../../src/learners/rng.js';
import { resolveMaxFeatures } from '../../../src/learners/tree/ensemble.js';
import type { AveragedTreesModel } from '../../../src/learners/tree/ensemble.js';
import type { FittedModel, LearnerFamily, SerializedModel, TrainingData } from '../../../src/learners/types.js';

/** Three noisy Gaussian blobs in 5 dimensions. */
function blobs(rows: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const p = 5;
  const data = new Float64Array(rows * p);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % 3;
    y[i] = c;
    for (let j = 0; j < p; j++) data[i * p + j] = rng.normal() + (j === c ? 2.5 : 0);
  }
  return { X: createMatrix(rows, p, data), y, task: 'classification', nClasses: 3 };
}

function regressionData(rows: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const data = new Float64Array(rows * 3);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < 3; j++) data[i * 3 + j] = rng.next() * 4 - 2;
    y[i] = Math.sin(data[i * 3]) * 3 + data[i * 3 + 1] ** 2 + 0.1 * rng.normal();
  }
  return { X: createMatrix(rows, 3, data), y, task: 'regression' };
}

function roundTrip(family: LearnerFamily, model: FittedModel): FittedModel {
  return family.load(JSON.parse(JSON.stringify(model.toJSON())) as SerializedModel);
}

const CLASSIFIERS: readonly LearnerFamily[] = [decisionTree, randomForest, extraTrees];
const FAST = { n_estimators: 15 };
const paramsFor = (family: LearnerFamily) => (family === decisionTree ? {} : FAST);

describe('decision_tree known answers', () => {
  it('finds a perfectly separable threshold exactly with depth 1', async () => {
    // Feature 1 separates at 4 | 5; feature 0 is noise. scikit-learn's threshold is the midpoint, 4.5.
    const rng = new Rng(3);
    const rows: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 60; i++) {
      const x1 = i % 10;
      rows.push([rng.next(), x1]);
      y.push(x1 >= 5 ? 1 : 0);
    }
    const model = (await decisionTree.fit({ X: fromRows(rows), y: Float64Array.from(y), task: 'classification', nClasses: 2 }, { max_depth: 1 }, { seed: 1 })) as AveragedTreesModel;
    const tree = model.trees[0];
    expect(tree.nodeCount).toBe(3);
    expect(tree.feature[0]).toBe(1);
    expect(tree.threshold[0]).toBe(4.5);
    expect(Array.from(model.predict(fromRows(rows)))).toEqual(y);
  });

  it('a regression stump predicts the two group means', async () => {
    const X = fromRows([[1], [2], [3], [10], [11], [12]]);
    const y = Float64Array.from([1, 2, 3, 20, 21, 22]);
    const model = await decisionTree.fit({ X, y, task: 'regression' }, { max_depth: 1 }, { seed: 0 });
    // Best cut is 3 | 10 at the midpoint 6.5 (x <= 6.5 goes left).
    expect(Array.from(model.predict(fromRows([[0], [6], [6.5], [7], [100]])))).toEqual([2, 2, 2, 21, 21]);
  });

  it('a fully grown tree fits distinct training rows exactly', async () => {
    const data = blobs(90, 4);
    const model = await decisionTree.fit(data, {}, { seed: 0 });
    expect(Array.from(model.predict(data.X))).toEqual(Array.from(data.y));
  });

  it('max_features follows scikit-learn', () => {
    expect(resolveMaxFeatures('sqrt', 64)).toBe(8);
    expect(resolveMaxFeatures('sqrt', 30)).toBe(5);
    expect(resolveMaxFeatures('log2', 30)).toBe(4);
    expect(resolveMaxFeatures('0.5', 5)).toBe(2);
    expect(resolveMaxFeatures('0.25', 2)).toBe(1);
    expect(resolveMaxFeatures('1.0', 7)).toBe(7);
  });
});

/** Weighted Gini of the children of the best root split, by trying every threshold (a naive reference). */
function exhaustiveRootSplit(data: TrainingData, weights: Float64Array, minLeaf: number): { feature: number; threshold: number } {
  const { X, y } = data;
  const K = data.nClasses as number;
  let best = { feature: -1, threshold: NaN, impurity: Infinity };
  for (let f = 0; f < X.cols; f++) {
    const distinct = [...new Set(Array.from({ length: X.rows }, (_, i) => X.data[i * X.cols + f]))].sort((a, b) => a - b);
    for (let k = 0; k + 1 < distinct.length; k++) {
      const threshold = (distinct[k] + distinct[k + 1]) / 2;
      const sides = [new Float64Array(K), new Float64Array(K)];
      const rows = [0, 0];
      for (let i = 0; i < X.rows; i++) {
        const side = X.data[i * X.cols + f] <= threshold ? 0 : 1;
        sides[side][y[i]] += weights[i];
        rows[side]++;
      }
      if (rows[0] < minLeaf || rows[1] < minLeaf) continue;
      let impurity = 0;
      for (const counts of sides) {
        const total = counts.reduce((s, v) => s + v, 0);
        impurity += total - counts.reduce((s, v) => s + v * v, 0) / total;
      }
      if (impurity < best.impurity - 1e-9) best = { feature: f, threshold, impurity };
    }
  }
  return best;
}

describe('split search shortcuts give the plain answers', () => {
  // Features on a 0.05 grid: fewer than 255 distinct values, so binned search must match the exhaustive one.
  function gridData(rows: number, K: number, seed: number): TrainingData {
    const rng = new Rng(seed);
    const p = 4;
    const data = new Float64Array(rows * p);
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      y[i] = rng.int(K);
      for (let j = 0; j < p; j++) data[i * p + j] = Math.round((rng.next() * 4 + (j === 0 ? y[i] * 0.6 : 0)) * 20) / 20;
    }
    return { X: createMatrix(rows, p, data), y, task: 'classification', nClasses: K };
  }

  it.each([
    [1, false],
    [7, false],
    [1, true],
  ])('the root split of a decision tree (min_samples_leaf %i, weighted %s) is the exhaustive best', async (minLeaf, weighted) => {
    for (const K of [2, 3, 5]) {
      const data = gridData(240, K, 10 + K);
      const weights = weighted ? Float64Array.from({ length: 240 }, (_, i) => 1 + (i % 3)) : new Float64Array(240).fill(1);
      const model = (await decisionTree.fit({ ...data, sampleWeight: weighted ? weights : undefined }, { max_depth: 1, min_samples_leaf: minLeaf }, { seed: 0 })) as AveragedTreesModel;
      const expected = exhaustiveRootSplit(data, weights, minLeaf);
      expect(model.trees[0].feature[0]).toBe(expected.feature);
      expect(model.trees[0].threshold[0]).toBeCloseTo(expected.threshold, 12);
    }
  });

  it('extra_trees counting without weights grows the same trees as with uniform weights', async () => {
    // Doubling every weight doubles every split proxy exactly, so the weighted path must choose the same splits.
    for (const K of [2, 3]) {
      const data = gridData(200, K, K);
      const plain = (await extraTrees.fit(data, { n_estimators: 5 }, { seed: 4 })) as AveragedTreesModel;
      const weighted = (await extraTrees.fit({ ...data, sampleWeight: new Float64Array(200).fill(2) }, { n_estimators: 5 }, { seed: 4 })) as AveragedTreesModel;
      expect(JSON.stringify(weighted.trees.map((t) => [Array.from(t.feature), Array.from(t.threshold), Array.from(t.value)]))).toBe(
        JSON.stringify(plain.trees.map((t) => [Array.from(t.feature), Array.from(t.threshold), Array.from(t.value)])),
      );
    }
  });
});

describe.each(CLASSIFIERS)('$name', (family) => {
  const data = blobs(150, 1);
  const test = blobs(60, 2);

  it('is deterministic under a seed and varies with it', async () => {
    const a = await family.fit(data, paramsFor(family), { seed: 7 });
    const b = await family.fit(data, paramsFor(family), { seed: 7 });
    expect(a.predictProba?.(test.X).data).toEqual(b.predictProba?.(test.X).data);
    expect(JSON.stringify(a.toJSON())).toBe(JSON.stringify(b.toJSON()));
    if (family !== decisionTree) {
      const c = await family.fit(data, paramsFor(family), { seed: 8 });
      expect(JSON.stringify(c.toJSON().state)).not.toBe(JSON.stringify(a.toJSON().state));
    }
  });

  it('round-trips through JSON with identical predictions', async () => {
    const model = await family.fit(data, paramsFor(family), { seed: 3 });
    const loaded = roundTrip(family, model);
    expect(loaded.predict(test.X)).toEqual(model.predict(test.X));
    expect(loaded.predictProba?.(test.X).data).toEqual(model.predictProba?.(test.X).data);
    expect(loaded.params).toEqual(model.params);
  });

  it('gives probabilities that sum to 1 and predicts their argmax', async () => {
    const model = await family.fit(data, paramsFor(family), { seed: 5 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 20 }), async (rows) => {
        const X = fromRows(rows);
        const proba = model.predictProba?.(X) as Matrix;
        const labels = model.predict(X);
        for (let r = 0; r < rows.length; r++) {
          const p = Array.from(proba.data.subarray(r * 3, r * 3 + 3));
          expect(p.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
          expect(labels[r]).toBe(p.indexOf(Math.max(...p)));
        }
      }),
      { numRuns: 30 },
    );
  });

  it('learns the blobs', async () => {
    const model = await family.fit(data, paramsFor(family), { seed: 0 });
    const predicted = model.predict(test.X);
    let hits = 0;
    for (let i = 0; i < predicted.length; i++) if (predicted[i] === test.y[i]) hits++;
    expect(hits / predicted.length).toBeGreaterThan(0.8);
  });

  it('fits regression', async () => {
    const train = regressionData(300, 1);
    const holdout = regressionData(100, 2);
    const model = await family.fit(train, paramsFor(family), { seed: 0 });
    const predicted = model.predict(holdout.X);
    let ssRes = 0;
    let ssTot = 0;
    const mean = holdout.y.reduce((s, v) => s + v, 0) / holdout.y.length;
    for (let i = 0; i < predicted.length; i++) {
      ssRes += (predicted[i] - holdout.y[i]) ** 2;
      ssTot += (holdout.y[i] - mean) ** 2;
    }
    expect(1 - ssRes / ssTot).toBeGreaterThan(0.6);
    expect(roundTrip(family, model).predict(holdout.X)).toEqual(predicted);
  });

  it('rejects bad input with one-line SpotmlErrors', async () => {
    const oneClass: TrainingData = { X: fromRows([[1], [2], [3]]), y: Float64Array.from([0, 0, 0]), task: 'classification', nClasses: 2 };
    await expect(family.fit(oneClass, {}, { seed: 0 })).rejects.toThrow(/only one class/);
    const empty: TrainingData = { X: createMatrix(0, 2), y: new Float64Array(0), task: 'classification', nClasses: 2 };
    await expect(family.fit(empty, {}, { seed: 0 })).rejects.toThrow(/zero rows/);
    const withNaN: TrainingData = { X: fromRows([[1], [NaN], [3], [4]]), y: Float64Array.from([0, 1, 0, 1]), task: 'classification', nClasses: 2 };
    await expect(family.fit(withNaN, {}, { seed: 0 })).rejects.toThrow(/missing values/);
    await expect(family.fit(data, { max_features: 'most' }, { seed: 0 })).rejects.toBeInstanceOf(SpotmlError);
    const model = await family.fit(data, paramsFor(family), { seed: 0 });
    expect(() => model.predict(fromRows([[1, 2, 3]]))).toThrow(/3 feature columns but the model was trained on 5/);
    const json = model.toJSON();
    expect(() => family.load({ ...json, family: 'other' })).toThrow(SpotmlError);
    expect(() => family.load({ ...json, state: { trees: [{ feature: [0] }] } })).toThrow(/malformed/);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(family.fit(data, paramsFor(family), { seed: 0, signal: controller.signal })).rejects.toThrow();
  });
});
