/**
 * The Learner contract (scikit-learn's estimator contract, in TypeScript):
 * a family declares its params (one constraint table that validates, bounds the search space and writes help),
 * `fit` validates at the boundary and returns a NEW fitted model (families hold no state),
 * a fitted model predicts, re-checks the column count it was fitted on, and serialises to versioned JSON.
 */
import type { Matrix } from '../data/matrix.js';

export type Task = 'classification' | 'regression';

export type ParamValue = number | string | boolean;
export type Params = Readonly<Record<string, ParamValue>>;

/** One row of a family's constraint table. */
export type ParamSpec =
  | {
      type: 'int';
      default: number;
      low: number;
      high: number;
      log?: boolean;
      description: string;
      search?: { low: number; high: number; log?: boolean } | false;
      /** Fit refuses values above the training rows (knn's n_neighbors): searches fit the range to the folds. */
      atMostTrainingRows?: boolean;
    }
  | { type: 'float'; default: number; low: number; high: number; log?: boolean; description: string; search?: { low: number; high: number; log?: boolean } | false }
  | { type: 'categorical'; default: string; choices: readonly string[]; description: string; search?: readonly string[] | false }
  | { type: 'bool'; default: boolean; description: string; search?: boolean };

/** Training data after preprocessing decisions: y holds class indices 0..nClasses-1 (classification) or values. */
export interface TrainingData {
  readonly X: Matrix;
  readonly y: Float64Array;
  readonly task: Task;
  /** Number of classes (classification only). */
  readonly nClasses?: number;
  /** Optional per-row weights (default 1). */
  readonly sampleWeight?: Float64Array;
}

export interface FitProgress {
  step: number;
  total: number;
  /** e.g. validation loss for staged learners. */
  metric?: number;
}

export interface FitOptions {
  /** Seed for every random choice; sub-seeds are derived from it by name. */
  readonly seed: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: FitProgress) => void;
  /** A validation set for learners that stop early (gbdt, mlp); they split one off themselves when absent. */
  readonly validation?: TrainingData;
}

/** What a fitted model serialises to; `state` is family-specific plain JSON. */
export interface SerializedModel {
  readonly format: 'spotml-model';
  readonly formatVersion: 1;
  readonly family: string;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nClasses?: number;
  readonly params: Params;
  readonly state: unknown;
}

export interface FittedModel {
  readonly family: string;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nClasses?: number;
  readonly params: Params;
  /** Class index (as a number) for classification, the value for regression. One per row. */
  predict(X: Matrix): Float64Array;
  /** rows × nClasses probabilities summing to 1 (classification only). */
  predictProba?(X: Matrix): Matrix;
  /**
   * Both at once, for callers that want labels and probabilities (a server's ?proba=true): equal bit for bit to
   * predict and predictProba, at less than their summed cost. Optional (preprocess.ts `labelsAndProba` falls back to the two calls).
   */
  predictWithProba?(X: Matrix): LabelsAndProba;
  toJSON(): SerializedModel;
}

export interface LabelsAndProba {
  labels: Float64Array;
  proba: Matrix;
}

export interface FamilyTags {
  /** Accepts NaN in X natively (otherwise the pipeline imputes). */
  readonly handlesNaN: boolean;
  /** Wants standardised inputs (the pipeline scales for it). */
  readonly needsScaling: boolean;
  /** Can be exported to ONNX. */
  readonly onnx: boolean;
  /** Relative cost class used to order an AutoML search (cheap first). */
  readonly cost: 'low' | 'medium' | 'high';
}

export interface LearnerFamily {
  readonly name: string;
  readonly description: string;
  readonly tasks: readonly Task[];
  readonly params: Readonly<Record<string, ParamSpec>>;
  readonly tags: FamilyTags;
  /** Validates params (via the table) and data, then fits. Never mutates inputs. */
  fit(data: TrainingData, params: Params, options: FitOptions): Promise<FittedModel>;
  /** Rebuilds a fitted model from its JSON; predictions are identical to the original's. */
  load(json: SerializedModel): FittedModel;
}
