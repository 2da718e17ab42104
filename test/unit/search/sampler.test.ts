import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/learners/rng.js';
import { GridSampler, RandomSampler, enumerateGrid, gridAxis, paramsKey } from '../../../src/search/sampler.js';
import type { SearchSpace } from '../../../src/search/space.js';
import { type TrialRecord, finishTrial, startTrial } from '../../../src/search/trial.js';

const SPACE: SearchSpace = {
  kernel: { distribution: { kind: 'categorical', choices: ['rbf', 'linear'] } },
  C: { distribution: { kind: 'float', low: 0.01, high: 100, log: true } },
  gamma: { distribution: { kind: 'float', low: 0.1, high: 10, log: true }, condition: { param: 'kernel', in: ['rbf'] } },
};

describe('grid', () => {
  it('spaces numeric axes evenly (log axes geometrically) and keeps small int ranges whole', () => {
    expect(gridAxis(SPACE.C, 5)).toEqual([0.01, 0.1, 1, 10, 100]);
    expect(gridAxis({ distribution: { kind: 'float', low: 0, high: 1, log: false } }, 3)).toEqual([0, 0.5, 1]);
    expect(gridAxis({ distribution: { kind: 'int', low: 1, high: 4, log: false, step: 1 } }, 5)).toEqual([1, 2, 3, 4]);
    expect(gridAxis({ distribution: { kind: 'int', low: 0, high: 100, log: false, step: 1 } }, 3)).toEqual([0, 50, 100]);
  });

  it('multiplies a conditional parameter only where it is active', () => {
    // rbf: 5 C × 5 gamma = 25; linear: 5 C = 5.
    const points = enumerateGrid(SPACE, 5);
    expect(points).toHaveLength(30);
    expect(points.filter((p) => p.kernel === 'linear').every((p) => !('gamma' in p))).toBe(true);
    expect(new Set(points.map(paramsKey)).size).toBe(30);
  });

  it('visits every point exactly once, then reports itself exhausted', () => {
    const sampler = new GridSampler({ resolution: 3, seed: 4 });
    const trials: TrialRecord[] = [];
    const total = enumerateGrid(SPACE, 3).length;
    for (let i = 0; i < total; i++) {
      expect(sampler.exhausted(SPACE, trials)).toBe(false);
      // A running trial already holds its point.
      trials.push(startTrial(i, sampler.sample(SPACE, trials, new Rng(i))));
    }
    expect(new Set(trials.map((t) => paramsKey(t.params))).size).toBe(total);
    expect(sampler.exhausted(SPACE, trials)).toBe(true);
    // A crashed trial frees its point again.
    trials[0] = finishTrial(trials[0], 'FAIL', null, { crashed: true });
    expect(sampler.exhausted(SPACE, trials)).toBe(false);
    expect(paramsKey(sampler.sample(SPACE, trials, new Rng(0)))).toBe(paramsKey(trials[0].params));
  });

  it('orders the grid by its seed', () => {
    const a = new GridSampler({ seed: 1 }).points(SPACE).map(paramsKey);
    const b = new GridSampler({ seed: 2 }).points(SPACE).map(paramsKey);
    expect(a).not.toEqual(b);
    expect([...a].sort()).toEqual([...b].sort());
  });
});

describe('RandomSampler', () => {
  it('is seeded, stays in bounds and honours conditions', () => {
    const sampler = new RandomSampler();
    const a = Array.from({ length: 50 }, (_, i) => sampler.sample(SPACE, [], new Rng(i)));
    const b = Array.from({ length: 50 }, (_, i) => sampler.sample(SPACE, [], new Rng(i)));
    expect(a).toEqual(b);
    for (const p of a) {
      expect(p.C as number).toBeGreaterThanOrEqual(0.01);
      expect(p.C as number).toBeLessThanOrEqual(100);
      expect('gamma' in p).toBe(p.kernel === 'rbf');
    }
  });
});
