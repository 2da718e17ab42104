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
 * Feature sampling follows scikit-learn: draw features without replacement, known-constant features count as
 * visited, keep drawing past max_features only while every visited feature was constant; constants found in a
 * node are passed to its children.
 */
import type { Rng } from '../rng.js';
import { TreeBuilder, type Tree } from './tree.js';

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

/** Scratch buffers reused across the trees of one fit. */
export class CartWorkspace {
  readonly indices: Int32Array;
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
  /** Left and right class weights of a candidate split (random splitter). */
  readonly sides: Float64Array;
  readonly stride: number;

  constructor(input: CartInput, settings: CartSettings) {
    const outputs = settings.nClasses > 0 ? settings.nClasses : 2;
    this.stride = outputs + 1;
    let maxBins = 1;
    if (input.nBins) for (let f = 0; f < input.cols; f++) maxBins = Math.max(maxBins, input.nBins[f] + 1);
    this.indices = new Int32Array(input.rows);
    this.hist = new Float64Array(maxBins * this.stride);
    this.keys = new Int32Array(SORT_BELOW);
    this.candidates = Int32Array.from({ length: input.cols }, (_, f) => f);
    this.knownConstant = new Uint8Array(input.cols);
    this.totals = new Float64Array(this.stride);
    this.leftStats = new Float64Array(this.stride);
    this.values = new Float64Array(input.columns ? input.rows : 0);
    this.bestValues = new Float64Array(input.columns ? input.rows : 0);
    this.bestLeft = new Float64Array(this.stride);
    this.sampleLabels = new Int32Array(settings.nClasses > 0 ? input.rows : 0);
    this.sampleTargets = new Float64Array(settings.nClasses > 0 ? 0 : input.rows);
    this.sampleWeights = new Float64Array(input.rows);
    this.sides = new Float64Array(2 * Math.max(1, settings.nClasses));
  }
}

interface BestSplit {
  proxy: number;
  feature: number;
  /** 'best': left = codes <= bin (the last non-empty bin on the left; nextBin the first on the right). */
  bin: number;
  nextBin: number;
  threshold: number;
}

/**
 * Grows one tree on the rows with weight > 0 (weights fold in bootstrap counts and sample weights).
 * Leaves hold normalised class frequencies (classification) or the weighted mean (regression).
 */
