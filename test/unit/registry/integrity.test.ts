/** The sha256 manifest: hashes agree with coreutils' sha256sum, and any change to the folder is refused by name. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKSUMS_FILE, buildManifest, manifestText, sha256Hex, verifyArtifacts } from '../../../src/registry/integrity.js';

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spotml-integrity-'));
  await writeFile(join(dir, 'MLmodel'), 'flavors: {}\n');
  await writeFile(join(dir, 'model.json'), '{"a":1}');
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'weights.bin'), Buffer.from([0, 1, 2, 255]));
  return dir;
}

async function sealed(): Promise<{ dir: string; digest: string }> {
  const dir = await folder();
  const text = manifestText(await buildManifest(dir, null));
  await writeFile(join(dir, CHECKSUMS_FILE), text);
  return { dir, digest: sha256Hex(text) };
}

describe('checksum manifest', () => {
  it('lists every file with the hash sha256sum computes', async () => {
    const dir = await folder();
    const manifest = await buildManifest(dir, null);
    expect(Object.keys(manifest.files)).toEqual(['MLmodel', 'model.json', 'sub/weights.bin']);
    const reference = execFileSync('sha256sum', ['MLmodel', 'model.json', 'sub/weights.bin'], { cwd: dir, encoding: 'utf8' });
    for (const line of reference.trim().split('\n')) {
      const [hash, path] = line.split(/\s+\*?/);
      expect(manifest.files[path]).toBe(hash);
    }
  });

  it('verifies an untouched folder and hands back exactly its bytes', async () => {
    const { dir, digest } = await sealed();
    const verified = await verifyArtifacts(dir, digest);
    expect(verified.files.get('model.json')?.toString()).toBe('{"a":1}');
    expect(verified.digest).toBe(digest);
  });

  it('refuses a modified, missing or added file, naming it', async () => {
    const cases: [string, (dir: string) => Promise<void>, string][] = [
      ['modified', (d) => writeFile(join(d, 'model.json'), '{"a":2}'), 'model.json'],
      ['missing', (d) => rm(join(d, 'sub', 'weights.bin')), 'sub/weights.bin'],
      ['added', (d) => writeFile(join(d, 'extra.py'), 'import os'), 'extra.py'],
    ];
    for (const [what, change, file] of cases) {
      const { dir, digest } = await sealed();
      await change(dir);
      await expect(verifyArtifacts(dir, digest), what).rejects.toMatchObject({ code: 'STORE', details: { file } });
    }
  });

  it('refuses a manifest rewritten to match a tampered file, through the digest the registry keeps', async () => {
    const { dir, digest } = await sealed();
    await writeFile(join(dir, 'model.json'), '{"a":3}');
    await writeFile(join(dir, CHECKSUMS_FILE), manifestText(await buildManifest(dir, null)));
    await expect(verifyArtifacts(dir, null)).resolves.toBeDefined(); // consistent on its own …
    await expect(verifyArtifacts(dir, digest)).rejects.toMatchObject({ code: 'STORE', details: { file: CHECKSUMS_FILE } }); // … but not with the registry
  });

  it('ignores only another writer\'s in-flight atomic temp file, never an arbitrary dotfile', async () => {
    const { dir, digest } = await sealed();
    await writeFile(join(dir, '.0123456789ab.tmp'), 'half-written manifest');
    expect(Object.keys((await buildManifest(dir, null)).files)).toEqual(['MLmodel', 'model.json', 'sub/weights.bin']);
    await expect(verifyArtifacts(dir, digest)).resolves.toBeDefined();
    await writeFile(join(dir, '.evil.tmp'), 'x');
    await expect(verifyArtifacts(dir, digest)).rejects.toMatchObject({ code: 'STORE', details: { file: '.evil.tmp' } });
  });

  it('refuses a manifest that points outside the folder', async () => {
    const { dir } = await sealed();
    const manifest = JSON.parse(await readFile(join(dir, CHECKSUMS_FILE), 'utf8')) as { files: Record<string, string> };
    manifest.files['../outside'] = sha256Hex('x');
    await writeFile(join(dir, CHECKSUMS_FILE), JSON.stringify(manifest));
    await expect(verifyArtifacts(dir, null)).rejects.toMatchObject({ code: 'STORE' });
  });
});
