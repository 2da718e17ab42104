/**
 * Tree-ensemble prediction speed: rows/s for 1-row and 1,000-row predictProba (and predict, labels only) calls on
 *   - the serve bench's forest: random_forest, 300 fully grown trees, 20 features, 3 classes, trained on
 *     synthetic(3000, 20, 3, seed 7) as test/bench/serve.ts does (≈70.5k nodes);
 *   - gbdt, 100 iterations × 3 classes (300 trees) on the same data, early stopping off;
 *   - the same gbdt with NaN in one feature of 5% of the query rows (those rows take the missing-aware path).
 * "before" is the JS four-lane kernel the models used until the WebAssembly kernel (test/bench/tree-predict-js.ts,
 * verbatim), timed in the same process and rounds as "after"; every output of both is checked bit-identical to
 * the plain per-tree loop below.
 * Timing is process CPU time (the machine is shared); each case reports the median and best of ROUNDS rounds,
 * the implementations alternating within a round. Writes bench-results/tree-predict.json.
 * Run: npx tsx test/bench/tree-predict.ts [--rounds 15]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createMatrix, type Matrix } from '../../src/data/matrix.js';
import { randomForest } from '../../src/learners/forest.js';
import { gbdt, type GbdtModel } from '../../src/learners/gbdt/index.js';
import { argmax, type AveragedTreesModel } from '../../src/learners/tree/ensemble.js';
import { accumulateTrees, argmaxStop, compileTrees } from '../../src/learners/tree/predict.js';
import type { Tree } from '../../src/learners/tree/tree.js';
import { checkNoMissing, checkPredictInput } from '../../src/learners/validate.js';
import { accumulateTrees as jsAccumulateTrees, compileTrees as jsCompileTrees } from './tree-predict-js.js';
import { synthetic } from '../unit/serve/fixtures.js';

const args = process.argv.slice(2);
const roundsIndex = args.indexOf('--rounds');
const ROUNDS = roundsIndex >= 0 ? Number(args[roundsIndex + 1]) : 15;
const FEATURES = 20;
const CLASSES = 3;
const BATCH = 1000;

// ---------------------------------------------------------------- the plain per-tree loop (reference)

function referenceLeaf(tree: Tree, data: Float64Array, offset: number): number {
  let node = 0;
  let f = tree.feature[0];
  while (f >= 0) {
    const x = data[offset + f];
    if (x <= tree.threshold[node]) node = tree.left[node];
    else if (x !== x && tree.missingLeft[node] === 1) node = tree.left[node];
    else node = tree.right[node];
    f = tree.feature[node];
  }
  return node;
}

function referenceForestProba(model: AveragedTreesModel, X: Matrix): Matrix {
  checkPredictInput(X, model.nFeatures, model.family);
  checkNoMissing(X, model.family);
  const outputs = model.trees[0].nOutputs;
  const out = new Float64Array(X.rows * outputs);
  const scale = 1 / model.trees.length;
  for (const tree of model.trees) {
    for (let r = 0; r < X.rows; r++) {
      const leaf = referenceLeaf(tree, X.data, r * X.cols) * outputs;
      for (let k = 0; k < outputs; k++) out[r * outputs + k] += tree.value[leaf + k];
    }
  }
  for (let i = 0; i < out.length; i++) out[i] *= scale;
  return createMatrix(X.rows, outputs, out);
}

function referenceGbdtProba(model: GbdtModel, X: Matrix): Matrix {
  checkPredictInput(X, model.nFeatures, model.family);
  const K = model.treesPerIteration;
  const raw = new Float64Array(X.rows * K);
  for (let r = 0; r < X.rows; r++) for (let k = 0; k < K; k++) raw[r * K + k] = model.baseline[k];
  model.trees.forEach((tree, t) => {
    for (let r = 0; r < X.rows; r++) raw[r * K + (t % K)] += tree.value[referenceLeaf(tree, X.data, r * X.cols)];
  });
  return softmaxRows(raw, X.rows, K);
}

function softmaxRows(raw: Float64Array, rows: number, K: number): Matrix {
  const out = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, raw[r * K + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(raw[r * K + k] - max);
      out[r * K + k] = e;
      sum += e;
    }
    for (let k = 0; k < K; k++) out[r * K + k] /= sum;
  }
  return createMatrix(rows, K, out);
}

// ---------------------------------------------------------------- the previous JS kernel

function jsForestProba(model: AveragedTreesModel): (X: Matrix) => Matrix {
  const compiled = jsCompileTrees(model.trees, new Int32Array(model.trees.length));
  return (X) => {
    checkPredictInput(X, model.nFeatures, model.family);
    checkNoMissing(X, model.family);
    const outputs = compiled.leafWidth;
    const out = new Float64Array(X.rows * outputs);
    jsAccumulateTrees(compiled, X.data, X.rows, X.cols, out, outputs, false);
    const scale = 1 / model.trees.length;
    for (let i = 0; i < out.length; i++) out[i] *= scale;
    return createMatrix(X.rows, outputs, out);
  };
}

function jsGbdtProba(model: GbdtModel): (X: Matrix) => Matrix {
  const K = model.treesPerIteration;
  const compiled = jsCompileTrees(model.trees, Int32Array.from(model.trees, (_, t) => t % K));
  return (X) => {
    checkPredictInput(X, model.nFeatures, model.family);
    const raw = new Float64Array(X.rows * K);
    for (let r = 0; r < X.rows; r++) raw.set(model.baseline, r * K);
    jsAccumulateTrees(compiled, X.data, X.rows, X.cols, raw, K, true);
    return softmaxRows(raw, X.rows, K);
  };
}

// ---------------------------------------------------------------- timing

type Proba = (X: Matrix) => Matrix;

function rowsOf(X: Matrix): Matrix[] {
  return Array.from({ length: X.rows }, (_, i) => createMatrix(1, X.cols, X.data.slice(i * X.cols, (i + 1) * X.cols)));
}

function cpuMicros(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

interface ShapeResult {
  before: { medianRowsPerSecond: number; bestRowsPerSecond: number };
  after: { medianRowsPerSecond: number; bestRowsPerSecond: number };
  speedup: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Both call shapes for one model; throws if any output of either differs from the per-tree reference. */
