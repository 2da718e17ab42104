/**
 * svm timings and scores: 5-fold CV (shared folds) fit+predict CPU seconds through the training pipeline
 * (StandardScaler → svm, as the peers' SVC(rbf)+scale / SVR(rbf)+scale), pooled accuracy or R² as the
 * accuracy test scores it, for every shared data set, plus one 6,000 × 20 synthetic binary set whose kernel
 * matrix outgrows a small cache. When Debian's python3-sklearn is installed, scikit-learn does the same work
 * single-threaded in the same run, and the share of test rows where both predict the same is reported.
 * Times are the best of --repeat runs (default 3) per side; our first, JIT-cold run is printed too.
 * Run: npx tsx test/bench/svm.ts [--no-sklearn] [--repeat N]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fitPipeline } from '../../src/learners/preprocess.js';
import { svm } from '../../src/learners/svm.js';
import { createMatrix } from '../../src/data/matrix.js';
import { Rng } from '../../src/learners/rng.js';
import { accuracy, loadDataset, r2Score, splitFold, type Dataset } from '../helpers/datasets.js';

/** Two overlapping Gaussian classes on 20 features with 5% label noise: many support vectors, a big kernel matrix. */
function syntheticBinary(rows: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const p = 20;
  const data = new Float64Array(rows * p);
  const y = new Float64Array(rows);
  const fold = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = rng.int(2);
    for (let j = 0; j < p; j++) data[i * p + j] = rng.normal() + (j < 8 && label === 1 ? 0.6 : 0);
    y[i] = rng.next() < 0.05 ? 1 - label : label;
    fold[i] = i % 5;
  }
  return { name: 'synthetic', task: 'classification', X: createMatrix(rows, p, data), y, nClasses: 2, fold, nFolds: 5 };
}

interface Run {
  cpu: number;
  wall: number;
  score: number;
  predicted: number[];
}

async function timeOurs(dataset: Dataset, folds: readonly number[]): Promise<Run> {
  const prepared = folds.map((k) => ({ k, ...splitFold(dataset, k) }));
  const predicted = new Float64Array(dataset.y.length);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const foldPredictions: Float64Array[] = [];
  for (const { k, train, testX } of prepared) {
    const model = await fitPipeline(svm, train, {}, { seed: k });
    foldPredictions.push(model.predict(testX));
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - wall0) / 1000;
  const rows: number[] = [];
  for (const [f, { k }] of prepared.entries()) {
    let next = 0;
    for (let i = 0; i < dataset.y.length; i++) if (dataset.fold[i] === k) predicted[i] = foldPredictions[f][next++];
  }
  for (let i = 0; i < dataset.y.length; i++) if (folds.includes(dataset.fold[i])) rows.push(i);
  const truth = Float64Array.from(rows, (i) => dataset.y[i]);
  const mine = Float64Array.from(rows, (i) => predicted[i]);
  const score = dataset.task === 'regression' ? r2Score(truth, mine) : accuracy(truth, mine);
  return { cpu: (cpu.user + cpu.system) / 1e6, wall, score, predicted: Array.from(mine) };
}

/** Same folds, same pooled scoring; predictions in the same row order as timeOurs. */
const SKLEARN_SCRIPT = `
import sys, time, json
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.metrics import accuracy_score, r2_score
csv, folds_json, task, folds_to_run = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
data = np.genfromtxt(csv, delimiter=',', skip_header=1)
X, y = data[:, :-1], data[:, -1]
fold = np.array(json.load(open(folds_json))['fold'])
make = (lambda: make_pipeline(StandardScaler(), SVC(kernel='rbf', C=1.0, gamma='scale'))) if task == 'classification' else (lambda: make_pipeline(StandardScaler(), SVR(kernel='rbf', C=1.0, gamma='scale')))
pred = np.zeros(len(y))
c0, t0 = time.process_time(), time.perf_counter()
for k in folds_to_run:
    tr, te = fold != k, fold == k
    pred[te] = make().fit(X[tr], y[tr]).predict(X[te])
cpu, wall = time.process_time() - c0, time.perf_counter() - t0
rows = np.isin(fold, folds_to_run)
score = accuracy_score(y[rows], pred[rows]) if task == 'classification' else r2_score(y[rows], pred[rows])
print(json.dumps({'cpu': cpu, 'wall': wall, 'score': float(score), 'predicted': pred[rows].tolist()}))
`;

