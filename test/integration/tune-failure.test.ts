/**
 * `spotml tune` when things go wrong, with real processes on a journal-file study: kill -9 mid-trial and
 * resume (the trial is marked cut short, not counted, the best trial is kept, the journal stays whole),
 * SIGTERM (marked at once), heartbeats that keep coming while a fold computes, a journal whose last line a
 * crash tore, a journal on a path that cannot be written, and listing, exporting and deleting studies.
 */
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalFileStorage } from '../../src/search/storage/journal.js';
import { IRIS, tempDir } from './tune-helpers.js';
import { SLOW_GBDT_SPACE, requireBuild, runCli, startCli, strictJournal, waitFor } from './tune-failure-helpers.js';

const BREAST_CANCER = IRIS.replace(/iris\.csv$/, 'breast_cancer.csv');

interface Summary {
  resumed: boolean;
  trials: { total: number; complete: number; pruned: number; failed: number; crashed: number; running: number; thisRun: number };
  best: { number: number; score: number } | null;
}

function slowArgs(dir: string, study: string, trials: number): string[] {
  writeFileSync(join(dir, 'slow.yaml'), SLOW_GBDT_SPACE);
  return ['tune', BREAST_CANCER, '--target', 'target', '--model', 'gbdt', '--space', 'slow.yaml', '--cv', '2', '--trials', String(trials), '--study', study,
    '--storage', 'studies.jsonl', '--heartbeat-timeout', '1', '--no-track', '--no-plots', '--json'];
}

/** The longest silence (ms) of a trial's worker while it ran: from its creation, between beats, to its finish. */
function longestSilence(records: ReturnType<typeof strictJournal>, number: number): { silence: number; duration: number } {
  const created = records.find((r) => r.op === 'create_trial' && r.number === number)?.t as number;
  const finished = records.find((r) => r.op === 'finish' && r.number === number)?.t as number;
  const beats = records.filter((r) => r.op === 'heartbeat' && r.numbers?.includes(number)).map((r) => r.t as number);
  const times = [created, ...beats.filter((t) => t >= created && t <= finished), finished];
  let silence = 0;
  for (let i = 1; i < times.length; i++) silence = Math.max(silence, times[i] - times[i - 1]);
  return { silence, duration: finished - created };
}

