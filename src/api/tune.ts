/**
 * The programmatic `tune`: a deep hyperparameter search of one model family on one table.
 *
 * table + target → X, y (numeric columns are features; the target is classes when it is text or a few
 * whole numbers) → a fold plan → a durable study (journal file or PostgreSQL) driven by a sampler (TPE,
 * random, grid) and a pruner (median, successive halving, Hyperband) over per-fold scores → results:
 * best trial, leaderboard, parameter importance, plots, trials logged as child runs of one study run,
 * and optionally the best configuration refitted on all rows as a model package ready for `register`.
 *
 * Trials run `jobs` at a time, each fold a task on a worker thread when the compiled worker exists.
 * A study resumes by name; several processes (or machines, with PostgreSQL) can work on one study.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { SpotmlError } from '../errors.js';
import { ID_COLUMNS, featureColumnsMatrix, splitFeatureColumns, textColumnsWarning } from '../data/feature-columns.js';
import { experimentNamed } from '../tracking/experiments.js';
import { type Table, readTable } from '../data/table.js';
import { inferTask, targetValues } from '../data/target.js';
import { tableDataHash } from '../data/table-hash.js';
import { getFamily, takesFrames } from '../learners/catalogue.js';
import type { LabelEncoder } from '../learners/label-encoder.js';
import { fitPipeline } from '../learners/preprocess.js';
import { hashSeed } from '../learners/rng.js';
import type { LearnerFamily, ParamValue, Params, Task } from '../learners/types.js';
import { METRICS, type MetricName, defaultMetric } from '../metrics/index.js';
import { WorkerPool, workerAvailable } from '../runtime/pool.js';
import { type FoldPlan, type RowGroups, chooseRowGroups, givenFolds, kFoldPlan, smallestTrainingFold, splitGroupsWarning } from '../search/cv.js';
import { IMPORTANCE_METHOD, type ParamImportance, parameterImportance } from '../search/importance.js';
import { type PrunerName, makePruner } from '../search/pruners.js';
import { GridSampler, RandomSampler, type Sampler } from '../search/sampler.js';
import { type SpaceFile, fitSpaceToRows, resolveSpace } from '../search/space.js';
import { openStudyStorage } from '../search/storage/index.js';
import { checkStudyName } from '../search/storage/journal.js';
import type { StudyInfo, StudyStorage } from '../search/storage/types.js';
import { Study, TrialPruned, type TrialContext, defaultWorker } from '../search/study.js';
import { TpeSampler } from '../search/tpe.js';
import { type TrialRecord, bestTrial, completedTrials } from '../search/trial.js';
import { type FoldData, type FoldResult, type FoldTask, runFold, shareFoldData } from '../search/tune-fold.js';
import type { TrackingStore } from '../tracking/store.js';

export type SamplerName = 'tpe' | 'random' | 'grid';
export const SAMPLER_NAMES: readonly SamplerName[] = ['tpe', 'random', 'grid'];

export interface TuneOptions {
  table: string;
  target: string;
  model: string;
  /** YAML search space; default configs/spaces/<model>.yaml. */
  space?: string;
  /** Stop when the study holds this many trials (crashed ones excepted). */
  trials?: number;
  /** Stop starting trials after this many seconds. */
  timeBudget?: number;
  sampler?: SamplerName;
  /** Default median, or none with the grid sampler (a grid point is one configuration to score, not to cut short). */
  pruner?: PrunerName;
  /** Study name; default `<model>-<table name>-<target>`. The same name resumes (or joins) the study. */
  study?: string;
  /** Study storage URI; default the journal file .spotml/studies.jsonl. */
  storage?: string;
  jobs?: number;
  seed?: number;
  task?: Task;
  metric?: MetricName;
  /** Folds for a stratified (classification) or shuffled (regression) k-fold plan; default 5. */
  cv?: number;
  /** A fold id per row (−1 = always train), instead of `cv`. */
  folds?: ArrayLike<number>;
  /**
   * Rows sharing this column's value stay in one fold. Default: extract's `path` when some file has several
   * rows (segments), so a clip's segments never score each other; null turns grouping off.
   */
  groupBy?: string | null;
  /** Where results and plots go; default tune-out/<study>. */
  out?: string;
  plots?: boolean;
  /** Write the best configuration, refitted on all rows, as a model package here. */
  saveModel?: string;
  /** MLflow tracking URI; null = do not log trials. Default MLFLOW_TRACKING_URI or ./mlruns. */
  trackingUri?: string | null;
  experiment?: string;
  startupTrials?: number;
  gridResolution?: number;
  heartbeatTimeoutSeconds?: number;
  /** Rows of the leaderboard in the summary. */
  top?: number;
  cwd?: string;
  signal?: AbortSignal;
  /** `space`: where the search space came from (a YAML file, or the family's parameter table). */
  /** `runningTrials`: trials other workers of the study are running now. */
  onStart?: (event: {
    study: string;
    resumed: boolean;
    existingTrials: number;
    runningTrials: number;
    jobs: number;
    workers: boolean;
    storage: string;
    metric: MetricName;
    greaterIsBetter: boolean;
    space: string;
  }) => void;
  onTrial?: (trial: TrialRecord, best: TrialRecord | undefined) => void;
  onWarning?: (message: string) => void;
}

