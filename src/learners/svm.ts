/**
 * Support vector machines (scikit-learn's SVC / SVR): libsvm's algorithm in TypeScript — the SMO solver with
 * second-order working-set selection, shrinking and a kernel-row cache lives in ./svm/ (smo.ts, kernel.ts,
 * train.ts). The trained model is plain JSON (support vectors, dual coefficients, rho in libsvm's layout) and
 * prediction evaluates it here, as libsvm's svm_predict does.
 *
 * Classification is libsvm's one-vs-one vote, classes taken in ascending index order (scikit-learn's order).
 * probability=true adds Platt scaling as libsvm's -b 1 does: per class pair a sigmoid fitted to decision values
 * from an internal 5-fold cross-validation, pairs coupled by Wu–Lin–Weng's method. The folds come from the fit
 * seed, because libsvm's own -b 1 draws them from a C rand() shared by every fit in the process.
 * As in scikit-learn, predict keeps the vote, so it can disagree with argmax(predictProba) near boundaries.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, takeRows, type Matrix } from '../data/matrix.js';
import { resolveParams, type ResolvedParams } from './params.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
import { checkModelJson, checkNoMissing, malformed } from './preprocess.js';
import { Rng, hashSeed } from './rng.js';
import { kernelAgainst, RBF_ROWS_PER_CALL, RbfRows } from './svm/kernel.js';
import { trainClassifier, trainRegressor } from './svm/train.js';
import type { FitOptions, FittedModel, LearnerFamily, ParamSpec, SerializedModel, Task, TrainingData } from './types.js';
import { serializedModel } from './serialized.js';

const FAMILY = 'svm';
const TASKS: readonly Task[] = ['classification', 'regression'];

const SVM_PARAMS = {
  C: {
    type: 'float',
    default: 1,
    low: 1e-8,
    high: 1e8,
    log: true,
    description: 'Penalty on margin violations (larger = fits the training data more closely).',
    search: { low: 1e-2, high: 1e3, log: true },
  },
  kernel: { type: 'categorical', default: 'rbf', choices: ['rbf', 'linear'], description: 'Kernel: rbf (Gaussian) or linear.' },
  gamma: {
    type: 'float',
    default: 0,
    low: 0,
    high: 1e6,
    description: "RBF width; 0 means 'scale', 1/(n_features·Var(X)) as scikit-learn.",
    search: { low: 1e-4, high: 10, log: true },
  },
  epsilon: {
    type: 'float',
    default: 0.1,
    low: 0,
    high: 1e8,
    description: 'Regression only: errors smaller than this cost nothing.',
    search: { low: 1e-3, high: 1, log: true },
  },
  probability: {
    type: 'bool',
    default: false,
    description: 'Classification only: fit Platt probabilities (5 extra fits; needed for predictProba).',
    search: false,
  },
  tol: { type: 'float', default: 1e-3, low: 1e-12, high: 1, log: true, description: 'Solver stopping tolerance.', search: false },
} as const satisfies Record<string, ParamSpec>;

type SvmParams = ResolvedParams<typeof SVM_PARAMS>;

// ---------------------------------------------------------------------------------------------------------
// Training

/** One training run's model, support vectors copied out of the training rows. */
interface RawSvm {
  /** Class index of each class block (ascending), classification only. */
  labels: number[];
  /** Support vectors per block. */
  counts: number[];
  /** Support vectors, nSV × nFeatures row-major, block by block. */
  sv: number[];
  /** (blocks − 1) × nSV dual coefficients, row-major. */
  coef: number[];
  /** One per block pair (i<j). */
  rho: number[];
}

function trainSvm(X: Matrix, y: ArrayLike<number>, task: Task, p: SvmParams, gamma: number, signal?: AbortSignal): RawSvm {
  const options = { kernel: p.kernel === 'rbf' ? ('rbf' as const) : ('linear' as const), gamma, C: p.C, epsilon: p.epsilon, tolerance: p.tol, signal };
  const trained = task === 'classification' ? trainClassifier(X, y, options) : trainRegressor(X, y, options);
  const d = X.cols;
  const sv = new Array<number>(trained.svRows.length * d);
  for (let s = 0; s < trained.svRows.length; s++) {
    const offset = trained.svRows[s] * d;
    for (let j = 0; j < d; j++) sv[s * d + j] = X.data[offset + j];
  }
  return { labels: trained.labels, counts: trained.counts, sv, coef: Array.from(trained.coef), rho: Array.from(trained.rho) };
}

