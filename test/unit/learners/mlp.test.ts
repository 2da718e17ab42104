/**
 * mlp: what it learns, the training loop's parts (schedules, early stopping, class weights, the split),
 * and its ONNX export. References: closed forms for the loop's arithmetic, an independent tfjs forward
 * (tf.matMul on the CPU backend) for predict, onnxruntime for the export (1e-4, float32).
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { MlpModel, mlp } from '../../../src/learners/mlp.js';
import { fitPipeline } from '../../../src/learners/preprocess.js';
import { Rng } from '../../../src/learners/rng.js';
import type { FitProgress, FittedModel, TrainingData } from '../../../src/learners/types.js';
import { EarlyStopping, PlateauLr, balancedClassWeights, scheduledLr, validationSplit } from '../../../src/learners/dl/schedule.js';
import type { EpochProgress } from '../../../src/learners/dl/loop.js';
import { exportDlOnnx } from '../../../src/export/onnx/dl.js';
import { getTf } from '../../../src/runtime/tf.js';

function blobs(rows: number, cols: number, seed: number, nClasses = 3, counts?: number[]): TrainingData {
  const rng = new Rng(seed);
  const labels: number[] = [];
  if (counts) counts.forEach((n, c) => labels.push(...new Array<number>(n).fill(c)));
  else for (let i = 0; i < rows; i++) labels.push(i % nClasses);
  const X = new Float64Array(labels.length * cols);
  labels.forEach((label, i) => {
    for (let j = 0; j < cols; j++) X[i * cols + j] = rng.normal() + (j % nClasses === label ? 2 : 0);
  });
  return { X: createMatrix(labels.length, cols, X), y: Float64Array.from(labels), task: 'classification', nClasses };
}

function linear(rows: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const X = new Float64Array(rows * 3);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < 3; j++) X[i * 3 + j] = rng.normal();
    y[i] = 10 + 3 * X[i * 3] - 2 * X[i * 3 + 1] + 0.5 * X[i * 3 + 2] + 0.05 * rng.normal();
  }
  return { X: createMatrix(rows, 3, X), y, task: 'regression' };
}

async function onnxRun(bytes: Uint8Array, X: Matrix): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const input = new ort.Tensor('float32', Float32Array.from(X.data), [X.rows, X.cols]);
  const result = await session.run({ input });
  const out = result[session.outputNames[0]];
  await session.release();
  return out.data as Float32Array;
}

/** The network's output layer through tfjs ops on the CPU backend, from the model's saved weights. */
async function tfjsOutputs(model: MlpModel, X: Matrix): Promise<Float32Array> {
  const { tf } = await getTf('cpu');
  try {
    return tf.tidy(() => {
      let h = tf.tensor2d(Float32Array.from(X.data), [X.rows, X.cols]);
      model.layers.forEach((layer, l) => {
        h = tf.add(tf.matMul(h, tf.tensor2d(layer.weight, [layer.inputs, layer.outputs])), tf.tensor1d(layer.bias));
        if (l < model.layers.length - 1) h = model.activation === 'relu' ? tf.relu(h) : tf.tanh(h);
      });
      return (model.task === 'classification' ? tf.softmax(h) : h).dataSync() as Float32Array;
    });
  } finally {
    await getTf('wasm');
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

const FAST = { hidden_units: 16, max_epochs: 40 };

describe('mlp learns', () => {
  it('separates Gaussian blobs (held-out accuracy ≥ 0.85)', async () => {
    const model = await mlp.fit(blobs(150, 4, 1), FAST, { seed: 1 });
    const test = blobs(60, 4, 2);
    const predicted = model.predict(test.X);
    let correct = 0;
    for (let i = 0; i < predicted.length; i++) if (predicted[i] === test.y[i]) correct++;
    expect(correct / predicted.length).toBeGreaterThanOrEqual(0.85);
  });

  it('fits a linear target (held-out R² ≥ 0.95), predicting in the target’s units', async () => {
    const model = await mlp.fit(linear(200, 3), { ...FAST, max_epochs: 150, learning_rate: 0.01 }, { seed: 3 });
    const test = linear(80, 4);
    const predicted = model.predict(test.X);
    let mean = 0;
    for (const v of test.y) mean += v / test.y.length;
    let residual = 0;
    let total = 0;
    for (let i = 0; i < predicted.length; i++) {
      residual += (predicted[i] - test.y[i]) ** 2;
      total += (test.y[i] - mean) ** 2;
    }
    expect(1 - residual / total).toBeGreaterThanOrEqual(0.95);
  });

  it('stops early on the validation loss, keeps the best epoch and reports progress per epoch', async () => {
    const seen: FitProgress[] = [];
    const model = await mlp.fit(blobs(90, 4, 5), { hidden_units: 16, max_epochs: 400, patience: 3, learning_rate: 0.05 }, { seed: 5, onProgress: (p) => seen.push(p) });
    const state = (model.toJSON().state as { training: { epochs: number; bestEpoch: number } }).training;
    expect(state.epochs).toBeLessThan(400);
    expect(seen.length).toBe(state.epochs);
    expect(seen.map((p) => p.step)).toEqual(Array.from({ length: state.epochs }, (_, i) => i + 1));
    const losses = seen.map((p) => (p as EpochProgress).validationLoss as number);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(state.bestEpoch).toBe(losses.indexOf(Math.min(...losses)));
    expect(state.epochs - 1 - state.bestEpoch).toBeGreaterThanOrEqual(3);
    for (const p of seen) expect((p as EpochProgress).loss).toBeGreaterThan(0);
  });

  it('balanced class weights raise the minority class’s recall', async () => {
    const data = blobs(0, 2, 7, 2, [90, 10]);
    const params = { hidden_units: 8, max_epochs: 30, patience: 0, dropout: 0 };
    const recall = (model: FittedModel): number => {
      const test = blobs(0, 2, 8, 2, [0, 200]);
      return model.predict(test.X).filter((c) => c === 1).length / 200;
    };
    const plain = recall(await mlp.fit(data, { ...params, class_weight: 'none' }, { seed: 7 }));
    const balanced = recall(await mlp.fit(data, { ...params, class_weight: 'balanced' }, { seed: 7 }));
    expect(balanced).toBeGreaterThan(plain);
  });

  it('uses a given validation set instead of splitting one off', async () => {
    const seen: number[] = [];
    await mlp.fit(blobs(60, 4, 9), { ...FAST, max_epochs: 3 }, { seed: 9, validation: blobs(30, 4, 10), onProgress: (p) => seen.push((p as EpochProgress).validationScore as number) });
    expect(seen.length).toBe(3);
    // 30 validation rows: every accuracy is a multiple of 1/30.
    for (const score of seen) expect(Math.abs(score * 30 - Math.round(score * 30))).toBeLessThan(1e-9);
  });
});

describe('mlp predict and ONNX export', () => {
  it('predict (JavaScript) equals a tfjs forward of the same weights, and the ONNX graph equals both (1e-4)', async () => {
    const data = blobs(80, 5, 11);
    const test = blobs(30, 5, 12);
    for (const activation of ['relu', 'tanh']) {
      const model = (await mlp.fit(data, { ...FAST, activation }, { seed: 11 })) as MlpModel;
      const proba = model.predictProba(test.X).data;
      expect(maxAbsDiff(proba, await tfjsOutputs(model, test.X))).toBeLessThan(1e-5);
      expect(maxAbsDiff(proba, await onnxRun(exportDlOnnx(model), test.X))).toBeLessThan(1e-4);
    }
  });

  it('exports a regressor (target un-scaling included)', async () => {
    const model = (await mlp.fit(linear(100, 13), { ...FAST, max_epochs: 20 }, { seed: 13 })) as MlpModel;
    const test = linear(20, 14);
    const predicted = model.predict(test.X);
    const onnx = await onnxRun(exportDlOnnx(model), test.X);
    for (let i = 0; i < predicted.length; i++) expect(Math.abs(onnx[i] - predicted[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(predicted[i])));
  });

  it('exports the pipeline around it: imputation, missing indicators and scaling', async () => {
    const data = blobs(80, 4, 15);
    const X = data.X.data.slice();
    for (let i = 0; i < X.length; i += 9) X[i] = NaN;
    const pipeline = await fitPipeline(mlp, { ...data, X: createMatrix(80, 4, X) }, FAST, { seed: 15, preprocess: { missingIndicator: true } });
    const test = blobs(20, 4, 16);
    const testX = test.X.data.slice();
    for (let i = 0; i < testX.length; i += 5) testX[i] = NaN;
    const queries = createMatrix(20, 4, testX);
    expect(maxAbsDiff(pipeline.predictProba!(queries).data, await onnxRun(exportDlOnnx(pipeline), queries))).toBeLessThan(1e-4);
  });
});

describe('training-loop arithmetic', () => {
  it('cosine decays from the base rate to 1% of it; constant stays', () => {
    expect(scheduledLr('cosine', 0.1, 0, 11)).toBeCloseTo(0.1, 12);
    expect(scheduledLr('cosine', 0.1, 5, 11)).toBeCloseTo(0.001 + 0.5 * 0.099, 12);
    expect(scheduledLr('cosine', 0.1, 10, 11)).toBeCloseTo(0.001, 12);
    expect(scheduledLr('constant', 0.1, 7, 11)).toBe(0.1);
  });

  it('plateau halves the rate after `wait` epochs without improvement', () => {
    const plateau = new PlateauLr(0.1, 2);
    expect(plateau.update(1)).toBe(0.1);
    expect(plateau.update(0.5)).toBe(0.1);
    expect(plateau.update(0.6)).toBe(0.1);
    expect(plateau.update(0.7)).toBe(0.05);
    expect(plateau.update(0.4)).toBe(0.05);
  });

  it('early stopping keeps the best epoch and stops after `patience` stale epochs', () => {
    const stop = new EarlyStopping(2);
    expect(stop.update(0, 1)).toBe(true);
    expect(stop.update(1, 0.8)).toBe(true);
    expect(stop.update(2, 0.9)).toBe(false);
    expect(stop.shouldStop).toBe(false);
    expect(stop.update(3, 0.85)).toBe(false);
    expect(stop.shouldStop).toBe(true);
    expect(stop.bestEpoch).toBe(1);
    expect(new EarlyStopping(0).shouldStop).toBe(false);
  });

  it('balanced class weights are n / (k · count), as scikit-learn computes them', () => {
    const y = Float64Array.from([0, 0, 0, 1, 2, 2]);
    expect(Array.from(balancedClassWeights(y, 3))).toEqual([6 / 9, 6 / 3, 6 / 6]);
    // A class absent from y gets no weight and does not count in k.
    expect(Array.from(balancedClassWeights(Float64Array.from([0, 0, 1]), 3))).toEqual([3 / 4, 3 / 2, 0]);
  });

  it('the validation split is stratified, disjoint, covers every row and keeps each class in training', () => {
    const y = Float64Array.from({ length: 50 }, (_, i) => (i < 40 ? 0 : 1));
    const { train, validation } = validationSplit(y, 2, 0.2, 3);
    expect(train.length + validation.length).toBe(50);
    expect(new Set([...train, ...validation]).size).toBe(50);
    expect(Array.from(validation).filter((i) => y[i] === 0).length).toBe(8);
    expect(Array.from(validation).filter((i) => y[i] === 1).length).toBe(2);
    const tiny = validationSplit(Float64Array.from([0, 1, 0, 1]), 2, 0.1, 3);
    expect(tiny.validation.length).toBe(0);
    expect(tiny.train.length).toBe(4);
  });
});

describe('training progress', () => {
  it('logs loss, validation loss and metric per epoch as stepped metrics and ticks the bar', async () => {
    const { epochReporter } = await import('../../../src/learners/dl/progress.js');
    const batches: { metrics?: { key: string; value: number; step: number }[] }[] = [];
    const store = { logBatch: async (_runId: string, batch: (typeof batches)[number]) => void batches.push(batch) };
    const ticks: [number, string][] = [];
    const bar = { tick: (n = 1, detail = '') => void ticks.push([n, detail]), setTotal: () => {}, done: () => {} };
    const reporter = epochReporter({ logger: { store, runId: 'r' } as never, bar, flushEvery: 2 });
    await mlp.fit(blobs(60, 3, 21), { hidden_units: 8, max_epochs: 5, patience: 0 }, { seed: 21, validation: blobs(20, 3, 22), onProgress: reporter.onProgress });
    await reporter.flush();
    const metrics = batches.flatMap((b) => b.metrics ?? []);
    for (const key of ['train_loss', 'val_loss', 'val_accuracy', 'learning_rate']) {
      expect(metrics.filter((m) => m.key === key).map((m) => m.step)).toEqual([1, 2, 3, 4, 5]);
    }
    expect(batches.length).toBeGreaterThan(1);
    expect(ticks.length).toBe(5);
    expect(ticks.every(([n]) => n === 1)).toBe(true);
    expect(ticks[4][1]).toMatch(/^loss \d\.\d{4} · val_loss \d\.\d{4} · val_accuracy \d\.\d{3}$/);
  });
});
