/**
 * `spotml train`: read a feature table, pick the task, encode labels, plan the folds, then either
 * cross-validate one family or run the AutoML search; refit on all rows inside the budget, write the model
 * package and log everything (params, per-trial child runs, metrics, leaderboard, model) to the store.
 *
 * With `framesDir` (the folder `extract --frames` wrote) each row's frame patch is loaded by the table's
 * path column: the cnn trains on the patches, the other families on the table, and a package whose model
 * reads frames records their shape (dl/frame-input.ts). Neural families report epochs: a single neural
 * model streams them to a progress bar and logs the refit's to the run; trials log theirs to their child run.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SpotmlError } from '../errors.js';
import { tableDataHash } from '../data/table-hash.js';
import { experimentNamed } from '../tracking/experiments.js';
import { ID_COLUMNS, featureColumnsMatrix, splitFeatureColumns, textColumnsWarning } from '../data/feature-columns.js';
import { columnIndex, readTable, type Table } from '../data/table.js';
import { inferTask, targetValues } from '../data/target.js';
import { firstInfinite } from '../learners/validate.js';
import { readFeatureSpec, specPathFor, type FeatureSpec } from '../audio/feature-spec.js';
import type { Progress } from '../cli/ui/index.js';
import { familiesFor, frameFamiliesFor, getFamily, takesFrames, trainsInEpochs } from '../learners/catalogue.js';
import { InputSliceModel, type FrameInput } from '../learners/dl/frame-input.js';
import { DEFAULT_FRAME_FEATURE, loadTableFrames } from '../learners/dl/frames.js';
import { epochReporter, logEpochs, type EpochReporter } from '../learners/dl/progress.js';
import { EnsembleModel, loadAnyModel } from '../learners/ensemble.js';
import { DEFAULT_SEARCH_BUDGET_SECONDS } from '../search/budget.js';
import { parseParamValue } from '../learners/params.js';
import { hashSeed } from '../learners/rng.js';
import type { FitProgress, FittedModel, LearnerFamily, Params, Task } from '../learners/types.js';
import { METRICS, defaultMetric, type MetricName } from '../metrics/index.js';
import { runAutoMl, type AutoMlResult, type TrialExecutor } from '../search/automl.js';
import type { CrossValidationResult } from '../search/crossval.js';
import { chooseRowGroups, givenFolds, groupHoldout, holdout, kFoldPlan, splitGroupsWarning, type FoldPlan, type RowGroups } from '../search/cv.js';
import { createExecutor, InProcessExecutor, type FrameData, type SearchData } from '../search/executor.js';
import type { TrialRecord } from '../search/trial.js';
import { writeModelPackage } from '../registry/package.js';
import { FileStore } from '../tracking/file-store/index.js';
import { RunLogger, type TrackingStore } from '../tracking/store.js';
import { SPOTML_VERSION } from '../version.js';

export interface TrainOptions {
  table: string;
  target: string;
  /** Single-model mode: the family and its params as k=v strings. */
  model?: string;
  params?: Record<string, string>;
  autoOptimize: boolean;
  /**
   * Wall-clock seconds for the whole run (search + refit). Default: 60 s for a search (--auto-optimize) without
   * maxTrials; none for a single --model or a capped search, which then run to the end.
   */
  timeBudget?: number;
  maxTrials?: number;
  families?: readonly string[];
  metric?: MetricName;
  task?: Task;
  cv: number;
  holdoutFraction?: number;
  /** JSON file with {"fold": [...]} giving each row's test fold. */
  foldsFile?: string;
  /**
   * Rows sharing this column's value stay in one fold (and on one side of a holdout). Default: extract's
   * `path` when some file has several rows (segments), so a clip's segments never score each other;
   * null turns grouping off.
   */
  groupBy?: string | null;
  /**
   * Trials logged as MLflow child runs: the first `logTrials`, then any later trial that enters the top
   * `logTrials` (default 200). A short search on small data runs thousands of trials, and each child run is a
   * folder of small files; every completed trial is in the run's leaderboard.json whatever this is.
   */
  logTrials?: number;
  seed: number;
  jobs: number;
  out: string;
  experiment: string;
  store?: TrackingStore;
  ensemble: boolean;
  /** The folder `spotml extract --frames` wrote: frame families (cnn) train on its patches. */
  framesDir?: string;
  /** The frame matrix to read (default melspectrogram_db). */
  frameFeature?: string;
  /** A progress bar per neural fit (each CV fold, then the refit) when training one mlp or cnn. */
  epochProgress?: (label: string) => Progress;
  /** The resolved configuration to record with the run. */
  config?: Record<string, unknown>;
  onTrial?: (trial: TrialRecord, leaderboard: LeaderboardRow[]) => void;
  onStatus?: (message: string) => void;
  /** Something the user should know (e.g. columns left out); default: onStatus. Also listed in the result. */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface LeaderboardRow {
  rank: number;
  trial: number;
  family: string;
  params: Params;
  score: number;
  std: number;
  seconds: number;
}

