/** Runs the spotml CLI in this process, as a non-TTY user would, capturing stdout and stderr. */
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

function sink(append: (s: string) => void): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      append(String(chunk));
      done();
    },
  });
}

/** `spotml <args>` with the working directory `cwd` (restored afterwards). */
export async function runCli(args: string[], cwd: string): Promise<CliResult> {
  let out = '';
  let err = '';
  const previous = process.cwd();
  process.chdir(cwd);
  try {
    const code = await main(['node', 'spotml', ...args], { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), stdinIsTTY: false });
    return { code, out, err };
  } finally {
    process.chdir(previous);
  }
}
