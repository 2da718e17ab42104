/**
 * Bootstrap intervals, McNemar's exact test, the paired bootstrap and compareModels, against closed forms:
 * exact binomial tails summed with BigInt (a second, naive implementation), a textbook McNemar value, normal
 * theory for the width of a proportion's interval, and coverage over many seeded synthetic data sets.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/learners/rng.js';
import {
  bootstrapCi,
  bootstrapDistribution,
  compareModels,
  describeComparison,
  mcnemarCounts,
  mcnemarExactP,
  metricIntervals,
  pairedBootstrap,
  quantileSorted,
} from '../../../src/metrics/stats.js';
import { accuracy } from '../../../src/metrics/classification.js';
import { rmse } from '../../../src/metrics/regression.js';

/** 2 · Σ_{i ≤ min(b,c)} C(n, i) / 2^n with exact integers, then one division. */
function naiveMcnemar(b: number, c: number): number {
  const n = BigInt(b + c);
  if (n === 0n) return 1;
  const k = BigInt(Math.min(b, c));
  let choose = 1n;
  let tail = 0n;
  for (let i = 0n; i <= k; i++) {
    if (i > 0n) choose = (choose * (n - i + 1n)) / i;
    tail += choose;
  }
  // p = 2 · tail · 2^-n: keep the top 60 bits of tail as the mantissa, fold the rest into the exponent.
  const shift = Math.max(0, tail.toString(2).length - 60);
  const mantissa = Number(tail >> BigInt(shift));
  return Math.min(1, 2 * mantissa * 2 ** (shift - Number(n)));
}

describe('McNemar exact test', () => {
  it('matches the textbook value b=1, c=9 → p = 0.021484375 (= 22/1024)', () => {
    expect(mcnemarExactP(1, 9)).toBeCloseTo(0.021484375, 15);
    expect(mcnemarExactP(9, 1)).toBeCloseTo(0.021484375, 15);
  });

  it('is 1 without discordant pairs and when b = c', () => {
    expect(mcnemarExactP(0, 0)).toBe(1);
    expect(mcnemarExactP(5, 5)).toBe(1);
    expect(mcnemarExactP(40, 40)).toBe(1);
  });

  it('equals the exact binomial sum computed with BigInt, small to large counts (relative 1e-10)', () => {
    const pairs: [number, number][] = [
      [0, 1], [0, 5], [2, 3], [3, 12], [10, 25], [17, 4], [50, 70], [120, 80], [300, 350], [600, 520], [0, 60], [5, 1000],
    ];
    for (const [b, c] of pairs) {
      const expected = naiveMcnemar(b, c);
      const got = mcnemarExactP(b, c);
      expect(Math.abs(got - expected) / Math.max(expected, 1e-300)).toBeLessThan(1e-10);
    }
  });

  it('rejects negative or fractional counts', () => {
    expect(() => mcnemarExactP(-1, 2)).toThrow(/non-negative integers/);
    expect(() => mcnemarExactP(1.5, 2)).toThrow(/non-negative integers/);
  });

  it('counts discordant rows', () => {
    const y = [0, 1, 1, 0, 2, 2];
    const a = [0, 1, 0, 1, 2, 0];
    const b = [0, 0, 1, 1, 2, 2];
    expect(mcnemarCounts(y, a, b)).toEqual({ candidateOnly: 1, baselineOnly: 2, bothRight: 2, bothWrong: 1 });
  });
});

