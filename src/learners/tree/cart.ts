/**
 * The CART builder shared by decision_tree, random_forest and extra_trees (scikit-learn's DepthFirstTreeBuilder
 * with its BestSplitter / RandomSplitter), on typed arrays.
 *
 * Split search ('best'): features are binned once per fit (≤ 255 bins, see ../gbdt/binning.ts) and a node's
 * candidate feature is histogrammed over the node's samples, then scanned bin by bin; tiny nodes sort their codes
 * instead (cheaper than scanning 255 bins). A split between two non-empty bins gets scikit-learn's threshold,
 * midway between the largest training value left and the smallest right (each bin remembers its value range),
 * so a feature with ≤ 255 distinct values splits exactly as scikit-learn's sort-based search would; with more
 * distinct values only the 254 quantile boundaries are candidates. That trades a little resolution for never
 * sorting per node.
 * Random splits ('random', extra trees) draw a uniform threshold between the node's raw min and max.
 *
 * Speed notes: the builder keeps the tree, its stack and all scratch in a CartWorkspace reused by every tree of a
 * fit, and grows one node per call of a small function (the engine then optimises that step once, instead of
 * recompiling one long-running function). Class sums skip classes absent from the node, histograms skip row
 * counts when min_samples_leaf is 1, and unit-weight trees count classes as integers: all of these give the
 * same sums as the plain loops, so trees are unchanged. Random splits gather a candidate column (with its min and
 * max), count its sides (unit weights) and partition the rows in WebAssembly (wasm/cart.ts): the gather is a
 * random-access loop where JavaScript's bounds checks and branches cost most of the time; weighted and regression
 * side sums stay in small JavaScript loop functions.
 *
 * Feature sampling follows scikit-learn: draw features without replacement, known-constant features count as
 * visited, keep drawing past max_features only while every visited feature was constant; constants found in a
 * node are passed to its children.
 */
import { wasmBase64 } from '../../generated/wasm/cart.js';
import { instantiateKernel, MemoryLayout } from '../../runtime/wasm.js';
import type { Rng } from '../rng.js';
import type { Tree } from './tree.js';

export type Criterion = 'gini' | 'entropy' | 'squared_error';

export interface CartSettings {
  /** Classes (classification) or 0 for regression. */
  readonly nClasses: number;
  readonly criterion: Criterion;
  readonly splitter: 'best' | 'random';
  /** Infinity for unlimited. */
  readonly maxDepth: number;
  readonly minSamplesSplit: number;
  readonly minSamplesLeaf: number;
  /** Features to visit per node, in [1, p]. */
  readonly maxFeatures: number;
}

/** What the builder reads; shared (read-only) by every tree of a fit. */
export interface CartInput {
  readonly rows: number;
  readonly cols: number;
  /** Class index or target value per row. */
  readonly y: Float64Array;
  /** Class index per row as integers (classification), so histogram slots index without conversion. */
  readonly labels?: Int32Array;
  /** 'best': column-major bin codes with per-feature bin counts and upper edges. */
  readonly codes?: Uint8Array;
  readonly nBins?: Int32Array;
  readonly upper?: readonly Float64Array[];
  /** Smallest and largest training value in each bin, so a split between bins sits midway between values. */
  readonly binLow?: readonly Float64Array[];
  readonly binHigh?: readonly Float64Array[];
  /** 'random': raw values, column-major. */
  readonly columns?: Float64Array;
}

const FEATURE_THRESHOLD = 1e-7;
const IMPURITY_EPSILON = 2.220446049250313e-16;
/** Nodes smaller than this sort their codes rather than scanning a histogram. */
const SORT_BELOW = 128;

interface CartExports {
  gatherColumn(column: number, idx: number, values: number, start: number, end: number, range: number): void;
  countBinary(values: number, labels: number, start: number, end: number, threshold: number, out: number): void;
  countClasses(values: number, labels: number, start: number, end: number, threshold: number, counts: number, K: number): number;
  partitionStable(values: number, idx: number, labels: number, threshold: number, start: number, end: number, spareRows: number, spareLabels: number): number;
}

/**
 * The random splitter's WebAssembly kernels (wasm/cart.ts) and their memory: the raw columns, the node rows and
 * labels, two value buffers, and small outputs. Laid out once per fit and never grown after, so the workspace's
 * typed arrays can be views on it that the JS code keeps using.
 */
export class CartKernel {
  readonly fn: CartExports;
  readonly buffer: ArrayBuffer;
  readonly columns: number;
  readonly indices: number;
  readonly labels: number;
  readonly values: number;
  readonly spareValues: number;
  readonly spareRows: number;
  readonly spareLabels: number;
  readonly range: number;
  readonly out: number;
  readonly counts: number;
  /** The two counts countBinary writes. */
  readonly outView: Int32Array;

