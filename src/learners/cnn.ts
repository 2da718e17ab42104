/**
 * cnn: a compact convolutional network on log-mel patches (frame-level features). Each row of X is one
 * clip's bands × frames patch, band-major (dl/frames.ts builds it from `extract --frames`); `n_bands`
 * says where bands break. Inputs are standardised per band (statistics saved with the model).
 *
 * Architecture: `blocks` × [3×3 conv ('same', no bias) → batch norm → ReLU → 2×2 max-pool], doubling the
 * channels each block from `channels`, then global average pooling → dropout → dense softmax.
 * Training (dl/loop.ts) adds SpecAugment frequency/time masks and mixup per batch, AdamW, a learning-rate
 * schedule, class weights and early stopping. Predict folds batch norm into the convolutions and runs in
 * plain JavaScript (dl/forward.ts), as the ONNX export does (src/export/onnx/dl.ts).
 *
 * The CNN is not in the tabular catalogue (`FAMILIES`): it is listed in `FRAME_FAMILIES`, loadable by
 * name, and trained by `train --frames DIR` (`--model cnn`, or added to the `--auto-optimize` portfolio,
 * where the search starts it at `CNN_SEARCH_START` and searches max_epochs so its trials fit the budget).
 */
import type { Tensor, Tensor2D, Tensor4D, Variable } from '@tensorflow/tfjs';
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { getTf, type Tf } from '../runtime/tf.js';
import { resolveParams, type ResolvedParams } from './params.js';
import { argmaxRows, checkModelJson, checkNoMissing, malformed, withArgmaxLabels } from './preprocess.js';
import { Rng, hashSeed } from './rng.js';
import type { FitOptions, FittedModel, LabelsAndProba, LearnerFamily, Params, SerializedModel, Task, TrainingData } from './types.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
import { specAugment } from './dl/augment.js';
import { convReluSame, denseRow, maxPool, softmaxInto, type DenseLayer, type FoldedConv } from './dl/forward.js';
import { trainNetwork, type ForwardContext, type LoopData, type NetworkSpec, type ParamInit } from './dl/loop.js';
import { BATCH_NORM_EPSILON, batchNorm, conv2dSame } from './dl/ops.js';
import { trainingParams, trainingSettings } from './dl/params.js';
import { balancedClassWeights, validationSplit } from './dl/schedule.js';
import { decodeFloat32, encodeFloat32, glorotUniform, heUniform } from './dl/weights.js';
import { serializedModel } from './serialized.js';

export const CNN = 'cnn';
const KERNEL = 3;

const CNN_PARAMS = {
  n_bands: {
    type: 'int',
    default: 128,
    low: 1,
    high: 4096,
    description: 'bands (rows) per input patch: each row of X is n_bands × frames, band-major (librosa n_mels, default 128)',
    search: false,
  },
  channels: { type: 'int', default: 16, low: 1, high: 256, description: 'channels of the first conv block (doubled each block)', search: { low: 8, high: 32, log: true } },
  blocks: { type: 'int', default: 3, low: 1, high: 6, description: 'conv blocks (conv → batch norm → ReLU → 2×2 max-pool)', search: { low: 2, high: 4 } },
  spec_augment: { type: 'bool', default: true, description: 'SpecAugment frequency and time masking of training batches', search: true },
  freq_masks: { type: 'int', default: 2, low: 0, high: 16, description: 'frequency masks per training row', search: false },
  freq_mask_width: { type: 'int', default: 8, low: 0, high: 1024, description: 'widest frequency mask in bands (at most a quarter of them)', search: false },
  time_masks: { type: 'int', default: 2, low: 0, high: 16, description: 'time masks per training row', search: false },
  time_mask_width: { type: 'int', default: 8, low: 0, high: 4096, description: 'widest time mask in frames (at most a quarter of them)', search: false },
  mixup_alpha: { type: 'float', default: 0.2, low: 0, high: 4, description: 'mixup Beta(α, α) blending of training rows; 0 = off', search: { low: 0, high: 0.4 } },
  ...trainingParams({ learningRate: 3e-3, batchSize: 16, maxEpochs: 100, patience: 15, dropout: 0.3 }),
  // Epochs drive the cost: searched (log scale) so a time-bounded search can afford the cnn at all.
  max_epochs: { type: 'int', default: 100, low: 1, high: 100_000, description: 'passes over the training rows at most', search: { low: 10, high: 100, log: true } },
} as const;

