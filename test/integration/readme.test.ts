/**
 * The README's quickstart as a user runs it: every command of its "What the quickstart runs" and "From
 * there to a served model" blocks, as written (only `spotml` points at this checkout's bin and the port
 * is a free one), in a fresh folder with the bundled fixtures: extract, train --auto-optimize, evaluate,
 * register, promote to champion, serve models:/…@champion, then predictions over HTTP for a fixture WAV
 * and for the MLflow scoring request the package ships.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'spotml.js');

function readmeBlock(heading: string): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = text.indexOf(`### ${heading}`);
  expect(start, `README has a "### ${heading}" section`).toBeGreaterThanOrEqual(0);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(start));
  expect(block, `the "${heading}" section has a sh block`).not.toBeNull();
  return (block as RegExpExecArray)[1]
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const SHELL_PRELUDE = `set -euo pipefail\nspotml() { node ${JSON.stringify(BIN)} "$@"; }\n`;

function sh(line: string, cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-c', SHELL_PRELUDE + line], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 240_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let server: ChildProcess | undefined;
afterAll(() => {
  server?.kill('SIGTERM');
});

describe('README quickstart, end to end', () => {
  it('goes from fixture WAVs to a served champion model that predicts over HTTP', { timeout: 420_000 }, async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'spotml-readme-'));
    await symlink(join(ROOT, 'fixtures'), join(cwd, 'fixtures'), 'dir');
    const port = await freePort();
    const lines = [...readmeBlock('What the quickstart runs'), ...readmeBlock('From there to a served model')].map((l) => l.replaceAll('8080', String(port)));
    expect(lines.some((l) => l.startsWith('spotml train') && l.includes('--auto-optimize'))).toBe(true);
    const answers: string[] = [];
    for (const line of lines) {
      if (line.startsWith('spotml serve') && line.endsWith('&')) {
        server = spawn('bash', ['-c', `${SHELL_PRELUDE}exec ${line.slice(0, -1).replace(/^spotml /, `node ${JSON.stringify(BIN)} `)}`], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
        let log = '';
        server.stderr?.on('data', (d: Buffer) => (log += d.toString()));
        const deadline = Date.now() + 30_000;
        for (;;) {
          const ok = await fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.ok).catch(() => false);
          if (ok) break;
          expect(Date.now() < deadline, `server did not answer /ping: ${log}`).toBe(true);
          await new Promise((r) => setTimeout(r, 200));
        }
        continue;
      }
      const result = sh(line, cwd);
      expect(result.status, `${line}\n${result.stderr}`).toBe(0);
      if (line.startsWith('curl')) answers.push(result.stdout);
    }
    expect(existsSync(join(cwd, 'out', 'report', 'report.html'))).toBe(true);
    expect(answers).toHaveLength(2);
    const audio = JSON.parse(answers[0]) as { predictions: unknown[] };
    const classes = ['brass', 'guitar', 'piano', 'strings', 'woodwind'];
    expect(audio.predictions.length).toBeGreaterThanOrEqual(1);
    expect(classes).toContain(audio.predictions[0]);
    const rows = JSON.parse(answers[1]) as { predictions: unknown[] };
    expect(rows.predictions).toHaveLength(1);
    expect(classes).toContain(rows.predictions[0]);
    const version = (await (await fetch(`http://127.0.0.1:${port}/version`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(version)).toMatch(/instruments/);
  });
});
