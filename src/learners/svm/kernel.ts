/**
 * Kernels for SVM training and an LRU cache of kernel rows, as libsvm's Kernel and Cache classes.
 * Training evaluates rbf as exp(−γ(‖a‖² + ‖b‖² − 2a·b)) from precomputed squared norms (libsvm's kernel_rbf),
 * so a kernel row costs one dot product per entry, or one lookup when the whole Gram matrix is computed up front.
 */

import { instantiateKernel, type WasmKernelModule } from '../../runtime/wasm.js';
import { wasmBase64 } from '../../generated/wasm/linalg.js';

export type KernelKind = 'rbf' | 'linear';

/** Plain dot product of rows a and b of a row-major matrix with `d` columns. */
export function dotRows(data: Float64Array, a: number, b: number, d: number): number {
  const oa = a * d;
  const ob = b * d;
  let sum = 0;
  for (let j = 0; j < d; j++) sum += data[oa + j] * data[ob + j];
  return sum;
}

/**
 * out[positions[t]] = x_a · x_b for b = rowOf[positions[t]], t < count. Eight b rows share each load of
 * x_a[j] (register blocking: about 3x faster than one dot at a time); every sum runs over j in order, so
 * the value of a·b does not depend on its group, and equals b·a.
 */
function dotsInto(data: Float64Array, d: number, a: number, rowOf: Int32Array, positions: Int32Array, count: number, out: Float64Array): void {
  const oa = a * d;
  let t = 0;
  for (; t + 7 < count; t += 8) {
    const o0 = rowOf[positions[t]] * d;
    const o1 = rowOf[positions[t + 1]] * d;
    const o2 = rowOf[positions[t + 2]] * d;
    const o3 = rowOf[positions[t + 3]] * d;
    const o4 = rowOf[positions[t + 4]] * d;
    const o5 = rowOf[positions[t + 5]] * d;
    const o6 = rowOf[positions[t + 6]] * d;
    const o7 = rowOf[positions[t + 7]] * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    let s5 = 0;
    let s6 = 0;
    let s7 = 0;
    for (let j = 0; j < d; j++) {
      const x = data[oa + j];
      s0 += x * data[o0 + j];
      s1 += x * data[o1 + j];
      s2 += x * data[o2 + j];
      s3 += x * data[o3 + j];
      s4 += x * data[o4 + j];
      s5 += x * data[o5 + j];
      s6 += x * data[o6 + j];
      s7 += x * data[o7 + j];
    }
    out[positions[t]] = s0;
    out[positions[t + 1]] = s1;
    out[positions[t + 2]] = s2;
    out[positions[t + 3]] = s3;
    out[positions[t + 4]] = s4;
    out[positions[t + 5]] = s5;
    out[positions[t + 6]] = s6;
    out[positions[t + 7]] = s7;
  }
  for (; t < count; t++) out[positions[t]] = dotRows(data, a, rowOf[positions[t]], d);
}

/** Gram matrices up to this size are computed whole at the start (one-vs-one reuses a sample's kernel values across pairs). */
const MAX_GRAM_BYTES = 128 * 1024 * 1024;

/**
 * The training samples with what every kernel value needs: K(a, b) by row index. When the n × n matrix of dot
 * products fits in MAX_GRAM_BYTES it is computed whole up front by the WebAssembly kernel gramBlockRow
 * (wasm/linalg.ts; each entry summed over j in order, so bit for bit dotRows), and a kernel value costs one
 * lookup and, for rbf, one exp. Otherwise each row's dot products are computed as the row is asked for.
 */
export class KernelData {
  private readonly squaredNorms: Float64Array;
  /** a·b at [a·gramStride + b], a view on the kernel module's memory; null when too big. */
  private gram: Float64Array | null;
  private readonly gramStride: number;
  private readonly positions: Int32Array;

