/**
 * Classification metrics with scikit-learn's definitions (verified against scikit-learn 1.2 outputs).
 * Labels are class indices 0..k-1; probabilities are row-major n × k.
 */

export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, nClasses: number): number[][] {
  const cm = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) cm[yTrue[i]][yPred[i]]++;
  return cm;
}

export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  let hit = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hit++;
  return yTrue.length === 0 ? Number.NaN : hit / yTrue.length;
}

export interface PerClass {
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
}

/** Per-class precision/recall/F1; 0 where undefined (scikit-learn's zero_division default, with its warning). */
export function perClassScores(cm: readonly (readonly number[])[]): PerClass {
  const k = cm.length;
  const precision: number[] = [];
  const recall: number[] = [];
  const f1: number[] = [];
  const support: number[] = [];
  for (let c = 0; c < k; c++) {
    const tp = cm[c][c];
    let predicted = 0;
    let actual = 0;
    for (let j = 0; j < k; j++) {
      predicted += cm[j][c];
      actual += cm[c][j];
    }
    const p = predicted > 0 ? tp / predicted : 0;
    const r = actual > 0 ? tp / actual : 0;
    precision.push(p);
    recall.push(r);
    f1.push(p + r > 0 ? (2 * p * r) / (p + r) : 0);
    support.push(actual);
  }
  return { precision, recall, f1, support };
}

export type Average = 'macro' | 'weighted' | 'micro';

export function averageScores(cm: readonly (readonly number[])[], average: Average): { precision: number; recall: number; f1: number } {
  const scores = perClassScores(cm);
  if (average === 'micro') {
    let tp = 0;
    let total = 0;
    for (let c = 0; c < cm.length; c++) {
      tp += cm[c][c];
      for (let j = 0; j < cm.length; j++) total += cm[c][j];
    }
    const v = total > 0 ? tp / total : 0;
    return { precision: v, recall: v, f1: v };
  }
  // Macro averages over the labels given (all classes of the model), as scikit-learn with labels=.
  const weights = average === 'weighted' ? scores.support : scores.support.map(() => 1);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const mean = (xs: number[]): number => (totalWeight > 0 ? xs.reduce((a, x, i) => a + x * weights[i], 0) / totalWeight : 0);
  return { precision: mean(scores.precision), recall: mean(scores.recall), f1: mean(scores.f1) };
}

/** Mean recall over classes present in y_true (scikit-learn's balanced_accuracy_score). */
export function balancedAccuracy(cm: readonly (readonly number[])[]): number {
  let sum = 0;
  let present = 0;
  for (let c = 0; c < cm.length; c++) {
    let actual = 0;
    for (let j = 0; j < cm.length; j++) actual += cm[c][j];
    if (actual > 0) {
      sum += cm[c][c] / actual;
      present++;
    }
  }
  return present > 0 ? sum / present : Number.NaN;
}

export function matthewsCorrcoef(cm: readonly (readonly number[])[]): number {
  const k = cm.length;
  const t = new Array<number>(k).fill(0);
  const p = new Array<number>(k).fill(0);
  let c = 0;
  let s = 0;
  for (let i = 0; i < k; i++) {
    c += cm[i][i];
    for (let j = 0; j < k; j++) {
      t[i] += cm[i][j];
      p[j] += cm[i][j];
      s += cm[i][j];
    }
  }
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (let i = 0; i < k; i++) {
    tp += t[i] * p[i];
    pp += p[i] * p[i];
    tt += t[i] * t[i];
  }
  const denom = Math.sqrt(s * s - pp) * Math.sqrt(s * s - tt);
  return denom === 0 ? 0 : (c * s - tp) / denom;
}

export function cohenKappa(cm: readonly (readonly number[])[]): number {
  const k = cm.length;
  let n = 0;
  let observed = 0;
  const rows = new Array<number>(k).fill(0);
  const cols = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      n += cm[i][j];
      rows[i] += cm[i][j];
      cols[j] += cm[i][j];
    }
    observed += cm[i][i];
  }
  let expected = 0;
  for (let i = 0; i < k; i++) expected += (rows[i] * cols[i]) / n;
  const po = observed / n;
  const pe = expected / n;
  return pe === 1 ? Number.NaN : (po - pe) / (1 - pe);
}

/** Mean negative log-likelihood; probabilities are clipped to [eps, 1-eps] and renormalised, as scikit-learn 1.2. */
export function logLoss(yTrue: ArrayLike<number>, proba: Float64Array, nClasses: number): number {
  const eps = 2.220446049250313e-16;
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) {
    let rowSum = 0;
    for (let c = 0; c < nClasses; c++) rowSum += Math.min(1 - eps, Math.max(eps, proba[i * nClasses + c]));
    const p = Math.min(1 - eps, Math.max(eps, proba[i * nClasses + yTrue[i]])) / rowSum;
    total -= Math.log(p);
  }
  return total / yTrue.length;
}