export interface TrainResult {
  task: Task;
  metric: MetricName;
  /** The metric value (not oriented) of what was shipped, mean over folds. */
  score: number;
  scoreStd: number;
  model: { kind: 'single' | 'ensemble'; family: string; members: { family: string; params: Params; weight: number }[]; frameInput: FrameInput | null };
  trials: { total: number; complete: number; failed: number };
  leaderboard: LeaderboardRow[];
  /** `groupedBy`: the column whose rows were kept in one fold (null: rows were split freely), with its group count. */
  folds: { kind: FoldPlan['kind']; n: number; groupedBy: string | null; groups: number | null };
  /** The budget that applied (null: none, a single model without --time-budget). */
  timeBudget: number | null;
  warnings: string[];
  out: string;
  runId: string;
  experimentId: string;
  elapsedSeconds: number;
  stoppedBecause: AutoMlResult['stoppedBecause'] | 'single-model';
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const status = options.onStatus ?? (() => {});
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    (options.onWarning ?? status)(message);
  };
  // A trial cap without a budget runs every trial to the end: no clock in the loop, so a seeded search gives the
  // same result on any machine under any load.
  const budget = options.timeBudget ?? (options.autoOptimize && options.maxTrials === undefined ? DEFAULT_SEARCH_BUDGET_SECONDS : Number.POSITIVE_INFINITY);
  if (!(budget > 0)) throw new SpotmlError('USAGE', `--time-budget must be a positive number of seconds, got ${budget}`, { flag: '--time-budget' });
  const table = await readTable(options.table, { stringColumns: [options.target] });
  const specPath = specPathFor(options.table);
  const spec: FeatureSpec | null = existsSync(specPath) ? await readFeatureSpec(specPath) : null;
  const dataHash = await tableDataHash(options.table);

  const targetIndex = columnIndex(table, options.target);
  const groups = chooseRowGroups(table, options.target, options.groupBy);
  const featureNames = chooseFeatures(table, options.target, spec, options.table, groups?.column ?? null, warn);
  const X = featureColumnsMatrix(table, featureNames);
  refuseInfinite(X.data, featureNames, options.table);
  const rawTarget = table.columns[targetIndex];
  const task = options.task ?? inferTask(rawTarget);
  const { y, labels } = targetValues(rawTarget as ArrayLike<string | number>, task, options.table, options.target);
  const nClasses = labels?.nClasses ?? 0;
  const metric = options.metric ?? defaultMetric(task);
  if (METRICS[metric].task !== task) {
    throw new SpotmlError('USAGE', `--metric ${metric} is for ${METRICS[metric].task}, but the target "${options.target}" makes this ${task}`, { flag: '--metric' });
  }
  const plan = await makePlan(options, y, task, nClasses, groups, warn);
  const frames = options.framesDir ? await loadFrames(options, table) : undefined;

  // Tracking: one parent run; each trial is a child run (MLflow's nested runs).
  const store = options.store ?? new FileStore('mlruns');
  const experiment = await experimentNamed(store, options.experiment);
  const run = await store.createRun({ experimentId: experiment.experimentId, runName: `train-${options.autoOptimize ? 'automl' : options.model}`, tags: { 'spotml.command': 'train', 'spotml.version': SPOTML_VERSION } });
  const log = new RunLogger(store, run.runId);
  try {
    await log.logParams({
      table: resolve(options.table),
      target: options.target,
      task,
      metric,
      cv: plan.kind === 'holdout' ? 'holdout' : String(plan.nFolds),
      folds_kind: plan.kind,
      cv_groups: plan.groups?.column ?? 'none',
      ...(plan.groups ? { n_groups: plan.groups.count } : {}),
      seed: options.seed,
      jobs: options.jobs,
      time_budget: Number.isFinite(budget) ? budget : 'none',
      auto_optimize: options.autoOptimize,
      n_rows: X.rows,
      n_features: X.cols,
      ...(labels ? { n_classes: labels.nClasses } : {}),
      data_sha256: dataHash,
      ...(spec ? { feature_spec_hash: spec.specHash } : {}),
      ...(frames && options.framesDir ? { frames_dir: resolve(options.framesDir), frame_feature: frames.feature, n_bands: frames.bands, n_frames: frames.frames } : {}),
    });
    await store.writeArtifact(run.runId, 'config.json', JSON.stringify(options.config ?? {}, null, 2));
    if (spec) await store.writeArtifact(run.runId, 'feature-spec.json', JSON.stringify(spec, null, 2));

    const data: SearchData = { X, y, task, nClasses, plan, metric, ...(frames ? { frames } : {}) };
    const families = selectFamilies(options, task, frames !== undefined, status);
    // One neural model runs in this thread (a single trial gains nothing from workers), so its epochs
    // can reach the progress bar and the run as they happen.
    const neural = !options.autoOptimize && trainsInEpochs(families[0].name);
    const epochs = neural ? new EpochSinks(options.epochProgress, plan.nFolds) : null;
    const executor: TrialExecutor = epochs ? new InProcessExecutor(data, epochs.hooks(log)) : createExecutor(data, Math.max(1, options.jobs));
    const trialRecords: TrialRecord[] = [];
    const logTrials = options.logTrials ?? DEFAULT_LOGGED_TRIALS;
    if (!Number.isInteger(logTrials) || logTrials < 0) throw new SpotmlError('USAGE', `--log-trials must be a whole number >= 0, got ${logTrials}`, { flag: '--log-trials' });
    let trialsLogged = 0;
    let search: AutoMlResult;
    let composed: ComposedModel;
    let members: { trial: TrialRecord; weight: number }[];
    let ensembleKept: boolean;
    try {
      const limit = Number.isFinite(budget) ? `for ${budget}s` : 'without a time limit';
      const grouping = plan.groups ? `, rows of one "${plan.groups.column}" kept in one fold` : '';
      const what = options.autoOptimize ? `searching ${families.map((f) => f.name).join(', ')}` : `cross-validating ${families[0].name}`;
      status(`${what} ${limit} on ${executor.parallelism} thread(s)${grouping}`);
      search = await runAutoMl(executor, {
        families,
        task,
        nClasses,
        y,
        plan,
        metric,
        seed: options.seed,
        budgetSeconds: Math.max(1, budget - elapsed()),
        maxTrials: options.autoOptimize ? options.maxTrials : 1,
        // One model's cross-validation may use the whole budget (a search splits it across trials).
        ...(options.autoOptimize ? {} : { trialTimeLimitSeconds: Math.max(1, budget - elapsed()) }),
        ensemble: options.autoOptimize && options.ensemble,
        signal: options.signal,
        reserveSeconds: (best) => refitReserve(best, plan, executor.parallelism),
        onTrial: async (trial, result) => {
          trialRecords.push(trial);
          await epochs?.endFold();
          if (worthLogging(trial, trialRecords, logTrials, trialsLogged)) {
            await logTrial(store, experiment.experimentId, run.runId, trial, metric, result);
            trialsLogged++;
          }
          options.onTrial?.(trial, leaderboard(trialRecords, METRICS[metric].greaterIsBetter));
        },
        ...(options.autoOptimize ? {} : { initial: [{ family: families[0].name, params: fixedParams(families[0], options.params ?? {}, frames) }] }),
      }).catch((err: unknown) => {
        throw budgetError(err, options, budget, families[0].name);
      });

      // Final refit on all rows, in parallel on the trial threads: the ensemble's members when their refit
      // fits in what is left of the budget, else the best single configuration.
      const ensembleMembers = search.ensemble ? search.ensemble.members.map((m) => ({ trial: m.trial, weight: m.weight })) : null;
      const left = budget - elapsed();
      ensembleKept = ensembleMembers !== null && refitSeconds(ensembleMembers.map((m) => m.trial), plan, executor.parallelism) <= left;
      if (ensembleMembers && !ensembleKept) status('ensemble dropped: refitting all its members would overrun the time budget');
      members = ensembleKept && ensembleMembers ? ensembleMembers : [{ trial: search.best, weight: 1 }];
      status(`refitting ${members.length} model(s) on all ${X.rows} rows`);
      const saved = await Promise.all(
        members.map((m) => executor.fitAll(String(m.trial.attrs.family), m.trial.params, hashSeed(options.seed, 'refit', m.trial.number))),
      );
      await epochs?.endRefit();
      composed = composeModel(
        saved.map(loadAnyModel),
        members.map((m) => m.weight),
        members.map((m) => takesFrames(String(m.trial.attrs.family))),
        X.cols,
        frames,
      );
    } finally {
      await executor.close();
    }
    const model = composed.model;

    const board = leaderboard(trialRecords, METRICS[metric].greaterIsBetter);
    const orient = (v: number): number => (METRICS[metric].greaterIsBetter ? v : -v);
    const score = orient(ensembleKept && search.ensemble ? search.ensemble.score : (search.best.value as number));
    const scoreStd = ensembleKept && search.ensemble ? search.ensemble.std : Number(search.best.attrs.std ?? 0);
    const metrics: Record<string, number> = { [`cv_${metric}`]: score, [`cv_${metric}_std`]: scoreStd, trials: trialRecords.length, trials_logged: trialsLogged };
    await log.logMetrics(metrics);
    const modelSummary = {
      kind: (ensembleKept ? 'ensemble' : 'single') as 'single' | 'ensemble',
      family: ensembleKept ? 'ensemble' : String(search.best.attrs.family),
      members: members.map((m) => ({ family: String(m.trial.attrs.family), params: m.trial.params, weight: m.weight })),
      frameInput: composed.frameInput,
    };
    await writeModelPackage({
      dir: options.out,
      task,
      target: options.target,
      model,
      labels,
      featureNames: composed.usesFeatures ? featureNames : [],
      frameInput: composed.frameInput,
      spec,
      dataHash,
      metrics,
      training: {
        runId: run.runId,
        experimentId: experiment.experimentId,
        table: resolve(options.table),
        seed: options.seed,
        model: modelSummary,
        folds: { kind: plan.kind, n: plan.nFolds, ...(plan.groups ? { groupedBy: plan.groups.column } : {}) },
      },
      runId: run.runId,
      // The first row as the model reads it: its features, then (frame models) its patch, so the package's
      // serving example is real data.
      exampleRow: [
        ...(composed.usesFeatures ? Array.from(X.data.subarray(0, X.cols)) : []),
        ...(composed.frameInput && frames ? Array.from(frames.X.data.subarray(0, frames.X.cols)) : []),
      ],
    });
    await store.logArtifact(run.runId, options.out, 'model');
    const history = await logModelHistoryTag(options.out, run.runId);
    if (history) await log.setTags({ 'mlflow.log-model.history': history });
    await store.writeArtifact(run.runId, 'leaderboard.json', JSON.stringify(board, null, 2));
    await log.setTags({
      'spotml.model_family': modelSummary.family,
      'spotml.cv_groups': plan.groups?.column ?? 'none',
      'mlflow.note.content': `spotml train: ${modelSummary.family}, cv ${metric} ${score.toFixed(4)}${plan.groups ? ` (folds grouped by ${plan.groups.column})` : ''}`,
    });
    await store.updateRun(run.runId, 'FINISHED');
    return {
      task,
      metric,
      score,
      scoreStd,
      model: modelSummary,
      trials: {
        total: trialRecords.length,
        complete: trialRecords.filter((t) => t.state === 'COMPLETE').length,
        failed: trialRecords.filter((t) => t.state === 'FAIL').length,
      },
      leaderboard: board,
      folds: { kind: plan.kind, n: plan.nFolds, groupedBy: plan.groups?.column ?? null, groups: plan.groups?.count ?? null },
      timeBudget: Number.isFinite(budget) ? budget : null,
      warnings,
      out: options.out,
      runId: run.runId,
      experimentId: experiment.experimentId,
      elapsedSeconds: elapsed(),
      stoppedBecause: options.autoOptimize ? search.stoppedBecause : 'single-model',
    };
  } catch (err) {
    await store.updateRun(run.runId, 'FAILED').catch(() => undefined);
    throw err;
  }
}

