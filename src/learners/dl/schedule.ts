/**
 * The pieces of the training loop that are plain arithmetic: learning-rate schedules, early stopping,
 * class weights and the stratified validation split. No tfjs here, so each is unit-tested on its own.
 */
import { Rng } from '../rng.js';
import type { LrSchedule } from './params.js';

/** Learning rate for `epoch` (0-based) under a stateless schedule; `plateau` is handled by PlateauLr. */
export function scheduledLr(schedule: LrSchedule, base: number, epoch: number, maxEpochs: number): number {
  if (schedule !== 'cosine' || maxEpochs <= 1) return base;
  // Cosine decay from base to 1% of base over the run (SGDR without restarts).
  const floor = 0.01 * base;
  return floor + 0.5 * (base - floor) * (1 + Math.cos((Math.PI * epoch) / (maxEpochs - 1)));
}

/** Halves the rate when the monitored loss has not improved for `wait` epochs (Keras ReduceLROnPlateau). */
export class PlateauLr {
  private best = Number.POSITIVE_INFINITY;
  private stale = 0;
  rate: number;

  constructor(
    base: number,
    private readonly wait: number,
    private readonly minRate: number = base / 1000,
  ) {
    this.rate = base;
  }

  /** Records an epoch's loss and returns the rate for the next epoch. */
  update(loss: number): number {
    if (this.best === Number.POSITIVE_INFINITY || loss < this.best - 1e-4 * Math.abs(this.best)) {
      this.best = loss;
      this.stale = 0;
    } else if (++this.stale >= this.wait) {
      this.rate = Math.max(this.minRate, this.rate / 2);
      this.stale = 0;
    }
    return this.rate;
  }
}

/** Tracks the best epoch; `shouldStop` once `patience` epochs pass without a relative improvement of `tol`. */
export class EarlyStopping {
  bestLoss = Number.POSITIVE_INFINITY;
  bestEpoch = -1;
  private stale = 0;

  constructor(
    private readonly patience: number,
    private readonly tol = 1e-4,
  ) {}

  /** Returns true when this epoch is the best so far (the caller snapshots the weights then). */
  update(epoch: number, loss: number): boolean {
    if (!Number.isFinite(loss)) {
      this.stale++;
      return false;
    }
    if (loss < this.bestLoss - this.tol * Math.abs(this.bestLoss) || this.bestEpoch < 0) {
      this.bestLoss = loss;
      this.bestEpoch = epoch;
      this.stale = 0;
      return true;
    }
    this.stale++;
    return false;
  }

  get shouldStop(): boolean {
    return this.patience > 0 && this.stale >= this.patience;
  }
}

/** scikit-learn's compute_class_weight('balanced'): n / (k · count); classes absent from y get weight 0. */
export function balancedClassWeights(y: Float64Array, nClasses: number): Float64Array {
  const counts = new Float64Array(nClasses);
  for (const c of y) counts[c]++;
  let present = 0;
  for (const n of counts) if (n > 0) present++;
  const weights = new Float64Array(nClasses);
  for (let c = 0; c < nClasses; c++) weights[c] = counts[c] > 0 ? y.length / (present * counts[c]) : 0;
  return weights;
}

/**
 * Row indices for training and validation: stratified by class for classification (each class gives
 * round(fraction · count) rows but keeps at least one for training), a plain shuffle for regression.
 * Returns an empty validation set when there are too few rows to spare.
 */
export function validationSplit(y: Float64Array, nClasses: number | undefined, fraction: number, seed: number): { train: Int32Array; validation: Int32Array } {
  const rng = new Rng(seed);
  const n = y.length;
  const validation: number[] = [];
  const train: number[] = [];
  if (nClasses !== undefined && nClasses > 0) {
    const byClass: number[][] = Array.from({ length: nClasses }, () => []);
    for (let i = 0; i < n; i++) byClass[y[i]].push(i);
    for (const rows of byClass) {
      const order = rng.shuffle(Int32Array.from(rows));
      const take = Math.min(order.length - 1, Math.round(fraction * order.length));
      for (let j = 0; j < order.length; j++) (j < take ? validation : train).push(order[j]);
    }
  } else {
    const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    const take = Math.min(n - 1, Math.round(fraction * n));
    for (let j = 0; j < n; j++) (j < take ? validation : train).push(order[j]);
  }
  if (validation.length < 2 || train.length < 2) return { train: Int32Array.from({ length: n }, (_, i) => i), validation: new Int32Array(0) };
  return { train: Int32Array.from(train.sort((a, b) => a - b)), validation: Int32Array.from(validation.sort((a, b) => a - b)) };
}
