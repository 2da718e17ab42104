/**
 * One cross-validation fold of one configuration, the unit `tune` schedules (so it can prune between
 * folds and keep every worker thread busy). The data travels as SharedArrayBuffers: copied once per run,
 * never per task.
 */
import { createMatrix } from '../data/matrix.js';
import { getFamily } from '../learners/catalogue.js';
import type { Params, Task } from '../learners/types.js';
import type { MetricName } from '../metrics/index.js';
import { crossValidate } from './crossval.js';
import type { FoldPlan } from './cv.js';

export interface FoldData {
  rows: number;
  cols: number;
  X: SharedArrayBuffer;
  y: SharedArrayBuffer;
  /** The plan's fold per row, as Int32. */
  fold: SharedArrayBuffer;
  task: Task;
  nClasses: number;
  metric: MetricName;
}

export interface FoldTask {
  data: FoldData;
  family: string;
  params: Params;
  fold: number;
  seed: number;
}

export interface FoldResult {
  /** Oriented score (greater is better). */
  score: number;
  fitSeconds: number;
  predictSeconds: number;
}

function shared(values: Float64Array | Int32Array): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(values.byteLength);
  new Uint8Array(buffer).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return buffer;
}

export function shareFoldData(args: { X: { rows: number; cols: number; data: Float64Array }; y: Float64Array; plan: FoldPlan; task: Task; nClasses: number; metric: MetricName }): FoldData {
  return {
    rows: args.X.rows,
    cols: args.X.cols,
    X: shared(args.X.data),
    y: shared(args.y),
    fold: shared(args.plan.fold),
    task: args.task,
    nClasses: args.nClasses,
    metric: args.metric,
  };
}

/** Fits on every row outside fold `fold` and scores on that fold (rows with fold −1 always train). */
export async function runFold(task: FoldTask, signal?: AbortSignal): Promise<FoldResult> {
  const { data } = task;
  const folds = new Int32Array(data.fold);
  const single = new Int32Array(folds.length);
  for (let i = 0; i < folds.length; i++) single[i] = folds[i] === task.fold ? 0 : -1;
  const result = await crossValidate(getFamily(task.family), task.params, {
    X: createMatrix(data.rows, data.cols, new Float64Array(data.X)),
    y: new Float64Array(data.y),
    task: data.task,
    nClasses: data.nClasses,
    plan: { fold: single, nFolds: 1, kind: 'holdout' },
    metric: data.metric,
    seed: task.seed,
    signal,
  });
  return { score: result.score, fitSeconds: result.fitSeconds, predictSeconds: result.predictSeconds };
}