  constructor(columns: Float64Array, n: number, K: number) {
    const module = instantiateKernel<CartExports>('cart', wasmBase64);
    this.fn = module.exports;
    const layout = new MemoryLayout();
    const alloc = (bytes: number): number => layout.take(bytes);
    this.columns = alloc(columns.byteLength);
    this.indices = alloc(4 * n);
    this.labels = alloc(4 * n);
    this.values = alloc(8 * n);
    this.spareValues = alloc(8 * n);
    this.spareRows = alloc(4 * n);
    this.spareLabels = alloc(4 * n);
    this.range = alloc(16);
    this.out = alloc(8);
    this.counts = alloc(8 * Math.max(1, K));
    module.ensureBytes(layout.end);
    this.buffer = module.memory.buffer;
    new Float64Array(this.buffer, this.columns, columns.length).set(columns);
    this.outView = new Int32Array(this.buffer, this.out, 2);
  }
}

/**
 * Scratch buffers and the tree under construction, reused across the trees of one fit: growing a tree allocates
 * nothing but the final trimmed copy, so the garbage collector never revisits the builder's compiled code.
 */
export class CartWorkspace {
  readonly indices: Int32Array;
  /** Random splitter only: the kernel whose memory holds indices, sampleLabels, values, bestValues and range. */
  readonly kernel: CartKernel | null;
  /** Byte offsets of values and bestValues in the kernel's memory (they swap together with the arrays). */
  valuesAt = 0;
  bestValuesAt = 0;
  readonly hist: Float64Array;
  readonly keys: Int32Array;
  readonly candidates: Int32Array;
  readonly knownConstant: Uint8Array;
  readonly totals: Float64Array;
  readonly leftStats: Float64Array;
  /** A node's values of one feature, gathered contiguously (random splitter); bestValues holds the best's. */
  values: Float64Array;
  bestValues: Float64Array;
  /** Left-child class weights of the best split so far (classification): the children's totals come from it. */
  readonly bestLeft: Float64Array;
  /** Label, target and weight of the row at indices[i], kept in the same order so node scans read sequentially. */
  readonly sampleLabels: Int32Array;
  readonly sampleTargets: Float64Array;
  readonly sampleWeights: Float64Array;
  /** Every weight of the current tree is 1 (no bootstrap, no sample weights): counting needs no weight reads. */
  unitWeights = false;
  /** Left and right class weights of a candidate split (random splitter). */
  readonly sides: Float64Array;
  readonly sideCounts: Int32Array;
  /** Min and max of the values gathered by gatherColumn. */
  readonly range: Float64Array;
  /** Classes with non-zero weight in the current node: the only ones split scans need to visit. */
  readonly present: Int32Array;
  nPresent = 0;
  readonly stride: number;

  /** The best split of the current node ('best': left = codes <= bestBin, nextBin is the first bin right). */
  bestProxy = -Infinity;
  bestFeature = -1;
  bestBin = 0;
  bestNextBin = 0;
  bestThreshold = 0.5;

  /** Depth-first stack of nodes to grow; constants[constStart, constEnd) are the node's known-constant features. */
  readonly stackStart: Int32Array;
  readonly stackEnd: Int32Array;
  readonly stackDepth: Int32Array;
  /** Parent node id, negated minus one for a right child (so -1 marks the root). */
  readonly stackParent: Int32Array;
  readonly stackConstStart: Int32Array;
  readonly stackConstEnd: Int32Array;
  stackSize = 0;
  /** Class totals per stack entry (classification), so nodes need no counting pass. */
  stackTotals: Float64Array;
  constants: Int32Array;
  constantsTop = 0;
  readonly foundConstants: Int32Array;

  /** The tree being grown. */
  readonly nOutputs: number;
  nodeCount = 0;
  nodeFeature: Int32Array;
  nodeThreshold: Float64Array;
  nodeLeft: Int32Array;
  nodeRight: Int32Array;
  nodeMissingLeft: Uint8Array;
  nodeValue: Float64Array;

