import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FileRegistry, readAuditLog } from '../../src/registry/file-registry.js';

const WORKERS = 8;
const script = fileURLToPath(new URL('../helpers/register-version.ts', import.meta.url));
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Eight cold `--import tsx` starts compete for the CPU for ~10 s, so the worker is bundled once with esbuild
 * (the compiler tsx itself uses) and started with plain node; without esbuild it falls back to tsx.
 */
async function workerCommand(): Promise<string[]> {
  try {
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    const outfile = join(await mkdtemp(join(tmpdir(), 'spotml-worker-')), 'register-version.mjs');
    await esbuild.build({
      entryPoints: [script],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      // CommonJS dependencies (yaml) call require() for node builtins; give the ESM bundle one.
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      logLevel: 'silent',
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', script];
  }
}

function runWorker(command: string[], root: string, model: string, barrier: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...command, root, model, barrier], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('file registry under concurrent writers', () => {
  it(`gives ${WORKERS} processes registering versions of one model at once the numbers 1..${WORKERS}, each once`, async () => {
    const root = await mkdtemp(join(tmpdir(), 'spotml-concurrency-'));
    const barrier = await mkdtemp(join(tmpdir(), 'spotml-barrier-'));
    await new FileRegistry(root).createRegisteredModel('shared');

    const command = await workerCommand();
    const exited: string[] = [];
    const workers = Array.from({ length: WORKERS }, () =>
      runWorker(command, root, 'shared', barrier).then((r) => {
        exited.push(r.stderr);
        return r;
      }),
    );
    const deadline = Date.now() + 15_000;
    while ((await readdir(barrier)).filter((f) => f.startsWith('ready-')).length < WORKERS) {
      if (exited.length > 0) throw new Error(`a worker exited before the barrier opened: ${exited[0]}`);
      if (Date.now() > deadline) throw new Error('workers did not start in 15 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await writeFile(join(barrier, 'go'), '');
    const results = await Promise.all(workers);

    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const reported = results.map((r) => (JSON.parse(r.stdout) as { version: number; pid: number }));
    expect(reported.map((r) => r.version).sort((a, b) => a - b)).toEqual(Array.from({ length: WORKERS }, (_, i) => i + 1));

    // On disk: exactly version-1..8, every meta.yaml valid YAML naming its own number, and its tag matches the writer.
    const dir = join(root, 'models', 'shared');
    const folders = (await readdir(dir)).filter((f) => f.startsWith('version-')).sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
    expect(folders).toEqual(Array.from({ length: WORKERS }, (_, i) => `version-${i + 1}`));
    for (const r of reported) {
      const meta = parse(await readFile(join(dir, `version-${r.version}`, 'meta.yaml'), 'utf8')) as Record<string, unknown>;
      expect(meta).toMatchObject({ name: 'shared', version: r.version, current_stage: 'None', source: `s3://bucket/models/${r.pid}` });
      expect(await readFile(join(dir, `version-${r.version}`, 'tags', 'pid'), 'utf8')).toBe(String(r.pid));
    }
    expect(parse(await readFile(join(dir, 'meta.yaml'), 'utf8'))).toMatchObject({ name: 'shared' });

    // The audit log has one intact line per registration (appended under the lock: no torn lines).
    const audit = (await readAuditLog(root)).filter((e) => e.action === 'model_version.create');
    expect(audit.map((e) => e.version).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: WORKERS }, (_, i) => i + 1));
    expect(new Set(audit.map((e) => e.user)).size).toBe(WORKERS);
    expect((await readdir(join(root, '.trash'))).filter((f) => f.endsWith('.lock'))).toEqual([]);
  }, 20_000);
});
