/**
 * register / promote / models end to end on real iris models trained in-process: checksums, encryption and
 * tamper refusal, --if-better, stages, version numbers never reused, the audit log, tenancy, and the CLI.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { deleteVersion, listModels, promote, register, showModel } from '../../src/api/registry.js';
import { train } from '../../src/api/train.js';
import { main } from '../../src/cli/main.js';
import { readTable } from '../../src/data/table.js';
import { readAuditLog } from '../../src/registry/file-registry.js';
import { CHECKSUMS_FILE, CHECKSUMS_TAG, buildManifest, manifestText, sha256Hex } from '../../src/registry/integrity.js';
import { featureMatrix, readModelPackage } from '../../src/registry/package.js';
import { resolveModel } from '../../src/registry/resolve.js';
import { openStores, type Stores } from '../../src/tracking/open-store.js';

const DATA = new URL('../../../shared/data/', import.meta.url).pathname;
const IRIS = join(DATA, 'iris.csv');

interface Trained {
  runId: string;
  out: string;
}

let root: string;
let good: Trained; // knn: ~0.96 on iris
let weak: Trained; // a depth-1 tree: ~0.67 on iris (it can tell only one class apart)
const key = randomBytes(32);
const keyEnv = { SPOTML_MODEL_KEY: key.toString('base64') };

async function trainOne(dir: string, model: string, params: Record<string, string>, experiment = 'test', tenant?: string): Promise<Trained> {
  const stores = openStores({ trackingUri: join(dir, 'mlruns'), tenant });
  const out = join(dir, `${model}-${randomBytes(3).toString('hex')}`);
  const result = await train({
    table: IRIS,
    target: 'target',
    model,
    params,
    autoOptimize: false,
    timeBudget: 30,
    cv: 3,
    seed: 1,
    jobs: 1,
    out,
    experiment,
    store: stores.tracking,
    ensemble: false,
  });
  return { runId: result.runId, out };
}

function storesAt(tenant?: string): Stores {
  return openStores({ trackingUri: join(root, 'mlruns'), tenant, user: 'tester' });
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

async function predictIris(dir: string): Promise<string[]> {
  const pkg = await readModelPackage(dir);
  const table = await readTable(IRIS, { stringColumns: ['target'] });
  return pkg.labels!.decode(pkg.model.predict(featureMatrix(pkg, table, null, 'iris.csv'))).map(String);
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void): Writable => new Writable({ write: (chunk, _enc, done) => (append(String(chunk)), done()) });
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    const code = await main(['node', 'spotml', '--json', ...args], { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), stdinIsTTY: false });
    return { code, stdout, stderr };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotml-register-'));
  good = await trainOne(root, 'knn', { n_neighbors: '5' });
  weak = await trainOne(root, 'decision_tree', { max_depth: '1' });
});

describe('register', () => {
  it('registers a run in place with a sha256 for every file, verified on load', async () => {
    const stores = storesAt();
    const r = await register({ stores, source: good.runId, name: 'iris', tags: { team: 'audio' }, description: 'knn' });
    expect(r.version).toBe(1);
    expect(r.createdModel).toBe(true);
    const run = await stores.tracking.getRun(good.runId);
    expect(r.source).toBe(`${run.info.artifactUri}/model`);
    const artifactDir = fileURLToPath(r.source);
    const manifest = JSON.parse(await readFile(join(artifactDir, CHECKSUMS_FILE), 'utf8')) as { files: Record<string, string> };
    const onDisk = (await readdir(artifactDir)).filter((f) => f !== CHECKSUMS_FILE).sort();
    expect(Object.keys(manifest.files).sort()).toEqual(onDisk);
    for (const file of onDisk) expect(manifest.files[file]).toBe(await sha256File(join(artifactDir, file)));
    const version = await stores.registry.getModelVersion('iris', 1);
    expect(version.tags[CHECKSUMS_TAG]).toBe(await sha256File(join(artifactDir, CHECKSUMS_FILE)));
    expect(version.tags.team).toBe('audio');
    expect(version.description).toBe('knn');
    expect(version.runId).toBe(good.runId);

    const resolved = await resolveModel('models:/iris/1', stores);
    expect(resolved.verified).toBe(true);
    expect(await predictIris(resolved.dir)).toEqual(await predictIris(good.out));
    await resolved.dispose();
    expect(existsSync(resolved.dir)).toBe(false);
  });

  it('registers a train --out folder as its training run\'s logged copy, an edited one under its own run, and never reuses a deleted version number', async () => {
    const stores = storesAt();
    // The folder train wrote holds the same files as the model its run logged: lineage reaches that run.
    const r2 = await register({ stores, source: weak.out, name: 'iris' });
    expect(r2.version).toBe(2);
    expect(r2.runId).toBe(weak.runId);
    const trainingRun = await stores.tracking.getRun(weak.runId);
    expect(trainingRun.data.tags['spotml.command']).toBe('train');
    expect(r2.source).toBe(`${trainingRun.info.artifactUri}/model`);
    expect((await showModel(stores, 'iris', 2)).version?.lineage.run?.runName).toBe(trainingRun.info.runName);
    await deleteVersion(stores, 'iris', 2);
    await expect(stores.registry.getModelVersion('iris', 2)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A folder that differs from what the run logged (here one extra file) is registered as it is, under a run of its own.
    const edited = await mkdtemp(join(tmpdir(), 'spotml-register-edited-'));
    await cp(weak.out, edited, { recursive: true });
    await writeFile(join(edited, 'NOTES.txt'), 'tuned by hand\n');
    const r3 = await register({ stores, source: edited, name: 'iris' });
    expect(r3.version).toBe(3);
    expect(r3.runId).not.toBe(weak.runId);
    const run = await stores.tracking.getRun(r3.runId);
    expect(run.data.tags['spotml.command']).toBe('register');
    expect(r3.source).toBe(`${run.info.artifactUri}/model`);
    expect(r3.files).toContain('NOTES.txt');
  });

  it('refuses bad names and reserved tags before writing anything', async () => {
    const stores = storesAt();
    for (const name of ['../evil', 'a/b', 'a\\b', '100%', '', '..', ' spaced ', 'trailing ']) {
      await expect(register({ stores, source: good.runId, name }), name).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
    await expect(register({ stores, source: good.runId, name: 'x', tags: { 'spotml.checksums_sha256': 'forged' } })).rejects.toMatchObject({ code: 'USAGE' });
    expect(existsSync(join(root, 'mlruns', 'models', 'x'))).toBe(false);
    expect(existsSync(join(root, 'mlruns', 'evil'))).toBe(false);
  });

  it('refuses a version whose run artifact was changed after registration, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotml-tamper-'));
    const trained = await trainOne(dir, 'knn', { n_neighbors: '3' });
    const stores = openStores({ trackingUri: join(dir, 'mlruns') });
    const r = await register({ stores, source: trained.runId, name: 'm' });
    const file = join(fileURLToPath(r.source), 'model.json');
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x20;
    await writeFile(file, bytes);
    await expect(resolveModel('models:/m/1', stores)).rejects.toMatchObject({ code: 'STORE', details: { file: 'model.json' } });
    // Registering the same run again does not bless the change: the in-place manifest is checked first.
    await expect(register({ stores, source: trained.runId, name: 'm' })).rejects.toMatchObject({ code: 'STORE' });
  });
});

describe('encryption', () => {
  it('stores only ciphertext, loads with the key, and refuses no key, a wrong key and a flipped byte', async () => {
    const stores = storesAt();
    const r = await register({ stores, source: good.out, name: 'secret', encrypt: true, env: keyEnv });
    expect(r.encrypted).toBe(true);
    const dir = fileURLToPath(r.source);
    const files = (await readdir(dir)).sort();
    expect(files.filter((f) => f !== CHECKSUMS_FILE).every((f) => f.endsWith('.enc'))).toBe(true);
    const plainModel = await readFile(join(good.out, 'model.json'));
    for (const f of files) expect((await readFile(join(dir, f))).includes(plainModel.subarray(0, 64))).toBe(false);

    const resolved = await resolveModel('models:/secret/1', stores, { env: keyEnv });
    expect(resolved.encrypted).toBe(true);
    expect(await readFile(join(resolved.dir, 'model.json'))).toEqual(plainModel);
    expect(await predictIris(resolved.dir)).toEqual(await predictIris(good.out));
    await resolved.dispose();

    await expect(resolveModel('models:/secret/1', stores, { env: {} })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(resolveModel('models:/secret/1', stores, { env: { SPOTML_MODEL_KEY: randomBytes(32).toString('hex') } })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });

    // One flipped byte in an encrypted artifact: the checksum refuses it …
    const target = join(dir, 'model.json.enc');
    const original = await readFile(target);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 40] ^= 0x01;
    await writeFile(target, tampered);
    await expect(resolveModel('models:/secret/1', stores, { env: keyEnv })).rejects.toMatchObject({ code: 'STORE', details: { file: 'model.json.enc' } });
    // … and with the manifest and the registry tag forged to match, AES-GCM still refuses it.
    const text = manifestText(await buildManifest(dir, { algorithm: 'AES-256-GCM', keyId: r.keyId as string }));
    await writeFile(join(dir, CHECKSUMS_FILE), text);
    await stores.registry.setModelVersionTag('secret', 1, CHECKSUMS_TAG, sha256Hex(text));
    await expect(resolveModel('models:/secret/1', stores, { env: keyEnv })).rejects.toThrow(/model\.json\.enc" fails AES-256-GCM authentication/);
    // Put the original back (bytes, manifest and tag): it loads again, so the refusals above were about the flip.
    await writeFile(target, original);
    const repaired = manifestText(await buildManifest(dir, { algorithm: 'AES-256-GCM', keyId: r.keyId as string }));
    await writeFile(join(dir, CHECKSUMS_FILE), repaired);
    await stores.registry.setModelVersionTag('secret', 1, CHECKSUMS_TAG, sha256Hex(repaired));
    const restored = await resolveModel('models:/secret/1', stores, { env: keyEnv });
    await restored.dispose();
  });

  it('keeps the run\'s plaintext artifact and adds an encrypted copy when registering a run', async () => {
    const stores = storesAt();
    const r = await register({ stores, source: `runs:/${weak.runId}/model`, name: 'secret', encrypt: true, env: keyEnv });
    expect(r.artifactPath).toMatch(/^model-encrypted-[0-9a-f]{8}$/);
    expect(r.runId).toBe(weak.runId);
    const resolved = await resolveModel(`models:/secret/${r.version}`, stores, { env: keyEnv });
    expect(await predictIris(resolved.dir)).toEqual(await predictIris(weak.out));
    await resolved.dispose();
  });
});

describe('promote', () => {
  it('sets aliases, and with --if-better promotes only a significantly better version', async () => {
    const stores = storesAt();
    // iris: v1 knn, v3 depth-1 tree.
    const first = await promote({ stores, name: 'iris', version: 3, alias: 'champion', ifBetter: { data: IRIS } });
    expect(first).toMatchObject({ promoted: true, previous: null });
    expect(first.reason).toMatch(/had no holder/);

    const better = await promote({ stores, name: 'iris', version: 1, alias: 'champion', ifBetter: { data: IRIS } });
    expect(better.promoted).toBe(true);
    expect(better.previous).toBe(3);
    expect(better.comparison).toMatchObject({ decision: 'better', test: 'mcnemar-exact', holderVersion: 3, rows: 150 });
    expect((await stores.registry.getModelVersionByAlias('iris', 'champion')).version).toBe(1);

    const worse = await promote({ stores, name: 'iris', version: 3, alias: 'champion', ifBetter: { data: IRIS, metric: 'f1_macro' } });
    expect(worse.promoted).toBe(false);
    expect(worse.comparison).toMatchObject({ decision: 'worse', metric: 'f1_macro', test: 'paired-bootstrap' });
    expect(worse.reason).toMatch(/not significantly better than version 1/);
    expect((await stores.registry.getModelVersionByAlias('iris', 'champion')).version).toBe(1);

    // The comparison's numbers are the metric itself: knn's accuracy on iris from its own predictions.
    const truth = (await readTable(IRIS, { stringColumns: ['target'] })).columns[4] as string[];
    const predicted = await predictIris(good.out);
    expect(better.comparison?.candidateValue).toBeCloseTo(predicted.filter((p, i) => p === truth[i]).length / truth.length, 12);
  });

  it('moves stages and archives the previous holder', async () => {
    const stores = storesAt();
    await promote({ stores, name: 'iris', version: 3, stage: 'Production' });
    const r = await promote({ stores, name: 'iris', version: 1, stage: 'production', archiveExisting: true });
    expect(r).toMatchObject({ promoted: true, stage: 'Production', previous: 3 });
    expect((await stores.registry.getModelVersion('iris', 3)).currentStage).toBe('Archived');
    expect((await stores.registry.getModelVersion('iris', 1)).currentStage).toBe('Production');
    await expect(promote({ stores, name: 'iris', version: 1, stage: 'Archived', archiveExisting: true })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(promote({ stores, name: 'iris', version: 1 })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(promote({ stores, name: 'iris', version: 2, alias: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(promote({ stores, name: 'iris', version: 1, alias: 'latest' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('models list / show and the audit log', () => {
  it('lists versions with aliases and metrics, and shows lineage with the alias history', async () => {
    const stores = storesAt();
    const models = await listModels(stores);
    const iris = models.find((m) => m.name === 'iris');
    expect(iris?.aliases).toEqual({ champion: 1 });
    expect(iris?.versions.map((v) => v.version)).toEqual([3, 1]);
    expect(iris?.versions.find((v) => v.version === 1)?.metrics.cv_accuracy).toBeGreaterThan(0.9);

    const shown = await showModel(stores, 'iris', 1);
    const v = shown.version!;
    expect(v.integrity.ok).toBe(true);
    expect(v.lineage.runId).toBe(good.runId);
    expect(v.lineage.dataHash).toBe(await sha256File(IRIS));
    expect(v.lineage.family).toBe('knn');
    expect(v.lineage.aliasHistory?.map((e) => [e.alias, e.from, e.to])).toEqual([['champion', 3, 1], [null, 'None', 'Production']]);
  });

  it('appends who, when, what, before and after for every register, promote and delete', async () => {
    const entries = await readAuditLog(join(root, 'mlruns'));
    const actions = entries.filter((e) => e.model === 'iris').map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['registered_model.create', 'model_version.create', 'model_version.delete', 'alias.set', 'model_version.transition_stage']));
    const moved = entries.find((e) => e.action === 'alias.set' && e.before === 3 && e.after === 1);
    expect(moved).toMatchObject({ user: 'tester', model: 'iris', alias: 'champion' });
    expect(Number.isNaN(Date.parse(moved!.time))).toBe(false);
    for (const e of entries) expect(e.user).toBe('tester');
  });
});

describe('tenancy', () => {
  it('keeps one tenant out of another tenant\'s models and runs', async () => {
    const acme = openStores({ trackingUri: join(root, 'mlruns'), tenant: 'acme' });
    const globex = openStores({ trackingUri: join(root, 'mlruns'), tenant: 'globex' });
    const acmeRun = await trainOne(root, 'knn', { n_neighbors: '7' }, 'acme-exp', 'acme');
    const r = await register({ stores: acme, source: acmeRun.runId, name: 'private' });
    expect(r.version).toBe(1);
    expect((await listModels(acme)).map((m) => m.name)).toEqual(['private']);

    expect((await listModels(globex)).map((m) => m.name)).toEqual([]);
    await expect(showModel(globex, 'private')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(promote({ stores: globex, name: 'private', version: 1, alias: 'champion' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(deleteVersion(globex, 'private', 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(register({ stores: globex, source: acmeRun.runId, name: 'stolen' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(resolveModel(acmeRun.runId, globex)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(resolveModel('models:/private/1', globex)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // acme's model is unchanged and still its own.
    expect((await showModel(acme, 'private', 1)).version?.integrity.ok).toBe(true);
  });
});

describe('CLI', () => {
  it('register, promote (not promoted is exit 0 with promoted: false), models list/show/delete', async () => {
    const uri = join(root, 'cli-mlruns');
    const reg = await cli(['register', good.out, '--name', 'cli-model', '--tags', 'team=a,stage=dev', '--tracking-uri', uri]);
    expect(reg.code, reg.stderr + reg.stdout).toBe(0);
    expect(JSON.parse(reg.stdout)).toMatchObject({ name: 'cli-model', version: 1 });
    const reg2 = await cli(['register', weak.out, '--name', 'cli-model', '--encrypt', '--tracking-uri', uri], keyEnv);
    expect(JSON.parse(reg2.stdout)).toMatchObject({ version: 2, encrypted: true });
    const noKey = await cli(['register', weak.out, '--name', 'cli-model', '--encrypt', '--tracking-uri', uri], { SPOTML_MODEL_KEY: '' });
    expect(noKey.code).toBe(2);
    expect(JSON.parse(noKey.stdout).error.message).toMatch(/SPOTML_MODEL_KEY/);

    expect((await cli(['promote', 'cli-model', '--version', '1', '--alias', 'champion', '--tracking-uri', uri])).code).toBe(0);
    const gated = await cli(['promote', 'cli-model', '--version', '2', '--alias', 'champion', '--if-better', '--data', IRIS, '--tracking-uri', uri], keyEnv);
    expect(gated.code, gated.stderr + gated.stdout).toBe(0);
    expect(JSON.parse(gated.stdout)).toMatchObject({ promoted: false, previous: 1 });
    const missingData = await cli(['promote', 'cli-model', '--version', '2', '--alias', 'champion', '--if-better', '--tracking-uri', uri]);
    expect(missingData.code).toBe(2);

    const list = JSON.parse((await cli(['models', 'list', '--tracking-uri', uri])).stdout) as { models: { name: string; versions: { version: number; encrypted: boolean }[] }[] };
    expect(list.models[0].versions.map((v) => [v.version, v.encrypted])).toEqual([
      [2, true],
      [1, false],
    ]);
    const show = await cli(['models', 'show', 'cli-model', '--version', '2', '--tracking-uri', uri]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout).version.integrity.ok).toBe(true);
    // The champion is in use: refused without --force, naming the alias and both ways out.
    const inUse = await cli(['models', 'delete', 'cli-model', '--version', '1', '--tracking-uri', uri]);
    expect(inUse.code).toBe(2);
    expect(JSON.parse(inUse.stdout).error.message).toBe(
      'version 1 of "cli-model" is in use (@champion): promote another version first (spotml promote cli-model --version <n> …), or pass --force to delete it and its aliases',
    );
    expect((await cli(['models', 'show', 'cli-model', '--version', '1', '--tracking-uri', uri])).code).toBe(0);
    const del = await cli(['models', 'delete', 'cli-model', '--version', '1', '--force', '--tracking-uri', uri]);
    expect(JSON.parse(del.stdout)).toMatchObject({ deleted: true, aliasesRemoved: ['champion'] });
    const bad = await cli(['register', good.out, '--name', '../x', '--tracking-uri', uri]);
    expect(bad.code).toBe(3);
  });
});
