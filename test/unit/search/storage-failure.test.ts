/** Study storage edge cases: deleting and re-creating a journal study, one-line connection errors, setting differences. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalFileStorage } from '../../../src/search/storage/journal.js';
import { connectError } from '../../../src/search/storage/postgres.js';
import { describeDifference } from '../../../src/search/study.js';

const worker = { id: 'w', host: 'h', pid: 1 };

describe('journal study deletion', () => {
  it('removes the study for every reader; the name then starts a new, empty study', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'spotml-del-')), 'studies.jsonl');
    const storage = new JournalFileStorage(path);
    const { study } = await storage.getOrCreateStudy('s', { metric: 'accuracy' });
    for (let i = 0; i < 3; i++) await storage.createTrial(study.id, worker, () => ({ params: { x: i } }));
    const other = new JournalFileStorage(path);
    expect(await other.getTrials('s')).toHaveLength(3);

    expect(await storage.deleteStudy('s')).toBe(true);
    expect(await storage.deleteStudy('s')).toBe(false);
    expect(await other.getStudy('s')).toBeUndefined();
    await expect(other.createTrial('s', worker, () => ({ params: {} }))).rejects.toThrow(/study "s" is not in/);

    const again = await other.getOrCreateStudy('s', { metric: 'f1_macro' });
    expect(again.created).toBe(true);
    expect(again.study.attrs).toEqual({ metric: 'f1_macro' });
    expect((await other.createTrial('s', worker, () => ({ params: { x: 9 } })))?.number).toBe(0);
    // A fresh replay of the whole file agrees.
    expect((await new JournalFileStorage(path).getTrials('s')).map((t) => t.params)).toEqual([{ x: 9 }]);
  });
});

describe('PostgreSQL connection errors', () => {
  const where = 'postgresql://u:***@db:5432/spotml';
  it.each([
    [{ code: '28P01', message: 'password authentication failed for user "u"' }, /\(password authentication failed for user "u"\): put the user and password in --storage/],
    [{ message: 'SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string' }, /\(the server wants a password and none was given\): put the user and password in --storage/],
    [{ code: '3D000', message: 'database "spotml" does not exist' }, /: create the database \(createdb\) or fix its name in --storage$/],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:5432' }, /: check the host and port in --storage and that PostgreSQL is running$/],
    [{ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND db' }, /: check the host name in --storage$/],
    [{ message: 'timeout exceeded when trying to connect' }, /\(timeout exceeded when trying to connect\): check the host and port/],
  ])('%o', (cause, expected) => {
    const error = connectError(where, Object.assign(new Error(cause.message), cause));
    expect(error.code).toBe('STORE');
    expect(error.message).toMatch(new RegExp(`^cannot connect to ${where.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `));
    expect(error.message).toMatch(expected);
    expect(error.message).not.toContain('\n');
  });
});

describe('describeDifference', () => {
  it('names the paths that differ, not a truncated dump', () => {
    const stored = { space: { k: { low: 1, high: 50 }, metric: { choices: ['a', 'b'] } }, fixed: {} };
    const wanted = { space: { k: { low: 1, high: 9 }, p: { low: 1, high: 2 } }, fixed: {} };
    expect(describeDifference(stored, wanted)).toBe('space.k.high: 50, now 9; space.metric removed; space.p added');
    expect(describeDifference('accuracy', 'f1_macro')).toBe('"accuracy", now "f1_macro"');
    const many = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`p${i}`, i]));
    expect(describeDifference(many, {})).toBe('p0 removed; p1 removed; p2 removed; and 2 more');
  });
});
