/**
 * ONNX round trip for every family in the catalogue × each task it supports: fit a preprocessing pipeline on
 * small data with missing values, export, run the bytes through onnxruntime-node's InferenceSession and
 * compare with spotml's own predictProba / predict (the reference: the native float64 implementation).
 * Inputs are float32-representable (the serving contract: serve feeds float32).
 * Tolerance: |Δ| ≤ 1e-5 on probabilities, |Δ| ≤ 1e-5 · max(1, |y|) on regression values; labels exactly.
 * Families that do not export must say why, and a family tagged `onnx: true` must export.
 * Also: the package writer puts model.onnx, the onnx + python_function flavors, a tensor signature,
 * python_env.yaml and requirements.txt beside MLmodel.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createMatrix, type Matrix } from '../../src/data/matrix.js';
import { exportOnnx, onnxSupport, ONNX_INPUT, ONNX_LABEL, ONNX_PROBABILITIES, ONNX_VARIABLE } from '../../src/export/onnx/index.js';
import { FAMILIES, getFamily } from '../../src/learners/catalogue.js';
import { EnsembleModel } from '../../src/learners/ensemble.js';
import { LabelEncoder } from '../../src/learners/label-encoder.js';
import { fitPipeline, type PipelineOptions } from '../../src/learners/preprocess.js';
import { Rng } from '../../src/learners/rng.js';
import type { FittedModel, Params, Task, TrainingData } from '../../src/learners/types.js';
import { writeModelPackage } from '../../src/registry/package.js';
import { onnxPredictor } from '../../src/serve/runtime.js';

const TOLERANCE = 1e-5;

/** Cheap settings per family; the rest take defaults. */
const CHEAP: Readonly<Record<string, Params>> = {
  random_forest: { n_estimators: 12 },
  extra_trees: { n_estimators: 12 },
  gbdt: { max_iter: 25, min_samples_leaf: 5 },
  mlp: { hidden_units: 8, max_epochs: 8 },
  knn: { n_neighbors: 3 },
};

/**
 * Gaussian clusters (class k shifts feature j by 1.5·k when j ≡ k mod 3) or a smooth regression target;
 * every value float32-representable, ~8% of cells missing in feature columns 0 and 2.
 */
function dataset(task: Task, nClasses: number, rows: number, seed: number, missing = true): TrainingData {
  const rng = new Rng(seed);
  const cols = 5;
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const k = i % nClasses;
    let target = 0;
    for (let j = 0; j < cols; j++) {
      const v = Math.fround(rng.normal() + (task === 'classification' && j % 3 === k % 3 ? 1.5 * k : 0));
      X[i * cols + j] = v;
      target += (j + 1) * 0.3 * v;
    }
    if (missing) for (const j of [0, 2]) if (rng.next() < 0.08) X[i * cols + j] = NaN;
    y[i] = task === 'classification' ? k : Math.sin(target) + target;
  }
  return { X: createMatrix(rows, cols, X), y, task, ...(task === 'classification' ? { nClasses } : {}) };
}

interface OnnxRun {
  probabilities?: Float64Array;
  label?: BigInt64Array;
  variable?: Float64Array;
}

async function runOnnx(bytes: Uint8Array, X: Matrix): Promise<OnnxRun> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const input = new ort.Tensor('float32', Float32Array.from(X.data), [X.rows, X.cols]);
    const out = await session.run({ [ONNX_INPUT]: input });
    const result: OnnxRun = {};
    if (out[ONNX_PROBABILITIES]) result.probabilities = Float64Array.from(out[ONNX_PROBABILITIES].data as Float64Array | Float32Array);
    if (out[ONNX_LABEL]) result.label = out[ONNX_LABEL].data as BigInt64Array;
    if (out[ONNX_VARIABLE]) result.variable = Float64Array.from(out[ONNX_VARIABLE].data as Float64Array | Float32Array);
    return result;
  } finally {
    await session.release();
  }
}

/** Worst deviation per case, printed at the end (the numbers the export is held to). */
const worst = new Map<string, number>();

