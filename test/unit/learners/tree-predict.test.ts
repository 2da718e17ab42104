/**
 * Compiled tree prediction (src/learners/tree/predict.ts) against the plain per-tree walk it replaced, kept here
 * as the reference: outputs must be bit-identical (Object.is per value), for random trees whose thresholds and
 * inputs collide on purpose (ties, ±Infinity, -0, NaN), for every remainder of the four-row and four-tree
 * groupings, and for fitted random_forest / extra_trees / decision_tree / gbdt models before and after save/load.
 * Labels-only prediction, which may stop a row once its argmax is settled, must give the full sums’ argmax.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { decisionTree } from '../../../src/learners/decision-tree.js';
import { extraTrees, randomForest } from '../../../src/learners/forest.js';
import { gbdt, type GbdtModel } from '../../../src/learners/gbdt/index.js';
import { Rng } from '../../../src/learners/rng.js';
import { argmax, AveragedTreesModel } from '../../../src/learners/tree/ensemble.js';
import { accumulateTrees, argmaxStop, compileTrees } from '../../../src/learners/tree/predict.js';
import { TreeBuilder, deserializeTree, type Tree } from '../../../src/learners/tree/tree.js';
import type { FittedModel, LearnerFamily, SerializedModel, TrainingData } from '../../../src/learners/types.js';

// ---------------------------------------------------------------- the previous implementation (reference)

function referenceLeaf(tree: Tree, data: Float64Array, offset: number): number {
  let node = 0;
  let f = tree.feature[0];
  while (f >= 0) {
    const x = data[offset + f];
    if (x <= tree.threshold[node]) node = tree.left[node];
    else if (x !== x && tree.missingLeft[node] === 1) node = tree.left[node];
    else node = tree.right[node];
    f = tree.feature[node];
  }
  return node;
}

/** out[row · stride + offset[t] + k] += leaf value k, tree by tree then row by row, as the models used to. */
function referenceAccumulate(trees: readonly Tree[], offsets: readonly number[], X: Matrix, out: Float64Array, stride: number): void {
  trees.forEach((tree, t) => {
    const width = tree.nOutputs;
    for (let r = 0; r < X.rows; r++) {
      const leaf = referenceLeaf(tree, X.data, r * X.cols);
      for (let k = 0; k < width; k++) out[r * stride + offsets[t] + k] += tree.value[leaf * width + k];
    }
  });
}

function referenceForestProba(model: AveragedTreesModel, X: Matrix): Float64Array {
  const outputs = model.trees[0].nOutputs;
  const out = new Float64Array(X.rows * outputs);
  referenceAccumulate(model.trees, new Array<number>(model.trees.length).fill(0), X, out, outputs);
  const scale = 1 / model.trees.length;
  for (let i = 0; i < out.length; i++) out[i] *= scale;
  return out;
}

function referenceGbdtRaw(model: GbdtModel, X: Matrix): Float64Array {
  const K = model.treesPerIteration;
  const out = new Float64Array(X.rows * K);
  for (let r = 0; r < X.rows; r++) for (let k = 0; k < K; k++) out[r * K + k] = model.baseline[k];
  referenceAccumulate(
    model.trees,
    model.trees.map((_, t) => t % K),
    X,
    out,
    K,
  );
  return out;
}

/** Index of the first differing value (bitwise, so -0 ≠ 0 and NaN = NaN), or -1. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

// ---------------------------------------------------------------- random trees and inputs

/** Values shared by thresholds and inputs so that x === threshold happens often. */
const GRID = [-2, -1, -0.5, 0, 0.5, 1, 2];

function gridValue(rng: Rng): number {
  return GRID[rng.int(GRID.length)];
}

