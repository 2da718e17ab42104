/**
 * `spotml train`: read a feature table, pick the task, encode labels, plan the folds, then either
 * cross-validate one family or run the AutoML search; refit on all rows inside the budget, write the model
 * package and log everything (params, per-trial child runs, metrics, leaderboard, model) to the store.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { columnIndex, readTable, type Table } from '../data/table.js';
import { readFeatureSpec, specPathFor, type FeatureSpec } from '../audio/feature-spec.js';
import { familiesFor, getFamily } from '../learners/catalogue.js';
import { EnsembleModel, loadAnyModel } from '../learners/ensemble.js';
import { LabelEncoder } from '../learners/label-encoder.js';
import { parseParamValue } from '../learners/params.js';
import { hashSeed } from '../learners/rng.js';
import type { FittedModel, LearnerFamily, Params, Task } from '../learners/types.js';
import { METRICS, defaultMetric, type MetricName } from '../metrics/index.js';
import { runAutoMl, type AutoMlResult } from '../search/automl.js';
import { givenFolds, holdout, kFold, stratifiedKFold, type FoldPlan } from '../search/cv.js';
import { createExecutor, type SearchData } from '../search/executor.js';
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
  /** Wall-clock seconds for the whole run (search + refit). */
  timeBudget: number;
  maxTrials?: number;
  families?: readonly string[];
  metric?: MetricName;
  task?: Task;
  cv: number;
  holdoutFraction?: number;
  /** JSON file with {"fold": [...]} giving each row's test fold. */
  foldsFile?: string;
  seed: number;
  jobs: number;
  out: string;
  experiment: string;
  store?: TrackingStore;
  ensemble: boolean;
  /** The resolved configuration to record with the run. */
  config?: Record<string, unknown>;
  onTrial?: (trial: TrialRecord, leaderboard: LeaderboardRow[]) => void;
  onStatus?: (message: string) => void;
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
  model: { kind: 'single' | 'ensemble'; family: string; members: { family: string; params: Params; weight: number }[] };
  trials: { total: number; complete: number; failed: number };
  leaderboard: LeaderboardRow[];
  folds: { kind: FoldPlan['kind']; n: number };
  out: string;
  runId: string;
  experimentId: string;
  elapsedSeconds: number;
  stoppedBecause: AutoMlResult['stoppedBecause'] | 'single-model';
}

const ID_COLUMNS = new Set(['path', 'segment', 'start_s', 'end_s']);