  constructor(input: CartInput, settings: CartSettings) {
    const outputs = settings.nClasses > 0 ? settings.nClasses : 2;
    const n = input.rows;
    const K = Math.max(1, settings.nClasses);
    this.stride = outputs + 1;
    let maxBins = 1;
    if (input.nBins) for (let f = 0; f < input.cols; f++) maxBins = Math.max(maxBins, input.nBins[f] + 1);
    const kernel = input.columns ? new CartKernel(input.columns, n, K) : null;
    this.kernel = kernel;
    this.indices = kernel ? new Int32Array(kernel.buffer, kernel.indices, n) : new Int32Array(n);
    this.hist = new Float64Array(maxBins * this.stride);
    this.keys = new Int32Array(SORT_BELOW);
    this.candidates = Int32Array.from({ length: input.cols }, (_, f) => f);
    this.knownConstant = new Uint8Array(input.cols);
    this.totals = new Float64Array(this.stride);
    this.leftStats = new Float64Array(this.stride);
    this.values = kernel ? new Float64Array(kernel.buffer, kernel.values, n) : new Float64Array(0);
    this.bestValues = kernel ? new Float64Array(kernel.buffer, kernel.spareValues, n) : new Float64Array(0);
    this.valuesAt = kernel ? kernel.values : 0;
    this.bestValuesAt = kernel ? kernel.spareValues : 0;
    this.range = kernel ? new Float64Array(kernel.buffer, kernel.range, 2) : new Float64Array(2);
    this.bestLeft = new Float64Array(this.stride);
    this.sampleLabels = kernel && settings.nClasses > 0 ? new Int32Array(kernel.buffer, kernel.labels, n) : new Int32Array(settings.nClasses > 0 ? n : 0);
    this.sampleTargets = new Float64Array(settings.nClasses > 0 ? 0 : n);
    this.sampleWeights = new Float64Array(n);
    this.sides = new Float64Array(2 * K);
    this.sideCounts = kernel ? new Int32Array(kernel.buffer, kernel.counts, 2 * K) : new Int32Array(2 * K);
    this.present = new Int32Array(K);
    // A depth-first stack never holds more than depth + 2 entries, and depth < rows.
    this.stackStart = new Int32Array(n + 2);
    this.stackEnd = new Int32Array(n + 2);
    this.stackDepth = new Int32Array(n + 2);
    this.stackParent = new Int32Array(n + 2);
    this.stackConstStart = new Int32Array(n + 2);
    this.stackConstEnd = new Int32Array(n + 2);
    this.stackTotals = new Float64Array(64 * K);
    this.constants = new Int32Array(Math.max(64, 4 * input.cols));
    this.foundConstants = new Int32Array(input.cols);
    this.nOutputs = settings.nClasses > 0 ? settings.nClasses : 1;
    // A tree has at most 2 × rows − 1 nodes; start smaller and double (once per fit, not per tree).
    const capacity = Math.min(2 * n, 1024);
    this.nodeFeature = new Int32Array(capacity);
    this.nodeThreshold = new Float64Array(capacity);
    this.nodeLeft = new Int32Array(capacity);
    this.nodeRight = new Int32Array(capacity);
    this.nodeMissingLeft = new Uint8Array(capacity);
    this.nodeValue = new Float64Array(capacity * this.nOutputs);
  }

  /** Doubles the node arrays. */
  growNodes(): void {
    const capacity = this.nodeFeature.length * 2;
    this.nodeFeature = widened(this.nodeFeature, new Int32Array(capacity));
    this.nodeThreshold = widened(this.nodeThreshold, new Float64Array(capacity));
    this.nodeLeft = widened(this.nodeLeft, new Int32Array(capacity));
    this.nodeRight = widened(this.nodeRight, new Int32Array(capacity));
    this.nodeMissingLeft = widened(this.nodeMissingLeft, new Uint8Array(capacity));
    this.nodeValue = widened(this.nodeValue, new Float64Array(capacity * this.nOutputs));
  }

  /** Makes room for `more` constant-feature ids above constantsTop. */
  reserveConstants(more: number): void {
    if (this.constantsTop + more > this.constants.length) {
      this.constants = widened(this.constants, new Int32Array(2 * (this.constantsTop + more)));
    }
  }

  /** Makes room for class totals of stack entries [0, entries). */
  reserveStackTotals(entries: number, K: number): void {
    if (entries * K > this.stackTotals.length) this.stackTotals = widened(this.stackTotals, new Float64Array(2 * entries * K));
  }
}

function widened<T extends Int32Array | Float64Array | Uint8Array>(old: T, next: T): T {
  next.set(old);
  return next;
}

/**
 * Grows one tree on the rows with weight > 0 (weights fold in bootstrap counts and sample weights).
 * Leaves hold normalised class frequencies (classification) or the weighted mean (regression).
 */
export function growCartTree(input: CartInput, settings: CartSettings, weights: Float64Array, rng: Rng, ws: CartWorkspace): Tree {
  const K = settings.nClasses;
  const nRows = gatherRows(input, K > 0, weights, ws);
  ws.nodeCount = 0;
  ws.constantsTop = 0;
  ws.stackSize = 1;
  ws.stackStart[0] = 0;
  ws.stackEnd[0] = nRows;
  ws.stackDepth[0] = 0;
  ws.stackParent[0] = -1;
  ws.stackConstStart[0] = 0;
  ws.stackConstEnd[0] = 0;
  if (K > 0) {
    const stackTotals = ws.stackTotals;
    for (let c = 0; c < K; c++) stackTotals[c] = 0;
    const sampleLabels = ws.sampleLabels;
    const sampleWeights = ws.sampleWeights;
    for (let i = 0; i < nRows; i++) stackTotals[sampleLabels[i]] += sampleWeights[i];
  }
  // Depth-first: left child popped first, node ids in pre-order like scikit-learn. One call per node keeps this
  // loop tiny, so the engine compiles the node step once instead of re-optimising one long-running function.
  while (ws.stackSize > 0) growNode(input, settings, rng, ws);
  return collectTree(ws);
}

