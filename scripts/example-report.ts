/**
 * Builds an example evaluation report from a deterministic synthetic data set, so the plots and the HTML page
 * can be looked at (and regenerated) without a trained model:
 *
 *   npx tsx scripts/example-report.ts [outDir]
 *
 * Classification: five instrument classes, eight feature columns of which four carry class signal, a
 * nearest-centroid "model" with softmax probabilities, compared against a weaker baseline that sees only two
 * columns. Regression: a linear target with noise and a slightly biased predictor. The full reports go to
 * `outDir` (default out/example-report); the PNGs are copied to docs/report/ for the documentation.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Chalk } from 'chalk';
import { createMatrix, type Matrix } from '../src/data/matrix.js';
import { Rng, hashSeed } from '../src/learners/rng.js';
import { evaluateGate, parseGate } from '../src/metrics/gate.js';
import { permutationImportance } from '../src/metrics/importance.js';
import { computeReportMetrics, headlineMetric, reportMetric } from '../src/metrics/report-metrics.js';
import { compareModels, metricIntervals } from '../src/metrics/stats.js';
import { writeReport } from '../src/report/html.js';
import { renderPlots } from '../src/report/plots.js';
import { formatEvaluationSummary } from '../src/report/terminal.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SEED = 7;
const LABELS = ['brass', 'guitar', 'piano', 'strings', 'woodwind'];
const FEATURES = ['mfcc_1_mean', 'mfcc_2_mean', 'spectral_centroid_mean', 'spectral_rolloff_mean', 'zcr_mean', 'rms_mean', 'chroma_3_mean', 'tempo'];
/** Columns 0-3 carry class signal, with decreasing strength; 4-7 are noise. */
const SIGNAL = [1.6, 1.2, 0.9, 0.6, 0, 0, 0, 0];

interface ClassificationData {
  X: Matrix;
  y: Float64Array;
}

function makeClassificationData(n: number, seed: number): ClassificationData {
  const k = LABELS.length;
  const d = FEATURES.length;
  // Class centres on one fixed random layout shared by train and test; each row is its centre plus unit noise.
  const layout = new Rng(hashSeed(SEED, 'example', 'centres'));
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, (_, j) => layout.normal() * SIGNAL[j]));
  const rng = new Rng(hashSeed(seed, 'example', 'rows'));
  const X = new Float64Array(n * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // Unequal class sizes make weighted and macro averages differ, as in real data.
    const u = rng.next();
    const c = u < 0.3 ? 0 : u < 0.5 ? 1 : u < 0.7 ? 2 : u < 0.88 ? 3 : 4;
    y[i] = c;
    for (let j = 0; j < d; j++) X[i * d + j] = centres[c][j] + rng.normal();
  }
  return { X: createMatrix(n, d, X), y };
}

/** Nearest centroid over the given columns, probabilities by a softmax of negative squared distances. */
function nearestCentroid(train: ClassificationData, columns: readonly number[]): { predict(X: Matrix): Float64Array; predictProba(X: Matrix): Float64Array } {
  const k = LABELS.length;
  const d = train.X.cols;
  const centres = Array.from({ length: k }, () => new Float64Array(d));
  const counts = new Float64Array(k);
  for (let i = 0; i < train.X.rows; i++) {
    const c = train.y[i];
    counts[c]++;
    for (let j = 0; j < d; j++) centres[c][j] += train.X.data[i * d + j];
  }
  centres.forEach((centre, c) => centre.forEach((_, j) => (centre[j] /= counts[c])));
  const predictProba = (X: Matrix): Float64Array => {
    const out = new Float64Array(X.rows * k);
    for (let i = 0; i < X.rows; i++) {
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        let dist = 0;
        for (const j of columns) dist += (X.data[i * d + j] - centres[c][j]) ** 2;
        out[i * k + c] = -0.5 * dist;
        max = Math.max(max, out[i * k + c]);
      }
      let sum = 0;
      for (let c = 0; c < k; c++) sum += out[i * k + c] = Math.exp(out[i * k + c] - max);
      for (let c = 0; c < k; c++) out[i * k + c] /= sum;
    }
    return out;
  };
  const predict = (X: Matrix): Float64Array => {
    const proba = predictProba(X);
    const out = new Float64Array(X.rows);
    for (let i = 0; i < X.rows; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (proba[i * k + c] > proba[i * k + best]) best = c;
      out[i] = best;
    }
    return out;
  };
  return { predict, predictProba };
}

