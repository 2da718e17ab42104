/**
 * A single CART tree (scikit-learn's DecisionTreeClassifier/Regressor defaults: gini, all features per split,
 * fully grown). It is the forest machinery with one tree, no bootstrap and the best splitter; see tree/cart.ts
 * for how splits are searched on binned features.
 */
import { resolveParams } from './params.js';
import { CartWorkspace, type CartSettings } from './tree/cart.js';
import { AveragedTreesModel, MAX_FEATURES_CHOICES, loadAveragedTrees, prepareCartInput, resolveMaxFeatures } from './tree/ensemble.js';
import { growForestTree } from './forest.js';
import type { FitOptions, FittedModel, LearnerFamily, ParamSpec, Params, SerializedModel, TrainingData } from './types.js';
import { checkTrainingData } from './validate.js';

const FAMILY = 'decision_tree';

const DECISION_TREE_PARAMS = {
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
    description: 'deepest level the tree may grow to; 0 grows until leaves are pure',
    search: { low: 0, high: 20 },
  },
  min_samples_split: {
    type: 'int',
    default: 2,
    low: 2,
    high: 1_000_000,
    description: 'fewest rows a node needs to be split',
    search: { low: 2, high: 40, log: true },
  },
  min_samples_leaf: {
    type: 'int',
    default: 1,
    low: 1,
    high: 1_000_000,
    description: 'fewest rows each child of a split must keep',
    search: { low: 1, high: 40, log: true },
  },
  max_features: {
    type: 'categorical',
    default: '1.0',
    choices: MAX_FEATURES_CHOICES,
    description: 'features tried per split (1.0 = all)',
  },
} satisfies Record<string, ParamSpec>;

async function fitDecisionTree(data: TrainingData, params: Params, options: FitOptions): Promise<FittedModel> {
  const resolved = resolveParams(FAMILY, DECISION_TREE_PARAMS, params);
  checkTrainingData(data, { family: FAMILY, tasks: ['classification', 'regression'], allowNaN: false });
  options.signal?.throwIfAborted();
  const { X, y, task } = data;
  const classification = task === 'classification';
  const settings: CartSettings = {
    nClasses: classification ? (data.nClasses as number) : 0,
    criterion: classification ? (resolved.criterion as 'gini' | 'entropy') : 'squared_error',
    splitter: 'best',
    maxDepth: resolved.max_depth === 0 ? Infinity : resolved.max_depth,
    minSamplesSplit: resolved.min_samples_split,
    minSamplesLeaf: resolved.min_samples_leaf,
    maxFeatures: resolveMaxFeatures(resolved.max_features, X.cols),
  };
  const input = prepareCartInput(X, y, 'best', options.seed, classification);
  const workspace = new CartWorkspace(input, settings);
  const tree = growForestTree(input, settings, 0, options.seed, false, data.sampleWeight, new Float64Array(X.rows), workspace);
  options.onProgress?.({ step: 1, total: 1 });
  return new AveragedTreesModel(FAMILY, task, X.cols, classification ? data.nClasses : undefined, { ...resolved }, [tree]);
}

export const decisionTree: LearnerFamily = {
  name: FAMILY,
  description: 'A single CART decision tree (gini/entropy or squared error)',
  tasks: ['classification', 'regression'],
  params: DECISION_TREE_PARAMS,
  tags: { handlesNaN: false, needsScaling: false, onnx: true, cost: 'low' },
  fit: fitDecisionTree,
  load: (json: SerializedModel) => loadAveragedTrees(json, FAMILY),
};