// ---------------------------------------------------------------------------------------------------------
// Prediction from the saved state

interface SvmState {
  kernel: 'rbf' | 'linear';
  gamma: number;
  labels: number[];
  counts: number[];
  /** Support vectors, nSV × nFeatures row-major. */
  sv: number[];
  coef: number[];
  rho: number[];
  /** Platt sigmoid per class pair (a<b by class index, over all nClasses), when probability=true. */
  probA?: number[];
  probB?: number[];
}

function stateFrom(raw: RawSvm, kernel: 'rbf' | 'linear', gamma: number): SvmState {
  return { kernel, gamma, labels: raw.labels, counts: raw.counts, sv: raw.sv, coef: raw.coef, rho: raw.rho };
}

/** Index of the pair (a, b), a < b, among all class pairs in lexicographic order. */
function pairIndex(a: number, b: number, k: number): number {
  return a * k - (a * (a + 1)) / 2 + (b - a - 1);
}

/** Evaluates a state: kernel values per SV, then libsvm's per-pair sums. */
class SvmEvaluator {
  private readonly sv: Float64Array;
  private readonly coef: Float64Array;
  private readonly starts: Int32Array;
  private readonly rho: Float64Array;
  private readonly kernelValues: Float64Array;
  /** Block-pair decision values of one row (pairDecisions). */
  private readonly rowSums: Float64Array;
  /** rbf kernel values and decision values for many rows at a time (null for the linear kernel). */
  private readonly rbfRows: RbfRows | null;
  /** Kernel values of a block of rows, RBF_ROWS_PER_CALL × nSV; allocated on first use. */
  private blockValues: Float64Array | null = null;
  /** Block-pair decision values of a block of rows (linear kernel), RBF_ROWS_PER_CALL × pairs; on first use. */
  private blockSums: Float64Array | null = null;

  constructor(
    readonly state: SvmState,
    private readonly d: number,
  ) {
    this.sv = Float64Array.from(state.sv);
    this.coef = Float64Array.from(state.coef);
    this.starts = new Int32Array(state.counts.length + 1);
    for (let b = 0; b < state.counts.length; b++) this.starts[b + 1] = this.starts[b] + state.counts[b];
    this.rho = Float64Array.from(state.rho);
    this.kernelValues = new Float64Array(this.starts[state.counts.length]);
    this.rowSums = new Float64Array(this.rho.length);
    this.rbfRows =
      state.kernel === 'rbf' ? new RbfRows(this.sv, this.kernelValues.length, d, state.gamma, { coef: this.coef, starts: this.starts, rho: this.rho }) : null;
  }

  /** Block pairs (i < j) per row in pairSumBlock's result. */
  get pairCount(): number {
    return this.rowSums.length;
  }

  /**
   * Decision values of every block pair (i < j, in order) for rows first..first+rows−1 (rows ≤ RBF_ROWS_PER_CALL) at
   * [(r − first)·pairCount + p] of the returned block, valid until the next call; the same values pairDecisions
   * computes row by row (for rbf by the WebAssembly kernel svmPairSums, same sums in the same order).
   */
  pairSumBlock(x: Float64Array, first: number, rows: number): Float64Array {
    if (this.rbfRows !== null) return this.rbfRows.pairSums(x, first, rows);
    const values = this.kernelBlock(x, first, rows);
    const nSv = this.kernelValues.length;
    this.blockSums ??= new Float64Array(RBF_ROWS_PER_CALL * this.pairCount);
    for (let r = 0; r < rows; r++) this.pairSumsFrom(values, r * nSv, this.blockSums, r * this.pairCount);
    return this.blockSums;
  }

  get supportVectorCount(): number {
    return this.kernelValues.length;
  }

  /**
   * Kernel values K(x_r, sv_s) of rows first..first+rows−1 (rows ≤ RBF_ROWS_PER_CALL) at [(r − first)·nSV + s] of
   * the returned block, valid until the next call; the same values as pairDecisions computes row by row.
   */
  kernelBlock(x: Float64Array, first: number, rows: number): Float64Array {
    const count = this.kernelValues.length;
    this.blockValues ??= new Float64Array(RBF_ROWS_PER_CALL * count);
    const out = this.blockValues;
    if (this.rbfRows !== null) {
      this.rbfRows.fill(x, first, rows, out);
    } else {
      for (let r = 0; r < rows; r++) kernelAgainst(this.state.kernel, this.state.gamma, x, (first + r) * this.d, this.sv, count, this.d, out.subarray(r * count));
    }
    return out;
  }

