/**
 * Default-params accuracy of the non-tree families against scikit-learn 1.2.1 on the shared data sets,
 * 5-fold with the shared folds and scored as ../shared/peers/peers.py scores (accuracy or R² over the pooled
 * out-of-fold predictions). Each family goes through the training pipeline with its own scaling tag, as the
 * peers use StandardScaler for the "+scale" models and none for GaussianNB.
 */
import { describe, expect, it } from 'vitest';
import { loadDataset, sklearnDefault, splitFold, accuracy, r2Score, type Dataset } from '../../helpers/datasets.js';
import { fitPipeline } from '../../../src/learners/preprocess.js';
import { gaussianNb } from '../../../src/learners/naive-bayes.js';
import { knn } from '../../../src/learners/knn.js';
import { linearRegression, logisticRegression } from '../../../src/learners/linear.js';
import { svm } from '../../../src/learners/svm.js';
import type { LearnerFamily } from '../../../src/learners/types.js';

/** Allowed shortfall against scikit-learn's score. */
const TOLERANCE = 0.02;

const cache = new Map<string, Dataset>();
function dataset(name: string): Dataset {
  let loaded = cache.get(name);
  if (!loaded) {
    loaded = loadDataset(name);
    cache.set(name, loaded);
  }
  return loaded;
}

async function pooledScore(family: LearnerFamily, data: Dataset): Promise<number> {
  const predicted = new Float64Array(data.y.length);
  for (let k = 0; k < data.nFolds; k++) {
    const { train, testX } = splitFold(data, k);
    const model = await fitPipeline(family, train, {}, { seed: k });
    const foldPredictions = model.predict(testX);
    let next = 0;
    for (let i = 0; i < data.y.length; i++) if (data.fold[i] === k) predicted[i] = foldPredictions[next++];
  }
  return data.task === 'regression' ? r2Score(data.y, predicted) : accuracy(data.y, predicted);
}

const CASES: [dataset: string, family: LearnerFamily, sklearnModel: string][] = [];
for (const name of ['iris', 'wine', 'breast_cancer', 'digits']) {
  CASES.push([name, logisticRegression, 'LogisticRegression+scale'], [name, knn, 'KNN(k=5)+scale'], [name, svm, 'SVC(rbf)+scale'], [name, gaussianNb, 'GaussianNB']);
}
CASES.push(['diabetes', linearRegression, 'Ridge+scale'], ['diabetes', knn, 'KNN(k=5)+scale'], ['diabetes', svm, 'SVR(rbf)+scale']);

describe('default accuracy vs scikit-learn', () => {
  for (const [name, family, sklearnModel] of CASES) {
    it(`${family.name} on ${name} reaches ${sklearnModel} − ${TOLERANCE}`, async () => {
      const reference = sklearnDefault(name, sklearnModel).score;
      const score = await pooledScore(family, dataset(name));
      expect(score).toBeGreaterThanOrEqual(reference - TOLERANCE);
    });
  }
});