/** Where an AutoML search starts the cnn (FLAML's cost-frugal start): a small, short network. */
export const CNN_SEARCH_START: Params = { channels: 8, blocks: 2, max_epochs: 20, patience: 5 };

type CnnParams = ResolvedParams<typeof CNN_PARAMS>;

interface SavedBlock {
  inChannels: number;
  outChannels: number;
  /** Max-pool window (= stride) per axis; 1 where the map is already a single row or column. */
  pool: [number, number];
  /** [k, k, in, out] (tfjs HWIO). */
  weight: string;
  gamma: string;
  beta: string;
  runningMean: string;
  runningVariance: string;
}

interface CnnState {
  bands: number;
  frames: number;
  inputMean: string;
  inputScale: string;
  blocks: SavedBlock[];
  dense: { inputs: number; outputs: number; weight: string; bias: string };
  training: { epochs: number; bestEpoch: number; backend: string };
}

export const cnn: LearnerFamily = {
  name: CNN,
  description: 'Compact CNN on log-mel patches (TensorFlow.js): conv + batch norm blocks, SpecAugment, mixup; needs frame-level features.',
  tasks: ['classification'],
  params: CNN_PARAMS,
  tags: { handlesNaN: false, needsScaling: false, onnx: true, cost: 'high' },

  async fit(data: TrainingData, params: Params, options: FitOptions): Promise<FittedModel> {
    const p = resolveParams(CNN, CNN_PARAMS, params);
    checkTrainingData(data, { family: CNN, tasks: ['classification'], allowNaN: false });
    const { bands, frames } = patchShape(data.X.cols, p.n_bands);
    if (options.validation) {
      checkTrainingData(options.validation, { family: `${CNN} (validation set)`, tasks: ['classification'], allowNaN: false });
      checkPredictInput(options.validation.X, data.X.cols, `${CNN} (validation set)`);
    }
    const runtime = await getTf();
    const k = data.nClasses as number;
    const { mean, scale } = bandStatistics(data.X, bands, frames);
    const classWeights = p.class_weight === 'balanced' ? balancedClassWeights(data.y, k) : null;
    const toLoop = (rows: TrainingData, indices: Int32Array | null): LoopData => loopData(rows, indices, k, bands, frames, mean, scale, classWeights);
    let train: LoopData;
    let validation: LoopData | null = null;
    if (options.validation) {
      train = toLoop(data, null);
      validation = toLoop(options.validation, null);
    } else if (p.patience > 0) {
      const split = validationSplit(data.y, k, p.validation_fraction, hashSeed(options.seed, 'validation'));
      train = toLoop(data, split.train);
      validation = split.validation.length > 0 ? toLoop(data, split.validation) : null;
    } else {
      train = toLoop(data, null);
    }

    const layout = blockLayout(bands, frames, p.channels, p.blocks);
    const spec = cnnNetwork(bands, frames, k, layout, p, new Rng(hashSeed(options.seed, 'init')));
    const masks = { freqMasks: p.freq_masks, freqMaskWidth: p.freq_mask_width, timeMasks: p.time_masks, timeMaskWidth: p.time_mask_width };
    const result = await trainNetwork(runtime, spec, train, validation, trainingSettings(p, p.mixup_alpha), {
      task: 'classification',
      seed: hashSeed(options.seed, 'batches'),
      dropoutRate: p.dropout,
      signal: options.signal,
      onProgress: options.onProgress,
      augment: p.spec_augment ? (batch, rows, rng) => specAugment(batch, rows, bands, frames, masks, rng) : undefined,
    });
    const blocks: SavedBlock[] = layout.map((block, b) => ({
      inChannels: block.inChannels,
      outChannels: block.outChannels,
      pool: block.pool,
      weight: encodeFloat32(result.values[3 * b]),
      gamma: encodeFloat32(result.values[3 * b + 1]),
      beta: encodeFloat32(result.values[3 * b + 2]),
      runningMean: encodeFloat32(result.running[b].mean),
      runningVariance: encodeFloat32(result.running[b].variance),
    }));
    const last = layout[layout.length - 1].outChannels;
    const state: CnnState = {
      bands,
      frames,
      inputMean: encodeFloat32(mean),
      inputScale: encodeFloat32(scale),
      blocks,
      dense: { inputs: last, outputs: k, weight: encodeFloat32(result.values[3 * layout.length]), bias: encodeFloat32(result.values[3 * layout.length + 1]) },
      training: { epochs: result.epochs, bestEpoch: result.bestEpoch, backend: runtime.backend },
    };
    return new CnnModel(data.X.cols, k, p, state);
  },

  load(json: SerializedModel): FittedModel {
    checkModelJson(json, CNN);
    const params = resolveParams(CNN, CNN_PARAMS, json.params);
    const state = json.state as CnnState | null;
    if (!state || !Array.isArray(state.blocks) || state.blocks.length === 0 || !state.dense) throw malformed(CNN, 'blocks missing');
    if (state.bands * state.frames !== json.nFeatures || state.dense.outputs !== json.nClasses) throw malformed(CNN, 'shapes');
    return new CnnModel(json.nFeatures, json.nClasses ?? 0, params, state);
  },
};

