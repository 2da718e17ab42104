/**
 * Fit and predict time per family against scikit-learn, measured in the same run on the same folds:
 * digits (1797 × 64, 10 classes) and a 20,000-row synthetic classification set, 5-fold. scikit-learn is
 * timed by ../shared/peers/peers.py (single thread) when Debian's python3-sklearn, -pandas and -xgboost are
 * installed; otherwise the file says so and only spotml's times are reported.
 * Each family is timed on the 5 folds once in this process (`fitCpuSeconds`/`predictCpuSeconds`/`ratio`: the first
 * pass, JIT warm-up included, as a one-shot `spotml train` pays it), then on the same folds again (`steady`:
 * compiled code, the cost of later fits in a search). `--first-pass-only` skips the second pass.
 * Writes bench-results/learners.json. Run: npx tsx test/bench/learners.ts [--first-pass-only]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeRows } from '../../src/data/matrix.js';
import { getFamily } from '../../src/learners/catalogue.js';
import { fitPipeline } from '../../src/learners/preprocess.js';
import { splitIndices } from '../../src/search/cv.js';
import { loadDataset, SHARED_DATA_DIR, syntheticClassification, type Dataset } from '../helpers/datasets.js';

/** spotml family → the scikit-learn row peers.py prints for its default. */
const PARTNERS: Record<string, string> = {
  random_forest: 'RandomForest(100)',
  extra_trees: 'ExtraTrees(100)',
  gbdt: 'HistGradientBoosting',
  logistic_regression: 'LogisticRegression+scale',
  knn: 'KNN(k=5)+scale',
  svm: 'SVC(rbf)+scale',
  decision_tree: 'DecisionTree',
  gaussian_nb: 'GaussianNB',
};

interface Timing {
  fitCpu: number;
  predictCpu: number;
  accuracy: number;
}

async function timeFamily(name: string, data: Dataset): Promise<Timing> {
  const family = getFamily(name);
  let fitCpu = 0;
  let predictCpu = 0;
  let hits = 0;
  const plan = { fold: data.fold, nFolds: data.nFolds, kind: 'given' as const };
  for (let f = 0; f < data.nFolds; f++) {
    const { train, test } = splitIndices(plan, f);
    const Xtr = takeRows(data.X, train);
    const ytr = Float64Array.from(train, (i) => data.y[i]);
    const Xte = takeRows(data.X, test);
    const c0 = process.cpuUsage();
    const model = await fitPipeline(family, { X: Xtr, y: ytr, task: 'classification', nClasses: data.nClasses }, {}, { seed: 42 });
    const c1 = process.cpuUsage(c0);
    const predicted = model.predict(Xte);
    if (model.predictProba) model.predictProba(Xte);
    const c2 = process.cpuUsage(c0);
    fitCpu += (c1.user + c1.system) / 1e6;
    predictCpu += (c2.user + c2.system - c1.user - c1.system) / 1e6;
    test.forEach((row, j) => (hits += predicted[j] === data.y[row] ? 1 : 0));
  }
  return { fitCpu, predictCpu, accuracy: hits / data.y.length };
}

function writeCsv(path: string, data: Dataset): void {
  const lines = [Array.from({ length: data.X.cols }, (_, j) => `x${j}`).concat('target').join(',')];
  for (let i = 0; i < data.X.rows; i++) lines.push([...data.X.data.subarray(i * data.X.cols, (i + 1) * data.X.cols), data.y[i]].join(','));
  writeFileSync(path, `${lines.join('\n')}\n`);
}

function sklearnTimes(dir: string, names: string[]): Record<string, Record<string, { total_cpu_s: number; accuracy: number }>> | string {
  const peers = join(SHARED_DATA_DIR, '..', 'peers', 'peers.py');
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import sklearn, pandas, xgboost'], { stdio: 'ignore' });
  } catch {
    return 'scikit-learn not measured: install python3-sklearn python3-pandas python3-xgboost';
  }
  const out = join(dir, 'peer-results');
  execFileSync('/usr/bin/python3', [peers, '--no-automl', '--only', Object.values(PARTNERS).join(';'), ...names], {
    env: { ...process.env, PEERS_DATA: dir, PEERS_OUT: out, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return Object.fromEntries(
    names.map((n) => [n, (JSON.parse(readFileSync(join(out, `${n}.partial.json`), 'utf8')) as { models: Record<string, { total_cpu_s: number; accuracy: number }> }).models]),
  );
}

async function main(): Promise<void> {
  const steadyPass = !process.argv.includes('--first-pass-only');
  const dir = mkdtempSync(join(tmpdir(), 'spotml-bench-learners-'));
  mkdirSync(join(dir, 'folds'));
  const digits = loadDataset('digits');
  copyFileSync(join(SHARED_DATA_DIR, 'digits.csv'), join(dir, 'digits.csv'));
  copyFileSync(join(SHARED_DATA_DIR, 'folds', 'digits.json'), join(dir, 'folds', 'digits.json'));
  const synthetic = syntheticClassification(20_000, 7);
  writeCsv(join(dir, 'synthetic20k.csv'), synthetic);
  writeFileSync(join(dir, 'folds', 'synthetic20k.json'), JSON.stringify({ seed: 7, n_folds: 5, fold: Array.from(synthetic.fold) }));
  const sets: [string, Dataset][] = [
    ['digits', digits],
    ['synthetic20k', synthetic],
  ];
  const rows = [];
  for (const [name, data] of sets) {
    for (const family of Object.keys(PARTNERS)) {
      const t = await timeFamily(family, data);
      const second = steadyPass ? await timeFamily(family, data) : null;
      rows.push({
        dataset: name,
        family,
        fitCpuSeconds: Number(t.fitCpu.toFixed(3)),
        predictCpuSeconds: Number(t.predictCpu.toFixed(3)),
        accuracy: Number(t.accuracy.toFixed(4)),
        ...(second && { steady: { fitCpuSeconds: Number(second.fitCpu.toFixed(3)), predictCpuSeconds: Number(second.predictCpu.toFixed(3)) } }),
      });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  }
  const peers = sklearnTimes(dir, sets.map(([n]) => n));
  const results = rows.map((r) => {
    if (typeof peers === 'string') return r;
    const partner = peers[r.dataset]?.[PARTNERS[r.family]];
    if (!partner) return r;
    const ours = r.fitCpuSeconds + r.predictCpuSeconds;
    const steady = r.steady && { ...r.steady, ratio: Number(((r.steady.fitCpuSeconds + r.steady.predictCpuSeconds) / partner.total_cpu_s).toFixed(2)) };
    return {
      ...r,
      sklearn: PARTNERS[r.family],
      sklearnCpuSeconds: Number(partner.total_cpu_s.toFixed(3)),
      sklearnAccuracy: Number(partner.accuracy.toFixed(4)),
      ratio: Number((ours / partner.total_cpu_s).toFixed(2)),
      ...(steady && { steady }),
    };
  });
  if (!existsSync('bench-results')) mkdirSync('bench-results');
  writeFileSync(
    'bench-results/learners.json',
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, note: typeof peers === 'string' ? peers : 'ratio = spotml CPU s / scikit-learn CPU s (fit+predict, 5 folds, one thread each); the top-level figures are the first pass in the process, steady the same folds again', goals: { forestsAndGbdtRatio: 1.0, anyFamilyRatio: 3.0 }, results }, null, 2)}\n`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
