/**
 * mlp: a multi-layer perceptron on feature tables (scikit-learn's MLPClassifier / MLPRegressor, trained the
 * Keras way): `hidden_layers` dense layers of `hidden_units` with ReLU or tanh, dropout before the output,
 * softmax cross-entropy (classification) or squared error on the standardised target (regression).
 *
 * fit trains on TensorFlow.js (src/runtime/tf.ts picks the backend; loaded only here, on first use) with the
 * shared loop in dl/loop.ts: AdamW, a learning-rate schedule, class weights, early stopping on a validation
 * split that keeps the best epoch. predict runs the fitted weights in plain JavaScript (dl/forward.ts), so
 * loading and serving a model never loads tfjs. Exports to ONNX (src/export/onnx/dl.ts).
 */
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { getTf, type Tf } from '../runtime/tf.js';
import { resolveParams, type ResolvedParams } from './params.js';
import { argmaxRows, checkModelJson, checkNoMissing, malformed, withArgmaxLabels } from './preprocess.js';
import { Rng, hashSeed } from './rng.js';
import type { FitOptions, FittedModel, LabelsAndProba, LearnerFamily, Params, SerializedModel, Task, TrainingData } from './types.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
import { activate, denseRow, denseRowByOutput, denseRowsByOutput, rowKernelsExact, softmaxInto, weightsByOutput, type Activation, type DenseLayer } from './dl/forward.js';
import { trainNetwork, type ForwardContext, type LoopData, type NetworkSpec, type ParamInit } from './dl/loop.js';
import { trainingParams, trainingSettings } from './dl/params.js';
import { balancedClassWeights, validationSplit } from './dl/schedule.js';
import { decodeFloat32, encodeFloat32, glorotUniform, heUniform } from './dl/weights.js';
import { serializedModel } from './serialized.js';

export const MLP = 'mlp';

const MLP_PARAMS = {
  hidden_units: { type: 'int', default: 64, low: 1, high: 4096, description: 'units in each hidden layer', search: { low: 16, high: 256, log: true } },
  hidden_layers: { type: 'int', default: 2, low: 1, high: 8, description: 'number of hidden layers', search: { low: 1, high: 3 } },
  activation: { type: 'categorical', default: 'relu', choices: ['relu', 'tanh'], description: 'hidden-layer activation', search: ['relu', 'tanh'] },
  ...trainingParams({ learningRate: 1e-3, batchSize: 32, maxEpochs: 200, patience: 10, dropout: 0.1 }),
} as const;

type MlpParams = ResolvedParams<typeof MLP_PARAMS>;

interface SavedLayer {
  inputs: number;
  outputs: number;
  weight: string;
  bias: string;
}

interface MlpState {
  activation: Activation;
  layers: SavedLayer[];
  /** Regression: the network predicts (y − mean) / scale. */
  target: { mean: number; scale: number } | null;
  training: { epochs: number; bestEpoch: number; backend: string };
}

export const mlp: LearnerFamily = {
  name: MLP,
  description: 'Multi-layer perceptron (TensorFlow.js): dense ReLU/tanh layers, dropout, AdamW, early stopping; slower, flexible boundaries.',
  tasks: ['classification', 'regression'],
  params: MLP_PARAMS,
  tags: { handlesNaN: false, needsScaling: true, onnx: true, cost: 'high' },

  async fit(data: TrainingData, params: Params, options: FitOptions): Promise<FittedModel> {
    const p = resolveParams(MLP, MLP_PARAMS, params);
    checkTrainingData(data, { family: MLP, tasks: ['classification', 'regression'], allowNaN: false });
    if (options.validation) checkTrainingData(options.validation, { family: `${MLP} (validation set)`, tasks: [data.task], allowNaN: false });
    const runtime = await getTf();
    const k = data.task === 'classification' ? (data.nClasses as number) : 1;
    const target = data.task === 'regression' ? targetScaling(data.y) : null;
    const classWeights = data.task === 'classification' && p.class_weight === 'balanced' ? balancedClassWeights(data.y, k) : null;
    const toLoop = (rows: TrainingData, indices: Int32Array | null): LoopData => loopData(rows, indices, k, target, classWeights);

    let train: LoopData;
    let validation: LoopData | null = null;
    if (options.validation) {
      train = toLoop(data, null);
      validation = toLoop(options.validation, null);
    } else if (p.patience > 0) {
      const split = validationSplit(data.y, data.task === 'classification' ? k : undefined, p.validation_fraction, hashSeed(options.seed, 'validation'));
      train = toLoop(data, split.train);
      validation = split.validation.length > 0 ? toLoop(data, split.validation) : null;
    } else {
      train = toLoop(data, null);
    }

    const spec = mlpNetwork(data.X.cols, k, p, new Rng(hashSeed(options.seed, 'init')));
    const result = await trainNetwork(runtime, spec, train, validation, trainingSettings(p), {
      task: data.task,
      seed: hashSeed(options.seed, 'batches'),
      dropoutRate: p.dropout,
      signal: options.signal,
      onProgress: options.onProgress,
    });
    const layers: SavedLayer[] = [];
    for (let i = 0; i < result.values.length; i += 2) {
      const [inputs, outputs] = spec.params[i].shape;
      layers.push({ inputs, outputs, weight: encodeFloat32(result.values[i]), bias: encodeFloat32(result.values[i + 1]) });
    }
    const state: MlpState = {
      activation: p.activation as Activation,
      layers,
      target,
      training: { epochs: result.epochs, bestEpoch: result.bestEpoch, backend: runtime.backend },
    };
    return new MlpModel(data.task, data.X.cols, data.task === 'classification' ? k : undefined, p, state);
  },

  load(json: SerializedModel): FittedModel {
    checkModelJson(json, MLP);
    const params = resolveParams(MLP, MLP_PARAMS, json.params);
    const state = json.state as MlpState | null;
    if (!state || !Array.isArray(state.layers) || state.layers.length < 2) throw malformed(MLP, 'layers missing');
    const outputs = json.task === 'classification' ? (json.nClasses ?? 0) : 1;
    if (state.layers[0].inputs !== json.nFeatures || state.layers[state.layers.length - 1].outputs !== outputs) throw malformed(MLP, 'layer shapes');
    if (json.task === 'regression' && (!state.target || !(state.target.scale > 0))) throw malformed(MLP, 'target scaling missing');
    return new MlpModel(json.task, json.nFeatures, json.task === 'classification' ? outputs : undefined, params, state);
  },
};