function measure(name: string, reference: Proba, before: Proba, after: Proba, X: Matrix): Record<string, ShapeResult> {
  const singles = rowsOf(X);
  for (const [label, f] of [['the previous JS kernel', before], ['the current kernel', after]] as const) {
    if (!sameBits(reference(X).data, f(X).data)) throw new Error(`${name}: batch output of ${label} differs from the per-tree reference`);
    for (const row of singles) {
      if (!sameBits(reference(row).data, f(row).data)) throw new Error(`${name}: single-row output of ${label} differs from the per-tree reference`);
    }
  }
  const shapes: Record<string, () => Record<'before' | 'after', () => void>> = {
    singleRow: () => ({
      before: () => singles.forEach((row) => before(row)),
      after: () => singles.forEach((row) => after(row)),
    }),
    [`batch${BATCH}`]: () => ({ before: () => before(X), after: () => after(X) }),
  };
  const results: Record<string, ShapeResult> = {};
  for (const [shape, make] of Object.entries(shapes)) {
    const work = make();
    const micros: Record<'before' | 'after', number[]> = { before: [], after: [] };
    work.before();
    work.after();
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of ['before', 'after'] as const) micros[which].push(cpuMicros(work[which]));
    }
    const rate = (us: number): number => Math.round((X.rows / us) * 1e6);
    const summary = (which: 'before' | 'after') => ({ medianRowsPerSecond: rate(median(micros[which])), bestRowsPerSecond: rate(Math.min(...micros[which])) });
    results[shape] = { before: summary('before'), after: summary('after'), speedup: 0 };
    results[shape].speedup = Math.round((results[shape].after.medianRowsPerSecond / results[shape].before.medianRowsPerSecond) * 100) / 100;
    const r = results[shape];
    process.stderr.write(
      `${name.padEnd(22)} ${shape.padEnd(10)} before ${String(r.before.medianRowsPerSecond).padStart(8)} rows/s   after ${String(r.after.medianRowsPerSecond).padStart(8)} rows/s   ×${r.speedup}\n`,
    );
  }
  return results;
}

