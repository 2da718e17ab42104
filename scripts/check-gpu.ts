/**
 * GPU check (`npm run check:gpu`): on a machine with CUDA and @tensorflow/tfjs-node-gpu installed, trains the
 * CNN on log-mel patches of the fixtures with `--device gpu` and prints the backend, the device and the
 * training throughput. Exits non-zero when no GPU was used (the package is missing, CUDA/cuDNN do not load,
 * or libtensorflow placed the ops on the CPU), with the reason.
 *
 * Run: npx tsx scripts/check-gpu.ts [--epochs N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from '../src/api/extract.js';
import { columnIndex, readTable } from '../src/data/table.js';
import { SpotmlError } from '../src/errors.js';
import { cnn } from '../src/learners/cnn.js';
import type { EpochProgress } from '../src/learners/dl/loop.js';
import { loadFrameTable } from '../src/learners/dl/frames.js';
import { LabelEncoder } from '../src/learners/label-encoder.js';
import { backendUsesGpu, getTf } from '../src/runtime/tf.js';

const epochsAt = process.argv.indexOf('--epochs');
const EPOCHS = epochsAt > 0 ? Number(process.argv[epochsAt + 1]) : 5;

async function main(): Promise<number> {
  let runtime;
  try {
    runtime = await getTf('gpu');
  } catch (err) {
    process.stderr.write(`check:gpu FAILED: ${err instanceof SpotmlError ? err.message : String(err)}\n`);
    return 1;
  }
  const work = mkdtempSync(join(tmpdir(), 'spotml-check-gpu-'));
  try {
    const tablePath = join(work, 'features.csv');
    const framesDir = join(work, 'frames');
    await extract({ inputs: ['fixtures/audio'], out: tablePath, labels: { kind: 'dirs' }, framesDir, cache: false, settings: { features: ['melspectrogram_db'] } });
    const table = await readTable(tablePath, { stringColumns: ['label', 'path'] });
    const paths = Array.from(table.columns[columnIndex(table, 'path')] as ArrayLike<string>, String);
    const labelValues = Array.from(table.columns[columnIndex(table, 'label')] as ArrayLike<string>, String);
    const labels = LabelEncoder.fit(labelValues);
    const frames = await loadFrameTable({ framesDir, paths });
    let last: EpochProgress | undefined;
    const started = performance.now();
    await cnn.fit(
      { X: frames.X, y: labels.encode(labelValues), task: 'classification', nClasses: labels.nClasses },
      { n_bands: frames.bands, max_epochs: EPOCHS, patience: 0 },
      { seed: 0, onProgress: (p) => (last = p as EpochProgress) },
    );
    const seconds = (performance.now() - started) / 1000;
    const onGpu = backendUsesGpu(runtime.tf.backend());
    const report = {
      backend: runtime.tf.getBackend(),
      package: runtime.packageName,
      device: onGpu ? 'CUDA GPU' : 'CPU',
      description: runtime.description,
      clips: frames.X.rows,
      input: `${frames.bands} bands × ${frames.frames} frames`,
      epochs: EPOCHS,
      samplesPerSecond: last?.samplesPerSecond ?? 0,
      seconds,
    };
    console.log(JSON.stringify(report, null, 2));
    if (!onGpu) {
      process.stderr.write('check:gpu FAILED: training ran, but libtensorflow did not use a GPU\n');
      return 1;
    }
    process.stderr.write(`check:gpu OK: ${report.samplesPerSecond.toFixed(1)} samples/s on the GPU\n`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
