/**
 * Class labels written as numbers stay numbers from the table to the served answer, as with scikit-learn
 * (pandas reads the column as int64) and `mlflow models serve` (answers `[0, 1]`, not `["0", "1"]`); labels in
 * any other form ("01", "1.0", words) stay text. Train and tune read a target alike.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../src/api/train.js';
import { evaluate } from '../../src/api/evaluate.js';
import { prepareData } from '../../src/api/tune.js';
import { readTable } from '../../src/data/table.js';
import { classLabelsFromText, inferTask, targetValues } from '../../src/data/target.js';
import { readModelPackage } from '../../src/registry/package.js';
import { AccessLog } from '../../src/serve/access-log.js';
import { createServeApp } from '../../src/serve/app.js';
import { createAuthenticator } from '../../src/serve/auth.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { ModelHolder } from '../../src/serve/model-holder.js';
import { DirModelSource } from '../../src/serve/model-source.js';
import { Rng } from '../../src/learners/rng.js';

/** Two well-separated classes per label, `label(k)` naming class k. */
async function labelledTable(dir: string, label: (k: number) => string): Promise<string> {
  const rng = new Rng(3);
  const lines = ['a,b,label'];
  for (let i = 0; i < 60; i++) {
    const k = i % 3;
    lines.push(`${(rng.normal() + 4 * k).toFixed(4)},${(rng.normal() - 2 * k).toFixed(4)},${label(k)}`);
  }
  const path = join(dir, 'data.csv');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

async function trainOn(dir: string, table: string): Promise<string> {
  const out = join(dir, 'model');
  await train({ table, target: 'label', model: 'random_forest', params: {}, autoOptimize: false, cv: 3, seed: 1, jobs: 1, out, experiment: 'labels', ensemble: false });
  return out;
}

describe('class labels', () => {
  it('reads canonically written numbers as numbers and anything else as text', () => {
    expect(classLabelsFromText(['2', '10', '-3', '2.5', '0'])).toEqual([2, 10, -3, 2.5, 0]);
    for (const texts of [['1', '01'], ['1.0', '2'], ['1', '+2'], ['1', ' 2'], ['1e3', '2'], ['-0', '1'], ['1', 'cat'], ['Infinity', '1']]) {
      expect(classLabelsFromText(texts)).toEqual(texts);
    }
    expect(inferTask(['1', '2', '1'])).toBe('classification');
    expect(inferTask(['1.5', '2', '1'])).toBe('regression');
    expect(inferTask(['a', '2'])).toBe('classification');
    // Numeric order, as scikit-learn's classes_: 2 before 10 (text order would put "10" first).
    expect(targetValues(['10', '2', '10'], 'classification', 't.csv', 'y').labels?.classes).toEqual([2, 10]);
    expect(() => targetValues(['1', '', '2'], 'classification', 't.csv', 'y')).toThrow('t.csv: target "y" is empty in row 2; drop or label those rows');
    expect(() => targetValues(['1.5', 'n/a'], 'regression', 't.csv', 'y')).toThrow(/t\.csv: target "y" is not a finite number in row 2 \("n\/a"\)/);
    expect(() => targetValues(['a', 'a'], 'classification', 't.csv', 'y')).toThrow(/has only one class/);
  });

  it('trains, evaluates and serves integer labels as numbers; tune reads them alike', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotml-int-labels-'));
    const table = await labelledTable(dir, (k) => String([2, 10, 7][k]));
    const modelDir = await trainOn(dir, table);
    const pkg = await readModelPackage(modelDir);
    expect(pkg.labels?.classes).toEqual([2, 7, 10]);

    const tuned = prepareData(await readTable(table, { stringColumns: ['label'] }), 'label', undefined, [], 'data.csv');
    expect(tuned.labels?.classes).toEqual([2, 7, 10]);

    const evaluation = await evaluate({ modelDir, data: table, reportDir: join(dir, 'report'), importance: false, plots: false, seed: 0 });
    expect(evaluation.evaluation.metrics.accuracy).toBeGreaterThan(0.9);

    const holder = new ModelHolder(new DirModelSource(modelDir, null), { runtime: 'native' });
    await holder.start();
    const app = createServeApp({ holder, auth: await createAuthenticator({}), metrics: new ServeMetrics(), log: new AccessLog({ write: () => undefined }) });
    const body = JSON.stringify({ dataframe_split: { columns: ['a', 'b'], data: [[0, 0], [4, -2], [8, -4]] } });
    const response = await app.request('/invocations?proba=true', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const answer = (await response.json()) as { predictions: unknown[]; classes: unknown[] };
    expect(answer.predictions).toEqual([2, 10, 7]);
    expect(answer.classes).toEqual([2, 7, 10]);
    await holder.close();
  });

  it('keeps labels that are not canonical numbers as text ("01" stays "01")', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotml-text-labels-'));
    const table = await labelledTable(dir, (k) => `0${k + 1}`);
    const pkg = await readModelPackage(await trainOn(dir, table));
    expect(pkg.labels?.classes).toEqual(['01', '02', '03']);
  });
});
