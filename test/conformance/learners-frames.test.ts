/**
 * The learner conformance checks for frame-level families (FRAME_FAMILIES: the cnn), which read band ×
 * frame patches rather than summary features, so the tabular suite's data generator does not fit them.
 * The checks are the tabular suite's, on patches: seeded determinism, no mutation, save/load, batch equals
 * row by row, column checks, clear errors, probabilities, an absent class, argmax, NaN, the pipeline.
 * Runs on the process's default backend (wasm here: the tfjs-node packages are not installed).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FRAME_FAMILIES } from '../../src/learners/cnn.js';
import { FAMILIES, getFamily, loadModel } from '../../src/learners/catalogue.js';
import { fitPipeline } from '../../src/learners/preprocess.js';
import { createMatrix } from '../../src/data/matrix.js';
import { Rng } from '../../src/learners/rng.js';
import { getTf } from '../../src/runtime/tf.js';
import type { LearnerFamily, Params, SerializedModel, TrainingData } from '../../src/learners/types.js';
import { expectSpotmlError, expectValidProbabilities, outOfRange, roundTrip, rowOf, withNaN } from './checks.js';

const BANDS = 6;
const FRAMES = 8;
const COLS = BANDS * FRAMES;
const SEED = 7;

/** Cheap settings per family so the suite stays fast. */
const cheapParams: Record<string, Params> = {
  cnn: { n_bands: BANDS, channels: 4, blocks: 2, max_epochs: 6, batch_size: 16 },
};

function paramsFor(family: LearnerFamily): Params {
  return cheapParams[family.name] ?? {};
}

/**
 * Patches whose class decides which band group carries energy, and when (a class-specific band stripe plus
 * a class-specific onset frame), over Gaussian noise in dB around −60.
 */
function makeFrames(rows: number, seed: number, nClasses = 3, bands = BANDS, frames = FRAMES): TrainingData {
  const rng = new Rng(seed);
  const cols = bands * frames;
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = i % nClasses;
    y[i] = label;
    for (let b = 0; b < bands; b++) {
      for (let t = 0; t < frames; t++) {
        const loud = b % nClasses === label && t >= (label * frames) / (2 * nClasses);
        X[i * cols + b * frames + t] = -60 + 4 * rng.normal() + (loud ? 20 : 0);
      }
    }
  }
  return { X: createMatrix(rows, cols, X), y, task: 'classification', nClasses };
}

describe('frame families in the catalogue', () => {
  it('load by name but stay out of the tabular list', () => {
    for (const family of FRAME_FAMILIES) {
      expect(getFamily(family.name)).toBe(family);
      expect(FAMILIES).not.toContain(family);
    }
  });

  it('run on the wasm backend here', async () => {
    expect((await getTf()).backend).toBe('wasm');
  });
});

