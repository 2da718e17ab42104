import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/learners/rng.js';
import { parameterImportance } from '../../../src/search/importance.js';
import type { SearchSpace } from '../../../src/search/space.js';
import { type TrialRecord, finishTrial, startTrial } from '../../../src/search/trial.js';

const SPACE: SearchSpace = {
  lr: { distribution: { kind: 'float', low: 1e-4, high: 1, log: true } },
  noise: { distribution: { kind: 'float', low: 0, high: 1, log: false } },
  kind: { distribution: { kind: 'categorical', choices: ['a', 'b', 'c'] } },
};

function trials(f: (lr: number, noise: number, kind: string) => number, n = 300): TrialRecord[] {
  const rng = new Rng(5);
  return Array.from({ length: n }, (_, i) => {
    const params = { lr: Math.exp(Math.log(1e-4) + rng.next() * Math.log(1e4)), noise: rng.next(), kind: 'abc'[rng.int(3)] };
    return finishTrial(startTrial(i, params), 'COMPLETE', f(params.lr, params.noise, params.kind));
  });
}

describe('parameterImportance (binned η²)', () => {
  it('gives nearly all importance to the only parameter that matters', () => {
    const result = parameterImportance(SPACE, trials((lr) => -Math.abs(Math.log10(lr) + 2)));
    expect(result[0].param).toBe('lr');
    expect(result[0].importance).toBeGreaterThan(0.9);
    expect(result.reduce((s, p) => s + p.importance, 0)).toBeCloseTo(1, 12);
  });

  it('ranks a categorical that shifts the score by more above a numeric that shifts it by less', () => {
    const offset: Record<string, number> = { a: 0, b: 2, c: 4 };
    const result = parameterImportance(SPACE, trials((lr, _n, kind) => offset[kind] + 0.2 * Math.log10(lr)));
    expect(result.map((p) => p.param)).toEqual(['kind', 'lr', 'noise']);
    // Main effects are additive here: kind explains Var(offset) = 8/3, lr 0.04·Var(log10 lr) = 0.04·16/12.
    const share = (8 / 3) / (8 / 3 + (0.04 * 16) / 12);
    expect(result[0].importance).toBeCloseTo(share, 1);
  });

  it('is all zero for a constant objective and ignores unfinished trials', () => {
    const flat = trials(() => 1, 50);
    flat.push(startTrial(50, { lr: 0.1, noise: 0.5, kind: 'a' }));
    expect(parameterImportance(SPACE, flat).every((p) => p.importance === 0)).toBe(true);
  });
});