  constructor(
    readonly data: Float64Array,
    readonly rows: number,
    readonly cols: number,
    readonly kind: KernelKind,
    readonly gamma: number,
    wholeGram = true,
  ) {
    this.squaredNorms = new Float64Array(rows);
    for (let i = 0; i < rows; i++) this.squaredNorms[i] = dotRows(data, i, i, cols);
    this.gramStride = Math.ceil(rows / 4) * 4;
    const gramFits = wholeGram && this.gramStride * this.gramStride * 8 <= MAX_GRAM_BYTES;
    this.gram = gramFits ? gramMatrix(this, data, rows, cols, this.gramStride) : null;
    this.positions = new Int32Array(rows);
  }

  value(a: number, b: number): number {
    return this.fromDot(a, b, dotRows(this.data, a, b, this.cols));
  }

  /**
   * out[k] = sign[a]·sign[k]·K(a, rowOf[k]) for k in [from, to), `signs` being ±1 (the caller's yᵢ; all ones for
   * plain kernel values). Multiplying by ±1 is exact, and folding it in here saves the caller a pass over the row.
   */
  fill(a: number, rowOf: Int32Array, from: number, to: number, out: Float64Array, signs: Float64Array, signA: number): void {
    const rbf = this.kind === 'rbf';
    const { squaredNorms, gamma } = this;
    let gram = this.gram;
    const normA = squaredNorms[a];
    if (gram !== null) {
      // Another KernelData has laid out its own Gram matrix since (the module's memory holds one at a time).
      if (gramOwner !== this) gram = this.gram = gramMatrix(this, this.data, this.rows, this.cols, this.gramStride);
      // The rbf transform is inlined here (a call per entry was not): libsvm's kernel_rbf, exp(−γ(‖a‖² + ‖b‖² − 2a·b)).
      const base = a * this.gramStride;
      for (let k = from; k < to; k++) {
        const b = rowOf[k];
        const dot = gram[base + b];
        const value = rbf ? Math.exp(-gamma * (normA + squaredNorms[b] - 2 * dot)) : dot;
        out[k] = value * (signA * signs[k]);
      }
      return;
    }
    const positions = this.positions;
    let count = 0;
    for (let k = from; k < to; k++) positions[count++] = k;
    dotsInto(this.data, this.cols, a, rowOf, positions, count, out);
    for (let k = from; k < to; k++) {
      const value = rbf ? Math.exp(-gamma * (normA + squaredNorms[rowOf[k]] - 2 * out[k])) : out[k];
      out[k] = value * (signA * signs[k]);
    }
  }

  /** libsvm's kernel_rbf: exp(−γ(‖a‖² + ‖b‖² − 2a·b)). */
  private fromDot(a: number, b: number, dot: number): number {
    if (this.kind === 'linear') return dot;
    return Math.exp(-this.gamma * (this.squaredNorms[a] + this.squaredNorms[b] - 2 * dot));
  }
}

interface GramExports {
  gramBlockRow(x: number, xt: number, n4: number, d: number, a0: number, g: number): void;
}

let linalg: WasmKernelModule<GramExports> | null = null;
/** The KernelData whose Gram matrix the module's memory holds. */
let gramOwner: KernelData | null = null;

/**
 * X·Xᵀ for the rows × d matrix `data`, padded to stride × stride (stride = rows rounded up to four), as a view on
 * the kernel module's memory, which `owner` holds until the next call.
 */
function gramMatrix(owner: KernelData, data: Float64Array, rows: number, d: number, stride: number): Float64Array {
  gramOwner = owner;
  linalg ??= instantiateKernel<GramExports>('linalg', wasmBase64);
  const x = 0;
  const xt = x + stride * d * 8;
  const g = xt + stride * d * 8;
  linalg.ensureBytes(g + stride * stride * 8);
  const memory = linalg.memory.buffer;
  const padded = new Float64Array(memory, x, stride * d);
  padded.set(data.subarray(0, rows * d));
  padded.fill(0, rows * d);
  transposeInto(padded, stride, d, new Float64Array(memory, xt, stride * d));
  const gramBlockRow = linalg.exports.gramBlockRow;
  // One call per block of four rows: V8 moves a WebAssembly function to optimised code between calls only.
  for (let a0 = 0; a0 < stride; a0 += 4) gramBlockRow(x, xt, stride, d, a0, g);
  return new Float64Array(memory, g, stride * stride);
}

