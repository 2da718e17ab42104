/**
 * PostgreSQL backend of the study storage. Needs a database: SPOTML_TEST_PG_URL, e.g.
 * postgresql://postgres:spotml@127.0.0.1:5432/spotml_test (CI starts one; see .ci/run). Without it the
 * suite is not run locally, but in CI (CI=true) a missing URL is a failure, never a silent skip.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_PG_URL, requirePostgresInCi } from '../helpers/postgres.js';
import { PostgresStudyStorage } from '../../src/search/storage/postgres.js';
import type { StudyStorage } from '../../src/search/storage/types.js';
import { studyStorageCases } from './study-storage.cases.js';

const url = TEST_PG_URL;
const run = randomBytes(4).toString('hex');
const opened: StudyStorage[] = [];

describe('PostgreSQL test database', () => {
  requirePostgresInCi('is configured in CI (SPOTML_TEST_PG_URL)');
});

if (url) {
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
  });
  studyStorageCases('PostgreSQL', {
    async open() {
      const storage = new PostgresStudyStorage(url);
      opened.push(storage);
      return storage;
    },
    async reopen() {
      const storage = new PostgresStudyStorage(url);
      opened.push(storage);
      return storage;
    },
    studyName: (label) => `test-${run}-${label}-${randomBytes(2).toString('hex')}`,
  });

  describe('PostgreSQL storage', () => {
    it('names the database without its password in messages', () => {
      const storage = new PostgresStudyStorage('postgresql://user:secret@127.0.0.1:1/db');
      opened.push(storage);
      expect(storage.location).not.toContain('secret');
    });

    it('reports an unreachable server as a STORE error naming the fix', async () => {
      const storage = new PostgresStudyStorage('postgresql://user:pw@127.0.0.1:1/db');
      opened.push(storage);
      await expect(storage.getStudy('x')).rejects.toThrow(/PostgreSQL is running|study storage/);
    });
  });
}