function selectFamilies(options: TrainOptions, task: Task, hasFrames: boolean, status: (message: string) => void): LearnerFamily[] {
  const needFrames = (family: LearnerFamily, flag: string): void => {
    if (takesFrames(family.name) && !hasFrames) {
      throw new SpotmlError('USAGE', `${family.name} trains on frame-level features: pass --frames DIR, the folder spotml extract --frames wrote for ${options.table}`, { flag });
    }
  };
  if (!options.autoOptimize) {
    if (!options.model) throw new SpotmlError('USAGE', 'pass --model <family> to train one model, or --auto-optimize to search', { flag: '--model' });
    const family = getFamily(options.model);
    if (!family.tasks.includes(task)) throw new SpotmlError('USAGE', `${family.name} does not support ${task}`, { flag: '--model' });
    needFrames(family, '--model');
    return [family];
  }
  if (!options.families || options.families.length === 0) {
    if (!hasFrames) return familiesFor(task);
    const frameFamilies = frameFamiliesFor(task);
    if (frameFamilies.length === 0) status(`--frames: no frame-level family supports ${task}; searching the table's features only`);
    return [...familiesFor(task), ...frameFamilies];
  }
  return options.families.map((name) => {
    const family = getFamily(name);
    if (!family.tasks.includes(task)) throw new SpotmlError('USAGE', `${name} does not support ${task}`, { flag: '--families' });
    needFrames(family, '--families');
    return family;
  });
}

