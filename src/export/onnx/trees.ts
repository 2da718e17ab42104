/**
 * Tree families as one ai.onnx.ml TreeEnsembleRegressor (SUM, no post transform) with one target per model
 * output, then the family's combination in double:
 * - decision_tree / random_forest / extra_trees (AveragedTreesModel): sum of leaf class frequencies or means
 *   × 1/trees, as spotml averages;
 * - gbdt: tree t adds to output t mod K, + baseline, then sigmoid (binary: [1 − p, p]) or softmax.
 * The regressor form serves classifiers too: its [N, K] sums are exactly what both families combine, with
 * none of TreeEnsembleClassifier's label and binary-score conventions in the way.
 */
import type { GbdtModel } from '../../learners/gbdt/index.js';
import type { AveragedTreesModel } from '../../learners/tree/ensemble.js';
import type { Tree } from '../../learners/tree/tree.js';
import { TensorType, attr } from './proto.js';
import { treeFeatures, type FeatureSource } from './features.js';
import { ML_DOMAIN, type GraphBuilder } from './graph.js';

/** Raw per-output sums of the trees' leaf values as double [N, nTargets]; tree i adds to target targetOf(i). */
function treeSums(g: GraphBuilder, source: FeatureSource, trees: readonly Tree[], nTargets: number, targetOf: (tree: number) => number): string {
  const features = treeFeatures(g, source);
  const nodes = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
    missingTrue: [] as number[],
  };
  const targets = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] };
  trees.forEach((tree, t) => {
    const target = targetOf(t);
    for (let node = 0; node < tree.nodeCount; node++) {
      const f = tree.feature[node];
      nodes.treeIds.push(t);
      nodes.nodeIds.push(node);
      if (f < 0) {
        nodes.featureIds.push(0);
        nodes.modes.push('LEAF');
        nodes.values.push(0);
        nodes.trueIds.push(0);
        nodes.falseIds.push(0);
        nodes.missingTrue.push(0);
        let written = false;
        for (let k = 0; k < tree.nOutputs; k++) {
          const value = tree.value[node * tree.nOutputs + k];
          // Zero votes add nothing; a leaf keeps one entry so every leaf is declared.
          if (value === 0 && (written || k < tree.nOutputs - 1)) continue;
          targets.treeIds.push(t);
          targets.nodeIds.push(node);
          targets.ids.push(tree.nOutputs === 1 ? target : k);
          targets.weights.push(value);
          written = true;
        }
        continue;
      }
      const split = features.fold(f, tree.threshold[node], tree.missingLeft[node] === 1);
      nodes.featureIds.push(f);
      nodes.modes.push('BRANCH_LEQ');
      nodes.values.push(split.threshold);
      nodes.trueIds.push(tree.left[node]);
      nodes.falseIds.push(tree.right[node]);
      nodes.missingTrue.push(split.missingLeft ? 1 : 0);
    }
  });
  const sums = g.op(
    'TreeEnsembleRegressor',
    [features.tensor],
    {
      n_targets: attr.int(nTargets),
      aggregate_function: attr.string('SUM'),
      post_transform: attr.string('NONE'),
      nodes_treeids: attr.ints(nodes.treeIds),
      nodes_nodeids: attr.ints(nodes.nodeIds),
      nodes_featureids: attr.ints(nodes.featureIds),
      nodes_modes: attr.strings(nodes.modes),
      nodes_values: attr.floats(nodes.values),
      nodes_truenodeids: attr.ints(nodes.trueIds),
      nodes_falsenodeids: attr.ints(nodes.falseIds),
      nodes_missing_value_tracks_true: attr.ints(nodes.missingTrue),
      target_treeids: attr.ints(targets.treeIds),
      target_nodeids: attr.ints(targets.nodeIds),
      target_ids: attr.ints(targets.ids),
      target_weights: attr.floats(targets.weights),
    },
    ML_DOMAIN,
  );
  return g.op('Cast', [sums], { to: attr.int(TensorType.DOUBLE) });
}

/** Mean of the trees' leaf values: class frequencies [N, K] or the regression value [N, 1]. */
export function emitAveragedTrees(g: GraphBuilder, model: AveragedTreesModel, source: FeatureSource): string {
  const outputs = model.trees[0].nOutputs;
  const sums = treeSums(g, source, model.trees, outputs, () => 0);
  return g.op('Mul', [sums, g.double('tree_share', [], [1 / model.trees.length])]);
}

/** Boosted raw scores → probabilities [N, K] (classification) or values [N, 1] (regression). */
export function emitGbdt(g: GraphBuilder, model: GbdtModel, source: FeatureSource): string {
  const K = model.treesPerIteration;
  const sums = treeSums(g, source, model.trees, K, (t) => t % K);
  const raw = g.op('Add', [sums, g.double('baseline', [K], model.baseline)]);
  if (model.task === 'regression') return raw;
  if (K > 1) return g.op('Softmax', [raw], { axis: attr.int(1) });
  const positive = g.op('Sigmoid', [raw]);
  const negative = g.op('Sub', [g.double('one', [], [1]), positive]);
  return g.op('Concat', [negative, positive], { axis: attr.int(1) });
}
