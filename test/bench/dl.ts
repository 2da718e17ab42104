/**
 * Training throughput (samples per second of gradient steps, validation excluded) of the deep-learning
 * families on the wasm and pure-JS CPU backends, measured in one process under one load, and the
 * wasm/cpu ratio. Writes bench-results/dl.json. Run: npx tsx test/bench/dl.ts [--epochs N]
 *
 * Workloads: the CNN on fixture-sized log-mel patches (128 bands × 44 frames, 3 blocks of 16/32/64
 * channels, batch 16); the MLP on a 4096 × 128 table (2 × 256 hidden units, batch 128).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createMatrix } from '../../src/data/matrix.js';
import { cnn } from '../../src/learners/cnn.js';
import { mlp } from '../../src/learners/mlp.js';
import { Rng } from '../../src/learners/rng.js';
import type { LearnerFamily, Params, TrainingData } from '../../src/learners/types.js';
import type { EpochProgress } from '../../src/learners/dl/loop.js';
import { getTf, type Device } from '../../src/runtime/tf.js';

const epochsArg = process.argv.indexOf('--epochs');
const EPOCHS = epochsArg > 0 ? Number(process.argv[epochsArg + 1]) : 2;

function table(rows: number, cols: number, classes: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    y[i] = i % classes;
    for (let j = 0; j < cols; j++) X[i * cols + j] = rng.normal() + (j % classes === y[i] ? 1 : 0);
  }
  return { X: createMatrix(rows, cols, X), y, task: 'classification', nClasses: classes };
}

interface Workload {
  name: string;
  family: LearnerFamily;
  data: TrainingData;
  params: Params;
}

const WORKLOADS: Workload[] = [
  { name: 'cnn 128x44 (16/32/64 ch, batch 16)', family: cnn, data: table(64, 128 * 44, 5, 1), params: { n_bands: 128, channels: 16, blocks: 3, batch_size: 16, patience: 0 } },
  { name: 'mlp 4096x128 (2x256, batch 128)', family: mlp, data: table(4096, 128, 5, 2), params: { hidden_units: 256, hidden_layers: 2, batch_size: 128, patience: 0 } },
];

async function throughput(device: Device, workload: Workload): Promise<number> {
  const runtime = await getTf(device);
  const rates: number[] = [];
  await workload.family.fit(workload.data, { ...workload.params, max_epochs: EPOCHS }, {
    seed: 1,
    onProgress: (p) => rates.push((p as EpochProgress).samplesPerSecond),
  });
  process.stderr.write(`  ${runtime.backend.padEnd(5)} ${workload.name}: ${rates[rates.length - 1].toFixed(1)} samples/s\n`);
  return rates[rates.length - 1];
}

const results: Record<string, { wasm: number; cpu: number; ratio: number }> = {};
for (const workload of WORKLOADS) {
  // Warm-up: one epoch on each backend so JIT and wasm compilation are not timed.
  for (const device of ['wasm', 'cpu'] as const) {
    await (await getTf(device)).tf.ready();
  }
  const wasm = await throughput('wasm', workload);
  const cpu = await throughput('cpu', workload);
  results[workload.name] = { wasm, cpu, ratio: wasm / cpu };
  process.stderr.write(`  ${workload.name}: wasm/cpu = ${(wasm / cpu).toFixed(2)}x\n`);
}

const wasmRuntime = await getTf('wasm');
const report = {
  generated: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
  epochs: EPOCHS,
  wasm: wasmRuntime.description,
  unit: 'training samples per second (cumulative over the run, gradient steps only)',
  results,
};
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/dl.json', `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
