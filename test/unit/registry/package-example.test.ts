/**
 * The package's input example for a model that reads frame patches: written even when training gives no row
 * (a row of zeros of the right shape), its columns named as serve matches them, and the serving example is a
 * body the scoring app accepts. The reference for each answer is the package's own model on the same row.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMatrix } from '../../../src/data/matrix.js';
import type { FrameInput } from '../../../src/learners/dl/frame-input.js';
import { randomForest } from '../../../src/learners/forest.js';
import { LabelEncoder } from '../../../src/learners/label-encoder.js';
import { fitPipeline } from '../../../src/learners/preprocess.js';
import { readModelPackage, writeModelPackage } from '../../../src/registry/package.js';
import { AccessLog } from '../../../src/serve/access-log.js';
import { createServeApp } from '../../../src/serve/app.js';
import { createAuthenticator } from '../../../src/serve/auth.js';
import { ServeMetrics } from '../../../src/serve/metrics.js';
import { ModelHolder } from '../../../src/serve/model-holder.js';
import { DirModelSource } from '../../../src/serve/model-source.js';
import { synthetic } from '../serve/fixtures.js';

const FRAME_INPUT: FrameInput = { feature: 'melspectrogram_db', n_bands: 2, frames: 3 };
const PATCH_COLUMNS = ['[0][0]', '[0][1]', '[0][2]', '[1][0]', '[1][1]', '[1][2]'].map((s) => `melspectrogram_db${s}`);

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotml-package-example-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A forest over `features` summary columns then a 2 × 3 patch, packaged as a frame-input model. */
async function framePackage(dir: string, featureNames: string[], exampleRow?: number[]): Promise<void> {
  const data = synthetic(60, featureNames.length + 6, 2, 7);
  const labels = LabelEncoder.fit(['a', 'b']);
  const model = await fitPipeline(randomForest, { X: data.X, y: data.y, task: 'classification', nClasses: 2 }, { n_estimators: 5, max_depth: 0 }, { seed: 1 });
  await writeModelPackage({
    dir,
    task: 'classification',
    target: 'label',
    model,
    labels,
    featureNames,
    frameInput: FRAME_INPUT,
    spec: null,
    dataHash: null,
    metrics: {},
    training: {},
    onnx: false,
    ...(exampleRow ? { exampleRow } : {}),
  });
}

async function serveExample(dir: string): Promise<{ status: number; predictions: string[] }> {
  const holder = new ModelHolder(new DirModelSource(dir, null), { runtime: 'native' });
  await holder.start();
  try {
    const app = createServeApp({ holder, auth: await createAuthenticator({}), metrics: new ServeMetrics(), log: new AccessLog(null) });
    const body = await readFile(join(dir, 'serving_input_example.json'), 'utf8');
    const response = await app.request('/invocations', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: response.status, predictions: ((await response.json()) as { predictions: string[] }).predictions };
  } finally {
    await holder.close();
  }
}

async function ownPrediction(dir: string, row: number[]): Promise<string[]> {
  const pkg = await readModelPackage(dir);
  return pkg.labels!.decode(pkg.model.predict(createMatrix(1, row.length, Float64Array.from(row)))).map(String);
}

describe('input examples of frame-input packages', () => {
  it('a cnn-like package without a row gets a zero patch named <feature>[band][frame] that serve accepts', async () => {
    const dir = join(root, 'frames-only');
    await framePackage(dir, []);
    const example = JSON.parse(await readFile(join(dir, 'input_example.json'), 'utf8')) as { columns: string[]; data: number[][] };
    expect(example).toEqual({ columns: PATCH_COLUMNS, data: [[0, 0, 0, 0, 0, 0]] });
    const serving = JSON.parse(await readFile(join(dir, 'serving_input_example.json'), 'utf8')) as unknown;
    expect(serving).toEqual({ dataframe_split: example });
    expect(await readFile(join(dir, 'MLmodel'), 'utf8')).toContain('artifact_path: input_example.json');
    const served = await serveExample(dir);
    expect(served.status).toBe(200);
    expect(served.predictions).toEqual(await ownPrediction(dir, example.data[0]));
  });

  it('a mixed package keeps the row it is given: features then patch, or features alone (patch zeros)', async () => {
    const full = [0.5, -1, 1, 2, 3, 4, 5, 6];
    const dir = join(root, 'mixed-full');
    await framePackage(dir, ['rms_mean', 'rms_std'], full);
    const example = JSON.parse(await readFile(join(dir, 'input_example.json'), 'utf8')) as { columns: string[]; data: number[][] };
    expect(example).toEqual({ columns: ['rms_mean', 'rms_std', ...PATCH_COLUMNS], data: [full] });
    const served = await serveExample(dir);
    expect(served.status).toBe(200);
    expect(served.predictions).toEqual(await ownPrediction(dir, full));

    const featuresOnly = join(root, 'mixed-features');
    await framePackage(featuresOnly, ['rms_mean', 'rms_std'], [0.5, -1]);
    const padded = JSON.parse(await readFile(join(featuresOnly, 'input_example.json'), 'utf8')) as { data: number[][] };
    expect(padded.data).toEqual([[0.5, -1, 0, 0, 0, 0, 0, 0]]);
    expect((await serveExample(featuresOnly)).status).toBe(200);

    await expect(framePackage(join(root, 'mixed-bad'), ['rms_mean', 'rms_std'], [1, 2, 3])).rejects.toThrow(/the input example has 3 values but the model's row has 2 features then 6 patch values/);
  });
});