/** Exports, runs and compares; returns the largest deviation seen. */
async function expectRoundTrip(name: string, model: FittedModel, X: Matrix): Promise<number> {
  const exported = exportOnnx(model);
  const run = await runOnnx(exported.bytes, X);
  let deviation = 0;
  if (model.task === 'classification') {
    const k = model.nClasses as number;
    const expected = (model.predictProba as (X: Matrix) => Matrix).call(model, X).data;
    const got = run.probabilities as Float64Array;
    expect(got.length, name).toBe(X.rows * k);
    for (let i = 0; i < expected.length; i++) deviation = Math.max(deviation, Math.abs(got[i] - expected[i]));
    expect(deviation, `${name}: largest probability deviation`).toBeLessThanOrEqual(TOLERANCE);
    const labels = model.predict(X);
    if (run.label) expect(Array.from(run.label, Number), `${name}: labels`).toEqual(Array.from(labels));
  } else {
    const expected = model.predict(X);
    const got = run.variable as Float64Array;
    expect(got.length, name).toBe(X.rows);
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs(got[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
      deviation = Math.max(deviation, d);
    }
    expect(deviation, `${name}: largest (relative) value deviation`).toBeLessThanOrEqual(TOLERANCE);
  }
  worst.set(name, Math.max(worst.get(name) ?? 0, deviation));
  return deviation;
}

afterAll(() => {
  const lines = [...worst.entries()].map(([name, d]) => `  ${name.padEnd(48)} ${d.toExponential(2)}`);
  console.log(`ONNX round trip, worst deviation per case:\n${lines.join('\n')}`);
});

describe.each(FAMILIES.flatMap((family) => family.tasks.map((task) => [family.name, task] as const)))('onnx export: %s %s', (familyName, task) => {
  const family = getFamily(familyName);
  const params = CHEAP[familyName] ?? {};
  const variants: { label: string; nClasses: number; preprocess?: PipelineOptions }[] =
    task === 'classification'
      ? [
          { label: '3 classes', nClasses: 3 },
          { label: '2 classes', nClasses: 2 },
          { label: '3 classes, indicators + scaling', nClasses: 3, preprocess: { missingIndicator: true, scale: true } },
        ]
      : [
          { label: 'default pipeline', nClasses: 0 },
          { label: 'indicators + scaling', nClasses: 0, preprocess: { missingIndicator: true, scale: true } },
        ];

  it.each(variants)('round-trips through onnxruntime within 1e-5 ($label), or says why it does not export', async ({ label, nClasses, preprocess }) => {
    const train = dataset(task, nClasses, 150, 11 + nClasses);
    const test = dataset(task, nClasses, 80, 97 + nClasses);
    const model = await fitPipeline(family, train, params, { seed: 5, ...(preprocess ? { preprocess } : {}) });
    const support = onnxSupport(model);
    if (!support.exportable) {
      expect(family.tags.onnx, `${familyName} is tagged onnx: true but does not export (${support.reason})`).toBe(false);
      expect(support.reason.length).toBeGreaterThan(20);
      expect(() => exportOnnx(model)).toThrow(support.reason);
      return;
    }
    await expectRoundTrip(`${familyName} ${task} ${label}`, model, test.X);
    // Training rows too: tree thresholds sit between these values, the hardest case for float32 splits.
    await expectRoundTrip(`${familyName} ${task} ${label}`, model, train.X);
  });
});

describe('onnx export: ensembles', () => {
  it('exports a weighted classification ensemble of every member kind that exports, matching predictProba', async () => {
    const train = dataset('classification', 3, 150, 21);
    const test = dataset('classification', 3, 80, 22);
    const names = ['logistic_regression', 'gaussian_nb', 'svm', 'decision_tree', 'random_forest', 'gbdt', 'mlp'];
    const members = await Promise.all(names.map((name) => fitPipeline(getFamily(name), train, CHEAP[name] ?? {}, { seed: 3 })));
    const weights = names.map((_, j) => (j + 1) / ((names.length * (names.length + 1)) / 2));
    const ensemble = new EnsembleModel(members, weights);
    expect(onnxSupport(ensemble)).toEqual({ exportable: true });
    await expectRoundTrip('ensemble classification (7 members)', ensemble, test.X);
  });

  it('exports a regression ensemble', async () => {
    const train = dataset('regression', 0, 150, 31);
    const test = dataset('regression', 0, 80, 32);
    const names = ['linear_regression', 'svm', 'extra_trees', 'gbdt'];
    const members = await Promise.all(names.map((name) => fitPipeline(getFamily(name), train, CHEAP[name] ?? {}, { seed: 4 })));
    const ensemble = new EnsembleModel(members, [0.1, 0.2, 0.3, 0.4]);
    await expectRoundTrip('ensemble regression (4 members)', ensemble, test.X);
  });

  it('refuses an ensemble with a member that does not export, naming it', async () => {
    const train = dataset('classification', 3, 90, 41);
    const members = await Promise.all(['knn', 'gbdt'].map((name) => fitPipeline(getFamily(name), train, CHEAP[name] ?? {}, { seed: 3 })));
    const support = onnxSupport(new EnsembleModel(members, [0.5, 0.5]));
    expect(support.exportable).toBe(false);
    expect(support.exportable ? '' : support.reason).toMatch(/ensemble member knn/);
  });
});

describe('onnx export: model package', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function writePackage(model: FittedModel, labels: LabelEncoder | null, into?: string, onnx?: boolean): Promise<string> {
    const dir = into ?? (await mkdtemp(join(tmpdir(), 'spotml-onnx-')));
    if (!into) dirs.push(dir);
    await writeModelPackage({
      ...(onnx !== undefined ? { onnx } : {}),
      dir,
      task: model.task,
      target: 'label',
      model,
      labels,
      featureNames: Array.from({ length: model.nFeatures }, (_, j) => `f${j}`),
      spec: null,
      dataHash: null,
      metrics: {},
      training: {},
      runId: 'abc123',
    });
    return dir;
  }

  it('writes model.onnx, the onnx + python_function flavors, a tensor signature and the Python environment files', async () => {
    const train = dataset('classification', 3, 120, 51);
    const model = await fitPipeline(getFamily('gbdt'), train, CHEAP.gbdt, { seed: 1 });
    const dir = await writePackage(model, LabelEncoder.fit(['a', 'b', 'c']));
    const onnxBytes = await readFile(join(dir, 'model.onnx'));
    const mlmodel = parseYaml(await readFile(join(dir, 'MLmodel'), 'utf8')) as {
      flavors: Record<string, Record<string, unknown>>;
      signature: { inputs: string; outputs: string };
    };
    expect(Object.keys(mlmodel.flavors).sort()).toEqual(['onnx', 'python_function', 'spotml']);
    expect(mlmodel.flavors.onnx).toMatchObject({ data: 'model.onnx', providers: ['CPUExecutionProvider'] });
    expect(typeof mlmodel.flavors.onnx.onnx_version).toBe('string');
    expect(mlmodel.flavors.python_function).toMatchObject({
      loader_module: 'mlflow.onnx',
      data: 'model.onnx',
      env: { virtualenv: 'python_env.yaml' },
    });
    expect(String(mlmodel.flavors.python_function.python_version)).toMatch(/^3\.\d+/);
    expect(JSON.parse(mlmodel.signature.inputs)).toEqual([{ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 5] }, name: 'input' }]);
    expect(JSON.parse(mlmodel.signature.outputs)).toEqual([
      { type: 'tensor', 'tensor-spec': { dtype: 'float64', shape: [-1, 3] }, name: 'probabilities' },
      { type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1] }, name: 'label' },
    ]);
    const requirements = await readFile(join(dir, 'requirements.txt'), 'utf8');
    for (const pkg of ['mlflow', 'onnx', 'onnxruntime']) expect(requirements).toMatch(new RegExp(`^${pkg}([=<>~!]|$)`, 'm'));
    const pythonEnv = parseYaml(await readFile(join(dir, 'python_env.yaml'), 'utf8')) as { python: unknown; dependencies: unknown };
    expect(String(pythonEnv.python)).toMatch(/^3\.\d+/);
    expect(pythonEnv.dependencies).toEqual(['-r requirements.txt']);
    // The file written is the model: it runs and agrees with the native predict.
    const test = dataset('classification', 3, 40, 52);
    const run = await runOnnx(new Uint8Array(onnxBytes), test.X);
    const expected = (model.predictProba as (X: Matrix) => Matrix).call(model, test.X).data;
    expect(Math.max(...Array.from(expected, (v, i) => Math.abs(v - (run.probabilities as Float64Array)[i])))).toBeLessThanOrEqual(TOLERANCE);
    // serve's ONNX runtime reads the file under its own contract and agrees with the native predict.
    const predictor = await onnxPredictor(dir, 'classification', 5, 3);
    try {
      const served = await predictor.predict(test.X, true);
      expect(Array.from(served.values)).toEqual(Array.from(model.predict(test.X)));
      expect(Math.max(...Array.from(expected, (v, i) => Math.abs(v - (served.proba as Matrix).data[i])))).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await predictor.close();
    }
  });

  it('writes only the spotml flavor for a model that does not export, removing an earlier model.onnx', async () => {
    const train = dataset('classification', 3, 90, 61);
    const labels = LabelEncoder.fit(['a', 'b', 'c']);
    const dir = await writePackage(await fitPipeline(getFamily('decision_tree'), train, {}, { seed: 1 }), labels);
    expect(existsSync(join(dir, 'model.onnx'))).toBe(true);
    const model = await fitPipeline(getFamily('knn'), train, CHEAP.knn, { seed: 1 });
    await writePackage(model, labels, dir);
    for (const file of ['model.onnx', 'python_env.yaml', 'requirements.txt']) expect(existsSync(join(dir, file)), file).toBe(false);
    // Export can be turned off for a model that would export.
    const off = await writePackage(await fitPipeline(getFamily('decision_tree'), train, {}, { seed: 1 }), labels, undefined, false);
    expect(existsSync(join(off, 'model.onnx'))).toBe(false);
    const mlmodel = parseYaml(await readFile(join(dir, 'MLmodel'), 'utf8')) as { flavors: Record<string, unknown>; signature: { inputs: string } };
    expect(Object.keys(mlmodel.flavors)).toEqual(['spotml']);
    expect(JSON.parse(mlmodel.signature.inputs)[0]).toMatchObject({ type: 'double', name: 'f0' });
  });
});