/** Single-model mode: --param k=v strings parsed by the family's constraint table. */
function fixedParams(family: LearnerFamily, raw: Record<string, string>, frames: FrameData | undefined): Params {
  const fixed: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(raw)) {
    const spec = family.params[key];
    if (!spec) throw new SpotmlError('USAGE', `${family.name} has no parameter "${key}"; known: ${Object.keys(family.params).join(', ')}`, { flag: '--param' });
    fixed[key] = parseParamValue(spec, value, key);
  }
  if (frames && takesFrames(family.name) && fixed.n_bands !== undefined && fixed.n_bands !== frames.bands) {
    throw new SpotmlError('USAGE', `--param n_bands=${String(fixed.n_bands)} disagrees with the ${frames.bands} bands of the --frames matrices; leave n_bands out`, { flag: '--param' });
  }
  return fixed;
}

/** Loads every row's frame patch (cropped or padded to the longest clip) from the --frames folder. */
async function loadFrames(options: TrainOptions, table: Table): Promise<FrameData> {
  const feature = options.frameFeature ?? DEFAULT_FRAME_FEATURE;
  const loaded = await loadTableFrames({ framesDir: options.framesDir as string, table, tableName: options.table, feature });
  return { X: loaded.X, bands: loaded.bands, frames: loaded.frames, feature };
}

