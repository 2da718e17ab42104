/** Shared by the tune integration tests: the built CLI, a temp folder, and journal inspection. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The build the tests run: this checkout, or SPOTML_TEST_BUILD (a build made with --outDir elsewhere while dist/ is in use). */
export const BUILD = process.env.SPOTML_TEST_BUILD ?? ROOT;
export const CLI = join(BUILD, 'bin', 'spotml.js');
export const IRIS = resolve(ROOT, '../shared/data/iris.csv');
export const WINE = resolve(ROOT, '../shared/data/wine.csv');

export function requireBuild(): void {
  if (!existsSync(join(BUILD, 'dist', 'api', 'tune.js')) || !existsSync(join(BUILD, 'dist', 'search', 'tune-worker.js'))) {
    throw new Error(`the tune integration tests run the built CLI: run \`npx tsc -p tsconfig.build.json\` (npm run build) first (looked in ${BUILD})`);
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolvePromise) => {
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runCli(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, cwd, env).done;
}

export interface JournalLine {
  op: string;
  study?: string;
  name?: string;
  number?: number;
  state?: string;
}

/** Complete lines of a journal (a torn last line is left out, as the storage does). */
export function journalLines(path: string): JournalLine[] {
  const text = readFileSync(path, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as JournalLine];
      } catch {
        return [];
      }
    });
}

/**
 * Runs `tune()` from the built API in a child process: the same engine the CLI drives, without the CLI's
 * start-up (it loads every command), so kills can land anywhere in a study within the time budget.
 */
export function startTuneProcess(options: Record<string, unknown>, cwd: string): { child: ChildProcess; done: Promise<CliResult> } {
  const entry = join(ROOT, 'dist', 'api', 'tune.js');
  const code = `const { tune } = await import(${JSON.stringify(entry)});
const summary = await tune(JSON.parse(process.argv[1]));
process.stdout.write(JSON.stringify(summary));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(options)], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolvePromise) => {
    child.on('close', (exit, signal) => resolvePromise({ code: exit, signal, stdout, stderr }));
  });
  return { child, done };
}
