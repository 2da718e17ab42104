/**
 * k-nearest neighbours (scikit-learn's KNeighborsClassifier/Regressor, brute force).
 * fit stores the training rows; predict finds the k nearest keeping the k best in a small sorted buffer
 * (ties: the earlier training row wins). Euclidean search screens four queries × two training rows at a
 * time with dot products and settles only the survivors exactly (kNearestEuclidean; a last partial group of
 * queries is padded to four); Manhattan uses the one-row loop (kNearest). Both give bitwise the same
 * neighbours and distances.
 * predict_proba as scikit-learn: class shares of the (weighted) neighbours; with weights=distance a query
 * that coincides with training rows takes its vote from those rows only.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { resolveParams, type ResolvedParams } from './params.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
import { argmaxRows, checkModelJson, checkNoMissing, malformed } from './preprocess.js';
import type { FittedModel, LearnerFamily, ParamSpec, SerializedModel, Task, TrainingData } from './types.js';
import { serializedModel } from './serialized.js';

const FAMILY = 'knn';
const TASKS: readonly Task[] = ['classification', 'regression'];

const KNN_PARAMS = {
  n_neighbors: { type: 'int', default: 5, low: 1, high: 10_000, description: 'Number of neighbours that vote.', search: { low: 1, high: 50, log: true } },
  weights: {
    type: 'categorical',
    default: 'uniform',
    choices: ['uniform', 'distance'],
    description: 'uniform: every neighbour counts the same; distance: neighbours weigh 1/distance.',
  },
  metric: {
    type: 'categorical',
    default: 'euclidean',
    choices: ['euclidean', 'manhattan'],
    description: 'Distance between rows.',
  },
} as const satisfies Record<string, ParamSpec>;

type KnnParams = ResolvedParams<typeof KNN_PARAMS>;

/** Stand-in for models that never take the Euclidean path (Manhattan). */
const NO_ROW_STATS: EuclideanRowStats = { norms: new Float64Array(0), tailRoots: new Float64Array(0), pauses: new Int32Array(0) };

interface KnnState {
  X: number[];
  y: number[];
}

class KnnModel implements FittedModel {
  readonly family = FAMILY;
  readonly nClasses?: number;
  readonly predictProba?: (X: Matrix) => Matrix;
  /**
   * Per training row norms for the Euclidean screen. Set once here: a field that later turns from null to an
   * object makes V8 throw away (and recompile) every optimised function that read it.
   */
  private readonly trainStats: EuclideanRowStats;

  constructor(
    readonly task: Task,
    readonly nFeatures: number,
    nClasses: number | undefined,
    readonly params: KnnParams,
    private readonly trainX: Float64Array,
    private readonly trainY: Float64Array,
  ) {
    this.nClasses = nClasses;
    this.trainStats = params.metric === 'euclidean' ? euclideanRowStats(trainX, trainY.length, nFeatures) : NO_ROW_STATS;
    if (task === 'classification') this.predictProba = (X: Matrix) => this.classProbabilities(X);
  }

  predict(X: Matrix): Float64Array {
    if (this.task === 'regression') return this.regress(X);
    const proba = this.classProbabilities(X);
    return argmaxRows(proba);
  }

  toJSON(): SerializedModel {
    const state: KnnState = { X: Array.from(this.trainX), y: Array.from(this.trainY) };
    return serializedModel(this, state);
  }

  private check(X: Matrix): void {
    checkPredictInput(X, this.nFeatures, FAMILY);
    checkNoMissing(X, FAMILY);
  }

  private classProbabilities(X: Matrix): Matrix {
    this.check(X);
    const k = this.params.n_neighbors;
    const nClasses = this.nClasses ?? 0;
    const out = new Float64Array(X.rows * nClasses);
    const { neighbours, distances } = this.searchAll(X);
    const byDistance = this.params.weights === 'distance';
    const squared = this.params.metric === 'euclidean';
    voteShares(neighbours, distances, this.trainY, X.rows, k, nClasses, byDistance, squared, new Float64Array(k), out);
    return createMatrix(X.rows, nClasses, out);
  }

  private regress(X: Matrix): Float64Array {
    this.check(X);
    const k = this.params.n_neighbors;
    const out = new Float64Array(X.rows);
    const { neighbours, distances } = this.searchAll(X);
    const weights = new Float64Array(k);
    for (let i = 0; i < X.rows; i++) {
      neighbourWeights(distances, i * k, this.params.weights === 'distance', this.params.metric === 'euclidean', weights);
      let sum = 0;
      let total = 0;
      for (let n = 0; n < k; n++) {
        sum += weights[n] * this.trainY[neighbours[i * k + n]];
        total += weights[n];
      }
      out[i] = sum / total;
    }
    return out;
  }