/** A random tree numbered depth-first or breadth-first (children always after their parent). */
function randomTree(rng: Rng, nFeatures: number, width: number, maxDepth: number): Tree {
  const builder = new TreeBuilder(width, 4);
  const makeSplit = (node: number, depth: number): [number, number] | null => {
    if (depth >= maxDepth || (depth > 0 && rng.next() < 0.3)) {
      for (let k = 0; k < width; k++) builder.value[node * width + k] = rng.normal();
      return null;
    }
    const pick = rng.next();
    const threshold = pick < 0.1 ? Infinity : pick < 0.15 ? -Infinity : gridValue(rng);
    const left = builder.addNode();
    const right = builder.addNode();
    builder.setSplit(node, rng.int(nFeatures), threshold, rng.next() < 0.5, left, right);
    return [left, right];
  };
  const root = builder.addNode();
  if (rng.next() < 0.5) {
    const grow = (node: number, depth: number): void => {
      const children = makeSplit(node, depth);
      if (children) children.forEach((child) => grow(child, depth + 1));
    };
    grow(root, 0);
  } else {
    const queue: [number, number][] = [[root, 0]];
    for (let i = 0; i < queue.length; i++) {
      const [node, depth] = queue[i];
      const children = makeSplit(node, depth);
      if (children) children.forEach((child) => queue.push([child, depth + 1]));
    }
  }
  return builder.finish();
}

function randomInput(rng: Rng, rows: number, cols: number, nanShare: number): Matrix {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    const pick = rng.next();
    if (pick < nanShare) data[i] = NaN;
    else if (pick < nanShare + 0.05) data[i] = rng.next() < 0.5 ? Infinity : -Infinity;
    else if (pick < nanShare + 0.1) data[i] = -0;
    else if (pick < nanShare + 0.6) data[i] = gridValue(rng);
    else data[i] = rng.normal() * 2;
  }
  return createMatrix(rows, cols, data);
}