/** Frame-level families: they read band × frame patches, not summary features. */
export const FRAME_FAMILIES: readonly LearnerFamily[] = [cnn];

function patchShape(cols: number, bands: number): { bands: number; frames: number } {
  if (cols % bands !== 0) {
    throw new SpotmlError('INVALID_INPUT', `${CNN}: ${cols} columns do not split into n_bands=${bands} bands; pass n_bands=<rows of the frame matrices> (e.g. n_mels)`, {
      family: CNN,
      columns: cols,
      n_bands: bands,
    });
  }
  return { bands, frames: cols / bands };
}

interface BlockLayout {
  inChannels: number;
  outChannels: number;
  /** Map size at the block's input. */
  height: number;
  width: number;
  pool: [number, number];
}

export function blockLayout(bands: number, frames: number, channels: number, blocks: number): BlockLayout[] {
  const layout: BlockLayout[] = [];
  let height = bands;
  let width = frames;
  let inChannels = 1;
  for (let b = 0; b < blocks; b++) {
    const outChannels = channels * 2 ** b;
    const pool: [number, number] = [height >= 2 ? 2 : 1, width >= 2 ? 2 : 1];
    layout.push({ inChannels, outChannels, height, width, pool });
    height = Math.floor(height / pool[0]);
    width = Math.floor(width / pool[1]);
    inChannels = outChannels;
  }
  return layout;
}

function cnnNetwork(bands: number, frames: number, k: number, layout: readonly BlockLayout[], p: CnnParams, rng: Rng): NetworkSpec {
  const params: ParamInit[] = [];
  for (const [b, block] of layout.entries()) {
    const fanIn = KERNEL * KERNEL * block.inChannels;
    params.push({ name: `conv${b}_w`, shape: [KERNEL, KERNEL, block.inChannels, block.outChannels], values: heUniform(fanIn * block.outChannels, fanIn, rng), decay: true });
    params.push({ name: `bn${b}_gamma`, shape: [block.outChannels], values: new Float32Array(block.outChannels).fill(1), decay: false });
    params.push({ name: `bn${b}_beta`, shape: [block.outChannels], values: new Float32Array(block.outChannels), decay: false });
  }
  const last = layout[layout.length - 1].outChannels;
  params.push({ name: 'out_w', shape: [last, k], values: glorotUniform(last * k, last, k, rng), decay: true });
  params.push({ name: 'out_b', shape: [k], values: new Float32Array(k), decay: false });
  return {
    params,
    batchNormChannels: layout.map((block) => block.outChannels),
    inputShape: [bands, frames, 1],
    dropoutWidth: p.dropout > 0 ? last : 0,
    forward(tf: Tf, variables: readonly Variable[], x: Tensor, context: ForwardContext): Tensor {
      let h = x as Tensor4D;
      layout.forEach((block, b) => {
        const conv = conv2dSame(tf, h, variables[3 * b] as Tensor4D);
        const normed = batchNorm(tf, conv, variables[3 * b + 1], variables[3 * b + 2], b, context) as Tensor4D;
        h = tf.relu(normed);
        if (block.pool[0] > 1 || block.pool[1] > 1) h = tf.maxPool(h, block.pool, block.pool, 'valid');
      });
      let pooled = tf.mean(h, [1, 2]) as Tensor2D;
      if (context.training && context.dropoutMask) pooled = tf.mul(pooled, context.dropoutMask);
      const n = layout.length;
      return tf.add(tf.matMul(pooled, variables[3 * n] as Tensor2D), variables[3 * n + 1]);
    },
  };
}

