/**
 * One tree representation for every tree family: flat typed arrays of plain threshold splits on raw feature
 * values (x <= threshold goes left, NaN goes where missingLeft says), with `nOutputs` values per node
 * (class frequencies, a regression mean or a boosting leaf score). This maps 1:1 onto ONNX TreeEnsemble*.
 * Fitted models predict through a compiled copy of their trees (./predict.ts); `leafIndex` is the plain walk
 * that training uses.
 */
import { SpotmlError } from '../../errors.js';

export interface Tree {
  readonly nodeCount: number;
  readonly nOutputs: number;
  /** Split feature, or -1 for a leaf. */
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** 1 when NaN goes to the left child. */
  readonly missingLeft: Uint8Array;
  /** nodeCount × nOutputs, meaningful at leaves. */
  readonly value: Float64Array;
}

/** Grows node arrays by doubling; `finish` trims them into a Tree. */
export class TreeBuilder {
  private capacity: number;
  nodeCount = 0;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  missingLeft: Uint8Array;
  value: Float64Array;

  constructor(readonly nOutputs: number, initialCapacity = 64) {
    this.capacity = initialCapacity;
    this.feature = new Int32Array(initialCapacity);
    this.threshold = new Float64Array(initialCapacity);
    this.left = new Int32Array(initialCapacity);
    this.right = new Int32Array(initialCapacity);
    this.missingLeft = new Uint8Array(initialCapacity);
    this.value = new Float64Array(initialCapacity * nOutputs);
  }

  /** Adds a leaf and returns its id. */
  addNode(): number {
    if (this.nodeCount === this.capacity) this.grow();
    const id = this.nodeCount++;
    this.feature[id] = -1;
    this.left[id] = -1;
    this.right[id] = -1;
    return id;
  }

  setSplit(node: number, feature: number, threshold: number, missingLeft: boolean, left: number, right: number): void {
    this.feature[node] = feature;
    this.threshold[node] = threshold;
    this.missingLeft[node] = missingLeft ? 1 : 0;
    this.left[node] = left;
    this.right[node] = right;
  }

  finish(): Tree {
    const n = this.nodeCount;
    return {
      nodeCount: n,
      nOutputs: this.nOutputs,
      feature: this.feature.slice(0, n),
      threshold: this.threshold.slice(0, n),
      left: this.left.slice(0, n),
      right: this.right.slice(0, n),
      missingLeft: this.missingLeft.slice(0, n),
      value: this.value.slice(0, n * this.nOutputs),
    };
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const widen = <T extends Int32Array | Float64Array | Uint8Array>(old: T, make: (size: number) => T, size: number): T => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.feature = widen(this.feature, (s) => new Int32Array(s), capacity);
    this.threshold = widen(this.threshold, (s) => new Float64Array(s), capacity);
    this.left = widen(this.left, (s) => new Int32Array(s), capacity);
    this.right = widen(this.right, (s) => new Int32Array(s), capacity);
    this.missingLeft = widen(this.missingLeft, (s) => new Uint8Array(s), capacity);
    this.value = widen(this.value, (s) => new Float64Array(s), capacity * this.nOutputs);
    this.capacity = capacity;
  }
}

/** Leaf reached by the row starting at data[offset] (row-major features). */
export function leafIndex(tree: Tree, data: Float64Array, offset: number): number {
  const { feature, threshold, left, right, missingLeft } = tree;
  let node = 0;
  let f = feature[0];
  while (f >= 0) {
    const x = data[offset + f];
    if (x <= threshold[node]) node = left[node];
    else if (x !== x && missingLeft[node] === 1) node = left[node];
    else node = right[node];
    f = feature[node];
  }
  return node;
}

/** The compact JSON form: parallel arrays of numbers (+Infinity thresholds written as null). */
export interface SerializedTree {
  readonly feature: number[];
  readonly threshold: (number | null)[];
  readonly left: number[];
  readonly right: number[];
  readonly missingLeft: number[];
  readonly nOutputs: number;
  readonly value: number[];
}

export function serializeTree(tree: Tree): SerializedTree {
  return {
    feature: Array.from(tree.feature),
    threshold: Array.from(tree.threshold, (t) => (Number.isFinite(t) ? t : null)),
    left: Array.from(tree.left),
    right: Array.from(tree.right),
    missingLeft: Array.from(tree.missingLeft),
    nOutputs: tree.nOutputs,
    value: Array.from(tree.value),
  };
}

export function deserializeTree(json: unknown, nFeatures: number, family: string): Tree {
  const fail = (why: string): never => {
    throw new SpotmlError('INVALID_INPUT', `${family}: the saved model is malformed (${why}); re-train or re-export it`, { family });
  };
  if (typeof json !== 'object' || json === null) fail('a tree is not an object');
  const t = json as Record<string, unknown>;
  const numbers = (key: string): number[] => {
    const v = t[key];
    if (!Array.isArray(v)) return fail(`tree field ${key} is not an array`);
    return v as number[];
  };
  const feature = Int32Array.from(numbers('feature'));
  const n = feature.length;
  const thresholdRaw = numbers('threshold') as (number | null)[];
  const left = Int32Array.from(numbers('left'));
  const right = Int32Array.from(numbers('right'));
  const missingLeft = Uint8Array.from(numbers('missingLeft'));
  const nOutputs = t.nOutputs;
  if (typeof nOutputs !== 'number' || !Number.isInteger(nOutputs) || nOutputs < 1) fail('nOutputs is not a positive integer');
  const value = Float64Array.from(numbers('value'));
  if (n === 0 || thresholdRaw.length !== n || left.length !== n || right.length !== n || missingLeft.length !== n) {
    fail('tree arrays differ in length');
  }
  if (value.length !== n * (nOutputs as number)) fail('tree values do not match the node count');
  const threshold = Float64Array.from(thresholdRaw, (x) => (x === null ? Infinity : x));
  // Every node but the root has exactly one parent, so the arrays form one tree (prediction lays it out as one).
  const parents = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (feature[i] >= nFeatures) fail(`node ${i} splits on feature ${feature[i]} of ${nFeatures}`);
    if (feature[i] >= 0 && (left[i] <= i || right[i] <= i || left[i] >= n || right[i] >= n)) fail(`node ${i} has bad children`);
    if (feature[i] >= 0) {
      if (Number.isNaN(threshold[i])) fail(`node ${i} has no numeric threshold`);
      parents[left[i]]++;
      parents[right[i]]++;
    }
  }
  for (let i = 1; i < n; i++) if (parents[i] !== 1) fail(`node ${i} has ${parents[i]} parents`);
  return { nodeCount: n, nOutputs: nOutputs as number, feature, threshold, left, right, missingLeft, value };
}
