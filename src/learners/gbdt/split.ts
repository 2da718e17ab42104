/**
 * Best split of one leaf from its histogram (LightGBM's FindBestThreshold, scikit-learn's splitting.pyx):
 * scan bins left to right with missing values sent right, then (if the leaf holds missing values) again with them
 * sent left; gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ). Children must keep min_samples_leaf rows and
 * min_child_weight hessian. A split is plain: codes <= bin go left (x <= upper[f][bin] on raw values).
 * The scan itself is wasm/gbdt.ts's findBestSplit (run through kernel.ts); this module holds its record types.
 */
export interface SplitConstraints {
  readonly l2: number;
  readonly minSamplesLeaf: number;
  readonly minChildWeight: number;
}

/** A plain record passed between stages (LightGBM's SplitInfo); gain <= 0 means no split. */
export interface SplitInfo {
  gain: number;
  /** Histogram slot (see HistogramLayout.features for the original feature). */
  feature: number;
  bin: number;
  missingLeft: boolean;
  gradLeft: number;
  hessLeft: number;
  countLeft: number;
}

export function emptySplit(): SplitInfo {
  // -0 (a double, unlike 0) makes V8 give these fields their double representation from the start, so the first
  // fractional value stored does not change the object's shape and deoptimise the code that already uses it.
  return { gain: -0, feature: -1, bin: 0, missingLeft: false, gradLeft: -0, hessLeft: -0, countLeft: -0 };
}
