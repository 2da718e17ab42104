/**
 * `spotml evaluate` through the CLI entry (in-process): report files, JSON output, gate and baseline exit codes,
 * and the evaluation's own tracking run.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../src/api/train.js';
import { SPEC_FORMAT, SPEC_FORMAT_VERSION, resolveSettings, specHash } from '../../src/audio/feature-spec.js';
import { FileStore } from '../../src/tracking/file-store/index.js';
import { runCli } from '../helpers/cli.js';

const IRIS = new URL('../../../shared/data/iris.csv', import.meta.url).pathname;


const cli = runCli;

let dir = '';
let good = '';
let weak = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotml-eval-'));
  const common = { table: IRIS, target: 'target', autoOptimize: false, timeBudget: 30, cv: 5, seed: 0, jobs: 1, experiment: 'eval', store: new FileStore(join(dir, 'mlruns')), ensemble: false };
  good = join(dir, 'good');
  weak = join(dir, 'weak');
  await train({ ...common, model: 'knn', out: good });
  await train({ ...common, model: 'decision_tree', params: { max_depth: '1' }, out: weak });
});

describe('spotml evaluate', () => {
  it('writes the report and prints every metric as JSON', async () => {
    const { code, out } = await cli(['--json', 'evaluate', good, '--data', IRIS, '--report-dir', 'r1', '--no-importance'], dir);
    expect(code).toBe(0);
    const summary = JSON.parse(out) as { metrics: Record<string, number>; intervals: Record<string, { lower: number; upper: number }>; passed: boolean };
    expect(summary.metrics.accuracy).toBeGreaterThan(0.9);
    expect(summary.metrics.f1_macro).toBeGreaterThan(0.9);
    expect(summary.intervals.accuracy.lower).toBeLessThanOrEqual(summary.metrics.accuracy);
    expect(summary.intervals.accuracy.upper).toBeGreaterThanOrEqual(summary.metrics.accuracy);
    expect(summary.passed).toBe(true);
    for (const file of ['report.html', 'metrics.json', 'confusion_matrix.svg', 'confusion_matrix.png']) expect(existsSync(join(dir, 'r1', file))).toBe(true);
  });

  it('passes a threshold that is met (exit 0) and fails one that is missed (exit 1, one line)', async () => {
    const met = await cli(['evaluate', good, '--data', IRIS, '--report-dir', 'r2', '--no-plots', '--no-importance', '--fail-under', 'accuracy=0.9'], dir);
    expect(met.code).toBe(0);
    expect(met.out).toMatch(/\nlogged to run [0-9a-f]{32} \(child of training run [0-9a-f]{32}\)\n?$/);
    const missed = await cli(['evaluate', weak, '--data', IRIS, '--report-dir', 'r3', '--no-plots', '--no-importance', '--fail-under', 'accuracy=0.9,f1_macro=0.85'], dir);
    expect(missed.code).toBe(1);
    const lines = missed.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/QUALITY_GATE.*accuracy/);
  });

  it('with --json a missed threshold is one parseable document on stdout holding the failure (exit 1)', async () => {
    const missed = await cli(['--json', 'evaluate', weak, '--data', IRIS, '--report-dir', 'r3j', '--no-plots', '--no-importance', '--fail-under', 'accuracy=0.9'], dir);
    expect(missed.code).toBe(1);
    const document = JSON.parse(missed.out) as { passed: boolean; error: { code: string; message: string } };
    expect(document.passed).toBe(false);
    expect(document.error.code).toBe('QUALITY_GATE');
    expect(document.error.message).toMatch(/accuracy/);
  });

  it('fails a clearly worse candidate against a baseline with --fail-if-worse', async () => {
    const { code, err } = await cli(['evaluate', weak, '--data', IRIS, '--baseline', good, '--fail-if-worse', '--report-dir', 'r4', '--no-plots', '--no-importance'], dir);
    expect(code).toBe(1);
    expect(err).toMatch(/worse than baseline/);
  });

  it('finds no significant difference between a model and itself', async () => {
    const { code, out } = await cli(['--json', 'evaluate', good, '--data', IRIS, '--baseline', good, '--fail-if-worse', '--report-dir', 'r5', '--no-plots', '--no-importance'], dir);
    expect(code).toBe(0);
    const summary = JSON.parse(out) as { comparison: { decision: string; pValue: number } };
    expect(summary.comparison.decision).toBe('no significant difference');
    expect(summary.comparison.pValue).toBe(1);
  });
});

interface EvaluateJson {
  metrics: Record<string, number>;
  loggedToRun: string | null;
  experimentId: string | null;
  parentRunId: string | null;
  comparison: { baseline: string; decision: string } | null;
}

describe('spotml evaluate tracking', () => {
  const store = (): FileStore => new FileStore(join(dir, 'mlruns'));
  const trainingRunOf = async (model: string): Promise<string> => (JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as { training: { runId: string } }).training.runId;
  const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

  it('logs each evaluation as its own child run of the training run, which stays as training left it', async () => {
    // Two tables with one base name in different folders: their evaluations must not overwrite each other.
    const holdout = join(dir, 'a', 'holdout.csv');
    const subset = join(dir, 'b', 'holdout.csv');
    await mkdir(join(dir, 'a'), { recursive: true });
    await mkdir(join(dir, 'b'), { recursive: true });
    const iris = await readFile(IRIS, 'utf8');
    await writeFile(holdout, iris);
    await writeFile(subset, `${iris.trim().split('\n').slice(0, 101).join('\n')}\n`);
    const trainingRunId = await trainingRunOf(good);
    const before = await store().getRun(trainingRunId);

    const runs: { id: string; summary: EvaluateJson; data: string }[] = [];
    for (const data of [holdout, subset]) {
      const { code, out } = await cli(['--json', 'evaluate', good, '--data', data, '--report-dir', 'rt', '--no-importance'], dir);
      expect(code).toBe(0);
      const summary = JSON.parse(out) as EvaluateJson;
      expect(summary.loggedToRun).toMatch(/^[0-9a-f]{32}$/);
      runs.push({ id: summary.loggedToRun ?? '', summary, data });
    }
    expect(new Set([trainingRunId, runs[0].id, runs[1].id]).size).toBe(3);
    for (const { id, summary, data } of runs) {
      const run = await store().getRun(id);
      expect(run.info.experimentId).toBe(before.info.experimentId);
      expect(run.info.runName).toBe('evaluate-holdout.csv');
      expect(run.info.status).toBe('FINISHED');
      expect(run.data.tags['mlflow.parentRunId']).toBe(trainingRunId);
      expect(summary.parentRunId).toBe(trainingRunId);
      expect(summary.experimentId).toBe(before.info.experimentId);
      expect(run.data.params.data).toBe(data);
      expect(run.data.params.data_sha256).toBe(await sha256(data));
      expect(run.data.params.model).toBe(good);
      expect(run.data.params.baseline).toBeUndefined();
      const logged = Object.fromEntries(run.data.metrics.map((m) => [m.key, m.value]));
      expect(logged.eval_accuracy).toBe(summary.metrics.accuracy);
      expect(logged.eval_f1_macro).toBe(summary.metrics.f1_macro);
      const artifacts = (await store().listArtifacts(id)).map((a) => a.path);
      for (const file of ['report.html', 'metrics.json', 'confusion_matrix.svg']) expect(artifacts).toContain(file);
      const metricsJson = JSON.parse(await readFile(await store().downloadArtifact(id, 'metrics.json'), 'utf8')) as { data: { file: string } };
      expect(metricsJson.data.file).toBe(data);
    }
    // The subset holds 100 of the 150 rows: the two runs really hold two different evaluations.
    expect(runs[0].summary.metrics.accuracy).not.toBe(runs[1].summary.metrics.accuracy);

    const after = await store().getRun(trainingRunId);
    expect(after.data.metrics).toEqual(before.data.metrics);
    expect(after.info.status).toBe(before.info.status);
    expect((await store().listArtifacts(trainingRunId)).map((a) => a.path)).not.toContain('evaluation');
  });

  it('--no-track logs no run', async () => {
    const experimentId = (await store().getRun(await trainingRunOf(good))).info.experimentId;
    const count = (await store().listRuns(experimentId)).length;
    const { code, out } = await cli(['--json', 'evaluate', good, '--data', IRIS, '--report-dir', 'rn', '--no-plots', '--no-importance', '--no-track'], dir);
    expect(code).toBe(0);
    expect((JSON.parse(out) as EvaluateJson).loggedToRun).toBeNull();
    expect(await store().listRuns(experimentId)).toHaveLength(count);
  });

  it('a model whose training run is not in the store is evaluated in the spotml-evaluate experiment', async () => {
    const other = join(dir, 'other-mlruns');
    const { code, out } = await cli(['--json', 'evaluate', good, '--data', IRIS, '--report-dir', 'ro', '--no-plots', '--no-importance', '--tracking-uri', other], dir);
    expect(code).toBe(0);
    const summary = JSON.parse(out) as EvaluateJson;
    const otherStore = new FileStore(other);
    const experiment = await otherStore.getExperimentByName('spotml-evaluate');
    expect(experiment?.experimentId).toBe(summary.experimentId);
    const run = await otherStore.getRun(summary.loggedToRun ?? '');
    expect(run.info.experimentId).toBe(experiment?.experimentId);
    expect(run.data.tags['mlflow.parentRunId']).toBeUndefined();
    expect(summary.parentRunId).toBeNull();
    expect(run.data.params.model_run_id).toBe(await trainingRunOf(good));
  });

  it('names the baseline in the JSON comparison, the terminal summary, the report and the run', async () => {
    const json = await cli(['--json', 'evaluate', weak, '--data', IRIS, '--baseline', good, '--report-dir', 'rb', '--no-plots', '--no-importance'], dir);
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.out) as EvaluateJson;
    expect(summary.comparison?.baseline).toBe(good);
    expect(await readFile(join(dir, 'rb', 'report.html'), 'utf8')).toContain(`Against baseline <code>${good}</code>: worse`);
    expect((await store().getRun(summary.loggedToRun ?? '')).data.params.baseline).toBe(good);
    const text = await cli(['evaluate', weak, '--data', IRIS, '--baseline', good, '--report-dir', 'rb2', '--no-plots', '--no-importance', '--no-track'], dir);
    expect(text.code).toBe(0);
    expect(text.out).toContain(`against baseline ${good}: worse than baseline: accuracy`);
  });

  it('says a FeatureSpec mismatch of the baseline is the baseline\'s', async () => {
    // A table with a FeatureSpec beside it, and a baseline trained (by its document) under other settings.
    const settings = resolveSettings({});
    const table = join(dir, 'spec', 'holdout.csv');
    await mkdir(join(dir, 'spec'), { recursive: true });
    await writeFile(table, await readFile(IRIS, 'utf8'));
    await writeFile(`${table}.spec.json`, JSON.stringify({ format: SPEC_FORMAT, formatVersion: SPEC_FORMAT_VERSION, specHash: specHash(settings), settings }));
    const baseline = join(dir, 'other-settings');
    await cp(good, baseline, { recursive: true });
    await rm(join(baseline, 'checksums.json'), { force: true });
    const document = JSON.parse(await readFile(join(baseline, 'model.json'), 'utf8')) as { specHash: string | null };
    document.specHash = 'ab'.repeat(32);
    await writeFile(join(baseline, 'model.json'), JSON.stringify(document));

    const { code, err } = await cli(['evaluate', good, '--data', table, '--baseline', baseline, '--report-dir', 'rs', '--no-plots', '--no-importance', '--no-track'], dir);
    expect(code).toBe(6);
    expect(err).toMatch(new RegExp(`FEATURE_SPEC_MISMATCH.*the baseline ${baseline} was trained on other feature settings \\(specHash abababababab\\) than holdout\\.csv was extracted with \\(${specHash(settings).slice(0, 12)}\\)`));
  });
});
