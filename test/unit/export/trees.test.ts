/**
 * Tree splits under float32: for every split of the fitted trees, rows whose split feature sits on the
 * float32 values right around the threshold (mapped back through the pipeline's scaling) go through
 * onnxruntime and spotml's native predict; every row must land where spotml puts it. Rows with NaN in the
 * split feature check the NaN direction (the imputed median's branch, or the tree's own for gbdt).
 * Reference: spotml's float64 predict on the same float32-representable rows. Tolerance 1e-5 on
 * probabilities / values (a wrong branch moves them by far more); labels exactly.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { exportOnnx } from '../../../src/export/onnx/index.js';
import { getFamily } from '../../../src/learners/catalogue.js';
import type { GbdtModel } from '../../../src/learners/gbdt/index.js';
import { fitPipeline, type PipelineModel, type PipelineOptions } from '../../../src/learners/preprocess.js';
import { Rng } from '../../../src/learners/rng.js';
import type { AveragedTreesModel } from '../../../src/learners/tree/ensemble.js';
import type { Tree } from '../../../src/learners/tree/tree.js';
import type { Params, Task, TrainingData } from '../../../src/learners/types.js';

/** float32 neighbours by bit pattern, written independently of the exporter's search. */
function float32Steps(x: number, steps: number): number {
  const f = new Float32Array([x]);
  const bits = new Int32Array(f.buffer);
  for (let i = 0; i < Math.abs(steps); i++) {
    const up = steps > 0;
    if (f[0] === 0) {
      f[0] = up ? 1.401298464324817e-45 : -1.401298464324817e-45;
      continue;
    }
    bits[0] += (f[0] > 0) === up ? 1 : -1;
  }
  return f[0];
}

function data(task: Task, rows: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const cols = 4;
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const k = i % 3;
    for (let j = 0; j < cols; j++) X[i * cols + j] = Math.fround(rng.normal() * 3.7 + (task === 'classification' ? k * (j + 1) * 0.9 : 0));
    for (const j of [1, 3]) if (rng.next() < 0.1) X[i * cols + j] = NaN;
    y[i] = task === 'classification' ? k : X[i * cols] - 0.5 * (X[i * cols + 2] || 0);
  }
  return { X: createMatrix(rows, cols, X), y, task, ...(task === 'classification' ? { nClasses: 3 } : {}) };
}

/** Rows probing every split: the split feature set to the float32 values around its raw threshold, or NaN. */
function probeRows(model: PipelineModel, trees: readonly Tree[], base: Matrix): Matrix {
  const { nInputFeatures, means, scales } = model.preprocessor.state;
  const p = base.cols;
  const rows: number[] = [];
  let next = 0;
  const push = (feature: number, value: number): void => {
    const r = next++ % base.rows;
    const row = Array.from(base.data.subarray(r * p, (r + 1) * p));
    row[feature] = value;
    rows.push(...row);
  };
  for (const tree of trees) {
    for (let node = 0; node < tree.nodeCount; node++) {
      const f = tree.feature[node];
      if (f < 0 || f >= nInputFeatures) continue;
      const t = tree.threshold[node];
      if (!Number.isFinite(t)) continue;
      const raw = means && scales ? t * scales[f] + means[f] : t;
      for (let step = -3; step <= 3; step++) push(f, float32Steps(raw, step));
      push(f, NaN);
    }
  }
  return createMatrix(rows.length / p, p, Float64Array.from(rows));
}

async function compare(model: PipelineModel, X: Matrix): Promise<void> {
  const session = await ort.InferenceSession.create(exportOnnx(model).bytes);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(X.data), [X.rows, X.cols]) });
    if (model.task === 'classification') {
      const expected = (model.predictProba as (X: Matrix) => Matrix).call(model, X).data;
      const got = out.probabilities.data as Float64Array;
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      expect(worst).toBeLessThanOrEqual(1e-5);
      expect(Array.from(out.label.data as BigInt64Array, Number)).toEqual(Array.from(model.predict(X)));
    } else {
      const expected = model.predict(X);
      const got = out.variable.data as Float64Array;
      let worst = 0;
      for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
      expect(worst).toBeLessThanOrEqual(1e-5);
    }
  } finally {
    await session.release();
  }
}

const cases: { family: string; task: Task; params: Params; preprocess?: PipelineOptions }[] = [
  { family: 'decision_tree', task: 'classification', params: {} },
  { family: 'decision_tree', task: 'regression', params: {}, preprocess: { scale: true } },
  { family: 'decision_tree', task: 'classification', params: {}, preprocess: { missingIndicator: true, scale: true } },
  { family: 'extra_trees', task: 'classification', params: { n_estimators: 5 }, preprocess: { scale: true } },
  { family: 'gbdt', task: 'classification', params: { max_iter: 10, min_samples_leaf: 3 } },
  { family: 'gbdt', task: 'regression', params: { max_iter: 10, min_samples_leaf: 3 }, preprocess: { scale: true } },
];

describe('tree export under float32 inputs', () => {
  it.each(cases)('$family $task ($preprocess) sends every probe row where spotml does', async ({ family, task, params, preprocess }) => {
    const train = data(task, 160, 7);
    const model = await fitPipeline(getFamily(family), train, params, { seed: 2, ...(preprocess ? { preprocess } : {}) });
    const inner = model.model as AveragedTreesModel | GbdtModel;
    const probes = probeRows(model, inner.trees, data(task, 50, 8).X);
    expect(probes.rows).toBeGreaterThan(50);
    await compare(model, probes);
  });
});
