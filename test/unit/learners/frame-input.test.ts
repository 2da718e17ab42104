/**
 * Frame-level input beside summary features: the input slice wrapper and a mixed ensemble against a
 * hand-computed average of its members on their own inputs, the package round trip with `frameInput`
 * (packageInput loads the patches by path and joins them to the features), the executor's input routing,
 * and per-epoch metrics landing in an MLflow file store as `timestamp value step` lines.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { makeTable } from '../../../src/data/table.js';
import { framesFolder, npyFloat32 } from '../../../src/audio/extract.js';
import { cnn } from '../../../src/learners/cnn.js';
import { gaussianNb } from '../../../src/learners/naive-bayes.js';
import { EnsembleModel, loadAnyModel } from '../../../src/learners/ensemble.js';
import { concatColumns, InputSliceModel } from '../../../src/learners/dl/frame-input.js';
import { epochReporter, logEpochs, type EpochRecord } from '../../../src/learners/dl/progress.js';
import { fitPipeline } from '../../../src/learners/preprocess.js';
import { Rng } from '../../../src/learners/rng.js';
import type { SerializedModel } from '../../../src/learners/types.js';
import { LabelEncoder } from '../../../src/learners/label-encoder.js';
import { packageInput, readModelPackage, writeModelPackage } from '../../../src/registry/package.js';
import { familyInput, type SearchData } from '../../../src/search/executor.js';
import { composeModel } from '../../../src/api/train.js';
import { FileStore } from '../../../src/tracking/file-store/index.js';
import { SpotmlError } from '../../../src/errors.js';

const BANDS = 4;
const FRAMES = 6;
const ROWS = 18;
const CLASSES = 3;

/** Patches (class decides which band is loud) and two summary features (noisy class means), same rows. */
function data(seed: number): { frames: Matrix; features: Matrix; y: Float64Array } {
  const rng = new Rng(seed);
  const cols = BANDS * FRAMES;
  const frames = new Float64Array(ROWS * cols);
  const features = new Float64Array(ROWS * 2);
  const y = new Float64Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    const label = i % CLASSES;
    y[i] = label;
    for (let b = 0; b < BANDS; b++) for (let t = 0; t < FRAMES; t++) frames[i * cols + b * FRAMES + t] = -50 + 4 * rng.normal() + (b % CLASSES === label ? 15 : 0);
    features[i * 2] = label + 0.3 * rng.normal();
    features[i * 2 + 1] = rng.normal();
  }
  return { frames: createMatrix(ROWS, cols, frames), features: createMatrix(ROWS, 2, features), y };
}

const CNN_PARAMS = { n_bands: BANDS, channels: 2, blocks: 1, max_epochs: 3, patience: 0 };