describe('bootstrap confidence intervals', () => {
  it('quantiles interpolate linearly, as numpy.percentile', () => {
    const s = [1, 2, 3, 4];
    expect(quantileSorted(s, 0)).toBe(1);
    expect(quantileSorted(s, 0.25)).toBeCloseTo(1.75, 12);
    expect(quantileSorted(s, 0.5)).toBeCloseTo(2.5, 12);
    expect(quantileSorted(s, 1)).toBe(4);
    expect(quantileSorted([7], 0.3)).toBe(7);
  });

  const bernoulli = (n: number, p: number, seed: number): Uint8Array => {
    const rng = new Rng(seed);
    return Uint8Array.from({ length: n }, () => (rng.next() < p ? 1 : 0));
  };
  const meanOf = (x: Uint8Array) => (indices: Uint32Array): number => {
    let s = 0;
    for (const i of indices) s += x[i];
    return s / indices.length;
  };

  it('is reproducible under a seed and changes with it', () => {
    const x = bernoulli(400, 0.8, 1);
    const a = bootstrapCi(x.length, meanOf(x), { seed: 42 });
    const b = bootstrapCi(x.length, meanOf(x), { seed: 42 });
    const c = bootstrapCi(x.length, meanOf(x), { seed: 43 });
    expect(a).toEqual(b);
    expect(c.lower === a.lower && c.upper === a.upper).toBe(false);
    expect(a.nResamples).toBe(1000);
    expect(a.nValid).toBe(1000);
  });

  it('covers the true proportion in about 95% of synthetic data sets, with the normal-theory width', () => {
    const p = 0.8;
    const n = 500;
    let covered = 0;
    const trials = 40;
    for (let t = 0; t < trials; t++) {
      const x = bernoulli(n, p, 1000 + t);
      const ci = bootstrapCi(n, meanOf(x), { seed: t, nResamples: 500 });
      if (ci.lower <= p && p <= ci.upper) covered++;
      // Width ≈ 2 · 1.96 · sqrt(p̂(1−p̂)/n) for a proportion; within 25% at n = 500.
      const expectedWidth = 2 * 1.959964 * Math.sqrt((ci.estimate * (1 - ci.estimate)) / n);
      expect(Math.abs(ci.upper - ci.lower - expectedWidth) / expectedWidth).toBeLessThan(0.25);
    }
    // Binomial(40, 0.95): P(covered ≤ 34) ≈ 1.4%; the seeds are fixed, so this is deterministic.
    expect(covered).toBeGreaterThanOrEqual(35);
  });

  it('stratified resamples keep every class size', () => {
    const strata = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2];
    const sizes: number[][] = [];
    bootstrapDistribution(
      strata.length,
      (idx) => {
        const count = [0, 0, 0];
        for (const i of idx) count[strata[i]]++;
        sizes.push(count);
        return 0;
      },
      50,
      3,
      strata,
    );
    expect(sizes).toHaveLength(50);
    for (const s of sizes) expect(s).toEqual([3, 2, 5]);
  });

  it('metric intervals: estimate equals the metric on all rows and lies inside the interval', () => {
    const rng = new Rng(9);
    const n = 300;
    const yTrue = Float64Array.from({ length: n }, () => rng.int(3));
    const yPred = yTrue.map((y) => (rng.next() < 0.75 ? y : (y + 1) % 3));
    const ci = metricIntervals({ task: 'classification', yTrue, yPred, labels: ['a', 'b', 'c'] }, ['accuracy', 'f1_macro'], { seed: 1 });
    expect(ci.accuracy.estimate).toBe(accuracy(yTrue, yPred));
    for (const name of ['accuracy', 'f1_macro']) {
      expect(ci[name].lower).toBeLessThanOrEqual(ci[name].estimate);
      expect(ci[name].upper).toBeGreaterThanOrEqual(ci[name].estimate);
    }
    expect(() => metricIntervals({ task: 'classification', yTrue, yPred, labels: ['a', 'b', 'c'] }, ['roc_auc'])).toThrow(/not available/);
    expect(() => metricIntervals({ task: 'classification', yTrue, yPred, labels: ['a', 'b', 'c'] }, ['rmse'])).toThrow(/not available/);
  });

  it('metric intervals resample the class mix too: a one-class predictor gets the binomial width, not zero', () => {
    // 100 rows of 5 balanced classes, every prediction class 0: accuracy 0.2 on this sample, and its sampling
    // spread is a proportion's, 2 · 1.96 · sqrt(0.2 · 0.8 / 100) ≈ 0.157 wide (within 25%).
    const n = 100;
    const yTrue = Float64Array.from({ length: n }, (_, i) => i % 5);
    const yPred = new Float64Array(n);
    const ci = metricIntervals({ task: 'classification', yTrue, yPred, labels: ['a', 'b', 'c', 'd', 'e'] }, ['accuracy'], { seed: 4 });
    expect(ci.accuracy.estimate).toBe(0.2);
    const expectedWidth = 2 * 1.959964 * Math.sqrt((0.2 * 0.8) / n);
    expect(Math.abs(ci.accuracy.upper - ci.accuracy.lower - expectedWidth) / expectedWidth).toBeLessThan(0.25);
  });

  it('reports no interval when most resamples leave the statistic undefined', () => {
    const ci = bootstrapCi(10, () => Number.NaN, { seed: 1, nResamples: 20 });
    expect(ci.nValid).toBe(0);
    expect(Number.isNaN(ci.lower)).toBe(true);
  });

  it('rejects bad options', () => {
    expect(() => bootstrapCi(10, () => 0, { nResamples: 0 })).toThrow(/positive integer/);
    expect(() => bootstrapCi(10, () => 0, { confidence: 1 })).toThrow(/between 0 and 1/);
  });
});

