import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MedianPruner } from '../../../src/search/pruners.js';
import { RandomSampler } from '../../../src/search/sampler.js';
import type { SearchSpace } from '../../../src/search/space.js';
import { JournalFileStorage } from '../../../src/search/storage/journal.js';
import { Study, TrialPruned } from '../../../src/search/study.js';
import { TpeSampler } from '../../../src/search/tpe.js';

const SPACE: SearchSpace = { x: { distribution: { kind: 'float', low: -3, high: 3, log: false } } };
const journal = (): JournalFileStorage => new JournalFileStorage(join(mkdtempSync(join(tmpdir(), 'spotml-study-')), 'j.jsonl'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Study', () => {
  it('runs jobs concurrently with unique numbers and stops exactly at the trial cap', async () => {
    const study = await Study.open({ storage: journal(), name: 's', space: SPACE, sampler: new TpeSampler({ constantLiar: true }), seed: 1 });
    let inFlight = 0;
    let most = 0;
    const summary = await study.optimize(
      async (t) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await sleep(60);
        inFlight--;
        return -((t.params.x as number) ** 2);
      },
      { nTrials: 25, jobs: 4 },
    );
    const trials = await study.trials();
    expect(trials.map((t) => t.number)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(trials.every((t) => t.state === 'COMPLETE')).toBe(true);
    // Up to `jobs` trials at once (asking goes through the journal lock one at a time, so allow one less).
    expect(most).toBeGreaterThanOrEqual(3);
    expect(most).toBeLessThanOrEqual(4);
    expect(summary.stoppedBecause).toBe('trials');
  });

  it('is reproducible: a seeded sequential study proposes the same params, resumed or not', async () => {
    const objective = async (t: { params: Readonly<Record<string, unknown>> }): Promise<number> => -(((t.params.x as number) - 1) ** 2);
    const a = await Study.open({ storage: journal(), name: 's', space: SPACE, sampler: new TpeSampler({ startupTrials: 5 }), seed: 9 });
    await a.optimize(objective, { nTrials: 20 });
    const storage = journal();
    const b1 = await Study.open({ storage, name: 's', space: SPACE, sampler: new TpeSampler({ startupTrials: 5 }), seed: 9 });
    await b1.optimize(objective, { nTrials: 8 });
    const b2 = await Study.open({ storage, name: 's', space: SPACE, sampler: new TpeSampler({ startupTrials: 5 }), seed: 9 });
    expect(b2.created).toBe(false);
    await b2.optimize(objective, { nTrials: 20 });
    expect((await b2.trials()).map((t) => t.params)).toEqual((await a.trials()).map((t) => t.params));
  });

  it('records pruned trials with their last intermediate value, and failures without stopping', async () => {
    const study = await Study.open({ storage: journal(), name: 's', space: SPACE, sampler: new RandomSampler(), pruner: new MedianPruner({ startupTrials: 2 }), seed: 2 });
    await study.optimize(
      async (t) => {
        if (t.number === 3) throw new Error('boom');
        const score = -Math.abs(t.params.x as number);
        for (let step = 1; step <= 3; step++) {
          await t.report(step, score);
          if (await t.shouldPrune()) throw new TrialPruned(step);
        }
        return score;
      },
      { nTrials: 15 },
    );
    const trials = await study.trials();
    expect(trials).toHaveLength(15);
    expect(trials[3].state).toBe('FAIL');
    expect(trials[3].attrs.reason).toBe('boom');
    const pruned = trials.filter((t) => t.state === 'PRUNED');
    expect(pruned.length).toBeGreaterThan(0);
    for (const t of pruned) expect(t.value).toBe(t.intermediate[Math.max(...Object.keys(t.intermediate).map(Number))]);
  });

  it('on abort, marks running trials as cut short (crashed) so a resume runs them again', async () => {
    const controller = new AbortController();
    const study = await Study.open({ storage: journal(), name: 's', space: SPACE, sampler: new RandomSampler(), seed: 3 });
    const summary = await study.optimize(
      async (t) => {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, 40);
          t.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('aborted'));
          });
        });
        return 0;
      },
      {
        nTrials: 100,
        jobs: 2,
        signal: controller.signal,
        // Interrupt while trial 2 is surely running (its objective takes 40 ms).
        onTrialStart: (t) => {
          if (t.number === 2) setTimeout(() => controller.abort(), 5);
        },
      },
    );
    expect(summary.stoppedBecause).toBe('aborted');
    const trials = await study.trials();
    expect(trials.every((t) => t.state !== 'RUNNING')).toBe(true);
    const cut = trials.filter((t) => t.attrs.crashed === true);
    expect(cut.length).toBeGreaterThan(0);
    expect(cut.every((t) => t.attrs.reason === 'interrupted')).toBe(true);
  });

  it('refuses to resume a study with different settings', async () => {
    const storage = journal();
    await Study.open({ storage, name: 's', space: SPACE, sampler: new RandomSampler(), seed: 1, attrs: { family: 'knn' }, mustMatch: ['family'] });
    await expect(Study.open({ storage, name: 's', space: SPACE, sampler: new RandomSampler(), seed: 1, attrs: { family: 'svm' }, mustMatch: ['family'] })).rejects.toThrow(
      /different family \("knn", now "svm"\)/,
    );
  });
});