describe('compiled trees against the per-tree walk', () => {
  it('sums every tree exactly as the reference, for any tree count, row count, width and NaN', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        (seed, treeCount, rows, width, withNaN) => {
          const rng = new Rng(seed);
          const cols = 1 + rng.int(5);
          // Depth 0 is a tree that is one leaf: the kernels must stop at a root that is already a leaf.
          const trees = Array.from({ length: treeCount }, () => randomTree(rng, cols, width, rng.int(8)));
          // Several outputs per row, trees writing to different ones (as gbdt's classes do).
          const stride = width + 2;
          const offsets = trees.map(() => rng.int(3));
          const X = randomInput(rng, rows, cols, withNaN ? 0.15 : 0);
          const start = Float64Array.from({ length: rows * stride }, () => rng.normal());
          const expected = start.slice();
          referenceAccumulate(trees, offsets, X, expected, stride);
          const actual = start.slice();
          accumulateTrees(compileTrees(trees, offsets), X.data, rows, cols, actual, stride, withNaN);
          expect(firstDifference(actual, expected)).toBe(-1);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('matches the reference across kernel blocks, partial groups, wide rows and models taking turns', () => {
    const rng = new Rng(21);
    // 600 rows: two full 256-row blocks and a last block ending in a partial group of eight; 45 rows of 4,000
    // features need more than the kernel's initial 1 MB of scratch, which empties its table region.
    for (const [rows, cols] of [
      [600, 5],
      [45, 4000],
    ]) {
      const trees = Array.from({ length: 37 }, () => randomTree(rng, cols, 3, 9));
      const offsets = trees.map(() => rng.int(2));
      const other = Array.from({ length: 5 }, () => randomTree(rng, cols, 1, 6));
      const compiled = compileTrees(trees, offsets);
      const otherCompiled = compileTrees(other, [0, 0, 0, 0, 0]);
      const X = randomInput(rng, rows, cols, 0);
      const expected = new Float64Array(rows * 4);
      referenceAccumulate(trees, offsets, X, expected, 4);
      // The other model reads the rows with NaN in every seventh: those take the missing-aware walk, the rest
      // are gathered into the kernel's blocks.
      const withNaN = createMatrix(rows, cols, X.data.map((v, i) => (Math.floor(i / cols) % 7 === 3 && i % 3 === 0 ? NaN : v)));
      const otherExpected = new Float64Array(rows);
      referenceAccumulate(other, [0, 0, 0, 0, 0], withNaN, otherExpected, 1);
      // Twice each, alternating, so a model's kernel table is reused and re-placed after the other's.
      for (let round = 0; round < 2; round++) {
        const actual = new Float64Array(rows * 4);
        accumulateTrees(compiled, X.data, rows, cols, actual, 4, false);
        expect(firstDifference(actual, expected)).toBe(-1);
        const otherActual = new Float64Array(rows);
        accumulateTrees(otherCompiled, withNaN.data, rows, cols, otherActual, 1, true);
        expect(firstDifference(otherActual, otherExpected)).toBe(-1);
      }
    }
  });

  it('gives each row the same sum alone as in a batch', () => {
    const rng = new Rng(11);
    const cols = 4;
    const trees = Array.from({ length: 7 }, () => randomTree(rng, cols, 2, 6));
    const compiled = compileTrees(trees, new Int32Array(7));
    const X = randomInput(rng, 23, cols, 0.1);
    const batch = new Float64Array(23 * 2);
    accumulateTrees(compiled, X.data, 23, cols, batch, 2, true);
    for (let r = 0; r < 23; r++) {
      const one = new Float64Array(2);
      accumulateTrees(compiled, X.data.slice(r * cols, (r + 1) * cols), 1, cols, one, 2, true);
      expect(firstDifference(one, batch.subarray(r * 2, r * 2 + 2))).toBe(-1);
    }
  });

  it('follows each split’s NaN direction, and x <= threshold (not x < threshold) goes left', () => {
    // Root: feature 0 <= 1 (NaN left); its right child: feature 1 <= 0 (NaN right).
    const builder = new TreeBuilder(1);
    const root = builder.addNode();
    const a = builder.addNode();
    const b = builder.addNode();
    builder.setSplit(root, 0, 1, true, a, b);
    const c = builder.addNode();
    const d = builder.addNode();
    builder.setSplit(b, 1, 0, false, c, d);
    builder.value[a] = 10;
    builder.value[c] = 20;
    builder.value[d] = 30;
    const compiled = compileTrees([builder.finish()], [0]);
    const rows = [
      [NaN, 5, 10],
      [1, 5, 10],
      [2, 0, 20],
      [2, -0, 20],
      [2, NaN, 30],
      [Infinity, Infinity, 30],
      [-Infinity, NaN, 10],
    ];
    for (const [x0, x1, want] of rows) {
      const out = new Float64Array(1);
      accumulateTrees(compiled, Float64Array.from([x0, x1]), 1, 2, out, 1, true);
      expect(out[0]).toBe(want);
    }
  });

  it('refuses a NaN threshold, and load refuses arrays that are not one tree', () => {
    const builder = new TreeBuilder(1);
    const root = builder.addNode();
    builder.setSplit(root, 0, NaN, false, builder.addNode(), builder.addNode());
    expect(() => compileTrees([builder.finish()], [0])).toThrow(/NaN threshold/);

    const shared = {
      feature: [0, 0, -1, -1],
      threshold: [0, 1, null, null],
      left: [1, 2, -1, -1],
      right: [2, 3, -1, -1],
      missingLeft: [0, 0, 0, 0],
      nOutputs: 1,
      value: [0, 0, 1, 2],
    };
    expect(() => deserializeTree(shared, 1, 'gbdt')).toThrow(/node 2 has 2 parents/);
    const orphan = { ...shared, left: [1, -1, -1, -1], right: [2, -1, -1, -1], feature: [0, -1, -1, -1] };
    expect(() => deserializeTree(orphan, 1, 'gbdt')).toThrow(/node 3 has 0 parents/);
  });

});

// ---------------------------------------------------------------- labels only: stopping once the argmax is settled

/** Labels from the full reference sums: argmax (first of equals, as the models break ties), or with one output its sign. */
function referenceLabels(trees: readonly Tree[], offsets: readonly number[], X: Matrix, start: Float64Array, stride: number): number[] {
  const out = start.slice();
  referenceAccumulate(trees, offsets, X, out, stride);
  return labelsOf(out, X.rows, stride);
}

function labelsOf(out: Float64Array, rows: number, stride: number): number[] {
  return Array.from({ length: rows }, (_, r) => (stride === 1 ? (out[r] > 0 ? 1 : 0) : argmax(out, r * stride, stride)));
}

/** A one-output tree whose leaves lean positive where feature 0 is above 0 and negative below (a binary score). */
function scoreTree(rng: Rng, depth: number, noise: number): Tree {
  const builder = new TreeBuilder(1, 4);
  const grow = (node: number, level: number, sign: number): void => {
    if (level === depth) {
      builder.value[node] = (rng.next() < noise ? -sign : sign) * (0.1 + rng.next());
      return;
    }
    const feature = level === 0 ? 0 : rng.int(3);
    const left = builder.addNode();
    const right = builder.addNode();
    builder.setSplit(node, feature, level === 0 ? 0 : gridValue(rng), false, left, right);
    grow(left, level + 1, level === 0 ? -1 : sign);
    grow(right, level + 1, level === 0 ? 1 : sign);
  };
  grow(builder.addNode(), 0, 1);
  return builder.finish();
}

/** A tree whose leaves vote (one-hot over `width`) mostly for the class the row's feature 0 points at. */
function votingTree(rng: Rng, width: number, depth: number, noise: number): Tree {
  const builder = new TreeBuilder(width, 4);
  const grow = (node: number, level: number, low: number, high: number): void => {
    if (level === depth) {
      const centre = (Math.max(low, -3) + Math.min(high, 3)) / 2;
      const vote = rng.next() < noise ? rng.int(width) : Math.min(width - 1, Math.max(0, Math.floor((centre + 3) / (6 / width))));
      builder.value[node * width + vote] = 1;
      return;
    }
    const threshold = level === 0 || rng.next() < 0.7 ? (Math.max(low, -3) + Math.min(high, 3)) / 2 + rng.normal() * 0.1 : gridValue(rng);
    const feature = level === 0 || rng.next() < 0.6 ? 0 : 1 + rng.int(2);
    const left = builder.addNode();
    const right = builder.addNode();
    builder.setSplit(node, feature, threshold, false, left, right);
    grow(left, level + 1, low, feature === 0 ? Math.min(high, threshold) : high);
    grow(right, level + 1, feature === 0 ? Math.max(low, threshold) : low, high);
  };
  grow(builder.addNode(), 0, -Infinity, Infinity);
  return builder.finish();
}

describe('labels only: rows stop once their argmax cannot change', () => {
  it('gives the full sums’ labels for every row, confident or not, in forest, per-class (gbdt) and binary layouts', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 0, max: 70 }),
        fc.constantFrom('forest', 'perClass', 'binary'),
        (seed, treeCount, rows, layout) => {
          const rng = new Rng(seed);
          // Forest: every tree votes over all classes at offset 0. Per-class (gbdt's): width-1 trees with real
          // values, tree t adding to class t mod classes, on a per-class baseline. Binary: one score whose sign
          // is the label, on a baseline.
          const classes = layout === 'binary' ? 1 : 2 + rng.int(3);
          const cols = 3;
          const noise = rng.next() * 0.6;
          const trees = Array.from({ length: treeCount }, () =>
            layout === 'forest' ? votingTree(rng, classes, 1 + rng.int(5), noise) : layout === 'binary' ? scoreTree(rng, 1 + rng.int(4), noise) : randomTree(rng, cols, 1, rng.int(6)),
          );
          const offsets = trees.map((_, t) => (layout === 'perClass' ? t % classes : 0));
          const X = randomInput(rng, rows, cols, 0);
          const start = new Float64Array(rows * classes);
          if (layout !== 'forest') for (let i = 0; i < start.length; i++) start[i] = i % classes === 0 ? rng.normal() : 0;
          const compiled = compileTrees(trees, offsets);
          const out = start.slice();
          const walked = accumulateTrees(compiled, X.data, rows, cols, out, classes, false, argmaxStop(compiled, classes));
          expect(walked).toBeLessThanOrEqual(rows * treeCount);
          expect(labelsOf(out, rows, classes)).toEqual(referenceLabels(trees, offsets, X, start, classes));
        },
      ),
      { numRuns: 450 },
    );
  });

  it('stops confident binary scores early, and keeps a score whose sign the remaining trees could flip', () => {
    const rng = new Rng(5);
    const trees = Array.from({ length: 160 }, () => scoreTree(rng, 3, 0.05));
    const compiled = compileTrees(trees, new Int32Array(160));
    const X = randomInput(rng, 200, 3, 0);
    const out = new Float64Array(200);
    const walked = accumulateTrees(compiled, X.data, 200, 3, out, 1, false, argmaxStop(compiled, 1));
    expect(walked).toBeLessThan(0.8 * 200 * 160);
    expect(labelsOf(out, 200, 1)).toEqual(referenceLabels(trees, new Array<number>(160).fill(0), X, new Float64Array(200), 1));
    // Single leaves of +1 then −1: the partial sum is positive for a while, but the total is exactly 0 (label 0).
    const leaf = (v: number): Tree => {
      const builder = new TreeBuilder(1, 4);
      builder.addNode();
      builder.value[0] = v;
      return builder.finish();
    };
    const flip = compileTrees([...Array.from({ length: 20 }, () => leaf(1)), ...Array.from({ length: 20 }, () => leaf(-1))], new Int32Array(40));
    const total = new Float64Array(1);
    expect(accumulateTrees(flip, new Float64Array(1), 1, 1, total, 1, false, argmaxStop(flip, 1))).toBe(40);
    expect(total[0]).toBe(0);
  });

  it('stops confident rows early, keeps exact ties and one-ulp leads running to the last tree', () => {
    const rng = new Rng(8);
    const trees = Array.from({ length: 200 }, () => votingTree(rng, 3, 4, 0.05));
    const compiled = compileTrees(trees, new Int32Array(200));
    const rows = 300;
    const X = randomInput(rng, rows, 3, 0);
    const out = new Float64Array(rows * 3);
    const walked = accumulateTrees(compiled, X.data, rows, 3, out, 3, false, argmaxStop(compiled, 3));
    // Mostly unanimous votes settle a little past half the trees.
    expect(walked).toBeLessThan(0.75 * rows * 200);
    expect(Array.from({ length: rows }, (_, r) => argmax(out, r * 3, 3))).toEqual(referenceLabels(trees, new Array<number>(200).fill(0), X, new Float64Array(rows * 3), 3));

    // Every tree is one leaf [a, b]. An exact tie never settles (the full sums tie and the first output wins); a
    // lead of one ulp per tree is far inside the rounding margin, so those rows also run every tree.
    for (const [a, b] of [
      [0.5, 0.5],
      [0.5, 0.5000000000000001],
    ]) {
      const builder = new TreeBuilder(2, 4);
      const root = builder.addNode();
      builder.value[0] = a;
      builder.value[1] = b;
      expect(root).toBe(0);
      const same = compileTrees(Array.from({ length: 40 }, () => builder.finish()), new Int32Array(40));
      const tied = new Float64Array(2 * 9);
      const n = accumulateTrees(same, new Float64Array(9), 9, 1, tied, 2, false, argmaxStop(same, 2));
      expect(n).toBe(9 * 40);
      for (let r = 0; r < 9; r++) expect(argmax(tied, 2 * r, 2)).toBe(a === b ? 0 : 1);
    }
  });

  it('does not settle a lead of a few ulps, which a forest’s scaled mean could round into a tie', () => {
    // Single-leaf trees over two classes. After the first 16 the sums are 15.75 and 15.75 + 2^-49 (one ulp):
    // class 1 leads, and the remaining four trees give it more for certain, so by the bounds alone the row
    // would settle there. But the mean scales both by 1/20, which rounds them to one value, and the argmax of
    // a tie is class 0. The row must run on: its full sums put class 1 ahead by 0.8.
    const leaf = (a: number, b: number): Tree => {
      const builder = new TreeBuilder(2, 4);
      builder.addNode();
      builder.value[0] = a;
      builder.value[1] = b;
      return builder.finish();
    };
    const trees = [leaf(0.75, 0.75 + 2 ** -49), ...Array.from({ length: 15 }, () => leaf(1, 1)), ...Array.from({ length: 4 }, () => leaf(0.4, 0.6))];
    const scale = 1 / 20;
    expect(15.75 * scale).toBe((15.75 + 2 ** -49) * scale);
    const forest = new AveragedTreesModel('random_forest', 'classification', 1, 2, {}, trees);
    const X = createMatrix(1, 1, Float64Array.of(0));
    expect(argmax(forest.predictProba(X).data, 0, 2)).toBe(1);
    expect(forest.predict(X)[0]).toBe(1);
  });

  it('refuses bounds built for another output width', () => {
    const rng = new Rng(3);
    const compiled = compileTrees([randomTree(rng, 2, 2, 3)], [0]);
    expect(() => accumulateTrees(compiled, new Float64Array(2), 1, 2, new Float64Array(3), 3, false, argmaxStop(compiled, 2))).toThrow(/2 outputs per row, not 3/);
  });
});

