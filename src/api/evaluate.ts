/**
 * `spotml evaluate`: score a model package on a table made under the model's own FeatureSpec, with the
 * full metric set, bootstrap intervals, plots, an HTML report, an optional quality gate and an optional
 * paired comparison against a baseline model on the same rows. A model that reads frame-level input
 * (the cnn) also needs the `extract --frames` folder of the data (`framesDir`). Each evaluation is logged as
 * its own tracking run (see logEvaluationRun), never into the model's training run.
 */
import { existsSync } from 'node:fs';
import { tableDataHash } from '../data/table-hash.js';
import { experimentNamed } from '../tracking/experiments.js';
import { basename, resolve } from 'node:path';
import { SpotmlError } from '../errors.js';
import { columnIndex, readTable } from '../data/table.js';
import { readFeatureSpec, specPathFor } from '../audio/feature-spec.js';
import { packageInput, readModelPackage, type ModelPackage } from '../registry/package.js';
import { computeReportMetrics, headlineMetric, type EvalInput, type EvaluationMetrics } from '../metrics/report-metrics.js';
import { compareModels, describeComparison, metricIntervals } from '../metrics/stats.js';
import { evaluateGate, gateError, parseGate, type GateResult } from '../metrics/gate.js';
import { permutationImportance, type PermutationImportanceResult } from '../metrics/importance.js';
import { accuracy } from '../metrics/classification.js';
import { r2Score } from '../metrics/regression.js';
import { renderPlots } from '../report/plots.js';
import { reportSummary, writeReport, type BaselineComparison, type ReportDocument, type WrittenReport } from '../report/html.js';
import type { Matrix } from '../data/matrix.js';
import { RunLogger, type TrackingStore } from '../tracking/store.js';
import { SPOTML_VERSION } from '../version.js';

/** Where evaluations of a model whose training run is not in the store are tracked. */
export const EVALUATE_EXPERIMENT = 'spotml-evaluate';

export interface EvaluateOptions {
  /** A model package folder (registry references are resolved by the caller). */
  modelDir: string;
  /** How the model was named (e.g. models:/birds@champion), for the report. */
  modelRef?: string;
  data: string;
  /** The folder `spotml extract --frames` wrote for `data`; needed when the model reads frames. */
  framesDir?: string;
  target?: string;
  failUnder?: string;
  baselineDir?: string;
  baselineRef?: string;
  failIfWorse?: boolean;
  reportDir: string;
  importance: boolean;
  plots: boolean;
  seed: number;
  /**
   * When given, the evaluation is logged as its own run: a child of the model's training run when that run is
   * in this store, else a run of the `spotml-evaluate` experiment. Omit it to log nothing (--no-track).
   */
  store?: TrackingStore;
}

/** The run an evaluation was logged to. */
export interface EvaluationRun {
  runId: string;
  experimentId: string;
  /** The model's training run when it is in the store (the evaluation run is its child), else null. */
  parentRunId: string | null;
}

export interface EvaluateResult {
  summary: Record<string, unknown>;
  evaluation: EvaluationMetrics;
  document: ReportDocument;
  gate: GateResult | null;
  comparison: BaselineComparison | null;
  reportPath: string;
  /** Non-null when the gate failed or the candidate is significantly worse with --fail-if-worse. */
  failure: SpotmlError | null;
  /** The evaluation's own run id (null when not tracked). */
  loggedToRun: string | null;
  run: EvaluationRun | null;
}

interface Scored {
  input: EvalInput;
  X: Matrix;
}

async function scoreOn(pkg: ModelPackage, dataPath: string, targetName: string, framesDir: string | undefined): Promise<Scored> {
  const table = await readTable(dataPath, { stringColumns: [targetName] });
  const specPath = specPathFor(dataPath);
  const tableSpec = existsSync(specPath) ? await readFeatureSpec(specPath) : null;
  const X = await packageInput(pkg, table, tableSpec, basename(dataPath), framesDir);
  const raw = table.columns[columnIndex(table, targetName)];
  const predicted = pkg.model.predict(X);
  if (pkg.document.task === 'classification') {
    const labels = pkg.labels;
    if (!labels) throw new SpotmlError('INVALID_INPUT', `${pkg.dir}: a classification model without a label map; retrain it`, {});
    const asText = Array.from(raw as ArrayLike<string | number>, (v) => String(v));
    const classes = labels.classes.map(String);
    const yTrue = asText.map((label, row) => {
      const index = classes.indexOf(label);
      if (index < 0) {
        throw new SpotmlError('INVALID_INPUT', `${dataPath}: label "${label}" in row ${row + 1} is not a class the model knows (${classes.join(', ')})`, { row });
      }
      return index;
    });
    const proba = pkg.model.predictProba ? pkg.model.predictProba(X).data : undefined;
    return { X, input: { task: 'classification', yTrue, yPred: predicted, proba, labels: classes } };
  }
  const yTrue = Float64Array.from(raw as ArrayLike<string | number>, (v) => Number(v));
  return { X, input: { task: 'regression', yTrue, yPred: predicted } };
}