  /** The k nearest training rows of every query row: row i's neighbours/distances sit at [i·k, (i+1)·k). */
  private searchAll(X: Matrix): { neighbours: Int32Array; distances: Float64Array } {
    const k = this.params.n_neighbors;
    const nTrain = this.trainY.length;
    const d = this.nFeatures;
    const neighbours = new Int32Array(X.rows * k);
    const distances = new Float64Array(X.rows * k);
    if (this.params.metric === 'manhattan') {
      for (let i = 0; i < X.rows; i++) {
        kNearest(this.trainX, nTrain, d, X.data, i * d, true, neighbours.subarray(i * k, (i + 1) * k), distances.subarray(i * k, (i + 1) * k));
      }
      return { neighbours, distances };
    }
    kNearestEuclidean(this.trainX, this.trainStats, nTrain, d, X.data, X.rows, k, neighbours, distances);
    return { neighbours, distances };
  }
}

/**
 * Fills `neighbours`/`distances` (ascending) with the k nearest training rows to query[offset..offset+d).
 * Distances are squared Euclidean (or Manhattan); ties keep the lower training index.
 */
export function kNearest(
  train: Float64Array,
  nTrain: number,
  d: number,
  query: Float64Array,
  offset: number,
  manhattan: boolean,
  neighbours: Int32Array,
  distances: Float64Array,
): void {
  const k = neighbours.length;
  let filled = 0;
  let worst = Infinity;
  for (let t = 0; t < nTrain; t++) {
    const base = t * d;
    let dist = 0;
    // Sums grow monotonically, so a row can be dropped as soon as its partial sum passes the k-th best;
    // with few features the check costs more than it saves, so short rows are summed in one go.
    const block = d <= 32 ? d : 16;
    for (let start = 0; start < d && dist < worst; start += block) {
      const end = Math.min(start + block, d);
      if (manhattan) {
        for (let j = start; j < end; j++) dist += Math.abs(train[base + j] - query[offset + j]);
      } else {
        for (let j = start; j < end; j++) {
          const diff = train[base + j] - query[offset + j];
          dist += diff * diff;
        }
      }
    }
    if (dist >= worst) continue;
    let pos = filled < k ? filled++ : k - 1;
    while (pos > 0 && distances[pos - 1] > dist) {
      distances[pos] = distances[pos - 1];
      neighbours[pos] = neighbours[pos - 1];
      pos--;
    }
    distances[pos] = dist;
    neighbours[pos] = t;
    if (filled === k) worst = distances[k - 1];
  }
}

/**
 * What the Euclidean search precomputes per row: ‖row‖² and, for each screening pause, the norm of the
 * features still to come (√Σ_{j ≥ pause} row_j²). Pauses sit after half and three quarters of the features.
 */
export interface EuclideanRowStats {
  readonly norms: Float64Array;
  /** rows × pauses.length, row-major. */
  readonly tailRoots: Float64Array;
  readonly pauses: Int32Array;
}

export function euclideanRowStats(data: Float64Array, rows: number, d: number): EuclideanRowStats {
  const pauses = d >= 8 ? Int32Array.of(d >> 1, (3 * d) >> 2) : new Int32Array(0);
  const norms = new Float64Array(rows);
  const tailRoots = new Float64Array(rows * pauses.length);
  fillRowStats(data, rows, d, pauses, norms, tailRoots);
  return { norms, tailRoots, pauses };
}

/** euclideanRowStats' loops, apart from the object it returns so that the compiled loop never meets an object. */
function fillRowStats(data: Float64Array, rows: number, d: number, pauses: Int32Array, norms: Float64Array, tailRoots: Float64Array): void {
  const nPauses = pauses.length;
  for (let i = 0; i < rows; i++) {
    const base = i * d;
    let sum = 0;
    for (let j = 0; j < d; j++) sum += data[base + j] * data[base + j];
    norms[i] = sum;
    for (let p = 0; p < nPauses; p++) {
      let tail = 0;
      for (let j = pauses[p]; j < d; j++) tail += data[base + j] * data[base + j];
      tailRoots[i * nPauses + p] = Math.sqrt(tail);
    }
  }
}

