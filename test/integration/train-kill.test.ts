/**
 * Crash safety of `train --auto-optimize`: a search killed with SIGKILL at random points leaves a store that
 * reads cleanly, with every trial that finished before the kill recorded as a finished child run (params and
 * score), and a later train into the same store still works.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { train } from '../../src/api/train.js';
import { Rng } from '../../src/learners/rng.js';
import { FileStore } from '../../src/tracking/file-store/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WINE = join(ROOT, '..', 'shared', 'data', 'wine.csv');
const KILLS = 5;

function strictYaml(text: string, file: string): Record<string, unknown> {
  const doc = parseDocument(text, { strict: true, uniqueKeys: true });
  expect(doc.errors, file).toEqual([]);
  return doc.toJS() as Record<string, unknown>;
}

async function trialRunsFinished(root: string): Promise<number> {
  let finished = 0;
  for (const exp of await readdir(root, { withFileTypes: true })) {
    if (!exp.isDirectory() || exp.name === '.trash' || exp.name === 'models') continue;
    for (const run of await readdir(join(root, exp.name), { withFileTypes: true })) {
      const tag = join(root, exp.name, run.name, 'tags', 'mlflow.parentRunId');
      const meta = join(root, exp.name, run.name, 'meta.yaml');
      if (run.isDirectory() && existsSync(tag) && existsSync(meta) && /status: 3/.test(await readFile(meta, 'utf8'))) finished++;
    }
  }
  return finished;
}

describe('train --auto-optimize killed mid-search', () => {
  it(`leaves a readable store with the finished trials recorded, ${KILLS} kills`, { timeout: 180_000 }, async () => {
    expect(existsSync(join(ROOT, 'dist', 'api', 'train.js')), 'run npm run build first').toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'spotml-train-kill-'));
    const root = join(dir, 'mlruns');
    const rng = new Rng(5);
    for (let k = 0; k < KILLS; k++) {
      const before = existsSync(root) ? await trialRunsFinished(root) : 0;
      const code = `const { train } = await import(${JSON.stringify(join(ROOT, 'dist', 'api', 'train.js'))});
const { FileStore } = await import(${JSON.stringify(join(ROOT, 'dist', 'tracking', 'file-store', 'index.js'))});
await train({ table: ${JSON.stringify(WINE)}, target: 'target', autoOptimize: true, timeBudget: 60, cv: 3, seed: ${k}, jobs: 1, out: ${JSON.stringify(join(dir, `model-${k}`))}, experiment: 'killed', store: new FileStore(${JSON.stringify(root)}), ensemble: true, families: ['gaussian_nb', 'knn', 'logistic_regression', 'decision_tree'] });`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'ignore' });
      // Kill once the child has finished a trial of its own, after a further random delay.
      const deadline = Date.now() + 60_000;
      while (child.exitCode === null && Date.now() < deadline && (existsSync(root) ? await trialRunsFinished(root) : 0) <= before) {
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, rng.next() * 300));
      expect(child.exitCode, 'the search ended before it could be killed').toBeNull();
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      expect(await trialRunsFinished(root)).toBeGreaterThan(before);
    }

    // Every meta.yaml is strict YAML (MLflow's safe_load reads it) and the store reads through spotml.
    const store = new FileStore(root);
    const experiment = await store.getExperimentByName('killed');
    expect(experiment).toBeDefined();
    const runs = await store.listRuns(experiment!.experimentId);
    for (const info of runs) {
      strictYaml(await readFile(join(root, info.experimentId, info.runId, 'meta.yaml'), 'utf8'), info.runId);
      const run = await store.getRun(info.runId);
      if (run.data.tags['mlflow.parentRunId'] && info.status === 'FINISHED') {
        expect(run.data.params.family, `trial run ${info.runId} has its family`).toBeTruthy();
        expect(run.data.metrics.some((m) => m.key === 'cv_accuracy' || m.key === 'fit_seconds'), `trial run ${info.runId} has its score`).toBe(true);
      }
    }
    expect(runs.filter((r) => r.status === 'FINISHED').length).toBeGreaterThanOrEqual(KILLS);

    // And the store takes a complete run afterwards.
    const result = await train({ table: WINE, target: 'target', autoOptimize: true, timeBudget: 20, maxTrials: 4, cv: 3, seed: 9, jobs: 1, out: join(dir, 'model-final'), experiment: 'killed', store, ensemble: true });
    expect((await store.getRun(result.runId)).info.status).toBe('FINISHED');
  });
});