/** The network: Dense(+act) × hidden_layers → dropout → Dense(k). Params alternate weight, bias. */
function mlpNetwork(inputs: number, outputs: number, p: MlpParams, rng: Rng): NetworkSpec {
  const params: ParamInit[] = [];
  let width = inputs;
  for (let l = 0; l < p.hidden_layers; l++) {
    const init = p.activation === 'relu' ? heUniform(width * p.hidden_units, width, rng) : glorotUniform(width * p.hidden_units, width, p.hidden_units, rng);
    params.push({ name: `dense${l}_w`, shape: [width, p.hidden_units], values: init, decay: true });
    params.push({ name: `dense${l}_b`, shape: [p.hidden_units], values: new Float32Array(p.hidden_units), decay: false });
    width = p.hidden_units;
  }
  params.push({ name: 'out_w', shape: [width, outputs], values: glorotUniform(width * outputs, width, outputs, rng), decay: true });
  params.push({ name: 'out_b', shape: [outputs], values: new Float32Array(outputs), decay: false });
  const activation = p.activation as Activation;
  return {
    params,
    batchNormChannels: [],
    inputShape: [inputs],
    dropoutWidth: p.dropout > 0 ? p.hidden_units : 0,
    forward(tf: Tf, variables: readonly Variable[], x: Tensor, context: ForwardContext): Tensor {
      let h = x as Tensor2D;
      const hidden = variables.length / 2 - 1;
      for (let l = 0; l < hidden; l++) {
        const z = tf.add(tf.matMul(h, variables[2 * l] as Tensor2D), variables[2 * l + 1]) as Tensor2D;
        h = activation === 'relu' ? tf.relu(z) : tf.tanh(z);
      }
      if (context.training && context.dropoutMask) h = tf.mul(h, context.dropoutMask);
      return tf.add(tf.matMul(h, variables[2 * hidden] as Tensor2D), variables[2 * hidden + 1]);
    },
  };
}

function targetScaling(y: Float64Array): { mean: number; scale: number } {
  let mean = 0;
  for (const v of y) mean += v;
  mean /= y.length;
  let squares = 0;
  for (const v of y) squares += (v - mean) * (v - mean);
  const std = Math.sqrt(squares / y.length);
  return { mean, scale: std > 0 ? std : 1 };
}

function loopData(data: TrainingData, indices: Int32Array | null, k: number, target: { mean: number; scale: number } | null, classWeights: Float64Array | null): LoopData {
  const cols = data.X.cols;
  const rows = indices ? indices.length : data.X.rows;
  const x = new Float32Array(rows * cols);
  const targets = new Float32Array(rows * k);
  const weights = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const i = indices ? indices[r] : r;
    for (let j = 0; j < cols; j++) x[r * cols + j] = data.X.data[i * cols + j];
    const label = data.y[i];
    if (target) targets[r] = (label - target.mean) / target.scale;
    else targets[r * k + label] = 1;
    weights[r] = (data.sampleWeight?.[i] ?? 1) * (classWeights ? classWeights[label] : 1);
  }
  return { x, rows, rowWidth: cols, targets, targetWidth: k, weights };
}

export class MlpModel implements FittedModel {
  readonly family = MLP;
  readonly layers: DenseLayer[];
  /**
   * Each layer's weights by output for the row kernels (dl/forward.ts), or null when a layer's weights or bias
   * would make them differ from denseRow by a bit (non-finite weight, −0 bias): then predict goes row by row.
   */
  private readonly byOutput: readonly Float32Array[] | null;

