/**
 * Leaf-wise (best-first) growth of one boosting tree from gradients (LightGBM's SerialTreeLearner::Train):
 * histogram the root, then repeatedly split the leaf with the largest gain until max_leaf_nodes leaves exist or
 * no split has positive gain. Only the smaller child of a split is histogrammed; the larger is parent − smaller.
 * Leaf values are −learning_rate · G / (H + λ) and are added straight to the rows' raw scores, since the rows
 * of each leaf are known from the partition.
 */
import { TreeBuilder, type Tree } from '../tree/tree.js';
import type { BinMapper } from './binning.js';
import type { HistogramLayout } from './histogram.js';
import type { GbdtKernel } from './kernel.js';
import { emptySplit, type SplitConstraints } from './split.js';

export interface GrowSettings extends SplitConstraints {
  readonly maxLeafNodes: number;
  /** Infinity for unlimited. */
  readonly maxDepth: number;
  readonly learningRate: number;
}

/** The binned training data every tree of a fit grows on (held in the kernel's memory). */
export interface GrowData {
  readonly kernel: GbdtKernel;
  readonly mapper: BinMapper;
  readonly layout: HistogramLayout;
  /** The kernel holds the root's counts (every tree grows on all rows in order). */
  readonly hasRootCounts: boolean;
}

/** No histogram (kernel pointers are never 0). */
const NO_HISTOGRAM = 0;

class Leaf {
  hist = NO_HISTOGRAM;
  readonly split = emptySplit();

  constructor(
    readonly node: number,
    readonly start: number,
    readonly end: number,
    readonly depth: number,
    public sumGrad: number,
    public sumHess: number,
  ) {}
}

function canSplit(leaf: Leaf, settings: GrowSettings): boolean {
  return leaf.depth < settings.maxDepth && leaf.end - leaf.start >= 2 * settings.minSamplesLeaf;
}

/**
 * Grows a tree on rows[0, nRowsUsed), searching splits on the histogram slots `slots[0, nSlots)`, and adds each
 * leaf's value to raw[row] for those rows. grad/hess are indexed by row. With data.hasRootCounts, rows[0,
 * nRowsUsed) must be every row in order.
 */
