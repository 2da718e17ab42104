/**
 * Crash safety: register / promote child processes are SIGKILLed after a
 * random delay, at least 50 times, several at once on one store. Afterwards the store must read cleanly:
 * - MLflow's rules: every meta.yaml is strict YAML with the keys MLflow requires, and every registered-model
 *   folder and `version-*` folder has its meta.yaml (MLflow's file store raises on one without);
 * - spotml: every live version resolves with its checksums verified (and decrypts), every alias points at a
 *   live version, version numbers were never handed out twice, the audit log has no torn line, and a final
 *   register still works (a dead holder's lock is broken) with a number above every folder on disk.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { register } from '../../src/api/registry.js';
import { train } from '../../src/api/train.js';
import { resolveModel } from '../../src/registry/resolve.js';
import { openStores } from '../../src/tracking/open-store.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const IRIS = join(projectRoot, '..', 'shared', 'data', 'iris.csv');
const MIN_KILLS = 50;
const PARALLEL = 4;
const key = randomBytes(32).toString('base64');

let workDir: string;
let child: string[];
let root: string;
let runId: string;
let packageDir: string;

/**
 * The child: register/promote through the same API the CLI commands call, started as its own process.
 * (The whole CLI also loads serve/evaluate/report dependencies and starts ~4x slower, which on a busy CI
 * machine leaves too few kills in the time limit; the store writes are the same.)
 *   child.ts register <mlruns> <source> <name> [encrypt] | promote <mlruns> <name> <version> alias:<a>|stage:<s> | none
 */
const CHILD_SOURCE = `
import { promote, register } from ${JSON.stringify(join(projectRoot, 'src/api/registry.ts'))};
import { openStores } from ${JSON.stringify(join(projectRoot, 'src/tracking/open-store.ts'))};
const [command, root, a, b, c] = process.argv.slice(2);
const stores = openStores({ trackingUri: root });
if (command === 'none') {
  // start-up only: the imports above are loaded, nothing is touched
} else if (command === 'register') {
  const r = await register({ stores, source: a, name: b, encrypt: c === 'encrypt' });
  process.stdout.write(JSON.stringify(r));
} else {
  const [kind, value] = c.split(':');
  const r = await promote({ stores, name: a, version: Number(b), ...(kind === 'alias' ? { alias: value } : { stage: value, archiveExisting: true }) });
  process.stdout.write(JSON.stringify(r));
}
`;

/** The child bundled once with esbuild (dependencies stay in node_modules, reached through a symlink), else tsx. */
async function buildChild(dir: string): Promise<string[]> {
  const entry = join(dir, 'child.ts');
  await writeFile(entry, CHILD_SOURCE);
  try {
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    await symlink(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await copyFile(join(projectRoot, 'package.json'), join(dir, 'package.json')); // src/version.ts reads ../package.json
    const outfile = join(dir, 'bin', 'child.mjs');
    await esbuild.build({ entryPoints: [entry], bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'silent' });
    return [outfile];
  } catch {
    return ['--import', 'tsx', entry];
  }
}

interface ChildResult {
  killed: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

function runChild(args: string[], killAfterMs: number | null): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...child, ...args], {
      cwd: workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SPOTML_MODEL_KEY: key, SPOTML_USER: 'killer-test' },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs === null ? null : setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', code, stdout, stderr });
    });
  });
}

function randomCommand(): string[] {
  const pick = Math.random();
  if (pick < 0.3) return ['register', root, runId, 'crashy'];
  if (pick < 0.5) return ['register', root, packageDir, 'crashy'];
  if (pick < 0.65) return ['register', root, packageDir, 'crashy', 'encrypt'];
  if (pick < 0.85) return ['promote', root, 'crashy', '1', Math.random() < 0.5 ? 'alias:champion' : 'alias:challenger'];
  return ['promote', root, 'crashy', '1', 'stage:Production'];
}

async function listDirs(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
}

