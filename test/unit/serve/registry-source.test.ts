/**
 * Serving registry versions the way evaluate loads them: verified against the registry's checksum tag,
 * decrypted with the model key, through a private copy that is gone once the model is loaded; stage and
 * latest references that swap like aliases. Predictions are compared with the registered package's own model.
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../../src/api/registry.js';
import { createMatrix } from '../../../src/data/matrix.js';
import { SpotmlError } from '../../../src/errors.js';
import { readModelPackage } from '../../../src/registry/package.js';
import { openStores, type Stores } from '../../../src/tracking/open-store.js';
import { AccessLog } from '../../../src/serve/access-log.js';
import { createServeApp } from '../../../src/serve/app.js';
import { createAuthenticator } from '../../../src/serve/auth.js';
import { ServeMetrics } from '../../../src/serve/metrics.js';
import { ModelHolder } from '../../../src/serve/model-holder.js';
import { modelSource, type ModelLocation, type ModelSource, type ResolvedModel } from '../../../src/serve/model-source.js';
import { forestPackage } from './fixtures.js';

let root: string;
let abDir: string;
let xyDir: string;
const ROW = [0.3, 0.1, 0.2, 0.4];

/** The registered version's artifact folder in the file store (its source URI). */
function artifactDir(source: string): string {
  return source.startsWith('file:') ? fileURLToPath(source) : source;
}

/** What the package's own model predicts for ROW. */
async function expectedLabel(dir: string): Promise<string> {
  const pkg = await readModelPackage(dir);
  return String(pkg.labels!.decode(pkg.model.predict(createMatrix(1, 4, Float64Array.from(ROW))))[0]);
}

function newStores(name: string): Stores {
  return openStores({ trackingUri: join(root, name) });
}