/** Per-band mean and (population) standard deviation over every row and frame; a flat band keeps scale 1. */
function bandStatistics(X: Matrix, bands: number, frames: number): { mean: Float32Array; scale: Float32Array } {
  const mean = new Float32Array(bands);
  const scale = new Float32Array(bands);
  const count = X.rows * frames;
  for (let b = 0; b < bands; b++) {
    let sum = 0;
    for (let i = 0; i < X.rows; i++) {
      const base = i * X.cols + b * frames;
      for (let t = 0; t < frames; t++) sum += X.data[base + t];
    }
    const m = sum / count;
    let squares = 0;
    for (let i = 0; i < X.rows; i++) {
      const base = i * X.cols + b * frames;
      for (let t = 0; t < frames; t++) squares += (X.data[base + t] - m) ** 2;
    }
    const std = Math.sqrt(squares / count);
    mean[b] = m;
    scale[b] = std > 1e-6 * Math.max(1, Math.abs(m)) ? std : 1;
  }
  return { mean, scale };
}

function loopData(
  data: TrainingData,
  indices: Int32Array | null,
  k: number,
  bands: number,
  frames: number,
  mean: Float32Array,
  scale: Float32Array,
  classWeights: Float64Array | null,
): LoopData {
  const width = bands * frames;
  const rows = indices ? indices.length : data.X.rows;
  const x = new Float32Array(rows * width);
  const targets = new Float32Array(rows * k);
  const weights = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const i = indices ? indices[r] : r;
    for (let b = 0; b < bands; b++) {
      const src = i * width + b * frames;
      const dst = r * width + b * frames;
      for (let t = 0; t < frames; t++) x[dst + t] = (data.X.data[src + t] - mean[b]) / scale[b];
    }
    const label = data.y[i];
    targets[r * k + label] = 1;
    weights[r] = (data.sampleWeight?.[i] ?? 1) * (classWeights ? classWeights[label] : 1);
  }
  return { x, rows, rowWidth: width, targets, targetWidth: k, weights };
}

/** A conv block with batch norm folded in, plus its pooling. */
export interface FoldedBlock extends FoldedConv {
  readonly pool: [number, number];
}

export class CnnModel implements FittedModel {
  readonly family = CNN;
  readonly task: Task = 'classification';
  readonly bands: number;
  readonly frames: number;
  readonly inputMean: Float32Array;
  readonly inputScale: Float32Array;
  /** Convolutions with batch norm folded in, weights [out][in][k][k] (as exported to ONNX). */
  readonly folded: FoldedBlock[];
  readonly dense: DenseLayer;

  constructor(
    readonly nFeatures: number,
    readonly nClasses: number,
    readonly params: CnnParams,
    readonly state: CnnState,
  ) {
    this.bands = state.bands;
    this.frames = state.frames;
    this.inputMean = decodeFloat32(state.inputMean, state.bands, CNN, 'input mean');
    this.inputScale = decodeFloat32(state.inputScale, state.bands, CNN, 'input scale');
    let channels = 1;
    this.folded = state.blocks.map((block, b) => {
      if (block.inChannels !== channels) throw malformed(CNN, `block ${b} channels`);
      channels = block.outChannels;
      return foldBatchNorm(block, b);
    });
    const d = state.dense;
    if (d.inputs !== channels) throw malformed(CNN, 'dense layer inputs');
    this.dense = { inputs: d.inputs, outputs: d.outputs, weight: decodeFloat32(d.weight, d.inputs * d.outputs, CNN, 'dense weights'), bias: decodeFloat32(d.bias, d.outputs, CNN, 'dense bias') };
  }