describe('tune on a journal study when things go wrong', () => {
  it('kill -9 mid-trial: resuming marks the trial cut short, runs --trials that count, keeps the best; heartbeats go on while folds compute', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-fail-kill-');
    const journal = join(dir, 'studies.jsonl');
    const args = slowArgs(dir, 'killed', 2);
    const { child, done } = startCli(args, dir);
    // Kill once trial 0 is finished and trial 1 is running.
    const running = await waitFor(child, () => {
      try {
        const records = strictJournal(journal);
        return records.some((r) => r.op === 'finish' && r.number === 0) && records.some((r) => r.op === 'create_trial' && r.number === 1);
      } catch {
        return false;
      }
    }, 60_000);
    expect(running).toBe(true);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');

    const before = strictJournal(journal);
    const first = before.find((r) => r.op === 'finish' && r.number === 0);
    expect(first?.state).toBe('COMPLETE');
    // Folds run off the main thread, so the worker beat (every 250 ms here) all through trial 0: no other
    // worker could have taken it for dead (silent past the 1 s --heartbeat-timeout) while it computed.
    const { silence, duration } = longestSilence(before, 0);
    expect(duration).toBeGreaterThan(1000);
    expect(silence).toBeLessThan(1000);

    const resumed = await runCli(args, dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout) as Summary;
    expect(summary.resumed).toBe(true);
    const trials = await new JournalFileStorage(journal).getTrials('killed');
    expect(trials.map((t) => t.number)).toEqual([0, 1, 2]);
    expect(trials[1]).toMatchObject({ state: 'FAIL', attrs: { crashed: true, reason: 'its worker process died' } });
    expect(trials.filter((t) => t.attrs.crashed !== true)).toHaveLength(2);
    expect(summary.trials).toMatchObject({ total: 3, complete: 2, crashed: 1, running: 0, thisRun: 1 });
    // Trial 0 is untouched and the best is the better of the complete ones.
    expect(trials[0].value).toBe(first?.value);
    const bestValue = Math.max(trials[0].value as number, trials[2].value as number);
    expect(summary.best?.score).toBe(bestValue);
    // The journal is whole: every line parses, numbers are created and finished once each.
    const records = strictJournal(journal);
    expect(records.filter((r) => r.op === 'create_trial').map((r) => r.number)).toEqual([0, 1, 2]);
    expect(records.filter((r) => r.op === 'finish').map((r) => r.number).sort()).toEqual([0, 1, 2]);
  }, 120_000);

  it('SIGTERM marks the running trial cut short at once and exits 143', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-fail-term-');
    const journal = join(dir, 'studies.jsonl');
    const { child, done } = startCli(slowArgs(dir, 'termed', 5), dir);
    const started = await waitFor(child, () => {
      try {
        return strictJournal(journal).some((r) => r.op === 'create_trial');
      } catch {
        return false;
      }
    }, 30_000);
    expect(started).toBe(true);
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code, result.stderr).toBe(143);
    const trials = await new JournalFileStorage(journal).getTrials('termed');
    expect(trials.length).toBeGreaterThan(0);
    expect(trials.every((t) => t.state !== 'RUNNING')).toBe(true);
    expect(trials.at(-1)).toMatchObject({ state: 'FAIL', attrs: { crashed: true, reason: 'interrupted' } });
  }, 60_000);

  it('resumes a journal whose last line a crash tore, dropping only that line', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-fail-torn-');
    const journal = join(dir, 'studies.jsonl');
    const args = (trials: number): string[] => ['tune', IRIS, '--target', 'target', '--model', 'knn', '--trials', String(trials), '--study', 'torn', '--storage', journal, '--no-track', '--no-plots', '--json'];
    expect((await runCli(args(4), dir)).code).toBe(0);
    const whole = readFileSync(journal, 'utf8');
    const lastLine = whole.slice(whole.lastIndexOf('\n', whole.length - 2) + 1);
    expect(JSON.parse(lastLine)).toMatchObject({ op: 'finish', number: 3 });
    truncateSync(journal, whole.length - Math.ceil(lastLine.length / 2));

    const resumed = await runCli(args(6), dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    const records = strictJournal(journal);
    // Trial 3's finish was torn off: it ran in a process that is gone, so it is cut short and does not count.
    const trials = await new JournalFileStorage(journal).getTrials('torn');
    expect(trials[3]).toMatchObject({ state: 'FAIL', attrs: { crashed: true } });
    expect(trials.filter((t) => t.attrs.crashed !== true)).toHaveLength(6);
    expect(records.filter((r) => r.op === 'create_trial').map((r) => r.number)).toEqual(trials.map((t) => t.number));
    expect(new Set(records.filter((r) => r.op === 'finish').map((r) => r.number)).size).toBe(trials.length);
  }, 60_000);

  it('names the journal and --storage when its path cannot be written', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-fail-ro-');
    // /sys refuses new entries even to root.
    const result = await runCli(['tune', IRIS, '--target', 'target', '--model', 'knn', '--trials', '1', '--storage', '/sys/spotml-test/studies.jsonl', '--no-track', '--no-plots'], dir);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toMatch(/^error \[INVALID_INPUT\] cannot write the study journal \/sys\/spotml-test\/studies\.jsonl \((EACCES|EPERM|EROFS) on \/sys\/spotml-test\): pass --storage with a writable file or folder, or fix its permissions$/);
  }, 30_000);

  it('lists, exports and deletes studies', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-fail-list-');
    const tune = (study: string, trials: number): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      runCli(['tune', IRIS, '--target', 'target', '--model', 'knn', '--trials', String(trials), '--study', study, '--no-track', '--no-plots', '--json'], dir);
    const a = JSON.parse((await tune('a', 3)).stdout) as Summary;
    expect((await tune('b', 2)).code).toBe(0);

    const listed = await runCli(['tune', '--list', '--json'], dir);
    expect(listed.code, listed.stderr).toBe(0);
    const { studies } = JSON.parse(listed.stdout) as { studies: { study: string; metric: string; trials: { total: number }; best: { number: number; score: number } | null }[] };
    expect(studies.map((s) => [s.study, s.metric, s.trials.total])).toEqual([
      ['a', 'accuracy', 3],
      ['b', 'accuracy', 2],
    ]);
    expect(studies[0].best).toMatchObject({ number: a.best?.number, score: a.best?.score });
    expect((await runCli(['tune', '--list'], dir)).stdout).toMatch(/^study\s+model\s+metric\s+trials\s+best\s+created\n.*\na\s+knn\s+accuracy\s+3 \(/);

    expect((await runCli(['tune', '--study', 'a', '--export', 'a.csv'], dir)).code).toBe(0);
    const csv = readFileSync(join(dir, 'a.csv'), 'utf8').trimEnd().split('\n');
    expect(csv[0]).toBe('number,state,score,duration_s,started_at,finished_at,param_n_neighbors,param_weights,param_metric,note');
    expect(csv).toHaveLength(4);
    expect((await runCli(['tune', '--study', 'a', '--export', 'a.json'], dir)).code).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8')) as { trials: { number: number; score: number | null }[] };
    expect(json.trials.map((t) => t.number)).toEqual([0, 1, 2]);
    expect(Math.max(...json.trials.map((t) => t.score ?? -1))).toBe(a.best?.score);

    const missing = await runCli(['tune', '--study', 'nope', '--export', 'x.csv'], dir);
    expect(missing.stderr.trim()).toMatch(/^error \[NOT_FOUND\] there is no study "nope" in .*studies\.jsonl \(studies: a, b\): check --study and --storage$/);
    expect((await runCli(['tune', '--list', '--delete'], dir)).stderr).toMatch(/--list and --delete cannot be combined/);

    const deleted = await runCli(['tune', '--study', 'a', '--delete'], dir);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted study a and its 3 trials from /);
    const after = JSON.parse((await runCli(['tune', '--list', '--json'], dir)).stdout) as { studies: { study: string }[] };
    expect(after.studies.map((s) => s.study)).toEqual(['b']);
    // The name is free again: a new study under it starts from trial 0.
    const again = JSON.parse((await tune('a', 1)).stdout) as Summary;
    expect(again.resumed).toBe(false);
    expect(again.trials.total).toBe(1);
  }, 90_000);
});
