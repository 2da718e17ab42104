/**
 * Permutation feature importance (Breiman; scikit-learn's permutation_importance): how much a score drops
 * when one column's values are shuffled across rows, breaking its link to the target while keeping its
 * distribution. Model-agnostic: it needs only a predict function and a scorer.
 */
import type { Matrix } from '../data/matrix.js';
import { SpotmlError } from '../errors.js';
import { Rng, hashSeed } from '../learners/rng.js';

export interface PermutationImportanceOptions<P> {
  /** Predictions for a whole matrix (any shape the scorer understands: labels, probabilities, …). */
  predict: (X: Matrix) => P;
  X: Matrix;
  y: ArrayLike<number>;
  /** Score of predictions against y. */
  score: (yTrue: ArrayLike<number>, predictions: P) => number;
  /** Whether a higher score is better (accuracy) or worse (rmse); importance is always "how much worse". */
  greaterIsBetter: boolean;
  /** Shuffles per column (default 5, as scikit-learn). */
  nRepeats?: number;
  seed?: number;
  featureNames?: readonly string[];
}

export interface FeatureImportance {
  index: number;
  name: string;
  /** Mean score loss over repeats (positive: the model relies on this column). */
  mean: number;
  /** Population standard deviation over repeats (numpy.std, ddof 0, as scikit-learn). */
  std: number;
  /** Score loss of each repeat. */
  drops: number[];
}

export interface PermutationImportanceResult {
  /** Score on the unshuffled data. */
  baseline: number;
  nRepeats: number;
  /** In column order. */
  features: FeatureImportance[];
}

export function permutationImportance<P>(options: PermutationImportanceOptions<P>): PermutationImportanceResult {
  const { X, y, predict, score, greaterIsBetter } = options;
  const nRepeats = options.nRepeats ?? 5;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(nRepeats) || nRepeats < 1) throw new SpotmlError('USAGE', `permutation repeats must be a positive integer, got ${nRepeats}`);
  if (y.length !== X.rows) throw new SpotmlError('INVALID_INPUT', `permutation importance: X has ${X.rows} rows but y has ${y.length}`);
  if (options.featureNames && options.featureNames.length !== X.cols) {
    throw new SpotmlError('INVALID_INPUT', `permutation importance: ${options.featureNames.length} feature names for ${X.cols} columns`);
  }
  const baseline = score(y, predict(X));
  // One working copy; each column is shuffled in place and restored, so the caller's X is never touched.
  const work: Matrix = { rows: X.rows, cols: X.cols, data: Float64Array.from(X.data) };
  const original = new Float64Array(X.rows);
  const column = new Float64Array(X.rows);
  const features: FeatureImportance[] = [];
  for (let j = 0; j < X.cols; j++) {
    for (let i = 0; i < X.rows; i++) original[i] = X.data[i * X.cols + j];
    // A stream per column: a column's importance does not depend on how many columns precede it.
    const rng = new Rng(hashSeed(seed, 'permutation-importance', j));
    const drops: number[] = [];
    for (let r = 0; r < nRepeats; r++) {
      column.set(original);
      rng.shuffle(column);
      for (let i = 0; i < X.rows; i++) work.data[i * X.cols + j] = column[i];
      const permuted = score(y, predict(work));
      drops.push(greaterIsBetter ? baseline - permuted : permuted - baseline);
    }
    for (let i = 0; i < X.rows; i++) work.data[i * X.cols + j] = original[i];
    const mean = drops.reduce((a, b) => a + b, 0) / nRepeats;
    const std = Math.sqrt(drops.reduce((a, d) => a + (d - mean) ** 2, 0) / nRepeats);
    features.push({ index: j, name: options.featureNames?.[j] ?? `feature_${j}`, mean, std, drops });
  }
  return { baseline, nRepeats, features };
}