export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const status = options.onStatus ?? (() => {});
  const table = await readTable(options.table, { stringColumns: [options.target] });
  const specPath = specPathFor(options.table);
  const spec: FeatureSpec | null = existsSync(specPath) ? await readFeatureSpec(specPath) : null;
  const dataHash = createHash('sha256').update(await readFile(options.table)).digest('hex');

  const targetIndex = columnIndex(table, options.target);
  const featureNames = chooseFeatures(table, options.target, spec, options.table);
  const X = buildMatrix(table, featureNames);
  const rawTarget = table.columns[targetIndex];
  const task = options.task ?? inferTask(rawTarget);
  let labels: LabelEncoder | null = null;
  let y: Float64Array;
  if (task === 'classification') {
    const values = Array.from(rawTarget as ArrayLike<string | number>, (v) => String(v));
    const missing = values.findIndex((v) => v === '' || v === 'NaN');
    if (missing >= 0) throw new SpotmlError('INVALID_INPUT', `${options.table}: target "${options.target}" is empty in row ${missing + 1}; drop or label those rows`, {});
    labels = LabelEncoder.fit(values);
    y = labels.encode(values);
    if (labels.nClasses < 2) throw new SpotmlError('INVALID_INPUT', `${options.table}: target "${options.target}" has only one class; classification needs two or more`, {});
  } else {
    y = Float64Array.from(rawTarget as ArrayLike<string | number>, (v) => Number(v));
    const bad = y.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new SpotmlError('INVALID_INPUT', `${options.table}: target "${options.target}" is not a finite number in row ${bad + 1}`, {});
  }
  const nClasses = labels?.nClasses ?? 0;
  const metric = options.metric ?? defaultMetric(task);
  if (METRICS[metric].task !== task) {
    throw new SpotmlError('USAGE', `--metric ${metric} is for ${METRICS[metric].task}, but the target "${options.target}" makes this ${task}`, { flag: '--metric' });
  }
  const plan = await makePlan(options, y, task, nClasses);

  // Tracking: one parent run; each trial is a child run (MLflow's nested runs).
  const store = options.store ?? new FileStore('mlruns');
  const experiment = (await store.getExperimentByName(options.experiment)) ?? (await store.getExperiment(await store.createExperiment(options.experiment)));
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
      seed: options.seed,
      jobs: options.jobs,
      time_budget: options.timeBudget,
      auto_optimize: options.autoOptimize,
      n_rows: X.rows,
      n_features: X.cols,
      ...(labels ? { n_classes: labels.nClasses } : {}),
      data_sha256: dataHash,
      ...(spec ? { feature_spec_hash: spec.specHash } : {}),
    });
    await store.writeArtifact(run.runId, 'config.json', JSON.stringify(options.config ?? {}, null, 2));
    if (spec) await store.writeArtifact(run.runId, 'feature-spec.json', JSON.stringify(spec, null, 2));

    const data: SearchData = { X, y, task, nClasses, plan, metric };
    const families = selectFamilies(options, task);
    const executor = createExecutor(data, Math.max(1, options.jobs));
    const trialRecords: TrialRecord[] = [];
    let search: AutoMlResult;
    let model: FittedModel;
    let members: { trial: TrialRecord; weight: number }[];
    let ensembleKept: boolean;
    try {
      status(`searching ${families.map((f) => f.name).join(', ')} for ${options.timeBudget}s on ${executor.parallelism} thread(s)`);
      search = await runAutoMl(executor, {
        families,
        task,
        nClasses,
        y,
        plan,
        metric,
        seed: options.seed,
        budgetSeconds: Math.max(1, options.timeBudget - elapsed()),
        maxTrials: options.autoOptimize ? options.maxTrials : 1,
        ensemble: options.autoOptimize && options.ensemble,
        signal: options.signal,
        reserveSeconds: (best) => refitReserve(best, plan, executor.parallelism),
        onTrial: async (trial) => {
          trialRecords.push(trial);
          await logTrial(store, experiment.experimentId, run.runId, trial, metric);
          options.onTrial?.(trial, leaderboard(trialRecords, METRICS[metric].greaterIsBetter));
        },
        ...(options.autoOptimize ? {} : { initial: [{ family: families[0].name, params: fixedParams(families[0], options.params ?? {}) }] }),
      });

      // Final refit on all rows, in parallel on the trial threads: the ensemble's members when their refit
      // fits in what is left of the budget, else the best single configuration.
      const ensembleMembers = search.ensemble ? search.ensemble.members.map((m) => ({ trial: m.trial, weight: m.weight })) : null;
      const left = options.timeBudget - elapsed();
      ensembleKept = ensembleMembers !== null && refitSeconds(ensembleMembers.map((m) => m.trial), plan, executor.parallelism) <= left;
      if (ensembleMembers && !ensembleKept) status('ensemble dropped: refitting all its members would overrun the time budget');
      members = ensembleKept && ensembleMembers ? ensembleMembers : [{ trial: search.best, weight: 1 }];
      status(`refitting ${members.length} model(s) on all ${X.rows} rows`);
      const saved = await Promise.all(
        members.map((m) => executor.fitAll(String(m.trial.attrs.family), m.trial.params, hashSeed(options.seed, 'refit', m.trial.number))),
      );
      const fitted = saved.map(loadAnyModel);
      model = fitted.length === 1 ? fitted[0] : new EnsembleModel(fitted, members.map((m) => m.weight));
    } finally {
      await executor.close();
    }

    const board = leaderboard(trialRecords, METRICS[metric].greaterIsBetter);
    const orient = (v: number): number => (METRICS[metric].greaterIsBetter ? v : -v);
    const score = orient(ensembleKept && search.ensemble ? search.ensemble.score : (search.best.value as number));
    const scoreStd = ensembleKept ? 0 : Number(search.best.attrs.std ?? 0);
    const metrics: Record<string, number> = { [`cv_${metric}`]: score, [`cv_${metric}_std`]: scoreStd, trials: trialRecords.length };
    await log.logMetrics(metrics);
    const modelSummary = {
      kind: (ensembleKept ? 'ensemble' : 'single') as 'single' | 'ensemble',
      family: ensembleKept ? 'ensemble' : String(search.best.attrs.family),
      members: members.map((m) => ({ family: String(m.trial.attrs.family), params: m.trial.params, weight: m.weight })),
    };
    await writeModelPackage({
      dir: options.out,
      task,
      target: options.target,
      model,
      labels,
      featureNames,
      spec,
      dataHash,
      metrics,
      training: { runId: run.runId, experimentId: experiment.experimentId, table: resolve(options.table), seed: options.seed, model: modelSummary, folds: { kind: plan.kind, n: plan.nFolds } },
      runId: run.runId,
      exampleRow: Array.from(X.data.subarray(0, X.cols)),
    });
    await store.logArtifact(run.runId, options.out, 'model');
    const history = await logModelHistoryTag(options.out, run.runId);
    if (history) await log.setTags({ 'mlflow.log-model.history': history });
    await store.writeArtifact(run.runId, 'leaderboard.json', JSON.stringify(board, null, 2));
    await log.setTags({ 'spotml.model_family': modelSummary.family, 'mlflow.note.content': `spotml train: ${modelSummary.family}, cv ${metric} ${score.toFixed(4)}` });
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
      folds: { kind: plan.kind, n: plan.nFolds },
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

