/**
 * Fast prediction for tree ensembles. A model's trees are compiled once (after fit or load) into one flat node
 * table, and leaf values are summed into a caller-owned output by a WebAssembly kernel (wasm/trees.ts):
 *
 *   - batches: tree by tree over a block of rows, eight rows walking the tree at once. Each step is branch-free
 *     (the comparison result picks the child by address arithmetic), so the eight independent walks overlap
 *     instead of every level waiting on a mispredicted branch; the tree stays in L1 while the block's rows pass,
 *     and the block's rows (at most BLOCK_ROWS) stay in L1 while the trees pass.
 *   - fewer than eight rows (and a block's last few): one row, four trees at once.
 *   - rows holding NaN: `accumulateRowWithMissing`, the plain walk in JS honouring each split's NaN direction.
 *
 * The JS table (`node`, `threshold`, …) is what the kernel's table is built from and what the NaN walk reads.
 * Layout: slot s holds `node[2s]` = split feature and `node[2s + 1]` = the left child's slot, the right child
 * being the next slot (each tree is laid out breadth-first, children in adjacent pairs).
 *
 * For every row the values are added tree by tree in the original order, so sums are bit-identical to a plain
 * per-tree loop. The kernel tests `x > threshold` (go right) in float64 where the trees say `x <= threshold`
 * (go left); the two agree for every non-NaN x because thresholds are never NaN (fit makes midpoints or bin
 * edges, load maps null to +Infinity; compileTrees rejects NaN). Rows holding NaN take the missing-aware walk.
 *
 * Kernel memory (one module instance per thread): [scratch for one block of rows and their outputs][model tables].
 * Model tables are bump-allocated the first time a model predicts and stay resident; when they would pass
 * TABLE_BUDGET_BYTES the region is emptied (every model re-copies its table on its next call), so a process that
 * loads many models keeps bounded memory while a server's one model is copied once.
 */
import { wasmBase64 } from '../../generated/wasm/trees.js';
import { instantiateKernel, type WasmKernelModule } from '../../runtime/wasm.js';
import type { Tree } from './tree.js';

export interface CompiledTrees {
  readonly treeCount: number;
  /** Values each leaf adds (the trees' nOutputs). */
  readonly leafWidth: number;
  /** Slot of each tree's root. */
  readonly root: Int32Array;
  /** Where in a row's output block tree t adds its leaf values. */
  readonly outputOffset: Int32Array;
  /** Per slot: split feature, then the left child's slot (the right child is the slot after it). */
  readonly node: Int32Array;
  readonly threshold: Float64Array;
  /** 1 when NaN goes left at this split. */
  readonly missingLeft: Uint8Array;
  /** Per slot: start of the leaf's values in leafValues (-1 for a split). */
  readonly leafOffset: Int32Array;
  readonly leafValues: Float64Array;
  /** Where the kernel's copy of this table lives (byte addresses), valid while `epoch` is the kernel's. */
  readonly resident: { epoch: number; roots: number; outputs: number };
}

/**
 * Flattens `trees` (all with the same nOutputs; children numbered after their parent, as fit and load
 * guarantee); tree t's leaf values go to output slot outputOffset[t] of each row.
 */