/**
 * kNearest (Euclidean) for every query row at once, with identical results and far less arithmetic.
 * Four queries meet two training rows at a time through ‖q‖² + ‖t‖² − 2 q·t (each loaded value feeds four
 * or two products). That value is only a screen: in floating point it is within (2.5d+5)·ε·(‖q‖²+‖t‖²)
 * of the exact Σ(q−t)² (plus 1e-300 for subnormals), and it is shifted down by more than that (8(d+4)·ε),
 * so a pair it rejects is one kNearest would reject too. Pairs that pass get kNearest's exact sum and its
 * insertion, in the same training-row order, so neighbours, ties and distances are exactly kNearest's.
 * At each pause the features not yet summed can only add Σ(q_j−t_j)² ≥ (‖q_rest‖ − ‖t_rest‖)²
 * (Cauchy–Schwarz), so the whole 4×2 block is dropped early once every pair is already too far.
 * Query row i's results go to [i·k, (i+1)·k) of neighbours/distances.
 */
export function kNearestEuclidean(
  train: Float64Array,
  trainStats: EuclideanRowStats,
  nTrain: number,
  d: number,
  queries: Float64Array,
  nQueries: number,
  k: number,
  neighbours: Int32Array,
  distances: Float64Array,
): void {
  const queryStats = euclideanRowStats(queries, nQueries, d);
  const filled = new Int32Array(nQueries);
  const worst = new Float64Array(nQueries).fill(Infinity);
  const keep = 1 - 8 * (d + 4) * Number.EPSILON;
  const dots = new Float64Array(8);
  let q = 0;
  for (; q + 4 <= nQueries; q += 4) {
    scanFourQueries(
      train,
      trainStats.norms,
      trainStats.tailRoots,
      queries,
      queryStats.norms,
      queryStats.tailRoots,
      trainStats.pauses,
      nTrain,
      d,
      k,
      keep,
      dots,
      neighbours,
      distances,
      filled,
      worst,
      q,
    );
    // An odd last training row, outside the hot loop so its first visit cannot deoptimise it.
    if (nTrain % 2 === 1) {
      for (let r = 0; r < 4; r++) insertIfNearer(train, queries, d, k, neighbours, distances, filled, worst, q + r, nTrain - 1);
    }
  }
  const left = nQueries - q;
  if (left > 0) {
    // The last one to three rows go through the same kernels as a padded block of four (copies of the last
    // row fill it; their results are dropped): each query's search is independent of its block partners, and
    // a second search routine would cost its own compilation.
    const padded = new Float64Array(4 * d);
    for (let r = 0; r < 4; r++) padded.set(queries.subarray((q + Math.min(r, left - 1)) * d, (q + Math.min(r, left - 1) + 1) * d), r * d);
    const paddedNeighbours = new Int32Array(4 * k);
    const paddedDistances = new Float64Array(4 * k);
    kNearestEuclidean(train, trainStats, nTrain, d, padded, 4, k, paddedNeighbours, paddedDistances);
    neighbours.set(paddedNeighbours.subarray(0, left * k), q * k);
    distances.set(paddedDistances.subarray(0, left * k), q * k);
  }
}

const SUBNORMAL_SLACK = 1e-300;

/*
 * The hot functions below take typed arrays and numbers only, no objects: optimised code that reads object
 * fields depends on those objects' hidden classes, and V8 throws it away (and compiles it again, at up to
 * tens of milliseconds a time) when one changes, which on small data costs more than the search itself.
 */

/** Queries q..q+3 against every even-numbered pair of training rows; the blocks the screen lets through are settled exactly. */
function scanFourQueries(
  train: Float64Array,
  trainNorms: Float64Array,
  trainTails: Float64Array,
  queries: Float64Array,
  queryNorms: Float64Array,
  queryTails: Float64Array,
  pauses: Int32Array,
  nTrain: number,
  d: number,
  k: number,
  keep: number,
  dots: Float64Array,
  neighbours: Int32Array,
  distances: Float64Array,
  filled: Int32Array,
  worst: Float64Array,
  q: number,
): void {
  const evenTrain = nTrain & ~1;
  for (let t = 0; t < evenTrain; t += 2) {
    if (screenBlock(train, trainNorms, trainTails, queries, queryNorms, queryTails, pauses, d, keep, worst, dots, q, t)) {
      settleBlock(train, trainNorms, queries, queryNorms, d, k, keep, dots, neighbours, distances, filled, worst, q, t);
    }
  }
}

/**
 * The 4 × 2 screen of queries q..q+3 against rows t, t+1: false when every pair is certainly too far
 * (at a pause or at the end); otherwise leaves the eight dot products in dots and returns true.
 */