  constructor(
    readonly task: Task,
    readonly nFeatures: number,
    readonly nClasses: number | undefined,
    readonly params: MlpParams,
    readonly state: MlpState,
  ) {
    this.layers = state.layers.map((layer, i) => ({
      inputs: layer.inputs,
      outputs: layer.outputs,
      weight: decodeFloat32(layer.weight, layer.inputs * layer.outputs, MLP, `layer ${i} weights`),
      bias: decodeFloat32(layer.bias, layer.outputs, MLP, `layer ${i} bias`),
    }));
    for (let i = 1; i < this.layers.length; i++) if (this.layers[i].inputs !== this.layers[i - 1].outputs) throw malformed(MLP, 'layer shapes');
    this.byOutput = this.layers.every(rowKernelsExact) ? this.layers.map(weightsByOutput) : null;
  }

  get activation(): Activation {
    return this.state.activation;
  }

  predict(X: Matrix): Float64Array {
    if (this.task === 'classification') return argmaxRows(this.predictProba(X));
    const raw = this.forward(X);
    const { mean, scale } = this.state.target as { mean: number; scale: number };
    for (let i = 0; i < raw.length; i++) raw[i] = raw[i] * scale + mean;
    return raw;
  }

  predictWithProba(X: Matrix): LabelsAndProba {
    return withArgmaxLabels(this.predictProba(X));
  }

  predictProba(X: Matrix): Matrix {
    if (this.task !== 'classification') throw malformed(MLP, 'predictProba is for classifiers');
    const k = this.nClasses as number;
    const logits = this.forward(X);
    const out = new Float64Array(X.rows * k);
    const row = new Float64Array(k);
    for (let i = 0; i < X.rows; i++) {
      row.set(logits.subarray(i * k, (i + 1) * k));
      softmaxInto(row, k, out, i * k);
    }
    return createMatrix(X.rows, k, out);
  }

  /** Output-layer values (logits or the standardised target), rows × outputs. */
  forward(X: Matrix): Float64Array {
    checkPredictInput(X, this.nFeatures, MLP);
    checkNoMissing(X, MLP);
    const outputs = this.layers[this.layers.length - 1].outputs;
    const out = new Float64Array(X.rows * outputs);
    if (this.byOutput === null) forwardRowByRow(this.layers, this.activation, X.data, X.rows, out);
    else forwardByOutput(this.layers, this.byOutput, this.activation, X.data, X.rows, out);
    return out;
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }
}

/** Rows predicted together by forwardByOutput: each weight loaded feeds this many rows. */
const ROW_BLOCK = 4;

/**
 * The network over every row, four rows per kernel call (the rest one by one), each layer's activations in a
 * scratch block: the same doubles as forwardRowByRow (rowKernelsExact), at about half its cost per row.
 */
export function forwardByOutput(layers: readonly DenseLayer[], byOutput: readonly Float32Array[], activation: Activation, data: Float64Array, rows: number, out: Float64Array): void {
  const last = layers.length - 1;
  const nFeatures = layers[0].inputs;
  const outputs = layers[last].outputs;
  let widest = 0;
  for (const layer of layers) widest = Math.max(widest, layer.outputs);
  let a = new Float64Array(ROW_BLOCK * widest);
  let b = new Float64Array(ROW_BLOCK * widest);
  const blocked = rows - (rows % ROW_BLOCK);
  for (let r = 0; r < rows; r += r < blocked ? ROW_BLOCK : 1) {
    const block = r < blocked;
    // Layer 0 reads the rows where they are; each later layer reads the block the one before wrote.
    let input = data;
    let inputAt = r * nFeatures;
    for (let l = 0; l <= last; l++) {
      const { inputs, outputs: width, bias } = layers[l];
      const target = l === last ? out : b;
      const targetAt = l === last ? r * outputs : 0;
      if (block) denseRowsByOutput(inputs, width, byOutput[l], bias, input, inputAt, target, targetAt);
      else denseRowByOutput(inputs, width, byOutput[l], bias, input, inputAt, target, targetAt);
      if (l === last) break;
      activate(b, (block ? ROW_BLOCK : 1) * width, activation);
      input = b;
      inputAt = 0;
      const written = b;
      b = a;
      a = written;
    }
  }
}

/** The network row by row with denseRow (skipping zero inputs): the reference forwardByOutput must equal. */
export function forwardRowByRow(layers: readonly DenseLayer[], activation: Activation, data: Float64Array, rows: number, out: Float64Array): void {
  const nFeatures = layers[0].inputs;
  const last = layers.length - 1;
  const outputs = layers[last].outputs;
  let widest = 0;
  for (const layer of layers) widest = Math.max(widest, layer.inputs, layer.outputs);
  let a = new Float64Array(widest);
  let b = new Float64Array(widest);
  for (let i = 0; i < rows; i++) {
    a.set(data.subarray(i * nFeatures, (i + 1) * nFeatures));
    for (let l = 0; l <= last; l++) {
      denseRow(layers[l], a, b);
      if (l < last) activate(b, layers[l].outputs, activation);
      const written = b;
      b = a;
      a = written;
    }
    out.set(a.subarray(0, outputs), i * outputs);
  }
}
