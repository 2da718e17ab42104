/** gbdt: binning, histogram subtraction and split search against naive versions, NaN handling, early stopping, save/load. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMatrix, fromRows, type Matrix } from '../../../src/data/matrix.js';
import { Float64Sorter, binEdgesFromSorted, binMatrix, binValue, fitBinMapper } from '../../../src/learners/gbdt/binning.js';
import { shouldStop } from '../../../src/learners/gbdt/boost.js';
import { HIST_STRIDE, SEPARATE_COUNT_ROWS, binCounts, globalBinIndices, histogramLayout, type HistogramLayout } from '../../../src/learners/gbdt/histogram.js';
import { instantiateKernel } from '../../../src/runtime/wasm.js';
import { wasmBase64 as gbdtWasm } from '../../../src/generated/wasm/gbdt.js';
import { GbdtKernel } from '../../../src/learners/gbdt/kernel.js';
import { gbdt, type GbdtModel, validationSplit } from '../../../src/learners/gbdt/index.js';
import { binaryLogLoss, sigmoid } from '../../../src/learners/gbdt/objective.js';
import { emptySplit, type SplitConstraints, type SplitInfo } from '../../../src/learners/gbdt/split.js';
import { Rng } from '../../../src/learners/rng.js';
import type { SerializedModel, TrainingData } from '../../../src/learners/types.js';
import * as reference from './gbdt-reference.js';

// The production kernels (wasm/gbdt.ts, run by GbdtKernel) behind the plain-array signatures of the JavaScript
// reference (gbdt-reference.ts), so the tests below can run either on the same inputs.

const allSlots = (layout: HistogramLayout): Int32Array => Int32Array.from(layout.features, (_, k) => k);

function buildHistogram(
  out: Float64Array,
  layout: HistogramLayout,
  binIndex: Uint16Array | Uint32Array,
  rows: Int32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
): void {
  const kernel = new GbdtKernel(layout, binIndex, new Uint8Array(0), null, binIndex.length / layout.features.length);
  kernel.loadTree(rows, rows.length, grad, hess, allSlots(layout), layout.features.length);
  const hist = kernel.acquireHistogram();
  kernel.writeHistogram(hist, out); // whatever a pooled buffer held before
  kernel.buildHistogram(hist, start, end);
  out.set(kernel.readHistogram(hist));
}

function buildRootHistogram(
  out: Float64Array,
  layout: HistogramLayout,
  binIndex: Uint16Array | Uint32Array,
  nRows: number,
  grad: Float64Array,
  hess: Float64Array,
  counts: Float64Array,
): void {
  const kernel = new GbdtKernel(layout, binIndex, new Uint8Array(0), counts, nRows);
  kernel.loadTree(Int32Array.from({ length: nRows }, (_, i) => i), nRows, grad, hess, allSlots(layout), layout.features.length);
  const hist = kernel.acquireHistogram();
  kernel.writeHistogram(hist, out);
  kernel.buildRootHistogram(hist);
  out.set(kernel.readHistogram(hist));
}

function findBestSplit(
  hist: Float64Array,
  layout: HistogramLayout,
  slots: Int32Array,
  nSlots: number,
  sumGrad: number,
  sumHess: number,
  count: number,
  constraints: SplitConstraints,
  best: SplitInfo,
  subtract: Float64Array | null = null,
): void {
  const kernel = new GbdtKernel(layout, new Uint16Array(layout.features.length), new Uint8Array(0), null, 1);
  kernel.loadTree(new Int32Array(1), 0, new Float64Array(1), new Float64Array(1), slots, nSlots);
  const at = kernel.acquireHistogram();
  kernel.writeHistogram(at, hist);
  let subtractAt = 0;
  if (subtract) {
    subtractAt = kernel.acquireHistogram();
    kernel.writeHistogram(subtractAt, subtract);
  }
  kernel.findBestSplit(at, nSlots, sumGrad, sumHess, count, constraints, best, subtractAt);
  hist.set(kernel.readHistogram(at));
}

const subtractHistogram = reference.subtractHistogram;

function classification(rows: number, classes: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const p = 4;
  const data = new Float64Array(rows * p);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % classes;
    y[i] = c;
    for (let j = 0; j < p; j++) data[i * p + j] = rng.normal() + (j === c % p ? 2 : 0);
  }
  return { X: createMatrix(rows, p, data), y, task: 'classification', nClasses: classes };
}

function accuracy(truth: Float64Array, predicted: Float64Array): number {
  let hits = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) hits++;
  return hits / truth.length;
}

describe('binning', () => {
  it('uses midpoints between distinct values when there are few', () => {
    expect(Array.from(binEdgesFromSorted(Float64Array.from([1, 1, 2, 4, 4, 4]), 255))).toEqual([1.5, 3, Infinity]);
  });

  it('uses at most maxBins quantile bins when there are many', () => {
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i);
    const edges = binEdgesFromSorted(sorted, 10);
    expect(edges.length).toBe(10);
    // numpy.percentile(range(1000), 10, method='midpoint') = (99 + 100) / 2.
    expect(edges[0]).toBe(99.5);
    expect(edges[9]).toBe(Infinity);
  });

  it('code(x) <= b exactly when x <= upper[b], and NaN gets its own bin', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 400 }), fc.integer({ min: 2, max: 255 }), (values, maxBins) => {
        const upper = binEdgesFromSorted(Float64Array.from(values).sort(), maxBins);
        for (let b = 1; b < upper.length; b++) expect(upper[b]).toBeGreaterThan(upper[b - 1]);
        for (const x of values) {
          const code = binValue(upper, x);
          for (let b = 0; b < upper.length; b++) expect(code <= b).toBe(x <= upper[b]);
        }
        expect(binValue(upper, NaN)).toBe(upper.length);
      }),
      { numRuns: 100 },
    );
  });

  it('the radix sorter orders doubles exactly as Float64Array.prototype.sort (−0 before +0, infinities, subnormals)', () => {
    const special = fc.constantFrom(0, -0, Infinity, -Infinity, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 1, -1);
    const value = fc.oneof(fc.double({ noNaN: true }), special, fc.integer({ min: -5, max: 5 }));
    const sorter = new Float64Sorter(4);
    fc.assert(
      fc.property(fc.array(value, { maxLength: 600 }), (values) => {
        const expected = Float64Array.from(values).sort();
        const sorted = Float64Array.from(values);
        sorter.sort(sorted);
        for (let i = 0; i < values.length; i++) expect(Object.is(sorted[i], expected[i])).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('binMatrix codes every value as binValue does (edges themselves, ±Infinity, NaN)', () => {
    const rng = new Rng(3);
    const rows = 500;
    const data = new Float64Array(rows * 3);
    for (let i = 0; i < rows; i++) {
      data[i * 3] = rng.normal();
      data[i * 3 + 1] = Math.floor(rng.next() * 6);
      data[i * 3 + 2] = rng.next() < 0.1 ? NaN : rng.next() < 0.05 ? -Infinity : rng.normal() * 1e6;
    }
    const X = createMatrix(rows, 3, data);
    for (const maxBins of [2, 7, 255]) {
      const mapper = fitBinMapper(X, maxBins, 0);
      // Probe the edges themselves and their neighbours too.
      const probes = [Infinity, -Infinity, NaN, ...mapper.upper.flatMap((u) => Array.from(u).flatMap((e) => [e, e - 1e-9, e + 1e-9]))];
      const probeX = createMatrix(probes.length, 3, Float64Array.from(probes.flatMap((v) => [v, v, v])));
      for (const M of [X, probeX]) {
        const { codes } = binMatrix(mapper, M);
        for (let f = 0; f < 3; f++) for (let i = 0; i < M.rows; i++) expect(codes[f * M.rows + i]).toBe(binValue(mapper.upper[f], M.data[i * 3 + f]));
      }
    }
  });

  it('records which features had missing values', () => {
    const mapper = fitBinMapper(fromRows([[1, NaN], [2, 3], [3, 4]]), 255, 0);
    expect(Array.from(mapper.hasMissing)).toEqual([0, 1]);
    expect(Array.from(mapper.nBins)).toEqual([3, 2]);
  });
});

describe('histograms and split search', () => {
  const rng = new Rng(11);
  const n = 200;
  const data = new Float64Array(n * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() < 0.1 ? NaN : Math.floor(rng.next() * 20);
  const X = createMatrix(n, 3, data);
  const mapper = fitBinMapper(X, 255, 0);
  const codes = new Uint8Array(n * 3);
  for (let f = 0; f < 3; f++) for (let i = 0; i < n; i++) codes[f * n + i] = binValue(mapper.upper[f], data[i * 3 + f]);
  const layout = histogramLayout(Int32Array.from([0, 1, 2]), mapper.nBins);
  const binIndex = globalBinIndices(layout, codes, n);
  const grad = Float64Array.from({ length: n }, () => rng.normal());
  const hess = Float64Array.from({ length: n }, () => 0.5 + rng.next());
  const rows = Int32Array.from({ length: n }, (_, i) => i);

  /** Naive histogram: loop over features, then rows. */
  function naive(from: number, to: number): Float64Array {
    const out = new Float64Array(layout.size);
    for (let k = 0; k < 3; k++) {
      for (let i = from; i < to; i++) {
        const b = (layout.offsets[k] + codes[k * n + rows[i]]) * HIST_STRIDE;
        out[b] += grad[rows[i]];
        out[b + 1] += hess[rows[i]];
        out[b + 2] += 1;
      }
    }
    return out;
  }

  it('builds the same histogram as a naive loop, and parent − child equals the sibling', () => {
    const parent = new Float64Array(layout.size);
    buildHistogram(parent, layout, binIndex, rows, 0, n, grad, hess);
    const expected = naive(0, n);
    for (let b = 0; b < layout.size; b++) expect(parent[b]).toBeCloseTo(expected[b], 10);
    const left = new Float64Array(layout.size);
    buildHistogram(left, layout, binIndex, rows, 0, 70, grad, hess);
    subtractHistogram(parent, left);
    const right = naive(70, n);
    for (let b = 0; b < layout.size; b++) expect(parent[b]).toBeCloseTo(right[b], 10);
  });

  it('uses the same SEPARATE_COUNT_ROWS as the WebAssembly kernel, so the boundary cases below test its real threshold', () => {
    const kernel = instantiateKernel<{ separateCountRows(): number }>('gbdt', gbdtWasm);
    expect(kernel.exports.separateCountRows()).toBe(SEPARATE_COUNT_ROWS);
  });

  it('builds bit for bit the naive histogram in the rows\' order, on both sides of SEPARATE_COUNT_ROWS', () => {
    // More rows than SEPARATE_COUNT_ROWS, visited in a scrambled order, so both kernels and the row-order sums run.
    const big = SEPARATE_COUNT_ROWS + 300;
    const bigRng = new Rng(5);
    const bigCodes = new Uint8Array(big * 3);
    for (let f = 0; f < 3; f++) for (let i = 0; i < big; i++) bigCodes[f * big + i] = bigRng.int(layout.nBins[f] + 1);
    const bigIndex = globalBinIndices(layout, bigCodes, big);
    const g = Float64Array.from({ length: big }, () => bigRng.normal());
    const h = Float64Array.from({ length: big }, () => bigRng.next());
    const order = bigRng.shuffle(Int32Array.from({ length: big }, (_, i) => i));
    for (const [from, to] of [
      [0, big],
      [100, 100 + SEPARATE_COUNT_ROWS],
      [100, 99 + SEPARATE_COUNT_ROWS],
      [7, 50],
    ]) {
      const expected = new Float64Array(layout.size);
      for (let k = 0; k < 3; k++) {
        for (let i = from; i < to; i++) {
          const b = (layout.offsets[k] + bigCodes[k * big + order[i]]) * HIST_STRIDE;
          expected[b] += g[order[i]];
          expected[b + 1] += h[order[i]];
          expected[b + 2] += 1;
        }
      }
      const built = new Float64Array(layout.size).fill(3); // a dirty pooled buffer
      buildHistogram(built, layout, bigIndex, order, from, to, g, h);
      expect(Array.from(built)).toEqual(Array.from(expected));
    }
  });

  it('the root fast path (counts copied from binCounts) builds exactly the histogram of all rows in order', () => {
    const general = new Float64Array(layout.size);
    buildHistogram(general, layout, binIndex, rows, 0, n, grad, hess);
    const root = new Float64Array(layout.size).fill(7); // a dirty pooled buffer
    buildRootHistogram(root, layout, binIndex, n, grad, hess, binCounts(layout, binIndex));
    expect(Array.from(root)).toEqual(Array.from(general));
  });

  it('subtraction leaves exact zeros in emptied bins, and the scan that subtracts as it goes matches subtract-then-scan', () => {
    // The child's rows in reverse order, so its sums round differently from the parent's.
    const m = 180;
    const childRows = Int32Array.from({ length: m }, (_, i) => m - 1 - i);
    const parent = new Float64Array(layout.size);
    buildHistogram(parent, layout, binIndex, rows, 0, n, grad, hess);
    const child = new Float64Array(layout.size);
    buildHistogram(child, layout, binIndex, childRows, 0, childRows.length, grad, hess);
    const sibling = Float64Array.from(parent);
    subtractHistogram(sibling, child);
    let residues = 0;
    for (let b = 0; b < layout.size; b += HIST_STRIDE) {
      if (sibling[b + 2] !== 0) continue;
      // A plain parent − child would leave a rounding residue here.
      if (parent[b] - child[b] !== 0 || parent[b + 1] - child[b + 1] !== 0) residues++;
      expect(Math.abs(sibling[b])).toBe(0);
      expect(Math.abs(sibling[b + 1])).toBe(0);
    }
    expect(residues).toBeGreaterThan(0);

    let G = 0;
    let H = 0;
    for (let i = m; i < n; i++) {
      G += grad[i];
      H += hess[i];
    }
    const constraints = { l2: 0, minSamplesLeaf: 3, minChildWeight: 1e-3 };
    const allSlots = Int32Array.from([0, 1, 2]);
    const separate = emptySplit();
    findBestSplit(sibling, layout, allSlots, 3, G, H, n - m, constraints, separate);
    const fusedBuffer = Float64Array.from(parent);
    const fused = emptySplit();
    findBestSplit(fusedBuffer, layout, allSlots, 3, G, H, n - m, constraints, fused, child);
    expect(fused).toEqual(separate);
    expect(Array.from(fusedBuffer)).toEqual(Array.from(sibling));
    // And the same split as scanning the sibling's directly built histogram.
    const direct = emptySplit();
    findBestSplit(naive(m, n), layout, allSlots, 3, G, H, n - m, constraints, direct);
    expect([fused.feature, fused.bin, fused.missingLeft, fused.countLeft]).toEqual([direct.feature, direct.bin, direct.missingLeft, direct.countLeft]);
    expect(fused.gain).toBeCloseTo(direct.gain, 9);
  });

  it('scans like the plain search that visits only non-empty bins (same split, bit for bit)', () => {
    /** The textbook scan: candidates only at non-empty bins, NaN right then NaN left. */
    function reference(hist: Float64Array, nb: number, G: number, H: number, count: number, minLeaf: number, l2: number): number[] {
      const score = (g: number, h: number) => (g * g) / (h + l2);
      const parentScore = score(G, H);
      let best = [0, -1, 0, 0];
      const missing = nb * HIST_STRIDE;
      for (const missingLeft of [false, true]) {
        if (missingLeft && hist[missing + 2] === 0) break;
        let gl = missingLeft ? hist[missing] : 0;
        let hl = missingLeft ? hist[missing + 1] : 0;
        let cl = missingLeft ? hist[missing + 2] : 0;
        const last = !missingLeft && hist[missing + 2] > 0 ? nb - 1 : nb - 2;
        for (let b = 0; b <= last; b++) {
          if (hist[b * HIST_STRIDE + 2] === 0) continue;
          gl += hist[b * HIST_STRIDE];
          hl += hist[b * HIST_STRIDE + 1];
          cl += hist[b * HIST_STRIDE + 2];
          if (cl < minLeaf || hl < 1e-3) continue;
          if (count - cl < minLeaf || H - hl < 1e-3) break;
          const gain = score(gl, hl) + (G - gl) ** 2 / (H - hl + l2) - parentScore;
          // With no NaN in the leaf, a NaN at predict time follows the larger child.
          const nanLeft = missingLeft || (hist[missing + 2] === 0 && cl > count - cl);
          if (gain > best[0]) best = [gain, b, nanLeft ? 1 : 0, cl];
        }
      }
      return best;
    }
    const rng = new Rng(21);
    const nb = 12;
    const oneSlot = histogramLayout(Int32Array.from([0]), Int32Array.from([nb]));
    for (let trial = 0; trial < 400; trial++) {
      // Few rows over many bins: empty bins everywhere, often the first ones, and often NaN rows.
      const hist = new Float64Array(oneSlot.size);
      const count = 10 + rng.int(30);
      let G = 0;
      let H = 0;
      for (let i = 0; i < count; i++) {
        const bin = rng.next() < 0.3 ? nb : 2 + rng.int(nb - 2);
        const g = rng.normal();
        const h = 0.1 + rng.next();
        hist[bin * HIST_STRIDE] += g;
        hist[bin * HIST_STRIDE + 1] += h;
        hist[bin * HIST_STRIDE + 2] += 1;
        G += g;
        H += h;
      }
      const minLeaf = 1 + rng.int(4);
      const l2 = trial % 2 === 0 ? 0 : 0.3;
      const found = emptySplit();
      findBestSplit(hist, oneSlot, Int32Array.from([0]), 1, G, H, count, { l2, minSamplesLeaf: minLeaf, minChildWeight: 1e-3 }, found);
      const [gain, bin, missingLeft, countLeft] = reference(hist, nb, G, H, count, minLeaf, l2);
      expect([found.gain, found.gain > 0 ? found.bin : 0, found.gain > 0 ? Number(found.missingLeft) : 0, found.gain > 0 ? found.countLeft : 0]).toEqual([
        gain,
        gain > 0 ? bin : 0,
        missingLeft,
        gain > 0 ? countLeft : 0,
      ]);
    }
  });

  it('finds the split a brute-force search over thresholds and NaN directions finds', () => {
    const hist = naive(0, n);
    const constraints = { l2: 0.5, minSamplesLeaf: 5, minChildWeight: 1e-3 };
    let G = 0;
    let H = 0;
    for (let i = 0; i < n; i++) {
      G += grad[i];
      H += hess[i];
    }
    const found = emptySplit();
    findBestSplit(hist, layout, Int32Array.from([0, 1, 2]), 3, G, H, n, constraints, found);

    const score = (g: number, h: number) => (g * g) / (h + constraints.l2);
    let bestGain = 0;
    for (let f = 0; f < 3; f++) {
      for (let b = 0; b < mapper.nBins[f]; b++) {
        for (const missingLeft of [false, true]) {
          let gl = 0;
          let hl = 0;
          let cl = 0;
          for (let i = 0; i < n; i++) {
            const code = codes[f * n + i];
            const left = code === mapper.nBins[f] ? missingLeft : code <= b;
            if (left) {
              gl += grad[i];
              hl += hess[i];
              cl++;
            }
          }
          if (cl < 5 || n - cl < 5) continue;
          const gain = score(gl, hl) + score(G - gl, H - hl) - score(G, H);
          bestGain = Math.max(bestGain, gain);
        }
      }
    }
    expect(found.gain).toBeCloseTo(bestGain, 9);
  });
});