export function growCartTree(input: CartInput, settings: CartSettings, weights: Float64Array, rng: Rng, ws: CartWorkspace): Tree {
  const { y } = input;
  const K = settings.nClasses;
  const classification = K > 0;
  const builder = new TreeBuilder(classification ? K : 1, 256);
  const idx = ws.indices;
  const sampleLabels = ws.sampleLabels;
  const sampleTargets = ws.sampleTargets;
  const sampleWeights = ws.sampleWeights;
  let nRows = 0;
  for (let i = 0; i < input.rows; i++) {
    if (weights[i] > 0) {
      idx[nRows] = i;
      sampleWeights[nRows] = weights[i];
      if (classification) sampleLabels[nRows] = (input.labels as Int32Array)[i];
      else sampleTargets[nRows] = y[i];
      nRows++;
    }
  }

  // Depth-first: left child popped first, node ids in pre-order like scikit-learn.
  const stackStart: number[] = [0];
  const stackEnd: number[] = [nRows];
  const stackDepth: number[] = [0];
  const stackParent: number[] = [-1];
  const stackIsLeft: number[] = [0];
  const stackConstants: Int32Array[] = [new Int32Array(0)];
  const best: BestSplit = { proxy: -Infinity, feature: -1, bin: 0, nextBin: 0, threshold: 0 };
  const foundConstants = new Int32Array(input.cols);
  const totals = ws.totals;
  // Classification: each stack entry's class totals (K values at position × K), so nodes need no counting pass.
  let stackTotals = new Float64Array(Math.max(1, K) * 64);
  if (classification) for (let i = 0; i < nRows; i++) stackTotals[sampleLabels[i]] += sampleWeights[i];

  while (stackStart.length > 0) {
    const start = stackStart.pop() as number;
    const end = stackEnd.pop() as number;
    const depth = stackDepth.pop() as number;
    const parent = stackParent.pop() as number;
    const isLeft = stackIsLeft.pop() as number;
    const constants = stackConstants.pop() as Int32Array;
    const position = stackStart.length;
    const nNode = end - start;
    const node = builder.addNode();
    if (parent >= 0) {
      if (isLeft) builder.left[parent] = node;
      else builder.right[parent] = node;
    }

    // Node totals, impurity and value.
    let impurity: number;
    let weightTotal = 0;
    let pure = false;
    if (classification) {
      let present = 0;
      for (let c = 0; c < K; c++) {
        const w = stackTotals[position * K + c];
        totals[c] = w;
        weightTotal += w;
      }
      // Totals of children are parent − left, so an absent class may show as rounding dust.
      for (let c = 0; c < K; c++) if (totals[c] > 1e-12 * weightTotal) present++;
      pure = present <= 1;
      impurity = nodeImpurity(settings.criterion, totals, K, weightTotal);
      const value = builder.value;
      for (let c = 0; c < K; c++) value[node * K + c] = totals[c] / weightTotal;
    } else {
      let sumWY = 0;
      let sumWY2 = 0;
      for (let i = start; i < end; i++) {
        const w = sampleWeights[i];
        const v = sampleTargets[i];
        weightTotal += w;
        sumWY += w * v;
        sumWY2 += w * v * v;
      }
      totals[0] = weightTotal;
      totals[1] = sumWY;
      const mean = sumWY / weightTotal;
      impurity = sumWY2 / weightTotal - mean * mean;
      builder.value[node] = mean;
    }

    const isLeaf =
      depth >= settings.maxDepth ||
      nNode < settings.minSamplesSplit ||
      nNode < 2 * settings.minSamplesLeaf ||
      impurity <= IMPURITY_EPSILON ||
      pure;
    if (isLeaf) continue;

    best.proxy = -Infinity;
    best.feature = -1;
    const nFound = searchSplit(input, settings, rng, ws, start, end, weightTotal, constants, best, foundConstants);
    if (best.feature < 0) continue;

    // Partition idx[start, end) (and the row-ordered label/target/weight) so the left child's rows come first.
    let i = start;
    let j = end - 1;
    if (settings.splitter === 'best') {
      const codes = input.codes as Uint8Array;
      const offset = best.feature * input.rows;
      const bin = best.bin;
      while (i <= j) {
        if (codes[offset + idx[i]] <= bin) i++;
        else swapSamples(ws, i, j--, classification);
      }
    } else {
      const values = ws.bestValues;
      const t = best.threshold;
      while (i <= j) {
        if (values[i] <= t) i++;
        else {
          values[i] = values[j];
          swapSamples(ws, i, j--, classification);
        }
      }
    }
    const mid = i;
    const f = best.feature;
    // scikit-learn's threshold: midway between the largest value on the left and the smallest on the right.
    const threshold =
      settings.splitter === 'best'
        ? midpoint((input.binHigh as readonly Float64Array[])[f][best.bin], (input.binLow as readonly Float64Array[])[f][best.nextBin])
        : best.threshold;
    // No NaN reaches these trees (the families reject it); send it to the larger child if it ever does.
    builder.setSplit(node, f, threshold, mid - start >= end - mid, -1, -1);

    let childConstants = constants;
    if (nFound > 0) {
      childConstants = new Int32Array(constants.length + nFound);
      childConstants.set(constants);
      childConstants.set(foundConstants.subarray(0, nFound), constants.length);
    }
    // Right pushed first so the left child is processed (and numbered) first.
    if (classification) {
      if ((position + 2) * K > stackTotals.length) {
        const grown = new Float64Array(stackTotals.length * 2);
        grown.set(stackTotals);
        stackTotals = grown;
      }
      const bestLeft = ws.bestLeft;
      for (let c = 0; c < K; c++) {
        stackTotals[position * K + c] = totals[c] - bestLeft[c];
        stackTotals[(position + 1) * K + c] = bestLeft[c];
      }
    }
    stackStart.push(mid, start);
    stackEnd.push(end, mid);
    stackDepth.push(depth + 1, depth + 1);
    stackParent.push(node, node);
    stackIsLeft.push(0, 1);
    stackConstants.push(childConstants, childConstants);
  }
  return builder.finish();
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
  constants: Int32Array,
  best: BestSplit,
  foundConstants: Int32Array,
): number {
  const p = input.cols;
  const candidates = ws.candidates;
  const known = ws.knownConstant;
  for (let k = 0; k < constants.length; k++) known[constants[k]] = 1;
  // `candidates` stays a permutation of all features between nodes; drawing from any permutation is uniform.
  let remaining = p;
  let nonConstantRemaining = p - constants.length;
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
        ? evaluateBest(input, settings, ws, f, start, end, weightTotal, best)
        : evaluateRandom(input, settings, rng, ws, f, start, end, weightTotal, best);
    if (constant) {
      constantsSeen++;
      foundConstants[nFound++] = f;
    }
  }
  for (let k = 0; k < constants.length; k++) known[constants[k]] = 0;
  return nFound;
}