  predict(X: Matrix): Float64Array {
    return argmaxRows(this.predictProba(X));
  }

  predictWithProba(X: Matrix): LabelsAndProba {
    return withArgmaxLabels(this.predictProba(X));
  }

  predictProba(X: Matrix): Matrix {
    checkPredictInput(X, this.nFeatures, CNN);
    checkNoMissing(X, CNN);
    const k = this.nClasses;
    const out = new Float64Array(X.rows * k);
    let largest = this.bands * this.frames;
    let h = this.bands;
    let w = this.frames;
    for (const block of this.folded) {
      largest = Math.max(largest, block.outChannels * h * w);
      h = Math.floor(h / block.pool[0]);
      w = Math.floor(w / block.pool[1]);
    }
    let a = new Float64Array(largest);
    let b = new Float64Array(largest);
    const pooled = new Float64Array(this.dense.inputs);
    const logits = new Float64Array(k);
    for (let i = 0; i < X.rows; i++) {
      const base = i * this.nFeatures;
      for (let band = 0; band < this.bands; band++) {
        for (let t = 0; t < this.frames; t++) {
          const at = band * this.frames + t;
          a[at] = (X.data[base + at] - this.inputMean[band]) / this.inputScale[band];
        }
      }
      let height = this.bands;
      let width = this.frames;
      for (const block of this.folded) {
        convReluSame(block, a, height, width, b);
        if (block.pool[0] > 1 || block.pool[1] > 1) {
          maxPool(b, block.outChannels, height, width, block.pool[0], block.pool[1], a);
          height = Math.floor(height / block.pool[0]);
          width = Math.floor(width / block.pool[1]);
        } else {
          [a, b] = [b, a];
        }
      }
      const plane = height * width;
      for (let c = 0; c < this.dense.inputs; c++) {
        let sum = 0;
        for (let j = 0; j < plane; j++) sum += a[c * plane + j];
        pooled[c] = sum / plane;
      }
      denseRow(this.dense, pooled, logits);
      softmaxInto(logits, k, out, i * k);
    }
    return createMatrix(X.rows, k, out);
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }
}

/** conv → BN(γ, β, μ, σ²) = conv with W·s and bias β − μ·s, s = γ/√(σ² + ε); weights reordered HWIO → OIHW. */
function foldBatchNorm(block: SavedBlock, index: number): FoldedBlock {
  const { inChannels, outChannels } = block;
  const hwio = decodeFloat32(block.weight, KERNEL * KERNEL * inChannels * outChannels, CNN, `block ${index} weights`);
  const gamma = decodeFloat32(block.gamma, outChannels, CNN, `block ${index} gamma`);
  const beta = decodeFloat32(block.beta, outChannels, CNN, `block ${index} beta`);
  const mean = decodeFloat32(block.runningMean, outChannels, CNN, `block ${index} running mean`);
  const variance = decodeFloat32(block.runningVariance, outChannels, CNN, `block ${index} running variance`);
  const weight = new Float32Array(outChannels * inChannels * KERNEL * KERNEL);
  const bias = new Float32Array(outChannels);
  for (let co = 0; co < outChannels; co++) {
    const s = gamma[co] / Math.sqrt(variance[co] + BATCH_NORM_EPSILON);
    bias[co] = beta[co] - mean[co] * s;
    for (let ci = 0; ci < inChannels; ci++) {
      for (let a = 0; a < KERNEL; a++) {
        for (let b = 0; b < KERNEL; b++) {
          weight[((co * inChannels + ci) * KERNEL + a) * KERNEL + b] = hwio[((a * KERNEL + b) * inChannels + ci) * outChannels + co] * s;
        }
      }
    }
  }
  return { inChannels, outChannels, kernel: KERNEL, weight, bias, pool: block.pool };
}