export function compileTrees(trees: readonly Tree[], outputOffset: ArrayLike<number>): CompiledTrees {
  const width = trees.length > 0 ? trees[0].nOutputs : 1;
  let slots = 0;
  let leaves = 0;
  for (const tree of trees) {
    slots += tree.nodeCount;
    for (let i = 0; i < tree.nodeCount; i++) if (tree.feature[i] < 0) leaves++;
  }
  const node = new Int32Array(2 * slots);
  const threshold = new Float64Array(slots);
  const missingLeft = new Uint8Array(slots);
  const leafOffset = new Int32Array(slots).fill(-1);
  const leafValues = new Float64Array(leaves * width);
  const root = new Int32Array(trees.length);
  let nextSlot = 0;
  let nextLeaf = 0;
  trees.forEach((tree, t) => {
    // Breadth-first: queue[i] is the tree node placed in slot base + i.
    const base = nextSlot;
    const queue = new Int32Array(tree.nodeCount);
    let placed = 1;
    root[t] = base;
    for (let i = 0; i < placed; i++) {
      const id = queue[i];
      const slot = base + i;
      if (tree.feature[id] >= 0) {
        if (Number.isNaN(tree.threshold[id])) throw new Error(`tree ${t} node ${id} has a NaN threshold`);
        if (placed + 2 > tree.nodeCount) throw new Error(`tree ${t} is not a tree (a node is reached twice)`);
        node[2 * slot] = tree.feature[id];
        node[2 * slot + 1] = base + placed;
        threshold[slot] = tree.threshold[id];
        missingLeft[slot] = tree.missingLeft[id];
        queue[placed++] = tree.left[id];
        queue[placed++] = tree.right[id];
      } else {
        node[2 * slot] = 0;
        node[2 * slot + 1] = slot;
        threshold[slot] = Infinity;
        leafOffset[slot] = nextLeaf * width;
        leafValues.set(tree.value.subarray(id * width, (id + 1) * width), nextLeaf * width);
        nextLeaf++;
      }
    }
    nextSlot += placed;
  });
  return {
    treeCount: trees.length,
    leafWidth: width,
    root,
    outputOffset: Int32Array.from(outputOffset),
    node,
    threshold,
    missingLeft,
    leafOffset,
    leafValues,
    resident: { epoch: -1, roots: 0, outputs: 0 },
  };
}

interface TreesKernel {
  predictGroups(roots: number, outputs: number, treeCount: number, width: number, data: number, groupBytes: number, groups: number, out: number, outBytes: number): void;
  predictOneRow(roots: number, outputs: number, treeCount: number, width: number, row: number, out: number): void;
}

/** Trees between two checks for rows whose argmax is settled (ArgmaxStop). */
const STOP_CHUNK = 16;

/**
 * What the labels-only path needs to stop a row early: for each chunk boundary b (after trees [0, b · STOP_CHUNK)),
 * the most and least the remaining trees can still add to each output. Built once per model by `argmaxStop`.
 */
export interface ArgmaxStop {
  /**
   * Outputs per row (the accumulate call's outStride): the label is the argmax over all of them, or with one
   * output its sign (1 when > 0, a binary classifier's raw score).
   */
  readonly width: number;
  /** [boundary · width + output]: sum over the remaining trees of their largest leaf value for that output. */
  readonly restMax: Float64Array;
  /** Same with the smallest leaf value. */
  readonly restMin: Float64Array;
  /** Sum over trees of the largest |leaf value|, for the rounding margin. */
  readonly magnitude: number;
  /** [boundary]: the most the trees before it can have moved any output above any other. */
  readonly reach: Float64Array;
  /** [boundary]: the least lead any row needs to settle there (min over outputs j ≠ k of restMax[k] − restMin[j]). */
  readonly needed: Float64Array;
}

/**
 * The leaf bounds for labels-only prediction over `width` outputs per row (trees add to outputOffset[t] ..
 * outputOffset[t] + leafWidth; other outputs get 0 from that tree).
 */
