/**
 * Serving packages whose model reads frame-level input (issue #8): a cnn trained by `train --frames` and a mixed
 * ensemble (summary features + cnn) on segments, served in-process (hono `app.request()`).
 *
 * The reference for every audio answer is what `evaluate --frames` scores: the request WAVs are run through
 * `spotml extract --frames`, their patches read back with loadFrameTable (packageInput for the mixed model, which
 * adds the summary columns), and the package's model predicts them. The server must agree exactly (probabilities
 * compared as doubles, no tolerance) — whole clips shorter than the model's frame count (padded), a 44.1 kHz clip
 * (resampled), and overlapping segments (cropped, as training crops them). A whole clip longer than the patch is
 * predicted window by window: the reference cuts its .npy into patch-length windows here (the last padded with its
 * own floor, as training pads a short clip) and aggregates their probabilities by the mean. /invocations gets the same rows in every input
 * form, and the ONNX runtime is checked against native within the exporter's float32 tolerance.
 */
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { framesFolder } from '../../src/audio/extract.js';
import { readFeatureSpec, specPathFor, type FeatureSpec } from '../../src/audio/feature-spec.js';
import { createMatrix, type Matrix } from '../../src/data/matrix.js';
import { readTable, type Table } from '../../src/data/table.js';
import { cnn } from '../../src/learners/cnn.js';
import { EnsembleModel } from '../../src/learners/ensemble.js';
import { InputSliceModel } from '../../src/learners/dl/frame-input.js';
import { loadFrameTable, loadTableFrames, readNpy } from '../../src/learners/dl/frames.js';
import { LabelEncoder } from '../../src/learners/label-encoder.js';
import { gaussianNb } from '../../src/learners/naive-bayes.js';
import { fitPipeline } from '../../src/learners/preprocess.js';
import { packageInput, readModelPackage, writeModelPackage, type ModelPackage } from '../../src/registry/package.js';
import { AccessLog } from '../../src/serve/access-log.js';
import { createServeApp } from '../../src/serve/app.js';
import { createAuthenticator } from '../../src/serve/auth.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { ModelHolder, loadModel } from '../../src/serve/model-holder.js';
import { DirModelSource } from '../../src/serve/model-source.js';
import { patchColumnName } from '../../src/serve/protocol.js';
import type { RuntimeName } from '../../src/serve/runtime.js';
import { tone, wavBytes } from '../unit/serve/fixtures.js';
import { runCli } from '../helpers/cli.js';

const AUDIO = new URL('../../fixtures/audio/', import.meta.url).pathname;
const CLASSES = ['brass', 'guitar', 'piano'];
const BANDS = 16;
/** Few features keep extraction quick; the frames come from melspectrogram_db. */
const EXTRACT_FLAGS = ['--features', 'melspectrogram_db,rms,spectral_centroid', '--n-mels', String(BANDS), '--n-mfcc', '8', '--no-cache', '-j', '1'];
/** The mixed model's frame count: segments of 0.5 s have 22 frames, so every patch is cropped. */
const MIXED_FRAMES = 20;

const cli = runCli;

interface Harness {
  app: ReturnType<typeof createServeApp>;
  holder: ModelHolder;
}

async function harness(dir: string, runtime: RuntimeName = 'native'): Promise<Harness> {
  const holder = new ModelHolder(new DirModelSource(dir, null), { runtime });
  await holder.start();
  const app = createServeApp({ holder, auth: await createAuthenticator({}), metrics: new ServeMetrics(), log: new AccessLog({ write: () => undefined }) });
  return { app, holder };
}

interface AudioAnswer {
  predictions: string[];
  segments: { segment: number; start_s: number; end_s: number; prediction: string; probabilities: number[] }[];
  aggregate: { prediction: string; method: string; probabilities: number[] };
  audio: { seconds: number };
}

/** A bands × cols matrix cut into windows of `frames` columns, each padded with its own minimum (naive reference). */
function windowRows(matrix: { rows: number; cols: number; data: Float32Array }, frames: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < matrix.cols; start += frames) {
    const width = Math.min(frames, matrix.cols - start);
    const bands: number[][] = [];
    for (let b = 0; b < matrix.rows; b++) bands.push(Array.from(matrix.data.subarray(b * matrix.cols + start, b * matrix.cols + start + width)));
    const floor = Math.min(...bands.flat());
    out.push(bands.flatMap((band) => [...band, ...new Array<number>(frames - width).fill(floor)]));
  }
  return out;
}

