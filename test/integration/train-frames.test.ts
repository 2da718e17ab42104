/**
 * The cnn from the CLI (in-process): `extract --frames` on a few fixture clips, `train --frames --model cnn`
 * with tiny epochs (per-epoch metrics in the run and the trial's child run), `evaluate --frames` (and the
 * errors without the folder), and `train --frames --auto-optimize` with the cnn in the portfolio.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTable } from '../../src/data/table.js';
import { packageInput, readModelPackage } from '../../src/registry/package.js';
import { FileStore } from '../../src/tracking/file-store/index.js';
import { runCli } from '../helpers/cli.js';

const AUDIO = new URL('../../fixtures/audio/', import.meta.url).pathname;
const CLASSES = ['brass', 'guitar', 'piano'];

const cli = runCli;

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotml-train-frames-'));
  const clips = (pattern: string): string[] => CLASSES.map((c) => join(AUDIO, c, `${c}_${pattern}.wav`));
  for (const [name, pattern] of [
    ['train', '0[1-4]'],
    ['holdout', '0[5-6]'],
  ]) {
    const run = await cli(['extract', ...clips(pattern), '--labels-from-dirs', '--out', `${name}.csv`, '--frames', `${name}-frames`, '--n-mels', '32', '--no-cache', '-j', '1'], dir);
    expect(run.code, run.err).toBe(0);
  }
}, 60_000);

describe('train --frames', () => {
  it('trains the cnn on the frame patches, logs its epochs and evaluates only with --frames', async () => {
    const trained = await cli(
      ['--json', 'train', 'train.csv', '--target', 'label', '--frames', 'train-frames', '--model', 'cnn', '--cv', '2', '--out', 'cnn', '--tracking-uri', 'mlruns', '--experiment', 'frames',
        '--param', 'channels=4', '--param', 'blocks=2', '--param', 'max_epochs=4', '--param', 'validation_fraction=0.3'],
      dir,
    );
    expect(trained.code, trained.err).toBe(0);
    const result = JSON.parse(trained.out) as { runId: string; experimentId: string; model: { family: string; frameInput: unknown } };
    expect(result.model.family).toBe('cnn');
    expect(result.model.frameInput).toEqual({ feature: 'melspectrogram_db', n_bands: 32, frames: expect.any(Number) });

    // The refit's epochs on the run, each fold's on the trial's child run, step = epoch.
    const store = new FileStore(join(dir, 'mlruns'));
    for (const key of ['train_loss', 'val_loss', 'val_accuracy']) {
      expect((await store.getMetricHistory(result.runId, key)).map((m) => m.step)).toEqual([1, 2, 3, 4]);
    }
    const child = (await store.listRuns(result.experimentId)).find((r) => r.runId !== result.runId)!;
    expect((await store.getMetricHistory(child.runId, 'fold0_train_loss')).map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect((await store.getMetricHistory(child.runId, 'fold1_train_loss')).map((m) => m.step)).toEqual([1, 2, 3, 4]);

    const pkg = await readModelPackage(join(dir, 'cnn'));
    expect(pkg.document.featureNames).toEqual([]);
    expect(pkg.model.nFeatures).toBe(32 * (pkg.document.frameInput?.frames ?? 0));

    const withoutFrames = await cli(['evaluate', 'cnn', '--data', 'holdout.csv', '--no-plots', '--report-dir', 'report'], dir);
    expect(withoutFrames.code).not.toBe(0);
    expect(withoutFrames.err.trim().split('\n')).toHaveLength(1);
    expect(withoutFrames.err).toMatch(/reads frame-level input \(melspectrogram_db, 32 bands × \d+ frames\): pass --frames DIR/);

    const evaluated = await cli(['--json', 'evaluate', 'cnn', '--data', 'holdout.csv', '--frames', 'holdout-frames', '--no-plots', '--report-dir', 'report', '--tracking-uri', 'mlruns'], dir);
    expect(evaluated.code, evaluated.err).toBe(0);
    const summary = JSON.parse(evaluated.out) as { nSamples: number; metrics: Record<string, number>; data: { features: number } };
    expect(summary.nSamples).toBe(6);
    expect(summary.data.features).toBe(pkg.model.nFeatures);
    // The same accuracy by hand: the package's model on the holdout patches loaded by path.
    const holdout = await readTable(join(dir, 'holdout.csv'), { stringColumns: ['label', 'path'] });
    const X = await packageInput(pkg, holdout, null, 'holdout.csv', join(dir, 'holdout-frames'));
    const predicted = pkg.labels!.decode(pkg.model.predict(X));
    const truth = holdout.columns[holdout.names.indexOf('label')] as string[];
    expect(summary.metrics.accuracy).toBeCloseTo(predicted.filter((p, i) => p === truth[i]).length / truth.length, 12);
  }, 60_000);

  it('names the fix when the frames folder or a clip is missing, or the cnn has no frames', async () => {
    const noDir = await cli(['train', 'train.csv', '--target', 'label', '--frames', 'nowhere', '--model', 'cnn', '--cv', '2', '--tracking-uri', 'mlruns'], dir);
    expect(noDir.code).not.toBe(0);
    expect(noDir.err).toMatch(/--frames nowhere is not a folder; run spotml extract --frames nowhere/);
    const wrongFolder = await cli(['train', 'train.csv', '--target', 'label', '--frames', 'holdout-frames', '--model', 'cnn', '--cv', '2', '--tracking-uri', 'mlruns'], dir);
    expect(wrongFolder.code).not.toBe(0);
    expect(wrongFolder.err).toMatch(/no frames for .*brass_01\.wav \(row 1 of train\.csv\): .*melspectrogram_db\.npy is missing; run spotml extract --frames holdout-frames/);
    const noFrames = await cli(['train', 'train.csv', '--target', 'label', '--model', 'cnn', '--cv', '2', '--tracking-uri', 'mlruns'], dir);
    expect(noFrames.code).not.toBe(0);
    expect(noFrames.err).toMatch(/cnn trains on frame-level features: pass --frames DIR/);
  });

  it('adds the cnn to the auto-optimize portfolio and ships a package that evaluates with --frames', async () => {
    // Ten trials = every family's starting configuration once (the cnn's small start last, being costliest).
    const searched = await cli(
      ['--json', 'train', 'train.csv', '--target', 'label', '--frames', 'train-frames', '--auto-optimize', '--time-budget', '40', '--max-trials', '10', '--cv', '2', '--jobs', '1', '--out', 'auto', '--tracking-uri', 'mlruns'],
      dir,
    );
    expect(searched.code, searched.err).toBe(0);
    const result = JSON.parse(searched.out) as { leaderboard: { family: string; params: Record<string, unknown> }[]; model: { frameInput: unknown; members: { family: string }[] } };
    const cnnRow = result.leaderboard.find((r) => r.family === 'cnn');
    expect(cnnRow?.params).toEqual({ channels: 8, blocks: 2, max_epochs: 20, patience: 5 });
    expect(result.leaderboard.some((r) => r.family !== 'cnn')).toBe(true);
    // frameInput is recorded exactly when a shipped member reads frames.
    const pkg = await readModelPackage(join(dir, 'auto'));
    expect(pkg.document.frameInput ?? null).toEqual(result.model.frameInput);
    expect(Boolean(pkg.document.frameInput)).toBe(result.model.members.some((m) => m.family === 'cnn'));
    const evaluated = await cli(['--json', 'evaluate', 'auto', '--data', 'holdout.csv', '--frames', 'holdout-frames', '--no-plots', '--no-importance', '--report-dir', 'report-auto'], dir);
    expect(evaluated.code, evaluated.err).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'auto', 'model.json'), 'utf8')).format).toBe('spotml.model-package');
  }, 60_000);
});