  /** The regression value from kernel values at values[base …). */
  regressFrom(values: Float64Array, base: number): number {
    let sum = 0;
    for (let s = 0; s < this.kernelValues.length; s++) sum += this.coef[s] * values[base + s];
    return sum - this.state.rho[0];
  }

  private computeKernel(x: Float64Array, offset: number): void {
    const { kernelValues } = this;
    kernelAgainst(this.state.kernel, this.state.gamma, x, offset, this.sv, kernelValues.length, this.d, kernelValues);
  }

  /**
   * Decision value of every class pair (a<b by class index; positive favours a) into `out`
   * (length nClasses·(nClasses−1)/2); pairs involving a class absent from training get NaN.
   */
  pairDecisions(x: Float64Array, offset: number, nClasses: number, out: Float64Array): void {
    this.computeKernel(x, offset);
    this.decisionsFrom(this.kernelValues, nClasses, out);
  }

  /** libsvm's per-pair sums over kernel values K(x, sv_s) computed once per support vector. */
  private decisionsFrom(kernelValues: Float64Array, nClasses: number, out: Float64Array): void {
    this.pairSumsFrom(kernelValues, 0, this.rowSums, 0);
    this.placeDecisions(this.rowSums, 0, nClasses, out);
  }

  /** out[outBase + p] = Σ coef·K over blocks i and j of pair p (i < j, in order) − ρ_p, K at values[base + s]. */
  private pairSumsFrom(values: Float64Array, base: number, out: Float64Array, outBase: number): void {
    const { coef, starts, rho } = this;
    const blocks = starts.length - 1;
    const totalSv = this.kernelValues.length;
    let p = 0;
    for (let i = 0; i < blocks; i++) {
      for (let j = i + 1; j < blocks; j++) {
        let sum = 0;
        const rowI = (j - 1) * totalSv;
        const rowJ = i * totalSv;
        for (let s = starts[i]; s < starts[i + 1]; s++) sum += coef[rowI + s] * values[base + s];
        for (let s = starts[j]; s < starts[j + 1]; s++) sum += coef[rowJ + s] * values[base + s];
        out[outBase + p] = sum - rho[p];
        p++;
      }
    }
  }

  /**
   * Block-pair decisions sums[base + p] into `out` by class pair (a<b by class index; positive favours a,
   * length nClasses·(nClasses−1)/2); pairs involving a class absent from training get NaN.
   */
  placeDecisions(sums: Float64Array, base: number, nClasses: number, out: Float64Array): void {
    out.fill(NaN);
    const { labels } = this.state;
    const blocks = labels.length;
    let p = 0;
    for (let i = 0; i < blocks; i++) {
      for (let j = i + 1; j < blocks; j++) {
        const decision = sums[base + p++];
        const a = labels[i];
        const b = labels[j];
        if (a < b) out[pairIndex(a, b, nClasses)] = decision;
        else out[pairIndex(b, a, nClasses)] = -decision;
      }
    }
  }
}

/** One-vs-one vote over class indices in ascending order; ties go to the lower class. */
function vote(decisions: Float64Array, nClasses: number, votes: Int32Array): number {
  votes.fill(0);
  for (let a = 0; a < nClasses; a++) {
    for (let b = a + 1; b < nClasses; b++) {
      const decision = decisions[pairIndex(a, b, nClasses)];
      if (decision !== decision) continue;
      votes[decision > 0 ? a : b]++;
    }
  }
  let best = 0;
  for (let c = 1; c < nClasses; c++) if (votes[c] > votes[best]) best = c;
  return best;
}

const MIN_PROB = 1e-7;

function sigmoidPredict(decision: number, A: number, B: number): number {
  const fApB = decision * A + B;
  return fApB >= 0 ? Math.exp(-fApB) / (1 + Math.exp(-fApB)) : 1 / (1 + Math.exp(fApB));
}

class SvmModel implements FittedModel {
  readonly family = FAMILY;
  readonly nClasses?: number;
  readonly predictProba?: (X: Matrix) => Matrix;
  private readonly evaluator: SvmEvaluator;