describe('paired bootstrap and compareModels', () => {
  const makeClassification = (n: number, candidateAcc: number, baselineAcc: number, seed: number) => {
    const rng = new Rng(seed);
    const yTrue = Float64Array.from({ length: n }, () => rng.int(4));
    const noisy = (acc: number): Float64Array => yTrue.map((y) => (rng.next() < acc ? y : (y + 1 + rng.int(3)) % 4));
    return { yTrue, candidate: noisy(candidateAcc), baseline: noisy(baselineAcc) };
  };

  it('a clearly worse classifier is "worse" (McNemar), a clearly better one "better"', () => {
    const { yTrue, candidate, baseline } = makeClassification(400, 0.6, 0.9, 5);
    const worse = compareModels('classification', yTrue, candidate, baseline);
    expect(worse.test).toBe('mcnemar-exact');
    expect(worse.decision).toBe('worse');
    expect(worse.pValue).toBeLessThan(0.001);
    expect(worse.delta).toBeCloseTo(accuracy(yTrue, candidate) - accuracy(yTrue, baseline), 12);
    const counts = mcnemarCounts(yTrue, candidate, baseline);
    expect(worse.pValue).toBe(mcnemarExactP(counts.candidateOnly, counts.baselineOnly));
    expect(worse.statistic).toBe(Math.min(counts.candidateOnly, counts.baselineOnly));
    expect(compareModels('classification', yTrue, baseline, candidate).decision).toBe('better');
    expect(describeComparison(worse)).toMatch(/^worse than baseline: accuracy .* McNemar exact p = /);
  });

  it('the same model against itself is "no significant difference" with p = 1', () => {
    const { yTrue, candidate } = makeClassification(200, 0.8, 0.8, 6);
    const same = compareModels('classification', yTrue, candidate, candidate);
    expect(same.decision).toBe('no significant difference');
    expect(same.pValue).toBe(1);
    expect(same.delta).toBe(0);
    const y = Float64Array.from({ length: 100 }, (_, i) => i / 10);
    const p = y.map((v, i) => v + Math.sin(i));
    const reg = compareModels('regression', y, p, p);
    expect(reg.decision).toBe('no significant difference');
    expect(reg.pValue).toBe(1);
  });

  it('a small, noisy difference is not significant', () => {
    const { yTrue, candidate, baseline } = makeClassification(100, 0.8, 0.79, 8);
    expect(compareModels('classification', yTrue, candidate, baseline).decision).toBe('no significant difference');
  });

  it('regression: paired bootstrap on the metric difference, respecting its direction', () => {
    const rng = new Rng(11);
    const n = 300;
    const y = Float64Array.from({ length: n }, () => rng.normal() * 5);
    const good = y.map((v) => v + rng.normal() * 0.5);
    const bad = y.map((v) => v + rng.normal() * 2);
    const r2 = compareModels('regression', y, bad, good, { seed: 1 });
    expect(r2.test).toBe('paired-bootstrap');
    expect(r2.metric).toBe('r2');
    expect(r2.delta).toBeLessThan(0);
    expect(r2.decision).toBe('worse');
    // RMSE is lower-is-better: the bad model's delta is positive, and it is still "worse".
    const byRmse = compareModels('regression', y, bad, good, { seed: 1, metric: 'rmse' });
    expect(byRmse.delta).toBeCloseTo(rmse(y, bad) - rmse(y, good), 12);
    expect(byRmse.delta).toBeGreaterThan(0);
    expect(byRmse.decision).toBe('worse');
    expect(compareModels('regression', y, good, bad, { seed: 1, metric: 'rmse' }).decision).toBe('better');
    expect(byRmse.interval?.lower).toBeGreaterThan(0);
  });

  it('paired bootstrap p-value agrees with its interval and is reproducible', () => {
    const rng = new Rng(12);
    const y = Float64Array.from({ length: 80 }, () => rng.normal());
    const a = y.map((v) => v + rng.normal() * 0.9);
    const b = y.map((v) => v + rng.normal());
    const r1 = pairedBootstrap(y, a, b, rmse, { seed: 4, nResamples: 400 });
    const r2 = pairedBootstrap(y, a, b, rmse, { seed: 4, nResamples: 400 });
    expect(r1).toEqual(r2);
    // p ≥ 0.05 exactly when the 95% interval contains 0 (up to one resample of granularity).
    const containsZero = r1.lower <= 0 && r1.upper >= 0;
    expect(containsZero).toBe(r1.pValue >= 0.05 - 1 / 400);
  });

  it('rejects mismatched rows and a classification metric override', () => {
    expect(() => compareModels('classification', [0, 1], [0], [0, 1])).toThrow(/same data/);
    expect(() => compareModels('classification', [0, 1], [0, 1], [0, 1], { metric: 'f1_macro' })).toThrow(/McNemar/);
    expect(() => compareModels('regression', [0, 1], [0, 1], [0, 1], { metric: 'accuracy' })).toThrow(/cannot compare regressors/);
    expect(() => compareModels('regression', [0, 1], [0, 1], [0, 1], { alpha: 2 })).toThrow(/alpha/);
  });
});