export async function evaluate(options: EvaluateOptions): Promise<EvaluateResult> {
  const startTime = Date.now();
  const pkg = await readModelPackage(options.modelDir);
  const target = options.target ?? pkg.document.target;
  const { input, X } = await scoreOn(pkg, options.data, target, options.framesDir);
  const evaluation = computeReportMetrics(input);
  const headline = headlineMetric(input.task);
  const intervals = metricIntervals(input, [headline], { seed: options.seed });

  let gate: GateResult | null = null;
  if (options.failUnder) gate = evaluateGate(parseGate(options.failUnder, input.task), evaluation.metrics);

  let comparison: BaselineComparison | null = null;
  if (options.baselineDir) {
    const baselineRef = options.baselineRef ?? resolve(options.baselineDir);
    const baseline = await readModelPackage(options.baselineDir);
    if (baseline.document.task !== pkg.document.task) {
      throw new SpotmlError('INVALID_INPUT', `the baseline ${baselineRef} is a ${baseline.document.task} model but the candidate is ${pkg.document.task}`, {});
    }
    const base = await scoreOn(baseline, options.data, target, options.framesDir).catch((err: unknown) => {
      throw baselineError(err, baselineRef, options);
    });
    comparison = { baseline: baselineRef, ...compareModels(input.task, input.yTrue, input.yPred, base.input.yPred, { seed: options.seed }) };
  }

  let importance: PermutationImportanceResult | undefined;
  // Permuting each of a frame model's thousands of patch columns would cost a cnn pass apiece: skipped.
  if (options.importance && !pkg.document.frameInput) {
    importance =
      input.task === 'classification'
        ? permutationImportance({ predict: (m) => pkg.model.predict(m), X, y: input.yTrue, score: accuracy, greaterIsBetter: true, nRepeats: 3, seed: options.seed, featureNames: pkg.document.featureNames })
        : permutationImportance({ predict: (m) => pkg.model.predict(m), X, y: input.yTrue, score: r2Score, greaterIsBetter: true, nRepeats: 3, seed: options.seed, featureNames: pkg.document.featureNames });
  }

  const plots = options.plots ? await renderPlots(evaluation, importance) : [];
  const document: ReportDocument = {
    title: `Evaluation of ${options.modelRef ?? options.modelDir} on ${basename(options.data)}`,
    model: {
      reference: options.modelRef ?? resolve(options.modelDir),
      family: String((pkg.document.training.model as { family?: string } | undefined)?.family ?? pkg.document.model.family),
      task: pkg.document.task,
      trainedAt: pkg.document.createdAt,
      featureSpecHash: pkg.document.specHash ?? 'none',
    },
    data: { file: resolve(options.data), rows: X.rows, features: X.cols, target },
    evaluation,
    intervals,
    ...(gate ? { gate } : {}),
    ...(comparison ? { comparison } : {}),
    ...(importance ? { importance } : {}),
    plots,
  };
  const written = await writeReport(options.reportDir, document);

  const run = options.store ? await logEvaluationRun(options.store, pkg, options, { evaluation, comparison, gate, written, rows: X.rows, target, startTime }) : null;

  let failure: SpotmlError | null = null;
  if (gate) failure = gateError(gate);
  if (!failure && comparison && options.failIfWorse && comparison.decision === 'worse') {
    failure = new SpotmlError('QUALITY_GATE', describeComparison(comparison), { decision: comparison.decision, pValue: comparison.pValue });
  }
  return { summary: reportSummary(document), evaluation, document, gate, comparison, reportPath: written.html, failure, loggedToRun: run?.runId ?? null, run };
}

/** A FeatureSpec mismatch met while scoring the baseline is the baseline's, not the candidate's: said so. */
function baselineError(err: unknown, baselineRef: string, options: EvaluateOptions): unknown {
  if (!(err instanceof SpotmlError) || err.code !== 'FEATURE_SPEC_MISMATCH') return err;
  const expected = String(err.details.expected ?? '');
  const actual = String(err.details.actual ?? '');
  const input = options.framesDir && err.message.startsWith(options.framesDir) ? options.framesDir : basename(options.data);
  return new SpotmlError(
    'FEATURE_SPEC_MISMATCH',
    `the baseline ${baselineRef} was trained on other feature settings (specHash ${expected.slice(0, 12)}) than ${input} was extracted with (${actual.slice(0, 12)}): compare against a baseline trained on the same features as the candidate`,
    { ...err.details, model: 'baseline', baseline: baselineRef },
    { cause: err },
  );
}

