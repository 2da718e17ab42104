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
import { activate, denseRow, softmaxInto, type Activation, type DenseLayer } from './dl/forward.js';
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
    const widest = Math.max(...this.layers.map((l) => Math.max(l.inputs, l.outputs)));
    let a = new Float64Array(widest);
    let b = new Float64Array(widest);
    const outputs = this.layers[this.layers.length - 1].outputs;
    const out = new Float64Array(X.rows * outputs);
    for (let i = 0; i < X.rows; i++) {
      a.set(X.data.subarray(i * this.nFeatures, (i + 1) * this.nFeatures));
      this.layers.forEach((layer, l) => {
        denseRow(layer, a, b);
        if (l < this.layers.length - 1) activate(b, layer.outputs, this.state.activation);
        [a, b] = [b, a];
      });
      out.set(a.subarray(0, outputs), i * outputs);
    }
    return out;
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }
}
