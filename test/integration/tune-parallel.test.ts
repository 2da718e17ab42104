/**
 * Several `spotml tune` processes on one study: three on a journal-file study and three on a PostgreSQL
 * study (SPOTML_TEST_PG_URL; required in CI). Every trial number is unique and dense, every trial is
 * accounted for (finished, none left running, none crashed), the study holds exactly the trials asked
 * for, and all three processes took part.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_PG_URL, requirePostgresInCi } from '../helpers/postgres.js';
import type { StudyStorage } from '../../src/search/storage/types.js';
import { JournalFileStorage } from '../../src/search/storage/journal.js';
import { PostgresStudyStorage } from '../../src/search/storage/postgres.js';
import { IRIS, requireBuild, runCli, tempDir } from './tune-helpers.js';

const TRIALS = 150;
const PROCESSES = 3;

async function runThree(storageUri: string, study: string, dir: string): Promise<void> {
  const args = ['--seed', '5', 'tune', IRIS, '--target', 'target', '--model', 'knn', '--trials', String(TRIALS), '--study', study, '--storage', storageUri, '--no-track', '--no-plots', '--json'];
  const results = await Promise.all(Array.from({ length: PROCESSES }, () => runCli(args, dir)));
  for (const r of results) expect(r.code, r.stderr).toBe(0);
}

async function checkStudy(storage: StudyStorage, name: string): Promise<void> {
  const info = await storage.getStudy(name);
  expect(info).toBeDefined();
  const trials = await storage.getTrials(info!.id);
  expect(trials.map((t) => t.number)).toEqual(Array.from({ length: trials.length }, (_, i) => i));
  expect(trials).toHaveLength(TRIALS);
  expect(trials.every((t) => t.state === 'COMPLETE' || t.state === 'PRUNED')).toBe(true);
  expect(trials.filter((t) => t.attrs.crashed === true)).toHaveLength(0);
  const workers = new Set(trials.map((t) => (t.attrs.worker as { id: string }).id));
  expect(workers.size).toBe(PROCESSES);
}

describe('three tune processes share a journal-file study', () => {
  it('finish with unique trial numbers and every trial accounted for', async () => {
    requireBuild();
    const dir = tempDir('spotml-tune-par-');
    const journal = join(dir, 'studies.jsonl');
    await runThree(journal, 'shared', dir);
    await checkStudy(new JournalFileStorage(journal), 'shared');
  }, 30_000);
});

const url = TEST_PG_URL;
describe('three tune processes share a PostgreSQL study', () => {
  requirePostgresInCi();

  if (url) {
    const storage = new PostgresStudyStorage(url);
    afterAll(() => storage.close());
    it('finish with unique trial numbers and every trial accounted for', async () => {
      requireBuild();
      const dir = tempDir('spotml-tune-pg-');
      const study = `parallel-${randomBytes(4).toString('hex')}`;
      await runThree(url, study, dir);
      await checkStudy(storage, study);
    }, 30_000);
  }
});