/** Lists the rows with weight > 0 (in row order) with their labels or targets and weights. Returns how many. */
function gatherRows(input: CartInput, classification: boolean, weights: Float64Array, ws: CartWorkspace): number {
  const idx = ws.indices;
  const sampleWeights = ws.sampleWeights;
  let nRows = 0;
  let unit = true;
  if (classification) {
    const labels = input.labels as Int32Array;
    const sampleLabels = ws.sampleLabels;
    for (let i = 0; i < input.rows; i++) {
      const w = weights[i];
      if (w > 0) {
        idx[nRows] = i;
        sampleWeights[nRows] = w;
        sampleLabels[nRows] = labels[i];
        unit = unit && w === 1;
        nRows++;
      }
    }
  } else {
    const y = input.y;
    const sampleTargets = ws.sampleTargets;
    for (let i = 0; i < input.rows; i++) {
      const w = weights[i];
      if (w > 0) {
        idx[nRows] = i;
        sampleWeights[nRows] = w;
        sampleTargets[nRows] = y[i];
        unit = unit && w === 1;
        nRows++;
      }
    }
  }
  ws.unitWeights = unit;
  return nRows;
}

/** Pops one stack entry, makes it a node, and splits it (pushing both children) unless it is a leaf. */
function growNode(input: CartInput, settings: CartSettings, rng: Rng, ws: CartWorkspace): void {
  const top = --ws.stackSize;
  const start = ws.stackStart[top];
  const end = ws.stackEnd[top];
  const depth = ws.stackDepth[top];
  const parent = ws.stackParent[top];
  const constStart = ws.stackConstStart[top];
  const constEnd = ws.stackConstEnd[top];
  // Entries still on the stack use constants below constEnd only (they were pushed before this one).
  ws.constantsTop = constEnd;
  const K = settings.nClasses;
  const nNode = end - start;
  if (ws.nodeCount === ws.nodeFeature.length) ws.growNodes();
  const node = ws.nodeCount++;
  ws.nodeFeature[node] = -1;
  ws.nodeLeft[node] = -1;
  ws.nodeRight[node] = -1;
  ws.nodeThreshold[node] = 0;
  ws.nodeMissingLeft[node] = 0;
  if (parent >= 0) ws.nodeLeft[parent] = node;
  else if (parent < -1) ws.nodeRight[-parent - 2] = node;

  const totals = ws.totals;
  let impurity: number;
  let weightTotal = 0;
  let pure = false;
  if (K > 0) {
    const stackTotals = ws.stackTotals;
    for (let c = 0; c < K; c++) {
      const w = stackTotals[top * K + c];
      totals[c] = w;
      weightTotal += w;
    }
    // Totals of children are parent − left, so an absent class may show as rounding dust.
    let present = 0;
    for (let c = 0; c < K; c++) if (totals[c] > 1e-12 * weightTotal) present++;
    pure = present <= 1;
    // Absent classes add exact zeros to every split sum, so leaving them out changes no proxy.
    let nPresent = 0;
    for (let c = 0; c < K; c++) if (totals[c] !== 0) ws.present[nPresent++] = c;
    ws.nPresent = nPresent;
    impurity = nodeImpurity(settings.criterion, totals, K, weightTotal);
    const value = ws.nodeValue;
    for (let c = 0; c < K; c++) value[node * K + c] = totals[c] / weightTotal;
  } else {
    impurity = regressionNode(ws, start, end, node);
    weightTotal = totals[0];
  }

  const isLeaf =
    depth >= settings.maxDepth ||
    nNode < settings.minSamplesSplit ||
    nNode < 2 * settings.minSamplesLeaf ||
    impurity <= IMPURITY_EPSILON ||
    pure;
  if (isLeaf) return;

  ws.bestProxy = -Infinity;
  ws.bestFeature = -1;
  const nFound = searchSplit(input, settings, rng, ws, start, end, weightTotal, constStart, constEnd);
  const f = ws.bestFeature;
  if (f < 0) return;

  let mid: number;
  let threshold: number;
  if (settings.splitter === 'best') {
    mid = partitionByCode(ws, input.codes as Uint8Array, f * input.rows, ws.bestBin, start, end, K > 0);
    // scikit-learn's threshold: midway between the largest value on the left and the smallest on the right.
    threshold = midpoint((input.binHigh as readonly Float64Array[])[f][ws.bestBin], (input.binLow as readonly Float64Array[])[f][ws.bestNextBin]);
  } else {
    threshold = ws.bestThreshold;
    const kernel = ws.kernel as CartKernel;
    mid =
      K > 0 && ws.unitWeights
        ? kernel.fn.partitionStable(ws.bestValuesAt, kernel.indices, kernel.labels, threshold, start, end, kernel.spareRows, kernel.spareLabels)
        : partitionByValue(ws, threshold, start, end, K > 0);
  }
  ws.nodeFeature[node] = f;
  ws.nodeThreshold[node] = threshold;
  // No NaN reaches these trees (the families reject it); send it to the larger child if it ever does.
  ws.nodeMissingLeft[node] = mid - start >= end - mid ? 1 : 0;

  // Children share one constants list: the parent's plus those found here, copied above it when there are new ones.
  let childConstStart = constStart;
  let childConstEnd = constEnd;
  if (nFound > 0) {
    const length = constEnd - constStart;
    ws.reserveConstants(length + nFound);
    const constants = ws.constants;
    childConstStart = ws.constantsTop;
    constants.copyWithin(childConstStart, constStart, constEnd);
    for (let k = 0; k < nFound; k++) constants[childConstStart + length + k] = ws.foundConstants[k];
    childConstEnd = childConstStart + length + nFound;
    ws.constantsTop = childConstEnd;
  }
  // Right pushed first so the left child is processed (and numbered) first.
  const right = top;
  const left = top + 1;
  if (K > 0) {
    ws.reserveStackTotals(left + 1, K);
    const stackTotals = ws.stackTotals;
    const bestLeft = ws.bestLeft;
    for (let c = 0; c < K; c++) {
      stackTotals[right * K + c] = totals[c] - bestLeft[c];
      stackTotals[left * K + c] = bestLeft[c];
    }
  }
  ws.stackStart[right] = mid;
  ws.stackEnd[right] = end;
  ws.stackParent[right] = -node - 2;
  ws.stackStart[left] = start;
  ws.stackEnd[left] = mid;
  ws.stackParent[left] = node;
  ws.stackDepth[right] = depth + 1;
  ws.stackDepth[left] = depth + 1;
  ws.stackConstStart[right] = childConstStart;
  ws.stackConstEnd[right] = childConstEnd;
  ws.stackConstStart[left] = childConstStart;
  ws.stackConstEnd[left] = childConstEnd;
  ws.stackSize = top + 2;
}

