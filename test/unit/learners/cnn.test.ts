/**
 * cnn: the wasm-side gradients against the CPU backend's native ones, predict (folded batch norm, in
 * JavaScript) against a tfjs inference forward of the unfolded weights, the ONNX export against both,
 * augmentation, and the frame-matrix reader against the extract writer.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { CnnModel, cnn } from '../../../src/learners/cnn.js';
import { Rng } from '../../../src/learners/rng.js';
import type { TrainingData } from '../../../src/learners/types.js';
import { batchNorm, conv2dFilterGrad, conv2dInputGrad, conv2dSame, BATCH_NORM_EPSILON } from '../../../src/learners/dl/ops.js';
import { mixup, sampleBeta, specAugment } from '../../../src/learners/dl/augment.js';
import { fitFrames, parseNpy } from '../../../src/learners/dl/frames.js';
import { decodeFloat32 } from '../../../src/learners/dl/weights.js';
import { npyFloat32 } from '../../../src/audio/extract.js';
import { exportDlOnnx } from '../../../src/export/onnx/dl.js';
import { getTf, type Tf } from '../../../src/runtime/tf.js';

function patches(rows: number, bands: number, frames: number, seed: number, nClasses = 3): TrainingData {
  const rng = new Rng(seed);
  const cols = bands * frames;
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = i % nClasses;
    y[i] = label;
    for (let b = 0; b < bands; b++) for (let t = 0; t < frames; t++) X[i * cols + b * frames + t] = -50 + 5 * rng.normal() + (b % nClasses === label ? 15 : 0);
  }
  return { X: createMatrix(rows, cols, X), y, task: 'classification', nClasses };
}

function randomTensor(tf: Tf, shape: number[], seed: number): Tensor {
  const rng = new Rng(seed);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return tf.tensor(values, shape);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function onnxRun(bytes: Uint8Array, X: Matrix): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const result = await session.run({ input: new ort.Tensor('float32', Float32Array.from(X.data), [X.rows, X.cols]) });
  const out = result[session.outputNames[0]].data as Float32Array;
  await session.release();
  return out;
}

describe('wasm convolution and batch-norm gradients', () => {
  it('conv2dSame’s gradients on wasm equal the CPU backend’s native Conv2D gradients', async () => {
    const shapes: [number[], number[]][] = [
      [[2, 7, 5, 3], [3, 3, 3, 4]],
      [[3, 4, 9, 1], [3, 3, 1, 2]],
      [[1, 6, 6, 2], [5, 5, 2, 3]],
    ];
    for (const [xShape, wShape] of shapes) {
      const cpu = (await getTf('cpu')).tf;
      const reference = cpu.grads((x: Tensor, w: Tensor) => cpu.sum(cpu.mul(cpu.conv2d(x as Tensor4D, w as Tensor4D, 1, 'same'), randomTensor(cpu, [...xShape.slice(0, 3), wShape[3]], 3))));
      const [dxCpu, dwCpu] = reference([randomTensor(cpu, xShape, 1), randomTensor(cpu, wShape, 2)]).map((t) => t.dataSync().slice());
      const wasm = (await getTf('wasm')).tf;
      expect(wasm.getBackend()).toBe('wasm');
      const ours = wasm.grads((x: Tensor, w: Tensor) => wasm.sum(wasm.mul(conv2dSame(wasm, x as Tensor4D, w as Tensor4D), randomTensor(wasm, [...xShape.slice(0, 3), wShape[3]], 3))));
      const [dx, dw] = ours([randomTensor(wasm, xShape, 1), randomTensor(wasm, wShape, 2)]).map((t) => t.dataSync().slice());
      expect(maxAbsDiff(dx, dxCpu)).toBeLessThan(1e-4);
      expect(maxAbsDiff(dw, dwCpu)).toBeLessThan(1e-4);
      // The two helpers alone, too (they are what the custom gradient calls).
      const x = randomTensor(wasm, xShape, 1) as Tensor4D;
      const dy = randomTensor(wasm, [...xShape.slice(0, 3), wShape[3]], 3) as Tensor4D;
      const w = randomTensor(wasm, wShape, 2) as Tensor4D;
      expect(maxAbsDiff(conv2dFilterGrad(wasm, x, dy, wShape[0]).dataSync(), dwCpu)).toBeLessThan(1e-4);
      expect(maxAbsDiff(conv2dInputGrad(wasm, dy, w).dataSync(), dxCpu)).toBeLessThan(1e-4);
    }
  });

  it('the closed-form batch-norm gradient equals tfjs’s autodiff of the textbook formula', async () => {
    const { tf } = await getTf('wasm');
    const x = randomTensor(tf, [4, 3, 5, 6], 4);
    const gamma = tf.variable(randomTensor(tf, [6], 5));
    const beta = tf.variable(randomTensor(tf, [6], 6));
    const upstream = randomTensor(tf, [4, 3, 5, 6], 7);
    const context = { training: true, dropoutMask: null, running: [], moments: [] as { mean: Tensor; variance: Tensor }[] };
    const ours = tf.grads((input: Tensor, g: Tensor, b: Tensor) => {
      void g;
      void b;
      return tf.sum(tf.mul(batchNorm(tf, input, gamma, beta, 0, context), upstream));
    });
    const [dxOurs] = ours([x, gamma, beta]);
    const textbook = tf.grads((input: Tensor, g: Tensor, b: Tensor) => {
      const { mean, variance } = tf.moments(input, [0, 1, 2]);
      const normalised = tf.div(tf.sub(input, mean), tf.sqrt(tf.add(variance, BATCH_NORM_EPSILON)));
      return tf.sum(tf.mul(tf.add(tf.mul(normalised, g), b), upstream));
    });
    const [dxRef, dgRef, dbRef] = textbook([x, gamma, beta]);
    expect(maxAbsDiff(dxOurs.dataSync(), dxRef.dataSync())).toBeLessThan(1e-4);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(batchNorm(tf, x, gamma, beta, 0, context), upstream)) as never, [gamma, beta]);
    expect(maxAbsDiff(grads[gamma.name].dataSync(), dgRef.dataSync())).toBeLessThan(1e-4);
    expect(maxAbsDiff(grads[beta.name].dataSync(), dbRef.dataSync())).toBeLessThan(1e-4);
    for (const m of context.moments) tf.dispose([m.mean, m.variance]);
  });
});

describe('cnn predict and ONNX export', () => {
  it('predict (batch norm folded, JavaScript) equals a tfjs forward of the unfolded weights, and ONNX equals both (1e-4)', async () => {
    const data = patches(48, 8, 10, 1);
    const test = patches(12, 8, 10, 2);
    const model = (await cnn.fit(data, { n_bands: 8, channels: 4, blocks: 3, max_epochs: 4 }, { seed: 1 })) as CnnModel;
    const proba = model.predictProba(test.X).data;

    // The reference: tfjs ops on the CPU backend with the saved (unfolded) batch-norm statistics.
    const { tf } = await getTf('cpu');
    const state = model.state;
    const reference = tf.tidy(() => {
      const mean = decodeFloat32(state.inputMean, 8, 'cnn', 'mean');
      const scale = decodeFloat32(state.inputScale, 8, 'cnn', 'scale');
      let h = tf.div(tf.sub(tf.tensor4d(Float32Array.from(test.X.data), [12, 8, 10, 1]), tf.tensor4d(mean, [1, 8, 1, 1])), tf.tensor4d(scale, [1, 8, 1, 1])) as Tensor4D;
      for (const block of state.blocks) {
        const c = block.outChannels;
        const w = tf.tensor4d(decodeFloat32(block.weight, 9 * block.inChannels * c, 'cnn', 'w'), [3, 3, block.inChannels, c]);
        const conv = tf.conv2d(h, w, 1, 'same');
        const dec = (s: string): Tensor => tf.tensor1d(decodeFloat32(s, c, 'cnn', 'bn'));
        h = tf.relu(tf.batchNorm(conv, dec(block.runningMean), dec(block.runningVariance), dec(block.beta), dec(block.gamma), BATCH_NORM_EPSILON)) as Tensor4D;
        if (block.pool[0] > 1 || block.pool[1] > 1) h = tf.maxPool(h, block.pool, block.pool, 'valid');
      }
      const d = state.dense;
      const logits = tf.add(tf.matMul(tf.mean(h, [1, 2]), tf.tensor2d(decodeFloat32(d.weight, d.inputs * d.outputs, 'cnn', 'dw'), [d.inputs, d.outputs])), tf.tensor1d(decodeFloat32(d.bias, d.outputs, 'cnn', 'db')));
      return tf.softmax(logits).dataSync().slice();
    });
    await getTf('wasm');
    expect(maxAbsDiff(proba, reference)).toBeLessThan(1e-4);
    expect(maxAbsDiff(proba, await onnxRun(exportDlOnnx(model), test.X))).toBeLessThan(1e-4);
  });

  it('exports odd-sized maps (floor pooling) and a single-band input', async () => {
    for (const [bands, frames] of [
      [5, 7],
      [1, 9],
    ]) {
      const model = await cnn.fit(patches(30, bands, frames, 3), { n_bands: bands, channels: 3, blocks: 2, max_epochs: 2 }, { seed: 3 });
      const test = patches(6, bands, frames, 4);
      expect(maxAbsDiff(model.predictProba!(test.X).data, await onnxRun(exportDlOnnx(model), test.X))).toBeLessThan(1e-4);
    }
  });
});

describe('augmentation', () => {
  it('SpecAugment masks whole bands and whole frame runs with the mask value, within the width caps', () => {
    const bands = 16;
    const frames = 20;
    const batch = new Float32Array(3 * bands * frames).fill(1);
    specAugment(batch, 3, bands, frames, { freqMasks: 1, freqMaskWidth: 100, timeMasks: 0, timeMaskWidth: 0 }, new Rng(1), 0);
    for (let r = 0; r < 3; r++) {
      let maskedBands = 0;
      for (let b = 0; b < bands; b++) {
        const row = batch.subarray(r * bands * frames + b * frames, r * bands * frames + (b + 1) * frames);
        const zeros = row.filter((v) => v === 0).length;
        expect([0, frames]).toContain(zeros);
        if (zeros === frames) maskedBands++;
      }
      expect(maskedBands).toBeLessThanOrEqual(bands / 4);
    }
    const timed = new Float32Array(bands * frames).fill(1);
    specAugment(timed, 1, bands, frames, { freqMasks: 0, freqMaskWidth: 0, timeMasks: 1, timeMaskWidth: 100 }, new Rng(5), 0);
    for (let t = 0; t < frames; t++) {
      const column = Array.from({ length: bands }, (_, b) => timed[b * frames + t]);
      expect(new Set(column).size).toBe(1);
    }
    expect(timed.filter((v) => v === 0).length / bands).toBeLessThanOrEqual(frames / 4);
  });

  it('mixup gives convex combinations of rows, targets and weights with one λ per batch', () => {
    const inputs = Float32Array.from([0, 0, 10, 10, 20, 20]);
    const targets = Float32Array.from([1, 0, 0, 1, 1, 0]);
    const weights = Float32Array.from([1, 2, 3]);
    const lambda = mixup(inputs, 2, targets, 2, weights, 3, 0.4, new Rng(2));
    expect(lambda).toBeGreaterThan(0);
    expect(lambda).toBeLessThan(1);
    for (let i = 0; i < 3; i++) {
      expect(targets[2 * i] + targets[2 * i + 1]).toBeCloseTo(1, 6);
      expect(inputs[2 * i]).toBe(inputs[2 * i + 1]);
      // Row i mixes itself (weight λ) with some partner j: solve for the partner and check every field agrees.
      const original = [0, 10, 20];
      const partners = original.filter((_, j) => Math.abs(lambda * original[i] + (1 - lambda) * original[j] - inputs[2 * i]) < 1e-3);
      expect(partners.length).toBeGreaterThan(0);
    }
  });

  it('Beta(α, α) samples have mean 1/2 and variance 1/(4(2α+1))', () => {
    const rng = new Rng(9);
    for (const alpha of [0.2, 2]) {
      const n = 20000;
      let sum = 0;
      let squares = 0;
      for (let i = 0; i < n; i++) {
        const v = sampleBeta(alpha, alpha, rng);
        sum += v;
        squares += v * v;
      }
      const mean = sum / n;
      expect(mean).toBeCloseTo(0.5, 1);
      expect(squares / n - mean * mean).toBeCloseTo(1 / (4 * (2 * alpha + 1)), 2);
    }
  });
});

describe('frame matrices', () => {
  it('reads what extract --frames writes, and crops or pads to a frame count', () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i - 5.5);
    const bytes = npyFloat32({ rows: 3, frames: 4, data });
    const parsed = parseNpy(bytes, 'x.npy');
    expect(parsed.rows).toBe(3);
    expect(parsed.cols).toBe(4);
    expect(Array.from(parsed.data)).toEqual(Array.from(data));
    const padded = new Float64Array(3 * 6);
    fitFrames(parsed, 6, padded, 0);
    expect(Array.from(padded.subarray(0, 6))).toEqual([-5.5, -4.5, -3.5, -2.5, -5.5, -5.5]);
    const cropped = new Float64Array(3 * 2);
    fitFrames(parsed, 2, cropped, 0);
    expect(Array.from(cropped)).toEqual([-5.5, -4.5, -1.5, -0.5, 2.5, 3.5]);
    expect(() => parseNpy(new Uint8Array(20), 'bad.npy')).toThrow(/bad.npy: not a float32 frame matrix/);
  });
});