  constructor(
    readonly task: Task,
    readonly nFeatures: number,
    nClasses: number | undefined,
    readonly params: SvmParams,
    private readonly state: SvmState,
  ) {
    this.nClasses = nClasses;
    this.evaluator = new SvmEvaluator(state, nFeatures);
    if (task === 'classification' && state.probA !== undefined) this.predictProba = (X: Matrix) => this.probabilities(X);
  }

  predict(X: Matrix): Float64Array {
    this.check(X);
    const { evaluator } = this;
    const out = new Float64Array(X.rows);
    const nSv = evaluator.supportVectorCount;
    const regression = this.task === 'regression';
    const k = this.nClasses ?? 0;
    const decisions = new Float64Array((k * (k - 1)) / 2);
    const votes = new Int32Array(k);
    const pairs = evaluator.pairCount;
    for (let first = 0; first < X.rows; first += RBF_ROWS_PER_CALL) {
      const rows = Math.min(RBF_ROWS_PER_CALL, X.rows - first);
      if (regression) {
        const values = evaluator.kernelBlock(X.data, first, rows);
        for (let r = 0; r < rows; r++) out[first + r] = evaluator.regressFrom(values, r * nSv);
        continue;
      }
      const sums = evaluator.pairSumBlock(X.data, first, rows);
      for (let r = 0; r < rows; r++) {
        evaluator.placeDecisions(sums, r * pairs, k, decisions);
        out[first + r] = vote(decisions, k, votes);
      }
    }
    return out;
  }

  toJSON(): SerializedModel {
    return serializedModel(this, this.state);
  }

  private check(X: Matrix): void {
    checkPredictInput(X, this.nFeatures, FAMILY);
    checkNoMissing(X, FAMILY);
  }

  private probabilities(X: Matrix): Matrix {
    this.check(X);
    const k = this.nClasses ?? 0;
    const probA = this.state.probA ?? [];
    const probB = this.state.probB ?? [];
    const present = new Set(this.state.labels);
    const classes = [...present].sort((a, b) => a - b);
    const m = classes.length;
    const decisions = new Float64Array((k * (k - 1)) / 2);
    const pairwise = new Float64Array(m * m);
    const coupled = new Float64Array(m);
    const out = new Float64Array(X.rows * k);
    const pairs = this.evaluator.pairCount;
    let sums: Float64Array = new Float64Array(0);
    for (let i = 0; i < X.rows; i++) {
      const r = i % RBF_ROWS_PER_CALL;
      if (r === 0) sums = this.evaluator.pairSumBlock(X.data, i, Math.min(RBF_ROWS_PER_CALL, X.rows - i));
      this.evaluator.placeDecisions(sums, r * pairs, k, decisions);
      for (let u = 0; u < m; u++) {
        for (let v = u + 1; v < m; v++) {
          const p = pairIndex(classes[u], classes[v], k);
          const r = Math.min(Math.max(sigmoidPredict(decisions[p], probA[p], probB[p]), MIN_PROB), 1 - MIN_PROB);
          pairwise[u * m + v] = r;
          pairwise[v * m + u] = 1 - r;
        }
      }
      if (m === 2) {
        coupled[0] = pairwise[1];
        coupled[1] = 1 - pairwise[1];
      } else {
        coupleProbabilities(pairwise, m, coupled);
      }
      let sum = 0;
      for (let u = 0; u < m; u++) sum += coupled[u];
      for (let u = 0; u < m; u++) out[i * k + classes[u]] = coupled[u] / sum;
    }
    return createMatrix(X.rows, k, out);
  }
}

/** Wu, Lin & Weng (2004) method 2, as libsvm's multiclass_probability: r[i·k+j] = P(i | i or j). */
export function coupleProbabilities(r: Float64Array, k: number, p: Float64Array): void {
  const Q = new Float64Array(k * k);
  const Qp = new Float64Array(k);
  for (let t = 0; t < k; t++) {
    p[t] = 1 / k;
    Q[t * k + t] = 0;
    for (let j = 0; j < k; j++) {
      if (j === t) continue;
      Q[t * k + t] += r[j * k + t] * r[j * k + t];
      Q[t * k + j] = -r[j * k + t] * r[t * k + j];
    }
  }
  const maxIter = Math.max(100, k);
  const eps = 0.005 / k;
  for (let iter = 0; iter < maxIter; iter++) {
    let pQp = 0;
    for (let t = 0; t < k; t++) {
      Qp[t] = 0;
      for (let j = 0; j < k; j++) Qp[t] += Q[t * k + j] * p[j];
      pQp += p[t] * Qp[t];
    }
    let maxError = 0;
    for (let t = 0; t < k; t++) maxError = Math.max(maxError, Math.abs(Qp[t] - pQp));
    if (maxError < eps) break;
    for (let t = 0; t < k; t++) {
      const diff = (-Qp[t] + pQp) / Q[t * k + t];
      p[t] += diff;
      pQp = (pQp + diff * (diff * Q[t * k + t] + 2 * Qp[t])) / (1 + diff) / (1 + diff);
      for (let j = 0; j < k; j++) {
        Qp[j] = (Qp[j] + diff * Q[t * k + j]) / (1 + diff);
        p[j] /= 1 + diff;
      }
    }
  }
}

