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
import { MLP, mlp } from './mlp.js';
import { CNN, CNN_SEARCH_START, FRAME_FAMILIES } from './cnn.js';
import { INPUT_SLICE_FAMILY, loadInputSlice } from './dl/frame-input.js';
import { PIPELINE_FAMILY, loadPipeline } from './preprocess.js';
import type { FittedModel, LearnerFamily, Params, SerializedModel, Task } from './types.js';

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

/** Families that read frame-level patches (`train --frames`) instead of the summary-feature table. */
export function frameFamilyNames(): string[] {
  return FRAME_FAMILIES.map((family) => family.name);
}

export function takesFrames(name: string): boolean {
  return FRAME_FAMILIES.some((family) => family.name === name);
}

export function frameFamiliesFor(task: Task): LearnerFamily[] {
  return FRAME_FAMILIES.filter((family) => family.tasks.includes(task));
}

/** Families trained epoch by epoch (dl/loop.ts): they report loss and a validation metric per epoch. */
export function trainsInEpochs(name: string): boolean {
  return name === MLP || name === CNN;
}

/**
 * The configuration an AutoML search tries first for a family: its defaults, except where they are too
 * costly to be the cheap start (FLAML's cost-frugal initial point): the cnn starts small and short.
 */
export function searchStart(family: LearnerFamily): Params {
  return family.name === CNN ? { ...CNN_SEARCH_START } : {};
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

/** Rebuilds a saved model (a bare family model, a preprocessing pipeline around one, or an input slice of either). */
export function loadModel(json: SerializedModel): FittedModel {
  if (json !== null && typeof json === 'object' && json.family === PIPELINE_FAMILY) return loadPipeline(json, getFamily);
  if (json !== null && typeof json === 'object' && json.family === INPUT_SLICE_FAMILY) return loadInputSlice(json, loadModel);
  return getFamily(String((json as { family?: unknown } | null)?.family)).load(json);
}
