/** train() end to end on real data from ../shared/data, in-process (jobs 1) and bounded by --max-trials. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/api/train.js';
import { readModelPackage, featureMatrix } from '../../src/registry/package.js';
import { readTable } from '../../src/data/table.js';
import { Rng } from '../../src/learners/rng.js';
import { FileStore } from '../../src/tracking/file-store/index.js';

const DATA = new URL('../../../shared/data/', import.meta.url).pathname;

async function workspace(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'spotml-train-'));
}

describe('train', () => {
  it('searches iris with the shared folds, logs every trial and writes a loadable package', async () => {
    const dir = await workspace();
    const store = new FileStore(join(dir, 'mlruns'));
    const result = await train({
      table: join(DATA, 'iris.csv'),
      target: 'target',
      autoOptimize: true,
      timeBudget: 30,
      maxTrials: 12,
      cv: 5,
      foldsFile: join(DATA, 'folds', 'iris.json'),
      seed: 1,
      jobs: 1,
      out: join(dir, 'model'),
      experiment: 'test',
      store,
      ensemble: true,
    });
    expect(result.task).toBe('classification');
    expect(result.trials.total).toBe(12);
    expect(result.folds).toEqual({ kind: 'given', n: 5, groupedBy: null, groups: null });
    // scikit-learn's best default on these folds is 0.9733 (KNN); a 12-trial search must come close.
    expect(result.score).toBeGreaterThan(0.95);
    const children = (await store.listRuns(result.experimentId)).filter((r) => r.runId !== result.runId);
    expect(children.length).toBe(12);
    const parent = await store.getRun(result.runId);
    expect(parent.info.status).toBe('FINISHED');
    expect(parent.data.params.target).toBe('target');
    expect(parent.data.metrics.find((m) => m.key === 'cv_accuracy')?.value).toBeCloseTo(result.score, 12);
    // MLflow 2.x's UI lists logged models from this tag.
    const history = JSON.parse(parent.data.tags['mlflow.log-model.history']) as { run_id: string; artifact_path: string; flavors: Record<string, unknown> }[];
    expect(history[0]).toMatchObject({ run_id: result.runId, artifact_path: 'model' });
    expect(Object.keys(history[0].flavors)).toContain('spotml');

    const pkg = await readModelPackage(join(dir, 'model'));
    const table = await readTable(join(DATA, 'iris.csv'));
    const X = featureMatrix(pkg, table, null, 'iris.csv');
    const predicted = pkg.labels!.decode(pkg.model.predict(X));
    const truth = table.columns[table.names.indexOf('target')] as string[];
    const trainAccuracy = predicted.filter((p, i) => p === truth[i]).length / truth.length;
    expect(trainAccuracy).toBeGreaterThan(0.95);
    expect(await readFile(join(dir, 'model', 'MLmodel'), 'utf8')).toMatch(/spotml:/);
  });

  it('logs the first --log-trials trials as child runs, then only trials that enter the top ones; leaderboard.json keeps all', async () => {
    const dir = await workspace();
    const store = new FileStore(join(dir, 'mlruns'));
    const result = await train({
      table: join(DATA, 'iris.csv'),
      target: 'target',
      autoOptimize: true,
      maxTrials: 14,
      logTrials: 3,
      cv: 3,
      seed: 3,
      jobs: 1,
      out: join(dir, 'model'),
      experiment: 'capped',
      store,
      ensemble: false,
    });
    const children = (await store.listRuns(result.experimentId)).filter((r) => r.runId !== result.runId);
    const logged = new Set(await Promise.all(children.map(async (c) => Number((await store.getRun(c.runId)).data.tags['spotml.trial']))));
    expect([0, 1, 2].every((n) => logged.has(n))).toBe(true);
    expect(logged.size).toBeLessThan(14);
    // A later trial is logged exactly when fewer than three earlier trials scored at least as well.
    const scores = new Map(result.leaderboard.map((r) => [r.trial, r.score]));
    for (let n = 3; n < 14; n++) {
      const own = scores.get(n);
      const better = own === undefined ? Infinity : [...scores].filter(([t, v]) => t < n && v >= own).length;
      expect(logged.has(n), `trial ${n}`).toBe(better < 3);
    }
    const parent = await store.getRun(result.runId);
    expect(parent.data.metrics.find((m) => m.key === 'trials_logged')?.value).toBe(logged.size);
    const board = JSON.parse(await readFile(join(dir, 'mlruns', result.experimentId, result.runId, 'artifacts', 'leaderboard.json'), 'utf8')) as unknown[];
    expect(board).toHaveLength(result.trials.complete);
  });

  it('is reproducible under a seed with a trial cap (no --time-budget: no clock in the search)', async () => {
    const run = async (): Promise<{ board: unknown; proba: number[] }> => {
      const dir = await workspace();
      const result = await train({
        table: join(DATA, 'wine.csv'),
        target: 'target',
        autoOptimize: true,
        maxTrials: 10,
        cv: 3,
        seed: 42,
        jobs: 1,
        out: join(dir, 'model'),
        experiment: 'repro',
        store: new FileStore(join(dir, 'mlruns')),
        ensemble: true,
      });
      const pkg = await readModelPackage(join(dir, 'model'));
      const table = await readTable(join(DATA, 'wine.csv'));
      const X = featureMatrix(pkg, table, null, 'wine');
      // Probabilities when the shipped model has them (an SVM without Platt scaling has only labels).
      const output = pkg.model.predictProba ? pkg.model.predictProba(X).data : pkg.model.predict(X);
      return { board: result.leaderboard.map((r) => [r.trial, r.family, r.params, r.score]), proba: Array.from(output) };
    };
    const a = await run();
    const b = await run();
    expect(a.board).toHaveLength(10);
    expect(b.board).toEqual(a.board);
    expect(b.proba).toEqual(a.proba);
  });

  it('trains one family with --param values and regression targets', async () => {
    const dir = await workspace();
    const result = await train({
      table: join(DATA, 'diabetes.csv'),
      target: 'target',
      model: 'linear_regression',
      params: {},
      autoOptimize: false,
      timeBudget: 30,
      cv: 5,
      foldsFile: join(DATA, 'folds', 'diabetes.json'),
      seed: 0,
      jobs: 1,
      out: join(dir, 'model'),
      experiment: 'single',
      store: new FileStore(join(dir, 'mlruns')),
      ensemble: false,
    });
    expect(result.task).toBe('regression');
    expect(result.trials.total).toBe(1);
    // scikit-learn's Ridge+scale scores 0.4921 on these folds.
    expect(result.score).toBeGreaterThan(0.47);
  });

  it('refuses a missing target column, an unknown family and an infinite feature with one-line errors', async () => {
    const dir = await workspace();
    const base = { table: join(DATA, 'iris.csv'), autoOptimize: false, timeBudget: 5, cv: 5, seed: 0, jobs: 1, out: join(dir, 'm'), experiment: 'e', store: new FileStore(join(dir, 'mlruns')), ensemble: false };
    await expect(train({ ...base, target: 'nope', model: 'knn' })).rejects.toThrow(/no column "nope"/);
    await expect(train({ ...base, target: 'target', model: 'nope' })).rejects.toThrow(/unknown model family "nope"/);
    const tiny = join(dir, 'tiny.csv');
    await writeFile(tiny, 'a,b\n1,x\n2,x\n3,x\n');
    await expect(train({ ...base, table: tiny, target: 'b', model: 'knn' })).rejects.toThrow(/only one class/);
    const infinite = join(dir, 'infinite.csv');
    await writeFile(infinite, 'a,b,y\n1,2,p\n3,-Infinity,q\n5,6,p\n7,8,q\n');
    await expect(train({ ...base, table: infinite, target: 'y', model: 'knn' })).rejects.toThrow(/infinite\.csv: column "b" is infinite in row 2/);
  });

  it('keeps the segments of one file in one fold: near-duplicate segments with per-file random labels do not inflate the cv score', async () => {
    const dir = await workspace();
    // 40 files × 5 segments: each file's segments are near copies of one random point, its label a coin flip,
    // so nothing generalises across files and honest accuracy is about 0.5.
    const rng = new Rng(5);
    const lines = ['path,segment,start_s,end_s,f1,f2,f3,f4,label'];
    for (let file = 0; file < 40; file++) {
      const centre = [rng.next(), rng.next(), rng.next(), rng.next()];
      const label = rng.next() < 0.5 ? 'a' : 'b';
      for (let segment = 0; segment < 5; segment++) {
        const features = centre.map((v) => (v + 1e-3 * rng.next()).toFixed(6));
        lines.push([`audio/${label}/clip${file}.wav`, segment, segment * 0.25, segment * 0.25 + 0.5, ...features, label].join(','));
      }
    }
    const table = join(dir, 'segments.csv');
    await writeFile(table, `${lines.join('\n')}\n`);
    const store = new FileStore(join(dir, 'mlruns'));
    const base = { table, target: 'label', model: 'knn', params: {}, autoOptimize: false, cv: 5, seed: 1, jobs: 1, experiment: 'groups', store, ensemble: false };
    const grouped = await train({ ...base, out: join(dir, 'grouped') });
    const leaky = await train({ ...base, out: join(dir, 'leaky'), groupBy: null });
    expect(leaky.folds.groupedBy).toBeNull();
    expect(leaky.score).toBeGreaterThan(0.9);
    expect(grouped.folds).toEqual({ kind: 'stratified', n: 5, groupedBy: 'path', groups: 40 });
    // Chance is 0.5; 40 files give a standard error of about 0.08.
    expect(grouped.score).toBeLessThan(0.75);
    const run = await store.getRun(grouped.runId);
    expect(run.data.params.cv_groups).toBe('path');
    expect(run.data.params.n_groups).toBe('40');
    expect(run.data.tags['spotml.cv_groups']).toBe('path');
    // Metadata columns are never features.
    const pkg = JSON.parse(await readFile(join(dir, 'grouped', 'model.json'), 'utf8')) as { featureNames?: string[] };
    expect(JSON.stringify(pkg)).not.toMatch(/"segment"|"start_s"/);
    // A holdout of whole files, and --group-by naming the column explicitly.
    const held = await train({ ...base, out: join(dir, 'held'), holdoutFraction: 0.25, groupBy: 'path' });
    expect(held.folds).toMatchObject({ kind: 'holdout', groupedBy: 'path' });
    expect(held.score).toBeLessThan(0.8);
    await expect(train({ ...base, out: join(dir, 'x'), groupBy: 'speaker' })).rejects.toThrow(/--group-by speaker: the table has no such column/);
  }, 60_000);

  it('refuses a numeric feature column with a stray text cell, and names dropped text columns in a warning', async () => {
    const dir = await workspace();
    const iris = (await readFile(join(DATA, 'iris.csv'), 'utf8')).trimEnd().split('\n');
    const cells = iris[17].split(',');
    cells[2] = 'n/a?';
    const stray = join(dir, 'stray.csv');
    await writeFile(stray, `${[...iris.slice(0, 17), cells.join(','), ...iris.slice(18)].join('\n')}\n`);
    const base = { target: 'target', model: 'random_forest', autoOptimize: false, cv: 3, seed: 0, jobs: 1, experiment: 'e', store: new FileStore(join(dir, 'mlruns')), ensemble: false };
    await expect(train({ ...base, table: stray, out: join(dir, 'm1') })).rejects.toThrow(
      /stray\.csv: column "petal_length_\(cm\)" is numeric but row 17 holds "n\/a\?": fix the value, or leave the cell empty to mark it missing$/,
    );
    // An empty cell is missing (imputed), not an error.
    cells[2] = '';
    const blank = join(dir, 'blank.csv');
    await writeFile(blank, `${[...iris.slice(0, 17), cells.join(','), ...iris.slice(18)].join('\n')}\n`);
    const ok = await train({ ...base, table: blank, out: join(dir, 'm2') });
    expect(ok.warnings).toEqual([]);
    // A wholly text column is left out, with a warning through onWarning and in the result.
    const colours = ['red', 'green', 'blue'];
    const text = join(dir, 'colour.csv');
    await writeFile(text, `${iris.map((line, i) => `${line},${i === 0 ? 'colour' : colours[i % 3]}`).join('\n')}\n`);
    const heard: string[] = [];
    const result = await train({ ...base, table: text, out: join(dir, 'm3'), onWarning: (m) => heard.push(m) });
    expect(result.warnings).toEqual(heard);
    expect(heard).toHaveLength(1);
    expect(heard[0]).toMatch(/colour\.csv: text columns are not features and were left out: "colour"/);
    const pkg = await readModelPackage(join(dir, 'm3'));
    expect(pkg.document.featureNames).toEqual(['sepal_length_(cm)', 'sepal_width_(cm)', 'petal_length_(cm)', 'petal_width_(cm)']);
  });

  it('gives one model no time limit unless a budget is given, and names the budget when it stops the only trial', async () => {
    const dir = await workspace();
    const base = { target: 'target', model: 'random_forest', autoOptimize: false, cv: 5, seed: 0, jobs: 1, experiment: 'e', store: new FileStore(join(dir, 'mlruns')), ensemble: false };
    const free = await train({ ...base, table: join(DATA, 'iris.csv'), out: join(dir, 'free') });
    expect(free.timeBudget).toBeNull();
    expect(free.trials).toEqual({ total: 1, complete: 1, failed: 0 });
    // 300 trees × 5 folds on 1797 digits take well over the 1 s floor of a trial's limit.
    await expect(
      train({ ...base, table: join(DATA, 'digits.csv'), params: { n_estimators: '300' }, timeBudget: 1, out: join(dir, 'slow') }),
    ).rejects.toThrow(/^random_forest did not finish its cross-validation within --time-budget 1s: raise --time-budget, or leave it out to train one model without a time limit$/);
  }, 60_000);

  it('refuses folds and holdouts that cannot be scored, naming the option', async () => {
    const dir = await workspace();
    const base = { table: join(DATA, 'iris.csv'), target: 'target', model: 'knn', autoOptimize: false, cv: 5, seed: 0, jobs: 1, experiment: 'e', store: new FileStore(join(dir, 'mlruns')), ensemble: false, out: join(dir, 'm') };
    const gaps = join(dir, 'gaps.json');
    await writeFile(gaps, JSON.stringify({ fold: Array.from({ length: 150 }, (_, i) => (i % 2) * 2) }));
    await expect(train({ ...base, foldsFile: gaps })).rejects.toThrow(/^--folds .*gaps\.json: fold 1 has no rows but fold 2 does; number the folds 0\.\.k-1 without gaps$/);
    const single = join(dir, 'single.json');
    await writeFile(single, JSON.stringify({ fold: new Array(150).fill(0) }));
    await expect(train({ ...base, foldsFile: single })).rejects.toThrow(/single\.json: fold 0 holds all 150 rows, leaving none to train on/);
    const tiny = join(dir, 'tiny.csv');
    await writeFile(tiny, 'a,b,y\n1,2,p\n3,4,q\n5,6,r\n');
    await expect(train({ ...base, table: tiny, target: 'y', holdoutFraction: 0.34 })).rejects.toThrow(/^--holdout 0.34 of 3 rows puts no row in the validation split/);
  });
});