function transposeInto(source: Float64Array, rows: number, cols: number, out: Float64Array): void {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = source[i * cols + j];
}

/**
 * Storage for the rows of one RowCache at a time. One-vs-one solves its class pairs one after another, so each
 * pair's cache takes over the memory of the one before instead of allocating its own (and leaving it to the
 * garbage collector). A row handed out again holds stale values; the cache fills a row before reading it.
 */
export class RowArena {
  private readonly chunks: Float64Array[] = [];
  private chunkIndex = 0;
  private offset = 0;

  /** Hands out the same memory again from the start. */
  reset(): void {
    this.chunkIndex = 0;
    this.offset = 0;
  }

  /** `length` entries of contiguous storage; a new chunk, when needed, has at least `chunkLength` entries. */
  take(length: number, chunkLength: number): Float64Array {
    while (this.chunkIndex < this.chunks.length) {
      const chunk = this.chunks[this.chunkIndex];
      if (chunk.length < length) {
        // Too small for even one row of this cache (an earlier pair had much shorter rows): let it be collected.
        this.chunks.splice(this.chunkIndex, 1);
        this.offset = 0;
        continue;
      }
      if (this.offset + length <= chunk.length) {
        this.offset += length;
        return chunk.subarray(this.offset - length, this.offset);
      }
      this.chunkIndex++;
      this.offset = 0;
    }
    const chunk = new Float64Array(Math.max(length, chunkLength));
    this.chunks.push(chunk);
    this.offset = length;
    return chunk.subarray(0, length);
  }
}

/** Computes the entries [from, to) of row `index`, which the cache has allotted. */
export interface RowFiller {
  fillRow(index: number, from: number, to: number, row: Float64Array): void;
}

/** scikit-learn's cache_size default, in bytes. */
export const DEFAULT_CACHE_BYTES = 200 * 1024 * 1024;

const NONE = -1;
const ROWS_PER_CHUNK = 64;

/**
 * libsvm's Cache: up to `capacity` rows of length `rowLength` (Float64Array), least recently used evicted
 * first. A row may be filled only up to a prefix (the solver's active set); later requests extend it.
 * Evicted rows are handed to the next row that needs space, so steady state allocates nothing.
 */
export class RowCache {
  private readonly rows: (Float64Array | null)[];
  private readonly filled: Int32Array;
  /** Doubly linked LRU list over row indices; `head` is the sentinel (least recent after it). */
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly head: number;
  private readonly capacity: number;
  private allocated = 0;

  /** `arena`, when given, is taken over (reset) by this cache: one arena serves one live cache at a time. */
  constructor(
    count: number,
    private readonly rowLength: number,
    cacheBytes: number = DEFAULT_CACHE_BYTES,
    private readonly arena: RowArena = new RowArena(),
  ) {
    arena.reset();
    this.rows = new Array<Float64Array | null>(count).fill(null);
    this.filled = new Int32Array(count);
    this.prev = new Int32Array(count + 1).fill(NONE);
    this.next = new Int32Array(count + 1).fill(NONE);
    this.head = count;
    this.prev[this.head] = this.head;
    this.next[this.head] = this.head;
    // The solver holds two rows at once (libsvm keeps at least 2 rows' worth too).
    this.capacity = Math.max(2, Math.floor(cacheBytes / (8 * Math.max(1, rowLength))));
  }

  /** Row `index` with at least its first `len` entries computed, made most recently used. */
  get(index: number, len: number, filler: RowFiller): Float64Array {
    let row = this.rows[index];
    if (row === null) {
      row = this.allot();
      this.rows[index] = row;
      this.filled[index] = 0;
    } else {
      this.unlink(index);
    }
    this.linkMostRecent(index);
    const have = this.filled[index];
    if (have < len) {
      filler.fillRow(index, have, len, row);
      this.filled[index] = len;
    }
    return row;
  }

