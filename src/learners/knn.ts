/**
 * k-nearest neighbours (scikit-learn's KNeighborsClassifier/Regressor, brute force).
 * fit stores the training rows; predict finds the k nearest with one tight distance loop per training row,
 * keeping the k best in a small sorted buffer (ties: the earlier training row wins).
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

interface KnnState {
  X: number[];
  y: number[];
}

class KnnModel implements FittedModel {
  readonly family = FAMILY;
  readonly nClasses?: number;
  readonly predictProba?: (X: Matrix) => Matrix;

  constructor(
    readonly task: Task,
    readonly nFeatures: number,
    nClasses: number | undefined,
    readonly params: KnnParams,
    private readonly trainX: Float64Array,
    private readonly trainY: Float64Array,
  ) {
    this.nClasses = nClasses;
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
    const neighbours = new Int32Array(k);
    const distances = new Float64Array(k);
    const weights = new Float64Array(k);
    for (let i = 0; i < X.rows; i++) {
      this.search(X.data, i, neighbours, distances);
      neighbourWeights(distances, this.params.weights === 'distance', this.params.metric === 'euclidean', weights);
      const base = i * nClasses;
      let total = 0;
      for (let n = 0; n < k; n++) {
        out[base + this.trainY[neighbours[n]]] += weights[n];
        total += weights[n];
      }
      for (let c = 0; c < nClasses; c++) out[base + c] /= total;
    }
    return createMatrix(X.rows, nClasses, out);
  }

  private regress(X: Matrix): Float64Array {
    this.check(X);
    const k = this.params.n_neighbors;
    const out = new Float64Array(X.rows);
    const neighbours = new Int32Array(k);
    const distances = new Float64Array(k);
    const weights = new Float64Array(k);
    for (let i = 0; i < X.rows; i++) {
      this.search(X.data, i, neighbours, distances);
      neighbourWeights(distances, this.params.weights === 'distance', this.params.metric === 'euclidean', weights);
      let sum = 0;
      let total = 0;
      for (let n = 0; n < k; n++) {
        sum += weights[n] * this.trainY[neighbours[n]];
        total += weights[n];
      }
      out[i] = sum / total;
    }
    return out;
  }

  private search(query: Float64Array, row: number, neighbours: Int32Array, distances: Float64Array): void {
    kNearest(this.trainX, this.trainY.length, this.nFeatures, query, row * this.nFeatures, this.params.metric === 'manhattan', neighbours, distances);
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

/** scikit-learn's _get_weights: 1/distance, except that exact matches (distance 0) take all the weight. */
function neighbourWeights(distances: Float64Array, byDistance: boolean, squared: boolean, out: Float64Array): void {
  if (!byDistance) {
    out.fill(1);
    return;
  }
  let exact = false;
  for (let n = 0; n < distances.length; n++) if (distances[n] === 0) exact = true;
  for (let n = 0; n < distances.length; n++) {
    if (exact) out[n] = distances[n] === 0 ? 1 : 0;
    else out[n] = 1 / (squared ? Math.sqrt(distances[n]) : distances[n]);
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
