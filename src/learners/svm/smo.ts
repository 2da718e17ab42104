/**
 * libsvm's SMO solver (Chang & Lin, LIBSVM, §4; Fan, Chen & Lin 2005) on typed arrays. It minimises
 *   ½ αᵀQα + pᵀα   subject to   yᵀα = Δ,   0 ≤ αᵢ ≤ Cᵢ   (yᵢ = ±1)
 * picking each pair by second-order working-set selection (WSS3), shrinking variables that sit at a bound,
 * and stopping when the maximal KKT violation m(α) − M(α) falls below the tolerance.
 * C-SVC and epsilon-SVR are the two problems built on it here, each with its own Q matrix over a row cache.
 * Variables are physically swapped when shrunk, as in libsvm, so the selection order matches libsvm's.
 */
import { KernelData, RowCache, type RowArena, type RowFiller } from './kernel.js';
import { instantiateKernel, type WasmKernelModule } from '../../runtime/wasm.js';
import { wasmBase64 } from '../../generated/wasm/linalg.js';

/** Q as the solver sees it, in the solver's current (swapped) variable order. */
export interface QMatrix {
  /** Row i of Q, valid in its first `len` entries. Valid until the next two getRow calls. */
  getRow(i: number, len: number): Float64Array;
  /** Q's diagonal, kept in the solver's order. */
  readonly diagonal: Float64Array;
  swapIndex(i: number, j: number): void;
}

export interface SmoProblem {
  readonly q: QMatrix;
  /** p, the linear term. */
  readonly linear: Float64Array;
  /** ±1 per variable. */
  readonly y: Int8Array;
  /** Feasible starting point. */
  readonly alpha: Float64Array;
  /** Upper bound for variables with y = +1 and y = −1. */
  readonly cPositive: number;
  readonly cNegative: number;
  /** Stopping tolerance on the maximal violating pair (libsvm's eps). */
  readonly tolerance: number;
  readonly shrinking: boolean;
}

export interface SmoSolution {
  /** α in the problem's original variable order. */
  readonly alpha: Float64Array;
  /** The offset ρ of the decision function Σ yᵢαᵢK(xᵢ, x) − ρ. */
  readonly rho: number;
  readonly iterations: number;
  /** False when the iteration cap stopped it before the tolerance was met. */
  readonly converged: boolean;
}

const LOWER_BOUND = 0;
const UPPER_BOUND = 1;
const FREE = 2;
const TAU = 1e-12;

interface SmoExports {
  smoMaxViolation(g: number, ySign: number, upMask: number, activeSize: number, out: number): void;
  smoSecondIndex(g: number, ySign: number, lowMask: number, qd: number, qi: number, activeSize: number, i: number, gMax: number, tau: number, out: number): void;
  smoUpdateGradient(g: number, qi: number, qj: number, deltaI: number, deltaJ: number, count: number): void;
}

/** One module for every solver: solvers run one at a time, each laying out its arrays from offset 0. */
let smoKernel: WasmKernelModule<SmoExports> | null = null;

/** Byte offsets of the solver's arrays in the kernel's memory (each l entries, 16-byte aligned), then 4 results. */
interface SmoLayout {
  gradient: number;
  ySign: number;
  upMask: number;
  lowMask: number;
  diagonal: number;
  rowI: number;
  rowJ: number;
  results: number;
  end: number;
}

function smoLayout(l: number): SmoLayout {
  const bytes = Math.ceil((8 * l) / 16) * 16;
  return {
    gradient: 0,
    ySign: bytes,
    upMask: 2 * bytes,
    lowMask: 3 * bytes,
    diagonal: 4 * bytes,
    rowI: 5 * bytes,
    rowJ: 6 * bytes,
    results: 7 * bytes,
    end: 7 * bytes + 32,
  };
}

/** Minimises the problem; never mutates it. */
export function solveSmo(problem: SmoProblem): SmoSolution {
  return new SmoSolver(problem).solve();
}