async function classificationReport(outDir: string): Promise<string[]> {
  const train = makeClassificationData(800, SEED);
  const test = makeClassificationData(600, SEED + 1);
  const all = FEATURES.map((_, j) => j);
  const model = nearestCentroid(train, all);
  const baseline = nearestCentroid(train, [2, 3]);
  const yPred = model.predict(test.X);
  const input = { task: 'classification' as const, yTrue: test.y, yPred, proba: model.predictProba(test.X), labels: LABELS };
  const evaluation = computeReportMetrics(input);
  const intervals = metricIntervals(input, ['accuracy', 'f1_macro', 'balanced_accuracy', 'roc_auc'], { seed: SEED });
  const gate = evaluateGate(parseGate('accuracy=0.75,f1_macro=0.75', 'classification'), evaluation.metrics);
  const comparison = compareModels('classification', test.y, yPred, baseline.predict(test.X), { seed: SEED });
  const f1 = reportMetric('f1_macro');
  const importance = permutationImportance({
    predict: (X) => model.predict(X),
    X: test.X,
    y: test.y,
    score: (yTrue, predicted) => f1?.compute(yTrue, predicted, undefined, LABELS.length) ?? Number.NaN,
    greaterIsBetter: true,
    nRepeats: 5,
    seed: SEED,
    featureNames: FEATURES,
  });
  const plots = await renderPlots(evaluation, importance);
  const doc = {
    title: 'Example evaluation: instrument classifier (synthetic)',
    generatedAt: '2025-01-01T00:00:00.000Z',
    model: { family: 'nearest-centroid (example)', features: FEATURES.length, seed: SEED },
    data: { source: 'synthetic, scripts/example-report.ts', rows: test.y.length, classes: LABELS.join(', ') },
    evaluation,
    intervals,
    gate,
    comparison,
    importance,
    plots,
  };
  const written = await writeReport(outDir, doc);
  process.stdout.write(`${formatEvaluationSummary({ evaluation, intervals, gate, comparison, reportPath: written.html }, new Chalk({ level: process.stdout.isTTY ? 1 : 0 }))}\n\n`);
  return written.plots.map((p) => p.png);
}

async function regressionReport(outDir: string): Promise<string[]> {
  const rng = new Rng(hashSeed(SEED, 'example', 'regression'));
  const n = 300;
  const yTrue = new Float64Array(n);
  const yPred = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = rng.next() * 10;
    yTrue[i] = 3 + 2 * x + rng.normal() * 1.5;
    // A predictor that under-reacts at the extremes: a visible pattern in the residuals.
    yPred[i] = 3 + 2 * (5 + (x - 5) * 0.85) + rng.normal() * 0.5;
  }
  const input = { task: 'regression' as const, yTrue, yPred };
  const evaluation = computeReportMetrics(input);
  const intervals = metricIntervals(input, [headlineMetric('regression'), 'rmse'], { seed: SEED });
  const plots = await renderPlots(evaluation);
  const written = await writeReport(outDir, {
    title: 'Example evaluation: regression (synthetic)',
    generatedAt: '2025-01-01T00:00:00.000Z',
    model: { family: 'linear (example)' },
    data: { source: 'synthetic, scripts/example-report.ts', rows: n },
    evaluation,
    intervals,
    plots,
  });
  process.stdout.write(`${formatEvaluationSummary({ evaluation, intervals, reportPath: written.html }, new Chalk({ level: process.stdout.isTTY ? 1 : 0 }))}\n`);
  return written.plots.map((p) => p.png);
}

async function main(): Promise<void> {
  const outDir = resolve(process.argv[2] ?? join(ROOT, 'out', 'example-report'));
  const docsDir = join(ROOT, 'docs', 'report');
  await mkdir(docsDir, { recursive: true });
  const pngs = [...(await classificationReport(join(outDir, 'classification'))), ...(await regressionReport(join(outDir, 'regression')))];
  for (const png of pngs) await copyFile(png, join(docsDir, png.slice(png.lastIndexOf('/') + 1)));
  process.stdout.write(`\nwrote ${pngs.length} PNGs to ${docsDir}\n`);
}

await main();