describe('frame input beside summary features', () => {
  it('a mixed ensemble of input slices averages each member on its own columns, and survives save/load', async () => {
    const { frames, features, y } = data(3);
    const convnet = await fitPipeline(cnn, { X: frames, y, task: 'classification', nClasses: CLASSES }, CNN_PARAMS, { seed: 1 });
    const bayes = await fitPipeline(gaussianNb, { X: features, y, task: 'classification', nClasses: CLASSES }, {}, { seed: 1 });
    const combined = concatColumns(features, frames);
    expect(combined.cols).toBe(2 + BANDS * FRAMES);
    const ensemble = new EnsembleModel(
      [new InputSliceModel(bayes, 'features', 0, combined.cols), new InputSliceModel(convnet, 'frames', 2, combined.cols)],
      [0.25, 0.75],
    );
    const proba = ensemble.predictProba!(combined).data;
    const fromBayes = bayes.predictProba!(features).data;
    const fromCnn = convnet.predictProba!(frames).data;
    for (let i = 0; i < proba.length; i++) expect(proba[i]).toBeCloseTo(0.25 * fromBayes[i] + 0.75 * fromCnn[i], 12);

    const reloaded = loadAnyModel(JSON.parse(JSON.stringify(ensemble.toJSON())) as SerializedModel);
    expect(Array.from(reloaded.predictProba!(combined).data)).toEqual(Array.from(proba));
    // The slice checks the full row width it was built for.
    expect(() => reloaded.predict(features)).toThrow(SpotmlError);
  });

  it('a package records its frame input, refuses to score without the frames and loads them by path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotml-frame-input-'));
    const { frames, features, y } = data(4);
    const convnet = await fitPipeline(cnn, { X: frames, y, task: 'classification', nClasses: CLASSES }, CNN_PARAMS, { seed: 2 });
    const bayes = await fitPipeline(gaussianNb, { X: features, y, task: 'classification', nClasses: CLASSES }, {}, { seed: 2 });
    const width = 2 + BANDS * FRAMES;
    const model = new EnsembleModel([new InputSliceModel(bayes, 'features', 0, width), new InputSliceModel(convnet, 'frames', 2, width)], [0.5, 0.5]);
    const labels = LabelEncoder.fit(Array.from(y, (v) => `c${v}`));
    const frameInput = { feature: 'melspectrogram_db', n_bands: BANDS, frames: FRAMES };
    await writeModelPackage({
      dir: join(dir, 'model'),
      task: 'classification',
      target: 'label',
      model,
      labels,
      featureNames: ['f0', 'f1'],
      frameInput,
      spec: null,
      dataHash: null,
      metrics: {},
      training: {},
    });
    expect(await readFile(join(dir, 'model', 'MLmodel'), 'utf8')).toMatch(/frame_input:\n\s+feature: melspectrogram_db\n\s+frames: 6\n\s+n_bands: 4/);

    // Frames as extract --frames writes them; the last clip is one frame longer (cropped back to the model's 6).
    const framesDir = join(dir, 'frames');
    const paths = Array.from({ length: ROWS }, (_, i) => `clips/c${y[i]}/clip_${i}.wav`);
    for (const [i, path] of paths.entries()) {
      const long = i === ROWS - 1 ? 1 : 0;
      const matrix = new Float32Array(BANDS * (FRAMES + long));
      for (let b = 0; b < BANDS; b++) for (let t = 0; t < FRAMES + long; t++) matrix[b * (FRAMES + long) + t] = t < FRAMES ? frames.data[i * BANDS * FRAMES + b * FRAMES + t] : 99;
      const folder = framesFolder(framesDir, path, null);
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, 'melspectrogram_db.npy'), npyFloat32({ rows: BANDS, frames: FRAMES + long, data: matrix }));
    }
    const table = makeTable(['path', 'f0', 'f1'], [paths, Float64Array.from({ length: ROWS }, (_, i) => features.data[2 * i]), Float64Array.from({ length: ROWS }, (_, i) => features.data[2 * i + 1])]);

    const pkg = await readModelPackage(join(dir, 'model'));
    expect(pkg.document.frameInput).toEqual(frameInput);
    await expect(packageInput(pkg, table, null, 'table.csv')).rejects.toThrow(/reads frame-level input .* pass --frames DIR/);
    await expect(packageInput(pkg, table, null, 'table.csv', join(dir, 'missing'))).rejects.toThrow(/is not a folder; run spotml extract --frames/);
    const X = await packageInput(pkg, table, null, 'table.csv', framesDir);
    // float32 storage: the patch comes back within float32 rounding of what the model was fitted on.
    const expected = concatColumns(features, frames);
    expect(X.cols).toBe(expected.cols);
    for (let i = 0; i < X.data.length; i++) expect(X.data[i]).toBeCloseTo(expected.data[i], 4);
    expect(Array.from(pkg.model.predict(X))).toEqual(Array.from(model.predict(X)));
  });

  it('train composes the shipped model by what its members read', async () => {
    const { frames, features, y } = data(8);
    const frameData = { X: frames, bands: BANDS, frames: FRAMES, feature: 'melspectrogram_db' };
    const convnet = await fitPipeline(cnn, { X: frames, y, task: 'classification', nClasses: CLASSES }, CNN_PARAMS, { seed: 4 });
    const bayes = await fitPipeline(gaussianNb, { X: features, y, task: 'classification', nClasses: CLASSES }, {}, { seed: 4 });
    const frameInput = { feature: 'melspectrogram_db', n_bands: BANDS, frames: FRAMES };

    const tabular = composeModel([bayes], [1], [false], 2, frameData);
    expect(tabular).toEqual({ model: bayes, usesFeatures: true, frameInput: null });
    const alone = composeModel([convnet], [1], [true], 2, frameData);
    expect(alone).toEqual({ model: convnet, usesFeatures: false, frameInput });

    const mixed = composeModel([bayes, convnet], [0.4, 0.6], [false, true], 2, frameData);
    expect(mixed.usesFeatures).toBe(true);
    expect(mixed.frameInput).toEqual(frameInput);
    const members = (mixed.model as EnsembleModel).members as InputSliceModel[];
    expect(members.map((m) => [m.input, m.start, m.nFeatures, m.model])).toEqual([
      ['features', 0, 2 + BANDS * FRAMES, bayes],
      ['frames', 2, 2 + BANDS * FRAMES, convnet],
    ]);
    expect(Array.from(mixed.model.predict(concatColumns(features, frames))).length).toBe(ROWS);
  });

  it('the search routes frame families to the patches (with n_bands) and the others to the table', () => {
    const { frames, features, y } = data(5);
    const base: SearchData = { X: features, y, task: 'classification', nClasses: CLASSES, plan: { fold: new Int32Array(ROWS), nFolds: 1, kind: 'holdout' }, metric: 'accuracy' };
    expect(familyInput(base, 'knn', { n_neighbors: 3 })).toEqual({ X: features, params: { n_neighbors: 3 } });
    expect(() => familyInput(base, 'cnn', {})).toThrow(/cnn trains on frame-level features: pass --frames DIR/);
    const withFrames: SearchData = { ...base, frames: { X: frames, bands: BANDS, frames: FRAMES, feature: 'melspectrogram_db' } };
    const routed = familyInput(withFrames, 'cnn', { channels: 4 });
    expect(routed.X).toBe(frames);
    expect(routed.params).toEqual({ channels: 4, n_bands: BANDS });
  });
});