describe('WebAssembly kernels against the JavaScript reference', () => {
  /** Random binned data: `slots` features of `nb` bins each plus a missing bin holding `missingRate` of the rows. */
  function scenario(seed: number, nRows: number, slots: number, nb: number, missingRate: number) {
    const rng = new Rng(seed);
    const layout = histogramLayout(Int32Array.from({ length: slots }, (_, k) => k), new Int32Array(slots).fill(nb));
    const codes = new Uint8Array(nRows * slots);
    for (let i = 0; i < codes.length; i++) codes[i] = rng.next() < missingRate ? nb : Math.min(nb - 1, Math.floor(nb * rng.next() ** 2)); // skewed: empty bins at the top
    const binIndex = globalBinIndices(layout, codes, nRows);
    const grad = Float64Array.from({ length: nRows }, () => rng.normal());
    const hess = Float64Array.from({ length: nRows }, () => rng.next() * 0.25);
    const rows = rng.shuffle(Int32Array.from({ length: nRows }, (_, i) => i));
    return { rng, layout, binIndex, grad, hess, rows };
  }

  it.each([
    ['u16 bin indices', 1, 3000, 7, 255, 0.05],
    ['u32 bin indices', 2, 300, 300, 255, 0.05],
    ['few bins, no missing values', 3, 2500, 5, 4, 0],
  ])('histograms, the root fast path and every split scan match bit for bit (%s)', (_name, seed, nRows, slots, nb, missingRate) => {
    const { rng, layout, binIndex, grad, hess, rows } = scenario(seed, nRows, slots, nb, missingRate);
    expect(binIndex instanceof Uint32Array).toBe(slots * (nb + 1) > 0xffff);
    const ranges = [
      [0, nRows],
      [10, 10 + Math.min(nRows - 10, SEPARATE_COUNT_ROWS)],
      [3, Math.min(nRows, 3 + SEPARATE_COUNT_ROWS - 1)],
      [5, 60],
    ];
    const built: Float64Array[] = [];
    for (const [from, to] of ranges) {
      const expected = new Float64Array(layout.size);
      reference.buildHistogram(expected, layout, binIndex, rows, from, to, grad, hess);
      const actual = new Float64Array(layout.size).fill(-1);
      buildHistogram(actual, layout, binIndex, rows, from, to, grad, hess);
      expect(Array.from(actual)).toEqual(Array.from(expected));
      built.push(actual);
    }
    const counts = binCounts(layout, binIndex);
    const expectedRoot = new Float64Array(layout.size);
    reference.buildRootHistogram(expectedRoot, layout, binIndex, nRows, grad, hess, counts);
    const root = new Float64Array(layout.size);
    buildRootHistogram(root, layout, binIndex, nRows, grad, hess, counts);
    expect(Array.from(root)).toEqual(Array.from(expectedRoot));

    // Parent = all rows in the shuffled order, child = a prefix: the scan of the child and the fused
    // subtract-and-scan of the sibling, under several constraints and a column subsample.
    const [parent, child] = [built[0], built[3]];
    const childRange = ranges[3];
    const sums = (from: number, to: number) => {
      let G = 0;
      let H = 0;
      for (let i = from; i < to; i++) {
        G += grad[rows[i]];
        H += hess[rows[i]];
      }
      return [G, H];
    };
    for (let trial = 0; trial < 6; trial++) {
      const constraints = { l2: trial % 2 === 0 ? 0 : rng.next(), minSamplesLeaf: 1 + rng.int(25), minChildWeight: trial < 3 ? 1e-3 : rng.next() * 2 };
      const slotOrder = rng.shuffle(Int32Array.from({ length: slots }, (_, k) => k));
      const nSlots = trial === 0 ? slots : 1 + rng.int(slots);
      for (const [hist, subtract, [from, to]] of [
        [child, null, childRange],
        [parent, child, [childRange[1], nRows]],
      ] as const) {
        const [G, H] = sums(from, to);
        const expectedBuffer = Float64Array.from(hist);
        const expected = emptySplit();
        reference.findBestSplit(expectedBuffer, layout, slotOrder, nSlots, G, H, to - from, constraints, expected, subtract);
        const actualBuffer = Float64Array.from(hist);
        const actual = emptySplit();
        findBestSplit(actualBuffer, layout, slotOrder, nSlots, G, H, to - from, constraints, actual, subtract);
        expect(actual).toEqual(expected);
        expect(Array.from(actualBuffer)).toEqual(Array.from(expectedBuffer));
      }
    }
  });

  it('the row partition sends code <= bin (and NaN as told) left, keeping every row once', () => {
    const nRows = 500;
    const rng = new Rng(8);
    const codes = Uint8Array.from({ length: 2 * nRows }, () => rng.int(11));
    const layout = histogramLayout(Int32Array.from([0, 1]), Int32Array.from([10, 10]));
    const kernel = new GbdtKernel(layout, globalBinIndices(layout, codes, nRows), codes, null, nRows);
    const rows = rng.shuffle(Int32Array.from({ length: nRows }, (_, i) => i));
    kernel.loadTree(rows, nRows, new Float64Array(nRows), new Float64Array(nRows), Int32Array.from([0, 1]), 2);
    for (const missingLeft of [false, true]) {
      const mid = kernel.partitionRows(50, 450, 1, 4, 10, missingLeft);
      const after = kernel.rowsView(nRows);
      const goesLeft = (r: number) => (codes[nRows + r] === 10 ? missingLeft : codes[nRows + r] <= 4);
      for (let i = 50; i < 450; i++) expect(goesLeft(after[i])).toBe(i < mid);
      expect(Array.from(after.slice(50, 450)).sort((a, b) => a - b)).toEqual(Array.from(rows.slice(50, 450)).sort((a, b) => a - b));
      expect(Array.from(after.slice(0, 50))).toEqual(Array.from(rows.slice(0, 50)));
    }
  });
});

