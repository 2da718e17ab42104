/**
 * Closed-form test functions for the samplers (all minimised; the search maximises −f), with their known
 * minima: Branin (2-D), Hartmann-6 and a 10-D sphere with two categorical offsets.
 */
import { Rng, hashSeed } from '../../../src/learners/rng.js';
import type { ParamValue } from '../../../src/learners/types.js';
import type { Sampler } from '../../../src/search/sampler.js';
import type { SearchSpace } from '../../../src/search/space.js';
import { type TrialRecord, finishTrial, startTrial } from '../../../src/search/trial.js';

export interface Benchmark {
  name: string;
  space: SearchSpace;
  f(params: Readonly<Record<string, ParamValue>>): number;
  minimum: number;
}

const num = (p: Readonly<Record<string, ParamValue>>, k: string): number => p[k] as number;

export const BRANIN: Benchmark = {
  name: 'branin',
  space: {
    x1: { distribution: { kind: 'float', low: -5, high: 10, log: false } },
    x2: { distribution: { kind: 'float', low: 0, high: 15, log: false } },
  },
  f(p) {
    const x1 = num(p, 'x1');
    const x2 = num(p, 'x2');
    const b = 5.1 / (4 * Math.PI ** 2);
    const c = 5 / Math.PI;
    const t = 1 / (8 * Math.PI);
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
  },
  minimum: 0.397887,
};

const H_ALPHA = [1.0, 1.2, 3.0, 3.2];
const H_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((v) => v * 1e-4));

export const HARTMANN6: Benchmark = {
  name: 'hartmann6',
  space: Object.fromEntries(Array.from({ length: 6 }, (_, j) => [`x${j}`, { distribution: { kind: 'float' as const, low: 0, high: 1, log: false } }])),
  f(p) {
    let total = 0;
    for (let i = 0; i < 4; i++) {
      let inner = 0;
      for (let j = 0; j < 6; j++) inner += H_A[i][j] * (num(p, `x${j}`) - H_P[i][j]) ** 2;
      total += H_ALPHA[i] * Math.exp(-inner);
    }
    return -total;
  },
  minimum: -3.32237,
};

const OFFSETS: Record<string, number> = { a: 0, b: 1, c: 4, d: 9, e: 16 };

export const SPHERE10_CAT2: Benchmark = {
  name: 'sphere10+2cat',
  space: {
    ...Object.fromEntries(Array.from({ length: 10 }, (_, j) => [`x${j}`, { distribution: { kind: 'float' as const, low: -5, high: 5, log: false } }])),
    c0: { distribution: { kind: 'categorical', choices: ['a', 'b', 'c', 'd', 'e'] } },
    c1: { distribution: { kind: 'categorical', choices: ['a', 'b', 'c', 'd', 'e'] } },
  },
  f(p) {
    let s = 0;
    for (let j = 0; j < 10; j++) s += num(p, `x${j}`) ** 2;
    return s + OFFSETS[p.c0 as string] + OFFSETS[p.c1 as string];
  },
  minimum: 0,
};

/** Runs `n` sequential trials of a sampler on a benchmark; returns the best (lowest) f found. */
export function runBenchmark(sampler: Sampler, bench: Benchmark, n: number, seed: number): number {
  const trials: TrialRecord[] = [];
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const params = sampler.sample(bench.space, trials, new Rng(hashSeed(seed, 'sample', i)));
    const value = bench.f(params);
    best = Math.min(best, value);
    trials.push(finishTrial(startTrial(i, params), 'COMPLETE', -value));
  }
  return best;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}