export interface LeaderboardRow {
  rank: number;
  number: number;
  /** The metric as it is usually read (not negated). */
  score: number;
  params: Record<string, ParamValue>;
  foldScores: number[];
  durationSeconds: number | null;
}

export interface TuneSummary {
  study: string;
  storage: string;
  resumed: boolean;
  family: string;
  task: Task;
  metric: MetricName;
  greaterIsBetter: boolean;
  sampler: SamplerName;
  pruner: PrunerName;
  space: string;
  rows: number;
  features: number;
  folds: number;
  /** The column whose rows were kept in one fold (null: rows were split freely), with its group count. */
  cvGroups: { column: string; count: number } | null;
  trials: { total: number; complete: number; pruned: number; failed: number; crashed: number; running: number; thisRun: number };
  best: { number: number; score: number; params: Record<string, ParamValue> } | null;
  leaderboard: LeaderboardRow[];
  importance: ParamImportance[];
  importanceMethod: string;
  outputs: { dir: string; summary: string; trials: string; plots: { id: string; svg: string; png: string }[]; model: string | null };
  trackingRunId: string | null;
  stoppedBecause: 'trials' | 'time' | 'aborted' | 'exhausted';
  elapsedSeconds: number;
}

interface PreparedData {
  X: { rows: number; cols: number; data: Float64Array };
  y: Float64Array;
  task: Task;
  nClasses: number;
  labels: LabelEncoder | null;
  featureNames: string[];
  skipped: string[];
}

/**
 * Numeric columns other than the target (and extract's metadata, and `exclude`) become features, as train
 * reads them (src/data/feature-columns.ts): a column numeric but for a few cells is refused; text columns are
 * skipped (named in a warning).
 */
export function prepareData(table: Table, target: string, task: Task | undefined, exclude: readonly string[] = [], tableName = 'the table'): PreparedData {
  const targetIndex = table.names.indexOf(target);
  if (targetIndex < 0) {
    throw new SpotmlError('INVALID_INPUT', `the table has no target column "${target}" (columns: ${table.names.slice(0, 8).join(', ')}${table.names.length > 8 ? ', …' : ''}): check --target`, {
      flag: '--target',
    });
  }
  const candidates = table.names.filter((name, i) => i !== targetIndex && !ID_COLUMNS.has(name) && !exclude.includes(name));
  const { names: featureNames, text: skipped } = splitFeatureColumns(table, candidates, tableName, false);
  if (featureNames.length === 0) throw new SpotmlError('INVALID_INPUT', 'the table has no numeric feature column besides the target', {});
  const column = table.columns[targetIndex] as ArrayLike<string | number>;
  const resolvedTask = task ?? inferTask(column);
  const { y, labels } = targetValues(column, resolvedTask, tableName, target);
  return { X: featureColumnsMatrix(table, featureNames), y, task: resolvedTask, nClasses: labels?.nClasses ?? 0, labels, featureNames, skipped };
}

function makeSampler(name: SamplerName, seed: number, options: TuneOptions): Sampler {
  switch (name) {
    case 'tpe':
      // Constant liar: running trials (this worker's or another's) count as bad, so workers spread out.
      return new TpeSampler({ startupTrials: options.startupTrials ?? 10, constantLiar: true });
    case 'random':
      return new RandomSampler();
    case 'grid':
      return new GridSampler({ resolution: options.gridResolution ?? 5, seed });
    default:
      throw new SpotmlError('USAGE', `--sampler must be one of ${SAMPLER_NAMES.join(', ')}, got "${String(name)}"`, { flag: '--sampler' });
  }
}

/**
 * Runs folds on worker threads (compiled JavaScript only; otherwise in this thread). Even one job uses a
 * worker: a fold fitting in this thread would block the heartbeats, and after --heartbeat-timeout other
 * workers of the study would fail the trial as stale while it is still being computed.
 */
class FoldRunner {
  private readonly pool: WorkerPool<FoldTask, FoldResult> | undefined;
  constructor(jobs: number) {
    const url = new URL('../search/tune-worker.js', import.meta.url);
    this.pool = workerAvailable(url) ? new WorkerPool<FoldTask, FoldResult>(url, jobs) : undefined;
  }

  get usesWorkers(): boolean {
    return this.pool !== undefined;
  }

