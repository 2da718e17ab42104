/**
 * The PostgreSQL database the tests use (SPOTML_TEST_PG_URL; .ci/run starts one). Locally a missing URL leaves
 * the PostgreSQL cases out; in CI (CI=true) it is a failing test, never a silent skip.
 */
import { expect, it } from 'vitest';

export const TEST_PG_URL = process.env.SPOTML_TEST_PG_URL;

/** Registers the test that fails in CI when no database is configured. */
export function requirePostgresInCi(title = 'has a database in CI (SPOTML_TEST_PG_URL)'): void {
  it(title, () => {
    if (process.env.CI === 'true' || process.env.CI === '1') expect(TEST_PG_URL, 'set SPOTML_TEST_PG_URL to a PostgreSQL database for the tests').toBeTruthy();
    else expect(typeof TEST_PG_URL === 'string' || TEST_PG_URL === undefined).toBe(true);
  });
}