async function postWav(h: Harness, bytes: Uint8Array): Promise<AudioAnswer> {
  const response = await h.app.request('/predict/audio', { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: bytes });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as AudioAnswer;
}

async function invoke(h: Harness, body: string, contentType = 'application/json'): Promise<{ status: number; json: { predictions?: string[]; probabilities?: number[][]; message?: string } }> {
  const response = await h.app.request('/invocations?proba=true', { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: response.status, json: (await response.json()) as { predictions?: string[]; probabilities?: number[][]; message?: string } };
}

function rowsOf(X: Matrix): number[][] {
  return Array.from({ length: X.rows }, (_, i) => Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols)));
}

function probaRows(pkg: ModelPackage, X: Matrix): number[][] {
  return rowsOf(pkg.model.predictProba!(X));
}

function column(table: Table, name: string): (string | number)[] {
  return Array.from(table.columns[table.names.indexOf(name)] as ArrayLike<string | number>);
}

let dir = '';
let cnnDir = '';
let mixedDir = '';
/** Request WAVs (paths relative to `dir`, as extract writes them in its path column). */
const requests = ['brass_05.wav', 'guitar_06.wav', 'long.wav'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotml-serve-frames-'));
  const clips = (pattern: string): string[] => CLASSES.map((c) => join(AUDIO, c, `${c}_${pattern}.wav`));
  // Request clips: shorter than the training clips (padded), 44.1 kHz (resampled, padded), and 2.6 s (cropped).
  await writeFile(join(dir, 'brass_05.wav'), await readFile(join(AUDIO, 'brass', 'brass_05.wav')));
  await writeFile(join(dir, 'guitar_06.wav'), await readFile(join(AUDIO, 'guitar', 'guitar_06.wav')));
  await writeFile(join(dir, 'long.wav'), wavBytes(tone(330, 2.6, 22050, 5), 22050));
  const runs = [
    ['extract', ...clips('0[1-3]'), '--labels-from-dirs', '--out', 'train.csv', '--frames', 'train-frames', ...EXTRACT_FLAGS],
    ['extract', ...requests, '--out', 'request.csv', '--frames', 'request-frames', ...EXTRACT_FLAGS],
    ['extract', ...clips('0[1-3]'), '--labels-from-dirs', '--out', 'seg.csv', '--frames', 'seg-frames', '--segment', '0.5', '--segment-hop', '0.25', ...EXTRACT_FLAGS],
    ['extract', ...requests, '--out', 'seg-request.csv', '--frames', 'seg-request-frames', '--segment', '0.5', '--segment-hop', '0.25', ...EXTRACT_FLAGS],
  ];
  for (const args of runs) {
    const run = await cli(args, dir);
    expect(run.code, run.err).toBe(0);
  }

  // The cnn alone, as train --frames ships it (with its model.onnx).
  cnnDir = join(dir, 'cnn');
  const trained = await cli(
    ['train', 'train.csv', '--target', 'label', '--frames', 'train-frames', '--model', 'cnn', '--cv', '2', '--out', 'cnn', '--tracking-uri', 'mlruns',
      '--param', 'channels=2', '--param', 'blocks=1', '--param', 'max_epochs=2', '--param', 'patience=0'],
    dir,
  );
  expect(trained.code, trained.err).toBe(0);

  // A mixed ensemble on segments: naive Bayes on four summary columns, the cnn on 16 × 20 patches.
  mixedDir = join(dir, 'mixed');
  const spec = await readFeatureSpec(specPathFor(join(dir, 'seg.csv')));
  const table = await readTable(join(dir, 'seg.csv'), { stringColumns: ['label', 'path'] });
  const featureNames = spec.columns.features.filter((name) => !name.startsWith('melspectrogram_db'));
  expect(featureNames).toHaveLength(4);
  const labels = LabelEncoder.fit(column(table, 'label').map(String));
  const y = labels.encode(column(table, 'label').map(String));
  const summary = createMatrix(table.nRows, featureNames.length);
  featureNames.forEach((name, j) => column(table, name).forEach((v, i) => (summary.data[i * featureNames.length + j] = Number(v))));
  const patches = await loadTableFrames({ framesDir: join(dir, 'seg-frames'), table, tableName: 'seg.csv', frames: MIXED_FRAMES });
  const nClasses = labels.nClasses;
  const bayes = await fitPipeline(gaussianNb, { X: summary, y, task: 'classification', nClasses }, {}, { seed: 1 });
  const convnet = await fitPipeline(cnn, { X: patches.X, y, task: 'classification', nClasses }, { n_bands: BANDS, channels: 2, blocks: 1, max_epochs: 2, patience: 0 }, { seed: 1 });
  const width = featureNames.length + BANDS * MIXED_FRAMES;
  await writeModelPackage({
    dir: mixedDir,
    task: 'classification',
    target: 'label',
    model: new EnsembleModel([new InputSliceModel(bayes, 'features', 0, width), new InputSliceModel(convnet, 'frames', featureNames.length, width)], [0.5, 0.5]),
    labels,
    featureNames,
    frameInput: { feature: 'melspectrogram_db', n_bands: BANDS, frames: MIXED_FRAMES },
    spec,
    dataHash: null,
    metrics: {},
    training: {},
  });
}, 60_000);

