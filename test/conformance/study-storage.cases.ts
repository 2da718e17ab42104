/**
 * The StudyStorage conformance suite: every backend (journal file, PostgreSQL) runs these cases through a
 * factory. `open()` gives a handle on one fresh storage; `reopen()` another handle on the same storage, as a
 * second process would have (separate caches, separate connections).
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { StudyStorage, WorkerIdentity } from '../../src/search/storage/types.js';

export interface StudyStorageFactory {
  open(): Promise<StudyStorage>;
  reopen(): Promise<StudyStorage>;
  /** A study name not used by any other test run against this storage. */
  studyName(label: string): string;
}

const me: WorkerIdentity = { id: `${hostname()}:${process.pid}:test`, host: hostname(), pid: process.pid };
const other: WorkerIdentity = { id: 'elsewhere:1:other', host: 'another-host.invalid', pid: 1 };

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid as number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function studyStorageCases(backend: string, factory: StudyStorageFactory): void {
  describe(`StudyStorage conformance: ${backend}`, () => {
    it('creates a study once; later opens return it with its attributes', async () => {
      const storage = await factory.open();
      const name = factory.studyName('create');
      const first = await storage.getOrCreateStudy(name, { family: 'knn', space: { a: [1, 2] } });
      expect(first.created).toBe(true);
      const again = await (await factory.reopen()).getOrCreateStudy(name, { family: 'other' });
      expect(again.created).toBe(false);
      expect(again.study.id).toBe(first.study.id);
      expect(again.study.attrs).toEqual({ family: 'knn', space: { a: [1, 2] } });
      expect((await storage.listStudies()).map((s) => s.name)).toContain(name);
      expect(await storage.getStudy(factory.studyName('missing'))).toBeUndefined();
      expect(Object.isFrozen(first.study)).toBe(true);
    });

    it('deletes a study with its trials, for every handle; a study created later under the name starts empty', async () => {
      const storage = await factory.open();
      const name = factory.studyName('delete');
      const kept = factory.studyName('kept');
      const { study } = await storage.getOrCreateStudy(name, { family: 'knn' });
      await storage.getOrCreateStudy(kept, {});
      await storage.createTrial(study.id, me, () => ({ params: { a: 1 }, attrs: {} }));
      expect(await storage.deleteStudy(name)).toBe(true);
      expect(await storage.deleteStudy(name)).toBe(false);
      const other = await factory.reopen();
      expect(await other.getStudy(name)).toBeUndefined();
      expect((await other.listStudies()).map((s) => s.name)).toContain(kept);
      expect((await other.listStudies()).map((s) => s.name)).not.toContain(name);
      const again = await other.getOrCreateStudy(name, { family: 'svm' });
      expect(again.created).toBe(true);
      expect(again.study.attrs).toEqual({ family: 'svm' });
      expect(await other.getTrials(again.study.id)).toEqual([]);
      expect((await other.createTrial(again.study.id, me, () => ({ params: {}, attrs: {} })))?.number).toBe(0);
    });

    it('numbers trials 0, 1, 2 … and proposes under the lock with every earlier trial in view', async () => {
      const storage = await factory.open();
      const { study } = await storage.getOrCreateStudy(factory.studyName('numbers'), {});
      const seen: [number, number][] = [];
      for (let i = 0; i < 4; i++) {
        const trial = await storage.createTrial(study.id, me, (trials, number) => {
          seen.push([trials.length, number]);
          return { params: { i, name: `t${i}`, flag: i % 2 === 0 }, attrs: { seed: 10 + i } };
        });
        expect(trial?.number).toBe(i);
        expect(trial?.state).toBe('RUNNING');
        expect(trial?.params).toEqual({ i, name: `t${i}`, flag: i % 2 === 0 });
        expect(trial?.attrs.seed).toBe(10 + i);
      }
      expect(seen).toEqual([
        [0, 0],
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
      expect(await storage.createTrial(study.id, me, () => null)).toBeNull();
      expect((await storage.getTrials(study.id)).map((t) => t.number)).toEqual([0, 1, 2, 3]);
    });

    it('records intermediate values and the finish; a finished trial never changes', async () => {
      const storage = await factory.open();
      const { study } = await storage.getOrCreateStudy(factory.studyName('finish'), {});
      const created = await storage.createTrial(study.id, me, () => ({ params: { x: 1.5 } }));
      const number = created!.number;
      await storage.reportIntermediate(study.id, number, 1, 0.25);
      await storage.reportIntermediate(study.id, number, 2, Number.NaN);
      await storage.reportIntermediate(study.id, number, 3, Number.NEGATIVE_INFINITY);
      const before = (await storage.getTrials(study.id))[number];
      const done = await storage.finishTrial(study.id, number, 'COMPLETE', 0.75, { foldScores: [0.7, 0.8] });
      expect(done.state).toBe('COMPLETE');
      expect(done.value).toBe(0.75);
      expect(done.intermediate[1]).toBe(0.25);
      expect(done.intermediate[2]).toBeNaN();
      expect(done.intermediate[3]).toBe(Number.NEGATIVE_INFINITY);
      expect(done.attrs.foldScores).toEqual([0.7, 0.8]);
      expect(done.finishedAt).not.toBeNull();
      expect(done.finishedAt! >= done.startedAt).toBe(true);
      // The earlier snapshot did not change under the later writes.
      expect(before.state).toBe('RUNNING');
      expect(Object.isFrozen(before) && Object.isFrozen(before.params) && Object.isFrozen(before.intermediate)).toBe(true);
      await expect(storage.finishTrial(study.id, number, 'FAIL', null)).rejects.toThrow(/already COMPLETE/);
      await expect(storage.reportIntermediate(study.id, number, 4, 1)).rejects.toThrow(/already COMPLETE/);
      const seenElsewhere = (await (await factory.reopen()).getTrials(study.id))[number];
      expect(seenElsewhere.state).toBe('COMPLETE');
      expect(seenElsewhere.value).toBe(0.75);
      expect(seenElsewhere.intermediate[1]).toBe(0.25);
    });

    it('caps the number of trials that count; crashed trials do not count', async () => {
      const storage = await factory.open();
      const { study } = await storage.getOrCreateStudy(factory.studyName('cap'), {});
      const make = (): ReturnType<StudyStorage['createTrial']> => storage.createTrial(study.id, me, () => ({ params: {} }), { maxTrials: 3 });
      expect((await make())?.number).toBe(0);
      expect((await make())?.number).toBe(1);
      await storage.finishTrial(study.id, 1, 'FAIL', null, { crashed: true });
      expect((await make())?.number).toBe(2);
      expect((await make())?.number).toBe(3);
      expect(await make()).toBeNull();
    });

    it('hands out unique, dense numbers to concurrent creators on separate handles', async () => {
      const a = await factory.open();
      const b = await factory.reopen();
      const { study } = await a.getOrCreateStudy(factory.studyName('concurrent'), {});
      const proposals: [number, number][] = [];
      const create = (s: StudyStorage): Promise<number | undefined> =>
        s.createTrial(study.id, me, (trials, number) => {
          proposals.push([trials.length, number]);
          return { params: { n: number } };
        }, { maxTrials: 30 }).then((t) => t?.number);
      const numbers = await Promise.all(Array.from({ length: 36 }, (_, i) => create(i % 2 === 0 ? a : b)));
      const made = numbers.filter((n): n is number => n !== undefined).sort((x, y) => x - y);
      expect(made).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(proposals.every(([seen, number]) => seen === number)).toBe(true);
      const trials = await b.getTrials(study.id);
      expect(trials.map((t) => t.params.n)).toEqual(trials.map((t) => t.number));
    });

    it('keeps the first value of a study attribute', async () => {
      const storage = await factory.open();
      const { study } = await storage.getOrCreateStudy(factory.studyName('attr'), { a: 1 });
      expect(await storage.setStudyAttrOnce(study.id, 'runId', 'first')).toBe('first');
      expect(await (await factory.reopen()).setStudyAttrOnce(study.id, 'runId', 'second')).toBe('first');
      expect((await storage.getStudy(study.name))?.attrs).toEqual({ a: 1, runId: 'first' });
    });

    it('fails trials of dead or silent workers (marked crashed), never its own or a beating one', async () => {
      const storage = await factory.open();
      const { study } = await storage.getOrCreateStudy(factory.studyName('stale'), {});
      const dead: WorkerIdentity = { id: `${hostname()}:dead`, host: hostname(), pid: deadPid() };
      const beating: WorkerIdentity = { id: 'elsewhere:2:beating', host: 'another-host.invalid', pid: 2 };
      const mine = await storage.createTrial(study.id, me, () => ({ params: {} }));
      const ofDead = await storage.createTrial(study.id, dead, () => ({ params: {} }));
      const ofSilent = await storage.createTrial(study.id, other, () => ({ params: {} }));
      const ofBeating = await storage.createTrial(study.id, beating, () => ({ params: {} }));
      // A dead process on this host is seen at once.
      expect(await storage.failStaleTrials(study.id, me, 60_000)).toEqual([ofDead!.number]);
      await sleep(400);
      await storage.heartbeat(study.id, beating, [ofBeating!.number]);
      // The silent foreign worker is judged by its heartbeat; the beating one and our own are kept.
      expect(await (await factory.reopen()).failStaleTrials(study.id, me, 300)).toEqual([ofSilent!.number]);
      const trials = await storage.getTrials(study.id);
      expect(trials[mine!.number].state).toBe('RUNNING');
      expect(trials[ofBeating!.number].state).toBe('RUNNING');
      for (const n of [ofDead!.number, ofSilent!.number]) {
        expect(trials[n].state).toBe('FAIL');
        expect(trials[n].attrs.crashed).toBe(true);
        expect(typeof trials[n].attrs.reason).toBe('string');
      }
      // The worker that was failed cannot finish its trial afterwards.
      await expect(storage.finishTrial(study.id, ofSilent!.number, 'COMPLETE', 1)).rejects.toThrow(/already FAIL/);
    });
  });
}
