/**
 * The one training loop both deep-learning families run on TensorFlow.js:
 * seeded mini-batches (every random choice — shuffling, augmentation, mixup, dropout masks — is drawn in
 * JavaScript from the run's Rng, so a seed gives identical batches and, on the deterministic wasm and CPU
 * backends, identical weights), AdamW, a learning-rate schedule, per-row weights (class weights × sample
 * weights), validation each epoch, early stopping that keeps the best epoch's weights, and progress.
 *
 * A network is described by `NetworkSpec`: its initial parameter values (made by the family from the seed)
 * and a forward function over tfjs tensors. Batch-norm running statistics live in plain arrays the forward
 * reads at inference and the loop updates from the batch moments the forward reports while training.
 */
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import { SpotmlError } from '../../errors.js';
import { Rng, hashSeed } from '../rng.js';
import type { FitProgress } from '../types.js';
import type { Tf, TfRuntime } from '../../runtime/tf.js';
import { mixup } from './augment.js';
import type { TrainingSettings } from './params.js';
import { EarlyStopping, PlateauLr, scheduledLr } from './schedule.js';

export interface ParamInit {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
  /** Whether weight decay applies (weights yes; biases and batch-norm parameters no). */
  readonly decay: boolean;
}

export interface RunningStats {
  readonly mean: Float32Array;
  readonly variance: Float32Array;
}

export interface ForwardContext {
  readonly training: boolean;
  /** rows × dropoutWidth keep-mask already scaled by 1/(1−rate), or null (inference, or no dropout). */
  readonly dropoutMask: Tensor | null;
  readonly running: readonly RunningStats[];
  /** Filled by the forward in training mode: per batch-norm layer, the batch mean and variance (kept tensors). */
  readonly moments: { mean: Tensor; variance: Tensor }[];
}

export interface NetworkSpec {
  readonly params: readonly ParamInit[];
  /** Channels per batch-norm layer, in forward order. */
  readonly batchNormChannels: readonly number[];
  /** Shape of one input row as the forward wants it (e.g. [features] or [bands, frames, 1]). */
  readonly inputShape: readonly number[];
  /** Width of the dropout mask (0 = no dropout). */
  readonly dropoutWidth: number;
  /** Logits (classification) or the standardised value (regression), [rows, outputs]. */
  forward(tf: Tf, variables: readonly Variable[], x: Tensor, context: ForwardContext): Tensor;
}

/** Rows in the loop's own form: inputs already scaled, targets one-hot (classification) or standardised. */
export interface LoopData {
  readonly x: Float32Array;
  readonly rows: number;
  readonly rowWidth: number;
  readonly targets: Float32Array;
  readonly targetWidth: number;
  /** Per-row loss weight (class weight × sample weight). */
  readonly weights: Float32Array;
}

export interface LoopHooks {
  readonly task: 'classification' | 'regression';
  readonly seed: number;
  readonly dropoutRate: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: FitProgress) => void;
  /** Augments a batch in place (rows × rowWidth) before mixup, e.g. SpecAugment. */
  readonly augment?: (batch: Float32Array, rows: number, rng: Rng) => void;
}

/** What the loop reports each epoch (a FitProgress with the loop's own figures). */
export interface EpochProgress extends FitProgress {
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Validation loss (absent without a validation set). */
  validationLoss?: number;
  /** Validation accuracy (classification) or R² (regression). */
  validationScore?: number;
  /** What validationScore measures. */
  validationMetric?: 'accuracy' | 'r2';
  learningRate: number;
  samplesPerSecond: number;
}

export interface LoopResult {
  /** Parameter values of the kept epoch, in spec order. */
  readonly values: Float32Array[];
  readonly running: RunningStats[];
  readonly epochs: number;
  /** 0-based epoch whose weights were kept (the last one without validation). */
  readonly bestEpoch: number;
  readonly history: { loss: number[]; validationLoss: number[]; validationScore: number[] };
  readonly samplesPerSecond: number;
}

const BATCH_NORM_MOMENTUM = 0.9;
const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
const EVAL_CHUNK = 256;

let nextNetworkId = 0;

