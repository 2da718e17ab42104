/**
 * Training progress for the deep-learning families: one `onProgress` that draws epochs, loss and the
 * validation metric on the terminal progress bar (src/cli/ui) and logs them as stepped metrics to the
 * tracking store (MLflow's metric history: one point per epoch), batched so a long run makes few writes.
 */
import type { Progress } from '../../cli/ui/index.js';
import type { RunLogger } from '../../tracking/store.js';
import type { FitProgress } from '../types.js';
import type { EpochProgress } from './loop.js';

export interface ProgressSinks {
  bar?: Progress;
  logger?: RunLogger;
  /** Metric-name prefix, e.g. `fold0_` when cross-validating. */
  prefix?: string;
  /** Epochs buffered per store write (default 10). */
  flushEvery?: number;
}

export interface EpochReporter {
  onProgress(progress: FitProgress): void;
  /** Writes what is buffered; call once training ends. */
  flush(): Promise<void>;
}

export function epochReporter(sinks: ProgressSinks): EpochReporter {
  const prefix = sinks.prefix ?? '';
  const every = Math.max(1, sinks.flushEvery ?? 10);
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

  return {
    onProgress(progress: FitProgress): void {
      const epoch = progress as Partial<EpochProgress> & FitProgress;
      const timestamp = Date.now();
      const point = (key: string, value: number | undefined): void => {
        if (value !== undefined && Number.isFinite(value)) pending.push({ key: `${prefix}${key}`, value, step: progress.step, timestamp });
      };
      point('loss', epoch.loss);
      point('val_loss', epoch.validationLoss);
      point('val_score', epoch.validationScore);
      point('learning_rate', epoch.learningRate);
      if (sinks.bar) {
        sinks.bar.setTotal(progress.total);
        const detail = [
          epoch.loss !== undefined ? `loss ${epoch.loss.toFixed(4)}` : '',
          epoch.validationLoss !== undefined ? `val_loss ${epoch.validationLoss.toFixed(4)}` : '',
          epoch.validationScore !== undefined ? `val ${epoch.validationScore.toFixed(3)}` : '',
        ]
          .filter(Boolean)
          .join(' · ');
        sinks.bar.tick(progress.step - lastStep, detail);
      }
      lastStep = progress.step;
      if (pending.length >= every * 4) write();
    },
    async flush(): Promise<void> {
      write();
      await writing;
      if (failure !== null) throw failure;
    },
  };
}