/** Brier score of the positive class (binary). */
export function brierScore(yTrue: ArrayLike<number>, positiveProba: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) total += (positiveProba[i] - (yTrue[i] === 1 ? 1 : 0)) ** 2;
  return total / yTrue.length;
}

/** Binary ROC AUC by the rank-sum formula with tie-averaged ranks (equal to the trapezoidal ROC area). */
export function binaryRocAuc(isPositive: ArrayLike<boolean | number>, score: ArrayLike<number>): number {
  const n = score.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[order[j + 1]] === score[order[i]]) j++;
    const averageRank = (i + j + 2) / 2;
    for (let t = i; t <= j; t++) {
      if (isPositive[order[t]]) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** ROC AUC: binary (positive class 1), or one-vs-rest / one-vs-one macro for multi-class. */
export function rocAuc(yTrue: ArrayLike<number>, proba: Float64Array, nClasses: number, multiClass: 'ovr' | 'ovo' = 'ovr'): number {
  const n = yTrue.length;
  const column = (c: number): Float64Array => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = proba[i * nClasses + c];
    return out;
  };
  if (nClasses === 2) return binaryRocAuc(Array.from(yTrue, (y) => y === 1), column(1));
  if (multiClass === 'ovr') {
    let sum = 0;
    for (let c = 0; c < nClasses; c++) sum += binaryRocAuc(Array.from(yTrue, (y) => y === c), column(c));
    return sum / nClasses;
  }
  // Hand & Till (2001): mean over unordered pairs of the mean of the two directed AUCs.
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < nClasses; a++) {
    for (let b = a + 1; b < nClasses; b++) {
      const idx: number[] = [];
      for (let i = 0; i < n; i++) if (yTrue[i] === a || yTrue[i] === b) idx.push(i);
      const isA = idx.map((i) => yTrue[i] === a);
      const isB = idx.map((i) => yTrue[i] === b);
      const aucA = binaryRocAuc(isA, idx.map((i) => proba[i * nClasses + a]));
      const aucB = binaryRocAuc(isB, idx.map((i) => proba[i * nClasses + b]));
      sum += (aucA + aucB) / 2;
      pairs++;
    }
  }
  return sum / pairs;
}

/** Binary ROC curve with scikit-learn's drop_intermediate=True and a leading (0,0) point (threshold +inf). */
export function rocCurve(isPositive: ArrayLike<boolean | number>, score: ArrayLike<number>): { fpr: number[]; tpr: number[]; thresholds: number[] } {
  const { fps, tps, thresholds } = binaryClfCurve(isPositive, score);
  // Keep points where the curve changes direction (scikit-learn's drop_intermediate).
  const keep: number[] = [0];
  for (let i = 1; i < fps.length - 1; i++) {
    const d2fps = fps[i + 1] - 2 * fps[i] + fps[i - 1];
    const d2tps = tps[i + 1] - 2 * tps[i] + tps[i - 1];
    if (d2fps !== 0 || d2tps !== 0) keep.push(i);
  }
  if (fps.length > 1) keep.push(fps.length - 1);
  const kf = keep.map((i) => fps[i]);
  const kt = keep.map((i) => tps[i]);
  const kth = keep.map((i) => thresholds[i]);
  const totalP = kt[kt.length - 1];
  const totalN = kf[kf.length - 1];
  return {
    fpr: [0, ...kf.map((v) => (totalN > 0 ? v / totalN : Number.NaN))],
    tpr: [0, ...kt.map((v) => (totalP > 0 ? v / totalP : Number.NaN))],
    thresholds: [Number.POSITIVE_INFINITY, ...kth],
  };
}

/** Cumulative false/true positives at each distinct score, descending (scikit-learn's _binary_clf_curve). */
export function binaryClfCurve(isPositive: ArrayLike<boolean | number>, score: ArrayLike<number>): { fps: number[]; tps: number[]; thresholds: number[] } {
  const n = score.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b] - score[a] || a - b);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    if (isPositive[i]) tp++;
    else fp++;
    if (k === n - 1 || score[order[k + 1]] !== score[i]) {
      fps.push(fp);
      tps.push(tp);
      thresholds.push(score[i]);
    }
  }
  return { fps, tps, thresholds };
}

/** Average precision: Σ (R_n − R_{n−1}) P_n over thresholds (no interpolation), as scikit-learn. */
export function averagePrecision(isPositive: ArrayLike<boolean | number>, score: ArrayLike<number>): number {
  const { fps, tps } = binaryClfCurve(isPositive, score);
  const totalP = tps[tps.length - 1];
  if (totalP === 0) return Number.NaN;
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < tps.length; i++) {
    const precision = tps[i] / (tps[i] + fps[i]);
    const recall = tps[i] / totalP;
    ap += (recall - prevRecall) * precision;
    prevRecall = recall;
  }
  return ap;
}