export async function trainNetwork(runtime: TfRuntime, spec: NetworkSpec, train: LoopData, validation: LoopData | null, settings: TrainingSettings, hooks: LoopHooks): Promise<LoopResult> {
  const { tf } = runtime;
  // tfjs registers variables by name process-wide: a counter keeps concurrent fits apart.
  const id = nextNetworkId++;
  const variables = spec.params.map((p, i) => tf.variable(tf.tensor(p.values, [...p.shape], 'float32'), true, `spotml_${id}_${i}_${p.name}`));
  const firstMoment = spec.params.map((p) => tf.variable(tf.zeros([...p.shape]), false));
  const secondMoment = spec.params.map((p) => tf.variable(tf.zeros([...p.shape]), false));
  const running: RunningStats[] = spec.batchNormChannels.map((c) => ({ mean: new Float32Array(c), variance: new Float32Array(c).fill(1) }));
  const history = { loss: [] as number[], validationLoss: [] as number[], validationScore: [] as number[] };
  const stopping = new EarlyStopping(validation ? settings.patience : 0);
  const plateau = new PlateauLr(settings.learningRate, Math.max(1, Math.floor(settings.patience / 2)));
  let best: { values: Float32Array[]; running: RunningStats[] } | null = null;
  let step = 0;
  let epochsRun = 0;
  let trainedSamples = 0;
  let trainingSeconds = 0;
  const batchSize = Math.max(1, Math.min(settings.batchSize, train.rows));
  const batchX = new Float32Array(batchSize * train.rowWidth);
  const batchT = new Float32Array(batchSize * train.targetWidth);
  const batchW = new Float32Array(batchSize);
  const mask = new Float32Array(batchSize * spec.dropoutWidth);
  try {
    let rate = settings.learningRate;
    for (let epoch = 0; epoch < settings.maxEpochs; epoch++) {
      if (settings.schedule !== 'plateau') rate = scheduledLr(settings.schedule, settings.learningRate, epoch, settings.maxEpochs);
      const rng = new Rng(hashSeed(hooks.seed, 'epoch', epoch));
      const order = rng.shuffle(Int32Array.from({ length: train.rows }, (_, i) => i));
      const started = performance.now();
      let lossSum = 0;
      let lossBatches = 0;
      for (let start = 0; start < train.rows; start += batchSize) {
        hooks.signal?.throwIfAborted();
        const rows = Math.min(batchSize, train.rows - start);
        // A final batch of one row would give batch norm a zero variance: fold it into the epoch's next pass.
        if (rows < 2 && train.rows >= 2 && spec.batchNormChannels.length > 0) break;
        gatherRows(train, order, start, rows, batchX, batchT, batchW);
        hooks.augment?.(batchX, rows, rng);
        if (settings.mixupAlpha > 0 && hooks.task === 'classification') {
          mixup(batchX, train.rowWidth, batchT, train.targetWidth, batchW, rows, settings.mixupAlpha, rng);
        }
        if (spec.dropoutWidth > 0 && hooks.dropoutRate > 0) fillDropoutMask(mask, rows * spec.dropoutWidth, hooks.dropoutRate, rng);
        step++;
        const loss = trainStep(tf, spec, variables, firstMoment, secondMoment, running, {
          x: batchX.subarray(0, rows * train.rowWidth),
          t: batchT.subarray(0, rows * train.targetWidth),
          w: batchW.subarray(0, rows),
          mask: spec.dropoutWidth > 0 && hooks.dropoutRate > 0 ? mask.subarray(0, rows * spec.dropoutWidth) : null,
          rows,
          targetWidth: train.targetWidth,
          task: hooks.task,
          rate,
          weightDecay: settings.weightDecay,
          step,
        });
        lossSum += loss;
        lossBatches++;
        trainedSamples += rows;
      }
      trainingSeconds += (performance.now() - started) / 1000;
      epochsRun = epoch + 1;
      const epochLoss = lossBatches > 0 ? lossSum / lossBatches : Number.NaN;
      if (!Number.isFinite(epochLoss)) {
        throw new SpotmlError('INVALID_INPUT', `training diverged (loss ${epochLoss} at epoch ${epoch + 1}); lower learning_rate or scale the inputs`, { epoch });
      }
      history.loss.push(epochLoss);
      const progress: EpochProgress = {
        step: epoch + 1,
        total: settings.maxEpochs,
        loss: epochLoss,
        learningRate: rate,
        samplesPerSecond: trainingSeconds > 0 ? trainedSamples / trainingSeconds : 0,
      };
      let improved = true;
      if (validation) {
        const { loss, score } = evaluate(tf, spec, variables, running, validation, hooks.task);
        history.validationLoss.push(loss);
        history.validationScore.push(score);
        progress.validationLoss = loss;
        progress.validationScore = score;
        progress.validationMetric = hooks.task === 'classification' ? 'accuracy' : 'r2';
        progress.metric = loss;
        improved = stopping.update(epoch, loss);
        if (settings.schedule === 'plateau') rate = plateau.update(loss);
      }
      if (improved) best = snapshot(variables, running);
      hooks.onProgress?.(progress);
      if (stopping.shouldStop) break;
      // Let timers (the trial's AbortSignal.timeout) and I/O run between epochs.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const kept = best ?? snapshot(variables, running);
    return {
      values: kept.values,
      running: kept.running,
      epochs: epochsRun,
      bestEpoch: validation && stopping.bestEpoch >= 0 ? stopping.bestEpoch : epochsRun - 1,
      history,
      samplesPerSecond: trainingSeconds > 0 ? trainedSamples / trainingSeconds : 0,
    };
  } finally {
    for (const v of [...variables, ...firstMoment, ...secondMoment]) v.dispose();
  }
}

interface StepInput {
  x: Float32Array;
  t: Float32Array;
  w: Float32Array;
  mask: Float32Array | null;
  rows: number;
  targetWidth: number;
  task: 'classification' | 'regression';
  rate: number;
  weightDecay: number;
  step: number;
}

function trainStep(
  tf: Tf,
  spec: NetworkSpec,
  variables: Variable[],
  firstMoment: Variable[],
  secondMoment: Variable[],
  running: RunningStats[],
  input: StepInput,
): number {
  const moments: { mean: Tensor; variance: Tensor }[] = [];
  const lossValue = tf.tidy(() => {
    const x = tf.tensor(input.x, [input.rows, ...spec.inputShape], 'float32');
    const t = tf.tensor2d(input.t, [input.rows, input.targetWidth], 'float32');
    const w = tf.tensor1d(input.w, 'float32');
    const mask = input.mask ? tf.tensor2d(input.mask, [input.rows, spec.dropoutWidth], 'float32') : null;
    const { value, grads } = tf.variableGrads(() => {
      const out = spec.forward(tf, variables, x, { training: true, dropoutMask: mask, running, moments });
      return weightedLoss(tf, out, t, w, input.task) as Scalar;
    }, variables);
    // AdamW with bias correction; decay is decoupled and skips biases and batch-norm parameters.
    const c1 = 1 - Math.pow(ADAM.beta1, input.step);
    const c2 = 1 - Math.pow(ADAM.beta2, input.step);
    variables.forEach((variable, i) => {
      const g = grads[variable.name];
      const m = tf.add(tf.mul(firstMoment[i], ADAM.beta1), tf.mul(g, 1 - ADAM.beta1));
      const v = tf.add(tf.mul(secondMoment[i], ADAM.beta2), tf.mul(tf.square(g), 1 - ADAM.beta2));
      firstMoment[i].assign(m);
      secondMoment[i].assign(v);
      const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), ADAM.epsilon));
      let next = tf.sub(variable, tf.mul(update, input.rate));
      if (spec.params[i].decay && input.weightDecay > 0) next = tf.sub(next, tf.mul(variable, input.rate * input.weightDecay));
      variable.assign(next);
    });
    return value.dataSync()[0];
  });
  moments.forEach((m, layer) => {
    const mean = m.mean.dataSync();
    const variance = m.variance.dataSync();
    const stats = running[layer];
    for (let c = 0; c < stats.mean.length; c++) {
      stats.mean[c] = BATCH_NORM_MOMENTUM * stats.mean[c] + (1 - BATCH_NORM_MOMENTUM) * mean[c];
      stats.variance[c] = BATCH_NORM_MOMENTUM * stats.variance[c] + (1 - BATCH_NORM_MOMENTUM) * variance[c];
    }
    m.mean.dispose();
    m.variance.dispose();
  });
  return lossValue;
}

