/**
 * libsvm's svm_train for C-SVC (one-vs-one) and epsilon-SVR on top of the SMO solver, producing libsvm's
 * model layout: support vectors grouped by class block, dual coefficients per class pair, one ρ per pair.
 * Classes are taken in ascending index order (scikit-learn sorts libsvm's labels), rows in their original
 * order within a class, class i as +1 against class j as −1 for i < j: the subproblems libsvm solves.
 */
import { SpotmlError } from '../../errors.js';
import type { Matrix } from '../../data/matrix.js';
import { KernelData, RowArena, type KernelKind } from './kernel.js';
import { ClassificationQ, RegressionQ, solveSmo } from './smo.js';

export interface SvmTrainOptions {
  readonly kernel: KernelKind;
  readonly gamma: number;
  readonly C: number;
  /** epsilon-SVR's insensitive zone (regression only). */
  readonly epsilon: number;
  readonly tolerance: number;
  readonly shrinking?: boolean;
  /** Kernel-row cache size per subproblem in bytes (scikit-learn's cache_size, 200 MB). */
  readonly cacheBytes?: number;
  readonly signal?: AbortSignal;
}

/** A trained model in libsvm's layout. */
export interface TrainedSvm {
  /** Class index of each block, ascending (classification); empty for regression. */
  readonly labels: number[];
  /** Support vectors per block (one block for regression). */
  readonly counts: number[];
  /** Training row of each support vector, block by block. */
  readonly svRows: Int32Array;
  /** (blocks − 1) × nSV dual coefficients yᵢαᵢ, row-major; one row for regression. */
  readonly coef: Float64Array;
  /** One per block pair (i < j), or the single regression offset. */
  readonly rho: Float64Array;
  /** Subproblems that hit the iteration cap before meeting the tolerance. */
  readonly unconverged: number;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SpotmlError('USAGE', 'training was cancelled');
}

