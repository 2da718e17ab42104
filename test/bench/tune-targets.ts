/**
 * `tune --model gbdt --time-budget 60` on digits and breast_cancer (../shared/data) against the optuna_60s
 * scores in targets.json, using the shared fixed 5-fold splits so the scores are comparable.
 * Not a unit test (two minutes of wall time): run with `npx tsx test/bench/tune-targets.ts [--jobs N] [--budget S]`.
 * Uses the built dist/ when present (worker threads for --jobs > 1 need compiled JavaScript).
 * Writes bench-results/tune-targets.json (one entry per jobs setting; a rerun replaces its own entries).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathToFileURL } from 'node:url';
import { familyNames } from '../../src/learners/catalogue.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = resolve(ROOT, '../shared/data');
const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const jobs = flag('--jobs', 1);
const budget = flag('--budget', 60);

interface Targets {
  datasets: Record<string, { optuna_60s: { score: number; trials: number }; best_default: { model: string; score: number }; sklearn_defaults: Record<string, { score: number }> }>;
}
const built = join(ROOT, 'dist', 'api', 'tune.js');
const { tune } = (await import(existsSync(built) ? pathToFileURL(built).href : '../../src/api/tune.js')) as typeof import('../../src/api/tune.js');
const targets = JSON.parse(readFileSync(join(DATA, 'targets.json'), 'utf8')) as Targets;

const results: Record<string, unknown>[] = [];
if (!familyNames().includes('gbdt')) {
  results.push({ error: 'gbdt is not in the learner catalogue (src/learners/catalogue.ts)' });
} else {
  for (const name of ['digits', 'breast_cancer']) {
    const folds = JSON.parse(readFileSync(join(DATA, 'folds', `${name}.json`), 'utf8')) as { fold: number[] };
    const work = mkdtempSync(join(tmpdir(), `spotml-bench-${name}-`));
    const started = performance.now();
    const summary = await tune({
      table: join(DATA, `${name}.csv`),
      target: 'target',
      model: 'gbdt',
      timeBudget: budget,
      jobs,
      seed: 0,
      folds: folds.fold,
      storage: join(work, 'studies.jsonl'),
      trackingUri: null,
      plots: false,
      out: join(work, 'out'),
      cwd: work,
    });
    const target = targets.datasets[name];
    const row = {
      dataset: name,
      model: 'gbdt',
      jobs,
      timeBudgetSeconds: budget,
      wallSeconds: (performance.now() - started) / 1000,
      bestScore: summary.best?.score ?? null,
      bestParams: summary.best?.params ?? null,
      trials: summary.trials,
      optuna60s: target.optuna_60s,
      sklearnHistGradientBoosting: target.sklearn_defaults.HistGradientBoosting?.score ?? null,
      reachesOptuna60s: summary.best !== null && summary.best.score >= target.optuna_60s.score,
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }
}
mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
const outPath = join(ROOT, 'bench-results', 'tune-targets.json');
const previous = existsSync(outPath) ? ((JSON.parse(readFileSync(outPath, 'utf8')) as { runs?: Record<string, unknown> }).runs ?? {}) : {};
const runs = { ...previous, [`jobs=${jobs}`]: { ranAt: new Date().toISOString(), node: process.version, results } };
writeFileSync(outPath, `${JSON.stringify({ runs }, null, 2)}\n`);
