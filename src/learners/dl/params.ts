/**
 * The training settings both deep-learning families share (one constraint table each family spreads into
 * its own), and their resolved form for the training loop.
 */
import type { ParamSpec } from '../types.js';

export const LR_SCHEDULES = ['constant', 'cosine', 'plateau'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

export const CLASS_WEIGHTS = ['none', 'balanced'] as const;

export function trainingParams(defaults: { learningRate: number; batchSize: number; maxEpochs: number; patience: number; dropout: number }) {
  return {
    learning_rate: {
      type: 'float',
      default: defaults.learningRate,
      low: 1e-6,
      high: 1,
      log: true,
      description: 'Adam step size at the start of the schedule',
      search: { low: 1e-4, high: 1e-2, log: true },
    },
    batch_size: { type: 'int', default: defaults.batchSize, low: 1, high: 4096, description: 'rows per gradient step', search: false },
    max_epochs: { type: 'int', default: defaults.maxEpochs, low: 1, high: 100_000, description: 'passes over the training rows at most', search: false },
    patience: {
      type: 'int',
      default: defaults.patience,
      low: 0,
      high: 10_000,
      description: 'epochs without a better validation loss before stopping (the best epoch is kept); 0 = no early stopping',
      search: false,
    },
    validation_fraction: {
      type: 'float',
      default: 0.1,
      low: 0.01,
      high: 0.5,
      description: 'share of rows held out (stratified) for early stopping when no validation set is given',
      search: false,
    },
    lr_schedule: {
      type: 'categorical',
      default: 'plateau',
      choices: LR_SCHEDULES,
      description: 'constant; cosine decay to 1% over max_epochs; plateau = halve when the validation loss stalls for patience/2 epochs',
      search: ['cosine', 'plateau'],
    },
    weight_decay: {
      type: 'float',
      default: 1e-4,
      low: 0,
      high: 1,
      description: 'decoupled weight decay (AdamW) on weights, not on biases or batch-norm parameters',
      search: { low: 1e-6, high: 1e-2, log: true },
    },
    dropout: { type: 'float', default: defaults.dropout, low: 0, high: 0.9, description: 'dropout rate before the output layer', search: { low: 0, high: 0.5 } },
    class_weight: {
      type: 'categorical',
      default: 'none',
      choices: CLASS_WEIGHTS,
      description: "balanced weighs each class by n / (k · n_class), as scikit-learn's class_weight='balanced'",
      search: ['none', 'balanced'],
    },
  } as const satisfies Record<string, ParamSpec>;
}

/** What the training loop needs, resolved from a family's params. */
export interface TrainingSettings {
  learningRate: number;
  batchSize: number;
  maxEpochs: number;
  patience: number;
  validationFraction: number;
  schedule: LrSchedule;
  weightDecay: number;
  classWeight: 'none' | 'balanced';
  /** Mixup's Beta(α, α) parameter; 0 = off. */
  mixupAlpha: number;
}

export function trainingSettings(p: {
  learning_rate: number;
  batch_size: number;
  max_epochs: number;
  patience: number;
  validation_fraction: number;
  lr_schedule: string;
  weight_decay: number;
  class_weight: string;
}, mixupAlpha = 0): TrainingSettings {
  return {
    learningRate: p.learning_rate,
    batchSize: p.batch_size,
    maxEpochs: p.max_epochs,
    patience: p.patience,
    validationFraction: p.validation_fraction,
    schedule: p.lr_schedule as LrSchedule,
    weightDecay: p.weight_decay,
    classWeight: p.class_weight as 'none' | 'balanced',
    mixupAlpha,
  };
}
