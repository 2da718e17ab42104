/**
 * Vitest global setup: every temporary folder the run makes (tests' mkdtemp under os.tmpdir(), and whatever the
 * CLI processes they spawn or kill leave behind) goes under one folder per run, removed when the run ends, so
 * `npm test` leaves nothing in the machine's /tmp. Set before the test processes fork, which inherit TMPDIR.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'spotml-test-run-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