interface EvaluationOutcome {
  evaluation: EvaluationMetrics;
  comparison: BaselineComparison | null;
  gate: GateResult | null;
  written: WrittenReport;
  rows: number;
  target: string;
  startTime: number;
}

/**
 * Logs one evaluation as its own run, so evaluations on different data never overwrite each other and a
 * model's training run stays as training left it. The run is a child of the training run (MLflow's nested
 * runs: `mlflow.parentRunId`, same experiment) when that run is in `store`, else a run of `spotml-evaluate`.
 */
async function logEvaluationRun(store: TrackingStore, pkg: ModelPackage, options: EvaluateOptions, outcome: EvaluationOutcome): Promise<EvaluationRun> {
  const trainingRunId = typeof pkg.document.training.runId === 'string' ? pkg.document.training.runId : null;
  const found = trainingRunId ? await store.getRun(trainingRunId).catch(notFoundAsNull) : null;
  // A deleted training run (its experiment maybe deleted too) cannot take new children.
  const parent = found?.info.lifecycleStage === 'active' ? found : null;
  const experimentId = parent ? parent.info.experimentId : await evaluateExperimentId(store);
  const dataPath = resolve(options.data);
  const tags: Record<string, string> = { 'spotml.command': 'evaluate', 'spotml.version': SPOTML_VERSION };
  if (parent) tags['mlflow.parentRunId'] = parent.info.runId;
  const created = await store.createRun({ experimentId, runName: `evaluate-${basename(options.data)}`, startTime: outcome.startTime, tags });
  const log = new RunLogger(store, created.runId);
  try {
    await log.logParams({
      data: dataPath,
      data_sha256: await tableDataHash(dataPath),
      model: options.modelRef ?? resolve(options.modelDir),
      ...(trainingRunId ? { model_run_id: trainingRunId } : {}),
      ...(outcome.comparison ? { baseline: outcome.comparison.baseline } : {}),
      ...(options.framesDir ? { frames_dir: resolve(options.framesDir) } : {}),
      target: outcome.target,
      n_rows: outcome.rows,
      seed: options.seed,
    });
    const metrics: Record<string, number> = {};
    for (const [name, value] of Object.entries(outcome.evaluation.metrics)) if (typeof value === 'number' && Number.isFinite(value)) metrics[`eval_${name}`] = value;
    const c = outcome.comparison;
    if (c) {
      metrics[`baseline_${c.metric}`] = c.baselineValue;
      metrics[`baseline_delta_${c.metric}`] = c.delta;
      if (Number.isFinite(c.pValue)) metrics.baseline_p_value = c.pValue;
    }
    await log.logMetrics(metrics);
    const written = outcome.written;
    for (const file of [written.html, written.json, ...written.plots.flatMap((p) => [p.svg, p.png])]) await store.logArtifact(created.runId, file);
    await log.setTags({
      ...(outcome.gate ? { 'spotml.gate': outcome.gate.passed ? 'passed' : 'failed' } : {}),
      ...(c ? { 'spotml.baseline_decision': c.decision } : {}),
      'mlflow.note.content': `spotml evaluate: ${options.modelRef ?? resolve(options.modelDir)} on ${dataPath}${c ? ` against baseline ${c.baseline}` : ''}`,
    });
    await store.updateRun(created.runId, 'FINISHED');
  } catch (err) {
    await store.updateRun(created.runId, 'FAILED').catch(() => undefined);
    throw err;
  }
  return { runId: created.runId, experimentId, parentRunId: parent ? parent.info.runId : null };
}

function notFoundAsNull(err: unknown): null {
  // The model may come from another store: its evaluation then goes to the spotml-evaluate experiment.
  if (err instanceof SpotmlError && err.code === 'NOT_FOUND') return null;
  throw err;
}

async function evaluateExperimentId(store: TrackingStore): Promise<string> {
  const existing = await experimentNamed(store, EVALUATE_EXPERIMENT);
  if (existing.lifecycleStage === 'deleted') {
    throw new SpotmlError('INVALID_INPUT', `the experiment "${EVALUATE_EXPERIMENT}" in ${store.location} is deleted: restore it, or pass --no-track`, { experiment: EVALUATE_EXPERIMENT });
  }
  return existing.experimentId;
}