class SmoSolver {
  private readonly l: number;
  private readonly q: QMatrix;
  /** Q's diagonal, a copy in the kernel's memory swapped along with Q's own. */
  private readonly qd: Float64Array;
  private readonly y: Int8Array;
  private readonly p: Float64Array;
  private readonly alpha: Float64Array;
  private readonly status: Uint8Array;
  /** yᵢ as a number, and 0 / NaN masks for membership of I_up = {y=+1, α<C} ∪ {y=−1, α>0} and of
   * I_low = {y=+1, α>0} ∪ {y=−1, α<C}; products with yᵢ = ±1 are exact, so values equal libsvm's branches. */
  private readonly ySign: Float64Array;
  private readonly upMask: Float64Array;
  private readonly lowMask: Float64Array;
  private readonly activeSet: Int32Array;
  private readonly gradient: Float64Array;
  /** Ḡ: the gradient part contributed by variables at their upper bound, kept for unshrinking. */
  private readonly gradientBar: Float64Array;
  private readonly cPositive: number;
  private readonly cNegative: number;
  private readonly eps: number;
  private readonly shrinking: boolean;
  private activeSize: number;
  private unshrink = false;
  /** Output of selectWorkingSet. */
  private selectedI = -1;
  private selectedJ = -1;
  /**
   * The selection scans and the gradient update run in the WebAssembly kernels smoMaxViolation, smoSecondIndex and
   * smoUpdateGradient (wasm/linalg.ts; same operations, same order): G, yᵢ, the masks and Q's diagonal live in the
   * kernel's memory (views; the memory never grows while this solver runs), the two Q rows are copied in.
   */
  private readonly kernel: WasmKernelModule<SmoExports>;
  private readonly layout: SmoLayout;
  private readonly rowI: Float64Array;
  private readonly rowJ: Float64Array;
  private readonly results: Float64Array;

  constructor(problem: SmoProblem) {
    const l = problem.y.length;
    this.l = l;
    this.q = problem.q;
    smoKernel ??= instantiateKernel<SmoExports>('linalg', wasmBase64);
    this.kernel = smoKernel;
    this.layout = smoLayout(l);
    this.kernel.ensureBytes(this.layout.end);
    const buffer = this.kernel.memory.buffer;
    const view = (at: number, length: number): Float64Array => new Float64Array(buffer, at, length);
    this.qd = view(this.layout.diagonal, l);
    this.qd.set(problem.q.diagonal);
    this.rowI = view(this.layout.rowI, l);
    this.rowJ = view(this.layout.rowJ, l);
    this.results = view(this.layout.results, 4);
    this.y = Int8Array.from(problem.y);
    this.p = Float64Array.from(problem.linear);
    this.alpha = Float64Array.from(problem.alpha);
    this.cPositive = problem.cPositive;
    this.cNegative = problem.cNegative;
    this.eps = problem.tolerance;
    this.shrinking = problem.shrinking;
    this.status = new Uint8Array(l);
    this.ySign = view(this.layout.ySign, l);
    for (let i = 0; i < l; i++) this.ySign[i] = this.y[i];
    this.upMask = view(this.layout.upMask, l);
    this.lowMask = view(this.layout.lowMask, l);
    for (let i = 0; i < l; i++) this.updateStatus(i);
    this.activeSet = new Int32Array(l);
    for (let i = 0; i < l; i++) this.activeSet[i] = i;
    this.activeSize = l;
    this.gradient = view(this.layout.gradient, l).fill(0);
    this.gradientBar = new Float64Array(l);
  }

  solve(): SmoSolution {
    const { l, alpha, gradient: G, gradientBar: Gbar, p } = this;
    for (let i = 0; i < l; i++) G[i] = p[i];
    for (let i = 0; i < l; i++) {
      if (this.status[i] === LOWER_BOUND) continue;
      const Qi = this.q.getRow(i, l);
      const alphaI = alpha[i];
      for (let j = 0; j < l; j++) G[j] += alphaI * Qi[j];
      if (this.status[i] === UPPER_BOUND) {
        const cI = this.upper(i);
        for (let j = 0; j < l; j++) Gbar[j] += cI * Qi[j];
      }
    }

    // libsvm's cap; scikit-learn's default max_iter=-1 never reaches it on realistic data.
    const maxIterations = Math.max(10_000_000, l > 21_474_836 ? 2_147_483_647 : 100 * l);
    let counter = Math.min(l, 1000) + 1;
    let iterations = 0;
    let converged = false;
    while (iterations < maxIterations) {
      if (--counter === 0) {
        counter = Math.min(l, 1000);
        if (this.shrinking) this.doShrinking();
      }
      if (!this.selectWorkingSet()) {
        this.reconstructGradient();
        this.activeSize = l;
        if (!this.selectWorkingSet()) {
          converged = true;
          break;
        }
        counter = 1; // shrink on the next iteration
      }
      iterations++;
      this.takeStep(this.selectedI, this.selectedJ);
    }
    if (!converged && this.activeSize < l) {
      this.reconstructGradient();
      this.activeSize = l;
    }
    const rho = this.calculateRho();
    const out = new Float64Array(l);
    for (let i = 0; i < l; i++) out[this.activeSet[i]] = alpha[i];
    return { alpha: out, rho, iterations, converged };
  }