  /** libsvm's Cache::swap_index: rows i and j trade places, and so do entries i and j of every cached row. */
  swap(i: number, j: number): void {
    if (i === j) return;
    const cachedI = this.rows[i] !== null;
    const cachedJ = this.rows[j] !== null;
    if (cachedI) this.unlink(i);
    if (cachedJ) this.unlink(j);
    const rowI = this.rows[i];
    this.rows[i] = this.rows[j];
    this.rows[j] = rowI;
    const filledI = this.filled[i];
    this.filled[i] = this.filled[j];
    this.filled[j] = filledI;
    if (cachedJ) this.linkMostRecent(i);
    if (cachedI) this.linkMostRecent(j);
    const low = Math.min(i, j);
    const high = Math.max(i, j);
    for (let r = this.next[this.head]; r !== this.head; r = this.next[r]) {
      const have = this.filled[r];
      if (have <= low) continue;
      const row = this.rows[r] as Float64Array;
      if (have > high) {
        const t = row[low];
        row[low] = row[high];
        row[high] = t;
      } else {
        // Entry `high` was never computed for this row; keep the prefix before `low`.
        this.filled[r] = low;
      }
    }
  }

  private allot(): Float64Array {
    if (this.allocated < this.capacity) {
      // New memory comes in chunks of up to 64 rows: one allocation instead of one per row.
      const chunkLength = Math.min(ROWS_PER_CHUNK, this.capacity - this.allocated) * this.rowLength;
      this.allocated++;
      return this.arena.take(this.rowLength, chunkLength);
    }
    const victim = this.next[this.head];
    this.unlink(victim);
    const row = this.rows[victim] as Float64Array;
    this.rows[victim] = null;
    this.filled[victim] = 0;
    return row;
  }

  private unlink(index: number): void {
    const before = this.prev[index];
    const after = this.next[index];
    this.next[before] = after;
    this.prev[after] = before;
    this.prev[index] = NONE;
    this.next[index] = NONE;
  }

  private linkMostRecent(index: number): void {
    const last = this.prev[this.head];
    this.next[last] = index;
    this.prev[index] = last;
    this.next[index] = this.head;
    this.prev[this.head] = index;
  }
}

/**
 * Prediction kernel, as libsvm's k_function: out[s] = K(x, sv_s) for the `count` support vectors (row-major,
 * `d` columns), rbf from Σ(x − sv)² directly. Eight support vectors share each load of x[j]; each sum runs
 * over j in order, so a value never depends on the other rows of a batch.
 */
export function kernelAgainst(kind: KernelKind, gamma: number, x: Float64Array, xOffset: number, sv: Float64Array, count: number, d: number, out: Float64Array): void {
  const rbf = kind === 'rbf';
  let s = 0;
  for (; s + 7 < count; s += 8) {
    const o0 = s * d;
    const o1 = o0 + d;
    const o2 = o1 + d;
    const o3 = o2 + d;
    const o4 = o3 + d;
    const o5 = o4 + d;
    const o6 = o5 + d;
    const o7 = o6 + d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    let s5 = 0;
    let s6 = 0;
    let s7 = 0;
    if (rbf) {
      for (let j = 0; j < d; j++) {
        const v = x[xOffset + j];
        const d0 = v - sv[o0 + j];
        const d1 = v - sv[o1 + j];
        const d2 = v - sv[o2 + j];
        const d3 = v - sv[o3 + j];
        const d4 = v - sv[o4 + j];
        const d5 = v - sv[o5 + j];
        const d6 = v - sv[o6 + j];
        const d7 = v - sv[o7 + j];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
        s4 += d4 * d4;
        s5 += d5 * d5;
        s6 += d6 * d6;
        s7 += d7 * d7;
      }
      out[s] = Math.exp(-gamma * s0);
      out[s + 1] = Math.exp(-gamma * s1);
      out[s + 2] = Math.exp(-gamma * s2);
      out[s + 3] = Math.exp(-gamma * s3);
      out[s + 4] = Math.exp(-gamma * s4);
      out[s + 5] = Math.exp(-gamma * s5);
      out[s + 6] = Math.exp(-gamma * s6);
      out[s + 7] = Math.exp(-gamma * s7);
    } else {
      for (let j = 0; j < d; j++) {
        const v = x[xOffset + j];
        s0 += v * sv[o0 + j];
        s1 += v * sv[o1 + j];
        s2 += v * sv[o2 + j];
        s3 += v * sv[o3 + j];
        s4 += v * sv[o4 + j];
        s5 += v * sv[o5 + j];
        s6 += v * sv[o6 + j];
        s7 += v * sv[o7 + j];
      }
      out[s] = s0;
      out[s + 1] = s1;
      out[s + 2] = s2;
      out[s + 3] = s3;
      out[s + 4] = s4;
      out[s + 5] = s5;
      out[s + 6] = s6;
      out[s + 7] = s7;
    }
  }
  for (; s < count; s++) {
    const o = s * d;
    let sum = 0;
    if (rbf) {
      for (let j = 0; j < d; j++) {
        const diff = x[xOffset + j] - sv[o + j];
        sum += diff * diff;
      }
      out[s] = Math.exp(-gamma * sum);
    } else {
      for (let j = 0; j < d; j++) sum += x[xOffset + j] * sv[o + j];
      out[s] = sum;
    }
  }
}

