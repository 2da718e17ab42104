/**
 * `spotml tune` on a PostgreSQL study when things go wrong (SPOTML_TEST_PG_URL; required in CI): kill -9
 * mid-trial and resume, a server that is down, a wrong or missing password and a missing database (one
 * line naming the URI without its password, and the fix), and listing, exporting and deleting studies.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_PG_URL, requirePostgresInCi } from '../helpers/postgres.js';
import { PostgresStudyStorage } from '../../src/search/storage/postgres.js';
import { IRIS, tempDir } from './tune-helpers.js';
import { SLOW_GBDT_SPACE, requireBuild, runCli, startCli, waitFor } from './tune-failure-helpers.js';

const url = TEST_PG_URL;
const BREAST_CANCER = IRIS.replace(/iris\.csv$/, 'breast_cancer.csv');

describe('tune on PostgreSQL when things go wrong', () => {
  requirePostgresInCi();

  if (url) {
    const storage = new PostgresStudyStorage(url);
    afterAll(() => storage.close());
    const noPgEnv = { PGPASSWORD: '', PGUSER: '', PGDATABASE: '' };

    it('kill -9 mid-trial: resuming marks the trial cut short, runs --trials that count and keeps the best', async () => {
      requireBuild();
      const dir = tempDir('spotml-tune-fail-pgkill-');
      writeFileSync(join(dir, 'slow.yaml'), SLOW_GBDT_SPACE);
      const study = `killed-${randomBytes(4).toString('hex')}`;
      const args = ['tune', BREAST_CANCER, '--target', 'target', '--model', 'gbdt', '--space', 'slow.yaml', '--cv', '2', '--trials', '2', '--study', study, '--storage', url, '--no-track', '--no-plots', '--json'];
      const { child, done } = startCli(args, dir);
      let trialsSeen: { number: number; state: string; value: number | null }[] = [];
      const poll = setInterval(() => {
        storage
          .getStudy(study)
          .then((info) => (info ? storage.getTrials(info.id) : []))
          .then((t) => (trialsSeen = t.map((r) => ({ number: r.number, state: r.state, value: r.value }))))
          .catch(() => undefined);
      }, 50);
      const running = await waitFor(child, () => trialsSeen.some((t) => t.number === 0 && t.state === 'COMPLETE') && trialsSeen.some((t) => t.number === 1 && t.state === 'RUNNING'), 60_000);
      clearInterval(poll);
      expect(running).toBe(true);
      child.kill('SIGKILL');
      await done;
      const firstValue = trialsSeen[0].value;

      const resumed = await runCli(args, dir);
      expect(resumed.code, resumed.stderr).toBe(0);
      const summary = JSON.parse(resumed.stdout) as { trials: { total: number; complete: number; crashed: number; running: number }; best: { score: number } | null };
      const info = await storage.getStudy(study);
      const trials = await storage.getTrials(info!.id);
      expect(trials.map((t) => t.number)).toEqual([0, 1, 2]);
      expect(trials[0].value).toBe(firstValue);
      expect(trials[1]).toMatchObject({ state: 'FAIL', attrs: { crashed: true, reason: 'its worker process died' } });
      expect(summary.trials).toMatchObject({ total: 3, complete: 2, crashed: 1, running: 0 });
      expect(summary.best?.score).toBe(Math.max(trials[0].value as number, trials[2].value as number));
      await storage.deleteStudy(study);
    }, 120_000);

    it('names the server without its password, and the fix, when it is down, refuses the password or lacks the database', async () => {
      requireBuild();
      const dir = tempDir('spotml-tune-fail-pgdown-');
      const parsed = new URL(url);
      const tune = (storageUri: string): Promise<{ code: number | null; stderr: string }> =>
        runCli(['tune', IRIS, '--target', 'target', '--model', 'knn', '--trials', '1', '--storage', storageUri, '--no-track', '--no-plots'], dir, noPgEnv);
      const wrong = new URL(url);
      wrong.username = parsed.username || 'postgres';
      wrong.password = 'not-the-password';
      const refused = await tune(wrong.toString());
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).not.toContain('not-the-password');
      expect(refused.stderr.trim()).toMatch(/^error \[STORE\] cannot connect to postgresql:\/\/[^:]+:\*\*\*@[^ ]+ \(password authentication failed for user "[^"]+"\): put the user and password in --storage \(postgresql:\/\/user:password@host\/db\) or set PGPASSWORD$/);

      const down = new URL(url);
      down.port = '1';
      const unreachable = await tune(down.toString());
      expect(unreachable.code).not.toBe(0);
      expect(unreachable.stderr.trim()).toMatch(/^error \[STORE\] cannot connect to postgresql:\/\/.*:1\/.* \(connect ECONNREFUSED [^)]+\): check the host and port in --storage and that PostgreSQL is running$/);
      if (parsed.password) expect(unreachable.stderr).not.toContain(`:${parsed.password}@`);

      const noDatabase = new URL(url);
      noDatabase.pathname = `/spotml_missing_${randomBytes(3).toString('hex')}`;
      const missing = await tune(noDatabase.toString());
      expect(missing.stderr.trim()).toMatch(/^error \[STORE\] cannot connect to .* \(database "spotml_missing_\w+" does not exist\): create the database \(createdb\) or fix its name in --storage$/);
    }, 60_000);

    it('lists, exports and deletes studies', async () => {
      requireBuild();
      const dir = tempDir('spotml-tune-fail-pglist-');
      const study = `listed-${randomBytes(4).toString('hex')}`;
      const made = await runCli(['tune', IRIS, '--target', 'target', '--model', 'knn', '--trials', '3', '--study', study, '--storage', url, '--no-track', '--no-plots', '--json'], dir);
      expect(made.code, made.stderr).toBe(0);
      const best = (JSON.parse(made.stdout) as { best: { number: number; score: number } }).best;
      const listed = JSON.parse((await runCli(['tune', '--list', '--storage', url, '--json'], dir)).stdout) as { storage: string; studies: { study: string; best: { number: number; score: number } | null; trials: { total: number } }[] };
      if (new URL(url).password) expect(listed.storage).not.toContain(`:${new URL(url).password}@`);
      expect(listed.studies.find((s) => s.study === study)).toMatchObject({ best, trials: { total: 3 } });
      expect((await runCli(['tune', '--study', study, '--storage', url, '--export', 'out.csv'], dir)).code).toBe(0);
      expect(readFileSync(join(dir, 'out.csv'), 'utf8').trimEnd().split('\n')).toHaveLength(4);
      const deleted = await runCli(['tune', '--study', study, '--storage', url, '--delete'], dir);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(await storage.getStudy(study)).toBeUndefined();
    }, 60_000);
  }
});
