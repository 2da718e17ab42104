/**
 * Where trials run: in this thread (tests, --jobs 1) or on a pool of worker threads that share the data
 * through SharedArrayBuffers (copied once, never per trial).
 */
import { WorkerPool, workerAvailable } from '../runtime/pool.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { getFamily } from '../learners/catalogue.js';
import type { Params, SerializedModel, Task } from '../learners/types.js';
import { fitPipeline } from '../learners/preprocess.js';
import type { MetricName } from '../metrics/index.js';
import type { TrialExecutor } from './automl.js';
import { crossValidate, type CrossValidationResult } from './crossval.js';
import type { FoldPlan } from './cv.js';

export interface SearchData {
  X: Matrix;
  y: Float64Array;
  task: Task;
  nClasses: number;
  plan: FoldPlan;
  metric: MetricName;
}

/** What a trial worker receives: shared buffers plus the configuration. */
export interface TrialTask {
  rows: number;
  cols: number;
  X: SharedArrayBuffer;
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

export class InProcessExecutor implements TrialExecutor {
  readonly parallelism = 1;

  constructor(private readonly data: SearchData) {}

  crossValidate(family: string, params: Params, seed: number, timeLimitMs: number): Promise<CrossValidationResult> {
    return crossValidate(getFamily(family), params, { ...this.data, seed, signal: AbortSignal.timeout(Math.max(1, Math.round(timeLimitMs))) });
  }

  async fitAll(family: string, params: Params, seed: number): Promise<SerializedModel> {
    return fitAllRows(this.data, family, params, seed);
  }

  async close(): Promise<void> {}
}

/** The final refit of one configuration on every row. */
export async function fitAllRows(data: SearchData, family: string, params: Params, seed: number): Promise<SerializedModel> {
  const model = await fitPipeline(
    getFamily(family),
    { X: data.X, y: data.y, task: data.task, nClasses: data.task === 'classification' ? data.nClasses : undefined },
    params,
    { seed },
  );
  return model.toJSON();
}

const TRIAL_WORKER = new URL('./trial-worker.js', import.meta.url);

export class WorkerExecutor implements TrialExecutor {
  readonly parallelism: number;
  private readonly pool: WorkerPool<TrialTask, TrialAnswer>;
  private readonly shared: Pick<TrialTask, 'rows' | 'cols' | 'X' | 'y' | 'fold' | 'nFolds' | 'planKind' | 'task' | 'nClasses' | 'metric'>;

  constructor(data: SearchData, jobs: number) {
    this.parallelism = jobs;
    this.pool = new WorkerPool<TrialTask, TrialAnswer>(TRIAL_WORKER, jobs);
    this.shared = {
      rows: data.X.rows,
      cols: data.X.cols,
      X: toShared(data.X.data),
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
    y: new Float64Array(task.y),
    task: task.task,
    nClasses: task.nClasses,
    plan: { fold, nFolds: task.nFolds, kind: task.planKind },
    metric: task.metric,
  };
}