export function growTree(
  data: GrowData,
  slots: Int32Array,
  nSlots: number,
  rows: Int32Array,
  nRowsUsed: number,
  grad: Float64Array,
  hess: Float64Array,
  settings: GrowSettings,
  raw: Float64Array,
): Tree {
  const { kernel, mapper, layout, hasRootCounts } = data;
  kernel.loadTree(rows, nRowsUsed, grad, hess, slots, nSlots);
  const builder = new TreeBuilder(1, 2 * settings.maxLeafNodes);

  // -0 keeps the sums' object fields doubles from the start (see emptySplit). −0 + x is x, and the final + 0 turns
  // an all-zero −0 sum into +0, so the sums are bit for bit those started from 0.
  const root = new Leaf(builder.addNode(), 0, nRowsUsed, 0, -0, -0);
  const leaves: Leaf[] = [root];
  const candidates: Leaf[] = [];
  if (canSplit(root, settings) && settings.maxLeafNodes > 1 && layout.features.length > 0) {
    const hist = kernel.acquireHistogram();
    if (hasRootCounts) kernel.buildRootHistogram(hist);
    else kernel.buildHistogram(hist, 0, nRowsUsed);
    // Every row lands in exactly one bin of slot 0, so its bins sum to the root's totals.
    root.sumGrad = kernel.sumBins(hist, layout.offsets[0], layout.nBins[0] + 1, root.sumGrad, 0) + 0;
    root.sumHess = kernel.sumBins(hist, layout.offsets[0], layout.nBins[0] + 1, root.sumHess, 1) + 0;
    kernel.findBestSplit(hist, nSlots, root.sumGrad, root.sumHess, nRowsUsed, settings, root.split);
    if (root.split.gain > 0) {
      root.hist = hist;
      candidates.push(root);
    } else kernel.releaseHistogram(hist);
  } else {
    root.sumGrad = kernel.sumRows('grad', nRowsUsed, root.sumGrad) + 0;
    root.sumHess = kernel.sumRows('hess', nRowsUsed, root.sumHess) + 0;
  }

  while (candidates.length > 0 && leaves.length < settings.maxLeafNodes) {
    let pick = 0;
    for (let c = 1; c < candidates.length; c++) if (candidates[c].split.gain > candidates[pick].split.gain) pick = c;
    const parent = candidates[pick];
    candidates[pick] = candidates[candidates.length - 1];
    candidates.pop();
    const split = parent.split;
    const f = layout.features[split.feature];
    const bin = split.bin;
    const missingLeft = split.missingLeft;

    const i = kernel.partitionRows(parent.start, parent.end, f, bin, mapper.nBins[f], missingLeft);
    const depth = parent.depth + 1;
    const left = new Leaf(builder.addNode(), parent.start, i, depth, split.gradLeft, split.hessLeft);
    const right = new Leaf(builder.addNode(), i, parent.end, depth, parent.sumGrad - split.gradLeft, parent.sumHess - split.hessLeft);
    builder.setSplit(parent.node, f, mapper.upper[f][bin], missingLeft, left.node, right.node);
    leaves[leaves.indexOf(parent)] = left;
    leaves.push(right);

    const parentHist = parent.hist;
    parent.hist = NO_HISTOGRAM;
    const room = leaves.length < settings.maxLeafNodes;
    const splitLeft = room && canSplit(left, settings);
    const splitRight = room && canSplit(right, settings);
    if (!splitLeft && !splitRight) {
      kernel.releaseHistogram(parentHist);
      continue;
    }
    const leftSmaller = left.end - left.start <= right.end - right.start;
    const smaller = leftSmaller ? left : right;
    const larger = leftSmaller ? right : left;
    const smallHist = kernel.acquireHistogram();
    kernel.buildHistogram(smallHist, smaller.start, smaller.end);
    smaller.hist = smallHist;
    larger.hist = parentHist;
    // The larger child (splittable whenever the smaller is) turns the parent's buffer into its own during its scan.
    const largerSplittable = leftSmaller ? splitRight : splitLeft;
    if (largerSplittable) searchSplit(larger, kernel, nSlots, settings, smallHist);
    if (leftSmaller ? splitLeft : splitRight) searchSplit(smaller, kernel, nSlots, settings, NO_HISTOGRAM);
    keepIfCandidate(left, splitLeft, kernel, candidates);
    keepIfCandidate(right, splitRight, kernel, candidates);
  }
  for (const leaf of candidates) if (leaf.hist !== NO_HISTOGRAM) kernel.releaseHistogram(leaf.hist);

  const value = builder.value;
  const ordered = kernel.rowsView(nRowsUsed);
  for (const leaf of leaves) {
    const denominator = leaf.sumHess + settings.l2;
    const v = denominator > 0 ? (-settings.learningRate * leaf.sumGrad) / denominator : 0;
    value[leaf.node] = v;
    addToRows(raw, ordered, leaf.start, leaf.end, v);
  }
  return builder.finish();
}

function addToRows(raw: Float64Array, rows: Int32Array, start: number, end: number, value: number): void {
  for (let i = start; i < end; i++) raw[rows[i]] += value;
}

function searchSplit(leaf: Leaf, kernel: GbdtKernel, nSlots: number, settings: GrowSettings, subtract: number): void {
  kernel.findBestSplit(leaf.hist, nSlots, leaf.sumGrad, leaf.sumHess, leaf.end - leaf.start, settings, leaf.split, subtract);
}

/** A searched leaf with a positive gain becomes a candidate and keeps its histogram; otherwise the buffer returns. */
function keepIfCandidate(leaf: Leaf, splittable: boolean, kernel: GbdtKernel, candidates: Leaf[]): void {
  if (splittable && leaf.split.gain > 0) {
    candidates.push(leaf);
    return;
  }
  kernel.releaseHistogram(leaf.hist);
  leaf.hist = NO_HISTOGRAM;
}
