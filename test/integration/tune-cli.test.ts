/** `spotml tune` end to end through the built CLI: results, plots, tracking child runs, model package, resume. */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store/index.js';
import { IRIS, WINE, requireBuild, runCli, tempDir } from './tune-helpers.js';

interface Summary {
  study: string;
  resumed: boolean;
  trials: { total: number; complete: number; pruned: number; thisRun: number };
  best: { number: number; score: number; params: Record<string, unknown> } | null;
  leaderboard: { rank: number; number: number; score: number }[];
  importance: { param: string; importance: number }[];
  outputs: { dir: string; trials: string; plots: { id: string; svg: string; png: string }[]; model: string | null };
  trackingRunId: string | null;
  stoppedBecause: string;
}

describe('spotml tune (CLI)', () => {
  it('tunes, writes results and plots, logs child runs and saves the best model; a second run resumes', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-cli-');
    const base = ['--seed', '1', 'tune', WINE, '--target', 'target', '--model', 'svm', '--study', 'svm-wine', '--json'];
    const first = await runCli([...base, '--trials', '12', '--save-model', 'best-model'], dir);
    expect(first.code, first.stderr).toBe(0);
    const s = JSON.parse(first.stdout) as Summary;
    expect(s.resumed).toBe(false);
    expect(s.trials.total).toBe(12);
    expect(s.best).not.toBeNull();
    // SVM on wine is an easy problem: a tuned SVM beats 0.9 accuracy (scikit-learn's default SVC: 0.983).
    expect(s.best!.score).toBeGreaterThan(0.9);
    expect(s.leaderboard[0].number).toBe(s.best!.number);
    expect(s.leaderboard.map((r) => r.score)).toEqual([...s.leaderboard.map((r) => r.score)].sort((a, b) => b - a));
    expect(s.importance.map((p) => p.param).sort()).toEqual(['C', 'gamma', 'kernel']);
    const ids = s.outputs.plots.map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining(['optimization-history', 'parallel-coordinates', 'slice-C', 'slice-kernel', 'slice-gamma', 'param-importance']));
    for (const p of s.outputs.plots) {
      expect(readFileSync(p.svg, 'utf8')).toMatch(/^<svg/);
      expect(readFileSync(p.png).subarray(1, 4).toString()).toBe('PNG');
    }
    expect(readFileSync(s.outputs.trials, 'utf8').trim().split('\n')).toHaveLength(13);

    // Tracking: one study run, one child run per trial.
    const store = new FileStore(join(dir, 'mlruns'));
    const parent = await store.getRun(s.trackingRunId!);
    const runs = await store.listRuns(parent.info.experimentId);
    const children = await Promise.all(runs.filter((r) => r.runId !== s.trackingRunId).map((r) => store.getRun(r.runId)));
    expect(children.every((c) => c.data.tags['mlflow.parentRunId'] === s.trackingRunId)).toBe(true);
    expect(children.map((c) => Number(c.data.tags['spotml.trial'])).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const bestChild = children.find((c) => Number(c.data.tags['spotml.trial']) === s.best!.number)!;
    expect(bestChild.data.metrics.find((m) => m.key === 'accuracy')?.value).toBeCloseTo(s.best!.score, 12);

    // The model package: ready for `register`.
    expect(s.outputs.model).toBe(join(dir, 'best-model'));
    expect(existsSync(join(dir, 'best-model', 'MLmodel'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(dir, 'best-model', 'model.json'), 'utf8')) as { training: { trial: number; params: Record<string, unknown> } };
    expect(pkg.training.trial).toBe(s.best!.number);

    // Resume: the same study grows to 16 trials; the first 12 are untouched.
    const second = await runCli([...base, '--trials', '16'], dir);
    expect(second.code, second.stderr).toBe(0);
    const r = JSON.parse(second.stdout) as Summary;
    expect(r.resumed).toBe(true);
    expect(r.trials.total).toBe(16);
    expect(r.trials.thisRun).toBe(4);
    expect(r.trackingRunId).toBe(s.trackingRunId);
    expect(r.best!.score).toBeGreaterThanOrEqual(s.best!.score);
    expect(readFileSync(r.outputs.trials, 'utf8').split('\n').slice(1, 13)).toEqual(readFileSync(s.outputs.trials, 'utf8').split('\n').slice(1, 13));
  }, 60_000);

  it('runs a grid to exhaustion, and refuses to resume a study with other settings', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-grid-');
    const grid = await runCli(['tune', IRIS, '--target', 'target', '--model', 'knn', '--sampler', 'grid', '--grid-resolution', '3', '--pruner', 'none', '--trials', '100', '--study', 'g', '--no-track', '--no-plots', '--json'], dir);
    expect(grid.code, grid.stderr).toBe(0);
    const s = JSON.parse(grid.stdout) as Summary;
    // knn space: n_neighbors 3 values × weights 2 × metric 2.
    expect(s.trials.total).toBe(12);
    expect(s.stoppedBecause).toBe('exhausted');
    const other = await runCli(['tune', IRIS, '--target', 'target', '--model', 'gaussian_nb', '--trials', '3', '--study', 'g', '--no-track', '--no-plots'], dir);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/study "g" .* different family .* pick a new --study name/);
    expect(readdirSync(dir)).toContain('.spotml');
  }, 60_000);

  it('exits non-zero with one line naming the first failure when every trial fails, warning each failure', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-cli-');
    writeFileSync(join(dir, 'big-k.yaml'), 'family: knn\nparams:\n  n_neighbors: { type: int, low: 200, high: 300 }\n');
    const run = await runCli(['tune', IRIS, '--target', 'target', '--model', 'knn', '--space', 'big-k.yaml', '--trials', '2', '--save-model', 'm', '--no-track', '--no-plots'], dir);
    expect(run.code).toBe(3);
    const lines = run.stderr.split('\n');
    expect(lines.filter((l) => /trial \d failed: knn parameter n_neighbors=\d+ exceeds the 120 training rows/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('every trial failed (first: trial 0: knn parameter n_neighbors='))).toHaveLength(1);
    expect(existsSync(join(dir, 'm'))).toBe(false);
  }, 60_000);
});