// ---------------------------------------------------------------- fitted models

function blobs(rows: number, cols: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const data = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % 3;
    y[i] = c;
    for (let j = 0; j < cols; j++) data[i * cols + j] = rng.normal() + (j % 3 === c ? 1.5 : 0);
  }
  return { X: createMatrix(rows, cols, data), y, task: 'classification', nClasses: 3 };
}

function reload(family: LearnerFamily, model: FittedModel): FittedModel {
  return family.load(JSON.parse(JSON.stringify(model.toJSON())) as SerializedModel);
}

describe('fitted models predict exactly as the per-tree walk', () => {
  const train = blobs(300, 6, 1);
  const test = blobs(37, 6, 2).X;

  for (const [family, params] of [
    [randomForest, { n_estimators: 13 }],
    [extraTrees, { n_estimators: 9 }],
    [decisionTree, {}],
  ] as const) {
    it(`${family.name}: predictProba and predict, fitted and reloaded, batch and one row at a time`, async () => {
      const fitted = (await family.fit(train, params, { seed: 3 })) as AveragedTreesModel;
      const expected = referenceForestProba(fitted, test);
      for (const model of [fitted, reload(family, fitted) as AveragedTreesModel]) {
        const proba = model.predictProba(test).data;
        expect(firstDifference(proba, expected)).toBe(-1);
        const labels = model.predict(test);
        // predict may stop a row early (labels only): its label is still the full mean's argmax.
        expect(Array.from(labels)).toEqual(Array.from({ length: test.rows }, (_, r) => argmax(expected, r * 3, 3)));
        for (let r = 0; r < test.rows; r++) {
          const one = createMatrix(1, test.cols, test.data.slice(r * test.cols, (r + 1) * test.cols));
          expect(firstDifference(model.predictProba(one).data, expected.subarray(r * 3, r * 3 + 3))).toBe(-1);
          expect(model.predict(one)[0]).toBe(labels[r]);
        }
      }
    });
  }

  it('random_forest regression means match the reference', async () => {
    const rng = new Rng(4);
    const X = createMatrix(200, 3, Float64Array.from({ length: 600 }, () => rng.normal()));
    const y = Float64Array.from({ length: 200 }, (_, i) => X.data[i * 3] * 2 + Math.sin(X.data[i * 3 + 1]));
    const model = (await randomForest.fit({ X, y, task: 'regression' }, { n_estimators: 11 }, { seed: 1 })) as AveragedTreesModel;
    const query = createMatrix(41, 3, Float64Array.from({ length: 123 }, () => rng.normal()));
    expect(firstDifference(model.predict(query), referenceForestProba(model, query))).toBe(-1);
  });

  for (const classes of [2, 3]) {
    it(`gbdt (${classes} classes): raw scores with and without NaN, fitted and reloaded`, async () => {
      const data = blobs(300, 6, 5);
      const y = data.y.map((c) => c % classes);
      const withNaN = data.X.data.slice();
      for (let i = 0; i < withNaN.length; i += 7) withNaN[i] = NaN;
      const fitted = (await gbdt.fit({ ...data, y, nClasses: classes, X: createMatrix(300, 6, withNaN) }, { max_iter: 15 }, { seed: 2 })) as GbdtModel;
      const queries = [test, createMatrix(test.rows, test.cols, test.data.map((v, i) => (i % 5 === 0 ? NaN : v)))];
      for (const model of [fitted, reload(gbdt, fitted) as GbdtModel]) {
        for (const X of queries) {
          const raw = referenceGbdtRaw(fitted, X);
          expect(firstDifference(model.rawScores(X), raw)).toBe(-1);
          const K = model.treesPerIteration;
          const labels = Array.from({ length: X.rows }, (_, r) => (K === 1 ? (raw[r] > 0 ? 1 : 0) : argmax(raw, r * K, K)));
          expect(Array.from(model.predict(X))).toEqual(labels);
          for (let r = 0; r < X.rows; r++) {
            const one = createMatrix(1, X.cols, X.data.slice(r * X.cols, (r + 1) * X.cols));
            expect(firstDifference(model.rawScores(one), model.rawScores(X).subarray(r * K, (r + 1) * K))).toBe(-1);
          }
        }
      }
    });
  }
});
