/**
 * Kernels for SVM training and an LRU cache of kernel rows, as libsvm's Kernel and Cache classes.
 * Training evaluates rbf as exp(−γ(‖a‖² + ‖b‖² − 2a·b)) from precomputed squared norms (libsvm's kernel_rbf),
 * so a kernel row costs one dot product per entry.
 */

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

/** Gram matrices up to this size are memoised whole (one-vs-one reuses a sample's kernel values across pairs). */
const MAX_MEMO_BYTES = 128 * 1024 * 1024;

/**
 * The training samples with what every kernel value needs: K(a, b) by row index. When the full n × n kernel
 * matrix fits in MAX_MEMO_BYTES, every computed value is kept (both K(a, b) and K(b, a)), so each is computed
 * once per fit however many subproblems and rows ask for it.
 */
export class KernelData {
  private readonly squaredNorms: Float64Array;
  /**
   * n × n memo, 0 where not computed yet: a fresh allocation is already zeroed (no fill pass over the memo), and a
   * kernel value that really is 0 is merely recomputed, to the same 0, each time it is asked for. Null when too big.
   */
  private readonly memo: Float64Array | null;
  private readonly positions: Int32Array;

  constructor(
    readonly data: Float64Array,
    readonly rows: number,
    readonly cols: number,
    readonly kind: KernelKind,
    readonly gamma: number,
    memoize = true,
  ) {
    this.squaredNorms = new Float64Array(rows);
    for (let i = 0; i < rows; i++) this.squaredNorms[i] = dotRows(data, i, i, cols);
    const memoFits = memoize && rows * rows * 8 <= MAX_MEMO_BYTES;
    this.memo = memoFits ? new Float64Array(rows * rows) : null;
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
    const { memo, positions, rows } = this;
    let count = 0;
    if (memo === null) {
      for (let k = from; k < to; k++) positions[count++] = k;
    } else {
      const base = a * rows;
      for (let k = from; k < to; k++) {
        const value = memo[base + rowOf[k]];
        if (value !== 0) out[k] = value * (signA * signs[k]);
        else positions[count++] = k;
      }
    }
    if (count === 0) return;
    dotsInto(this.data, this.cols, a, rowOf, positions, count, out);
    // The rbf transform is inlined here (a call per entry was not): libsvm's kernel_rbf, exp(−γ(‖a‖² + ‖b‖² − 2a·b)).
    const rbf = this.kind === 'rbf';
    const { squaredNorms, gamma } = this;
    const normA = squaredNorms[a];
    const base = a * rows;
    for (let t = 0; t < count; t++) {
      const k = positions[t];
      const b = rowOf[k];
      const value = rbf ? Math.exp(-gamma * (normA + squaredNorms[b] - 2 * out[k])) : out[k];
      if (memo !== null) {
        memo[base + b] = value;
        memo[b * rows + a] = value;
      }
      out[k] = value * (signA * signs[k]);
    }
  }

  /** libsvm's kernel_rbf: exp(−γ(‖a‖² + ‖b‖² − 2a·b)). */
  private fromDot(a: number, b: number, dot: number): number {
    if (this.kind === 'linear') return dot;
    return Math.exp(-this.gamma * (this.squaredNorms[a] + this.squaredNorms[b] - 2 * dot));
  }
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

/**
 * kernelAgainst for two query rows at once (offsets `offsetA`, `offsetB`): each support vector entry loaded
 * serves both rows. Every sum still runs over j in order from 0, so outA and outB equal what kernelAgainst
 * gives for each row alone, bit for bit.
 */
export function kernelAgainstTwo(
  kind: KernelKind,
  gamma: number,
  x: Float64Array,
  offsetA: number,
  offsetB: number,
  sv: Float64Array,
  count: number,
  d: number,
  outA: Float64Array,
  outB: Float64Array,
): void {
  if (kind !== 'rbf') {
    kernelAgainst(kind, gamma, x, offsetA, sv, count, d, outA);
    kernelAgainst(kind, gamma, x, offsetB, sv, count, d, outB);
    return;
  }
  let s = 0;
  for (; s + 3 < count; s += 4) {
    const o0 = s * d;
    const o1 = o0 + d;
    const o2 = o1 + d;
    const o3 = o2 + d;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    let b3 = 0;
    for (let j = 0; j < d; j++) {
      const va = x[offsetA + j];
      const vb = x[offsetB + j];
      const v0 = sv[o0 + j];
      const v1 = sv[o1 + j];
      const v2 = sv[o2 + j];
      const v3 = sv[o3 + j];
      const da0 = va - v0;
      const db0 = vb - v0;
      const da1 = va - v1;
      const db1 = vb - v1;
      const da2 = va - v2;
      const db2 = vb - v2;
      const da3 = va - v3;
      const db3 = vb - v3;
      a0 += da0 * da0;
      b0 += db0 * db0;
      a1 += da1 * da1;
      b1 += db1 * db1;
      a2 += da2 * da2;
      b2 += db2 * db2;
      a3 += da3 * da3;
      b3 += db3 * db3;
    }
    outA[s] = Math.exp(-gamma * a0);
    outA[s + 1] = Math.exp(-gamma * a1);
    outA[s + 2] = Math.exp(-gamma * a2);
    outA[s + 3] = Math.exp(-gamma * a3);
    outB[s] = Math.exp(-gamma * b0);
    outB[s + 1] = Math.exp(-gamma * b1);
    outB[s + 2] = Math.exp(-gamma * b2);
    outB[s + 3] = Math.exp(-gamma * b3);
  }
  for (; s < count; s++) {
    const o = s * d;
    let sumA = 0;
    let sumB = 0;
    for (let j = 0; j < d; j++) {
      const v = sv[o + j];
      const diffA = x[offsetA + j] - v;
      const diffB = x[offsetB + j] - v;
      sumA += diffA * diffA;
      sumB += diffB * diffB;
    }
    outA[s] = Math.exp(-gamma * sumA);
    outB[s] = Math.exp(-gamma * sumB);
  }
}