export interface ComposedModel {
  model: FittedModel;
  /** Whether the model reads the table's summary features (else its input is the frame patch alone). */
  usesFeatures: boolean;
  frameInput: FrameInput | null;
}

/**
 * The shipped model from its refitted members. Members that read frames and members that read the table
 * are each given their slice of one combined row, [summary features | frame patch], so they can share an
 * ensemble; a model of frame members only reads the patch alone.
 */
export function composeModel(fitted: FittedModel[], weights: number[], readsFrames: boolean[], featureCols: number, frames: FrameData | undefined): ComposedModel {
  const anyFrames = readsFrames.some(Boolean);
  const frameInput: FrameInput | null = anyFrames && frames ? { feature: frames.feature, n_bands: frames.bands, frames: frames.frames } : null;
  const mixed = anyFrames && !readsFrames.every(Boolean);
  let members = fitted;
  if (mixed && frames) {
    const width = featureCols + frames.X.cols;
    members = fitted.map((m, i) => (readsFrames[i] ? new InputSliceModel(m, 'frames', featureCols, width) : new InputSliceModel(m, 'features', 0, width)));
  }
  const model = members.length === 1 ? members[0] : new EnsembleModel(members, weights);
  return { model, usesFeatures: !anyFrames || mixed, frameInput };
}

