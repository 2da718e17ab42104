/**
 * k-nearest neighbours (scikit-learn's KNeighborsClassifier/Regressor, brute force).
 * fit stores the training rows; predict finds the k nearest keeping the k best in a small sorted buffer
 * (ties: the earlier training row wins). Euclidean search screens four queries × four training rows at a
 * time with dot products in a WebAssembly SIMD kernel and settles only the survivors exactly
 * (kNearestEuclidean; a last partial group of queries is padded to four); Manhattan uses the one-row loop (kNearest). Both give bitwise the same
 * neighbours and distances.
 * predict_proba as scikit-learn: class shares of the (weighted) neighbours; with weights=distance a query
 * that coincides with training rows takes its vote from those rows only.
 */
import { SpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { resolveParams, type ResolvedParams } from './params.js';
import { checkPredictInput, checkTrainingData } from './validate.js';
import { argmaxRows, checkModelJson, checkNoMissing, malformed, withArgmaxLabels } from './preprocess.js';
import type { FittedModel, LabelsAndProba, LearnerFamily, ParamSpec, SerializedModel, Task, TrainingData } from './types.js';
import { serializedModel } from './serialized.js';
import { instantiateKernel, MemoryLayout, type WasmKernelModule } from '../runtime/wasm.js';
import { wasmBase64 } from '../generated/wasm/linalg.js';

const FAMILY = 'knn';
const TASKS: readonly Task[] = ['classification', 'regression'];

const KNN_PARAMS = {
  n_neighbors: { type: 'int', default: 5, low: 1, high: 10_000, description: 'Number of neighbours that vote.', search: { low: 1, high: 50, log: true }, atMostTrainingRows: true },
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
  readonly predictWithProba?: (X: Matrix) => LabelsAndProba;
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
    if (task === 'classification') {
      this.predictProba = (X: Matrix) => this.classProbabilities(X);
      this.predictWithProba = (X: Matrix) => withArgmaxLabels(this.classProbabilities(X));
    }
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
 * kNearest (Euclidean) for every query row at once, with identical results and far less arithmetic: the
 * WebAssembly kernel knnBlock (wasm/linalg.ts) takes four queries against four training rows at a time through
 * ‖q‖² + ‖t‖² − 2 q·t, two queries per SIMD lane pair (each loaded value feeds eight products). Each lane sums
 * its dot product over j in order, exactly as a scalar loop would, so the screen value of every pair is the
 * same double as before the kernel. That value is only a screen: in floating point it is within
 * (2.5d+5)·ε·(‖q‖²+‖t‖²) of the exact Σ(q−t)² (plus 1e-300 for subnormals), and it is shifted down by more than
 * that (8(d+4)·ε), so a pair it rejects is one kNearest would reject too. Pairs that pass get kNearest's exact
 * sum and its insertion, in ascending training-row order per query, so neighbours, ties and distances are
 * exactly kNearest's. At each pause the features not yet summed can only add Σ(q_j−t_j)² ≥ (‖q_rest‖ − ‖t_rest‖)²
 * (Cauchy–Schwarz), so the whole 4×4 block is dropped early once every pair is already too far.
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
  if (nQueries === 0) return;
  const kernel = linalgKernel();
  const keep = 1 - 8 * (d + 4) * Number.EPSILON;
  const nPauses = trainStats.pauses.length;
  const layout = knnLayout(nTrain, d, nPauses, nQueries, k);
  kernel.ensureBytes(layout.end);
  const memory = kernel.memory.buffer;
  if (residentTrain !== train || residentStats !== trainStats || residentBuffer !== memory) {
    // The training side is copied in once per model (and again only after another model or a memory growth).
    new Float64Array(memory, layout.train, nTrain * d).set(train.subarray(0, nTrain * d));
    new Int32Array(memory, layout.pauses, nPauses).set(trainStats.pauses);
    fillTrainSide(trainStats.norms, trainStats.tailRoots, nTrain, nPauses, keep, new Float64Array(memory, layout.trainKept, nTrain), new Float64Array(memory, layout.trainTails2, nTrain * nPauses));
    residentTrain = train;
    residentStats = trainStats;
    residentBuffer = memory;
  }
  const nBlocks = Math.ceil(nQueries / 4);
  const queryStats = euclideanRowStats(queries, nQueries, d);
  fillQuerySide(
    queries,
    queryStats.norms,
    queryStats.tailRoots,
    nQueries,
    d,
    nPauses,
    keep,
    new Float64Array(memory, layout.queries, nBlocks * 4 * d),
    new Float64Array(memory, layout.interleaved, nBlocks * 4 * d),
    new Float64Array(memory, layout.info, nBlocks * layout.infoLength),
  );
  new Int32Array(memory, layout.filled, nBlocks * 4).fill(0);
  new Float64Array(memory, layout.worst, nBlocks * 4).fill(Infinity);
  const knnBlock = kernel.exports.knnBlock;
  // One call per block of four queries: V8 moves a WebAssembly function to optimised code between calls, never
  // within one, so a single call over every block would run entirely in the baseline tier.
  for (let b = 0; b < nBlocks; b++) {
    knnBlock(
      layout.train,
      layout.trainKept,
      layout.trainTails2,
      nTrain,
      d,
      layout.pauses,
      nPauses,
      layout.interleaved + b * 32 * d,
      layout.queries + b * 32 * d,
      layout.info + b * 8 * layout.infoLength,
      k,
      layout.neighbours + b * 16 * k,
      layout.distances + b * 32 * k,
      layout.filled + b * 16,
      layout.worst + b * 32,
      layout.scratch,
    );
  }
  neighbours.set(new Int32Array(memory, layout.neighbours, nQueries * k));
  distances.set(new Float64Array(memory, layout.distances, nQueries * k));
}

interface LinalgExports {
  knnBlock(
    train: number,
    trainKept: number,
    trainTails2: number,
    nTrain: number,
    d: number,
    pauses: number,
    nPauses: number,
    interleaved: number,
    queries: number,
    info: number,
    k: number,
    neighbours: number,
    distances: number,
    filled: number,
    worst: number,
    scratch: number,
  ): void;
}

let linalg: WasmKernelModule<LinalgExports> | null = null;
function linalgKernel(): WasmKernelModule<LinalgExports> {
  linalg ??= instantiateKernel<LinalgExports>('linalg', wasmBase64);
  return linalg;
}

/** The training side in the kernel's memory belongs to these arrays (a search for another model copies its own in). */
let residentTrain: Float64Array | null = null;
let residentStats: EuclideanRowStats | null = null;
let residentBuffer: ArrayBuffer | null = null;

const SUBNORMAL_SLACK = 1e-300;

/** Byte offsets in the kernel's memory: the training side first (it stays between searches), then the queries. */
function knnLayout(nTrain: number, d: number, nPauses: number, nQueries: number, k: number) {
  const nPadded = Math.ceil(nQueries / 4) * 4;
  const infoLength = 4 + 4 * nPauses;
  const layout = new MemoryLayout(0);
  const take = (bytes: number): number => layout.take(bytes);
  const scratch = take(16 * 8);
  const pauses = take(4 * nPauses);
  const train = take(8 * nTrain * d);
  const trainKept = take(8 * nTrain);
  const trainTails2 = take(8 * nTrain * nPauses);
  const queries = take(8 * nPadded * d);
  const interleaved = take(8 * nPadded * d);
  const info = take((8 * nPadded * infoLength) / 4);
  const neighbours = take(4 * nPadded * k);
  const distances = take(8 * nPadded * k);
  const filled = take(4 * nPadded);
  const worst = take(8 * nPadded);
  return { scratch, pauses, train, trainKept, trainTails2, queries, interleaved, info, infoLength, neighbours, distances, filled, worst, end: layout.end };
}

/** keep·‖t‖² − slack and 2‖t_rest‖ per training row, the screen's training-side terms. */
function fillTrainSide(norms: Float64Array, tailRoots: Float64Array, nTrain: number, nPauses: number, keep: number, kept: Float64Array, tails2: Float64Array): void {
  for (let t = 0; t < nTrain; t++) kept[t] = keep * norms[t] - SUBNORMAL_SLACK;
  for (let i = 0; i < nTrain * nPauses; i++) tails2[i] = 2 * tailRoots[i];
}

/**
 * The queries in blocks of four (a last partial block is padded with copies of the last row, whose results
 * are dropped: each query's search is independent of its block partners): row-major, interleaved by feature
 * (the four x_j side by side), and the block's keep·‖q‖² then per pause its four ‖q_rest‖.
 */
function fillQuerySide(
  queries: Float64Array,
  norms: Float64Array,
  tailRoots: Float64Array,
  nQueries: number,
  d: number,
  nPauses: number,
  keep: number,
  rows: Float64Array,
  interleaved: Float64Array,
  info: Float64Array,
): void {
  const nPadded = Math.ceil(nQueries / 4) * 4;
  const infoLength = 4 + 4 * nPauses;
  for (let i = 0; i < nPadded; i++) {
    const source = Math.min(i, nQueries - 1);
    const block = i >> 2;
    const lane = i & 3;
    for (let j = 0; j < d; j++) {
      const value = queries[source * d + j];
      rows[i * d + j] = value;
      interleaved[block * 4 * d + 4 * j + lane] = value;
    }
    info[block * infoLength + lane] = keep * norms[source];
    for (let p = 0; p < nPauses; p++) info[block * infoLength + 4 + 4 * p + lane] = tailRoots[source * nPauses + p];
  }
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