function screenBlock(
  train: Float64Array,
  trainNorms: Float64Array,
  trainTails: Float64Array,
  queries: Float64Array,
  queryNorms: Float64Array,
  queryTails: Float64Array,
  pauses: Int32Array,
  d: number,
  keep: number,
  worst: Float64Array,
  dots: Float64Array,
  q: number,
  t: number,
): boolean {
  const nPauses = pauses.length;
  const o0 = q * d;
  const o1 = o0 + d;
  const o2 = o1 + d;
  const o3 = o2 + d;
  // Norms shrunk by the screening margin.
  const n0 = keep * queryNorms[q];
  const n1 = keep * queryNorms[q + 1];
  const n2 = keep * queryNorms[q + 2];
  const n3 = keep * queryNorms[q + 3];
  const w0 = worst[q];
  const w1 = worst[q + 1];
  const w2 = worst[q + 2];
  const w3 = worst[q + 3];
  const a = t * d;
  const b = a + d;
  const ta = keep * trainNorms[t] - SUBNORMAL_SLACK;
  const tb = keep * trainNorms[t + 1] - SUBNORMAL_SLACK;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let u0 = 0;
  let u1 = 0;
  let u2 = 0;
  let u3 = 0;
  let j = 0;
  for (let p = 0; p <= nPauses; p++) {
    const end = p < nPauses ? pauses[p] : d;
    for (; j < end; j++) {
      const v = train[a + j];
      const w = train[b + j];
      const x0 = queries[o0 + j];
      s0 += v * x0;
      u0 += w * x0;
      const x1 = queries[o1 + j];
      s1 += v * x1;
      u1 += w * x1;
      const x2 = queries[o2 + j];
      s2 += v * x2;
      u2 += w * x2;
      const x3 = queries[o3 + j];
      s3 += v * x3;
      u3 += w * x3;
    }
    if (p === nPauses) break;
    // The features not yet summed can still add (‖q_rest‖ − ‖t_rest‖)², hence the 2‖q_rest‖‖t_rest‖ term.
    const ra = 2 * trainTails[t * nPauses + p];
    const rb = 2 * trainTails[(t + 1) * nPauses + p];
    const r0 = queryTails[q * nPauses + p];
    const r1 = queryTails[(q + 1) * nPauses + p];
    const r2 = queryTails[(q + 2) * nPauses + p];
    const r3 = queryTails[(q + 3) * nPauses + p];
    if (
      n0 + ta - 2 * s0 - ra * r0 >= w0 &&
      n0 + tb - 2 * u0 - rb * r0 >= w0 &&
      n1 + ta - 2 * s1 - ra * r1 >= w1 &&
      n1 + tb - 2 * u1 - rb * r1 >= w1 &&
      n2 + ta - 2 * s2 - ra * r2 >= w2 &&
      n2 + tb - 2 * u2 - rb * r2 >= w2 &&
      n3 + ta - 2 * s3 - ra * r3 >= w3 &&
      n3 + tb - 2 * u3 - rb * r3 >= w3
    ) {
      return false;
    }
  }
  if (
    n0 + ta - 2 * s0 >= w0 &&
    n0 + tb - 2 * u0 >= w0 &&
    n1 + ta - 2 * s1 >= w1 &&
    n1 + tb - 2 * u1 >= w1 &&
    n2 + ta - 2 * s2 >= w2 &&
    n2 + tb - 2 * u2 >= w2 &&
    n3 + ta - 2 * s3 >= w3 &&
    n3 + tb - 2 * u3 >= w3
  ) {
    return false;
  }
  dots[0] = s0;
  dots[1] = u0;
  dots[2] = s1;
  dots[3] = u1;
  dots[4] = s2;
  dots[5] = u2;
  dots[6] = s3;
  dots[7] = u3;
  return true;
}

/** The exact step for every pair of block (queries q..q+3, rows t, t+1) that dots does not rule out. */
function settleBlock(
  train: Float64Array,
  trainNorms: Float64Array,
  queries: Float64Array,
  queryNorms: Float64Array,
  d: number,
  k: number,
  keep: number,
  dots: Float64Array,
  neighbours: Int32Array,
  distances: Float64Array,
  filled: Int32Array,
  worst: Float64Array,
  q: number,
  t: number,
): void {
  for (let r = 0; r < 4; r++) {
    for (let m = 0; m < 2; m++) {
      const screened = keep * queryNorms[q + r] + (keep * trainNorms[t + m] - SUBNORMAL_SLACK) - 2 * dots[2 * r + m];
      // NaN (overflow) fails the comparison and so takes the exact path.
      if (!(screened >= worst[q + r])) insertIfNearer(train, queries, d, k, neighbours, distances, filled, worst, q + r, t + m);
    }
  }
}

