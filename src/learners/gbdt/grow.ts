/**
 * Leaf-wise (best-first) growth of one boosting tree from gradients (LightGBM's SerialTreeLearner::Train):
 * histogram the root, then repeatedly split the leaf with the largest gain until max_leaf_nodes leaves exist or
 * no split has positive gain. Only the smaller child of a split is histogrammed; the larger is parent − smaller.
 * Leaf values are −learning_rate · G / (H + λ) and are added straight to the rows' raw scores, since the rows
 * of each leaf are known from the partition.
 */
import { TreeBuilder, type Tree } from '../tree/tree.js';
import type { BinMapper } from './binning.js';
import { HIST_STRIDE, buildHistogram, buildRootHistogram, type HistogramLayout } from './histogram.js';
import { emptySplit, findBestSplit, type SplitConstraints } from './split.js';

export interface GrowSettings extends SplitConstraints {
  readonly maxLeafNodes: number;
  /** Infinity for unlimited. */
  readonly maxDepth: number;
  readonly learningRate: number;
}

/** The binned training data every tree of a fit grows on. */
export interface GrowData {
  /** Column-major codes (for partitioning). */
  readonly codes: Uint8Array;
  /** Rows in the binned data (column length of `codes`). */
  readonly nRows: number;
  readonly mapper: BinMapper;
  readonly layout: HistogramLayout;
  /** Row-major global bin indices (for histograms). */
  readonly binIndex: Uint16Array | Uint32Array;
  /** Rows per global bin (binCounts), when every tree grows on all rows in order; else null. */
  readonly rootCounts: Float64Array | null;
}

/** Histogram buffers reused by every tree of a fit. */
export class HistogramPool {
  private readonly free: Float64Array[] = [];
  constructor(private readonly size: number) {}

  acquire(): Float64Array {
    return this.free.pop() ?? new Float64Array(this.size);
  }

  release(hist: Float64Array): void {
    this.free.push(hist);
  }
}

class Leaf {
  hist: Float64Array | null = null;
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
 * Grows a tree on rows[0, nRowsUsed) (reordered in place), searching splits on the histogram slots
 * `slots[0, nSlots)`, and adds each leaf's value to raw[row] for those rows. grad/hess are indexed by row.
 * With data.rootCounts, rows[0, nRowsUsed) must be every row in order.
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
  pool: HistogramPool,
  raw: Float64Array,
): Tree {
  const { codes, nRows, mapper, layout, binIndex, rootCounts } = data;
  const builder = new TreeBuilder(1, 2 * settings.maxLeafNodes);

  // -0 keeps the sums' object fields doubles from the start (see emptySplit). −0 + x is x, and the final + 0 turns
  // an all-zero −0 sum into +0, so the sums are bit for bit those started from 0.
  const root = new Leaf(builder.addNode(), 0, nRowsUsed, 0, -0, -0);
  const leaves: Leaf[] = [root];
  const candidates: Leaf[] = [];
  if (canSplit(root, settings) && settings.maxLeafNodes > 1 && layout.features.length > 0) {
    const hist = pool.acquire();
    if (rootCounts) buildRootHistogram(hist, layout, binIndex, nRows, grad, hess, rootCounts);
    else buildHistogram(hist, layout, binIndex, rows, 0, nRowsUsed, grad, hess);
    // Every row lands in exactly one bin of slot 0, so its bins sum to the root's totals.
    root.sumGrad = sumBins(hist, layout.offsets[0], layout.nBins[0] + 1, root.sumGrad, 0) + 0;
    root.sumHess = sumBins(hist, layout.offsets[0], layout.nBins[0] + 1, root.sumHess, 1) + 0;
    findBestSplit(hist, layout, slots, nSlots, root.sumGrad, root.sumHess, nRowsUsed, settings, root.split);
    if (root.split.gain > 0) {
      root.hist = hist;
      candidates.push(root);
    } else pool.release(hist);
  } else {
    root.sumGrad = sumRows(grad, rows, nRowsUsed, root.sumGrad) + 0;
    root.sumHess = sumRows(hess, rows, nRowsUsed, root.sumHess) + 0;
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
    const missingBin = mapper.nBins[f];
    const missingLeft = split.missingLeft;

    const i = partitionRows(rows, parent.start, parent.end, codes, f * nRows, bin, missingBin, missingLeft);
    const depth = parent.depth + 1;
    const left = new Leaf(builder.addNode(), parent.start, i, depth, split.gradLeft, split.hessLeft);
    const right = new Leaf(builder.addNode(), i, parent.end, depth, parent.sumGrad - split.gradLeft, parent.sumHess - split.hessLeft);
    builder.setSplit(parent.node, f, mapper.upper[f][bin], missingLeft, left.node, right.node);
    leaves[leaves.indexOf(parent)] = left;
    leaves.push(right);

    const parentHist = parent.hist as Float64Array;
    parent.hist = null;
    const room = leaves.length < settings.maxLeafNodes;
    const splitLeft = room && canSplit(left, settings);
    const splitRight = room && canSplit(right, settings);
    if (!splitLeft && !splitRight) {
      pool.release(parentHist);
      continue;
    }
    const leftSmaller = left.end - left.start <= right.end - right.start;
    const smaller = leftSmaller ? left : right;
    const larger = leftSmaller ? right : left;
    const smallHist = pool.acquire();
    buildHistogram(smallHist, layout, binIndex, rows, smaller.start, smaller.end, grad, hess);
    smaller.hist = smallHist;
    larger.hist = parentHist;
    // The larger child (splittable whenever the smaller is) turns the parent's buffer into its own during its scan.
    const largerSplittable = leftSmaller ? splitRight : splitLeft;
    if (largerSplittable) searchSplit(larger, layout, slots, nSlots, settings, smallHist);
    if (leftSmaller ? splitLeft : splitRight) searchSplit(smaller, layout, slots, nSlots, settings, null);
    keepIfCandidate(left, splitLeft, pool, candidates);
    keepIfCandidate(right, splitRight, pool, candidates);
  }
  for (const leaf of candidates) if (leaf.hist) pool.release(leaf.hist);

  const value = builder.value;
  for (const leaf of leaves) {
    const denominator = leaf.sumHess + settings.l2;
    const v = denominator > 0 ? (-settings.learningRate * leaf.sumGrad) / denominator : 0;
    value[leaf.node] = v;
    addToRows(raw, rows, leaf.start, leaf.end, v);
  }
  return builder.finish();
}