/** Strict YAML (no duplicate keys, no warnings) that holds a mapping: what MLflow's safe_load accepts. */
function strictYaml(text: string, file: string): Record<string, unknown> {
  const doc = parseDocument(text, { strict: true, uniqueKeys: true, prettyErrors: false });
  expect(doc.errors.map((e) => e.message), file).toEqual([]);
  expect(doc.warnings.map((e) => e.message), file).toEqual([]);
  const value = doc.toJS() as unknown;
  expect(value !== null && typeof value === 'object' && !Array.isArray(value), `${file} is a mapping`).toBe(true);
  return value as Record<string, unknown>;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'spotml-kill-'));
  root = join(workDir, 'mlruns');
  packageDir = join(workDir, 'model');
  const stores = openStores({ trackingUri: root });
  const trained = await train({
    table: IRIS,
    target: 'target',
    model: 'knn',
    autoOptimize: false,
    timeBudget: 30,
    cv: 3,
    seed: 1,
    jobs: 1,
    out: packageDir,
    experiment: 'kill',
    store: stores.tracking,
    ensemble: false,
  });
  runId = trained.runId;
  await register({ stores, source: runId, name: 'crashy' }); // version 1 exists before the kills start
  child = await buildChild(await mkdtemp(join(tmpdir(), 'spotml-kill-cli-')));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('register / promote killed at random points', () => {
  it(`leaves a store MLflow and spotml both read after ≥ ${MIN_KILLS} SIGKILLs`, async () => {
    // Calibrate under the same load as the kill waves: how long the CLI takes to start (module loading,
    // no store access) and to finish a command. Kill delays are spread from just before the first store
    // access to just after the end, so they land in every phase of the writing, not mostly in start-up.
    const timed = async (args: string[]): Promise<{ ms: number; result: ChildResult }> => {
      const t0 = performance.now();
      const result = await runChild(args, null);
      return { ms: performance.now() - t0, result };
    };
    const startup = await Promise.all(Array.from({ length: PARALLEL }, () => timed(['none', root])));
    const full = await Promise.all(Array.from({ length: PARALLEL }, () => timed(['register', root, runId, 'crashy'])));
    const completedVersions: number[] = [1];
    for (const { result } of full) {
      expect(result.code, result.stderr + result.stdout).toBe(0);
      completedVersions.push((JSON.parse(result.stdout) as { version: number }).version);
    }
    let earliest = 0.9 * Math.min(...startup.map((t) => t.ms));
    let latest = 1.05 * Math.max(...full.map((t) => t.ms));

    let kills = 0;
    let completed = 0;
    const deadline = Date.now() + 90_000;
    while (kills < MIN_KILLS) {
      expect(Date.now() < deadline, `only ${kills} kills before the time limit`).toBe(true);
      const wave = await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          const t0 = performance.now();
          const r = await runChild(randomCommand(), earliest + Math.random() * (latest - earliest));
          return { ...r, ms: performance.now() - t0 };
        }),
      );
      // Commands slow down as the store grows: keep the window reaching past the end of a whole command.
      // Load changes too: when a whole wave finished before its kill, calibration was slower than now, so
      // pull the window earlier rather than running out the clock without a kill.
      if (wave.every((r) => r.killed)) latest *= 1.05;
      else if (wave.every((r) => !r.killed)) {
        earliest *= 0.7;
        latest = Math.max(1.5 * earliest, 0.85 * latest);
      } else latest = Math.max(latest, 1.05 * Math.max(...wave.filter((r) => !r.killed).map((r) => r.ms)));
      for (const r of wave) {
        if (r.killed) kills++;
        else {
          completed++;
          // A command that finished must have succeeded (a lock left by a killed process is broken, not fatal).
          expect(r.code, r.stderr + r.stdout).toBe(0);
          const out = JSON.parse(r.stdout) as { version?: number; checksumsSha256?: string };
          if (out.checksumsSha256 !== undefined && out.version !== undefined) completedVersions.push(out.version);
        }
      }
    }
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);

    // ---- MLflow's view: strict YAML everywhere, and no registry folder without its meta.yaml.
    for (const experiment of (await listDirs(root)).filter((d) => d !== '.trash' && d !== 'models')) {
      const expDir = join(root, experiment);
      const meta = strictYaml(await readFile(join(expDir, 'meta.yaml'), 'utf8'), `${experiment}/meta.yaml`);
      expect(String(meta.experiment_id)).toBe(experiment);
      for (const run of (await listDirs(expDir)).filter((d) => /^[0-9a-f]{32}$/.test(d))) {
        const file = join(expDir, run, 'meta.yaml');
        if (!existsSync(file)) continue; // MLflow skips a run folder without meta.yaml (a run killed while being created)
        const runMeta = strictYaml(await readFile(file, 'utf8'), file);
        expect(runMeta).toMatchObject({ run_id: run, run_uuid: run, experiment_id: experiment });
        expect(typeof runMeta.status).toBe('number');
      }
    }
    const modelDir = join(root, 'models', 'crashy');
    expect((await listDirs(join(root, 'models'))).every((m) => existsSync(join(root, 'models', m, 'meta.yaml')))).toBe(true);
    strictYaml(await readFile(join(modelDir, 'meta.yaml'), 'utf8'), 'models/crashy/meta.yaml');
    const versionDirs = (await listDirs(modelDir)).filter((d) => /^version-\d+$/.test(d));
    const live: number[] = [];
    for (const dir of versionDirs) {
      const file = join(modelDir, dir, 'meta.yaml');
      expect(existsSync(file), `${dir} has meta.yaml`).toBe(true);
      const meta = strictYaml(await readFile(file, 'utf8'), file);
      expect(meta).toMatchObject({ name: 'crashy', version: Number(dir.slice(8)) });
      expect(typeof meta.creation_timestamp).toBe('number');
      if (meta.current_stage !== 'Deleted_Internal') live.push(Number(dir.slice(8)));
    }

    // ---- spotml's view: every live version verifies (and decrypts), every alias points at a live version.
    const stores = openStores({ trackingUri: root });
    for (const version of live) {
      const resolved = await resolveModel(`models:/crashy/${version}`, stores, { env: { SPOTML_MODEL_KEY: key } });
      expect(resolved.verified).toBe(true);
      expect(existsSync(join(resolved.dir, 'model.json'))).toBe(true);
      await resolved.dispose();
    }
    const aliasDir = join(modelDir, 'aliases');
    for (const alias of existsSync(aliasDir) ? (await readdir(aliasDir)).filter((a) => !a.endsWith('.tmp')) : []) {
      const target = Number(await readFile(join(aliasDir, alias), 'utf8'));
      expect(live, `alias ${alias} → ${target}`).toContain(target);
    }

    // ---- numbers never handed out twice; the audit log is intact.
    expect(new Set(completedVersions).size).toBe(completedVersions.length);
    const auditLines = (await readFile(join(root, 'spotml-audit.jsonl'), 'utf8')).split('\n').filter((l) => l !== '');
    const created = auditLines.map((l) => JSON.parse(l) as { action: string; version?: number }).filter((e) => e.action === 'model_version.create');
    expect(new Set(created.map((e) => e.version)).size).toBe(created.length);

    // ---- and the store still works: the next version is above every folder ever made.
    const next = await runChild(['register', root, runId, 'crashy'], null);
    expect(next.code, next.stderr + next.stdout).toBe(0);
    const highest = Math.max(...versionDirs.map((d) => Number(d.slice(8))));
    expect((JSON.parse(next.stdout) as { version: number }).version).toBe(highest + 1);
    console.log(`registry kill test: ${kills} kills, ${completed} commands completed, ${versionDirs.length} version folders, delays ${earliest.toFixed(0)}-${latest.toFixed(0)} ms`);
  }, 60_000);
});
