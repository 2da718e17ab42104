/** The CLI front door in-process: help, version, global options anywhere, one-line errors with exit codes. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { SPOTML_VERSION } from '../../../src/version.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = new Writable({ write: (c, _e, done) => ((out += String(c)), done()) });
  const stderr = new Writable({ write: (c, _e, done) => ((err += String(c)), done()) });
  const code = await main(['node', 'spotml', ...args], { stdout, stderr, stdinIsTTY: false });
  return { code, out, err };
}

describe('spotml CLI', () => {
  it('prints its version and lists only the working subcommands with examples', async () => {
    expect((await cli('--version')).out.trim()).toBe(SPOTML_VERSION);
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const name of ['extract', 'train', 'evaluate', 'tune', 'register', 'promote', 'models', 'serve']) expect(help.out).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(help.out).toMatch(/Examples:\n {2}\$ spotml extract/);
  });

  it.each(['extract', 'train', 'evaluate', 'tune', 'register', 'promote', 'models', 'serve'])('%s --help shows its options and examples', async (name) => {
    const { code, out } = await cli(name, '--help');
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`Usage: spotml ${name}`));
    expect(out).toMatch(/Examples:\n {2}\$ spotml/);
    expect(out).toMatch(/--json/);
  });

  it("reads a subcommand's own --version instead of printing spotml's", async () => {
    const { out } = await cli('promote', '--help');
    expect(out).toMatch(/-v, --version <n>/);
    const result = await cli('promote', 'no-such-model', '--version', '2', '--alias', 'champion', '--tracking-uri', '/nonexistent/spotml-test-store');
    expect(result.out.trim()).not.toBe(SPOTML_VERSION);
    expect(result.code).not.toBe(0);
  });

  it('accepts global options after the subcommand and reports errors as one line', async () => {
    const missing = await cli('train', '--json');
    expect(missing.code).toBe(2);
    const parsed = JSON.parse(missing.out) as { error: { code: string; message: string } };
    expect(parsed.error.code).toBe('USAGE');
    expect(parsed.error.message).toMatch(/missing <table>/);
    const human = await cli('train', 'table.csv');
    expect(human.code).toBe(2);
    expect(human.err.trim().split('\n')).toHaveLength(1);
    expect(human.err).toMatch(/missing --target: pass --target <value>/);
  });

  it('rejects a bad --seed and unknown commands with usage exit codes', async () => {
    const seed = await cli('--seed', 'abc', 'train', 'x.csv', '--target', 'y');
    expect(seed.code).toBe(2);
    expect(seed.err).toMatch(/--seed must be a whole number/);
    expect((await cli('frobnicate')).code).toBe(2);
  });
});