describe('gbdt', () => {
  it('a one-split tree with learning_rate 1 predicts the two group means (squared error)', async () => {
    const X = fromRows([[1], [2], [3], [10], [11], [12]]);
    const y = Float64Array.from([1, 2, 3, 20, 21, 22]);
    const model = await gbdt.fit({ X, y, task: 'regression' }, { max_iter: 1, learning_rate: 1, max_leaf_nodes: 2, min_samples_leaf: 1 }, { seed: 0 });
    const predicted = Array.from(model.predict(fromRows([[0], [3], [10], [50]])));
    expect(predicted[0]).toBeCloseTo(2, 12);
    expect(predicted[1]).toBeCloseTo(2, 12);
    expect(predicted[2]).toBeCloseTo(21, 12);
    expect(predicted[3]).toBeCloseTo(21, 12);
  });

  it('uses a feature whose missingness carries the signal, and sends NaN the learnt way', async () => {
    const rng = new Rng(5);
    const n = 400;
    const data = new Float64Array(n * 2);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      data[i * 2] = rng.normal(); // noise
      data[i * 2 + 1] = y[i] === 1 ? NaN : rng.normal(); // missing exactly for class 1
    }
    const train: TrainingData = { X: createMatrix(n, 2, data), y, task: 'classification', nClasses: 2 };
    const model = (await gbdt.fit(train, { max_iter: 20 }, { seed: 0 })) as GbdtModel;
    expect(accuracy(y, model.predict(train.X))).toBe(1);
    expect(model.trees[0].feature[0]).toBe(1);
    const probe = fromRows([[0, NaN], [0, 0.3], [0, -2]]);
    expect(Array.from(model.predict(probe))).toEqual([1, 0, 0]);
    expect(gbdt.tags.handlesNaN).toBe(true);
  });

  it('is deterministic under a seed (with subsampling) and varies with it', async () => {
    const data = classification(300, 3, 1);
    const params = { max_iter: 15, subsample: 0.7, colsample: 0.5 };
    const a = await gbdt.fit(data, params, { seed: 4 });
    const b = await gbdt.fit(data, params, { seed: 4 });
    const c = await gbdt.fit(data, params, { seed: 5 });
    expect(JSON.stringify(a.toJSON())).toBe(JSON.stringify(b.toJSON()));
    expect(JSON.stringify(c.toJSON().state)).not.toBe(JSON.stringify(a.toJSON().state));
  });

  it.each([2, 3])('round-trips %i-class models through JSON with identical predictions; probabilities sum to 1', async (classes) => {
    const data = classification(240, classes, 2);
    const test = classification(90, classes, 3);
    test.X.data[0] = NaN;
    const model = await gbdt.fit(data, { max_iter: 30 }, { seed: 1 });
    const loaded = gbdt.load(JSON.parse(JSON.stringify(model.toJSON())) as SerializedModel);
    expect(loaded.predict(test.X)).toEqual(model.predict(test.X));
    const proba = model.predictProba?.(test.X) as Matrix;
    expect(loaded.predictProba?.(test.X).data).toEqual(proba.data);
    for (let r = 0; r < test.X.rows; r++) {
      let sum = 0;
      for (let k = 0; k < classes; k++) sum += proba.data[r * classes + k];
      expect(sum).toBeCloseTo(1, 12);
    }
    expect(accuracy(test.y, model.predict(test.X))).toBeGreaterThan(0.75);
  });

  it('round-trips regression and beats the mean', async () => {
    const rng = new Rng(9);
    const n = 300;
    const data = new Float64Array(n * 2);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      data[i * 2] = rng.next() * 6;
      data[i * 2 + 1] = rng.next();
      y[i] = Math.sin(data[i * 2]) + 0.05 * rng.normal();
    }
    const train: TrainingData = { X: createMatrix(n, 2, data), y, task: 'regression' };
    const model = await gbdt.fit(train, {}, { seed: 0 });
    const predicted = model.predict(train.X);
    let sse = 0;
    for (let i = 0; i < n; i++) sse += (predicted[i] - y[i]) ** 2;
    expect(sse / n).toBeLessThan(0.02);
    expect(gbdt.load(JSON.parse(JSON.stringify(model.toJSON())) as SerializedModel).predict(train.X)).toEqual(predicted);
  });

  it('stops early on a stalled validation loss, keeping the trees grown so far', async () => {
    const rng = new Rng(2);
    const noise = (rows: number): TrainingData => {
      const data = Float64Array.from({ length: rows * 3 }, () => rng.normal());
      const y = Float64Array.from({ length: rows }, () => rng.int(2));
      return { X: createMatrix(rows, 3, data), y, task: 'classification', nClasses: 2 };
    };
    const steps: number[] = [];
    const model = (await gbdt.fit(noise(300), { max_iter: 200 }, { seed: 0, validation: noise(100), onProgress: (p) => steps.push(p.step) })) as GbdtModel;
    expect(model.iterations).toBeLessThan(200);
    expect(model.iterations).toBeGreaterThanOrEqual(10);
    expect(model.validationLoss.length).toBe(model.iterations + 1);
    expect(steps[steps.length - 1]).toBe(model.iterations);
    // Without a validation set and with few rows, 'auto' leaves early stopping off.
    const full = (await gbdt.fit(noise(200), { max_iter: 25 }, { seed: 0 })) as GbdtModel;
    expect(full.iterations).toBe(25);
    expect(full.validationLoss.length).toBe(0);
  });

  it('binary log-loss gradients use exactly sigmoid(raw)', () => {
    const raw = Float64Array.from([0, -0, 1e-300, -3, 3, 40, -40, 800, -800, 0.25]);
    const y = Float64Array.from(raw, (_, i) => i % 2);
    const weight = Float64Array.from(raw, (_, i) => 0.5 + i);
    const grad = new Float64Array(raw.length);
    const hess = new Float64Array(raw.length);
    binaryLogLoss.gradients(y, raw, weight, grad, hess);
    for (let i = 0; i < raw.length; i++) {
      const p = sigmoid(raw[i]);
      expect(grad[i]).toBe(weight[i] * (p - y[i]));
      expect(hess[i]).toBe(weight[i] * p * (1 - p));
    }
  });

  it('unweighted binary log-loss gradients are the weighted ones with unit weights, bit for bit', () => {
    const raw = Float64Array.from([0, -0, 1e-300, -3, 3, 40, -40, 800, -800, 0.25, -1e-9]);
    const y = Float64Array.from(raw, (_, i) => (i * 7) % 2);
    const unweighted = [new Float64Array(raw.length), new Float64Array(raw.length)];
    const unit = [new Float64Array(raw.length), new Float64Array(raw.length)];
    binaryLogLoss.gradients(y, raw, undefined, unweighted[0], unweighted[1]);
    binaryLogLoss.gradients(y, raw, new Float64Array(raw.length).fill(1), unit[0], unit[1]);
    expect(Array.from(unweighted[0])).toEqual(Array.from(unit[0]));
    expect(Array.from(unweighted[1])).toEqual(Array.from(unit[1]));
  });

  it('follows scikit-learn’s stopping rule', () => {
    expect(shouldStop([-1, -0.9, -0.8], 2, 0)).toBe(false);
    expect(shouldStop([-1, -0.9, -0.9, -0.9], 2, 0)).toBe(true);
    expect(shouldStop([-1, -0.9, -0.9, -0.89], 2, 0)).toBe(false);
    expect(shouldStop([-1, -0.9, -0.9, -0.89], 2, 0.1)).toBe(true);
  });

  it('holds out a stratified validation split', () => {
    const data = classification(100, 2, 0);
    const split = validationSplit(data, 0.1, 3);
    expect(split.validation.length).toBe(10);
    expect(split.validation.filter((i) => data.y[i] === 1).length).toBe(5);
    expect(new Set([...split.train, ...split.validation]).size).toBe(100);
  });

  it('rejects bad input with one-line SpotmlErrors', async () => {
    const data = classification(60, 2, 0);
    await expect(gbdt.fit({ ...data, y: new Float64Array(60) }, {}, { seed: 0 })).rejects.toThrow(/only one class/);
    await expect(gbdt.fit({ X: createMatrix(0, 4), y: new Float64Array(0), task: 'regression' }, {}, { seed: 0 })).rejects.toThrow(/zero rows/);
    await expect(gbdt.fit(data, { max_bins: 256 }, { seed: 0 })).rejects.toThrow(/max_bins/);
    await expect(gbdt.fit(data, {}, { seed: 0, validation: { ...data, X: createMatrix(60, 3) } })).rejects.toThrow(/validation set/);
    const model = await gbdt.fit(data, { max_iter: 3 }, { seed: 0 });
    expect(() => model.predict(createMatrix(1, 5))).toThrow(/5 feature columns but the model was trained on 4/);
    expect(() => gbdt.load({ ...model.toJSON(), state: { baseline: [0], treesPerIteration: 3, trees: [] } })).toThrow(/malformed/);
  });
});