/** Platt's sigmoid fitted by Newton's method with backtracking (Lin, Lin & Weng 2007), as libsvm. */
export function fitSigmoid(decisions: ArrayLike<number>, positive: ArrayLike<boolean>): { A: number; B: number } {
  const n = decisions.length;
  let prior1 = 0;
  for (let i = 0; i < n; i++) if (positive[i]) prior1++;
  const prior0 = n - prior1;
  const hiTarget = (prior1 + 1) / (prior1 + 2);
  const loTarget = 1 / (prior0 + 2);
  const target = new Float64Array(n);
  for (let i = 0; i < n; i++) target[i] = positive[i] ? hiTarget : loTarget;
  const objective = (A: number, B: number): number => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      const fApB = decisions[i] * A + B;
      f += fApB >= 0 ? target[i] * fApB + Math.log1p(Math.exp(-fApB)) : (target[i] - 1) * fApB + Math.log1p(Math.exp(fApB));
    }
    return f;
  };
  let A = 0;
  let B = Math.log((prior0 + 1) / (prior1 + 1));
  let fval = objective(A, B);
  const sigma = 1e-12;
  for (let iter = 0; iter < 100; iter++) {
    let h11 = sigma;
    let h22 = sigma;
    let h21 = 0;
    let g1 = 0;
    let g2 = 0;
    for (let i = 0; i < n; i++) {
      const fApB = decisions[i] * A + B;
      const e = Math.exp(-Math.abs(fApB));
      const p = fApB >= 0 ? e / (1 + e) : 1 / (1 + e);
      const q = 1 - p;
      const d2 = p * q;
      h11 += decisions[i] * decisions[i] * d2;
      h22 += d2;
      h21 += decisions[i] * d2;
      const d1 = target[i] - p;
      g1 += decisions[i] * d1;
      g2 += d1;
    }
    if (Math.abs(g1) < 1e-5 && Math.abs(g2) < 1e-5) break;
    const det = h11 * h22 - h21 * h21;
    const dA = -(h22 * g1 - h21 * g2) / det;
    const dB = -(-h21 * g1 + h11 * g2) / det;
    const gd = g1 * dA + g2 * dB;
    let step = 1;
    while (step >= 1e-10) {
      const newA = A + step * dA;
      const newB = B + step * dB;
      const newF = objective(newA, newB);
      if (newF < fval + 1e-4 * step * gd) {
        A = newA;
        B = newB;
        fval = newF;
        break;
      }
      step /= 2;
    }
    if (step < 1e-10) break;
  }
  return { A, B };
}