/** Σ wᵢ·lossᵢ / Σ wᵢ: softmax cross-entropy against (soft) targets, or squared error. */
function weightedLoss(tf: Tf, out: Tensor, targets: Tensor, weights: Tensor, task: 'classification' | 'regression'): Tensor {
  const perRow =
    task === 'classification' ? tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(out)), 1)) : tf.sum(tf.square(tf.sub(out, targets)), 1);
  return tf.div(tf.sum(tf.mul(perRow, weights)), tf.maximum(tf.sum(weights), 1e-12));
}

/** Validation loss (weighted as in training) and accuracy / R², in inference mode. */
function evaluate(tf: Tf, spec: NetworkSpec, variables: Variable[], running: RunningStats[], data: LoopData, task: 'classification' | 'regression'): { loss: number; score: number } {
  const k = data.targetWidth;
  let lossSum = 0;
  let weightSum = 0;
  let correct = 0;
  let targetSum = 0;
  let targetSquares = 0;
  let residualSquares = 0;
  for (let start = 0; start < data.rows; start += EVAL_CHUNK) {
    const rows = Math.min(EVAL_CHUNK, data.rows - start);
    const out = tf.tidy(() => {
      const x = tf.tensor(data.x.subarray(start * data.rowWidth, (start + rows) * data.rowWidth), [rows, ...spec.inputShape], 'float32');
      const logits = spec.forward(tf, variables, x, { training: false, dropoutMask: null, running, moments: [] });
      return task === 'classification' ? tf.logSoftmax(logits) : logits;
    });
    const values = out.dataSync();
    out.dispose();
    for (let r = 0; r < rows; r++) {
      const row = start + r;
      const w = data.weights[row];
      if (task === 'classification') {
        let rowLoss = 0;
        let best = 0;
        let truth = 0;
        for (let c = 0; c < k; c++) {
          rowLoss -= data.targets[row * k + c] * values[r * k + c];
          if (values[r * k + c] > values[r * k + best]) best = c;
          if (data.targets[row * k + c] > data.targets[row * k + truth]) truth = c;
        }
        lossSum += w * rowLoss;
        if (best === truth) correct++;
      } else {
        const target = data.targets[row];
        const residual = values[r] - target;
        lossSum += w * residual * residual;
        residualSquares += residual * residual;
        targetSum += target;
        targetSquares += target * target;
      }
      weightSum += w;
    }
  }
  const loss = lossSum / Math.max(weightSum, 1e-12);
  if (task === 'classification') return { loss, score: correct / data.rows };
  const total = targetSquares - (targetSum * targetSum) / data.rows;
  return { loss, score: total > 0 ? 1 - residualSquares / total : 0 };
}

function gatherRows(data: LoopData, order: Int32Array, start: number, rows: number, x: Float32Array, t: Float32Array, w: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const i = order[start + r];
    x.set(data.x.subarray(i * data.rowWidth, (i + 1) * data.rowWidth), r * data.rowWidth);
    t.set(data.targets.subarray(i * data.targetWidth, (i + 1) * data.targetWidth), r * data.targetWidth);
    w[r] = data.weights[i];
  }
}

/** Inverted dropout: keep with probability 1−rate, scaled by 1/(1−rate). */
function fillDropoutMask(mask: Float32Array, length: number, rate: number, rng: Rng): void {
  const scale = 1 / (1 - rate);
  for (let i = 0; i < length; i++) mask[i] = rng.next() < rate ? 0 : scale;
}

function snapshot(variables: readonly Variable[], running: readonly RunningStats[]): { values: Float32Array[]; running: RunningStats[] } {
  return {
    values: variables.map((v) => Float32Array.from(v.dataSync() as Float32Array)),
    running: running.map((s) => ({ mean: s.mean.slice(), variance: s.variance.slice() })),
  };
}
