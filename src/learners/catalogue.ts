/**
 * Every learner family by name: the one list that `train`, `tune`, help and the conformance suite read.
 * Order is cheap-first within the usual AutoML preference; `loadModel` rebuilds any saved model, pipelines included.
 */
import { SpotmlError } from '../errors.js';
import { decisionTree } from './decision-tree.js';
import { extraTrees, randomForest } from './forest.js';
import { gbdt } from './gbdt/index.js';
import { gaussianNb } from './naive-bayes.js';
import { knn } from './knn.js';
import { linearRegression, logisticRegression } from './linear.js';
import { svm } from './svm.js';
import { mlp } from './mlp.js';
import { FRAME_FAMILIES } from './cnn.js';
import { PIPELINE_FAMILY, loadPipeline } from './preprocess.js';
import type { FittedModel, LearnerFamily, SerializedModel, Task } from './types.js';

export const FAMILIES: readonly LearnerFamily[] = [
  logisticRegression,
  linearRegression,
  gaussianNb,
  knn,
  svm,
  decisionTree,
  randomForest,
  extraTrees,
  gbdt,
  mlp,
];

// Frame-level families (cnn) are loadable and fittable by name, but not in FAMILIES: tabular searches skip them.
const BY_NAME = new Map([...FAMILIES, ...FRAME_FAMILIES].map((family) => [family.name, family]));

export function familyNames(): string[] {
  return FAMILIES.map((family) => family.name);
}

export function getFamily(name: string): LearnerFamily {
  const family = BY_NAME.get(name);
  if (!family) {
    throw new SpotmlError('USAGE', `unknown model family "${name}"; known: ${familyNames().join(', ')}`, { family: name });
  }
  return family;
}

export function familiesFor(task: Task): LearnerFamily[] {
  return FAMILIES.filter((family) => family.tasks.includes(task));
}

/** Rebuilds a saved model (a bare family model or a preprocessing pipeline around one). */
export function loadModel(json: SerializedModel): FittedModel {
  if (json !== null && typeof json === 'object' && json.family === PIPELINE_FAMILY) return loadPipeline(json, getFamily);
  return getFamily(String((json as { family?: unknown } | null)?.family)).load(json);
}
