/**
 * Training progress for the deep-learning families: one `onProgress` that draws epochs, loss and the
 * validation metric on the terminal progress bar (src/cli/ui) and logs them as stepped metrics to the
 * tracking store (MLflow's metric history: one point per epoch, step = epoch), batched so a long run
 * makes few writes. Keys: `train_loss`, `val_loss`, `val_accuracy` (or `val_r2`), `learning_rate`,
 * each with an optional prefix (`fold0_` when cross-validating).
 *
 * Fits on worker threads cannot stream progress to the parent, so they record epochs as plain
 * `EpochRecord`s (structured-clone safe) that the parent replays into a reporter afterwards.
 */
import type { Progress } from '../../cli/ui/index.js';
import type { RunLogger } from '../../tracking/store.js';
import type { FitProgress } from '../types.js';
import type { EpochProgress } from './loop.js';

export interface ProgressSinks {
  bar?: Progress;
  logger?: Pick<RunLogger, 'store' | 'runId'>;
  /** Metric-name prefix, e.g. `fold0_` when cross-validating. */
  prefix?: string;
  /** Epochs buffered per store write (default 10). */
  flushEvery?: number;
}

/** One epoch as the loop reported it, in plain data. */
export interface EpochRecord {
  epoch: number;
  total: number;
  loss: number;
  validationLoss?: number;
  validationScore?: number;
  validationMetric?: 'accuracy' | 'r2';
  learningRate?: number;
}

export interface EpochReporter {
  onProgress(progress: FitProgress): void;
  /** The epochs seen so far. */
  readonly epochs: readonly EpochRecord[];
  /** Writes what is buffered; call once training ends. */
  flush(): Promise<void>;
  /** Clears the bar (leaving a one-line summary), then flushes. */
  finish(label: string): Promise<void>;
}

/** True for the progress the DL loop reports (it carries the epoch's loss); other learners report steps only. */
export function isEpochProgress(progress: FitProgress): progress is EpochProgress {
  return typeof (progress as Partial<EpochProgress>).loss === 'number';
}

export function epochRecord(progress: EpochProgress): EpochRecord {
  const record: EpochRecord = { epoch: progress.step, total: progress.total, loss: progress.loss };
  if (progress.validationLoss !== undefined) record.validationLoss = progress.validationLoss;
  if (progress.validationScore !== undefined) record.validationScore = progress.validationScore;
  if (progress.validationMetric !== undefined) record.validationMetric = progress.validationMetric;
  if (progress.learningRate !== undefined) record.learningRate = progress.learningRate;
  return record;
}

/** The per-epoch text the bar shows and the summary it leaves. */
export function describeEpoch(record: EpochRecord): string {
  return [
    `loss ${record.loss.toFixed(4)}`,
    record.validationLoss !== undefined ? `val_loss ${record.validationLoss.toFixed(4)}` : '',
    record.validationScore !== undefined ? `val_${record.validationMetric ?? 'score'} ${record.validationScore.toFixed(3)}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

export function epochReporter(sinks: ProgressSinks): EpochReporter {
  const prefix = sinks.prefix ?? '';
  const every = Math.max(1, sinks.flushEvery ?? 10);
  const epochs: EpochRecord[] = [];
  let pending: { key: string; value: number; step: number; timestamp: number }[] = [];
  let writing: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  let lastStep = 0;

  const write = (): void => {
    if (!sinks.logger || pending.length === 0) return;
    const metrics = pending;
    pending = [];
    const { store, runId } = sinks.logger;
    writing = writing.then(() => store.logBatch(runId, { metrics })).catch((err: unknown) => {
      failure ??= err;
    });
  };

  const flush = async (): Promise<void> => {
    write();
    await writing;
    if (failure !== null) throw failure;
  };

  return {
    epochs,
    onProgress(progress: FitProgress): void {
      if (!isEpochProgress(progress)) return;
      const record = epochRecord(progress);
      epochs.push(record);
      const timestamp = Date.now();
      const point = (key: string, value: number | undefined): void => {
        if (value !== undefined && Number.isFinite(value)) pending.push({ key: `${prefix}${key}`, value, step: record.epoch, timestamp });
      };
      point('train_loss', record.loss);
      point('val_loss', record.validationLoss);
      point(`val_${record.validationMetric ?? 'score'}`, record.validationScore);
      point('learning_rate', record.learningRate);
      if (sinks.bar) {
        sinks.bar.setTotal(record.total);
        sinks.bar.tick(record.epoch - lastStep, describeEpoch(record));
      }
      lastStep = record.epoch;
      if (pending.length >= every * 4) write();
    },
    flush,
    async finish(label: string): Promise<void> {
      const last = epochs[epochs.length - 1];
      sinks.bar?.done(last ? `${label}: ${last.epoch} epoch(s) · ${describeEpoch(last)}` : undefined);
      await flush();
    },
  };
}

/** Logs recorded epochs (e.g. a worker's fit) to a run, as a live reporter would have. */
export async function logEpochs(logger: Pick<RunLogger, 'store' | 'runId'>, records: readonly EpochRecord[], prefix = ''): Promise<void> {
  if (records.length === 0) return;
  const reporter = epochReporter({ logger, prefix, flushEvery: Number.MAX_SAFE_INTEGER });
  for (const r of records) {
    reporter.onProgress({
      step: r.epoch,
      total: r.total,
      loss: r.loss,
      validationLoss: r.validationLoss,
      validationScore: r.validationScore,
      validationMetric: r.validationMetric,
      learningRate: r.learningRate ?? Number.NaN,
      samplesPerSecond: 0,
    } as EpochProgress);
  }
  await reporter.flush();
}