/** Each row's argmax (first of equals) as a one-column matrix. */
function argmaxMatrix(proba: Matrix): Matrix {
  const labels = new Float64Array(proba.rows);
  for (let r = 0; r < proba.rows; r++) labels[r] = argmax(proba.data, r * proba.cols, proba.cols);
  return labelMatrix(labels);
}

function labelMatrix(labels: Float64Array): Matrix {
  return createMatrix(labels.length, 1, labels);
}

/** NaN in one feature of every `every`-th row (the feature cycles), so most rows stay complete. */
function withMissing(X: Matrix, every: number): Matrix {
  const data = X.data.slice();
  for (let r = 0; r < X.rows; r += every) data[r * X.cols + (r % X.cols)] = NaN;
  return createMatrix(X.rows, X.cols, data);
}

async function main(): Promise<void> {
  const train = synthetic(3000, FEATURES, CLASSES, 7);
  const data = { X: train.X, y: train.y, task: 'classification' as const, nClasses: CLASSES };
  const forest = (await randomForest.fit(data, { n_estimators: 300 }, { seed: 7 })) as AveragedTreesModel;
  const boosted = (await gbdt.fit(data, { max_iter: 100, early_stopping: 'false' }, { seed: 7 })) as GbdtModel;
  const query = synthetic(BATCH, FEATURES, CLASSES, 99).X;
  const nodes = (trees: readonly Tree[]): number => trees.reduce((sum, t) => sum + t.nodeCount, 0);

  // Labels only (predict): the current kernel may stop a row once its argmax is settled; "before" is the JS
  // kernel's full sums and their argmax. Labels are compared exactly with the reference probabilities' argmax.
  const labelsOf = (proba: Proba): Proba => (X) => argmaxMatrix(proba(X));
  const compiled = compileTrees(forest.trees, new Int32Array(forest.trees.length));
  const walked = accumulateTrees(compiled, query.data, query.rows, query.cols, new Float64Array(query.rows * CLASSES), CLASSES, false, argmaxStop(compiled, CLASSES));
  const results = {
    random_forest: measure('random_forest 300', (X) => referenceForestProba(forest, X), jsForestProba(forest), (X) => forest.predictProba(X), query),
    randomForestLabels: {
      ...measure('random_forest labels', labelsOf((X) => referenceForestProba(forest, X)), labelsOf(jsForestProba(forest)), (X) => labelMatrix(forest.predict(X)), query),
      treesWalkedPerRow: Math.round((walked / query.rows) * 10) / 10,
    },
    gbdtLabels: measure('gbdt labels', labelsOf((X) => referenceGbdtProba(boosted, X)), labelsOf(jsGbdtProba(boosted)), (X) => labelMatrix(boosted.predict(X)), query),
    gbdt: measure('gbdt 100×3', (X) => referenceGbdtProba(boosted, X), jsGbdtProba(boosted), (X) => boosted.predictProba(X), query),
    gbdtWithMissing: measure(
      'gbdt 100×3, 5% NaN rows',
      (X) => referenceGbdtProba(boosted, X),
      jsGbdtProba(boosted),
      (X) => boosted.predictProba(X),
      withMissing(query, 20),
    ),
  };
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(
    'bench-results/tree-predict.json',
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
        setup: {
          randomForest: `300 trees (${nodes(forest.trees)} nodes), ${FEATURES} features, ${CLASSES} classes, trained on synthetic(3000) seed 7`,
          gbdt: `${boosted.iterations} iterations × ${boosted.treesPerIteration} classes (${nodes(boosted.trees)} nodes)`,
          query: `${BATCH} rows of synthetic(${BATCH}) seed 99; singleRow = ${BATCH} calls of one row, batch = one call`,
          call: 'predictProba; *Labels: predict (labels only, rows stop once their argmax is settled)',
          timing: `process CPU time, median and best of ${ROUNDS} rounds, before (previous JS kernel) / after alternating; outputs checked bit-identical to a per-tree loop`,
        },
        results,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