/** Improvement proxy of a candidate split (larger is better), from left stats and node totals. */
function splitProxy(criterion: Criterion, left: Float64Array, totals: Float64Array, K: number, weightLeft: number, weightTotal: number): number {
  const weightRight = weightTotal - weightLeft;
  if (criterion === 'gini') {
    let sl = 0;
    let sr = 0;
    for (let c = 0; c < K; c++) {
      const l = left[c];
      const r = totals[c] - l;
      sl += l * l;
      sr += r * r;
    }
    return sl / weightLeft + sr / weightRight;
  }
  if (criterion === 'entropy') {
    let h = 0;
    for (let c = 0; c < K; c++) {
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
  best: BestSplit,
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
        const proxy = splitProxy(criterion, left, totals, K, weightLeft, weightTotal);
        if (proxy > best.proxy) {
          best.proxy = proxy;
          best.feature = f;
          best.bin = previousCode;
          best.nextBin = code;
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
  if (classification) {
    for (let i = start; i < end; i++) {
      const h = codes[offset + idx[i]] * S;
      hist[h + sampleLabels[i]] += sampleWeights[i];
      hist[h + countSlot] += 1;
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
  for (let b = 0; b < nb; b++) {
    const h = b * S;
    const count = hist[h + countSlot];
    if (count === 0) continue;
    nonEmpty++;
    if (previous >= 0 && nLeft >= msl) {
      if (nNode - nLeft < msl) break;
      const proxy = splitProxy(criterion, left, totals, K, weightLeft, weightTotal);
      if (proxy > best.proxy) {
        best.proxy = proxy;
        best.feature = f;
        best.bin = previous;
        best.nextBin = b;
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
  best: BestSplit,
): boolean {
  const columns = input.columns as Float64Array;
  const offset = f * input.rows;
  const idx = ws.indices;
  const values = ws.values;
  let min = Infinity;
  let max = -Infinity;
  for (let i = start; i < end; i++) {
    const x = columns[offset + idx[i]];
    values[i] = x;
    min = x < min ? x : min;
    max = x > max ? x : max;
  }
  if (max <= min + FEATURE_THRESHOLD) return true;
  let threshold = min + rng.next() * (max - min);
  if (threshold === max) threshold = min;

  const K = settings.nClasses;
  const left = ws.leftStats;
  const sampleWeights = ws.sampleWeights;
  for (let c = 0; c < left.length; c++) left[c] = 0;
  // Branch-free accumulation: which side a row goes to is random, so a branch would mispredict half the time.
  let nRight = 0;
  if (K === 2) {
    const sampleLabels = ws.sampleLabels;
    let weightLeft = 0;
    let weightLeftOne = 0;
    for (let i = start; i < end; i++) {
      const goesLeft = +(values[i] <= threshold);
      const w = sampleWeights[i] * goesLeft;
      weightLeft += w;
      weightLeftOne += w * sampleLabels[i];
      nRight += 1 - goesLeft;
    }
    left[0] = weightLeft - weightLeftOne;
    left[1] = weightLeftOne;
  } else if (K > 2) {
    // Left in slots [0, K), right in [K, 2K).
    const sampleLabels = ws.sampleLabels;
    const sides = ws.sides;
    for (let c = 0; c < 2 * K; c++) sides[c] = 0;
    for (let i = start; i < end; i++) {
      const right = +(values[i] > threshold);
      sides[right * K + sampleLabels[i]] += sampleWeights[i];
      nRight += right;
    }
    for (let c = 0; c < K; c++) left[c] = sides[c];
  } else {
    const sampleTargets = ws.sampleTargets;
    let weightLeft = 0;
    let sumLeft = 0;
    for (let i = start; i < end; i++) {
      const goesLeft = +(values[i] <= threshold);
      const w = sampleWeights[i] * goesLeft;
      weightLeft += w;
      sumLeft += w * sampleTargets[i];
      nRight += 1 - goesLeft;
    }
    left[0] = weightLeft;
    left[1] = sumLeft;
  }
  const nLeft = end - start - nRight;
  const msl = settings.minSamplesLeaf;
  if (nLeft < msl || nRight < msl) return false;
  let weightLeft = 0;
  if (K > 0) for (let c = 0; c < K; c++) weightLeft += left[c];
  else weightLeft = left[0];
  const proxy = splitProxy(settings.criterion, left, ws.totals, K, weightLeft, weightTotal);
  if (proxy > best.proxy) {
    best.proxy = proxy;
    best.feature = f;
    best.threshold = threshold;
    for (let c = 0; c < K; c++) ws.bestLeft[c] = left[c];
    // Keep this feature's gathered values for the partition; the next candidate gathers into the other buffer.
    ws.values = ws.bestValues;
    ws.bestValues = values;
  }
  return false;
}