  private upper(i: number): number {
    return this.y[i] > 0 ? this.cPositive : this.cNegative;
  }

  private updateStatus(i: number): void {
    const a = this.alpha[i];
    const status = a >= this.upper(i) ? UPPER_BOUND : a <= 0 ? LOWER_BOUND : FREE;
    this.status[i] = status;
    const positive = this.y[i] === 1;
    this.upMask[i] = status === (positive ? UPPER_BOUND : LOWER_BOUND) ? NaN : 0;
    this.lowMask[i] = status === (positive ? LOWER_BOUND : UPPER_BOUND) ? NaN : 0;
  }

  /** Solves the two-variable subproblem on (i, j) analytically and updates G and Ḡ. */
  private takeStep(i: number, j: number): void {
    const { alpha, gradient: G, y, qd, activeSize } = this;
    const Qi = this.q.getRow(i, activeSize);
    const Qj = this.q.getRow(j, activeSize);
    const cI = this.upper(i);
    const cJ = this.upper(j);
    const oldAlphaI = alpha[i];
    const oldAlphaJ = alpha[j];
    if (y[i] !== y[j]) {
      let quad = qd[i] + qd[j] + 2 * Qi[j];
      if (quad <= 0) quad = TAU;
      const delta = (-G[i] - G[j]) / quad;
      const diff = alpha[i] - alpha[j];
      alpha[i] += delta;
      alpha[j] += delta;
      if (diff > 0) {
        if (alpha[j] < 0) {
          alpha[j] = 0;
          alpha[i] = diff;
        }
      } else if (alpha[i] < 0) {
        alpha[i] = 0;
        alpha[j] = -diff;
      }
      if (diff > cI - cJ) {
        if (alpha[i] > cI) {
          alpha[i] = cI;
          alpha[j] = cI - diff;
        }
      } else if (alpha[j] > cJ) {
        alpha[j] = cJ;
        alpha[i] = cJ + diff;
      }
    } else {
      let quad = qd[i] + qd[j] - 2 * Qi[j];
      if (quad <= 0) quad = TAU;
      const delta = (G[i] - G[j]) / quad;
      const sum = alpha[i] + alpha[j];
      alpha[i] -= delta;
      alpha[j] += delta;
      if (sum > cI) {
        if (alpha[i] > cI) {
          alpha[i] = cI;
          alpha[j] = sum - cI;
        }
      } else if (alpha[j] < 0) {
        alpha[j] = 0;
        alpha[i] = sum;
      }
      if (sum > cJ) {
        if (alpha[j] > cJ) {
          alpha[j] = cJ;
          alpha[i] = sum - cJ;
        }
      } else if (alpha[i] < 0) {
        alpha[i] = 0;
        alpha[j] = sum;
      }
    }

    const deltaI = alpha[i] - oldAlphaI;
    const deltaJ = alpha[j] - oldAlphaJ;
    // G[k] += Qi[k]·ΔαI + Qj[k]·ΔαJ. rowI still holds Qi's first activeSize entries: selectWorkingSet copied them for
    // this same i, and nothing is swapped in between.
    this.rowJ.set(Qj.subarray(0, activeSize));
    this.kernel.exports.smoUpdateGradient(this.layout.gradient, this.layout.rowI, this.layout.rowJ, deltaI, deltaJ, activeSize);

    const wasUpperI = this.status[i] === UPPER_BOUND;
    const wasUpperJ = this.status[j] === UPPER_BOUND;
    this.updateStatus(i);
    this.updateStatus(j);
    if (wasUpperI !== (this.status[i] === UPPER_BOUND)) this.addToGradientBar(i, wasUpperI ? -cI : cI);
    if (wasUpperJ !== (this.status[j] === UPPER_BOUND)) this.addToGradientBar(j, wasUpperJ ? -cJ : cJ);
  }

  private addToGradientBar(i: number, factor: number): void {
    const { l, gradientBar: Gbar } = this;
    const Qi = this.q.getRow(i, l);
    for (let k = 0; k < l; k++) Gbar[k] += factor * Qi[k];
  }

  /**
   * WSS3: i maximises −yᵢ∇ᵢf over I_up; j minimises the second-order decrease −b²/a over I_low among
   * variables violating with i. False when the maximal violation is below eps (optimal on the active set).
   */
  private selectWorkingSet(): boolean {
    const { activeSize, layout, results } = this;
    const { smoMaxViolation, smoSecondIndex } = this.kernel.exports;
    // Masked-out variables compute NaN, which fails every comparison in the kernels (no unpredictable branch).
    smoMaxViolation(layout.gradient, layout.ySign, layout.upMask, activeSize, layout.results);
    const gMax = results[0];
    const i = results[1];
    if (i === -1) return false;
    const Qi = this.q.getRow(i, activeSize);
    this.rowI.set(Qi.subarray(0, activeSize));
    smoSecondIndex(layout.gradient, layout.ySign, layout.lowMask, layout.diagonal, layout.rowI, activeSize, i, gMax, TAU, layout.results);
    const gMax2 = results[2];
    const gMinIndex = results[3];
    if (gMax + gMax2 < this.eps || gMinIndex === -1) return false;
    this.selectedI = i;
    this.selectedJ = gMinIndex;
    return true;
  }

