/**
 * Where trials run: in this thread (tests, --jobs 1, a single neural model) or on a pool of worker threads
 * that share the data through SharedArrayBuffers (copied once, never per trial).
 *
 * With frame-level data (`train --frames`) each family gets its own input: frame families (the cnn) the
 * band × frame patches, the others the summary-feature table. Both hold the same rows in the same order,
 * so out-of-fold predictions line up by row whichever input made them.
 */
import { SpotmlError } from '../errors.js';
import { WorkerPool, workerAvailable } from '../runtime/pool.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { getFamily, takesFrames } from '../learners/catalogue.js';
import type { FitProgress, Params, SerializedModel, Task } from '../learners/types.js';
import { fitPipeline } from '../learners/preprocess.js';
import type { MetricName } from '../metrics/index.js';
import type { TrialExecutor } from './automl.js';
import { crossValidate, type CrossValidationResult } from './crossval.js';
import type { FoldPlan } from './cv.js';

/** Frame patches per row (rows × bands·frames, band-major), aligned with the table's rows. */
export interface FrameData {
  X: Matrix;
  bands: number;
  frames: number;
  feature: string;
}

export interface SearchData {
  X: Matrix;
  y: Float64Array;
  task: Task;
  nClasses: number;
  plan: FoldPlan;
  metric: MetricName;
  frames?: FrameData;
}

/** The frame patches as a worker receives them (the buffer is shared, not copied). */
interface SharedFrames {
  X: SharedArrayBuffer;
  cols: number;
  bands: number;
  frames: number;
  feature: string;
}

/** What a trial worker receives: shared buffers plus the configuration. */
export interface TrialTask {
  rows: number;
  cols: number;
  X: SharedArrayBuffer;
  frames?: SharedFrames;
  y: SharedArrayBuffer;
  fold: SharedArrayBuffer;
  nFolds: number;
  planKind: FoldPlan['kind'];
  task: Task;
  nClasses: number;
  metric: MetricName;
  family: string;
  params: Params;
  seed: number;
  timeLimitMs: number;
  /** 'cv' cross-validates; 'fit' fits on all rows and returns the saved model. */
  kind: 'cv' | 'fit';
}

export type TrialAnswer = CrossValidationResult | SerializedModel;

/** Live fit progress from an in-process executor: each cross-validation fold's, then the refit's. */
export interface FitProgressHooks {
  fold?: (fold: number, progress: FitProgress) => void;
  refit?: (progress: FitProgress) => void;
}

/**
 * The input matrix and params a family trains on: frame families get the patches and `n_bands` from
 * them; every other family the summary-feature table.
 */
export function familyInput(data: SearchData, family: string, params: Params): { X: Matrix; params: Params } {
  if (!takesFrames(family)) return { X: data.X, params };
  if (!data.frames) {
    throw new SpotmlError('USAGE', `${family} trains on frame-level features: pass --frames DIR, the folder spotml extract --frames wrote`, { family });
  }
  return { X: data.frames.X, params: { ...params, n_bands: data.frames.bands } };
}

export class InProcessExecutor implements TrialExecutor {
  readonly parallelism = 1;

  constructor(
    private readonly data: SearchData,
    private readonly progress: FitProgressHooks = {},
  ) {}

  crossValidate(family: string, params: Params, seed: number, timeLimitMs: number): Promise<CrossValidationResult> {
    const input = familyInput(this.data, family, params);
    return crossValidate(getFamily(family), input.params, {
      ...this.data,
      X: input.X,
      seed,
      signal: AbortSignal.timeout(Math.max(1, Math.round(timeLimitMs))),
      onFitProgress: this.progress.fold,
    });
  }

  async fitAll(family: string, params: Params, seed: number): Promise<SerializedModel> {
    return fitAllRows(this.data, family, params, seed, this.progress.refit);
  }

  async close(): Promise<void> {}
}

/** The final refit of one configuration on every row. */
export async function fitAllRows(data: SearchData, family: string, params: Params, seed: number, onProgress?: (progress: FitProgress) => void): Promise<SerializedModel> {
  const input = familyInput(data, family, params);
  const model = await fitPipeline(
    getFamily(family),
    { X: input.X, y: data.y, task: data.task, nClasses: data.task === 'classification' ? data.nClasses : undefined },
    input.params,
    { seed, onProgress },
  );
  return model.toJSON();
}

const TRIAL_WORKER = new URL('./trial-worker.js', import.meta.url);

export class WorkerExecutor implements TrialExecutor {
  readonly parallelism: number;
  private readonly pool: WorkerPool<TrialTask, TrialAnswer>;
  private readonly shared: Pick<TrialTask, 'rows' | 'cols' | 'X' | 'frames' | 'y' | 'fold' | 'nFolds' | 'planKind' | 'task' | 'nClasses' | 'metric'>;

  constructor(data: SearchData, jobs: number) {
    this.parallelism = jobs;
    this.pool = new WorkerPool<TrialTask, TrialAnswer>(TRIAL_WORKER, jobs);
    this.shared = {
      rows: data.X.rows,
      cols: data.X.cols,
      X: toShared(data.X.data),
      ...(data.frames
        ? { frames: { X: toShared(data.frames.X.data), cols: data.frames.X.cols, bands: data.frames.bands, frames: data.frames.frames, feature: data.frames.feature } }
        : {}),
      y: toShared(data.y),
      fold: toShared(Float64Array.from(data.plan.fold)),
      nFolds: data.plan.nFolds,
      planKind: data.plan.kind,
      task: data.task,
      nClasses: data.nClasses,
      metric: data.metric,
    };
  }

  static available(): boolean {
    return workerAvailable(TRIAL_WORKER);
  }

  crossValidate(family: string, params: Params, seed: number, timeLimitMs: number): Promise<CrossValidationResult> {
    // A short grace beyond the trial's own limit: the learner checks its abort signal between steps.
    return this.pool.run({ ...this.shared, kind: 'cv', family, params, seed, timeLimitMs }, { timeoutMs: Math.round(timeLimitMs) + 250 }) as Promise<CrossValidationResult>;
  }

  fitAll(family: string, params: Params, seed: number): Promise<SerializedModel> {
    return this.pool.run({ ...this.shared, kind: 'fit', family, params, seed, timeLimitMs: 0 }) as Promise<SerializedModel>;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Chooses workers when asked for more than one job and the compiled worker exists. */
export function createExecutor(data: SearchData, jobs: number): TrialExecutor {
  return jobs > 1 && WorkerExecutor.available() ? new WorkerExecutor(data, jobs) : new InProcessExecutor(data);
}

function toShared(values: Float64Array): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(values.byteLength);
  new Float64Array(buffer).set(values);
  return buffer;
}

/** Rebuilds the worker-side view of the data (no copy). */
export function dataFromTask(task: TrialTask): SearchData {
  const fold = Int32Array.from(new Float64Array(task.fold));
  return {
    X: createMatrix(task.rows, task.cols, new Float64Array(task.X)),
    ...(task.frames
      ? { frames: { X: createMatrix(task.rows, task.frames.cols, new Float64Array(task.frames.X)), bands: task.frames.bands, frames: task.frames.frames, feature: task.frames.feature } }
      : {}),
    y: new Float64Array(task.y),
    task: task.task,
    nClasses: task.nClasses,
    plan: { fold, nFolds: task.nFolds, kind: task.planKind },
    metric: task.metric,
  };
}