for (const family of FRAME_FAMILIES) {
  describe(`${family.name} (frames)`, () => {
    const params = paramsFor(family);
    const options = { seed: SEED };
    const data = makeFrames(60, 1);
    const test = makeFrames(25, 2);
    const nClasses = 3;

    it('is deterministic under a seed: identical predictions and identical JSON', async () => {
      const a = await family.fit(data, params, options);
      const b = await family.fit(data, params, options);
      expect(b.predict(test.X)).toEqual(a.predict(test.X));
      expect(b.predictProba!(test.X)).toEqual(a.predictProba!(test.X));
      expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
    });

    it('a different seed gives different weights', async () => {
      const a = await family.fit(data, params, options);
      const b = await family.fit(data, params, { seed: SEED + 1 });
      expect(JSON.stringify(b.toJSON())).not.toBe(JSON.stringify(a.toJSON()));
    });

    it('does not mutate X or y (fit or predict)', async () => {
      const X = data.X.data.slice();
      const y = data.y.slice();
      const model = await family.fit(data, params, options);
      const testX = test.X.data.slice();
      model.predict(test.X);
      model.predictProba!(test.X);
      expect(data.X.data).toEqual(X);
      expect(data.y).toEqual(y);
      expect(test.X.data).toEqual(testX);
    });

    it('save/load round trip gives identical predictions and probabilities', async () => {
      const model = await family.fit(data, params, options);
      for (const load of [(json: SerializedModel) => family.load(json), loadModel]) {
        const loaded = roundTrip(model, load);
        expect(loaded.predict(test.X)).toEqual(model.predict(test.X));
        expect(loaded.predictProba!(test.X)).toEqual(model.predictProba!(test.X));
        expect(JSON.parse(JSON.stringify(loaded.toJSON()))).toEqual(JSON.parse(JSON.stringify(model.toJSON())));
        expect(loaded.nFeatures).toBe(COLS);
      }
    });

    it('predicts a batch exactly as row by row', async () => {
      const model = await family.fit(data, params, options);
      const batch = model.predict(test.X);
      const proba = model.predictProba!(test.X);
      for (let i = 0; i < test.X.rows; i++) {
        const single = rowOf(test.X, i);
        expect(model.predict(single)[0]).toBe(batch[i]);
        expect(Array.from(model.predictProba!(single).data)).toEqual(Array.from(proba.data.subarray(i * nClasses, (i + 1) * nClasses)));
      }
    });

    it('rejects a column count that differs from training at predict', async () => {
      const model = await family.fit(data, params, options);
      await expectSpotmlError(() => model.predict(createMatrix(2, COLS + 1)), new RegExp(`${COLS + 1} feature columns.*trained on ${COLS}`));
      await expectSpotmlError(() => model.predictProba!(createMatrix(2, 3)), new RegExp(`3 feature columns.*trained on ${COLS}`));
    });

    it('gives a clear error for zero rows, NaN in the target, unknown and out-of-range params, and a bad patch shape', async () => {
      await expectSpotmlError(() => family.fit({ ...data, X: createMatrix(0, COLS), y: new Float64Array(0) }, params, options), /zero rows/);
      const y = data.y.slice();
      y[3] = NaN;
      await expectSpotmlError(() => family.fit({ ...data, y }, params, options), /target.*row 3/);
      await expectSpotmlError(() => family.fit(data, { ...params, no_such_param: 1 }, options), /no parameter "no_such_param"/);
      const bad = outOfRange(family);
      if (bad) await expectSpotmlError(() => family.fit(data, { ...params, ...bad }, options), new RegExp(`${Object.keys(bad)[0]}=.*invalid`));
      await expectSpotmlError(() => family.fit(data, { ...params, n_bands: 7 }, options), /48 columns do not split into n_bands=7/);
    });

    it('rejects regression clearly', async () => {
      await expectSpotmlError(() => family.fit({ ...data, task: 'regression', nClasses: undefined }, params, options), /does not support regression/);
    });

    it('works with a single band and a single frame', async () => {
      const tiny = makeFrames(40, 3, 3, 1, 1);
      const model = await family.fit(tiny, { ...params, n_bands: 1 }, options);
      const predicted = model.predict(makeFrames(10, 4, 3, 1, 1).X);
      expect(predicted.length).toBe(10);
      for (const v of predicted) expect([0, 1, 2]).toContain(v);
    });

    it('gives a clear error for a single class', async () => {
      await expectSpotmlError(() => family.fit({ ...data, y: new Float64Array(data.y.length).fill(1) }, params, options), /only one class/);
    });

    it('returns finite probabilities in [0, 1] that sum to 1 per row', async () => {
      const model = await family.fit(data, params, options);
      expectValidProbabilities(model.predictProba!(test.X), test.X.rows, nClasses);
    });

    it('handles a class absent from the training rows (nClasses larger than seen)', async () => {
      const twoSeen: TrainingData = { ...data, y: data.y.map((c) => (c === 2 ? 1 : c)), nClasses: 3 };
      const model = await family.fit(twoSeen, params, options);
      for (const c of model.predict(test.X)) expect([0, 1]).toContain(c);
      expectValidProbabilities(model.predictProba!(test.X), test.X.rows, 3);
    });

    it('predict equals argmax of predictProba', async () => {
      const model = await family.fit(data, params, options);
      const proba = model.predictProba!(test.X);
      const predicted = model.predict(test.X);
      for (let i = 0; i < test.X.rows; i++) {
        const row = Array.from(proba.data.subarray(i * nClasses, (i + 1) * nClasses));
        expect(predicted[i]).toBe(row.indexOf(Math.max(...row)));
      }
    });

    it('learns the patches: held-out accuracy well above chance', async () => {
      const model = await family.fit(makeFrames(90, 5), { ...params, max_epochs: 25 }, options);
      const predicted = model.predict(test.X);
      let correct = 0;
      for (let i = 0; i < test.X.rows; i++) if (predicted[i] === test.y[i]) correct++;
      expect(correct / test.X.rows).toBeGreaterThanOrEqual(0.8);
    });

    it('rejects NaN in X at fit and at predict with a clear error', async () => {
      await expectSpotmlError(() => family.fit(withNaN(data, 7), params, options), /column \d+ has missing values/);
      const model = await family.fit(data, params, options);
      await expectSpotmlError(() => model.predict(withNaN(test, 5).X), /column \d+ has missing values/);
      await expectSpotmlError(() => model.predictProba!(withNaN(test, 5).X), /column \d+ has missing values/);
    });

    it('fits and predicts with NaN through the pipeline, which round-trips through loadModel', async () => {
      const pipeline = await fitPipeline(family, withNaN(data, 7), params, options);
      const testX = withNaN(test, 5).X;
      const predicted = pipeline.predict(testX);
      for (const v of predicted) expect(Number.isFinite(v)).toBe(true);
      const loaded = roundTrip(pipeline, loadModel);
      expect(loaded.predict(testX)).toEqual(predicted);
      const proba = pipeline.predictProba!(testX);
      expectValidProbabilities(proba, testX.rows, nClasses);
      expect(loaded.predictProba!(testX)).toEqual(proba);
    });

    it('property: probabilities are valid and batch equals per-row on random patches', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 12, max: 30 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (rows, k, seed) => {
          const random = makeFrames(rows, seed, k);
          const model = await family.fit(random, { ...params, max_epochs: 2 }, { seed });
          const proba = model.predictProba!(random.X);
          expectValidProbabilities(proba, rows, k);
          const batch = model.predict(random.X);
          for (let i = 0; i < Math.min(rows, 5); i++) expect(model.predict(rowOf(random.X, i))[0]).toBe(batch[i]);
        }),
        { numRuns: 5, seed: 42 },
      );
    });
  });
}