  run(task: FoldTask, signal: AbortSignal): Promise<FoldResult> {
    if (!this.pool) return runFold(task, signal);
    return new Promise<FoldResult>((resolvePromise, reject) => {
      const onAbort = (): void => reject(signal.reason ?? new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      (this.pool as WorkerPool<FoldTask, FoldResult>).run(task).then(
        (r) => {
          signal.removeEventListener('abort', onAbort);
          resolvePromise(r);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  close(): Promise<void> {
    return this.pool ? this.pool.close() : Promise.resolve();
  }
}

function spaceDigest(file: SpaceFile): unknown {
  return { space: file.space, fixed: file.fixed };
}

function toScore(value: number, greaterIsBetter: boolean): number {
  return greaterIsBetter ? value : -value;
}

export async function tune(options: TuneOptions): Promise<TuneSummary> {
  const started = performance.now();
  const cwd = resolve(options.cwd ?? process.cwd());
  const warn = options.onWarning ?? (() => undefined);
  if (options.trials !== undefined && (!Number.isInteger(options.trials) || options.trials < 1)) {
    throw new SpotmlError('USAGE', `--trials must be a whole number >= 1, got ${options.trials}`, { flag: '--trials' });
  }
  if (options.timeBudget !== undefined && !(options.timeBudget > 0)) {
    throw new SpotmlError('USAGE', `--time-budget must be a positive number of seconds, got ${options.timeBudget}`, { flag: '--time-budget' });
  }
  const nTrials = options.trials ?? (options.timeBudget === undefined ? 100 : undefined);
  const jobs = options.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new SpotmlError('USAGE', `--jobs must be a whole number >= 1, got ${jobs}`, { flag: '--jobs' });
  const seed = options.seed ?? 0;
  const samplerName = options.sampler ?? 'tpe';
  const prunerName = options.pruner ?? (samplerName === 'grid' ? 'none' : 'median');

  const family: LearnerFamily = getFamily(options.model);
  if (takesFrames(family.name)) {
    throw new SpotmlError('USAGE', `${family.name} trains on frame patches, which tune cannot load: use spotml train --frames <dir> --model ${family.name}`, { flag: '--model' });
  }
  const spaceFile = resolveSpace(family, options.space === undefined ? undefined : resolve(cwd, options.space));
  const tablePath = resolve(cwd, options.table);
  const table = await readTable(tablePath, { stringColumns: [options.target] });
  const groups = chooseRowGroups(table, options.target, options.groupBy);
  const data = prepareData(table, options.target, options.task, groups ? [groups.column] : [], options.table);
  if (!family.tasks.includes(data.task)) {
    throw new SpotmlError('USAGE', `${family.name} does not do ${data.task} (it does ${family.tasks.join(', ')}); pick another --model or --task`, { flag: '--model' });
  }
  if (data.skipped.length > 0) warn(textColumnsWarning(options.table, data.skipped));
  const metric = options.metric ?? defaultMetric(data.task);
  const metricDef = METRICS[metric];
  if (!metricDef) throw new SpotmlError('USAGE', `unknown metric "${metric}"; known: ${Object.keys(METRICS).join(', ')}`, { flag: '--metric' });
  if (metricDef.task !== data.task) {
    throw new SpotmlError('USAGE', `--metric ${metric} is for ${metricDef.task}, but the target "${options.target}" makes this ${data.task}`, { flag: '--metric' });
  }
  const greaterIsBetter = metricDef.greaterIsBetter;
  const plan = makePlan(options, data, groups, seed, warn);
  const fingerprint = dataFingerprint(data);
  // Sampled from the space fitted to the folds; the study records the space as declared (the data is fingerprinted).
  const fitted = fitSpaceToRows(spaceFile.space, family, smallestTrainingFold(plan));
  if (options.space !== undefined) {
    for (const b of fitted.lowered) warn(`search space ${spaceFile.source}: ${b.param} is searched up to ${b.lowered}, not ${b.high}: the smallest training fold has ${b.lowered} rows`);
  }
  const space = fitted.space;

  const studyName = options.study ?? `${family.name}-${basename(tablePath).replace(/\.[^.]*$/, '')}-${options.target}`.replace(/[^\w.-]/g, '_');
  checkStudyName(studyName);
  const storage: StudyStorage = openStudyStorage(options.storage, cwd);
  const pruner = makePruner(prunerName, plan.nFolds);
  const sampler = makeSampler(samplerName, seed, options);
  const outDir = resolve(cwd, options.out ?? join('tune-out', studyName));
  const runner = new FoldRunner(jobs);
  let tracking: TrackingStore | null = null;
  try {
    const study = await Study.open({
      storage,
      name: studyName,
      space,
      sampler,
      pruner,
      seed,
      attrs: {
        family: family.name,
        target: options.target,
        task: data.task,
        metric,
        space: spaceDigest(spaceFile),
        spaceSource: spaceFile.source,
        folds: plan.nFolds,
        rows: data.y.length,
        features: data.featureNames.length,
        dataFingerprint: fingerprint,
        cvGroups: plan.groups?.column ?? null,
        table: tablePath,
        sampler: samplerName,
        pruner: prunerName,
        seed,
      },
      mustMatch: ['family', 'target', 'task', 'metric', 'space', 'folds', 'rows', 'features'],
      heartbeatTimeoutMs: (options.heartbeatTimeoutSeconds ?? 60) * 1000,
    });
    if (!study.created) checkSameData(study, studyName, storage.location, fingerprint, plan, warn);
    // Trials of workers that died are marked now, so the counts shown at the start are the live ones.
    await study.failStaleTrials();
    const existing = await study.trials();
    options.onStart?.({
      study: studyName,
      resumed: !study.created,
      existingTrials: existing.length,
      runningTrials: existing.filter((t) => t.state === 'RUNNING').length,
      jobs,
      workers: runner.usesWorkers,
      storage: storage.location,
      metric,
      greaterIsBetter,
      space: spaceFile.source,
    });

    // Tracking: one parent run per study (first writer wins), one child run per trial.
    let parentRunId: string | null = null;
    if (options.trackingUri !== null) {
      const { openStores } = await import('../tracking/open-store.js');
      const trackingUri = options.trackingUri ?? process.env.MLFLOW_TRACKING_URI ?? resolve(cwd, 'mlruns');
      tracking = openStores({ trackingUri }).tracking;
      parentRunId = await studyRun(tracking, study, options.experiment ?? 'spotml-tune', studyName, storage.location).catch((err: unknown) => {
        warn(`tracking is off for this run: ${(err as Error).message}`);
        return null;
      });
    }

    const foldData: FoldData = shareFoldData({ X: data.X, y: data.y, plan, task: data.task, nClasses: data.nClasses, metric });
    const objective = async (ctx: TrialContext): Promise<{ value: number; attrs: Record<string, unknown> }> => {
      const params: Params = { ...spaceFile.fixed, ...ctx.params };
      const foldScores: number[] = [];
      let fitSeconds = 0;
      let predictSeconds = 0;
      for (let f = 0; f < plan.nFolds; f++) {
        ctx.signal.throwIfAborted();
        const result = await runner.run({ data: foldData, family: family.name, params, fold: f, seed: hashSeed(ctx.seed, 'fold', f) }, ctx.signal);
        foldScores.push(result.score);
        fitSeconds += result.fitSeconds;
        predictSeconds += result.predictSeconds;
        const mean = foldScores.reduce((a, b) => a + b, 0) / foldScores.length;
        if (!Number.isFinite(mean)) throw new SpotmlError('INVALID_INPUT', `fold ${f + 1} scored ${result.score}`, {});
        await ctx.report(f + 1, mean);
        if (f < plan.nFolds - 1 && (await ctx.shouldPrune())) throw new TrialPruned(f + 1);
      }
      return { value: foldScores.reduce((a, b) => a + b, 0) / foldScores.length, attrs: { foldScores, fitSeconds, predictSeconds } };
    };

    let best = bestTrial(existing);
    const summary = await study.optimize(objective, {
      nTrials,
      timeoutSeconds: options.timeBudget,
      jobs,
      signal: options.signal,
      onWarning: warn,
      onTrialFinish: async (trial) => {
        if (trial.state === 'COMPLETE' && (!best || (trial.value as number) > (best.value as number))) best = trial;
        if (trial.state === 'FAIL' && trial.attrs.crashed !== true) warn(`trial ${trial.number} failed: ${failReason(trial)}`);
        options.onTrial?.(trial, best);
        if (tracking && parentRunId) {
          await logTrialRun(tracking, parentRunId, studyName, trial, metric, greaterIsBetter).catch((err: unknown) => warn(`trial ${trial.number} was not logged: ${(err as Error).message}`));
        }
      },
    });

    const trials = await study.trials();
    const finalBest = bestTrial(trials);
    // Importance compares complete trials' scores: with fewer than two there is nothing to compare.
    const importance = completedTrials(trials).length >= 2 ? parameterImportance(space, trials) : [];
    const top = options.top ?? 10;
    const leaderboard: LeaderboardRow[] = completedTrials(trials)
      .sort((a, b) => (b.value as number) - (a.value as number) || a.number - b.number)
      .slice(0, top)
      .map((t, i) => ({
        rank: i + 1,
        number: t.number,
        score: toScore(t.value as number, greaterIsBetter),
        params: { ...t.params },
        foldScores: Array.isArray(t.attrs.foldScores) ? (t.attrs.foldScores as number[]).map((v) => toScore(v, greaterIsBetter)) : [],
        durationSeconds: typeof t.attrs.durationSeconds === 'number' ? t.attrs.durationSeconds : null,
      }));
    const counts = { ...countTrials(trials), thisRun: summary.finished.length };

    await mkdir(outDir, { recursive: true });
    const trialsPath = join(outDir, 'trials.csv');
    await writeFileAtomic(trialsPath, trialsCsv(trials, Object.keys(spaceFile.space), greaterIsBetter));
    let plots: { id: string; svg: string; png: string }[] = [];
    if (options.plots !== false && trials.length > 0) {
      try {
        // Loaded on demand: the renderer is large and most runs of the CLI never get here quickly.
        const { writeTunePlots } = await import('../report/tune-plots.js');
        const oriented = trials.map((t) => (greaterIsBetter || t.value === null ? t : { ...t, value: -t.value }));
        plots = await writeTunePlots(outDir, {
          study: studyName,
          space,
          trials: oriented,
          importance,
          scoreLabel: metric,
        });
      } catch (err) {
        warn(`plots were not written: ${(err as Error).message}`);
      }
    }

    let modelDir: string | null = null;
    if (options.saveModel !== undefined && finalBest) {
      modelDir = resolve(cwd, options.saveModel);
      await saveBestModel({ dir: modelDir, family, fixed: spaceFile.fixed, best: finalBest, data, target: options.target, tablePath, metric, greaterIsBetter, seed, studyName, runId: parentRunId });
    }

    const result: TuneSummary = {
      study: studyName,
      storage: storage.location,
      resumed: !study.created,
      family: family.name,
      task: data.task,
      metric,
      greaterIsBetter,
      sampler: samplerName,
      pruner: prunerName,
      space: spaceFile.source,
      rows: data.y.length,
      features: data.featureNames.length,
      folds: plan.nFolds,
      cvGroups: plan.groups ? { column: plan.groups.column, count: plan.groups.count } : null,
      trials: counts,
      best: finalBest ? { number: finalBest.number, score: toScore(finalBest.value as number, greaterIsBetter), params: { ...finalBest.params } } : null,
      leaderboard,
      importance,
      importanceMethod: IMPORTANCE_METHOD,
      outputs: { dir: outDir, summary: join(outDir, 'summary.json'), trials: trialsPath, plots, model: modelDir },
      trackingRunId: parentRunId,
      stoppedBecause: summary.stoppedBecause,
      elapsedSeconds: (performance.now() - started) / 1000,
    };
    await writeFileAtomic(result.outputs.summary, `${JSON.stringify(result, null, 2)}\n`);
    if (tracking && parentRunId) await finishStudyRun(tracking, parentRunId, result).catch((err: unknown) => warn(`the study run was not updated: ${(err as Error).message}`));
    if (!finalBest && result.stoppedBecause !== 'aborted') {
      const failed = trials.filter((t) => t.state === 'FAIL' && t.attrs.crashed !== true).sort((a, b) => a.number - b.number);
      if (failed.length > 0) {
        throw new SpotmlError(
          'INVALID_INPUT',
          `every trial failed (first: trial ${failed[0].number}: ${failReason(failed[0])}); check the space ${spaceFile.source} against the data (reasons in ${trialsPath})`,
          { study: studyName, trials: trialsPath },
        );
      }
      if (options.saveModel !== undefined) {
        throw new SpotmlError('INVALID_INPUT', `no trial is complete (stopped: ${result.stoppedBecause}), so no model was saved: raise --trials or --time-budget and run again to resume`, {
          study: studyName,
          flag: '--save-model',
        });
      }
    }
    return result;
  } finally {
    await runner.close();
    await storage.close();
  }
}

/**
 * Several workers of one study may share an output folder: each file appears whole (written aside, then
 * renamed), so a reader never sees half of one, and the last worker to finish leaves the fullest view.
 */
async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** The reason a failed trial recorded, on one line. */
function failReason(trial: TrialRecord): string {
  const reason = typeof trial.attrs.reason === 'string' ? trial.attrs.reason : 'no reason recorded';
  return reason.split('\n')[0];
}

/** Rows the smallest training set of the plan fits on (a row in fold −1 trains in every fold). */

function makePlan(options: TuneOptions, data: PreparedData, groups: RowGroups | null, seed: number, warn: (message: string) => void): FoldPlan {
  const k = options.cv ?? 5;
  if (options.folds) {
    const plan = givenFolds(options.folds, data.y.length);
    const splitWarning = splitGroupsWarning(plan, groups, 'the given folds');
    if (splitWarning !== null) warn(splitWarning);
    return plan;
  }
  return kFoldPlan(data.y, data.task, data.nClasses, k, seed, groups);
}

/**
 * What the study is fitted on: feature names, the feature matrix and the encoded target (with the class
 * names), so a same-shaped table with other values or labels is told apart from the one the study began on.
 */
function dataFingerprint(data: PreparedData): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ features: data.featureNames, classes: data.labels ? data.labels.classes.map(String) : null, rows: data.y.length }));
  hash.update(new Uint8Array(data.X.data.buffer, data.X.data.byteOffset, data.X.data.byteLength));
  hash.update(new Uint8Array(data.y.buffer, data.y.byteOffset, data.y.byteLength));
  return hash.digest('hex').slice(0, 32);
}

/**
 * A resumed study must be on the same data and folds: its trials' scores are only comparable then. A study
 * from before fingerprints were recorded cannot be checked and resumes (with a warning).
 */
function checkSameData(study: Study, name: string, location: string, fingerprint: string, plan: FoldPlan, warn: (message: string) => void): void {
  const stored = study.info.attrs.dataFingerprint;
  if (typeof stored !== 'string') {
    warn(`study "${name}" predates data fingerprints, so it cannot be checked that it was made on this table; pass --study <new name> if the data changed`);
    return;
  }
  if (stored !== fingerprint) {
    throw new SpotmlError('USAGE', `study "${name}" in ${location} was made on different data (same name, other values): pass --study <new name> to start a new study on this table`, {
      study: name,
      key: 'dataFingerprint',
    });
  }
  const storedGroups = study.info.attrs.cvGroups ?? null;
  const groups = plan.groups?.column ?? null;
  if (storedGroups !== groups) {
    throw new SpotmlError('USAGE', `study "${name}" in ${location} was made with folds grouped by ${String(storedGroups ?? 'nothing')}, now ${String(groups ?? 'nothing')}: pass the same --group-by or a new --study name`, {
      study: name,
      key: 'cvGroups',
    });
  }
}

async function studyRun(tracking: TrackingStore, study: Study, experimentName: string, studyName: string, storageLocation: string): Promise<string> {
  const known = study.info.attrs.trackingRunId;
  if (typeof known === 'string') {
    await tracking.updateRun(known, 'RUNNING');
    return known;
  }
  const { experimentId } = await experimentNamed(tracking, experimentName);
  const run = await tracking.createRun({
    experimentId,
    runName: `tune-${studyName}`,
    tags: { 'spotml.command': 'tune', 'spotml.study': studyName, 'spotml.study_storage': storageLocation },
  });
  const stored = await study.storage.setStudyAttrOnce(study.id, 'trackingRunId', run.runId);
  if (stored !== run.runId) {
    // Another worker created the study run first: ours is empty, close it and use theirs.
    await tracking.updateRun(run.runId, 'KILLED', Date.now());
    await tracking.updateRun(String(stored), 'RUNNING');
    return String(stored);
  }
  const attrs = study.info.attrs;
  await tracking.logBatch(run.runId, {
    params: ['family', 'target', 'metric', 'sampler', 'pruner', 'folds', 'seed'].filter((k) => attrs[k] !== undefined).map((k) => ({ key: k, value: String(attrs[k]) })),
  });
  return run.runId;
}

const RUN_STATUS = { COMPLETE: 'FINISHED', PRUNED: 'KILLED', FAIL: 'FAILED', RUNNING: 'RUNNING' } as const;

async function logTrialRun(tracking: TrackingStore, parentRunId: string, studyName: string, trial: TrialRecord, metric: MetricName, greaterIsBetter: boolean): Promise<void> {
  const parent = await tracking.getRun(parentRunId);
  const run = await tracking.createRun({
    experimentId: parent.info.experimentId,
    runName: `trial-${trial.number}`,
    startTime: trial.startedAt,
    tags: { 'mlflow.parentRunId': parentRunId, 'spotml.study': studyName, 'spotml.trial': String(trial.number), 'spotml.trial_state': trial.state },
  });
  const now = Date.now();
  const metrics = Object.entries(trial.intermediate).map(([step, v]) => ({ key: `${metric}_cv_running`, value: toScore(v, greaterIsBetter), step: Number(step), timestamp: now }));
  if (trial.value !== null) metrics.push({ key: metric, value: toScore(trial.value, greaterIsBetter), step: 0, timestamp: now });
  const params = Object.entries(trial.params).map(([key, value]) => ({ key, value: String(value) }));
  const tags = typeof trial.attrs.reason === 'string' ? [{ key: 'spotml.fail_reason', value: trial.attrs.reason.slice(0, 4000) }] : [];
  await tracking.logBatch(run.runId, { params, metrics: metrics.filter((m) => Number.isFinite(m.value)), tags });
  await tracking.updateRun(run.runId, RUN_STATUS[trial.state], trial.finishedAt ?? now);
}

async function finishStudyRun(tracking: TrackingStore, runId: string, result: TuneSummary): Promise<void> {
  const now = Date.now();
  const metrics = [
    { key: 'trials_complete', value: result.trials.complete, step: result.trials.total, timestamp: now },
    { key: 'trials_pruned', value: result.trials.pruned, step: result.trials.total, timestamp: now },
  ];
  if (result.best) metrics.push({ key: `best_${result.metric}`, value: result.best.score, step: result.trials.total, timestamp: now });
  const tags = result.best ? [{ key: 'spotml.best_trial', value: String(result.best.number) }, { key: 'spotml.best_params', value: JSON.stringify(result.best.params).slice(0, 4000) }] : [];
  await tracking.logBatch(runId, { metrics, tags });
  for (const plot of result.outputs.plots) {
    await tracking.logArtifact(runId, plot.svg, 'plots');
    await tracking.logArtifact(runId, plot.png, 'plots');
  }
  await tracking.logArtifact(runId, result.outputs.summary);
  await tracking.logArtifact(runId, result.outputs.trials);
  await tracking.updateRun(runId, result.stoppedBecause === 'aborted' ? 'KILLED' : 'FINISHED', now);
}

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function trialsCsv(trials: readonly TrialRecord[], params: readonly string[], greaterIsBetter: boolean): string {
  const header = ['number', 'state', 'score', 'duration_s', 'started_at', 'finished_at', ...params.map((p) => `param_${p}`), 'note'];
  const lines = [header.join(',')];
  for (const t of trials) {
    lines.push(
      [
        t.number,
        t.state,
        t.value === null ? '' : toScore(t.value, greaterIsBetter),
        typeof t.attrs.durationSeconds === 'number' ? t.attrs.durationSeconds.toFixed(3) : '',
        new Date(t.startedAt).toISOString(),
        t.finishedAt === null ? '' : new Date(t.finishedAt).toISOString(),
        ...params.map((p) => t.params[p]),
        t.attrs.reason ?? '',
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function saveBestModel(args: {
  dir: string;
  family: LearnerFamily;
  fixed: Record<string, ParamValue>;
  best: TrialRecord;
  data: PreparedData;
  target: string;
  tablePath: string;
  metric: MetricName;
  greaterIsBetter: boolean;
  seed: number;
  studyName: string;
  runId: string | null;
}): Promise<void> {
  const { writeModelPackage } = await import('../registry/package.js');
  const params: Params = { ...args.fixed, ...args.best.params };
  const model = await fitPipeline(
    args.family,
    { X: args.data.X, y: args.data.y, task: args.data.task, nClasses: args.data.task === 'classification' ? args.data.nClasses : undefined },
    params,
    { seed: hashSeed(args.seed, 'final-fit') },
  );
  let spec = null;
  const { readFeatureSpec, specPathFor } = await import('../audio/feature-spec.js');
  if (existsSync(specPathFor(args.tablePath))) spec = await readFeatureSpec(specPathFor(args.tablePath));
  await writeModelPackage({
    dir: args.dir,
    task: args.data.task,
    target: args.target,
    model,
    labels: args.data.labels,
    featureNames: args.data.featureNames,
    spec,
    dataHash: await tableDataHash(args.tablePath),
    metrics: { [`cv_${args.metric}`]: toScore(args.best.value as number, args.greaterIsBetter) },
    training: { command: 'tune', study: args.studyName, trial: args.best.number, params, seed: args.seed },
    runId: args.runId ?? undefined,
    exampleRow: Array.from(args.data.X.data.subarray(0, args.data.X.cols)),
  });
}

// ------------------------------------------------------------------ reading and deleting studies

export interface StudyListing {
  study: string;
  family: string | null;
  target: string | null;
  metric: string | null;
  greaterIsBetter: boolean;
  createdAt: string;
  trials: { total: number; complete: number; pruned: number; failed: number; crashed: number; running: number };
  best: { number: number; score: number; params: Record<string, ParamValue> } | null;
}

export interface StudyTrialRow {
  number: number;
  state: TrialRecord['state'];
  /** The metric as it is usually read (not negated); null unless complete or pruned with a value. */
  score: number | null;
  params: Record<string, ParamValue>;
  /** Running score after each step (fold), as read. */
  intermediate: Record<string, number>;
  startedAt: string;
  finishedAt: string | null;
  durationSeconds: number | null;
  crashed: boolean;
  reason: string | null;
  worker: string | null;
}

/** Whether the study's metric is read greater-is-better (a study made before metrics were recorded: yes). */
function studyOrientation(attrs: Readonly<Record<string, unknown>>): { metric: string | null; greaterIsBetter: boolean } {
  const metric = typeof attrs.metric === 'string' ? attrs.metric : null;
  const definition = metric === null ? undefined : METRICS[metric as MetricName];
  return { metric, greaterIsBetter: definition?.greaterIsBetter ?? true };
}

function countTrials(trials: readonly TrialRecord[]): StudyListing['trials'] {
  return {
    total: trials.length,
    complete: trials.filter((t) => t.state === 'COMPLETE').length,
    pruned: trials.filter((t) => t.state === 'PRUNED').length,
    failed: trials.filter((t) => t.state === 'FAIL' && t.attrs.crashed !== true).length,
    crashed: trials.filter((t) => t.attrs.crashed === true).length,
    running: trials.filter((t) => t.state === 'RUNNING').length,
  };
}

async function withStorage<T>(storageUri: string | undefined, cwd: string | undefined, fn: (storage: StudyStorage) => Promise<T>): Promise<T> {
  const storage = openStudyStorage(storageUri, resolve(cwd ?? process.cwd()));
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

async function findStudy(storage: StudyStorage, name: string): Promise<StudyInfo> {
  checkStudyName(name);
  const info = await storage.getStudy(name);
  if (info) return info;
  const known = (await storage.listStudies()).map((s) => s.name);
  throw new SpotmlError(
    'NOT_FOUND',
    `there is no study "${name}" in ${storage.location}${known.length > 0 ? ` (studies: ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', …' : ''})` : ''}: check --study and --storage`,
    { study: name, storage: storage.location },
  );
}

/** Every study in the storage with its trial counts and best trial, oldest first. */
export function listStudies(options: { storage?: string; cwd?: string } = {}): Promise<{ storage: string; studies: StudyListing[] }> {
  return withStorage(options.storage, options.cwd, async (storage) => {
    const listings: StudyListing[] = [];
    for (const info of await storage.listStudies()) {
      const trials = await storage.getTrials(info.id);
      const { metric, greaterIsBetter } = studyOrientation(info.attrs);
      const best = bestTrial(trials);
      listings.push({
        study: info.name,
        family: typeof info.attrs.family === 'string' ? info.attrs.family : null,
        target: typeof info.attrs.target === 'string' ? info.attrs.target : null,
        metric,
        greaterIsBetter,
        createdAt: new Date(info.createdAt).toISOString(),
        trials: countTrials(trials),
        best: best ? { number: best.number, score: toScore(best.value as number, greaterIsBetter), params: { ...best.params } } : null,
      });
    }
    return { storage: storage.location, studies: listings.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.study.localeCompare(b.study)) };
  });
}

/** One study's trials, scores as the metric is read; `file` (.csv or .json) also gets them written. */
export function exportStudy(options: { study: string; storage?: string; cwd?: string; file?: string }): Promise<{ study: string; metric: string | null; file: string | null; trials: StudyTrialRow[] }> {
  return withStorage(options.storage, options.cwd, async (storage) => {
    const info = await findStudy(storage, options.study);
    const { metric, greaterIsBetter } = studyOrientation(info.attrs);
    const records = await storage.getTrials(info.id);
    const trials = records.map((t): StudyTrialRow => ({
      number: t.number,
      state: t.state,
      score: t.value === null ? null : toScore(t.value, greaterIsBetter),
      params: { ...t.params },
      intermediate: Object.fromEntries(Object.entries(t.intermediate).map(([step, v]) => [step, toScore(v, greaterIsBetter)])),
      startedAt: new Date(t.startedAt).toISOString(),
      finishedAt: t.finishedAt === null ? null : new Date(t.finishedAt).toISOString(),
      durationSeconds: typeof t.attrs.durationSeconds === 'number' ? t.attrs.durationSeconds : null,
      crashed: t.attrs.crashed === true,
      reason: typeof t.attrs.reason === 'string' ? t.attrs.reason : null,
      worker: typeof (t.attrs.worker as { id?: unknown } | undefined)?.id === 'string' ? (t.attrs.worker as { id: string }).id : null,
    }));
    let file: string | null = null;
    if (options.file !== undefined) {
      file = resolve(options.cwd ?? process.cwd(), options.file);
      if (!/\.(csv|json)$/i.test(file)) throw new SpotmlError('USAGE', `--export ${options.file}: name a .csv or .json file`, { flag: '--export' });
      const params = [...new Set(records.flatMap((t) => Object.keys(t.params)))];
      const text = /\.json$/i.test(file) ? `${JSON.stringify({ study: info.name, metric, trials }, null, 2)}\n` : trialsCsv(records, params, greaterIsBetter);
      await writeFileAtomic(file, text);
    }
    return { study: info.name, metric, file, trials };
  });
}

/**
 * Deletes a study and its trials. Refused while a live worker runs one of its trials (it would write into
 * a study that is gone); trials of workers that died are marked first, so they do not block.
 */
export function deleteStudy(options: { study: string; storage?: string; cwd?: string; heartbeatTimeoutSeconds?: number }): Promise<{ study: string; storage: string; trials: number }> {
  return withStorage(options.storage, options.cwd, async (storage) => {
    const info = await findStudy(storage, options.study);
    await storage.failStaleTrials(info.id, defaultWorker(), (options.heartbeatTimeoutSeconds ?? 60) * 1000);
    const trials = await storage.getTrials(info.id);
    const running = trials.filter((t) => t.state === 'RUNNING');
    if (running.length > 0) {
      throw new SpotmlError(
        'USAGE',
        `study "${info.name}" has ${running.length} trial${running.length === 1 ? '' : 's'} running (${running.map((t) => t.number).join(', ')}): stop its tune processes first, then delete it`,
        { study: info.name },
      );
    }
    await storage.deleteStudy(info.name);
    return { study: info.name, storage: storage.location, trials: trials.length };
  });
}