interface RbfExports {
  rbfSquaredDistances(queries: number, nQueries: number, d: number, svT: number, nSv8: number, out: number): void;
  svmPairSums(values: number, nQueries: number, nSv8: number, coef: number, nSv: number, starts: number, blocks: number, rho: number, out: number): void;
}

let rbfModule: WasmKernelModule<RbfExports> | null = null;
/** The id of the RbfRows whose support vectors the prediction module's memory holds. */
let rbfOwner = -1;
let rbfRowsCreated = 0;

/** Query rows per kernel call: the distances of a block stay small, and V8 tiers the kernel up between calls. */
export const RBF_ROWS_PER_CALL = 64;

/** A one-vs-one model's decision terms, as SvmEvaluator holds them. */
export interface PairTerms {
  /** (blocks − 1) × nSV dual coefficients, row-major (libsvm's layout). */
  readonly coef: Float64Array;
  /** blocks + 1 offsets of each block's support vectors. */
  readonly starts: Int32Array;
  /** One per block pair (i < j, in order). */
  readonly rho: Float64Array;
}

/**
 * rbf kernel values of query rows against a fixed set of support vectors, many rows at a time: the squared
 * distances come from the WebAssembly kernel rbfSquaredDistances (wasm/linalg.ts; each summed over j in order,
 * as kernelAgainst sums them), then exp(−γ·distance) here, as kernelAgainst computes it, so values are bitwise
 * kernelAgainst's. pairSums goes on to the one-vs-one decision values in the kernel svmPairSums.
 */
export class RbfRows {
  /** Support vector count rounded up to a multiple of 8 (the kernel's block). */
  private readonly nSv8: number;
  private readonly nPairs: number;
  private readonly blocks: number;
  private readonly layout: { sv: number; queries: number; distances: number; values: number; coef: number; starts: number; rho: number; sums: number; end: number };
  private readonly id = rbfRowsCreated++;

  constructor(
    private readonly sv: Float64Array,
    readonly count: number,
    private readonly d: number,
    private readonly gamma: number,
    private readonly terms: PairTerms,
  ) {
    const nSv8 = Math.ceil(count / 8) * 8;
    this.nSv8 = nSv8;
    this.blocks = terms.starts.length - 1;
    this.nPairs = (this.blocks * (this.blocks - 1)) / 2;
    const rows = RBF_ROWS_PER_CALL;
    const sizes = [nSv8 * d * 8, rows * d * 8, rows * nSv8 * 8, rows * nSv8 * 8, terms.coef.length * 8, terms.starts.length * 4, terms.rho.length * 8, rows * this.nPairs * 8];
    const at: number[] = [];
    let end = 0;
    for (const size of sizes) {
      at.push(end);
      end += Math.ceil(size / 16) * 16;
    }
    this.layout = { sv: at[0], queries: at[1], distances: at[2], values: at[3], coef: at[4], starts: at[5], rho: at[6], sums: at[7], end };
  }