/** Regression node: sets the weighted mean as the node value and totals[0..1] = weight and weighted sum; returns
 * the impurity (weighted variance). */
function regressionNode(ws: CartWorkspace, start: number, end: number, node: number): number {
  const sampleWeights = ws.sampleWeights;
  const sampleTargets = ws.sampleTargets;
  let weightTotal = 0;
  let sumWY = 0;
  let sumWY2 = 0;
  for (let i = start; i < end; i++) {
    const w = sampleWeights[i];
    const v = sampleTargets[i];
    weightTotal += w;
    sumWY += w * v;
    sumWY2 += w * v * v;
  }
  ws.totals[0] = weightTotal;
  ws.totals[1] = sumWY;
  const mean = sumWY / weightTotal;
  ws.nodeValue[node] = mean;
  return sumWY2 / weightTotal - mean * mean;
}

/** Partitions positions [start, end) in place so rows with code <= bin come first; returns the first right position. */
function partitionByCode(ws: CartWorkspace, codes: Uint8Array, offset: number, bin: number, start: number, end: number, classification: boolean): number {
  const idx = ws.indices;
  let i = start;
  let j = end - 1;
  while (i <= j) {
    if (codes[offset + idx[i]] <= bin) i++;
    else swapSamples(ws, i, j--, classification);
  }
  return i;
}

/**
 * partitionByCode for the random splitter: by the best feature's gathered values (ws.bestValues) <= threshold.
 * Unit-weight classification uses the kernel's stable partition instead; here (weighted sums, regression) the row
 * order within a node decides the float summation order, so this keeps its swap sequence.
 */
function partitionByValue(ws: CartWorkspace, threshold: number, start: number, end: number, classification: boolean): number {
  const values = ws.bestValues;
  let i = start;
  let j = end - 1;
  while (i <= j) {
    if (values[i] <= threshold) i++;
    else {
      values[i] = values[j];
      swapSamples(ws, i, j--, classification);
    }
  }
  return i;
}

function swapSamples(ws: CartWorkspace, a: number, b: number, classification: boolean): void {
  const idx = ws.indices;
  const row = idx[a];
  idx[a] = idx[b];
  idx[b] = row;
  const weights = ws.sampleWeights;
  const w = weights[a];
  weights[a] = weights[b];
  weights[b] = w;
  if (classification) {
    const labels = ws.sampleLabels;
    const label = labels[a];
    labels[a] = labels[b];
    labels[b] = label;
  } else {
    const targets = ws.sampleTargets;
    const target = targets[a];
    targets[a] = targets[b];
    targets[b] = target;
  }
}

/** The grown tree, trimmed out of the workspace arrays. */
function collectTree(ws: CartWorkspace): Tree {
  const n = ws.nodeCount;
  return {
    nodeCount: n,
    nOutputs: ws.nOutputs,
    feature: ws.nodeFeature.slice(0, n),
    threshold: ws.nodeThreshold.slice(0, n),
    left: ws.nodeLeft.slice(0, n),
    right: ws.nodeRight.slice(0, n),
    missingLeft: ws.nodeMissingLeft.slice(0, n),
    value: ws.nodeValue.slice(0, n * ws.nOutputs),
  };
}