  private isShrinkable(i: number, gMax1: number, gMax2: number): boolean {
    const g = this.gradient[i];
    if (this.status[i] === UPPER_BOUND) return this.y[i] === 1 ? -g > gMax1 : -g > gMax2;
    if (this.status[i] === LOWER_BOUND) return this.y[i] === 1 ? g > gMax2 : g > gMax1;
    return false;
  }

  private doShrinking(): void {
    const { gradient: G, y, status } = this;
    let gMax1 = -Infinity; // max { −yᵢ∇ᵢf | i ∈ I_up }
    let gMax2 = -Infinity; // max { yᵢ∇ᵢf | i ∈ I_low }
    for (let i = 0; i < this.activeSize; i++) {
      if (y[i] === 1) {
        if (status[i] !== UPPER_BOUND && -G[i] >= gMax1) gMax1 = -G[i];
        if (status[i] !== LOWER_BOUND && G[i] >= gMax2) gMax2 = G[i];
      } else {
        if (status[i] !== UPPER_BOUND && -G[i] >= gMax2) gMax2 = -G[i];
        if (status[i] !== LOWER_BOUND && G[i] >= gMax1) gMax1 = G[i];
      }
    }
    // Near the end, bring every variable back once so the final answer is checked on all of them.
    if (!this.unshrink && gMax1 + gMax2 <= this.eps * 10) {
      this.unshrink = true;
      this.reconstructGradient();
      this.activeSize = this.l;
    }
    for (let i = 0; i < this.activeSize; i++) {
      if (!this.isShrinkable(i, gMax1, gMax2)) continue;
      this.activeSize--;
      while (this.activeSize > i) {
        if (!this.isShrinkable(this.activeSize, gMax1, gMax2)) {
          this.swapIndex(i, this.activeSize);
          break;
        }
        this.activeSize--;
      }
    }
  }

  private swapIndex(i: number, j: number): void {
    this.q.swapIndex(i, j);
    swapFloat(this.qd, i, j);
    swapInt8(this.y, i, j);
    swapFloat(this.ySign, i, j);
    swapFloat(this.upMask, i, j);
    swapFloat(this.lowMask, i, j);
    swapFloat(this.gradient, i, j);
    swapUint8(this.status, i, j);
    swapFloat(this.alpha, i, j);
    swapFloat(this.p, i, j);
    swapInt32(this.activeSet, i, j);
    swapFloat(this.gradientBar, i, j);
  }

  /** Rebuilds G of the shrunk variables from Ḡ and the free variables. */
  private reconstructGradient(): void {
    const { l, activeSize, alpha, gradient: G, gradientBar: Gbar, p, status } = this;
    if (activeSize === l) return;
    for (let j = activeSize; j < l; j++) G[j] = Gbar[j] + p[j];
    let free = 0;
    for (let j = 0; j < activeSize; j++) if (status[j] === FREE) free++;
    if (free * l > 2 * activeSize * (l - activeSize)) {
      for (let i = activeSize; i < l; i++) {
        const Qi = this.q.getRow(i, activeSize);
        let g = G[i];
        for (let j = 0; j < activeSize; j++) if (status[j] === FREE) g += alpha[j] * Qi[j];
        G[i] = g;
      }
    } else {
      for (let i = 0; i < activeSize; i++) {
        if (status[i] !== FREE) continue;
        const Qi = this.q.getRow(i, l);
        const alphaI = alpha[i];
        for (let j = activeSize; j < l; j++) G[j] += alphaI * Qi[j];
      }
    }
  }

  /** ρ: the mean of yᵢ∇ᵢf over free variables, else the middle of the feasible interval. */
  private calculateRho(): number {
    const { gradient: G, y, status } = this;
    let free = 0;
    let sumFree = 0;
    let ub = Infinity;
    let lb = -Infinity;
    for (let i = 0; i < this.activeSize; i++) {
      const yG = y[i] * G[i];
      if (status[i] === UPPER_BOUND) {
        if (y[i] === -1) ub = Math.min(ub, yG);
        else lb = Math.max(lb, yG);
      } else if (status[i] === LOWER_BOUND) {
        if (y[i] === 1) ub = Math.min(ub, yG);
        else lb = Math.max(lb, yG);
      } else {
        free++;
        sumFree += yG;
      }
    }
    return free > 0 ? sumFree / free : (ub + lb) / 2;
  }
}