export function argmaxStop(trees: CompiledTrees, width: number): ArgmaxStop {
  const T = trees.treeCount;
  const boundaries = Math.ceil(T / STOP_CHUNK) + 1;
  const restMax = new Float64Array(boundaries * width);
  const restMin = new Float64Array(boundaries * width);
  const treeMax = new Float64Array(width);
  const treeMin = new Float64Array(width);
  const runMax = new Float64Array(width);
  const runMin = new Float64Array(width);
  const spans = new Float64Array(T);
  let magnitude = 0;
  const slots = trees.threshold.length;
  for (let t = T - 1; t >= 0; t--) {
    treeMax.fill(0);
    treeMin.fill(0);
    const off = trees.outputOffset[t];
    for (let k = 0; k < trees.leafWidth; k++) {
      treeMax[off + k] = -Infinity;
      treeMin[off + k] = Infinity;
    }
    let largest = 0;
    // A tree's slots run from its root to the next tree's root (compileTrees lays trees out one after another).
    const end = t + 1 < T ? trees.root[t + 1] : slots;
    for (let s = trees.root[t]; s < end; s++) {
      const at = trees.leafOffset[s];
      if (at < 0) continue;
      for (let k = 0; k < trees.leafWidth; k++) {
        const v = trees.leafValues[at + k];
        if (v > treeMax[off + k]) treeMax[off + k] = v;
        if (v < treeMin[off + k]) treeMin[off + k] = v;
        largest = Math.max(largest, Math.abs(v));
      }
    }
    magnitude += largest;
    // The most this tree can lift one output above another: its largest value for any output less its smallest
    // (an output it does not touch gets 0).
    let high = -Infinity;
    let low = Infinity;
    for (let k = 0; k < width; k++) {
      runMax[k] += treeMax[k];
      runMin[k] += treeMin[k];
      high = Math.max(high, treeMax[k]);
      low = Math.min(low, treeMin[k]);
    }
    spans[t] = high - low;
    if (t % STOP_CHUNK === 0) {
      restMax.set(runMax, (t / STOP_CHUNK) * width);
      restMin.set(runMin, (t / STOP_CHUNK) * width);
    }
  }
  // The last boundary (all trees done) has nothing left to add: already zero.
  const reach = new Float64Array(boundaries);
  const needed = new Float64Array(boundaries);
  let moved = 0;
  for (let t = 0; t < T; t++) {
    if (t % STOP_CHUNK === 0) reach[t / STOP_CHUNK] = moved;
    moved += spans[t];
  }
  reach[boundaries - 1] = moved;
  for (let b = 0; b < boundaries && width === 1; b++) needed[b] = -Infinity; // a sign has no pairs: always check
  for (let b = 0; b < boundaries && width > 1; b++) {
    // min over k of restMax[k] − (largest restMin[j] with j ≠ k): the two largest restMin suffice.
    let first = -Infinity;
    let second = -Infinity;
    let firstAt = -1;
    for (let k = 0; k < width; k++) {
      const v = restMin[b * width + k];
      if (v > first) {
        second = first;
        first = v;
        firstAt = k;
      } else if (v > second) second = v;
    }
    let least = Infinity;
    for (let k = 0; k < width; k++) least = Math.min(least, restMax[b * width + k] - (k === firstAt ? second : first));
    needed[b] = least;
  }
  return { width, restMax, restMin, magnitude, reach, needed };
}

/**
 * Whether the row whose sums so far are out[o .. o + width) keeps its label whatever leaves the trees after
 * `boundary` give: its lead's least possible total beats every other output's largest possible total by more
 * than `margin`, the most rounding can have moved the sums (see `roundingMargin`); for one output, its sign.
 */
function settled(stop: ArgmaxStop, boundary: number, margin: number, out: Float64Array, o: number): boolean {
  const { width, restMax, restMin } = stop;
  const b = boundary * width;
  if (width === 1) {
    // A sign: settled when every possible total is on one side of 0 by more than the margin, and the partial
    // sum already on that side (the caller tests it: > 0 is 1, anything else 0).
    const v = out[o];
    return (v + restMin[b] - margin > 0 && v - margin > 0) || (v + restMax[b] + margin < 0 && v + margin < 0);
  }
  let lead = 0;
  for (let k = 1; k < width; k++) if (out[o + k] > out[o + lead]) lead = k;
  const floor = out[o + lead] + restMin[b + lead] - margin;
  if (!(floor === floor)) return false;
  for (let k = 0; k < width; k++) {
    // The lead must also be clear in the partial sums themselves: the caller takes their argmax, perhaps after
    // scaling (a forest's mean), and scaling may round two values a few ulps apart to one.
    if (k !== lead && !(floor > out[o + k] + restMax[b + k] && out[o + lead] - margin > out[o + k])) return false;
  }
  return true;
}

/**
 * A bound on how far float rounding can move a row's sums, the remaining-tree bounds and so the comparison in
 * `settled`: each float sum of n terms is within n · 2^-53 · (sum of |terms|) of the exact one, the terms of a
 * row's sum are its starting value (at most `largestStart` in size) and one leaf per tree (at most `magnitude`
 * in all), and four such errors meet in one comparison.
 */
function roundingMargin(stop: ArgmaxStop, treeCount: number, largestStart: number): number {
  return 16 * (treeCount + 1) * 2 ** -53 * (largestStart + 3 * stop.magnitude);
}

