import { describe, expect, it } from 'vitest';
import { HyperbandPruner, MedianPruner, NopPruner, SuccessiveHalvingPruner, percentile, promotable } from '../../../src/search/pruners.js';
import { type TrialRecord, finishTrial, startTrial, withIntermediate } from '../../../src/search/trial.js';

/** A trial with intermediate values at steps 1, 2, … ; finished with the last value unless `running`. */
function trial(number: number, values: readonly number[], running = false): TrialRecord {
  let t = startTrial(number, {});
  values.forEach((v, i) => {
    t = withIntermediate(t, i + 1, v);
  });
  return running ? t : finishTrial(t, 'COMPLETE', values[values.length - 1]);
}

describe('MedianPruner (Optuna semantics)', () => {
  const done = [trial(0, [0.5, 0.6]), trial(1, [0.7, 0.8]), trial(2, [0.9, 0.9]), trial(3, [0.6, 0.7]), trial(4, [0.8, 0.85])];

  it('prunes below the median of complete trials at the same step, keeps at or above it', () => {
    const pruner = new MedianPruner();
    // Median at step 1 of 0.5, 0.7, 0.9, 0.6, 0.8 is 0.7.
    expect(pruner.shouldPrune(trial(5, [0.69], true), [...done])).toBe(true);
    expect(pruner.shouldPrune(trial(5, [0.7], true), [...done])).toBe(false);
    // The trial's best so far is compared: 0.75 < step 2's median 0.8, while 0.85 (at step 1) is not.
    expect(pruner.shouldPrune(trial(5, [0.75, 0.7], true), [...done])).toBe(true);
    expect(pruner.shouldPrune(trial(5, [0.85, 0.5], true), [...done])).toBe(false);
  });

  it('waits for its start-up trials and warm-up steps, and checks only on the interval', () => {
    expect(new MedianPruner().shouldPrune(trial(5, [0], true), done.slice(0, 4))).toBe(false);
    expect(new MedianPruner({ warmupSteps: 2 }).shouldPrune(trial(5, [0], true), done)).toBe(false);
    // As Optuna: checked where (step − warm-up) is a multiple of the interval, so step 2 but not step 1.
    expect(new MedianPruner({ intervalSteps: 2 }).shouldPrune(trial(5, [0], true), done)).toBe(false);
    expect(new MedianPruner({ intervalSteps: 2 }).shouldPrune(trial(5, [0.1, 0.1], true), done)).toBe(true);
    expect(new MedianPruner().shouldPrune(startTrial(5, {}), done)).toBe(false);
  });

  it('percentile matches numpy (linear interpolation)', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([0, 10], 25)).toBe(2.5);
  });
});

describe('SuccessiveHalvingPruner', () => {
  it('promotes the top 1/η at a rung; while fewer than η competed, only the best', () => {
    expect(promotable(0.9, [0.9, 0.5], 3)).toBe(true);
    expect(promotable(0.5, [0.9, 0.5], 3)).toBe(false);
    // 6 competitors, η = 3 → the top 2 go on.
    const rung = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    expect(promotable(0.5, rung, 3)).toBe(true);
    expect(promotable(0.4, rung, 3)).toBe(false);
  });

  it('judges rung k at resource minResource·η^k against every trial that reached it', () => {
    const pruner = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 });
    const others = [trial(0, [0.9, 0.9, 0.9]), trial(1, [0.8, 0.8, 0.8]), trial(2, [0.7, 0.7, 0.7]), trial(3, [0.6], true), trial(4, [0.5], true)];
    // Rung 0 (step 1): 6 competitors with the new one → top 2 go on: 0.9 and 0.8.
    expect(pruner.shouldPrune(trial(5, [0.85], true), others)).toBe(false);
    expect(pruner.shouldPrune(trial(5, [0.75], true), others)).toBe(true);
    // Step 2 is no rung: never pruned there.
    expect(pruner.shouldPrune(trial(5, [0.95, 0.0], true), others)).toBe(false);
    // Rung 1 (step 3): competitors 0.9, 0.8, 0.7 and itself → only the best.
    expect(pruner.shouldPrune(trial(5, [0.95, 0.95, 0.95], true), others)).toBe(false);
    expect(pruner.shouldPrune(trial(5, [0.95, 0.95, 0.85], true), others)).toBe(true);
  });
});

describe('HyperbandPruner', () => {
  it('has ⌊log_η(max/min)⌋ + 1 brackets, spreads trials over them by size, and competes within a bracket', () => {
    const pruner = new HyperbandPruner({ minResource: 1, maxResource: 9, reductionFactor: 3 });
    expect(pruner.brackets).toBe(3);
    const counts = [0, 0, 0];
    for (let n = 0; n < 3000; n++) counts[pruner.bracketOf(n)]++;
    // Paper sizes for s_max = 2: brackets of rate 0, 1, 2 hold 9, 5 (=⌈3/2⌉·3 → 6), 3 configs: 9 : 6 : 3.
    expect(counts[0] / 3000).toBeCloseTo(9 / 18, 1);
    expect(counts[1] / 3000).toBeCloseTo(6 / 18, 1);
    expect(counts[2] / 3000).toBeCloseTo(3 / 18, 1);
    // A trial in the most conservative bracket (rate 2, first rung at 9) is never pruned before step 9.
    const conservative = Array.from({ length: 50 }, (_, n) => n).find((n) => pruner.bracketOf(n) === 2) as number;
    const strong = Array.from({ length: 20 }, (_, i) => trial(100 + i, [1, 1, 1]));
    expect(pruner.shouldPrune(trial(conservative, [0], true), strong)).toBe(false);
  });
});

describe('NopPruner', () => {
  it('never prunes', () => {
    expect(new NopPruner().shouldPrune()).toBe(false);
  });
});
