/** `spotml evaluate` through the CLI entry (in-process): report files, JSON output, gate and baseline exit codes. */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../src/api/train.js';
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