/** Rows the kernel walks at once, interleaved in memory (feature f of lane j at group + 64 · f + 8 · j). */
const GROUP_ROWS = 8;
/** Below this many rows a call walks each row alone, four trees at once, rather than pad a group of eight. */
const SMALL_ROWS = 4;
/** Rows per kernel block: 256 rows of 20 features (40 kB) and their outputs stay in L1/L2 while every tree passes. */
const BLOCK_ROWS = 256;
/** Model tables kept resident before the table region is emptied (a 300-tree, 70k-node forest takes 1.1 MB). */
const TABLE_BUDGET_BYTES = 64 * 1024 * 1024;
/** Low memory left alone (the AssemblyScript module's own data, if it ever has any). */
const RESERVED_BYTES = 4096;
const NODE_BYTES = 16;
/** High word of the NaN a leaf stores as its threshold (its low word is the address of the leaf's values). */
const LEAF_NAN_HIGH = 0x7ff80000;
/** A leaf's feature offset: negative marks the leaf; the load it leads to (one row block earlier) is harmless. */
const LEAF_FEATURE_OFFSET = -64;

/** The kernel instance and its memory map, per thread. */
interface KernelState {
  module: WasmKernelModule<TreesKernel>;
  /** Scratch at [RESERVED_BYTES, RESERVED_BYTES + scratchBytes); model tables from there on. */
  scratchBytes: number;
  tableStart: number;
  tableEnd: number;
  epoch: number;
}

let state: KernelState | null = null;

function kernelState(): KernelState {
  if (state === null) {
    const module = instantiateKernel<TreesKernel>('trees', wasmBase64);
    const scratchBytes = 1 << 20;
    const tableStart = RESERVED_BYTES + scratchBytes;
    module.ensureBytes(tableStart);
    state = { module, scratchBytes, tableStart, tableEnd: tableStart, epoch: 0 };
  }
  return state;
}

/** Empties the table region (every model re-copies its table on its next call). */
function evictTables(k: KernelState): void {
  k.epoch++;
  k.tableEnd = k.tableStart;
}

/** Scratch for at least `bytes`; growing it moves the table region, so every table is copied again. */
function ensureScratch(k: KernelState, bytes: number): void {
  if (bytes <= k.scratchBytes) return;
  k.scratchBytes = Math.ceil(bytes / NODE_BYTES) * NODE_BYTES;
  k.tableStart = RESERVED_BYTES + k.scratchBytes;
  evictTables(k);
  k.module.ensureBytes(k.tableStart);
}

/** Copies the model's table into kernel memory unless it is already there. */
function placeTables(k: KernelState, trees: CompiledTrees): void {
  const resident = trees.resident;
  if (resident.epoch === k.epoch) return;
  const slots = trees.threshold.length;
  const T = trees.treeCount;
  const bytes = slots * NODE_BYTES + trees.leafValues.length * 8 + 8 * T + NODE_BYTES;
  if (k.tableEnd > k.tableStart && k.tableEnd + bytes - k.tableStart > TABLE_BUDGET_BYTES) evictTables(k);
  const nodes = k.tableEnd;
  const values = nodes + slots * NODE_BYTES;
  const roots = values + trees.leafValues.length * 8;
  const outputs = roots + 4 * T;
  k.tableEnd = Math.ceil((outputs + 4 * T) / NODE_BYTES) * NODE_BYTES;
  k.module.ensureBytes(k.tableEnd);
  const f64 = k.module.f64();
  const i32 = k.module.i32();
  const { node, threshold, leafOffset, leafValues } = trees;
  for (let s = 0; s < slots; s++) {
    const at = nodes + s * NODE_BYTES;
    const word = at >> 2;
    if (leafOffset[s] >= 0) {
      // Written as two int32 words: storing the NaN through a Float64Array could drop its payload.
      i32[word] = values + 8 * leafOffset[s];
      i32[word + 1] = LEAF_NAN_HIGH;
      i32[word + 2] = LEAF_FEATURE_OFFSET;
      i32[word + 3] = at;
    } else {
      f64[at >> 3] = threshold[s];
      i32[word + 2] = 8 * GROUP_ROWS * node[2 * s];
      i32[word + 3] = nodes + NODE_BYTES * node[2 * s + 1];
    }
  }
  f64.set(leafValues, values >> 3);
  for (let t = 0; t < T; t++) {
    i32[(roots >> 2) + t] = nodes + NODE_BYTES * trees.root[t];
    i32[(outputs >> 2) + t] = 8 * trees.outputOffset[t];
  }
  resident.epoch = k.epoch;
  resident.roots = roots;
  resident.outputs = outputs;
}

