/**
 * The AutoML acceptance run: `train --auto-optimize --time-budget 60` on every data set in
 * ../shared/data with its fixed 5-fold split, against the goal in targets.json.
 * Writes bench-results/automl-targets.json. Run: npm run build && npx tsx test/bench/automl-targets.ts [budget] [names…]
 */
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/api/train.js';
import { FileStore } from '../../src/tracking/file-store/index.js';

const DATA = new URL('../../../shared/data/', import.meta.url).pathname;

interface Target {
  task: string;
  goal: number;
  best_default: { model: string; score: number } | number;
  optuna_60s: { score: number };
}

async function main(): Promise<void> {
  const budget = Number(process.argv[2] ?? 60);
  const targets = JSON.parse(await readFile(join(DATA, 'targets.json'), 'utf8')) as { datasets: Record<string, Target> };
  const names = process.argv.slice(3).length > 0 ? process.argv.slice(3) : Object.keys(targets.datasets);
  const rows = [];
  for (const name of names) {
    const target = targets.datasets[name];
    const dir = await mkdtemp(join(tmpdir(), `spotml-automl-${name}-`));
    const started = performance.now();
    const result = await train({
      table: join(DATA, `${name}.csv`),
      target: 'target',
      autoOptimize: true,
      timeBudget: budget,
      cv: 5,
      foldsFile: join(DATA, 'folds', `${name}.json`),
      seed: 0,
      jobs: Math.max(1, cpus().length),
      out: join(dir, 'model'),
      experiment: `bench-${name}`,
      store: new FileStore(join(dir, 'mlruns')),
      ensemble: true,
    });
    const wall = (performance.now() - started) / 1000;
    const row = {
      dataset: name,
      metric: result.metric,
      score: Number(result.score.toFixed(4)),
      goal: target.goal,
      optuna_60s: target.optuna_60s.score,
      met: result.score >= target.goal,
      model: result.model.kind === 'ensemble' ? `ensemble(${result.model.members.map((m) => m.family).join('+')})` : result.model.family,
      trials: result.trials.total,
      failed: result.trials.failed,
      wall_seconds: Number(wall.toFixed(2)),
      within_budget: wall <= budget * 1.05,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  // Budget adherence: a 10 s budget on the largest data set (digits) must end within 11 s, refit included.
  const shortDir = await mkdtemp(join(tmpdir(), 'spotml-automl-short-'));
  const shortStart = performance.now();
  const short = await train({
    table: join(DATA, 'digits.csv'),
    target: 'target',
    autoOptimize: true,
    timeBudget: 10,
    cv: 5,
    foldsFile: join(DATA, 'folds', 'digits.json'),
    seed: 0,
    jobs: Math.max(1, cpus().length),
    out: join(shortDir, 'model'),
    experiment: 'bench-short',
    store: new FileStore(join(shortDir, 'mlruns')),
    ensemble: true,
  });
  const shortWall = (performance.now() - shortStart) / 1000;
  const budget10 = { dataset: 'digits', budgetSeconds: 10, wall_seconds: Number(shortWall.toFixed(2)), within_11s: shortWall <= 11, score: Number(short.score.toFixed(4)), trials: short.trials.total };
  console.log(JSON.stringify(budget10));
  await mkdir('bench-results', { recursive: true });
  await writeFile('bench-results/automl-targets.json', `${JSON.stringify({ budgetSeconds: budget, jobs: cpus().length, node: process.version, date: new Date().toISOString(), results: rows, budget10 }, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
