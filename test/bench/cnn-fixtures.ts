/**
 * The fixtures' instrument task (80 clips, 5 classes) two ways, on the same stratified 5 folds:
 * - the CNN on frame-level log-mel patches (`extract --frames`, melspectrogram_db, 128 bands × the longest
 *   clip's frames), cross-validated with the search's own crossValidate;
 * - the best summary-feature model `train --auto-optimize` finds on the extracted table (given the same folds).
 * Writes bench-results/cnn-fixtures.json. Run: npx tsx test/bench/cnn-fixtures.ts [--budget SECONDS] [--device wasm|cpu]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from '../../src/api/extract.js';
import { train } from '../../src/api/train.js';
import { readTable, columnIndex } from '../../src/data/table.js';
import { cnn } from '../../src/learners/cnn.js';
import { loadFrameTable } from '../../src/learners/dl/frames.js';
import { LabelEncoder } from '../../src/learners/label-encoder.js';
import type { Params } from '../../src/learners/types.js';
import { crossValidate } from '../../src/search/crossval.js';
import { stratifiedKFold } from '../../src/search/cv.js';
import { FileStore } from '../../src/tracking/file-store/index.js';
import { getTf, parseDevice } from '../../src/runtime/tf.js';

const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const BUDGET = Number(arg('--budget', '120'));
const SEED = 0;
const FOLDS = 5;
const CNN_PARAMS: Params = { n_bands: 128, channels: 16, blocks: 3, max_epochs: 60, patience: 12, batch_size: 16 };

const work = mkdtempSync(join(tmpdir(), 'spotml-cnn-fixtures-'));
try {
  const runtime = await getTf(parseDevice(arg('--device', 'auto')));
  process.stderr.write(`${runtime.description}\n`);

  // 1. Summary features and frame matrices in one extract run.
  const tablePath = join(work, 'features.csv');
  const framesDir = join(work, 'frames');
  await extract({ inputs: ['fixtures/audio'], out: tablePath, labels: { kind: 'dirs' }, framesDir, cache: false, jobs: 2 });
  const table = await readTable(tablePath, { stringColumns: ['label', 'path'] });
  const paths = Array.from(table.columns[columnIndex(table, 'path')] as ArrayLike<string>, String);
  const labelValues = Array.from(table.columns[columnIndex(table, 'label')] as ArrayLike<string>, String);
  const labels = LabelEncoder.fit(labelValues);
  const y = labels.encode(labelValues);
  const plan = stratifiedKFold(y, labels.nClasses, FOLDS, SEED);
  const foldsFile = join(work, 'folds.json');
  writeFileSync(foldsFile, JSON.stringify({ fold: Array.from(plan.fold) }));

  // 2. The CNN on log-mel patches.
  const frames = await loadFrameTable({ framesDir, paths });
  process.stderr.write(`frames: ${frames.X.rows} clips × ${frames.bands} bands × ${frames.frames} frames\n`);
  const started = performance.now();
  const cv = await crossValidate(cnn, { ...CNN_PARAMS, n_bands: frames.bands }, {
    X: frames.X,
    y,
    task: 'classification',
    nClasses: labels.nClasses,
    plan,
    metric: 'accuracy',
    seed: SEED,
  });
  const cnnSeconds = (performance.now() - started) / 1000;
  process.stderr.write(`cnn 5-fold accuracy ${cv.score.toFixed(3)} (${cv.foldScores.map((s) => s.toFixed(2)).join(', ')}) in ${cnnSeconds.toFixed(0)} s\n`);

  // 3. The best summary-feature model from train --auto-optimize, same folds.
  const result = await train({
    table: tablePath,
    target: 'label',
    autoOptimize: true,
    timeBudget: BUDGET,
    cv: FOLDS,
    foldsFile,
    seed: SEED,
    jobs: 1,
    out: join(work, 'model'),
    experiment: 'cnn-fixtures',
    store: new FileStore(join(work, 'mlruns')),
    ensemble: true,
    metric: 'accuracy',
  });
  const bestSingle = result.leaderboard[0];
  process.stderr.write(`summary features: shipped ${result.model.family} cv accuracy ${result.score.toFixed(3)}; best single ${bestSingle.family} ${bestSingle.score.toFixed(3)}\n`);

  const report = {
    generated: new Date().toISOString(),
    task: 'fixtures/audio instrument classification (80 clips, 5 classes), stratified 5-fold (seed 0), accuracy',
    backend: runtime.description,
    cnn: {
      input: `melspectrogram_db, ${frames.bands} bands × ${frames.frames} frames (shorter clips padded with their floor)`,
      params: { ...CNN_PARAMS, n_bands: frames.bands },
      accuracy: cv.score,
      foldAccuracy: cv.foldScores,
      seconds: cnnSeconds,
    },
    summaryFeatures: {
      budgetSeconds: BUDGET,
      shipped: { kind: result.model.kind, family: result.model.family, accuracy: result.score },
      bestSingle: { family: bestSingle.family, params: bestSingle.params, accuracy: bestSingle.score },
      trials: result.trials,
      features: table.names.length - 2,
    },
  };
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/cnn-fixtures.json', `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}
