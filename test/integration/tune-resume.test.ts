/**
 * Durability: a study is killed with SIGKILL at random moments 20 times, then run to the end. Every
 * finished trial survives each kill, no trial number is created or finished twice, the trials cut short
 * are marked failed (crashed) and do not count, and the final study holds exactly the trials asked for.
 * The kills hit `tune()` run from the built API in a child process (the CLI's own start-up, which loads
 * every command, would eat the time budget); the final run to the end goes through the CLI.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/learners/rng.js';
import { JournalFileStorage } from '../../src/search/storage/journal.js';
import { IRIS, journalLines, requireBuild, runCli, startTuneProcess, tempDir } from './tune-helpers.js';

const KILLS = 20;
const TRIALS = 500;

describe('tune survives kill -9', () => {
  it(`keeps every finished trial exactly once across ${KILLS} kills`, async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-kill-');
    const journal = join(dir, 'studies.jsonl');
    const options = { table: IRIS, target: 'target', model: 'knn', trials: TRIALS, study: 'durable', storage: journal, trackingUri: null, plots: false, seed: 3 };
    const args = ['--seed', '3', 'tune', IRIS, '--target', 'target', '--model', 'knn', '--trials', String(TRIALS), '--study', 'durable', '--storage', journal, '--no-track', '--no-plots', '--json'];
    const rng = new Rng(11);
    let finishedBefore = new Map<number, string>();
    let kills = 0;
    // Each kill lands after the child has written progress of its own (so it hits real trial work, whatever the
    // machine's load), then after a random extra delay that spreads kills across the trial lifecycle.
    for (let attempt = 0; kills < KILLS && attempt < 2 * KILLS; attempt++) {
      const linesBefore = existsSync(journal) ? journalLines(journal).length : 0;
      const { child, done } = startTuneProcess(options, dir);
      const deadline = Date.now() + 10_000;
      while (child.exitCode === null && Date.now() < deadline && (existsSync(journal) ? journalLines(journal).length : 0) <= linesBefore) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, rng.next() * 400));
      if (child.exitCode === null && child.pid !== undefined) {
        child.kill('SIGKILL');
        kills++;
      }
      await done;
      // No finished trial is lost, and a finished trial never changes.
      const trials = await new JournalFileStorage(journal).getTrials('durable').catch(() => []);
      const finished = new Map(trials.filter((t) => t.state !== 'RUNNING').map((t) => [t.number, `${t.state}:${t.value}`]));
      for (const [number, outcome] of finishedBefore) expect(finished.get(number)).toBe(outcome);
      finishedBefore = finished;
    }
    expect(kills).toBe(KILLS);

    const final = await runCli(args, dir);
    expect(final.code, final.stderr).toBe(0);
    const summary = JSON.parse(final.stdout) as { trials: { total: number; complete: number; pruned: number; failed: number; crashed: number; running: number } };

    const lines = journalLines(journal);
    const created = lines.filter((l) => l.op === 'create_trial').map((l) => l.number as number);
    const finishes = lines.filter((l) => l.op === 'finish').map((l) => l.number as number);
    expect(created).toEqual(Array.from({ length: created.length }, (_, i) => i));
    expect(new Set(finishes).size).toBe(finishes.length);
    expect([...finishes].sort((a, b) => a - b)).toEqual(created);

    const trials = await new JournalFileStorage(journal).getTrials('durable');
    const counted = trials.filter((t) => t.attrs.crashed !== true);
    const crashed = trials.filter((t) => t.attrs.crashed === true);
    expect(counted).toHaveLength(TRIALS);
    expect(counted.every((t) => t.state === 'COMPLETE' || t.state === 'PRUNED')).toBe(true);
    expect(crashed.every((t) => t.state === 'FAIL' && /died|interrupted|heartbeat/.test(String(t.attrs.reason)))).toBe(true);
    expect(summary.trials.total).toBe(trials.length);
    expect(summary.trials.complete + summary.trials.pruned).toBe(TRIALS);
    expect(summary.trials.crashed).toBe(crashed.length);
    expect(summary.trials.running).toBe(0);
    // Kills landed mid-trial at least sometimes, so the crash path was exercised.
    expect(crashed.length).toBeGreaterThan(0);
  }, 90_000);
});
