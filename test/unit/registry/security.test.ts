/**
 * The registry side of serving, attacked: artifact folders whose listed files are symlinks or FIFOs, model
 * documents built to crash the loader, and registry names that try to leave the store.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileRegistry } from '../../../src/registry/file-registry.js';
import { CHECKSUMS_FILE, manifestText, sha256Hex, verifyArtifacts, type ChecksumManifest } from '../../../src/registry/integrity.js';
import { readModelPackage } from '../../../src/registry/package.js';
import { lookupVersion, parseModelsUri } from '../../../src/registry/resolve.js';
import { openStores } from '../../../src/tracking/open-store.js';
import { forestPackage } from '../serve/fixtures.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'registry-security-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A folder whose manifest lists `files` (path → content the manifest hashes), written as given by `make`. */
async function artifactFolder(name: string, files: Record<string, string>, make: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const manifest: ChecksumManifest = { format: 'spotml.checksums', formatVersion: 1, algorithm: 'sha256', encryption: null, files: {} };
  for (const [path, content] of Object.entries(files)) manifest.files[path] = sha256Hex(content);
  await writeFile(join(dir, CHECKSUMS_FILE), manifestText(manifest));
  await make(dir);
  return dir;
}

describe('artifact verification reads only regular files inside the folder', () => {
  it('refuses a listed file that is a symlink to a file outside, even when its bytes match', async () => {
    const outside = join(root, 'outside-secret.txt');
    await writeFile(outside, 'secret');
    const dir = await artifactFolder('symlink-file', { 'model.json': 'secret' }, (d) => symlink(outside, join(d, 'model.json')));
    await expect(verifyArtifacts(dir, null)).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('"model.json" listed in checksums.json is a symbolic link') });
  });

  it('refuses a listed file under a symlinked folder', async () => {
    const elsewhere = join(root, 'elsewhere');
    await mkdir(elsewhere, { recursive: true });
    await writeFile(join(elsewhere, 'weights.bin'), 'w');
    const dir = await artifactFolder('symlink-dir', { 'sub/weights.bin': 'w' }, (d) => symlink(elsewhere, join(d, 'sub')));
    await expect(verifyArtifacts(dir, null)).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('lies under one') });
  });

  it('refuses a listed FIFO at once instead of waiting forever for a writer', { timeout: 10_000 }, async () => {
    const dir = await artifactFolder('fifo', { 'model.json': '{}' }, async (d) => {
      execFileSync('mkfifo', [join(d, 'model.json')]);
    });
    await expect(verifyArtifacts(dir, null)).rejects.toMatchObject({ code: 'STORE', message: expect.stringContaining('is not a regular file') });
  });

  it('still verifies a plain folder of regular files', async () => {
    const dir = await artifactFolder('plain', { 'a/b.txt': 'b', 'c.txt': 'c' }, async (d) => {
      await mkdir(join(d, 'a'));
      await writeFile(join(d, 'a', 'b.txt'), 'b');
      await writeFile(join(d, 'c.txt'), 'c');
    });
    const verified = await verifyArtifacts(dir, null);
    expect([...verified.files.keys()].sort()).toEqual(['a/b.txt', 'c.txt']);
  });
});

describe('a damaged or crafted model.json fails by name, never by crashing the loader', () => {
  let pkgDir: string;
  let document: Record<string, unknown>;

  beforeAll(async () => {
    pkgDir = join(root, 'pkg');
    await forestPackage({ dir: pkgDir, trees: 2 });
    document = JSON.parse(await readFile(join(pkgDir, 'model.json'), 'utf8')) as Record<string, unknown>;
  });

  const withDocument = async (name: string, text: string, spec?: string): Promise<string> => {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.json'), text);
    if (spec !== undefined) await writeFile(join(dir, 'feature-spec.json'), spec);
    return dir;
  };

  it('refuses a model nested a hundred thousand levels deep (a stack-overflow bomb) as INVALID_INPUT naming the file', async () => {
    const depth = 100_000;
    const bomb = `${'{"family":"ensemble","state":{"weights":[1],"members":['.repeat(depth)}{}${']}}'.repeat(depth)}`;
    const dir = await withDocument('bomb', JSON.stringify({ ...document, model: 'BOMB' }).replace('"BOMB"', bomb));
    await expect(readModelPackage(dir)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining(`${join(dir, 'model.json')} is nested deeper than`) });
  });

  it('refuses featureNames that are not a list of strings', async () => {
    const dir = await withDocument('names', JSON.stringify({ ...document, featureNames: 7 }));
    await expect(readModelPackage(dir)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('"featureNames"') });
  });

  it('names feature-spec.json when it is not JSON', async () => {
    const dir = await withDocument('spec', JSON.stringify(document), '{oops');
    await expect(readModelPackage(dir)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining(`${join(dir, 'feature-spec.json')} is not valid JSON`) });
  });

  it('still loads the package as written', async () => {
    expect((await readModelPackage(pkgDir)).document.featureNames).toEqual(document.featureNames);
  });
});

describe('models:/ names cannot leave the registry', () => {
  it.each([
    ['a climb out of the store', 'models:/../../etc@x'],
    ['a name with slashes', 'models:/a/../../b/1'],
    ['the name ".."', 'models:/..@prod'],
    ['a NUL in the name', 'models:/m\u0000x@prod'],
    ['a 300-character name', `models:/${'n'.repeat(300)}@prod`],
    ['an alias with a path', 'models:/m@../../x'],
  ])(
    '%s is refused as invalid input',
    async (_name, uri) => {
      const stores = openStores({ trackingUri: join(root, 'mlruns') });
      expect(stores.registry).toBeInstanceOf(FileRegistry);
      await expect(lookupVersion(stores, parseModelsUri(uri))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    },
  );
});
