/** Model references: every accepted spelling, clear refusals, and stage / latest references resolved through a real file registry. */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../../src/api/registry.js';
import { parseModelRef, resolveModel } from '../../../src/registry/resolve.js';
import { readModelPackage } from '../../../src/registry/package.js';
import { openStores, type Stores } from '../../../src/tracking/open-store.js';
import { runCli } from '../../helpers/cli.js';
import { forestPackage, synthetic } from '../serve/fixtures.js';

describe('parseModelRef', () => {
  it('reads models:/ aliases and versions, runs:/ URIs and bare run ids', () => {
    expect(parseModelRef('models:/genre@champion')).toEqual({ kind: 'alias', name: 'genre', alias: 'champion' });
    expect(parseModelRef('models:/genre/12')).toEqual({ kind: 'version', name: 'genre', version: 12 });
    expect(parseModelRef('runs:/0123456789abcdef0123456789abcdef/model')).toEqual({ kind: 'run', runId: '0123456789abcdef0123456789abcdef', path: 'model' });
    expect(parseModelRef('runs:/0123456789abcdef0123456789abcdef')).toEqual({ kind: 'run', runId: '0123456789abcdef0123456789abcdef', path: 'model' });
    expect(parseModelRef('0123456789abcdef0123456789abcdef')).toEqual({ kind: 'run', runId: '0123456789abcdef0123456789abcdef', path: 'model' });
  });

  it('reads MLflow stage references (any case, canonicalised) and models:/name/latest', () => {
    expect(parseModelRef('models:/genre/Production')).toEqual({ kind: 'stage', name: 'genre', stage: 'Production' });
    expect(parseModelRef('models:/genre/production')).toEqual({ kind: 'stage', name: 'genre', stage: 'Production' });
    expect(parseModelRef('models:/genre/STAGING')).toEqual({ kind: 'stage', name: 'genre', stage: 'Staging' });
    expect(parseModelRef('models:/genre/None')).toEqual({ kind: 'stage', name: 'genre', stage: 'None' });
    expect(parseModelRef('models:/genre/archived')).toEqual({ kind: 'stage', name: 'genre', stage: 'Archived' });
    expect(parseModelRef('models:/genre/latest')).toEqual({ kind: 'latest', name: 'genre' });
    expect(parseModelRef('models:/genre/Latest')).toEqual({ kind: 'latest', name: 'genre' });
  });

  it('takes an existing folder as a package folder', async () => {
    const dir = await mkdtemp(`${tmpdir()}/spotml-ref-`);
    expect(parseModelRef(dir)).toEqual({ kind: 'dir', dir });
  });

  it('refuses malformed references with the accepted forms', () => {
    expect(() => parseModelRef('models:/genre')).toThrow(/models:\/<name>@<alias>/);
    expect(() => parseModelRef('models:/genre/0')).toThrow(/models:\/<name>@<alias>/);
    expect(() => parseModelRef('models:/genre@')).toThrow(/models:\/<name>@<alias>/);
    expect(() => parseModelRef('models:/genre/Prod')).toThrow(/models:\/<name>\/<stage> \(None\|Staging\|Production\|Archived\) or models:\/<name>\/latest/);
    expect(() => parseModelRef('/no/such/folder')).toThrow(/not a package folder/);
  });
});

