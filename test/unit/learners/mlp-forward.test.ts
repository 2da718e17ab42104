/**
 * mlp predict's row kernels (dl/forward.ts denseRowsByOutput / denseRowByOutput, run by mlp.ts forwardByOutput)
 * against the row-by-row denseRow path they replaced and an independent naive forward written here: the same
 * doubles bit for bit (Object.is, so ±0 counts), for blocks of four rows and the rows left over, ReLU and tanh,
 * inputs with exact zeros. Layers the kernels cannot reproduce exactly (a −0 bias, a non-finite weight) must
 * make the model fall back to the row-by-row path.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createMatrix } from '../../../src/data/matrix.js';
import { rowKernelsExact, weightsByOutput, denseRowByOutput, denseRow, type Activation, type DenseLayer } from '../../../src/learners/dl/forward.js';
import { encodeFloat32 } from '../../../src/learners/dl/weights.js';
import { forwardByOutput, forwardRowByRow, mlp, MlpModel } from '../../../src/learners/mlp.js';
import { Rng } from '../../../src/learners/rng.js';
import type { SerializedModel } from '../../../src/learners/types.js';

function randomLayers(widths: readonly number[], rng: Rng, zeroWeightShare = 0.1): DenseLayer[] {
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const inputs = widths[l];
    const outputs = widths[l + 1];
    const weight = new Float32Array(inputs * outputs);
    for (let i = 0; i < weight.length; i++) weight[i] = rng.next() < zeroWeightShare ? 0 : (2 * rng.next() - 1) * 0.5;
    const bias = new Float32Array(outputs);
    for (let j = 0; j < outputs; j++) bias[j] = rng.next() < 0.2 ? 0 : 2 * rng.next() - 1;
    layers.push({ inputs, outputs, weight, bias });
  }
  return layers;
}

/** Rows with a share of exact zeros (and some −0), as scaled constant columns and ReLU outputs give. */
function randomRows(rows: number, cols: number, rng: Rng): Float64Array {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    const u = rng.next();
    data[i] = u < 0.15 ? 0 : u < 0.2 ? -0 : (2 * rng.next() - 1) * 3;
  }
  return data;
}

/** The network written out plainly: per row, per layer, per output, the bias then every non-zero input's product in order. */
function naiveForward(layers: readonly DenseLayer[], activation: Activation, data: Float64Array, rows: number): Float64Array {
  const outputs = layers[layers.length - 1].outputs;
  const out = new Float64Array(rows * outputs);
  for (let r = 0; r < rows; r++) {
    let values = Array.from(data.subarray(r * layers[0].inputs, (r + 1) * layers[0].inputs));
    layers.forEach((layer, l) => {
      const next: number[] = [];
      for (let j = 0; j < layer.outputs; j++) {
        let sum = layer.bias[j];
        for (let i = 0; i < layer.inputs; i++) if (values[i] !== 0) sum += values[i] * layer.weight[i * layer.outputs + j];
        next.push(l === layers.length - 1 ? sum : activation === 'relu' ? (sum < 0 ? 0 : sum) : Math.tanh(sum));
      }
      values = next;
    });
    for (let j = 0; j < outputs; j++) out[r * outputs + j] = values[j];
  }
  return out;
}