async function serving(holder: ModelHolder): Promise<{ ask: () => Promise<{ status: number; label: string }>; version: () => Promise<Record<string, unknown>> }> {
  const app = createServeApp({ holder, auth: await createAuthenticator({}), metrics: new ServeMetrics(), log: new AccessLog(null) });
  return {
    ask: async () => {
      const response = await app.request('/invocations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [ROW] }) });
      return { status: response.status, label: response.status === 200 ? ((await response.json()) as { predictions: string[] }).predictions[0] : await response.text() };
    },
    version: async () => ((await (await app.request('/version')).json()) as { model: Record<string, unknown> }).model,
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotml-serve-registry-'));
  abDir = join(root, 'ab');
  xyDir = join(root, 'xy');
  await forestPackage({ dir: abDir, trees: 6, classes: ['a', 'b'], seed: 1 });
  await forestPackage({ dir: xyDir, trees: 6, classes: ['x', 'y'], seed: 2 });
});

describe('serving registry versions verified', () => {
  it('refuses to start on a tampered version with one line naming the file', async () => {
    const stores = newStores('tampered-start');
    const v1 = await register({ stores, source: abDir, name: 'birds' });
    const modelJson = join(artifactDir(v1.source), 'model.json');
    await writeFile(modelJson, (await readFile(modelJson, 'utf8')).replace('"a"', '"A"'));
    const holder = new ModelHolder(modelSource('models:/birds/1', { trackingUri: join(root, 'tampered-start') }), { runtime: 'native' });
    const failure = await holder.start().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SpotmlError);
    expect((failure as SpotmlError).code).toBe('STORE');
    expect((failure as SpotmlError).message).toMatch(/^birds version 1: file "model\.json" fails its sha256 check .*refusing to load$/);
    expect((failure as SpotmlError).message).not.toContain('\n');
    expect(holder.current).toBeNull();
  });

  it('keeps serving the old version when the alias moves to a tampered one, reports the refusal, then swaps to a sound one', async () => {
    const stores = newStores('tampered-swap');
    await register({ stores, source: abDir, name: 'birds' });
    const v2 = await register({ stores, source: xyDir, name: 'birds' });
    await register({ stores, source: xyDir, name: 'birds' });
    const modelJson = join(artifactDir(v2.source), 'model.json');
    await writeFile(modelJson, (await readFile(modelJson, 'utf8')).replace('"x"', '"X"'));
    await stores.registry.setAlias('birds', 'prod', 1);
    const errors: string[] = [];
    const holder = new ModelHolder(modelSource('models:/birds@prod', { trackingUri: join(root, 'tampered-swap') }), { runtime: 'native' }, { onError: (e) => errors.push(e.message) });
    await holder.start();
    const server = await serving(holder);
    const before = await server.ask();
    expect(before).toEqual({ status: 200, label: await expectedLabel(abDir) });

    await stores.registry.setAlias('birds', 'prod', 2);
    expect(await holder.refresh()).toBe('failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^birds version 2: file "model\.json" fails its sha256 check/);
    expect(holder.current?.resolved.version).toBe(1);
    expect(await server.ask()).toEqual(before);
    expect(await server.version()).toMatchObject({ name: 'birds', version: 1, alias: 'prod' });

    await stores.registry.setAlias('birds', 'prod', 3);
    expect(await holder.refresh()).toBe('swapped');
    expect(await server.ask()).toEqual({ status: 200, label: await expectedLabel(xyDir) });
    expect(await server.version()).toMatchObject({ name: 'birds', version: 3, alias: 'prod', uri: 'models:/birds@prod' });
    await holder.close();
  });
});

describe('serving encrypted versions', () => {
  let keyFile: string;
  let mlruns: string;

  beforeAll(async () => {
    const key = randomBytes(32).toString('base64');
    keyFile = join(root, 'model.key');
    await writeFile(keyFile, `${key}\n`);
    mlruns = join(root, 'encrypted');
    const stores = openStores({ trackingUri: mlruns });
    await register({ stores, source: abDir, name: 'enc', encrypt: true, env: { SPOTML_MODEL_KEY: key } });
    await stores.registry.setAlias('enc', 'champion', 1);
  });

  it('serves with the key, from a decrypted copy that is removed once the model is loaded', async () => {
    const holder = new ModelHolder(modelSource('models:/enc@champion', { trackingUri: mlruns, keyFile }), { runtime: 'native' });
    await holder.start();
    expect((await (await serving(holder)).ask())).toEqual({ status: 200, label: await expectedLabel(abDir) });
    const loadedFrom = holder.current!.resolved.dir;
    expect(loadedFrom.startsWith(tmpdir())).toBe(true);
    expect(existsSync(loadedFrom)).toBe(false);
    await holder.close();
  });

  it('serves the encrypted artifact folder itself too (verified against its manifest, decrypted), and refuses it once tampered', async () => {
    const stores = openStores({ trackingUri: mlruns });
    const folder = artifactDir((await stores.registry.getModelVersion('enc', 1)).source);
    expect(existsSync(join(folder, 'model.json'))).toBe(false);
    const holder = new ModelHolder(modelSource(folder, { keyFile }), { runtime: 'native' });
    await holder.start();
    expect((await (await serving(holder)).ask())).toEqual({ status: 200, label: await expectedLabel(abDir) });
    expect(existsSync(holder.current!.resolved.dir)).toBe(false);
    await holder.close();
    const copy = join(root, 'enc-copy');
    await cp(folder, copy, { recursive: true });
    const blob = await readFile(join(copy, 'model.json.enc'));
    blob[blob.length - 1] ^= 1;
    await writeFile(join(copy, 'model.json.enc'), blob);
    await expect(new ModelHolder(modelSource(copy, { keyFile }), { runtime: 'native' }).start()).rejects.toThrow(/file "model\.json\.enc" fails its sha256 check/);
  });

  it('refuses without a key, saying how to give one, and with the wrong key, naming both key ids', async () => {
    const saved = process.env.SPOTML_MODEL_KEY;
    delete process.env.SPOTML_MODEL_KEY;
    try {
      const keyless = new ModelHolder(modelSource('models:/enc@champion', { trackingUri: mlruns }), { runtime: 'native' });
      await expect(keyless.start()).rejects.toThrow(/^enc version 1 is encrypted \(key [0-9a-f]{16}\): set SPOTML_MODEL_KEY or pass --key-file with the key it was registered with$/);
    } finally {
      if (saved !== undefined) process.env.SPOTML_MODEL_KEY = saved;
    }
    const wrongKey = join(root, 'wrong.key');
    await writeFile(wrongKey, randomBytes(32).toString('hex'));
    const wrong = new ModelHolder(modelSource('models:/enc@champion', { trackingUri: mlruns, keyFile: wrongKey }), { runtime: 'native' });
    await expect(wrong.start()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('the fetched copy is disposed of once loaded', () => {
  /** A source over a fixed folder that counts dispose() calls. */
  function countingSource(dir: string): { source: ModelSource; disposed: () => number } {
    let disposed = 0;
    const location: ModelLocation = { key: dir, name: 'counted', version: null, alias: null, tenant: null };
    const source: ModelSource = {
      uri: dir,
      locate: () => Promise.resolve(location),
      fetch: (): Promise<ResolvedModel> => Promise.resolve({ ...location, dir, label: 'counted model', dispose: () => Promise.resolve(void disposed++) }),
    };
    return { source, disposed: () => disposed };
  }

  it('after a successful load, and after a failed one (whose message names the model, not the copy)', async () => {
    const good = countingSource(abDir);
    const holder = new ModelHolder(good.source, { runtime: 'native' });
    await holder.start();
    expect(good.disposed()).toBe(1);
    expect(await holder.refresh()).toBe('unchanged');
    expect(good.disposed()).toBe(1);
    await holder.close();

    const broken = join(root, 'broken');
    await forestPackage({ dir: broken, trees: 2, seed: 5 });
    await writeFile(join(broken, 'model.json'), (await readFile(join(broken, 'model.json'), 'utf8')).replace('"featureNames":["f0","f1","f2","f3"]', '"featureNames":["f0"]'));
    const bad = countingSource(broken);
    const failing = new ModelHolder(bad.source, { runtime: 'native' });
    await expect(failing.start()).rejects.toThrow(/^counted model: the package lists 1 features but its model takes 4$/);
    expect(bad.disposed()).toBe(1);
  });
});

describe('stage and latest references', () => {
  it('serve models:/name/<stage> swaps when a newer version enters the stage; models:/name/latest when one is registered', async () => {
    const mlruns = join(root, 'stages');
    const stores = openStores({ trackingUri: mlruns });
    await register({ stores, source: abDir, name: 'conc' });
    await register({ stores, source: xyDir, name: 'conc' });
    await stores.registry.transitionStage('conc', 1, 'Production', false);

    const production = new ModelHolder(modelSource('models:/conc/production', { trackingUri: mlruns }), { runtime: 'native' });
    await production.start();
    const prod = await serving(production);
    expect(await prod.version()).toMatchObject({ name: 'conc', version: 1, alias: null, uri: 'models:/conc/production' });
    expect((await prod.ask()).label).toBe(await expectedLabel(abDir));
    expect(await production.refresh()).toBe('unchanged');
    await stores.registry.transitionStage('conc', 2, 'Production', true);
    expect(await production.refresh()).toBe('swapped');
    expect((await prod.ask()).label).toBe(await expectedLabel(xyDir));
    expect(await prod.version()).toMatchObject({ version: 2 });
    await production.close();

    const latest = new ModelHolder(modelSource('models:/conc/latest', { trackingUri: mlruns }), { runtime: 'native' });
    await latest.start();
    expect(latest.current?.resolved.version).toBe(2);
    await register({ stores, source: abDir, name: 'conc' });
    expect(await latest.refresh()).toBe('swapped');
    expect(latest.current?.resolved.version).toBe(3);
    expect((await (await serving(latest)).ask()).label).toBe(await expectedLabel(abDir));
    await latest.close();

    const staging = new ModelHolder(modelSource('models:/conc/Staging', { trackingUri: mlruns }), { runtime: 'native' });
    await expect(staging.start()).rejects.toThrow(/has no version in stage Staging/);
    expect(() => modelSource('models:/conc/Prod')).toThrow(/models:\/<name>\/<stage>/);
  });

  it('keeps the tenant a registry model belongs to', async () => {
    const mlruns = join(root, 'tenants');
    await register({ stores: openStores({ trackingUri: mlruns, tenant: 'acme' }), source: abDir, name: 'owl' });
    const holder = new ModelHolder(modelSource('models:/acme.owl/latest', { trackingUri: mlruns }), { runtime: 'native' });
    await holder.start();
    expect(holder.current?.resolved).toMatchObject({ name: 'acme.owl', version: 1, tenant: 'acme' });
    await holder.close();
  });
});