describe('serve a cnn package (frame input only)', () => {
  it('loads it, reports the frame input, and answers /predict/audio exactly as evaluate --frames scores the same files', async () => {
    const h = await harness(cnnDir);
    const pkg = await readModelPackage(cnnDir);
    const frameInput = pkg.document.frameInput!;
    expect(pkg.document.featureNames).toEqual([]);
    expect(frameInput).toEqual({ feature: 'melspectrogram_db', n_bands: BANDS, frames: expect.any(Number) });

    const version = (await (await h.app.request('/version')).json()) as { model: { features: number; frameInput: unknown; inputWidth: number } };
    expect(version.model.features).toBe(0);
    expect(version.model.frameInput).toEqual(frameInput);
    expect(version.model.inputWidth).toBe(pkg.model.nFeatures);

    const table = await readTable(join(dir, 'request.csv'), { stringColumns: ['path'] });
    const paths = column(table, 'path').map(String);
    const framesDir = join(dir, 'request-frames');
    const { X } = await loadFrameTable({ framesDir, paths, feature: frameInput.feature, frames: frameInput.frames });
    const expected = probaRows(pkg, X);
    const expectedLabels = pkg.labels!.decode(pkg.model.predict(X));
    // The requests cover both sides: fewer frames than the model's (padded) and more (predicted window by window).
    const matrices = await Promise.all(paths.map((p) => readNpy(join(framesFolder(framesDir, p, null), 'melspectrogram_db.npy'))));
    expect(Math.min(...matrices.map((m) => m.cols))).toBeLessThan(frameInput.frames);
    expect(Math.max(...matrices.map((m) => m.cols))).toBeGreaterThan(frameInput.frames);
    const hopSeconds = 512 / 22050;

    for (const [i, path] of paths.entries()) {
      const answer = await postWav(h, new Uint8Array(await readFile(join(dir, path))));
      if (matrices[i].cols <= frameInput.frames) {
        expect(answer.segments).toHaveLength(1);
        expect(answer.segments[0].probabilities).toEqual(expected[i]);
        expect(answer.predictions).toEqual([expectedLabels[i]]);
        continue;
      }
      // The 2.6 s clip: every patch-length window, at its own time, then the mean of their probabilities.
      const windows = windowRows(matrices[i], frameInput.frames);
      expect(windows.length).toBe(Math.ceil(matrices[i].cols / frameInput.frames));
      expect(windows.length).toBeGreaterThanOrEqual(2);
      const W = createMatrix(windows.length, windows[0].length, Float64Array.from(windows.flat()));
      const windowProba = probaRows(pkg, W);
      expect(answer.segments.map((s) => s.probabilities)).toEqual(windowProba);
      expect(answer.predictions).toEqual(pkg.labels!.decode(pkg.model.predict(W)));
      answer.segments.forEach((s, w) => {
        expect(s.segment).toBe(w);
        expect(s.start_s).toBeCloseTo(w * frameInput.frames * hopSeconds, 12);
        expect(s.end_s).toBeCloseTo(w === windows.length - 1 ? 2.6 : (w + 1) * frameInput.frames * hopSeconds, 12);
      });
      expect(answer.audio.seconds).toBeCloseTo(2.6, 12);
      const mean = CLASSES.map((_, k) => windowProba.reduce((sum, p) => sum + p[k], 0) / windowProba.length);
      answer.aggregate.probabilities.forEach((p, k) => expect(p).toBeCloseTo(mean[k], 12));
      expect(answer.aggregate).toMatchObject({ method: 'mean_probability', prediction: CLASSES[mean.indexOf(Math.max(...mean))] });
    }
    await h.holder.close();
  });

  it('takes full-width rows in /invocations: positional, or patch columns named <feature>[band][frame]', async () => {
    const h = await harness(cnnDir);
    const pkg = await readModelPackage(cnnDir);
    const { feature, n_bands: bands, frames } = pkg.document.frameInput!;
    const table = await readTable(join(dir, 'request.csv'), { stringColumns: ['path'] });
    const { X } = await loadFrameTable({ framesDir: join(dir, 'request-frames'), paths: column(table, 'path').map(String), feature, frames });
    const expected = probaRows(pkg, X);
    const rows = rowsOf(X);
    const names: string[] = [];
    for (let b = 0; b < bands; b++) for (let t = 0; t < frames; t++) names.push(patchColumnName(feature, b, t));
    expect(names[frames + 2]).toBe(`${feature}[1][2]`);

    // Columns reversed (matched by name) plus one the model ignores.
    const reversed = [...names].reverse();
    const bodies: [string, string][] = [
      [JSON.stringify({ instances: rows }), 'application/json'],
      [JSON.stringify({ inputs: rows }), 'application/json'],
      [JSON.stringify({ dataframe_split: { data: rows } }), 'application/json'],
      [JSON.stringify({ dataframe_split: { columns: ['path', ...reversed], data: rows.map((r) => ['x.wav', ...[...r].reverse()]) } }), 'application/json'],
      [JSON.stringify({ dataframe_records: rows.map((r) => Object.fromEntries(names.map((n, j) => [n, r[j]]))) }), 'application/json'],
      [JSON.stringify({ inputs: Object.fromEntries(names.map((n, j) => [n, rows.map((r) => r[j])])) }), 'application/json'],
      [[names.join(','), ...rows.map((r) => r.map(String).join(','))].join('\n'), 'text/csv'],
    ];
    for (const [body, type] of bodies) {
      const { status, json } = await invoke(h, body, type);
      expect(status, json.message).toBe(200);
      expect(json.probabilities).toEqual(expected);
    }

    // A row of the wrong width says what the row is made of; a missing patch column says how columns are named.
    const short = await invoke(h, JSON.stringify({ instances: [rows[0].slice(1)] }));
    expect(short.status).toBe(400);
    expect(short.json.message).toBe(`instances: row 0 has ${bands * frames - 1} values; the model takes ${bands * frames} values: a ${bands} × ${frames} ${feature} patch, band-major`);
    const missing = await invoke(h, JSON.stringify({ dataframe_split: { columns: names.slice(1), data: [rows[0].slice(1)] } }));
    expect(missing.status).toBe(400);
    expect(missing.json.message).toMatch(
      new RegExp(`missing feature column "${feature}\\[0\\]\\[0\\]".*patch columns are named ${feature}\\[0\\]\\[0\\] … ${feature}\\[${bands - 1}\\]\\[${frames - 1}\\] \\(\\[band\\]\\[frame\\]\\), or send rows as arrays in "instances", or the WAV to /predict/audio`),
    );

    // /openapi.json describes the patch by pattern rather than listing its columns.
    const openapi = (await (await h.app.request('/openapi.json')).json()) as { 'x-spotml': Record<string, unknown>; components: { schemas: { ScoringRequest: { oneOf: unknown[] } } } };
    expect(openapi['x-spotml']).toEqual({ audio: true, features: 0, frame_input: pkg.document.frameInput, input_width: bands * frames });
    const records = JSON.stringify(openapi.components.schemas.ScoringRequest.oneOf[1]);
    expect(records).toContain(`"patternProperties":{"^${feature}\\\\[\\\\d+\\\\]\\\\[\\\\d+\\\\]$"`);
    await h.holder.close();
  });

  it('runs the package model.onnx with --runtime onnx (float32 graph: within 1e-4 of native)', async () => {
    const native = await harness(cnnDir);
    const onnx = await harness(cnnDir, 'onnx');
    const version = (await (await onnx.app.request('/version')).json()) as { model: { runtime: string } };
    expect(version.model.runtime).toBe('onnx');
    for (const path of requests) {
      const bytes = new Uint8Array(await readFile(join(dir, path)));
      const [a, b] = [await postWav(native, bytes), await postWav(onnx, bytes)];
      expect(b.segments).toHaveLength(a.segments.length);
      a.segments.forEach((segment, s) => {
        const p = segment.probabilities;
        const q = b.segments[s].probabilities;
        expect(q).toHaveLength(p.length);
        for (let k = 0; k < p.length; k++) expect(Math.abs(p[k] - q[k])).toBeLessThan(1e-4);
        // Labels agree unless the top two classes are within the tolerance.
        const sorted = [...p].sort((x, y) => y - x);
        if (sorted[0] - sorted[1] > 2e-4) expect(b.predictions[s]).toEqual(a.predictions[s]);
      });
    }
    await native.holder.close();
    await onnx.holder.close();
  });
});