/** A threshold with a <= t < b even when a and b are adjacent doubles. */
function midpoint(a: number, b: number): number {
  const mid = a / 2 + b / 2;
  return mid >= b || !Number.isFinite(mid) ? a : mid;
}

function nodeImpurity(criterion: Criterion, counts: Float64Array, K: number, total: number): number {
  if (criterion === 'entropy') {
    let h = 0;
    for (let c = 0; c < K; c++) {
      const q = counts[c] / total;
      if (q > 0) h -= q * Math.log2(q);
    }
    return h;
  }
  let sq = 0;
  for (let c = 0; c < K; c++) sq += counts[c] * counts[c];
  return 1 - sq / (total * total);
}

/**
 * Visits features as scikit-learn does and leaves the best split in `best`.
 * Returns how many new constant features it found (written to foundConstants).
 */
function searchSplit(
  input: CartInput,
  settings: CartSettings,
  rng: Rng,
  ws: CartWorkspace,
  start: number,
  end: number,
  weightTotal: number,
  constStart: number,
  constEnd: number,
): number {
  const p = input.cols;
  const candidates = ws.candidates;
  const known = ws.knownConstant;
  const constants = ws.constants;
  const foundConstants = ws.foundConstants;
  for (let k = constStart; k < constEnd; k++) known[constants[k]] = 1;
  // `candidates` stays a permutation of all features between nodes; drawing from any permutation is uniform.
  let remaining = p;
  let nonConstantRemaining = p - (constEnd - constStart);
  let visited = 0;
  let constantsSeen = 0;
  let nFound = 0;
  while (nonConstantRemaining > 0 && (visited < settings.maxFeatures || visited <= constantsSeen)) {
    visited++;
    const j = rng.int(remaining);
    const f = candidates[j];
    candidates[j] = candidates[remaining - 1];
    candidates[remaining - 1] = f;
    remaining--;
    if (known[f] === 1) {
      constantsSeen++;
      continue;
    }
    nonConstantRemaining--;
    const constant =
      settings.splitter === 'best'
        ? evaluateBest(input, settings, ws, f, start, end, weightTotal)
        : evaluateRandom(input, settings, rng, ws, f, start, end, weightTotal);
    if (constant) {
      constantsSeen++;
      foundConstants[nFound++] = f;
    }
  }
  for (let k = constStart; k < constEnd; k++) known[constants[k]] = 0;
  return nFound;
}

/** Improvement proxy of a candidate split (larger is better), from left stats and node totals. */
function splitProxy(
  criterion: Criterion,
  left: Float64Array,
  totals: Float64Array,
  classes: Int32Array,
  nClasses: number,
  weightLeft: number,
  weightTotal: number,
): number {
  const weightRight = weightTotal - weightLeft;
  if (criterion === 'gini') {
    let sl = 0;
    let sr = 0;
    for (let k = 0; k < nClasses; k++) {
      const c = classes[k];
      const l = left[c];
      const r = totals[c] - l;
      sl += l * l;
      sr += r * r;
    }
    return sl / weightLeft + sr / weightRight;
  }
  if (criterion === 'entropy') {
    let h = 0;
    for (let k = 0; k < nClasses; k++) {
      const c = classes[k];
      const l = left[c];
      const r = totals[c] - l;
      if (l > 0) h += l * Math.log(l / weightLeft);
      if (r > 0) h += r * Math.log(r / weightRight);
    }
    return h;
  }
  const sumLeft = left[1];
  const sumRight = totals[1] - sumLeft;
  return (sumLeft * sumLeft) / weightLeft + (sumRight * sumRight) / weightRight;
}

