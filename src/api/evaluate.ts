/**
 * `spotml evaluate`: score a model package on a table made under the model's own FeatureSpec, with the
 * full metric set, bootstrap intervals, plots, an HTML report, an optional quality gate and an optional
 * paired comparison against a baseline model on the same rows. A model that reads frame-level input
 * (the cnn) also needs the `extract --frames` folder of the data (`framesDir`).
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { SpotmlError } from '../errors.js';
import { columnIndex, readTable } from '../data/table.js';
import { readFeatureSpec, specPathFor } from '../audio/feature-spec.js';
import { packageInput, readModelPackage, type ModelPackage } from '../registry/package.js';
import { computeReportMetrics, headlineMetric, type EvalInput, type EvaluationMetrics } from '../metrics/report-metrics.js';
import { compareModels, describeComparison, metricIntervals, type ComparisonResult } from '../metrics/stats.js';
import { evaluateGate, gateError, parseGate, type GateResult } from '../metrics/gate.js';
import { permutationImportance, type PermutationImportanceResult } from '../metrics/importance.js';
import { accuracy } from '../metrics/classification.js';
import { r2Score } from '../metrics/regression.js';
import { renderPlots } from '../report/plots.js';
import { reportSummary, writeReport, type ReportDocument } from '../report/html.js';
import type { Matrix } from '../data/matrix.js';
import { RunLogger, type TrackingStore } from '../tracking/store.js';

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
  /** Logs metrics and the report to the model's training run when given. */
  store?: TrackingStore;
}

export interface EvaluateResult {
  summary: Record<string, unknown>;
  evaluation: EvaluationMetrics;
  document: ReportDocument;
  gate: GateResult | null;
  comparison: ComparisonResult | null;
  reportPath: string;
  /** Non-null when the gate failed or the candidate is significantly worse with --fail-if-worse. */
  failure: SpotmlError | null;
  loggedToRun: string | null;
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
  const pkg = await readModelPackage(options.modelDir);
  const target = options.target ?? pkg.document.target;
  const { input, X } = await scoreOn(pkg, options.data, target, options.framesDir);
  const evaluation = computeReportMetrics(input);
  const headline = headlineMetric(input.task);
  const intervals = metricIntervals(input, [headline], { seed: options.seed });

  let gate: GateResult | null = null;
  if (options.failUnder) gate = evaluateGate(parseGate(options.failUnder, input.task), evaluation.metrics);

  let comparison: ComparisonResult | null = null;
  if (options.baselineDir) {
    const baseline = await readModelPackage(options.baselineDir);
    if (baseline.document.task !== pkg.document.task) {
      throw new SpotmlError('INVALID_INPUT', `the baseline is a ${baseline.document.task} model but the candidate is ${pkg.document.task}`, {});
    }
    const base = await scoreOn(baseline, options.data, target, options.framesDir);
    comparison = compareModels(input.task, input.yTrue, input.yPred, base.input.yPred, { seed: options.seed });
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

  let loggedToRun: string | null = null;
  const runId = typeof pkg.document.training.runId === 'string' ? pkg.document.training.runId : null;
  if (options.store && runId) {
    try {
      const metrics: Record<string, number> = {};
      for (const [name, value] of Object.entries(evaluation.metrics)) if (typeof value === 'number' && Number.isFinite(value)) metrics[`eval_${name}`] = value;
      await new RunLogger(options.store, runId).logMetrics(metrics);
      await options.store.logArtifact(runId, options.reportDir, `evaluation/${basename(options.data).replace(/[^\w.-]/g, '_')}`);
      loggedToRun = runId;
    } catch (err) {
      // The model may come from another store; evaluation results stay on disk either way.
      if (!(err instanceof SpotmlError) || err.code !== 'NOT_FOUND') throw err;
    }
  }

  let failure: SpotmlError | null = null;
  if (gate) failure = gateError(gate);
  if (!failure && comparison && options.failIfWorse && comparison.decision === 'worse') {
    failure = new SpotmlError('QUALITY_GATE', describeComparison(comparison), { decision: comparison.decision, pValue: comparison.pValue });
  }
  return { summary: reportSummary(document), evaluation, document, gate, comparison, reportPath: written.html, failure, loggedToRun };
}
