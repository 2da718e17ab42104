/**
 * The CLI from src/ as one bundled file, for tests that spawn `spotml` processes (serve, signals): esbuild
 * bundles src/cli/main.ts (packages stay external) into node_modules/.cache/<cacheName>, or, when esbuild
 * cannot, the entry runs through tsx. Returns the node arguments that start it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export async function buildCliLauncher(cacheName: string): Promise<string[]> {
  const dir = join(REPO, 'node_modules', '.cache', cacheName);
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `import { main } from ${JSON.stringify(join(REPO, 'src/cli/main.ts'))};\nprocess.exitCode = await main(process.argv);\n`);
  try {
    const esbuild = await import('esbuild');
    const outfile = join(dir, 'spotml.mjs');
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      packages: 'external',
      // version.ts finds package.json relative to its own URL.
      define: { 'import.meta.url': JSON.stringify(`file://${join(REPO, 'src/version.ts')}`) },
      logLevel: 'silent',
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', entry];
  }
}

export interface CapturedProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code once the process exits (it has then left `running`). */
  exited: Promise<number | null>;
}

/**
 * Starts node with `args` (a launcher and the CLI's arguments) in CI mode without colour, keeping its output;
 * the process stays in `running` until it exits, so a test's afterAll can stop whatever is left.
 */
export function spawnCaptured(args: readonly string[], options: { cwd: string; env?: Record<string, string>; detached?: boolean }, running: Set<ChildProcess>): CapturedProcess {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, CI: 'true', NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolveExit(code);
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}
