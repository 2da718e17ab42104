/**
 * Losses for boosting (LightGBM's objective_function.h, scikit-learn's _loss): each gives the constant baseline,
 * per-row gradients and hessians of the raw scores, and the mean loss used for early stopping. Raw scores and
 * gradients are class-major: value of class k for row i at k * n + i. Sample weights scale both.
 */

export interface Objective {
  readonly name: 'squared_error' | 'log_loss' | 'softmax';
  /** Trees grown per boosting iteration (K for softmax, else 1). */
  readonly treesPerIteration: number;
  baseline(y: Float64Array, weight: Float64Array | undefined): Float64Array;
  gradients(y: Float64Array, raw: Float64Array, weight: Float64Array | undefined, grad: Float64Array, hess: Float64Array): void;
  /** Mean (weighted) loss. */
  loss(y: Float64Array, raw: Float64Array, weight: Float64Array | undefined): number;
}

const PROBABILITY_FLOOR = 1e-15;

function weightedMean(values: (i: number) => number, n: number, weight: Float64Array | undefined): number {
  let sum = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weight ? weight[i] : 1;
    sum += w * values(i);
    total += w;
  }
  return sum / total;
}

/** log(1 + exp(x)) without overflow. */
export function log1pExp(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Half squared error: gradient raw − y, hessian 1. */
export const squaredError: Objective = {
  name: 'squared_error',
  treesPerIteration: 1,
  baseline: (y, weight) => Float64Array.of(weightedMean((i) => y[i], y.length, weight)),
  gradients(y, raw, weight, grad, hess) {
    for (let i = 0; i < y.length; i++) {
      const w = weight ? weight[i] : 1;
      grad[i] = w * (raw[i] - y[i]);
      hess[i] = w;
    }
  },
  loss: (y, raw, weight) => weightedMean((i) => 0.5 * (raw[i] - y[i]) ** 2, y.length, weight),
};

/** Binary log-loss on the log-odds of class 1. */
export const binaryLogLoss: Objective = {
  name: 'log_loss',
  treesPerIteration: 1,
  baseline(y, weight) {
    const p = Math.min(1 - PROBABILITY_FLOOR, Math.max(PROBABILITY_FLOOR, weightedMean((i) => y[i], y.length, weight)));
    return Float64Array.of(Math.log(p / (1 - p)));
  },
  gradients(y, raw, weight, grad, hess) {
    if (weight) logisticGradientsWeighted(y, raw, weight, grad, hess);
    else logisticGradients(y, raw, grad, hess);
  },
  loss: (y, raw, weight) => weightedMean((i) => log1pExp(raw[i]) - y[i] * raw[i], y.length, weight),
};

/** Unweighted binary log-loss gradients: the weighted ones with w = 1 (w · x is x exactly). */
function logisticGradients(y: Float64Array, raw: Float64Array, grad: Float64Array, hess: Float64Array): void {
  for (let i = 0; i < y.length; i++) {
    // sigmoid(x) with one exp and a select instead of a sign branch (the same two formulas, so the same bits).
    const x = raw[i];
    const e = Math.exp(-Math.abs(x));
    const p = (x >= 0 ? 1 : e) / (1 + e);
    grad[i] = p - y[i];
    hess[i] = p * (1 - p);
  }
}

function logisticGradientsWeighted(y: Float64Array, raw: Float64Array, weight: Float64Array, grad: Float64Array, hess: Float64Array): void {
  for (let i = 0; i < y.length; i++) {
    const w = weight[i];
    const x = raw[i];
    const e = Math.exp(-Math.abs(x));
    const p = (x >= 0 ? 1 : e) / (1 + e);
    grad[i] = w * (p - y[i]);
    hess[i] = w * p * (1 - p);
  }
}

/** Multinomial log-loss with softmax over K raw scores; hessian is the diagonal p(1 − p). */
export function softmaxLoss(nClasses: number): Objective {
  const K = nClasses;
  return {
    name: 'softmax',
    treesPerIteration: K,
    baseline(y, weight) {
      const prior = new Float64Array(K);
      let total = 0;
      for (let i = 0; i < y.length; i++) {
        const w = weight ? weight[i] : 1;
        prior[y[i]] += w;
        total += w;
      }
      const out = new Float64Array(K);
      for (let k = 0; k < K; k++) out[k] = Math.log(Math.max(PROBABILITY_FLOOR, prior[k] / total));
      return out;
    },
    gradients(y, raw, weight, grad, hess) {
      const n = y.length;
      for (let i = 0; i < n; i++) {
        let max = -Infinity;
        for (let k = 0; k < K; k++) max = Math.max(max, raw[k * n + i]);
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const e = Math.exp(raw[k * n + i] - max);
          grad[k * n + i] = e;
          sum += e;
        }
        const w = weight ? weight[i] : 1;
        const label = y[i];
        for (let k = 0; k < K; k++) {
          const p = grad[k * n + i] / sum;
          grad[k * n + i] = w * (p - (k === label ? 1 : 0));
          hess[k * n + i] = w * p * (1 - p);
        }
      }
    },
    loss(y, raw, weight) {
      const n = y.length;
      return weightedMean(
        (i) => {
          let max = -Infinity;
          for (let k = 0; k < K; k++) max = Math.max(max, raw[k * n + i]);
          let sum = 0;
          for (let k = 0; k < K; k++) sum += Math.exp(raw[k * n + i] - max);
          return max + Math.log(sum) - raw[y[i] * n + i];
        },
        n,
        weight,
      );
    },
  };
}
