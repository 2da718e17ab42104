import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { JournalFileStorage } from '../../src/search/storage/journal.js';
import { acquireLock } from '../../src/runtime/lock.js';
import type { WorkerIdentity } from '../../src/search/storage/types.js';
import { studyStorageCases } from './study-storage.cases.js';

let path = '';
studyStorageCases('journal file', {
  async open() {
    path = join(mkdtempSync(join(tmpdir(), 'spotml-journal-')), 'studies.jsonl');
    return new JournalFileStorage(path);
  },
  async reopen() {
    return new JournalFileStorage(path);
  },
  studyName: (label) => `${label}-${randomBytes(3).toString('hex')}`,
});

const me: WorkerIdentity = { id: 'me', host: hostname(), pid: process.pid };

describe('journal file: crash safety', () => {
  it('replays the journal into the same state in a fresh process view', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'spotml-journal-')), 'j.jsonl');
    const a = new JournalFileStorage(file);
    const { study } = await a.getOrCreateStudy('s', { x: 1 });
    for (let i = 0; i < 5; i++) {
      const t = await a.createTrial(study.id, me, () => ({ params: { i } }));
      await a.reportIntermediate(study.id, t!.number, 1, i / 10);
      if (i !== 2) await a.finishTrial(study.id, t!.number, i === 4 ? 'PRUNED' : 'COMPLETE', i);
    }
    const b = new JournalFileStorage(file);
    expect(JSON.parse(JSON.stringify(await b.getTrials('s')))).toEqual(JSON.parse(JSON.stringify(await a.getTrials('s'))));
  });

  it('ignores a torn last line, and the next writer cuts it off before appending', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'spotml-journal-')), 'j.jsonl');
    const a = new JournalFileStorage(file);
    const { study } = await a.getOrCreateStudy('s', {});
    await a.createTrial(study.id, me, () => ({ params: { i: 0 } }));
    await a.finishTrial(study.id, 0, 'COMPLETE', 1);
    // A writer killed mid-line: half a record, no newline.
    appendFileSync(file, '{"op":"finish","study":"s","number":1,"state":"COMPL');
    const b = new JournalFileStorage(file);
    expect((await b.getTrials('s')).map((t) => t.state)).toEqual(['COMPLETE']);
    const t1 = await b.createTrial(study.id, me, () => ({ params: { i: 1 } }));
    expect(t1?.number).toBe(1);
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
    expect(lines.every((l) => JSON.parse(l) !== null)).toBe(true);
    expect((await new JournalFileStorage(file).getTrials('s')).map((t) => [t.number, t.state])).toEqual([
      [0, 'COMPLETE'],
      [1, 'RUNNING'],
    ]);
  });

  it('breaks a lock left by a dead process, and waits for a live holder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spotml-lock-'));
    const lock = join(dir, 'j.jsonl.lock');
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid as number;
    writeFileSync(lock, JSON.stringify({ host: hostname(), pid: deadPid, token: 'old', time: Date.now() }));
    const release = await acquireLock(lock, 2000);
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid);
    // Held by a live process (us): a second acquirer times out.
    await expect(acquireLock(lock, 200)).rejects.toThrow(/timed out/);
    await release();
    const again = await acquireLock(lock, 200);
    await again();
  });
});
