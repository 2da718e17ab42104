/**
 * Greedy ensemble selection: the score it reports is the mean over folds of the chosen ensemble's per-fold
 * scores, and those equal a direct computation from the weights (accuracy of the weighted average's argmax).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/learners/rng.js';
import { stratifiedKFold } from '../../../src/search/cv.js';
import { selectEnsemble } from '../../../src/search/ensemble.js';

describe('selectEnsemble', () => {
  it('reports the chosen ensemble\'s per-fold scores, consistent with its score and its weights', () => {
    const rng = new Rng(5);
    const n = 90;
    const K = 3;
    const y = Float64Array.from({ length: n }, (_, i) => i % K);
    // Four noisy probability predictors of different quality.
    const candidates = [0.5, 0.8, 1.1, 1.4].map((noise, id) => {
      const oof = new Float64Array(n * K);
      for (let i = 0; i < n; i++) {
        let total = 0;
        for (let k = 0; k < K; k++) {
          const v = Math.exp((k === y[i] ? 1 : 0) + noise * rng.normal());
          oof[i * K + k] = v;
          total += v;
        }
        for (let k = 0; k < K; k++) oof[i * K + k] /= total;
      }
      return { id: 10 + id, oof };
    });
    const plan = stratifiedKFold(y, K, 3, 1);
    const selection = selectEnsemble(candidates, y, 'classification', K, plan, 'accuracy');
    expect(selection.foldScores).toHaveLength(3);
    expect(selection.foldScores.reduce((a, b) => a + b, 0) / 3).toBe(selection.score);

    // Independently: the weighted average of the members' predictions, argmax, accuracy per fold.
    const averaged = new Float64Array(n * K);
    for (const c of candidates) {
      const w = selection.weights.get(c.id) ?? 0;
      for (let i = 0; i < n * K; i++) averaged[i] += w * c.oof[i];
    }
    for (let f = 0; f < 3; f++) {
      let right = 0;
      let count = 0;
      for (let i = 0; i < n; i++) {
        if (plan.fold[i] !== f) continue;
        let best = 0;
        for (let k = 1; k < K; k++) if (averaged[i * K + k] > averaged[i * K + best]) best = k;
        right += best === y[i] ? 1 : 0;
        count++;
      }
      expect(selection.foldScores[f], `fold ${f}`).toBeCloseTo(right / count, 12);
    }
  });
});
