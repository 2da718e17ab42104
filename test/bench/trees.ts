/**
 * Tree-family timings: fit+predict CPU seconds for decision_tree, random_forest, extra_trees and gbdt on
 * digits (5-fold CV with the shared folds) and on a 20,000 × 20 synthetic classification set (one 80/20 split).
 * When Debian's python3-sklearn is installed, the same work is timed for scikit-learn (single thread) in the
 * same run, so the ratio is measured on one machine under one load. Run: npx tsx test/bench/trees.ts [--no-sklearn]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decisionTree } from '../../src/learners/decision-tree.js';
import { extraTrees, randomForest } from '../../src/learners/forest.js';
import { gbdt } from '../../src/learners/gbdt/index.js';
import type { LearnerFamily } from '../../src/learners/types.js';
import { SHARED_DATA_DIR, accuracy, loadDataset, splitFold, syntheticClassification, type Dataset } from '../helpers/datasets.js';

const FAMILIES: readonly [LearnerFamily, string][] = [
  [decisionTree, 'dt'],
  [randomForest, 'rf'],
  [extraTrees, 'et'],
  [gbdt, 'hgb'],
];


interface Timing {
  cpu: number;
  wall: number;
  score: number;
}

async function timeOurs(family: LearnerFamily, dataset: Dataset, folds: readonly number[]): Promise<Timing> {
  const prepared = folds.map((k) => splitFold(dataset, k));
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let score = 0;
  for (const [i, { train, testX, testY }] of prepared.entries()) {
    const model = await family.fit(train, {}, { seed: folds[i] });
    score += accuracy(testY, model.predict(testX));
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpu: (cpu.user + cpu.system) / 1e6, wall: (performance.now() - wall0) / 1000, score: score / folds.length };
}

const SKLEARN_SCRIPT = `
import sys, time, json
import numpy as np
from sklearn.tree import DecisionTreeClassifier
from sklearn.ensemble import RandomForestClassifier, ExtraTreesClassifier, HistGradientBoostingClassifier
csv, folds_json, which, folds_to_run = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
data = np.genfromtxt(csv, delimiter=',', skip_header=1)
X, y = data[:, :-1], data[:, -1]
fold = np.array(json.load(open(folds_json))['fold'])
make = {'dt': lambda: DecisionTreeClassifier(random_state=0), 'rf': lambda: RandomForestClassifier(100, n_jobs=1, random_state=0),
        'et': lambda: ExtraTreesClassifier(100, n_jobs=1, random_state=0), 'hgb': lambda: HistGradientBoostingClassifier(random_state=0)}[which]
c0, t0, acc = time.process_time(), time.perf_counter(), []
for k in folds_to_run:
    tr, te = fold != k, fold == k
    acc.append((make().fit(X[tr], y[tr]).predict(X[te]) == y[te]).mean())
print(json.dumps({'cpu': time.process_time() - c0, 'wall': time.perf_counter() - t0, 'score': float(np.mean(acc))}))
`;

function sklearnAvailable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import sklearn'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function timeSklearn(which: string, csv: string, foldsJson: string, folds: readonly number[]): Timing {
  const out = execFileSync('/usr/bin/python3', ['-c', SKLEARN_SCRIPT, csv, foldsJson, which, JSON.stringify(folds)], {
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as Timing;
}

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

async function main(): Promise<void> {
  const withSklearn = !process.argv.includes('--no-sklearn') && sklearnAvailable();
  const dir = mkdtempSync(path.join(tmpdir(), 'spotml-trees-bench-'));
  try {
    const digits = loadDataset('digits');
    const runs: [Dataset, readonly number[], { csv: string; folds: string }][] = [
      [digits, [0, 1, 2, 3, 4], { csv: '', folds: path.join(SHARED_DATA_DIR, 'folds', 'digits.json') }],
      [syntheticClassification(20_000, 7), [0], { csv: '', folds: '' }],
    ];
    for (const run of runs) run[2] = { ...writeCsv(run[0], dir), ...(run[0].name === 'digits' ? { folds: run[2].folds } : {}) };
    console.log(`dataset    family          ours cpu s (wall)   acc     ${withSklearn ? 'sklearn cpu s (wall)   acc     ratio(cpu)' : ''}`);
    for (const [dataset, folds, files] of runs) {
      for (const [family, key] of FAMILIES) {
        const ours = await timeOurs(family, dataset, folds);
        let line = `${dataset.name.padEnd(10)} ${family.name.padEnd(15)} ${ours.cpu.toFixed(2).padStart(6)} (${ours.wall.toFixed(2).padStart(6)})   ${ours.score.toFixed(4)}`;
        if (withSklearn) {
          const theirs = timeSklearn(key, files.csv, files.folds, folds);
          line += `   ${theirs.cpu.toFixed(2).padStart(6)} (${theirs.wall.toFixed(2).padStart(6)})      ${theirs.score.toFixed(4)}  ${(ours.cpu / theirs.cpu).toFixed(2)}`;
        }
        console.log(line);
      }
    }
    if (!withSklearn) console.log('(scikit-learn not found: apt-get install python3-sklearn to time it in the same run)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
