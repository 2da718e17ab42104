/** Regression metrics with scikit-learn's definitions. */

export function r2Score(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i];
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (yTrue[i] - yPred[i]) ** 2;
    ssTot += (yTrue[i] - mean) ** 2;
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

export function rmse(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += (yTrue[i] - yPred[i]) ** 2;
  return Math.sqrt(s / yTrue.length);
}

export function mae(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(yTrue[i] - yPred[i]);
  return s / yTrue.length;
}

/** Mean absolute percentage error as a fraction; denominators floored at machine epsilon, as scikit-learn. */
export function mape(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const eps = 2.220446049250313e-16;
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(yTrue[i] - yPred[i]) / Math.max(eps, Math.abs(yTrue[i]));
  return s / yTrue.length;
}

export function explainedVariance(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  let meanDiff = 0;
  let meanTrue = 0;
  for (let i = 0; i < n; i++) {
    meanDiff += yTrue[i] - yPred[i];
    meanTrue += yTrue[i];
  }
  meanDiff /= n;
  meanTrue /= n;
  let varDiff = 0;
  let varTrue = 0;
  for (let i = 0; i < n; i++) {
    varDiff += (yTrue[i] - yPred[i] - meanDiff) ** 2;
    varTrue += (yTrue[i] - meanTrue) ** 2;
  }
  if (varTrue === 0) return varDiff === 0 ? 1 : 0;
  return 1 - varDiff / varTrue;
}

export function medianAbsoluteError(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const errors = Float64Array.from({ length: yTrue.length }, (_, i) => Math.abs(yTrue[i] - yPred[i])).sort();
  const n = errors.length;
  return n % 2 === 1 ? errors[(n - 1) / 2] : (errors[n / 2 - 1] + errors[n / 2]) / 2;
}