/**
 * Adds each tree's leaf values for every row of `data` (row-major, `cols` wide) into
 * out[row · outStride + outputOffset[t] + k]. With `allowMissing`, rows holding NaN follow each split's NaN
 * direction; without it the caller has checked there is no NaN.
 *
 * With `stop` (labels only; built by `argmaxStop` for this outStride), a NaN-free row may stop before its last
 * tree once its argmax is settled: its outputs then hold a partial sum with the same argmax as the full one
 * (by a margin far above rounding), not the full sum. Returns the (row, tree) walks made.
 */
export function accumulateTrees(
  trees: CompiledTrees,
  data: Float64Array,
  rowCount: number,
  cols: number,
  out: Float64Array,
  outStride: number,
  allowMissing: boolean,
  stop: ArgmaxStop | null = null,
): number {
  if (rowCount === 0 || trees.treeCount === 0) return 0;
  if (stop !== null && stop.width !== outStride) throw new Error(`argmaxStop was built for ${stop.width} outputs per row, not ${outStride}`);
  if (allowMissing && hasMissing(data, 0, rowCount * cols)) {
    // Rows holding NaN take the missing-aware walk; the others go to the kernel together.
    const cleanRows = new Int32Array(rowCount);
    let cleanCount = 0;
    for (let r = 0; r < rowCount; r++) {
      if (hasMissing(data, r * cols, cols)) accumulateRowWithMissing(trees, data, r * cols, out, r * outStride);
      else cleanRows[cleanCount++] = r;
    }
    const walked = (rowCount - cleanCount) * trees.treeCount;
    return walked + (cleanCount > 0 ? accumulateCleanRows(trees, data, cleanRows, cleanCount, cols, out, outStride, stop) : 0);
  }
  return accumulateCleanRows(trees, data, null, rowCount, cols, out, outStride, stop);
}

function hasMissing(values: Float64Array, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) if (values[i] !== values[i]) return true;
  return false;
}