/** Reorders rows[start, end) so the rows going left (code <= bin; NaN per missingLeft) come first; returns the split. */
function partitionRows(
  rows: Int32Array,
  start: number,
  end: number,
  codes: Uint8Array,
  column: number,
  bin: number,
  missingBin: number,
  missingLeft: boolean,
): number {
  let i = start;
  let j = end - 1;
  while (i <= j) {
    const r = rows[i];
    const code = codes[column + r];
    if (code === missingBin ? missingLeft : code <= bin) i++;
    else {
      rows[i] = rows[j];
      rows[j--] = r;
    }
  }
  return i;
}

function addToRows(raw: Float64Array, rows: Int32Array, start: number, end: number, value: number): void {
  for (let i = start; i < end; i++) raw[rows[i]] += value;
}

/** total + component `part` of bins [first, first + count), in bin order. */
function sumBins(hist: Float64Array, first: number, count: number, total: number, part: number): number {
  const end = (first + count) * HIST_STRIDE;
  for (let b = first * HIST_STRIDE + part; b < end; b += HIST_STRIDE) total += hist[b];
  return total;
}

/** total + values[rows[i]] for i < count, in order. */
function sumRows(values: Float64Array, rows: Int32Array, count: number, total: number): number {
  for (let i = 0; i < count; i++) total += values[rows[i]];
  return total;
}

function searchSplit(leaf: Leaf, layout: HistogramLayout, slots: Int32Array, nSlots: number, settings: GrowSettings, subtract: Float64Array | null): void {
  findBestSplit(leaf.hist as Float64Array, layout, slots, nSlots, leaf.sumGrad, leaf.sumHess, leaf.end - leaf.start, settings, leaf.split, subtract);
}

/** A searched leaf with a positive gain becomes a candidate and keeps its histogram; otherwise the buffer returns. */
function keepIfCandidate(leaf: Leaf, splittable: boolean, pool: HistogramPool, candidates: Leaf[]): void {
  if (splittable && leaf.split.gain > 0) {
    candidates.push(leaf);
    return;
  }
  pool.release(leaf.hist as Float64Array);
  leaf.hist = null;
}