/** Histogram (or, for tiny nodes, sorted-code) scan of one feature. Returns true if it is constant here. */
function evaluateBest(
  input: CartInput,
  settings: CartSettings,
  ws: CartWorkspace,
  f: number,
  start: number,
  end: number,
  weightTotal: number,
): boolean {
  const codes = input.codes as Uint8Array;
  const nb = (input.nBins as Int32Array)[f];
  const offset = f * input.rows;
  const idx = ws.indices;
  const sampleLabels = ws.sampleLabels;
  const sampleTargets = ws.sampleTargets;
  const sampleWeights = ws.sampleWeights;
  const K = settings.nClasses;
  const classification = K > 0;
  const S = ws.stride;
  const countSlot = S - 1;
  const left = ws.leftStats;
  const totals = ws.totals;
  const nNode = end - start;
  const msl = settings.minSamplesLeaf;
  const criterion = settings.criterion;
  const present = ws.present;
  const nPresent = ws.nPresent;
  left.fill(0);

  if (nNode < SORT_BELOW && nNode * 2 < nb) {
    const keys = ws.keys;
    for (let i = 0; i < nNode; i++) keys[i] = codes[offset + idx[start + i]] * SORT_BELOW + i;
    const sorted = keys.subarray(0, nNode).sort();
    if (sorted[0] >> 7 === sorted[nNode - 1] >> 7) return true;
    let weightLeft = 0;
    let previousCode = -1;
    for (let k = 0; k < nNode; k++) {
      const key = sorted[k];
      const code = key >> 7;
      if (k > 0 && code !== previousCode && k >= msl) {
        if (nNode - k < msl) break;
        const proxy = splitProxy(criterion, left, totals, present, nPresent, weightLeft, weightTotal);
        if (proxy > ws.bestProxy) {
          ws.bestProxy = proxy;
          ws.bestFeature = f;
          ws.bestBin = previousCode;
          ws.bestNextBin = code;
          for (let c = 0; c < K; c++) ws.bestLeft[c] = left[c];
        }
      }
      const i = start + (key & (SORT_BELOW - 1));
      const w = sampleWeights[i];
      if (classification) left[sampleLabels[i]] += w;
      else left[1] += w * sampleTargets[i];
      weightLeft += w;
      previousCode = code;
    }
    return false;
  }

  const hist = ws.hist;
  hist.fill(0, 0, nb * S);
  // With min_samples_leaf 1 every non-empty bin boundary is a valid split, so row counts are not needed; skipping
  // them removes a serial add chain on the busiest bin (most rows of a sparse feature share one code).
  const countRows = msl > 1;
  if (classification) {
    if (countRows) {
      for (let i = start; i < end; i++) {
        const h = codes[offset + idx[i]] * S;
        hist[h + sampleLabels[i]] += sampleWeights[i];
        hist[h + countSlot] += 1;
      }
    } else {
      for (let i = start; i < end; i++) hist[codes[offset + idx[i]] * S + sampleLabels[i]] += sampleWeights[i];
    }
  } else {
    for (let i = start; i < end; i++) {
      const h = codes[offset + idx[i]] * S;
      const w = sampleWeights[i];
      hist[h] += w;
      hist[h + 1] += w * sampleTargets[i];
      hist[h + countSlot] += 1;
    }
  }
  let nLeft = 0;
  let weightLeft = 0;
  let previous = -1;
  let nonEmpty = 0;
  if (classification && !countRows) {
    for (let b = 0; b < nb; b++) {
      const h = b * S;
      let binWeight = 0;
      for (let k = 0; k < nPresent; k++) binWeight += hist[h + present[k]];
      if (binWeight === 0) continue;
      nonEmpty++;
      if (previous >= 0) {
        const proxy = splitProxy(criterion, left, totals, present, nPresent, weightLeft, weightTotal);
        if (proxy > ws.bestProxy) {
          ws.bestProxy = proxy;
          ws.bestFeature = f;
          ws.bestBin = previous;
          ws.bestNextBin = b;
          for (let c = 0; c < K; c++) ws.bestLeft[c] = left[c];
        }
      }
      for (let k = 0; k < nPresent; k++) left[present[k]] += hist[h + present[k]];
      weightLeft += binWeight;
      previous = b;
    }
    return nonEmpty <= 1;
  }
  for (let b = 0; b < nb; b++) {
    const h = b * S;
    const count = hist[h + countSlot];
    if (count === 0) continue;
    nonEmpty++;
    if (previous >= 0 && nLeft >= msl) {
      if (nNode - nLeft < msl) break;
      const proxy = splitProxy(criterion, left, totals, present, nPresent, weightLeft, weightTotal);
      if (proxy > ws.bestProxy) {
        ws.bestProxy = proxy;
        ws.bestFeature = f;
        ws.bestBin = previous;
        ws.bestNextBin = b;
        for (let c = 0; c < K; c++) ws.bestLeft[c] = left[c];
      }
    }
    if (classification) {
      for (let c = 0; c < K; c++) {
        const w = hist[h + c];
        left[c] += w;
        weightLeft += w;
      }
    } else {
      weightLeft += hist[h];
      left[1] += hist[h + 1];
    }
    nLeft += count;
    previous = b;
  }
  return nonEmpty <= 1;
}