/** The NaN-free rows (rows[0 .. count), or 0 .. count when rows is null) through the kernel, a block at a time. */
function accumulateCleanRows(
  trees: CompiledTrees,
  data: Float64Array,
  rows: Int32Array | null,
  count: number,
  cols: number,
  out: Float64Array,
  outStride: number,
  stop: ArgmaxStop | null,
): number {
  const k = kernelState();
  const groupBytes = GROUP_ROWS * 8 * cols;
  const outBytes = 8 * outStride;
  const blockGroups = Math.ceil(Math.min(BLOCK_ROWS, count) / GROUP_ROWS);
  ensureScratch(k, blockGroups * GROUP_ROWS * outBytes + blockGroups * groupBytes);
  placeTables(k, trees);
  const { exports } = k.module;
  const { roots, outputs } = trees.resident;
  const T = trees.treeCount;
  const width = trees.leafWidth;
  const f64 = k.module.f64();
  const dataWord = RESERVED_BYTES >> 3;
  // The block's rows in kernel order: live[i] is the caller's row walking as the block's row i.
  const live = new Int32Array(blockGroups * GROUP_ROWS);
  let walked = 0;
  // Interleave: feature f of the block's row i goes to group i / 8, lane i % 8.
  const place = (i: number, row: number): void => {
    const src = row * cols;
    let dst = dataWord + ((i / GROUP_ROWS) | 0) * (groupBytes >> 3) + (i % GROUP_ROWS);
    for (let f = 0; f < cols; f++, dst += GROUP_ROWS) f64[dst] = data[src + f];
  };
  const run = (from: number, to: number, n: number, outAt: number): void => {
    walked += (to - from) * n;
    const r = roots + 4 * from;
    const o = outputs + 4 * from;
    if (n < SMALL_ROWS) {
      for (let i = 0; i < n; i++) exports.predictOneRow(r, o, to - from, width, RESERVED_BYTES + 8 * i, outAt + i * outBytes);
    } else {
      exports.predictGroups(r, o, to - from, width, RESERVED_BYTES, groupBytes, Math.ceil(n / GROUP_ROWS), outAt, outBytes);
    }
  };
  for (let start = 0; start < count; start += blockGroups * GROUP_ROWS) {
    const blockRows = Math.min(blockGroups * GROUP_ROWS, count - start);
    const outAt = RESERVED_BYTES + Math.ceil(blockRows / GROUP_ROWS) * groupBytes;
    const outWord = outAt >> 3;
    for (let i = 0; i < blockRows; i++) {
      live[i] = rows === null ? start + i : rows[start + i];
      place(i, live[i]);
    }
    if (rows === null) f64.set(out.subarray(start * outStride, (start + blockRows) * outStride), outWord);
    else for (let i = 0; i < blockRows; i++) copyRow(out, live[i] * outStride, f64, outWord + i * outStride, outStride);
    let n = blockRows;
    if (stop === null) {
      run(0, T, n, outAt);
    } else {
      // The widest gap between two outputs of any row before the first tree (a baseline may differ by output),
      // and the largest starting value.
      let spread = 0;
      let largestStart = 0;
      for (let i = 0; i < n; i++) {
        let high = -Infinity;
        let low = Infinity;
        for (let j = outWord + i * outStride, end = j + outStride; j < end; j++) {
          high = Math.max(high, f64[j]);
          low = Math.min(low, f64[j]);
        }
        spread = Math.max(spread, high - low);
        largestStart = Math.max(largestStart, Math.abs(high), Math.abs(low));
      }
      const margin = roundingMargin(stop, T, largestStart);
      for (let t = 0; t < T && n > 0; ) {
        const next = Math.min(T, t + STOP_CHUNK);
        run(t, next, n, outAt);
        t = next;
        if (t === T) break;
        const boundary = t / STOP_CHUNK;
        // No row can have a lead yet as wide as the remaining trees could undo (NaN spread: check anyway).
        if (spread + stop.reach[boundary] <= stop.needed[boundary]) continue;
        // Settled rows leave with their sums; the block's last row takes each one's place (the order of rows
        // inside a block is free), so leaving costs one row's copy, not a shift of every row after it.
        for (let i = 0; i < n; ) {
          const at = outWord + i * outStride;
          if (!settled(stop, boundary, margin, f64, at)) {
            i++;
            continue;
          }
          copyRow(f64, at, out, live[i] * outStride, outStride);
          n--;
          if (i < n) {
            f64.copyWithin(at, outWord + n * outStride, outWord + (n + 1) * outStride);
            live[i] = live[n];
            place(i, live[i]);
          }
        }
      }
    }
    if (rows === null && stop === null) out.set(f64.subarray(outWord, outWord + n * outStride), start * outStride);
    else for (let i = 0; i < n; i++) copyRow(f64, outWord + i * outStride, out, live[i] * outStride, outStride);
  }
  return walked;
}

/** `length` values from `from` at `fromAt` to `to` at `toAt` (a loop: a row is a few values, a subarray view costs more). */
function copyRow(from: Float64Array, fromAt: number, to: Float64Array, toAt: number, length: number): void {
  for (let k = 0; k < length; k++) to[toAt + k] = from[fromAt + k];
}

/** One row that may hold NaN: the plain walk, NaN going where each split learned. */
export function accumulateRowWithMissing(trees: CompiledTrees, data: Float64Array, x: number, out: Float64Array, o: number): void {
  const { root, outputOffset, node, threshold, missingLeft, leafOffset, leafValues, leafWidth } = trees;
  for (let t = 0; t < trees.treeCount; t++) {
    let slot = root[t];
    while (leafOffset[slot] < 0) {
      const value = data[x + node[2 * slot]];
      const goLeft = value <= threshold[slot] || (value !== value && missingLeft[slot] === 1);
      slot = goLeft ? node[2 * slot + 1] : node[2 * slot + 1] + 1;
    }
    addLeaf(leafValues, leafOffset[slot], leafWidth, out, o + outputOffset[t]);
  }
}

function addLeaf(leafValues: Float64Array, from: number, width: number, out: Float64Array, to: number): void {
  for (let k = 0; k < width; k++) out[to + k] += leafValues[from + k];
}
