/**
 * Fold plans: grouped plans never split a group, keep classes balanced (checked against a direct transcription
 * of scikit-learn's StratifiedGroupKFold greedy rule over plain arrays) and are deterministic under the seed;
 * given folds and holdouts that cannot be scored are refused up front.
 */
import { describe, expect, it } from 'vitest';
import { Rng, hashSeed } from '../../../src/learners/rng.js';
import {
  type FoldPlan,
  givenFolds,
  groupHoldout,
  groupKFold,
  holdout,
  rowGroups,
  splitGroupCount,
  splitGroupsWarning,
  stratifiedGroupKFold,
  type RowGroups,
} from '../../../src/search/cv.js';

/** Groups of 1..maxSize rows; `pure`: one class per group (segments of a clip), else mixed classes. */
function groupedData(nGroups: number, nClasses: number, maxSize: number, seed: number, pure: boolean): { y: Float64Array; groups: RowGroups } {
  const rng = new Rng(seed);
  const y: number[] = [];
  const names: string[] = [];
  for (let g = 0; g < nGroups; g++) {
    const size = 1 + rng.int(maxSize);
    const label = rng.int(nClasses);
    for (let j = 0; j < size; j++) {
      y.push(pure ? label : rng.int(nClasses));
      names.push(`clip-${g}.wav`);
    }
  }
  // Shuffle rows so groups are not contiguous.
  const order = Array.from({ length: y.length }, (_, i) => i);
  rng.shuffle(order);
  return { y: Float64Array.from(order, (i) => y[i]), groups: rowGroups('path', order.map((i) => names[i])) };
}

/** scikit-learn's StratifiedGroupKFold._iter_test_indices after the shuffle, written out plainly on nested arrays. */
function referenceStratifiedGroupKFold(y: Float64Array, nClasses: number, groups: RowGroups, k: number, order: readonly number[]): number[] {
  const yCnt = Array.from({ length: nClasses }, (_, c) => y.filter((v) => v === c).length);
  const perGroup = Array.from({ length: groups.count }, () => new Array<number>(nClasses).fill(0));
  y.forEach((v, i) => perGroup[groups.id[i]][v]++);
  const std = (xs: number[]): number => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
  };
  const sorted = [...order].sort((a, b) => std(perGroup[b]) - std(perGroup[a]));
  const perFold = Array.from({ length: k }, () => new Array<number>(nClasses).fill(0));
  const groupFold = new Array<number>(groups.count);
  for (const g of sorted) {
    let best = -1;
    let minEval = Infinity;
    let minSamples = Infinity;
    for (let i = 0; i < k; i++) {
      const trial = perFold.map((row, f) => row.map((v, c) => (v + (f === i ? perGroup[g][c] : 0)) / yCnt[c]));
      const evaluation = Array.from({ length: nClasses }, (_, c) => std(trial.map((row) => row[c]))).reduce((a, b) => a + b, 0) / nClasses;
      const samples = perFold[i].reduce((a, b) => a + b, 0);
      const close = Math.abs(evaluation - minEval) <= 1e-8 + 1e-5 * Math.abs(minEval);
      if (evaluation < minEval || (close && samples < minSamples)) {
        minEval = evaluation;
        minSamples = samples;
        best = i;
      }
    }
    groupFold[g] = best;
    perGroup[g].forEach((v, c) => (perFold[best][c] += v));
  }
  return Array.from(groups.id, (g) => groupFold[g]);
}

function foldsOfGroups(plan: FoldPlan, groups: RowGroups): Set<number>[] {
  const seen = Array.from({ length: groups.count }, () => new Set<number>());
  plan.fold.forEach((f, i) => seen[groups.id[i]].add(f));
  return seen;
}

