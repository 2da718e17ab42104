/**
 * The learner conformance suite (scikit-learn's check_estimator): every family in the catalogue, for every
 * task it supports, passes the same small checks on tiny data with cheap params. A new family inherits the
 * whole contract by being added to the catalogue; exceptions are declared below with a reason.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FAMILIES, getFamily, loadModel } from '../../src/learners/catalogue.js';
import { fitPipeline } from '../../src/learners/preprocess.js';
import { SpotmlError } from '../../src/errors.js';
import { createMatrix, type Matrix } from '../../src/data/matrix.js';
import { Rng } from '../../src/learners/rng.js';
import type { FittedModel, LearnerFamily, ParamSpec, Params, Task, TrainingData } from '../../src/learners/types.js';
import { bits, expectSpotmlError, expectValidProbabilities, outOfRange, roundTrip, rowOf, withNaN } from './checks.js';

/** Cheap settings per family so the whole suite stays fast; families not listed use their defaults. */
const cheapParams: Record<string, Params> = {
  random_forest: { n_estimators: 5 },
  extra_trees: { n_estimators: 5 },
  gbdt: { max_iter: 10 },
  svm: { probability: true },
  knn: { n_neighbors: 3 },
  mlp: { hidden_units: 16, max_epochs: 15 },
};

/** Families whose predict is not argmax(predictProba), and why. */
const argmaxExceptions: Record<string, string> = {
  svm: 'predict is the one-vs-one vote while predictProba is Platt-scaled and pairwise-coupled, as scikit-learn SVC documents',
};

const SEED = 7;

function paramsFor(family: LearnerFamily): Params {
  return cheapParams[family.name] ?? {};
}

/** Gaussian blobs (classification) or a noisy linear target (regression), rows × cols, seeded. */
function makeData(task: Task, rows: number, cols: number, seed: number, nClasses = 3): TrainingData {
  const rng = new Rng(seed);
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = i % nClasses;
    for (let j = 0; j < cols; j++) X[i * cols + j] = rng.normal() + (task === 'classification' ? 2 * label * ((j % 2) * 2 - 1) : 0);
    if (task === 'classification') y[i] = label;
    else {
      let target = 0;
      for (let j = 0; j < cols; j++) target += (j + 1) * X[i * cols + j];
      y[i] = target + 0.1 * rng.normal();
    }
  }
  return { X: createMatrix(rows, cols, X), y, task, ...(task === 'classification' ? { nClasses } : {}) };
}

describe('catalogue', () => {
  it('names are unique and look-up works', () => {
    const names = FAMILIES.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const family of FAMILIES) expect(getFamily(family.name)).toBe(family);
    expect(() => getFamily('no_such_family')).toThrow(SpotmlError);
  });

  it('every param has a default inside its own bounds and a description', () => {
    for (const family of FAMILIES) {
      for (const [name, spec] of Object.entries(family.params) as [string, ParamSpec][]) {
        expect(spec.description.length, `${family.name}.${name}`).toBeGreaterThan(0);
        if (spec.type === 'int' || spec.type === 'float') {
          expect(spec.default, `${family.name}.${name}`).toBeGreaterThanOrEqual(spec.low);
          expect(spec.default, `${family.name}.${name}`).toBeLessThanOrEqual(spec.high);
        }
        if (spec.type === 'categorical') expect(spec.choices).toContain(spec.default);
      }
    }
  });
});