/** kNearest's step for one training row and one query: exact squared distance, same insertion rule. */
function insertIfNearer(
  train: Float64Array,
  queries: Float64Array,
  d: number,
  k: number,
  neighbours: Int32Array,
  distances: Float64Array,
  filled: Int32Array,
  worst: Float64Array,
  q: number,
  t: number,
): void {
  const base = t * d;
  const offset = q * d;
  let dist = 0;
  for (let j = 0; j < d; j++) {
    const diff = train[base + j] - queries[offset + j];
    dist += diff * diff;
  }
  if (dist >= worst[q]) return;
  const start = q * k;
  let pos = filled[q] < k ? filled[q]++ : k - 1;
  while (pos > 0 && distances[start + pos - 1] > dist) {
    distances[start + pos] = distances[start + pos - 1];
    neighbours[start + pos] = neighbours[start + pos - 1];
    pos--;
  }
  distances[start + pos] = dist;
  neighbours[start + pos] = t;
  if (filled[q] === k) worst[q] = distances[start + k - 1];
}

/** Each query row's class shares of its (weighted) k neighbours into out (rows × nClasses). */
function voteShares(
  neighbours: Int32Array,
  distances: Float64Array,
  trainY: Float64Array,
  rows: number,
  k: number,
  nClasses: number,
  byDistance: boolean,
  squared: boolean,
  weights: Float64Array,
  out: Float64Array,
): void {
  for (let i = 0; i < rows; i++) {
    neighbourWeights(distances, i * k, byDistance, squared, weights);
    const base = i * nClasses;
    let total = 0;
    for (let n = 0; n < k; n++) {
      out[base + trainY[neighbours[i * k + n]]] += weights[n];
      total += weights[n];
    }
    for (let c = 0; c < nClasses; c++) out[base + c] /= total;
  }
}

/** scikit-learn's _get_weights for distances[start..start+k): 1/distance, except that exact matches (distance 0) take all the weight. */
function neighbourWeights(distances: Float64Array, start: number, byDistance: boolean, squared: boolean, out: Float64Array): void {
  if (!byDistance) {
    out.fill(1);
    return;
  }
  const k = out.length;
  let exact = false;
  for (let n = 0; n < k; n++) if (distances[start + n] === 0) exact = true;
  for (let n = 0; n < k; n++) {
    const distance = distances[start + n];
    if (exact) out[n] = distance === 0 ? 1 : 0;
    else out[n] = 1 / (squared ? Math.sqrt(distance) : distance);
  }
}

export const knn: LearnerFamily = {
  name: FAMILY,
  description: 'k-nearest neighbours (brute force); predicts from the k closest training rows.',
  tasks: TASKS,
  params: KNN_PARAMS,
  tags: { handlesNaN: false, needsScaling: true, onnx: false, cost: 'low' },

  async fit(data: TrainingData, params, _options) {
    const resolved = resolveParams(FAMILY, KNN_PARAMS, params);
    checkTrainingData(data, { family: FAMILY, tasks: TASKS, allowNaN: false });
    if (data.sampleWeight !== undefined) {
      throw new SpotmlError('USAGE', `${FAMILY} does not support sample weights; drop them or pick another family`, { family: FAMILY });
    }
    if (resolved.n_neighbors > data.X.rows) {
      throw new SpotmlError(
        'USAGE',
        `${FAMILY} parameter n_neighbors=${resolved.n_neighbors} exceeds the ${data.X.rows} training rows; lower n_neighbors`,
        { family: FAMILY, param: 'n_neighbors' },
      );
    }
    return new KnnModel(data.task, data.X.cols, data.task === 'classification' ? data.nClasses : undefined, resolved, data.X.data.slice(), data.y.slice());
  },

  load(json: SerializedModel) {
    checkModelJson(json, FAMILY);
    const state = json.state as KnnState | null;
    const params = resolveParams(FAMILY, KNN_PARAMS, json.params);
    if (!state || !Array.isArray(state.X) || !Array.isArray(state.y) || state.X.length !== state.y.length * json.nFeatures) {
      throw malformed(FAMILY, 'training rows missing');
    }
    if (json.task === 'classification' && json.nClasses === undefined) throw malformed(FAMILY, 'nClasses missing');
    return new KnnModel(json.task, json.nFeatures, json.nClasses, params, Float64Array.from(state.X), Float64Array.from(state.y));
  },
};
