/**
 * Eight `spotml register` processes (the real CLI) on one model at once: eight distinct version numbers,
 * every version verified on load, one audit line each.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { register } from '../../src/api/registry.js';
import { train } from '../../src/api/train.js';
import { readAuditLog } from '../../src/registry/file-registry.js';
import { resolveModel } from '../../src/registry/resolve.js';
import { openStores } from '../../src/tracking/open-store.js';

const WORKERS = 8;
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const IRIS = join(projectRoot, '..', 'shared', 'data', 'iris.csv');

/** The CLI bundled once with esbuild (dependencies stay in node_modules, reached through a symlink), else tsx. */
async function cliCommand(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'spotml-cli-'));
  try {
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    await symlink(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await copyFile(join(projectRoot, 'package.json'), join(dir, 'package.json')); // src/version.ts reads ../package.json
    const outfile = join(dir, 'bin', 'spotml.mjs');
    await esbuild.build({
      stdin: { contents: "import { main } from './src/cli/main.ts'; main(process.argv).then((c) => { process.exitCode = c; });", resolveDir: projectRoot, loader: 'ts', sourcefile: 'spotml.ts' },
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'silent',
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', '--input-type=module', '-e', `import { main } from '${join(projectRoot, 'src/cli/main.ts')}'; main(['node', 'spotml', ...process.argv.slice(1)]).then((c) => { process.exitCode = c; });`];
  }
}

function run(command: string[], args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('spotml register, 8 processes at once', () => {
  it('gives 8 distinct versions of one model, each verified, each audited once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotml-register-concurrency-'));
    const root = join(dir, 'mlruns');
    const stores = openStores({ trackingUri: root });
    const trained = await train({ table: IRIS, target: 'target', model: 'knn', autoOptimize: false, timeBudget: 30, cv: 3, seed: 1, jobs: 1, out: join(dir, 'model'), experiment: 'c', store: stores.tracking, ensemble: false });
    const command = await cliCommand();
    // Half register the run in place, half the folder (each making its own run), some encrypted: the model does not exist yet.
    const key = Buffer.alloc(32, 7).toString('hex');
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, i) =>
        run(
          command,
          ['--json', 'register', i % 2 === 0 ? trained.runId : join(dir, 'model'), '--name', 'shared', '--tracking-uri', root, ...(i % 4 === 1 ? ['--encrypt'] : [])],
          { SPOTML_USER: `worker-${i}`, SPOTML_MODEL_KEY: key },
        ),
      ),
    );
    for (const r of results) expect(r.code, r.stderr + r.stdout).toBe(0);
    const versions = results.map((r) => (JSON.parse(r.stdout) as { version: number }).version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: WORKERS }, (_, i) => i + 1));
    expect((await readdir(join(root, 'models', 'shared'))).filter((f) => f.startsWith('version-')).length).toBe(WORKERS);
    for (const version of versions) {
      const resolved = await resolveModel(`models:/shared/${version}`, stores, { env: { SPOTML_MODEL_KEY: key } });
      expect(resolved.verified).toBe(true);
      await resolved.dispose();
    }
    const audit = await readAuditLog(root);
    expect(audit.filter((e) => e.action === 'model_version.create').map((e) => e.version).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(versions);
    expect(audit.filter((e) => e.action === 'registered_model.create').length).toBe(1);
    // The next in-process registration continues the sequence.
    expect((await register({ stores, source: trained.runId, name: 'shared' })).version).toBe(WORKERS + 1);
  }, 60_000);
});