describe('stage and latest references through the registry', () => {
  let root: string;
  let stores: Stores;
  let table: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'spotml-resolve-'));
    stores = openStores({ trackingUri: join(root, 'mlruns') });
    // v1 predicts x/y, v2 a/b, v3 x/y again: which version a reference reached shows in its predictions.
    for (const [i, classes] of [['x', 'y'], ['a', 'b'], ['x', 'y']].entries()) {
      await forestPackage({ dir: join(root, `v${i + 1}`), trees: 8, classes, seed: i + 1 });
      await register({ stores, source: join(root, `v${i + 1}`), name: 'birds' });
    }
    await stores.registry.transitionStage('birds', 1, 'Production', false);
    await stores.registry.transitionStage('birds', 2, 'Staging', false);
    const data = synthetic(60, 4, 2, 9);
    const rows = Array.from({ length: data.X.rows }, (_, i) => [...data.X.data.subarray(i * 4, i * 4 + 4), ['x', 'y'][data.y[i]]].join(','));
    table = join(root, 'holdout.csv');
    await writeFile(table, `${[...data.featureNames, 'label'].join(',')}\n${rows.join('\n')}\n`);
  });

  it('resolves models:/name/<stage> to the highest version in that stage and models:/name/latest to the highest version, verified', async () => {
    const production = await resolveModel('models:/birds/production', stores);
    expect(production).toMatchObject({ name: 'birds', version: 1, verified: true });
    expect((await readModelPackage(production.dir)).labels?.classes).toEqual(['x', 'y']);
    await production.dispose();
    expect(existsSync(production.dir)).toBe(false);
    expect((await resolveModel('models:/birds/Staging', stores)).version).toBe(2);
    expect((await resolveModel('models:/birds/None', stores)).version).toBe(3);
    expect((await resolveModel('models:/birds/latest', stores)).version).toBe(3);
    // A newer version entering the stage wins; archived versions still count for latest.
    await stores.registry.transitionStage('birds', 3, 'Production', false);
    expect((await resolveModel('models:/birds/Production', stores)).version).toBe(3);
    await stores.registry.transitionStage('birds', 3, 'Archived', false);
    expect((await resolveModel('models:/birds/Production', stores)).version).toBe(1);
    expect((await resolveModel('models:/birds/latest', stores)).version).toBe(3);
    await expect(resolveModel('models:/nobody/latest', stores)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses a stage no version is in, saying how to put one there', async () => {
    const empty = openStores({ trackingUri: join(root, 'mlruns-empty') });
    await forestPackage({ dir: join(root, 'lonely'), trees: 3, seed: 4 });
    await register({ stores: empty, source: join(root, 'lonely'), name: 'lonely' });
    await expect(resolveModel('models:/lonely/Production', empty)).rejects.toThrow(
      'registered model "lonely" has no version in stage Production: move one there with spotml promote lonely --version <n> --stage Production',
    );
  });

  it('spotml evaluate takes models:/name/<stage> and models:/name/latest', async () => {
    await stores.registry.transitionStage('birds', 1, 'Production', false);
    const production = await runCli(['--json', 'evaluate', 'models:/birds/Production', '--data', table, '--report-dir', 'r-prod', '--no-plots', '--no-importance', '--tracking-uri', join(root, 'mlruns')], root);
    expect(production.err).toBe('');
    expect(production.code).toBe(0);
    const prod = JSON.parse(production.out) as { metrics: { accuracy: number } };
    // v1 was fitted on the same clusters with the same labels.
    expect(prod.metrics.accuracy).toBeGreaterThan(0.7);
    await stores.registry.transitionStage('birds', 2, 'Production', false);
    const staged = await runCli(['--json', 'evaluate', 'models:/birds/production', '--data', table, '--report-dir', 'r-prod2', '--no-plots', '--no-importance', '--tracking-uri', join(root, 'mlruns')], root);
    // v2 knows only a/b: evaluate refuses the table's x/y labels, naming v2's classes.
    expect(staged.code).toBe(3);
    expect(staged.out).toMatch(/is not a class the model knows \(a, b\)/);
    const latest = await runCli(['--json', 'evaluate', 'models:/birds/latest', '--data', table, '--report-dir', 'r-latest', '--no-plots', '--no-importance', '--tracking-uri', join(root, 'mlruns')], root);
    expect(latest.code).toBe(0);
    expect((JSON.parse(latest.out) as { metrics: { accuracy: number } }).metrics.accuracy).toBeGreaterThan(0.7);
  });
});