function sklearnAvailable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import sklearn'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function timeSklearn(dataset: Dataset, files: { csv: string; folds: string }, folds: readonly number[]): Run {
  const out = execFileSync('/usr/bin/python3', ['-c', SKLEARN_SCRIPT, files.csv, files.folds, dataset.task, JSON.stringify(folds)], {
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as Run;
}

/** Class labels are written as indices so both sides see the same classes. */
function writeCsv(dataset: Dataset, dir: string): { csv: string; folds: string } {
  const { X, y } = dataset;
  const lines = [[...Array.from({ length: X.cols }, (_, j) => `x${j}`), 'target'].join(',')];
  for (let i = 0; i < X.rows; i++) lines.push([...X.data.subarray(i * X.cols, (i + 1) * X.cols), y[i]].join(','));
  const csv = path.join(dir, `${dataset.name}.csv`);
  const folds = path.join(dir, `${dataset.name}.folds.json`);
  writeFileSync(csv, lines.join('\n'));
  writeFileSync(folds, JSON.stringify({ fold: Array.from(dataset.fold) }));
  return { csv, folds };
}

function agreement(a: readonly number[], b: readonly number[], regression: boolean): string {
  if (regression) {
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    return `max |Δ| ${worst.toExponential(1)}`;
  }
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return `${same}/${a.length} same`;
}

async function main(): Promise<void> {
  const withSklearn = !process.argv.includes('--no-sklearn') && sklearnAvailable();
  const repeatAt = process.argv.indexOf('--repeat');
  const repeat = repeatAt > 0 ? Number(process.argv[repeatAt + 1]) : 3;
  const dir = mkdtempSync(path.join(tmpdir(), 'spotml-svm-bench-'));
  try {
    const runs: [Dataset, readonly number[]][] = [
      ...['iris', 'wine', 'breast_cancer', 'digits', 'diabetes'].map((name): [Dataset, readonly number[]] => [loadDataset(name), [0, 1, 2, 3, 4]]),
      [syntheticBinary(6_000, 11), [0]],
    ];
    console.log(`best of ${repeat} runs; cpu seconds for all listed folds, fit+predict, one thread`);
    console.log(`dataset        folds  ours cpu s (wall)   score   ${withSklearn ? 'sklearn cpu s (wall)   score   ratio(cpu)  predictions' : ''}`);
    const coldRuns: string[] = [];
    for (const [dataset, folds] of runs) {
      const files = writeCsv(dataset, dir);
      let ours: Run | undefined;
      let first = 0;
      for (let r = 0; r < repeat; r++) {
        const run = await timeOurs(dataset, folds);
        if (r === 0) first = run.cpu;
        if (!ours || run.cpu < ours.cpu) ours = run;
      }
      const best = ours as Run;
      coldRuns.push(`${dataset.name} ${first.toFixed(3)}`);
      let line = `${dataset.name.padEnd(14)} ${String(folds.length).padStart(5)}  ${best.cpu.toFixed(3).padStart(6)} (${best.wall.toFixed(3).padStart(6)})   ${best.score.toFixed(4)}`;
      if (withSklearn) {
        let theirs: Run | undefined;
        for (let r = 0; r < repeat; r++) {
          const run = timeSklearn(dataset, files, folds);
          if (!theirs || run.cpu < theirs.cpu) theirs = run;
        }
        const other = theirs as Run;
        line += `   ${other.cpu.toFixed(3).padStart(6)} (${other.wall.toFixed(3).padStart(6)})      ${other.score.toFixed(4)}  ${(best.cpu / other.cpu).toFixed(2).padStart(6)}      ${agreement(best.predicted, other.predicted, dataset.task === 'regression')}`;
      }
      console.log(line);
    }
    console.log(`first run of each (includes JIT warm-up), ours cpu s: ${coldRuns.join(', ')}`);
    if (!withSklearn) console.log('(scikit-learn not found: apt-get install python3-sklearn to time it in the same run)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
