/**
 * tune() in-process (one job, no tracking, no plots) refuses what cannot work and says why: a metric of the
 * other task, a frame family, a space whose every trial fails (naming the first reason, with each failure
 * warned as it happens). It fits knn's n_neighbors to the smallest training fold, leaves grid points
 * unpruned by default, shows no importance from fewer than two complete trials, and records the table's
 * sha256 in a saved package.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type TuneOptions, tune } from '../../src/api/tune.js';
import { ROOT, tempDir } from './tune-helpers.js';

const IRIS = join(ROOT, '../shared/data/iris.csv');
const DIABETES = join(ROOT, '../shared/data/diabetes.csv');

/** 60 iris rows, 20 per class: with 3 folds every training set holds exactly 40 rows. */
function smallIris(dir: string): string {
  const lines = readFileSync(IRIS, 'utf8').trimEnd().split('\n');
  const kept = lines.slice(1).filter((_, i) => i % 5 === 0 || i % 5 === 2);
  const path = join(dir, 'iris60.csv');
  writeFileSync(path, `${[lines[0], ...kept].join('\n')}\n`);
  return path;
}

function base(dir: string): Omit<TuneOptions, 'table' | 'model'> {
  return { target: 'target', storage: join(dir, 'studies.jsonl'), trackingUri: null, plots: false, seed: 3, cv: 3, cwd: dir };
}

describe('tune refuses what cannot work', () => {
  it('refuses a metric of the other task, as train does', async () => {
    const dir = tempDir('spotml-tune-checks-');
    await expect(tune({ ...base(dir), table: smallIris(dir), model: 'knn', trials: 2, metric: 'r2' })).rejects.toThrow(
      /^--metric r2 is for regression, but the target "target" makes this classification$/,
    );
    await expect(tune({ ...base(dir), table: DIABETES, model: 'knn', trials: 2, metric: 'accuracy' })).rejects.toThrow(
      /^--metric accuracy is for classification, but the target "target" makes this regression$/,
    );
  });

  it('says where its search space came from when it starts', async () => {
    const dir = tempDir('spotml-tune-checks-');
    const space = join(dir, 'small-k.yaml');
    writeFileSync(space, 'family: knn\nparams:\n  n_neighbors: { type: int, low: 1, high: 9 }\n');
    const sources: string[] = [];
    await tune({ ...base(dir), table: smallIris(dir), model: 'knn', space, trials: 1, onStart: (e) => sources.push(e.space) });
    expect(sources).toHaveLength(1);
    expect(sources[0]).toMatch(/small-k\.yaml$/);
  });

  it('refuses a frame family, pointing at train --frames', async () => {
    const dir = tempDir('spotml-tune-checks-');
    await expect(tune({ ...base(dir), table: smallIris(dir), model: 'cnn', trials: 1 })).rejects.toThrow(
      /^cnn trains on frame patches, which tune cannot load: use spotml train --frames <dir> --model cnn$/,
    );
  });

  it('fails (naming the first reason) when every trial fails, and warns each failure as it happens', async () => {
    const dir = tempDir('spotml-tune-checks-');
    const space = join(dir, 'big-k.yaml');
    writeFileSync(space, 'family: knn\nparams:\n  n_neighbors: { type: int, low: 100, high: 200 }\n');
    const warnings: string[] = [];
    const run = tune({ ...base(dir), table: smallIris(dir), model: 'knn', space, trials: 2, saveModel: 'model', onWarning: (m) => warnings.push(m) });
    await expect(run).rejects.toThrow(
      /^every trial failed \(first: trial 0: knn parameter n_neighbors=\d+ exceeds the 40 training rows; lower n_neighbors\); check the space .*big-k\.yaml against the data \(reasons in .*trials\.csv\)$/,
    );
    const failures = warnings.filter((w) => /^trial \d failed: knn parameter n_neighbors=\d+ exceeds the 40 training rows/.test(w));
    expect(failures).toHaveLength(2);
    // Without --save-model it is still an error: nothing was learned.
    await expect(tune({ ...base(dir), table: smallIris(dir), model: 'knn', space, study: 'other', trials: 1 })).rejects.toThrow(/^every trial failed \(first: trial 0: /);
  });
});

describe('tune on a small table', () => {
  it('searches knn n_neighbors only up to the smallest training fold, and grid points run unpruned by default', async () => {
    const dir = tempDir('spotml-tune-checks-');
    const table = smallIris(dir);
    // The default space's 5-point log grid over n_neighbors 1..50 ends at its upper bound: 50 > 40 rows before fitting.
    const grid = await tune({ ...base(dir), table, model: 'knn', sampler: 'grid', trials: 100 });
    expect(grid.stoppedBecause).toBe('exhausted');
    expect(grid.trials.failed).toBe(0);
    expect(Math.max(...readTrialsColumn(grid.outputs.trials, 'param_n_neighbors'))).toBe(40);
    expect(grid.pruner).toBe('none');
    expect(grid.trials.pruned).toBe(0);
    expect(grid.trials.complete).toBe(grid.trials.total);
    // An explicit pruner still wins over the grid's default.
    const pruned = await tune({ ...base(dir), table, model: 'knn', sampler: 'grid', pruner: 'median', study: 'grid-median', trials: 3 });
    expect(pruned.pruner).toBe('median');
    expect((await tune({ ...base(dir), table, model: 'knn', study: 'tpe', trials: 1 })).pruner).toBe('median');
  }, 60_000);

  it('shows no parameter importance from fewer than two complete trials', async () => {
    const dir = tempDir('spotml-tune-checks-');
    const one = await tune({ ...base(dir), table: smallIris(dir), model: 'knn', trials: 1 });
    expect(one.trials.complete).toBe(1);
    expect(one.importance).toEqual([]);
    const two = await tune({ ...base(dir), table: smallIris(dir), model: 'knn', trials: 2 });
    expect(two.trials.complete).toBe(2);
    expect(two.importance.map((p) => p.param).sort()).toEqual(['metric', 'n_neighbors', 'weights']);
  });

  it("records the table file's sha256 in a saved package", async () => {
    const dir = tempDir('spotml-tune-checks-');
    const table = smallIris(dir);
    const summary = await tune({ ...base(dir), table, model: 'knn', trials: 2, saveModel: 'model' });
    const model = JSON.parse(readFileSync(join(summary.outputs.model as string, 'model.json'), 'utf8')) as { dataHash: string | null };
    expect(model.dataHash).toBe(createHash('sha256').update(readFileSync(table)).digest('hex'));
  });
});

function readTrialsColumn(path: string, column: string): number[] {
  const [header, ...rows] = readFileSync(path, 'utf8').trimEnd().split('\n');
  const at = header.split(',').indexOf(column);
  return rows.map((r) => Number(r.split(',')[at]));
}