function bitIdentical(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function modelJson(layers: readonly DenseLayer[], activation: Activation): SerializedModel {
  const nClasses = layers[layers.length - 1].outputs;
  return {
    format: 'spotml-model',
    formatVersion: 1,
    family: 'mlp',
    task: 'classification',
    nFeatures: layers[0].inputs,
    nClasses,
    params: { activation, hidden_layers: layers.length - 1, hidden_units: layers[0].outputs },
    state: {
      activation,
      layers: layers.map((l) => ({ inputs: l.inputs, outputs: l.outputs, weight: encodeFloat32(l.weight), bias: encodeFloat32(l.bias) })),
      target: null,
      training: { epochs: 1, bestEpoch: 1, backend: 'cpu' },
    },
  };
}

describe('mlp forward by output', () => {
  it('equals the row-by-row path and a naive forward bit for bit (blocks of four and the rows left over, relu and tanh)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 11 }),
        fc.array(fc.integer({ min: 1, max: 13 }), { minLength: 2, maxLength: 4 }),
        fc.constantFrom<Activation>('relu', 'tanh'),
        (seed, rows, widths, activation) => {
          const rng = new Rng(seed);
          const layers = randomLayers(widths, rng);
          const data = randomRows(rows, widths[0], rng);
          const outputs = widths[widths.length - 1];
          const fast = new Float64Array(rows * outputs);
          forwardByOutput(layers, layers.map(weightsByOutput), activation, data, rows, fast);
          const byRow = new Float64Array(rows * outputs);
          forwardRowByRow(layers, activation, data, rows, byRow);
          expect(bitIdentical(fast, byRow)).toBe(true);
          expect(bitIdentical(fast, naiveForward(layers, activation, data, rows))).toBe(true);
        },
      ),
      { numRuns: 300, seed: 20240611 },
    );
  });

  it('a served-size network predicts its probabilities and labels exactly as row by row, and a batch as single rows', () => {
    const rng = new Rng(7);
    const layers = randomLayers([429, 103, 103, 5], rng, 0);
    const model = mlp.load(modelJson(layers, 'tanh')) as MlpModel;
    const rows = 37;
    const X = createMatrix(rows, 429, randomRows(rows, 429, rng));
    const logits = model.forward(X);
    const reference = new Float64Array(rows * 5);
    forwardRowByRow(model.layers, 'tanh', X.data, rows, reference);
    expect(bitIdentical(logits, reference)).toBe(true);
    const batch = model.predictProba(X).data;
    for (const r of [0, 3, 36]) {
      const single = model.predictProba(createMatrix(1, 429, X.data.slice(r * 429, (r + 1) * 429))).data;
      expect(bitIdentical(single, batch.subarray(r * 5, (r + 1) * 5))).toBe(true);
    }
  });

  it('layers the kernels would change by a bit (−0 bias, non-finite weight) are refused, and the model then goes row by row', () => {
    const rng = new Rng(3);
    const [layer] = randomLayers([6, 5], rng);
    expect(rowKernelsExact(layer)).toBe(true);
    // A −0 bias and a zero input: denseRow keeps −0, summing every product turns it into +0.
    const negativeZero: DenseLayer = { ...layer, bias: Float32Array.from(layer.bias, (v, j) => (j === 2 ? -0 : v)) };
    const zeros = new Float64Array(6);
    const skipped = new Float64Array(5);
    const summed = new Float64Array(5);
    denseRow(negativeZero, zeros, skipped);
    denseRowByOutput(6, 5, weightsByOutput(negativeZero), negativeZero.bias, zeros, 0, summed, 0);
    expect(Object.is(skipped[2], -0)).toBe(true);
    expect(Object.is(summed[2], -0)).toBe(false);
    expect(rowKernelsExact(negativeZero)).toBe(false);
    const infinite: DenseLayer = { ...layer, weight: Float32Array.from(layer.weight, (v, i) => (i === 4 ? Infinity : v)) };
    expect(rowKernelsExact(infinite)).toBe(false);

    for (const odd of [negativeZero, infinite]) {
      const layers = [odd, ...randomLayers([5, 4, 3], rng)];
      const model = mlp.load(modelJson(layers, 'relu')) as MlpModel;
      const rows = 9;
      const data = randomRows(rows, 6, rng);
      data.fill(0, 0, 6);
      const reference = new Float64Array(rows * 3);
      forwardRowByRow(model.layers, 'relu', data, rows, reference);
      expect(bitIdentical(model.forward(createMatrix(rows, 6, data)), reference)).toBe(true);
    }
  });
});