/**
 * Where a single neural model's epochs go: a progress bar per fit, the refit's epochs to the run as they
 * happen. (Each fold's epochs reach the trial's child run with its result, like a search's trials.)
 */
class EpochSinks {
  private fold = -1;
  private foldReporter: EpochReporter | null = null;
  private refitReporter: EpochReporter | null = null;

  constructor(
    private readonly bar: ((label: string) => Progress) | undefined,
    private readonly folds: number,
  ) {}

  hooks(log: RunLogger): { fold: (fold: number, progress: FitProgress) => void; refit: (progress: FitProgress) => void } {
    return {
      fold: (fold, progress) => {
        if (fold !== this.fold) {
          void this.foldReporter?.finish(this.foldLabel(this.fold));
          this.fold = fold;
          this.foldReporter = epochReporter({ bar: this.bar?.(this.foldLabel(fold)) });
        }
        this.foldReporter?.onProgress(progress);
      },
      refit: (progress) => {
        this.refitReporter ??= epochReporter({ bar: this.bar?.('refit'), logger: log });
        this.refitReporter.onProgress(progress);
      },
    };
  }

  async endFold(): Promise<void> {
    await this.foldReporter?.finish(this.foldLabel(this.fold));
    this.foldReporter = null;
  }

  async endRefit(): Promise<void> {
    await this.refitReporter?.finish('refit');
  }

  private foldLabel(fold: number): string {
    return this.folds > 1 ? `cv fold ${fold + 1}/${this.folds}` : 'holdout';
  }
}

/** Missing values are imputed, but an infinite one has no sensible stand-in: name it before any trial fails on it. */
function refuseInfinite(data: Float64Array, featureNames: readonly string[], tableName: string): void {
  const at = firstInfinite(data);
  if (at < 0) return;
  const column = featureNames[at % featureNames.length];
  const row = Math.floor(at / featureNames.length) + 1;
  throw new SpotmlError('INVALID_INPUT', `${tableName}: column "${column}" is infinite in row ${row}; clip or drop such values before training`, { column, row });
}

/**
 * The feature columns: the spec's, or every column but the target, extract's metadata and the group column.
 * A column that is numeric but for a few cells is refused (naming the first bad cell): dropping it would
 * silently lose a feature, and evaluate/serve would then disagree with the table. A text column is left out
 * with a warning.
 */
function chooseFeatures(table: Table, target: string, spec: FeatureSpec | null, tableName: string, groupColumn: string | null, warn: (message: string) => void): string[] {
  if (spec) {
    const missing = spec.columns.features.filter((c) => !table.names.includes(c));
    if (missing.length > 0) {
      throw new SpotmlError('FEATURE_SPEC_MISMATCH', `${tableName} lacks columns its spec lists (e.g. "${missing[0]}"); re-run spotml extract`, {});
    }
  }
  const candidates = spec ? spec.columns.features.filter((c) => c !== target) : table.names.filter((name) => name !== target && !ID_COLUMNS.has(name) && name !== groupColumn);
  const { names, text } = splitFeatureColumns(table, candidates, tableName, spec !== null);
  if (text.length > 0) warn(textColumnsWarning(tableName, text));
  if (names.length === 0) throw new SpotmlError('INVALID_INPUT', `${tableName} has no numeric feature columns besides the target "${target}"`, {});
  return names;
}