function selectFamilies(options: TrainOptions, task: Task): LearnerFamily[] {
  if (!options.autoOptimize) {
    if (!options.model) throw new SpotmlError('USAGE', 'pass --model <family> to train one model, or --auto-optimize to search', { flag: '--model' });
    const family = getFamily(options.model);
    if (!family.tasks.includes(task)) throw new SpotmlError('USAGE', `${family.name} does not support ${task}`, { flag: '--model' });
    return [family];
  }
  const all = familiesFor(task);
  if (!options.families || options.families.length === 0) return all;
  return options.families.map((name) => {
    const family = getFamily(name);
    if (!family.tasks.includes(task)) throw new SpotmlError('USAGE', `${name} does not support ${task}`, { flag: '--families' });
    return family;
  });
}

/** Single-model mode: --param k=v strings parsed by the family's constraint table. */
function fixedParams(family: LearnerFamily, raw: Record<string, string>): Params {
  const fixed: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(raw)) {
    const spec = family.params[key];
    if (!spec) throw new SpotmlError('USAGE', `${family.name} has no parameter "${key}"; known: ${Object.keys(family.params).join(', ')}`, { flag: '--param' });
    fixed[key] = parseParamValue(spec, value);
  }
  return fixed;
}

function chooseFeatures(table: Table, target: string, spec: FeatureSpec | null, tableName: string): string[] {
  if (spec) {
    const missing = spec.columns.features.filter((c) => !table.names.includes(c));
    if (missing.length > 0) {
      throw new SpotmlError('FEATURE_SPEC_MISMATCH', `${tableName} lacks columns its spec lists (e.g. "${missing[0]}"); re-run spotml extract`, {});
    }
    return spec.columns.features.filter((c) => c !== target);
  }
  const names = table.names.filter((name, i) => name !== target && !ID_COLUMNS.has(name) && table.columns[i] instanceof Float64Array);
  if (names.length === 0) throw new SpotmlError('INVALID_INPUT', `${tableName} has no numeric feature columns besides the target "${target}"`, {});
  return names;
}

function buildMatrix(table: Table, names: readonly string[]): Matrix {
  const data = new Float64Array(table.nRows * names.length);
  names.forEach((name, j) => {
    const column = table.columns[columnIndex(table, name)] as Float64Array;
    for (let i = 0; i < table.nRows; i++) data[i * names.length + j] = column[i];
  });
  return createMatrix(table.nRows, names.length, data);
}

/** Text or few distinct whole numbers → classification; otherwise regression. */
export function inferTask(column: ArrayLike<string | number> | Float64Array): Task {
  const values = Array.from(column as ArrayLike<string | number>);
  const numeric = values.every((v) => v === '' || (typeof v === 'number' ? true : v.trim() !== '' && Number.isFinite(Number(v))));
  if (!numeric) return 'classification';
  const numbers = values.map(Number).filter((v) => Number.isFinite(v));
  const distinct = new Set(numbers);
  return numbers.every((v) => Number.isInteger(v)) && distinct.size <= Math.max(20, Math.sqrt(numbers.length) / 2) ? 'classification' : 'regression';
}

async function makePlan(options: TrainOptions, y: Float64Array, task: Task, nClasses: number): Promise<FoldPlan> {
  if (options.foldsFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(options.foldsFile, 'utf8'));
    } catch (err) {
      throw new SpotmlError('INVALID_INPUT', `--folds ${options.foldsFile} cannot be read as JSON (${(err as Error).message})`, { flag: '--folds' });
    }
    const fold = (parsed as { fold?: unknown } | null)?.fold;
    if (!Array.isArray(fold)) throw new SpotmlError('INVALID_INPUT', `--folds ${options.foldsFile} must hold {"fold": [fold id per row]}`, { flag: '--folds' });
    return givenFolds(fold.map(Number), y.length);
  }
  if (options.holdoutFraction !== undefined) return holdout(y, task, nClasses, options.holdoutFraction, options.seed);
  if (task === 'classification') {
    const counts = new Array<number>(nClasses).fill(0);
    for (const v of y) counts[v]++;
    const smallest = Math.min(...counts);
    if (smallest < options.cv) {
      throw new SpotmlError('INVALID_INPUT', `the smallest class has ${smallest} rows, fewer than --cv ${options.cv} folds: lower --cv or add data`, { flag: '--cv' });
    }
    return stratifiedKFold(y, nClasses, options.cv, options.seed);
  }
  return kFold(y.length, options.cv, options.seed);
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

async function logTrial(store: TrackingStore, experimentId: string, parentRunId: string, trial: TrialRecord, metric: MetricName): Promise<void> {
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
