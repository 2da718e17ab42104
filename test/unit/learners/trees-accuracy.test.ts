/**
 * Cross-validated accuracy of the tree families with default params against scikit-learn 1.2.1's defaults on the
 * same 5-fold splits (../shared/data/targets.json). Scores must reach scikit-learn's less a tolerance:
 * 0.02 for accuracy; for diabetes R² 0.03 (forests, boosting) and 0.15 (a single tree), because the reference is
 * one random_state's draw: on these folds scikit-learn's own RandomForestRegressor scores 0.415–0.429 over five
 * seeds while targets.json holds 0.441, and its unpruned DecisionTreeRegressor scores −0.18 to −0.26 over ten seeds
 * while targets.json holds −0.124 (ours: −0.09 to −0.27).
 */
import { describe, expect, it } from 'vitest';
import { decisionTree } from '../../../src/learners/decision-tree.js';
import { extraTrees, randomForest } from '../../../src/learners/forest.js';
import { gbdt } from '../../../src/learners/gbdt/index.js';
import type { LearnerFamily } from '../../../src/learners/types.js';
import { crossValidate, loadDataset, sklearnDefault } from '../../helpers/datasets.js';

const FAMILIES: readonly [LearnerFamily, string][] = [
  [decisionTree, 'DecisionTree'],
  [randomForest, 'RandomForest(100)'],
  [extraTrees, 'ExtraTrees(100)'],
  [gbdt, 'HistGradientBoosting'],
];

const DATASETS = ['iris', 'wine', 'breast_cancer', 'diabetes', 'digits'] as const;

function tolerance(dataset: string, family: LearnerFamily): number {
  if (dataset !== 'diabetes') return 0.02;
  return family === decisionTree ? 0.15 : 0.03;
}

describe('tree families match scikit-learn defaults in 5-fold CV', () => {
  for (const name of DATASETS) {
    describe(name, () => {
      const dataset = loadDataset(name);
      for (const [family, reference] of FAMILIES) {
        it(`${family.name} >= ${reference} - tolerance`, { timeout: 180_000 }, async () => {
          const score = await crossValidate(family, dataset, {}, 0);
          const target = sklearnDefault(name, reference).score;
          expect(score).toBeGreaterThanOrEqual(target - tolerance(name, family));
        });
      }
    });
  }
});