/** Seeded, class-stratified 5-fold cross-validated decision values → one Platt sigmoid per class pair. */
function fitPlatt(data: TrainingData, p: SvmParams, gamma: number, options: FitOptions): { probA: number[]; probB: number[] } {
  const k = data.nClasses ?? 0;
  const n = data.X.rows;
  const folds = 5;
  const fold = new Int32Array(n);
  const rng = new Rng(hashSeed(options.seed, FAMILY, 'platt'));
  const byClass: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) byClass[data.y[i]].push(i);
  let next = 0;
  for (const rows of byClass) {
    const order = rng.shuffle(Int32Array.from(rows));
    for (const row of order) fold[row] = next++ % folds;
  }
  const pairs = (k * (k - 1)) / 2;
  const heldOut = new Float64Array(n * pairs).fill(NaN);
  const decisions = new Float64Array(pairs);
  for (let f = 0; f < folds; f++) {
    if (options.signal?.aborted) throw new SpotmlError('USAGE', 'training was cancelled');
    const trainRows: number[] = [];
    const testRows: number[] = [];
    for (let i = 0; i < n; i++) (fold[i] === f ? testRows : trainRows).push(i);
    if (testRows.length === 0) continue;
    const trainX = takeRows(data.X, trainRows);
    const trainY = Float64Array.from(trainRows, (i) => data.y[i]);
    const present = new Set(trainY);
    let evaluator: SvmEvaluator | null = null;
    if (present.size >= 2) {
      const raw = trainSvm(trainX, trainY, 'classification', p, gamma, options.signal);
      evaluator = new SvmEvaluator(stateFrom(raw, p.kernel === 'rbf' ? 'rbf' : 'linear', gamma), data.X.cols);
    }
    for (const row of testRows) {
      if (evaluator) evaluator.pairDecisions(data.X.data, row * data.X.cols, k, decisions);
      else decisions.fill(NaN);
      for (let a = 0; a < k; a++) {
        for (let b = a + 1; b < k; b++) {
          const pi = pairIndex(a, b, k);
          // libsvm's rule when a fold lacks one class of the pair: a constant decision toward the one present.
          let decision = decisions[pi];
          if (decision !== decision) decision = present.has(a) ? 1 : present.has(b) ? -1 : 0;
          heldOut[row * pairs + pi] = decision;
        }
      }
    }
  }
  const probA = new Array<number>(pairs).fill(0);
  const probB = new Array<number>(pairs).fill(0);
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const pi = pairIndex(a, b, k);
      const values: number[] = [];
      const positive: boolean[] = [];
      for (const row of byClass[a]) {
        values.push(heldOut[row * pairs + pi]);
        positive.push(true);
      }
      for (const row of byClass[b]) {
        values.push(heldOut[row * pairs + pi]);
        positive.push(false);
      }
      if (values.length === 0) continue;
      const { A, B } = fitSigmoid(values, positive);
      probA[pi] = A;
      probB[pi] = B;
    }
  }
  return { probA, probB };
}

/** scikit-learn's gamma='scale': 1 / (n_features · variance of all of X), 1 when X is constant. */
export function scaleGamma(X: Matrix): number {
  const n = X.data.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += X.data[i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (X.data[i] - mean) ** 2;
  variance /= n;
  return variance > 0 ? 1 / (X.cols * variance) : 1;
}

export const svm: LearnerFamily = {
  name: FAMILY,
  description: 'Support vector machine (libsvm\'s SMO solver): RBF or linear kernel; strong on small, scaled data.',
  tasks: TASKS,
  params: SVM_PARAMS,
  tags: { handlesNaN: false, needsScaling: true, onnx: false, cost: 'medium' },

  async fit(data, params, options) {
    const resolved = resolveParams(FAMILY, SVM_PARAMS, params);
    checkTrainingData(data, { family: FAMILY, tasks: TASKS, allowNaN: false });
    if (data.sampleWeight !== undefined) {
      throw new SpotmlError('USAGE', `${FAMILY} does not support sample weights; drop them or pick another family`, { family: FAMILY });
    }
    const gamma = resolved.gamma > 0 ? resolved.gamma : scaleGamma(data.X);
    const kernel = resolved.kernel === 'rbf' ? 'rbf' : 'linear';
    const raw = trainSvm(data.X, data.y, data.task, resolved, gamma, options.signal);
    const state = stateFrom(raw, kernel, gamma);
    if (data.task === 'classification' && resolved.probability) Object.assign(state, fitPlatt(data, resolved, gamma, options));
    return new SvmModel(data.task, data.X.cols, data.task === 'classification' ? data.nClasses : undefined, resolved, state);
  },

  load(json) {
    checkModelJson(json, FAMILY);
    const params = resolveParams(FAMILY, SVM_PARAMS, json.params);
    const state = json.state as SvmState | null;
    if (
      !state ||
      !Array.isArray(state.sv) ||
      !Array.isArray(state.coef) ||
      !Array.isArray(state.rho) ||
      !Array.isArray(state.counts) ||
      state.sv.length !== state.counts.reduce((a, b) => a + b, 0) * json.nFeatures
    ) {
      throw malformed(FAMILY, 'support vectors missing');
    }
    if (json.task === 'classification' && json.nClasses === undefined) throw malformed(FAMILY, 'nClasses missing');
    return new SvmModel(json.task, json.nFeatures, json.nClasses, params, state);
  },
};