function swapFloat(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

function swapInt8(a: Int8Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

function swapUint8(a: Uint8Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

function swapInt32(a: Int32Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

// ---------------------------------------------------------------------------------------------------------
// The two Q matrices

/**
 * C-SVC's Q: Qᵢⱼ = yᵢyⱼK(xᵢ, xⱼ) over a subset of the samples (`rows`, indices into the kernel data),
 * cached in solver order and swapped with it, as libsvm's SVC_Q.
 */
export class ClassificationQ implements QMatrix, RowFiller {
  readonly diagonal: Float64Array;
  private readonly rowOf: Int32Array;
  /** yᵢ as ±1.0: multiplying by it is exact and avoids a data-dependent branch per entry. */
  private readonly sign: Float64Array;
  private readonly cache: RowCache;

  constructor(
    private readonly kernel: KernelData,
    rows: Int32Array,
    y: Int8Array,
    cacheBytes?: number,
    arena?: RowArena,
  ) {
    const l = rows.length;
    this.rowOf = Int32Array.from(rows);
    this.sign = Float64Array.from(y);
    this.cache = new RowCache(l, l, cacheBytes, arena);
    this.diagonal = new Float64Array(l);
    for (let i = 0; i < l; i++) this.diagonal[i] = kernel.value(rows[i], rows[i]);
  }

  getRow(i: number, len: number): Float64Array {
    return this.cache.get(i, len, this);
  }

  fillRow(i: number, from: number, to: number, row: Float64Array): void {
    this.kernel.fill(this.rowOf[i], this.rowOf, from, to, row, this.sign, this.sign[i]);
  }

  swapIndex(i: number, j: number): void {
    this.cache.swap(i, j);
    swapInt32(this.rowOf, i, j);
    swapFloat(this.sign, i, j);
    swapFloat(this.diagonal, i, j);
  }
}

/**
 * epsilon-SVR's Q over 2l variables (αᵢ⁺ then αᵢ⁻): Qᵢⱼ = sᵢsⱼK(x_real(i), x_real(j)) with s = +1, −1.
 * Kernel rows are cached by sample (never swapped); a requested Q row is gathered into one of two buffers,
 * as libsvm's SVR_Q.
 */
export class RegressionQ implements QMatrix, RowFiller {
  readonly diagonal: Float64Array;
  private readonly realIndex: Int32Array;
  private readonly sign: Int8Array;
  private readonly samples: Int32Array;
  private readonly ones: Float64Array;
  private readonly cache: RowCache;
  private readonly buffers: [Float64Array, Float64Array];
  private nextBuffer = 0;

  constructor(
    private readonly kernel: KernelData,
    cacheBytes?: number,
  ) {
    const l = kernel.rows;
    this.samples = new Int32Array(l);
    for (let i = 0; i < l; i++) this.samples[i] = i;
    this.ones = new Float64Array(l).fill(1);
    this.realIndex = new Int32Array(2 * l);
    this.sign = new Int8Array(2 * l);
    this.diagonal = new Float64Array(2 * l);
    for (let k = 0; k < l; k++) {
      this.sign[k] = 1;
      this.sign[k + l] = -1;
      this.realIndex[k] = k;
      this.realIndex[k + l] = k;
      this.diagonal[k] = kernel.value(k, k);
      this.diagonal[k + l] = this.diagonal[k];
    }
    this.cache = new RowCache(l, l, cacheBytes);
    this.buffers = [new Float64Array(2 * l), new Float64Array(2 * l)];
  }

  getRow(i: number, len: number): Float64Array {
    const l = this.kernel.rows;
    const kernelRow = this.cache.get(this.realIndex[i], l, this);
    const out = this.buffers[this.nextBuffer];
    this.nextBuffer = 1 - this.nextBuffer;
    const { sign, realIndex } = this;
    const si = sign[i];
    for (let j = 0; j < len; j++) out[j] = si * sign[j] * kernelRow[realIndex[j]];
    return out;
  }

  fillRow(sample: number, from: number, to: number, row: Float64Array): void {
    this.kernel.fill(sample, this.samples, from, to, row, this.ones, 1);
  }

  swapIndex(i: number, j: number): void {
    swapInt8(this.sign, i, j);
    swapInt32(this.realIndex, i, j);
    swapFloat(this.diagonal, i, j);
  }
}
