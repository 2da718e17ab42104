/**
 * The pipeline's preprocessing (median imputation, missing indicators, standard scaling) in a graph, two ways:
 * - `denseFeatures`: the transformed matrix itself, in double, computed as Preprocessor.transform computes it
 *   (Where(IsNaN) → Concat(indicators) → Sub/Div), for the families that do arithmetic on it;
 * - `treeFeatures`: folded into the trees instead. Trees only compare, so each split's threshold and NaN
 *   direction are moved back onto the raw float32 column (see float32.ts); the graph passes raw columns
 *   (plus 0/1 indicator columns) straight to the ensemble and every decision equals spotml's.
 */
import type { PreprocessorState } from '../../learners/preprocess.js';
import { TensorType, attr } from './proto.js';
import { largestFloat32Where } from './float32.js';
import type { GraphBuilder } from './graph.js';

/** Where a model's features come from: the float32 graph input and the pipeline around the model, if any. */
export interface FeatureSource {
  /** float32 [N, nInput]; NaN marks a missing value. */
  readonly input: string;
  readonly preprocessor: PreprocessorState | null;
}

/** Cast(IsNaN(input[:, columns])) as `elemType` [N, columns.length]: the missing-indicator columns. */
function indicatorColumns(g: GraphBuilder, input: string, columns: readonly number[], elemType: number): string {
  const picked = g.op('Gather', [input, g.int64('indicator_columns', [columns.length], columns)], { axis: attr.int(1) });
  return g.op('Cast', [g.op('IsNaN', [picked])], { to: attr.int(elemType) });
}

/** The preprocessed feature matrix as double [N, nOutput]. */
export function denseFeatures(g: GraphBuilder, source: FeatureSource): string {
  let current = g.op('Cast', [source.input], { to: attr.int(TensorType.DOUBLE) });
  const state = source.preprocessor;
  if (state === null) return current;
  const { nInputFeatures, medians, indicatorColumns: columns, means, scales } = state;
  if (medians !== null) current = g.op('Where', [g.op('IsNaN', [current]), g.double('medians', [nInputFeatures], medians), current]);
  if (columns.length > 0) current = g.op('Concat', [current, indicatorColumns(g, source.input, columns, TensorType.DOUBLE)], { axis: attr.int(1) });
  if (means !== null && scales !== null) {
    current = g.op('Div', [g.op('Sub', [current, g.double('means', [means.length], means)]), g.double('scales', [scales.length], scales)]);
  }
  return current;
}

/** How one split on the model's feature f reads from the tree input. */
export interface FoldedSplit {
  /** float32 threshold for `x <= threshold` on the raw column. */
  readonly threshold: number;
  /** True when a NaN in the raw column takes the left (true) branch. */
  readonly missingLeft: boolean;
}

export interface TreeFeatures {
  /** float32 [N, nModelFeatures] the ensemble reads: raw columns, then 0/1 indicator columns. */
  readonly tensor: string;
  /** Moves a spotml split (threshold on the preprocessed value, NaN direction) onto the tree input. */
  fold(feature: number, threshold: number, missingLeft: boolean): FoldedSplit;
}

export function treeFeatures(g: GraphBuilder, source: FeatureSource): TreeFeatures {
  const state = source.preprocessor;
  if (state === null) {
    return { tensor: source.input, fold: (_f, threshold, missingLeft) => ({ threshold: largestFloat32Where((x) => x <= threshold), missingLeft }) };
  }
  const { nInputFeatures, medians, indicatorColumns: columns, means, scales } = state;
  const tensor =
    columns.length > 0 ? g.op('Concat', [source.input, indicatorColumns(g, source.input, columns, TensorType.FLOAT)], { axis: attr.int(1) }) : source.input;
  // Exactly Preprocessor.transform's arithmetic for one value of column f.
  const scaled = (f: number, v: number): number => (means !== null && scales !== null ? (v - means[f]) / scales[f] : v);
  return {
    tensor,
    fold(f, threshold, missingLeft) {
      const folded = largestFloat32Where((x) => scaled(f, x) <= threshold);
      if (f >= nInputFeatures) return { threshold: folded, missingLeft: false };
      // An imputed NaN is the median, preprocessed like any value: its branch is known at export time.
      const seen = medians !== null ? scaled(f, medians[f]) : NaN;
      return { threshold: folded, missingLeft: seen === seen ? seen <= threshold : missingLeft };
    },
  };
}
