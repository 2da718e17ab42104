/**
 * The Store contract (MLflow's AbstractStore, tracking half): experiments, runs, params, metrics by step,
 * tags and artifacts. Implementations provide the primitives; `logMetric`/`logParam`/`setTag` route through
 * `logBatch` in `RunLogger`, so backends stay small and cannot drift.
 *
 * Invariants every implementation keeps (the conformance suite checks them):
 * - ids: experiment ids are strings, run ids 32 lowercase hex;
 * - a param cannot change once logged (re-logging the same value is fine);
 * - metrics are appended with (timestamp ms, value, step), and the latest is the max by (step, timestamp, value);
 * - writes are atomic: a reader never sees a half-written record.
 */
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: 'active' | 'deleted';
  creationTime?: number;
  lastUpdateTime?: number;
  tags: Record<string, string>;
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: RunStatus;
  startTime: number;
  endTime: number | null;
  artifactUri: string;
  lifecycleStage: 'active' | 'deleted';
}

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface Run {
  info: RunInfo;
  data: {
    /** Latest value per key. */
    metrics: Metric[];
    params: Record<string, string>;
    tags: Record<string, string>;
  };
}

export interface LogBatch {
  metrics?: readonly Metric[];
  params?: readonly { key: string; value: string }[];
  tags?: readonly { key: string; value: string }[];
}

export interface CreateRunOptions {
  experimentId: string;
  runName?: string;
  userId?: string;
  startTime?: number;
  tags?: Record<string, string>;
}

export interface TrackingStore {
  /** Human-readable location (for logs): a path or URL. */
  readonly location: string;
  createExperiment(name: string, tags?: Record<string, string>): Promise<string>;
  getExperiment(experimentId: string): Promise<Experiment>;
  /** undefined when no active or deleted experiment has that name. */
  getExperimentByName(name: string): Promise<Experiment | undefined>;
  createRun(options: CreateRunOptions): Promise<RunInfo>;
  updateRun(runId: string, status: RunStatus, endTime?: number): Promise<RunInfo>;
  getRun(runId: string): Promise<Run>;
  /** Runs of an experiment, newest first. */
  listRuns(experimentId: string): Promise<RunInfo[]>;
  logBatch(runId: string, batch: LogBatch): Promise<void>;
  getMetricHistory(runId: string, key: string): Promise<Metric[]>;
  /** Copies a local file or folder under the run's artifacts at `artifactPath` (a relative path). */
  logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void>;
  /** Writes bytes as an artifact file. */
  writeArtifact(runId: string, artifactPath: string, content: Uint8Array | string): Promise<void>;
  listArtifacts(runId: string, path?: string): Promise<{ path: string; isDir: boolean; size?: number }[]>;
  /** A local path to the artifact (downloading first for remote stores). */
  downloadArtifact(runId: string, artifactPath: string, destination?: string): Promise<string>;
}

/** Convenience wrapper with one-value helpers, all routed through logBatch. */
export class RunLogger {
  constructor(
    readonly store: TrackingStore,
    readonly runId: string,
  ) {}

  logParams(params: Record<string, string | number | boolean>): Promise<void> {
    return this.store.logBatch(this.runId, {
      params: Object.entries(params).map(([key, value]) => ({ key, value: String(value) })),
    });
  }

  logMetric(key: string, value: number, step = 0): Promise<void> {
    return this.store.logBatch(this.runId, { metrics: [{ key, value, step, timestamp: Date.now() }] });
  }

  logMetrics(metrics: Record<string, number>, step = 0): Promise<void> {
    const timestamp = Date.now();
    return this.store.logBatch(this.runId, {
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step, timestamp })),
    });
  }

  setTags(tags: Record<string, string>): Promise<void> {
    return this.store.logBatch(this.runId, { tags: Object.entries(tags).map(([key, value]) => ({ key, value })) });
  }
}