describe('stratifiedGroupKFold', () => {
  it('matches a direct transcription of scikit-learn\'s greedy rule and never splits a group', () => {
    for (const [nGroups, nClasses, k, pure] of [
      [80, 5, 5, true],
      [37, 3, 4, false],
      [200, 7, 10, true],
      [12, 2, 3, false],
    ] as const) {
      const { y, groups } = groupedData(nGroups, nClasses, 6, nGroups * 31 + k, pure);
      const plan = stratifiedGroupKFold(y, nClasses, groups, k, 9);
      // The planner's shuffled order, redrawn with the same seed stream.
      const order = Array.from({ length: groups.count }, (_, g) => g);
      new Rng(hashSeed(9, 'stratified-group-kfold')).shuffle(order);
      expect(Array.from(plan.fold)).toEqual(referenceStratifiedGroupKFold(y, nClasses, groups, k, order));
      expect(foldsOfGroups(plan, groups).every((s) => s.size === 1)).toBe(true);
      expect(splitGroupCount(plan, groups)).toBe(0);
      expect(plan.groups).toEqual({ column: 'path', count: groups.count });
    }
  });

  it('keeps every class near its share of each fold (within one largest group) for one-class groups', () => {
    const maxSize = 6;
    const { y, groups } = groupedData(150, 4, maxSize, 5, true);
    const k = 5;
    const plan = stratifiedGroupKFold(y, 4, groups, k, 3);
    for (let c = 0; c < 4; c++) {
      const total = y.filter((v) => v === c).length;
      for (let f = 0; f < k; f++) {
        const inFold = y.filter((v, i) => v === c && plan.fold[i] === f).length;
        expect(Math.abs(inFold - total / k)).toBeLessThanOrEqual(maxSize);
      }
    }
  });

  it('is deterministic under the seed and changes with it', () => {
    const { y, groups } = groupedData(60, 3, 5, 77, true);
    const a = stratifiedGroupKFold(y, 3, groups, 5, 1);
    const b = stratifiedGroupKFold(y, 3, groups, 5, 1);
    const c = stratifiedGroupKFold(y, 3, groups, 5, 2);
    expect(Array.from(b.fold)).toEqual(Array.from(a.fold));
    expect(Array.from(c.fold)).not.toEqual(Array.from(a.fold));
  });

  it('refuses more folds than groups', () => {
    const y = Float64Array.from([0, 0, 1, 1, 0, 1]);
    const groups = rowGroups('path', ['a', 'a', 'b', 'b', 'c', 'c']);
    expect(() => stratifiedGroupKFold(y, 2, groups, 4, 0)).toThrow(/--cv 4 needs at least 4 distinct "path" values.*has 3/);
  });
});

describe('groupKFold and groupHoldout', () => {
  it('groupKFold keeps groups whole and fold sizes within one largest group', () => {
    const { groups } = groupedData(90, 1, 7, 4, true);
    const plan = groupKFold(groups, 4, 2);
    expect(splitGroupCount(plan, groups)).toBe(0);
    const sizes = [0, 1, 2, 3].map((f) => plan.fold.filter((v) => v === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(7);
    expect(Array.from(groupKFold(groups, 4, 2).fold)).toEqual(Array.from(plan.fold));
  });

  it('groupHoldout takes whole groups, about the fraction of each class', () => {
    const { y, groups } = groupedData(120, 3, 5, 8, true);
    const plan = groupHoldout(y, 'classification', 3, groups, 0.25, 6);
    expect(splitGroupCount(plan, groups)).toBe(0);
    for (let c = 0; c < 3; c++) {
      const total = y.filter((v) => v === c).length;
      const taken = y.filter((v, i) => v === c && plan.fold[i] === 0).length;
      // Greedy whole-group packing lands within one largest group of the target.
      expect(Math.abs(taken - 0.25 * total)).toBeLessThanOrEqual(5);
    }
    expect(plan.fold.every((f) => f === 0 || f === -1)).toBe(true);
  });

  it('refuses a holdout that leaves the validation split empty', () => {
    const y = Float64Array.from([0, 1, 2]);
    expect(() => holdout(y, 'classification', 3, 0.34, 0)).toThrow(/--holdout 0.34 of 3 rows puts no row in the validation split/);
    const groups = rowGroups('path', ['a', 'a', 'a', 'b']);
    expect(() => groupHoldout(Float64Array.from([0, 0, 0, 0]), 'regression', 0, groups, 0.05, 0)).toThrow(/puts no row in the validation split/);
    expect(() => holdout(Float64Array.from([0, 1]), 'classification', 2, 0.9, 0)).toThrow(/leaves no row to train on/);
  });
});

describe('givenFolds', () => {
  it('accepts contiguous folds with always-train rows', () => {
    const plan = givenFolds([0, 1, -1, 1, 0], 5, '--folds f.json');
    expect(plan.nFolds).toBe(2);
  });

  it('refuses gaps, a fold holding every row and wrong lengths, naming the source', () => {
    expect(() => givenFolds([0, 2, 0, 2], 4, '--folds f.json')).toThrow(/^--folds f\.json: fold 1 has no rows but fold 2 does; number the folds 0\.\.k-1 without gaps$/);
    expect(() => givenFolds([0, 0, 0], 3, '--folds f.json')).toThrow(/--folds f\.json: fold 0 holds all 3 rows, leaving none to train on/);
    expect(() => givenFolds([0, 1], 3, '--folds f.json')).toThrow(/give 2 rows but the table has 3/);
    expect(() => givenFolds([0, 1.5], 2, '--folds f.json')).toThrow(/fold id 1.5 in row 2/);
  });

  it('warns when given folds split a group, naming the source and the count; not otherwise', () => {
    const groups = rowGroups('path', ['a', 'a', 'b', 'b', 'c', 'c']);
    const split = givenFolds([0, 1, 0, 0, 1, 1], 6, '--folds f.json');
    expect(splitGroupsWarning(split, groups, '--folds f.json')).toBe(
      '--folds f.json split 1 of 3 "path" groups across folds: their rows score each other, so the cv score is optimistic',
    );
    expect(splitGroupsWarning(givenFolds([0, 0, 1, 1, 0, 0], 6), groups, 'x')).toBeNull();
    expect(splitGroupsWarning(split, null, 'x')).toBeNull();
  });
});