describe('epoch metrics in the tracking store', () => {
  it('lands train_loss, val_loss and val_accuracy per epoch with step = epoch, as MLflow metric history lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotml-epochs-'));
    const store = new FileStore(join(dir, 'mlruns'));
    const experimentId = await store.createExperiment('epochs');
    const run = await store.createRun({ experimentId });
    const { frames, y } = data(6);
    const held = data(7);
    const reporter = epochReporter({ logger: { store, runId: run.runId }, flushEvery: 2 });
    await cnn.fit(
      { X: frames, y, task: 'classification', nClasses: CLASSES },
      { ...CNN_PARAMS, max_epochs: 4 },
      { seed: 3, validation: { X: held.frames, y: held.y, task: 'classification', nClasses: CLASSES }, onProgress: reporter.onProgress },
    );
    await reporter.flush();
    expect(reporter.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    for (const key of ['train_loss', 'val_loss', 'val_accuracy', 'learning_rate']) {
      const history = await store.getMetricHistory(run.runId, key);
      expect(history.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    }
    const losses = (await store.getMetricHistory(run.runId, 'train_loss')).map((m) => m.value);
    for (const [i, record] of reporter.epochs.entries()) expect(losses[i]).toBe(record.loss);
    // MLflow's file store: one `timestamp value step` line per point.
    const lines = (await readFile(join(dir, 'mlruns', experimentId, run.runId, 'metrics', 'val_accuracy'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(4);
    lines.forEach((line, i) => {
      const [timestamp, value, step] = line.split(' ');
      expect(Number(timestamp)).toBeGreaterThan(1.6e12);
      expect(Number(value)).toBe(reporter.epochs[i].validationScore);
      expect(step).toBe(String(i + 1));
    });
  });

  it('replays recorded epochs (a worker fit) under a fold prefix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotml-epochs-'));
    const store = new FileStore(join(dir, 'mlruns'));
    const run = await store.createRun({ experimentId: await store.createExperiment('replay') });
    const records: EpochRecord[] = [
      { epoch: 1, total: 3, loss: 0.9, validationLoss: 1.1, validationScore: 0.5, validationMetric: 'r2', learningRate: 0.01 },
      { epoch: 2, total: 3, loss: 0.7, learningRate: 0.01 },
    ];
    await logEpochs({ store, runId: run.runId }, records, 'fold1_');
    expect((await store.getMetricHistory(run.runId, 'fold1_train_loss')).map((m) => [m.step, m.value])).toEqual([
      [1, 0.9],
      [2, 0.7],
    ]);
    expect((await store.getMetricHistory(run.runId, 'fold1_val_r2')).map((m) => [m.step, m.value])).toEqual([[1, 0.5]]);
  });
});