async function makePlan(options: TrainOptions, y: Float64Array, task: Task, nClasses: number, groups: RowGroups | null, warn: (message: string) => void): Promise<FoldPlan> {
  if (options.foldsFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(options.foldsFile, 'utf8'));
    } catch (err) {
      throw new SpotmlError('INVALID_INPUT', `--folds ${options.foldsFile} cannot be read as JSON (${(err as Error).message})`, { flag: '--folds' });
    }
    const fold = (parsed as { fold?: unknown } | null)?.fold;
    if (!Array.isArray(fold)) throw new SpotmlError('INVALID_INPUT', `--folds ${options.foldsFile} must hold {"fold": [fold id per row]}`, { flag: '--folds' });
    const plan = givenFolds(fold.map(Number), y.length, `--folds ${options.foldsFile}`);
    const splitWarning = splitGroupsWarning(plan, groups, `--folds ${options.foldsFile}`);
    if (splitWarning !== null) warn(splitWarning);
    return plan;
  }
  if (options.holdoutFraction !== undefined) {
    return groups ? groupHoldout(y, task, nClasses, groups, options.holdoutFraction, options.seed) : holdout(y, task, nClasses, options.holdoutFraction, options.seed);
  }
  if (task === 'classification') {
    const counts = new Array<number>(nClasses).fill(0);
    for (const v of y) counts[v]++;
    const smallest = Math.min(...counts);
    if (smallest < options.cv) {
      throw new SpotmlError('INVALID_INPUT', `the smallest class has ${smallest} rows, fewer than --cv ${options.cv} folds: lower --cv or add data`, { flag: '--cv' });
    }
  }
  return kFoldPlan(y, task, nClasses, options.cv, options.seed, groups);
}

/** A trial stopped by the time budget: say which budget and how to raise it (the search's own message is generic). */
function budgetError(err: unknown, options: TrainOptions, budget: number, family: string): unknown {
  if (!(err instanceof SpotmlError) || err.details.reason !== 'time-limit') return err;
  if (!options.autoOptimize) {
    return new SpotmlError(
      'INVALID_INPUT',
      `${family} did not finish its cross-validation within --time-budget ${budget}s: raise --time-budget, or leave it out to train one model without a time limit`,
      { flag: '--time-budget', timeBudget: budget },
    );
  }
  return new SpotmlError('INVALID_INPUT', `every trial ran out of time within --time-budget ${budget}s: raise --time-budget or search cheaper --families`, { flag: '--time-budget', timeBudget: budget });
}

/** Expected seconds to refit these configurations on all rows: per-fold fit time scaled to the full data. */
function refitSeconds(trials: readonly TrialRecord[], plan: FoldPlan, threads: number): number {
  if (trials.length === 0) return 0;
  const folds = Math.max(1, plan.nFolds);
  // Training sets in k-fold hold (k-1)/k of the rows; super-linear learners (SVM, kNN) grow faster than that.
  const growth = plan.kind === 'holdout' ? 1.5 : Math.pow(folds / Math.max(1, folds - 1), 2) * 1.15;
  const each = trials.map((t) => (Number(t.attrs.fitSeconds ?? 0) / (plan.kind === 'holdout' ? 1 : folds)) * growth);
  return Math.max(...each, each.reduce((a, b) => a + b, 0) / Math.max(1, threads));
}

/** Time kept for the final refit while searching: the best configurations' refit, plus writing the package. */
function refitReserve(best: readonly TrialRecord[], plan: FoldPlan, threads: number): number {
  if (best.length === 0) return 0;
  return 0.5 + 1.2 * refitSeconds(best.slice(0, 5), plan, threads);
}