  /**
   * out[r·count + s] = K(x_{first+r}, sv_s) for r < rows ≤ RBF_ROWS_PER_CALL, x being row-major with d columns.
   */
  fill(x: Float64Array, first: number, rows: number, out: Float64Array): void {
    const buffer = this.distances(x, first, rows);
    expInto(new Float64Array(buffer, this.layout.distances, rows * this.nSv8), rows, this.count, this.nSv8, this.gamma, out);
  }

  /**
   * The decision value of every block pair (i < j, in order) for rows first..first+rows−1 (rows ≤
   * RBF_ROWS_PER_CALL) at [(r − first)·nPairs + p] of the returned view (valid until the next call): bitwise
   * SvmEvaluator.pairSumsFrom over this class's kernel values.
   */
  pairSums(x: Float64Array, first: number, rows: number): Float64Array {
    const buffer = this.distances(x, first, rows);
    const paddedRows = rows + (rows % 2);
    const { layout, nSv8, count } = this;
    expInterleaved(new Float64Array(buffer, layout.distances, paddedRows * nSv8), paddedRows, count, nSv8, this.gamma, new Float64Array(buffer, layout.values, paddedRows * nSv8));
    (rbfModule as WasmKernelModule<RbfExports>).exports.svmPairSums(layout.values, paddedRows, nSv8, layout.coef, count, layout.starts, this.blocks, layout.rho, layout.sums);
    return new Float64Array(buffer, layout.sums, rows * this.nPairs);
  }

  /** Squared distances of the rows (padded to an even count with a zero row) at layout.distances; the module's buffer. */
  private distances(x: Float64Array, first: number, rows: number): ArrayBuffer {
    const kernel = this.module();
    const { d, nSv8, layout } = this;
    const paddedRows = rows + (rows % 2);
    const buffer = kernel.memory.buffer;
    const queries = new Float64Array(buffer, layout.queries, paddedRows * d);
    queries.set(x.subarray(first * d, (first + rows) * d));
    if (paddedRows > rows) queries.fill(0, rows * d);
    kernel.exports.rbfSquaredDistances(layout.queries, paddedRows, d, layout.sv, nSv8, layout.distances);
    return buffer;
  }

  /** The module, holding this object's transposed support vectors and decision terms. */
  private module(): WasmKernelModule<RbfExports> {
    rbfModule ??= instantiateKernel<RbfExports>('linalg', wasmBase64);
    if (rbfOwner !== this.id) {
      rbfOwner = this.id;
      const { d, count, nSv8, layout, terms } = this;
      rbfModule.ensureBytes(layout.end);
      const buffer = rbfModule.memory.buffer;
      const svT = new Float64Array(buffer, layout.sv, nSv8 * d).fill(0);
      for (let s = 0; s < count; s++) for (let j = 0; j < d; j++) svT[j * nSv8 + s] = this.sv[s * d + j];
      new Float64Array(buffer, layout.coef, terms.coef.length).set(terms.coef);
      new Int32Array(buffer, layout.starts, terms.starts.length).set(terms.starts);
      new Float64Array(buffer, layout.rho, terms.rho.length).set(terms.rho);
    }
    return rbfModule;
  }
}

/** out[r·count + s] = exp(−γ·distances[r·stride + s]). */
function expInto(distances: Float64Array, rows: number, count: number, stride: number, gamma: number, out: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const from = r * stride;
    const to = r * count;
    for (let s = 0; s < count; s++) out[to + s] = Math.exp(-gamma * distances[from + s]);
  }
}

/** exp(−γ·distances[r·stride + s]) for s < count, rows interleaved in pairs: at ((⌊r/2⌋·stride + s)·2 + r mod 2). */
function expInterleaved(distances: Float64Array, rows: number, count: number, stride: number, gamma: number, out: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const from = r * stride;
    const to = (r >> 1) * stride * 2 + (r & 1);
    for (let s = 0; s < count; s++) out[to + 2 * s] = Math.exp(-gamma * distances[from + s]);
  }
}