describe('serve a mixed ensemble (summary features + frames) on segments', () => {
  it('predicts every (overlapping) segment exactly as evaluate --frames scores extract --frames of the same file', async () => {
    const h = await harness(mixedDir);
    const pkg = await readModelPackage(mixedDir);
    const spec: FeatureSpec = pkg.spec!;
    const table = await readTable(join(dir, 'seg-request.csv'), { stringColumns: ['path'] });
    const X = await packageInput(pkg, table, spec, 'seg-request.csv', join(dir, 'seg-request-frames'));
    expect(X.cols).toBe(4 + BANDS * MIXED_FRAMES);
    const expected = probaRows(pkg, X);
    const paths = column(table, 'path').map(String);
    const segments = column(table, 'segment').map(Number);
    for (const path of requests) {
      const answer = await postWav(h, new Uint8Array(await readFile(join(dir, path))));
      const rows = paths.flatMap((p, i) => (p === path ? [i] : []));
      expect(answer.segments.map((s) => s.segment)).toEqual(rows.map((i) => segments[i]));
      expect(answer.segments.length).toBeGreaterThanOrEqual(2);
      expect(answer.segments.map((s) => s.probabilities)).toEqual(rows.map((i) => expected[i]));
    }

    // The same rows through /invocations: summary columns then the patch, by name or by position.
    const names = [...pkg.document.featureNames];
    for (let b = 0; b < BANDS; b++) for (let t = 0; t < MIXED_FRAMES; t++) names.push(patchColumnName('melspectrogram_db', b, t));
    const all = rowsOf(X);
    for (const body of [{ instances: all }, { dataframe_split: { columns: names, data: all } }]) {
      const { status, json } = await invoke(h, JSON.stringify(body));
      expect(status, json.message).toBe(200);
      expect(json.probabilities).toEqual(expected);
    }
    const narrow = await invoke(h, JSON.stringify({ instances: [all[0].slice(0, 4)] }));
    expect(narrow.json.message).toMatch(/the model takes 324 values: 4 summary features \(spectral_centroid_mean, spectral_centroid_std, rms_mean, rms_std\) then a 16 × 20 melspectrogram_db patch, band-major$/);
    await h.holder.close();
  });

  it('refuses --runtime onnx with the reason (no exporter for it), and a package whose widths disagree', async () => {
    await expect(harness(mixedDir, 'onnx')).rejects.toThrow(/has no model\.onnx because its model does not export \(.*input_slice.*\); serve it with --runtime native/);

    const document = JSON.parse(await readFile(join(mixedDir, 'model.json'), 'utf8')) as { frameInput: { frames: number } };
    document.frameInput.frames = MIXED_FRAMES + 1;
    const broken = join(dir, 'broken');
    await mkdir(broken, { recursive: true });
    await copyFile(join(mixedDir, 'feature-spec.json'), join(broken, 'feature-spec.json'));
    await writeFile(join(broken, 'model.json'), JSON.stringify(document));
    await expect(loadModel({ dir: broken, key: 'broken', name: 'broken', version: null, alias: null, tenant: null }, { runtime: 'native' })).rejects.toThrow(
      `${broken}: the package lists 4 features plus a 16 × 21 melspectrogram_db patch (340 values) but its model takes 324`,
    );
  });
});
