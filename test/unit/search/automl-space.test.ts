/**
 * The AutoML search fits each family's space to the data: on a small table knn never proposes more
 * neighbours than a training fold holds (such trials could only fail). A stand-in executor records what was
 * proposed and scores it deterministically; the search itself is the real one.
 */
import { describe, expect, it } from 'vitest';
import { getFamily } from '../../../src/learners/catalogue.js';
import type { Params, SerializedModel } from '../../../src/learners/types.js';
import { runAutoMl, type TrialExecutor } from '../../../src/search/automl.js';
import type { CrossValidationResult } from '../../../src/search/crossval.js';
import { smallestTrainingFold, stratifiedKFold } from '../../../src/search/cv.js';

describe('runAutoMl', () => {
  it('proposes knn n_neighbors only up to the smallest training fold', async () => {
    const n = 30;
    const y = Float64Array.from({ length: n }, (_, i) => i % 3);
    const plan = stratifiedKFold(y, 3, 3, 1);
    const rows = smallestTrainingFold(plan);
    expect(rows).toBe(20);
    const proposed: number[] = [];
    const executor: TrialExecutor = {
      parallelism: 1,
      crossValidate: (_family: string, params: Params): Promise<CrossValidationResult> => {
        const k = Number(params.n_neighbors ?? 5); // the first trial is the family's defaults
        proposed.push(k);
        const score = k / 100; // more neighbours score better, so the search pushes at the top of the range
        return Promise.resolve({ score, foldScores: [score, score, score], oof: new Float64Array(n * 3).fill(1 / 3), oofPredicted: new Float64Array(n), fitSeconds: 0, predictSeconds: 0, foldsRun: 3 });
      },
      fitAll: (): Promise<SerializedModel> => Promise.reject(new Error('not used')),
      close: () => Promise.resolve(),
    };
    await runAutoMl(executor, { families: [getFamily('knn')], task: 'classification', nClasses: 3, y, plan, metric: 'accuracy', seed: 2, budgetSeconds: Number.POSITIVE_INFINITY, maxTrials: 40, ensemble: false });
    expect(proposed.length).toBeGreaterThan(5);
    // The declared search range goes to 50; none of the proposals passes the 20 training rows.
    expect(Math.max(...proposed)).toBeLessThanOrEqual(rows);
  });
});