for (const family of FAMILIES) {
  for (const task of family.tasks) {
    describe(`${family.name} (${task})`, () => {
      const params = paramsFor(family);
      const options = { seed: SEED };
      const data = makeData(task, 60, 4, 1);
      const test = makeData(task, 25, 4, 2);
      const nClasses = task === 'classification' ? 3 : 0;
      /** predictProba is a classifier's method; regressors may lack it or refuse it. */
      const probaOf = (model: FittedModel): ((X: Matrix) => Matrix) | undefined =>
        task === 'classification' && model.predictProba ? (X: Matrix) => model.predictProba!(X) : undefined;

      it('is deterministic under a seed: identical predictions and identical JSON', async () => {
        const a = await family.fit(data, params, options);
        const b = await family.fit(data, params, options);
        expect(b.predict(test.X)).toEqual(a.predict(test.X));
        expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
      });

      it('does not mutate X or y (fit or predict)', async () => {
        const X = data.X.data.slice();
        const y = data.y.slice();
        const model = await family.fit(data, params, options);
        const testX = test.X.data.slice();
        model.predict(test.X);
        probaOf(model)?.(test.X);
        expect(data.X.data).toEqual(X);
        expect(data.y).toEqual(y);
        expect(test.X.data).toEqual(testX);
      });

      it('save/load round trip gives identical predictions and probabilities', async () => {
        const model = await family.fit(data, params, options);
        const loaded = roundTrip(model, (json) => family.load(json));
        expect(loaded.predict(test.X)).toEqual(model.predict(test.X));
        if (probaOf(model)) expect(probaOf(loaded)?.(test.X)).toEqual(probaOf(model)?.(test.X));
        expect(JSON.parse(JSON.stringify(loaded.toJSON()))).toEqual(JSON.parse(JSON.stringify(model.toJSON())));
        expect(loaded.nFeatures).toBe(4);
        expect(loaded.task).toBe(task);
      });

      it('predicts a batch exactly as row by row', async () => {
        const model = await family.fit(data, params, options);
        const batch = model.predict(test.X);
        const predictProba = probaOf(model);
        const proba = predictProba?.(test.X);
        for (let i = 0; i < test.X.rows; i++) {
          const single = rowOf(test.X, i);
          expect(model.predict(single)[0]).toBe(batch[i]);
          if (proba && predictProba) {
            expect(Array.from(predictProba(single).data)).toEqual(Array.from(proba.data.subarray(i * proba.cols, (i + 1) * proba.cols)));
          }
        }
      });

      it('rejects a column count that differs from training at predict', async () => {
        const model = await family.fit(data, params, options);
        await expectSpotmlError(() => model.predict(createMatrix(2, 5)), /5 feature columns.*trained on 4/);
        const predictProba = probaOf(model);
        if (predictProba) await expectSpotmlError(() => predictProba(createMatrix(2, 3)), /3 feature columns.*trained on 4/);
      });

      it('gives a clear error for zero rows, NaN in the target, an infinite feature, unknown and out-of-range params', async () => {
        await expectSpotmlError(() => family.fit({ ...data, X: createMatrix(0, 4), y: new Float64Array(0) }, params, options), /zero rows/);
        const y = data.y.slice();
        y[3] = NaN;
        await expectSpotmlError(() => family.fit({ ...data, y }, params, options), /target.*row 3/);
        const infinite = data.X.data.slice();
        infinite[5 * data.X.cols + 2] = -Infinity;
        await expectSpotmlError(() => family.fit({ ...data, X: createMatrix(data.X.rows, data.X.cols, infinite) }, params, options), /column 2 is infinite in row 5/);
        await expectSpotmlError(() => family.fit(data, { ...params, no_such_param: 1 }, options), /no parameter "no_such_param"/);
        const bad = outOfRange(family);
        if (bad) await expectSpotmlError(() => family.fit(data, { ...params, ...bad }, options), new RegExp(`${Object.keys(bad)[0]}=.*invalid`));
      });

      it('works with a single feature', async () => {
        const one = makeData(task, 40, 1, 3);
        const model = await family.fit(one, params, options);
        const predicted = model.predict(makeData(task, 10, 1, 4).X);
        expect(predicted.length).toBe(10);
        for (const v of predicted) expect(Number.isFinite(v)).toBe(true);
      });

      if (task === 'classification') {
        it('gives a clear error for a single class', async () => {
          const y = new Float64Array(data.y.length).fill(1);
          await expectSpotmlError(() => family.fit({ ...data, y }, params, options), /only one class/);
        });

        it('returns finite probabilities in [0, 1] that sum to 1 per row', async () => {
          const model = await family.fit(data, params, options);
          expect(model.predictProba, `${family.name} should offer predictProba with ${JSON.stringify(params)}`).toBeDefined();
          expectValidProbabilities(model.predictProba!(test.X), test.X.rows, nClasses);
        });

        it('predictWithProba, where offered, equals predict and predictProba bit for bit', async () => {
          const model = await family.fit(data, params, options);
          // Through a pipeline too: it offers predictWithProba for every classifier with predictProba.
          const fitted = [model, await fitPipeline(family, data, params, options)];
          for (const m of fitted) {
            if (!m.predictWithProba) continue;
            const both = m.predictWithProba(test.X);
            expect(Array.from(both.labels)).toEqual(Array.from(m.predict(test.X)));
            expect(Array.from(both.proba.data).map(bits)).toEqual(Array.from(m.predictProba!(test.X).data).map(bits));
          }
          expect(fitted[1].predictWithProba, 'a classifier pipeline offers predictWithProba').toBeDefined();
        });

        it('handles a class absent from the training rows (nClasses larger than seen)', async () => {
          const twoSeen: TrainingData = { ...data, y: data.y.map((c) => (c === 2 ? 1 : c)), nClasses: 3 };
          const model = await family.fit(twoSeen, params, options);
          const predicted = model.predict(test.X);
          for (const c of predicted) expect([0, 1]).toContain(c);
          if (model.predictProba) expectValidProbabilities(model.predictProba(test.X), test.X.rows, 3);
        });

        const reason = argmaxExceptions[family.name];
        if (reason === undefined) {
          it('predict equals argmax of predictProba', async () => {
            const model = await family.fit(data, params, options);
            const proba = model.predictProba!(test.X);
            const predicted = model.predict(test.X);
            for (let i = 0; i < test.X.rows; i++) {
              const row = Array.from(proba.data.subarray(i * nClasses, (i + 1) * nClasses));
              expect(predicted[i]).toBe(row.indexOf(Math.max(...row)));
            }
          });
        } else {
          it(`predict mostly agrees with argmax of predictProba (exception: ${reason})`, async () => {
            const model = await family.fit(data, params, options);
            const proba = model.predictProba!(test.X);
            const predicted = model.predict(test.X);
            let agree = 0;
            for (let i = 0; i < test.X.rows; i++) {
              const row = Array.from(proba.data.subarray(i * nClasses, (i + 1) * nClasses));
              if (predicted[i] === row.indexOf(Math.max(...row))) agree++;
            }
            expect(agree / test.X.rows).toBeGreaterThanOrEqual(0.8);
          });
        }

        it('property: probabilities are valid on random data', async () => {
          await fc.assert(
            fc.asyncProperty(
              fc.integer({ min: 12, max: 30 }),
              fc.integer({ min: 1, max: 4 }),
              fc.integer({ min: 2, max: 4 }),
              fc.integer({ min: 0, max: 2 ** 31 - 1 }),
              async (rows, cols, k, seed) => {
                const random = makeData('classification', rows, cols, seed, k);
                const model = await family.fit(random, params, { seed });
                expectValidProbabilities(model.predictProba!(random.X), rows, k);
              },
            ),
            { numRuns: 8, seed: 42 },
          );
        });
      }

      if (family.tags.handlesNaN) {
        it('handles NaN in X natively', async () => {
          const model = await family.fit(withNaN(data, 7), params, options);
          for (const v of model.predict(withNaN(test, 5).X)) expect(Number.isFinite(v)).toBe(true);
        });
      } else {
        it('rejects NaN in X at fit with a clear error', async () => {
          await expectSpotmlError(() => family.fit(withNaN(data, 7), params, options), /column \d+ has missing values/);
        });

        it('rejects NaN in X at predict with a clear error (no silent prediction)', async () => {
          const model = await family.fit(data, params, options);
          await expectSpotmlError(() => model.predict(withNaN(test, 5).X), /column \d+ has missing values/);
          const predictProba = probaOf(model);
          if (predictProba) await expectSpotmlError(() => predictProba(withNaN(test, 5).X), /column \d+ has missing values/);
        });
      }

      it('fits and predicts with NaN through the pipeline, which round-trips through loadModel', async () => {
        const pipeline = await fitPipeline(family, withNaN(data, 7), params, { ...options, preprocess: { missingIndicator: true, scale: true } });
        const testX = withNaN(test, 5).X;
        const predicted = pipeline.predict(testX);
        for (const v of predicted) expect(Number.isFinite(v)).toBe(true);
        const loaded = roundTrip(pipeline, loadModel);
        expect(loaded.predict(testX)).toEqual(predicted);
        const predictProba = probaOf(pipeline);
        if (predictProba) {
          const proba = predictProba(testX);
          expectValidProbabilities(proba, testX.rows, nClasses);
          expect(probaOf(loaded)?.(testX)).toEqual(proba);
        }
        await expectSpotmlError(() => pipeline.predict(createMatrix(1, 3)), /3 feature columns.*trained on 4/);
      });

      it('property: batch prediction equals per-row prediction on random data', async () => {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 3 }), async (seed, cols) => {
            const random = makeData(task, 20, cols, seed);
            const model = await family.fit(random, params, { seed });
            const queries = makeData(task, 6, cols, seed + 1).X;
            const batch = model.predict(queries);
            for (let i = 0; i < queries.rows; i++) expect(model.predict(rowOf(queries, i))[0]).toBe(batch[i]);
          }),
          { numRuns: 5, seed: 43 },
        );
      });
    });
  }

  for (const task of ['classification', 'regression'] as const) {
    if (family.tasks.includes(task)) continue;
    it(`${family.name} rejects ${task} clearly`, async () => {
      await expectSpotmlError(() => family.fit(makeData(task, 20, 2, 1), paramsFor(family), { seed: SEED }), /does not support/);
    });
  }
}