export function leaderboard(trials: readonly TrialRecord[], greaterIsBetter: boolean): LeaderboardRow[] {
  return trials
    .filter((t) => t.state === 'COMPLETE' && t.value !== null)
    .sort((a, b) => (b.value as number) - (a.value as number) || a.number - b.number)
    .map((t, i) => ({
      rank: i + 1,
      trial: t.number,
      family: String(t.attrs.family),
      params: t.params,
      score: greaterIsBetter ? (t.value as number) : -(t.value as number),
      std: Number(t.attrs.std ?? 0),
      seconds: Number(t.attrs.fitSeconds ?? 0) + Number(t.attrs.predictSeconds ?? 0),
    }));
}

/** Child runs logged per train run unless logTrials says otherwise. */
const DEFAULT_LOGGED_TRIALS = 200;

/** The first `cap` trials, then a completed trial only when it ranks within the top `cap` so far. */
function worthLogging(trial: TrialRecord, trials: readonly TrialRecord[], cap: number, logged: number): boolean {
  if (logged < cap) return true;
  if (trial.state !== 'COMPLETE' || trial.value === null) return false;
  let better = 0;
  for (const other of trials) if (other !== trial && other.state === 'COMPLETE' && other.value !== null && other.value >= trial.value) better++;
  return better < cap;
}

async function logTrial(store: TrackingStore, experimentId: string, parentRunId: string, trial: TrialRecord, metric: MetricName, result?: CrossValidationResult): Promise<void> {
  const child = await store.createRun({
    experimentId,
    runName: `trial-${trial.number}-${String(trial.attrs.family)}`,
    tags: { 'mlflow.parentRunId': parentRunId, 'spotml.trial': String(trial.number), 'spotml.trial_state': trial.state },
  });
  const params = Object.entries(trial.params).map(([key, value]) => ({ key, value: String(value) }));
  params.push({ key: 'family', value: String(trial.attrs.family) });
  const now = Date.now();
  const metrics = [];
  if (trial.value !== null) {
    const oriented = METRICS[metric].greaterIsBetter ? trial.value : -trial.value;
    metrics.push({ key: `cv_${metric}`, value: oriented, step: 0, timestamp: now });
    const folds = (trial.attrs.foldScores as number[] | undefined) ?? [];
    folds.forEach((v, i) => metrics.push({ key: `fold_${metric}`, value: METRICS[metric].greaterIsBetter ? v : -v, step: i, timestamp: now }));
    metrics.push({ key: 'fit_seconds', value: Number(trial.attrs.fitSeconds ?? 0), step: 0, timestamp: now });
  }
  await store.logBatch(child.runId, { params, metrics, tags: trial.state === 'FAIL' ? [{ key: 'spotml.failure', value: String(trial.attrs.reason) }] : [] });
  // Neural families: each fold's epochs (train_loss, val_loss, val_<metric>, learning_rate by epoch).
  const childRun = { store, runId: child.runId };
  for (const [fold, records] of (result?.epochs ?? []).entries()) if (records) await logEpochs(childRun, records, `fold${fold}_`);
  await store.updateRun(child.runId, trial.state === 'FAIL' ? 'FAILED' : 'FINISHED');
}

/**
 * MLflow 2.x's UI lists a run's models from the `mlflow.log-model.history` tag: a JSON list of MLmodel
 * dicts. Run tags are capped at 5000 characters (2.x), so a long signature is left out of the tag (it stays
 * in the MLmodel file), and the tag is skipped when even that does not fit.
 */
async function logModelHistoryTag(packageDir: string, runId: string): Promise<string | null> {
  const mlmodel = parseYaml(await readFile(join(packageDir, 'MLmodel'), 'utf8')) as Record<string, unknown>;
  const entry: Record<string, unknown> = { ...mlmodel, run_id: runId, artifact_path: 'model' };
  let text = JSON.stringify([entry]);
  if (text.length > 5000) {
    const { signature: _signature, ...withoutSignature } = entry;
    text = JSON.stringify([withoutSignature]);
  }
  return text.length <= 5000 ? text : null;
}