/** C-SVC, one-vs-one over the classes present in y (class indices). */
export function trainClassifier(X: Matrix, y: ArrayLike<number>, options: SvmTrainOptions): TrainedSvm {
  const n = X.rows;
  let maxClass = 0;
  for (let i = 0; i < n; i++) maxClass = Math.max(maxClass, y[i]);
  const classCounts = new Int32Array(maxClass + 1);
  for (let i = 0; i < n; i++) classCounts[y[i]]++;
  const labels: number[] = [];
  for (let c = 0; c <= maxClass; c++) if (classCounts[c] > 0) labels.push(c);
  const blocks = labels.length;
  const blockOf = new Int32Array(maxClass + 1).fill(-1);
  labels.forEach((c, b) => (blockOf[c] = b));
  const start = new Int32Array(blocks + 1);
  for (let b = 0; b < blocks; b++) start[b + 1] = start[b] + classCounts[labels[b]];
  // grouped[k]: the training row at grouped position k (stable within a class).
  const grouped = new Int32Array(n);
  const cursor = start.slice(0, blocks);
  for (let i = 0; i < n; i++) grouped[cursor[blockOf[y[i]]]++] = i;
  // The kernel sees the samples in grouped order, so a pair's samples are two contiguous runs: its kernel rows
  // read memoised values and sample rows in sequence. Each value is the same dot product of the same rows.
  const d = X.cols;
  const groupedData = new Float64Array(n * d);
  for (let k = 0; k < n; k++) groupedData.set(X.data.subarray(grouped[k] * d, grouped[k] * d + d), k * d);
  const kernel = new KernelData(groupedData, n, d, options.kernel, options.gamma);
  const arena = new RowArena();

  const pairs = (blocks * (blocks - 1)) / 2;
  const pairAlpha: Float64Array[] = new Array<Float64Array>(pairs);
  const rho = new Float64Array(pairs);
  const nonzero = new Uint8Array(n);
  let unconverged = 0;
  let p = 0;
  for (let a = 0; a < blocks; a++) {
    for (let b = a + 1; b < blocks; b++) {
      checkAborted(options.signal);
      const countA = start[a + 1] - start[a];
      const countB = start[b + 1] - start[b];
      const l = countA + countB;
      const rows = new Int32Array(l);
      for (let k = 0; k < countA; k++) rows[k] = start[a] + k;
      for (let k = 0; k < countB; k++) rows[countA + k] = start[b] + k;
      const signs = new Int8Array(l);
      signs.fill(1, 0, countA);
      signs.fill(-1, countA);
      const solution = solveSmo({
        q: new ClassificationQ(kernel, rows, signs, options.cacheBytes, arena),
        linear: new Float64Array(l).fill(-1),
        y: signs,
        alpha: new Float64Array(l),
        cPositive: options.C,
        cNegative: options.C,
        tolerance: options.tolerance,
        shrinking: options.shrinking ?? true,
      });
      if (!solution.converged) unconverged++;
      const alpha = solution.alpha;
      for (let k = 0; k < l; k++) {
        alpha[k] *= signs[k];
        if (alpha[k] !== 0) nonzero[k < countA ? start[a] + k : start[b] + k - countA] = 1;
      }
      pairAlpha[p] = alpha;
      rho[p] = solution.rho;
      p++;
    }
  }

  const counts = new Array<number>(blocks).fill(0);
  const svStart = new Int32Array(blocks + 1);
  for (let b = 0; b < blocks; b++) {
    for (let k = start[b]; k < start[b + 1]; k++) counts[b] += nonzero[k];
    svStart[b + 1] = svStart[b] + counts[b];
  }
  const totalSv = svStart[blocks];
  const svRows = new Int32Array(totalSv);
  let s = 0;
  for (let k = 0; k < n; k++) if (nonzero[k]) svRows[s++] = grouped[k];
  // Pair (a, b): coefficients of a's vectors go in row b − 1, of b's vectors in row a (libsvm's sv_coef).
  const coef = new Float64Array(Math.max(1, blocks - 1) * totalSv);
  p = 0;
  for (let a = 0; a < blocks; a++) {
    for (let b = a + 1; b < blocks; b++) {
      const alpha = pairAlpha[p++];
      const countA = start[a + 1] - start[a];
      let q = svStart[a];
      for (let k = 0; k < countA; k++) if (nonzero[start[a] + k]) coef[(b - 1) * totalSv + q++] = alpha[k];
      q = svStart[b];
      for (let k = 0; k < start[b + 1] - start[b]; k++) if (nonzero[start[b] + k]) coef[a * totalSv + q++] = alpha[countA + k];
    }
  }
  return { labels, counts, svRows, coef, rho, unconverged };
}

/** epsilon-SVR: 2l dual variables (α⁺, α⁻), coefficient α⁺ − α⁻ per sample. */
export function trainRegressor(X: Matrix, y: ArrayLike<number>, options: SvmTrainOptions): TrainedSvm {
  checkAborted(options.signal);
  const l = X.rows;
  const kernel = new KernelData(X.data, l, X.cols, options.kernel, options.gamma);
  const linear = new Float64Array(2 * l);
  const signs = new Int8Array(2 * l);
  for (let i = 0; i < l; i++) {
    linear[i] = options.epsilon - y[i];
    signs[i] = 1;
    linear[i + l] = options.epsilon + y[i];
    signs[i + l] = -1;
  }
  const solution = solveSmo({
    q: new RegressionQ(kernel, options.cacheBytes),
    linear,
    y: signs,
    alpha: new Float64Array(2 * l),
    cPositive: options.C,
    cNegative: options.C,
    tolerance: options.tolerance,
    shrinking: options.shrinking ?? true,
  });
  const rows: number[] = [];
  const coefs: number[] = [];
  for (let i = 0; i < l; i++) {
    const coefficient = solution.alpha[i] - solution.alpha[i + l];
    if (coefficient !== 0) {
      rows.push(i);
      coefs.push(coefficient);
    }
  }
  return {
    labels: [],
    counts: [rows.length],
    svRows: Int32Array.from(rows),
    coef: Float64Array.from(coefs),
    rho: Float64Array.of(solution.rho),
    unconverged: solution.converged ? 0 : 1,
  };
}