/** Extra-trees split: one uniform threshold between the node's min and max. Returns true if constant here. */
function evaluateRandom(
  input: CartInput,
  settings: CartSettings,
  rng: Rng,
  ws: CartWorkspace,
  f: number,
  start: number,
  end: number,
  weightTotal: number,
): boolean {
  const values = ws.values;
  const range = ws.range;
  const kernel = ws.kernel as CartKernel;
  kernel.fn.gatherColumn(kernel.columns + 8 * f * input.rows, kernel.indices, ws.valuesAt, start, end, kernel.range);
  const min = range[0];
  const max = range[1];
  if (max <= min + FEATURE_THRESHOLD) return true;
  let threshold = min + rng.next() * (max - min);
  if (threshold === max) threshold = min;

  const K = settings.nClasses;
  const left = ws.leftStats;
  // Each case is its own small loop function: the engine optimises each once, on the types it always sees.
  let nRight: number;
  if (K === 2 && ws.unitWeights) nRight = countBinary(kernel, ws.valuesAt, start, end, threshold, left);
  else if (K === 2) nRight = weighBinary(values, ws.sampleLabels, ws.sampleWeights, start, end, threshold, left);
  else if (K > 2 && ws.unitWeights) nRight = countClasses(kernel, ws.valuesAt, start, end, threshold, ws.sideCounts, K, left);
  else if (K > 2) nRight = weighClasses(values, ws.sampleLabels, ws.sampleWeights, start, end, threshold, ws.sides, K, left);
  else nRight = weighTargets(values, ws.sampleTargets, ws.sampleWeights, start, end, threshold, left);
  const nLeft = end - start - nRight;
  const msl = settings.minSamplesLeaf;
  if (nLeft < msl || nRight < msl) return false;
  let weightLeft = 0;
  if (K > 0) for (let c = 0; c < K; c++) weightLeft += left[c];
  else weightLeft = left[0];
  const proxy = splitProxy(settings.criterion, left, ws.totals, ws.present, ws.nPresent, weightLeft, weightTotal);
  if (proxy > ws.bestProxy) {
    ws.bestProxy = proxy;
    ws.bestFeature = f;
    ws.bestThreshold = threshold;
    for (let c = 0; c < K; c++) ws.bestLeft[c] = left[c];
    // Keep this feature's gathered values for the partition; the next candidate gathers into the other buffer.
    ws.values = ws.bestValues;
    ws.bestValues = values;
    const valuesAt = ws.valuesAt;
    ws.valuesAt = ws.bestValuesAt;
    ws.bestValuesAt = valuesAt;
  }
  return false;
}

// Side counters for a random threshold. Branch-free: which side a row goes to is random, so a branch would
// mispredict half the time. Each writes the left class weights (or weight and weighted target sum) to `left`
// and returns how many rows go right.

/** Two classes, unit weights: integer counts (the same sums as weighBinary), by the kernel. */
function countBinary(kernel: CartKernel, valuesAt: number, start: number, end: number, threshold: number, left: Float64Array): number {
  kernel.fn.countBinary(valuesAt, kernel.labels, start, end, threshold, kernel.out);
  const out = kernel.outView;
  const countLeft = out[0];
  const countLeftOne = out[1];
  left[0] = countLeft - countLeftOne;
  left[1] = countLeftOne;
  return end - start - countLeft;
}

function weighBinary(
  values: Float64Array,
  labels: Int32Array,
  weights: Float64Array,
  start: number,
  end: number,
  threshold: number,
  left: Float64Array,
): number {
  let weightLeft = 0;
  let weightLeftOne = 0;
  let nRight = 0;
  for (let i = start; i < end; i++) {
    const goesLeft = +(values[i] <= threshold);
    const w = weights[i] * goesLeft;
    weightLeft += w;
    weightLeftOne += w * labels[i];
    nRight += 1 - goesLeft;
  }
  left[0] = weightLeft - weightLeftOne;
  left[1] = weightLeftOne;
  return nRight;
}

/** More than two classes, unit weights: integer counts per side (left in counts[0, K), right in [K, 2K)), by the kernel. */
function countClasses(kernel: CartKernel, valuesAt: number, start: number, end: number, threshold: number, counts: Int32Array, K: number, left: Float64Array): number {
  const nRight = kernel.fn.countClasses(valuesAt, kernel.labels, start, end, threshold, kernel.counts, K);
  for (let c = 0; c < K; c++) left[c] = counts[c];
  return nRight;
}

function weighClasses(
  values: Float64Array,
  labels: Int32Array,
  weights: Float64Array,
  start: number,
  end: number,
  threshold: number,
  sides: Float64Array,
  K: number,
  left: Float64Array,
): number {
  sides.fill(0);
  let nRight = 0;
  for (let i = start; i < end; i++) {
    const right = +(values[i] > threshold);
    sides[right * K + labels[i]] += weights[i];
    nRight += right;
  }
  for (let c = 0; c < K; c++) left[c] = sides[c];
  return nRight;
}

/** Regression: left[0] = left weight, left[1] = left weighted target sum. */
function weighTargets(
  values: Float64Array,
  targets: Float64Array,
  weights: Float64Array,
  start: number,
  end: number,
  threshold: number,
  left: Float64Array,
): number {
  let weightLeft = 0;
  let sumLeft = 0;
  let nRight = 0;
  for (let i = start; i < end; i++) {
    const goesLeft = +(values[i] <= threshold);
    const w = weights[i] * goesLeft;
    weightLeft += w;
    sumLeft += w * targets[i];
    nRight += 1 - goesLeft;
  }
  left[0] = weightLeft;
  left[1] = sumLeft;
  return nRight;
}
