/**
 * Random forest and extra trees (scikit-learn's sklearn/ensemble/_forest.py, same split of work):
 * `fit` validates params and data, prepares the CART input once (bins for the best splitter, raw columns for the
 * random one), then grows each tree with a module-level function; tree i's bootstrap and feature draws come from
 * `hashSeed(seed, 'tree', i)`, so a tree never depends on how many trees came before it.
 * Prediction averages per-tree leaf class frequencies (predict = argmax of predict_proba) or leaf means.
 * Defaults are scikit-learn's: 100 trees, max_features sqrt (classification) / all (regression), bootstrap for
 * the random forest only, fully grown trees.
 */
import { resolveParams } from './params.js';
import { Rng, hashSeed } from './rng.js';
import { CartWorkspace, growCartTree, type CartInput, type CartSettings } from './tree/cart.js';
import { AveragedTreesModel, MAX_FEATURES_CHOICES, Pacer, loadAveragedTrees, prepareCartInput, resolveMaxFeatures } from './tree/ensemble.js';
import type { Tree } from './tree/tree.js';
import type { FitOptions, FittedModel, LearnerFamily, ParamSpec, Params, SerializedModel, TrainingData } from './types.js';
import { checkTrainingData } from './validate.js';

function forestParams(bootstrapDefault: boolean) {
  return {
    n_estimators: {
      type: 'int',
      default: 100,
      low: 1,
      high: 5000,
      description: 'number of trees',
      search: { low: 20, high: 500, log: true },
    },
    criterion: {
      type: 'categorical',
      default: 'gini',
      choices: ['gini', 'entropy'],
      description: 'split quality for classification (regression always uses squared error)',
    },
    max_depth: {
      type: 'int',
      default: 0,
      low: 0,
      high: 1000,
      description: 'deepest level a tree may grow to; 0 grows until leaves are pure',
      search: { low: 0, high: 32 },
    },
    min_samples_split: {
      type: 'int',
      default: 2,
      low: 2,
      high: 1_000_000,
      description: 'fewest rows a node needs to be split',
      search: { low: 2, high: 20, log: true },
    },
    min_samples_leaf: {
      type: 'int',
      default: 1,
      low: 1,
      high: 1_000_000,
      description: 'fewest rows each child of a split must keep',
      search: { low: 1, high: 20, log: true },
    },
    max_features: {
      type: 'categorical',
      default: 'auto',
      choices: ['auto', ...MAX_FEATURES_CHOICES],
      description: 'features tried per split: auto = sqrt for classification, all (1.0) for regression',
    },
    bootstrap: {
      type: 'bool',
      default: bootstrapDefault,
      description: 'grow each tree on a bootstrap sample of the rows',
    },
  } satisfies Record<string, ParamSpec>;
}

const RANDOM_FOREST_PARAMS = forestParams(true);
const EXTRA_TREES_PARAMS = forestParams(false);

type ForestParamTable = typeof RANDOM_FOREST_PARAMS;

/** Grows tree `index`: its own RNG draws the bootstrap (if any) and then every split. */
export function growForestTree(
  input: CartInput,
  settings: CartSettings,
  index: number,
  seed: number,
  bootstrap: boolean,
  sampleWeight: Float64Array | undefined,
  weights: Float64Array,
  workspace: CartWorkspace,
): Tree {
  const rng = new Rng(hashSeed(seed, 'tree', index));
  const n = input.rows;
  if (bootstrap) {
    weights.fill(0);
    for (let draw = 0; draw < n; draw++) weights[rng.int(n)] += 1;
    if (sampleWeight) for (let i = 0; i < n; i++) weights[i] *= sampleWeight[i];
  } else if (sampleWeight) {
    weights.set(sampleWeight);
  } else {
    weights.fill(1);
  }
  return growCartTree(input, settings, weights, rng, workspace);
}

async function fitForest(
  family: string,
  table: ForestParamTable,
  splitter: 'best' | 'random',
  data: TrainingData,
  params: Params,
  options: FitOptions,
): Promise<FittedModel> {
  const resolved = resolveParams(family, table, params);
  checkTrainingData(data, { family, tasks: ['classification', 'regression'], allowNaN: false });
  const { X, y, task } = data;
  const classification = task === 'classification';
  const featureChoice = resolved.max_features === 'auto' ? (classification ? 'sqrt' : '1.0') : resolved.max_features;
  const settings: CartSettings = {
    nClasses: classification ? (data.nClasses as number) : 0,
    criterion: classification ? (resolved.criterion as 'gini' | 'entropy') : 'squared_error',
    splitter,
    maxDepth: resolved.max_depth === 0 ? Infinity : resolved.max_depth,
    minSamplesSplit: resolved.min_samples_split,
    minSamplesLeaf: resolved.min_samples_leaf,
    maxFeatures: resolveMaxFeatures(featureChoice, X.cols),
  };
  const input = prepareCartInput(X, y, splitter, options.seed, classification);
  const workspace = new CartWorkspace(input, settings);
  const weights = new Float64Array(X.rows);
  const pacer = new Pacer(options.signal);
  const trees: Tree[] = [];
  const total = resolved.n_estimators;
  for (let t = 0; t < total; t++) {
    await pacer.tick();
    trees.push(growForestTree(input, settings, t, options.seed, resolved.bootstrap, data.sampleWeight, weights, workspace));
    options.onProgress?.({ step: t + 1, total });
  }
  return new AveragedTreesModel(family, task, X.cols, classification ? data.nClasses : undefined, { ...resolved }, trees);
}

export const randomForest: LearnerFamily = {
  name: 'random_forest',
  description: 'Random forest: bootstrap-sampled CART trees with sqrt(features) tried per split, averaged',
  tasks: ['classification', 'regression'],
  params: RANDOM_FOREST_PARAMS,
  tags: { handlesNaN: false, needsScaling: false, onnx: true, cost: 'medium' },
  fit: (data, params, options) => fitForest('random_forest', RANDOM_FOREST_PARAMS, 'best', data, params, options),
  load: (json: SerializedModel) => loadAveragedTrees(json, 'random_forest'),
};

export const extraTrees: LearnerFamily = {
  name: 'extra_trees',
  description: 'Extremely randomised trees: random thresholds, no bootstrap, averaged',
  tasks: ['classification', 'regression'],
  params: EXTRA_TREES_PARAMS,
  tags: { handlesNaN: false, needsScaling: false, onnx: true, cost: 'medium' },
  fit: (data, params, options) => fitForest('extra_trees', EXTRA_TREES_PARAMS, 'random', data, params, options),
  load: (json: SerializedModel) => loadAveragedTrees(json, 'extra_trees'),
};
