/**
 * Shared by the tune failure tests: the built CLI (SPOTML_TEST_BUILD may name another build root, e.g.
 * one built with --outDir elsewhere while dist/ is in use), a journal reader that checks every line, and a
 * wait for the first line of some kind.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export { BUILD, requireBuild, runCli, startCli } from './tune-helpers.js';

export interface JournalRecord {
  op: string;
  study?: string;
  number?: number;
  state?: string;
  value?: number | string | null;
  numbers?: number[];
  attrs?: Record<string, unknown>;
  t?: number;
}

/** Every line of a journal, each of which must be whole JSON (a torn line fails the test). */
export function strictJournal(path: string): JournalRecord[] {
  const text = readFileSync(path, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) throw new Error(`${path} ends in a partial line`);
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as JournalRecord);
}

/** Polls until `ready()` holds or the child exits; false when it timed out or the child is gone. */
export async function waitFor(child: ChildProcess, ready: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (ready()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/** A gbdt space whose every trial takes seconds (two folds of 400 boosting rounds on breast_cancer). */
export const SLOW_GBDT_SPACE = 'family: gbdt\nparams:\n  max_iter: { type: int, low: 400, high: 401 }\nfixed:\n  max_leaf_nodes: 64\n  min_samples_leaf: 5\n  learning_rate: 0.05\n';
