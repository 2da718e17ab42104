/** The CLI front door in-process: help, version, global options anywhere, one-line errors with exit codes. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    expect(parsed.error.message).toMatch(/missing <table>: give <table> as an argument/);
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

  it('refuses config keys no command knows, names them, and accepts snake_case spellings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spotml-cli-config-'));
    const config = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const typo = await cli('--config', config('typo.yaml', 'train:\n  time-budget: 5\n  foo: bar\n'), 'train');
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/"train\.foo" is not an option of spotml train/);
    const section = await cli('--config', config('section.yaml', 'trian:\n  target: y\n'), 'train');
    expect(section.err).toMatch(/section "trian" is not a spotml command/);
    const top = await cli('--config', config('top.yaml', 'sed: 7\n'), 'train');
    expect(top.err).toMatch(/"sed" is not an option of any spotml command/);
    // Known keys (snake_case too, and a top-level key only another command has) pass the check: the command then
    // stops at its own missing argument.
    const known = await cli('--config', config('known.yaml', 'seed: 7\nreport_dir: out/r\ntrain:\n  time_budget: 5\n  target: y\n'), 'train');
    expect(known.err).toMatch(/missing <table>/);
    const quickstart = await cli('--config', 'configs/quickstart.yaml', 'train');
    expect(quickstart.err).toMatch(/missing <table>/);
  });

  it('refuses contradictory or empty train options with the flag named', async () => {
    const both = await cli('train', 'x.csv', '--target', 'y', '--model', 'knn', '--auto-optimize');
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--auto-optimize --families knn/);
    for (const [flag, value] of [['--time-budget', '0'], ['--time-budget', '-5'], ['--jobs', '0'], ['--max-trials', '0']]) {
      const bad = await cli('train', 'x.csv', '--target', 'y', flag, value);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(new RegExp(`${flag} must be above 0`));
    }
    const empty = await cli('train', 'x.csv', '--target', 'y', '--auto-optimize', '--families', '');
    expect(empty.err).toMatch(/--families is empty/);
  });

  it('--quiet keeps the result on stdout (it silences logs, warnings and progress)', async () => {
    const store = mkdtempSync(join(tmpdir(), 'spotml-cli-quiet-'));
    const quiet = await cli('models', 'list', '--quiet', '--tracking-uri', store);
    const loud = await cli('models', 'list', '--tracking-uri', store);
    expect(quiet.code).toBe(0);
    expect(loud.out.length).toBeGreaterThan(0);
    expect(quiet.out).toBe(loud.out);
  });
});
