/**
 * Greedy ensemble selection with replacement (Caruana et al., 2004) over out-of-fold predictions:
 * start from the best single model, repeatedly add the member (possibly again) that most improves the
 * ensemble's cross-validated score, and keep the best ensemble seen. Weights are selection counts.
 */
import type { Task } from '../learners/types.js';
import type { MetricName } from '../metrics/index.js';
import type { FoldPlan } from './cv.js';
import { outOfFoldFoldScores, scoreOutOfFold } from './crossval.js';

export interface EnsembleCandidate {
  id: number;
  oof: Float64Array;
}

export interface EnsembleSelection {
  /** Candidate id → weight (sums to 1). */
  weights: Map<number, number>;
  score: number;
  /** The chosen ensemble's metric on each fold (as the metric reads), for its spread. */
  foldScores: number[];
  /** Score after each selection round, for the log. */
  history: number[];
}

export function selectEnsemble(
  candidates: readonly EnsembleCandidate[],
  y: Float64Array,
  task: Task,
  nClasses: number,
  plan: FoldPlan,
  metric: MetricName,
  rounds = 50,
): EnsembleSelection {
  if (candidates.length === 0) throw new Error('ensemble selection needs at least one candidate');
  const length = candidates[0].oof.length;
  const sum = new Float64Array(length);
  const trial = new Float64Array(length);
  const counts = new Map<number, number>();
  let members = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  let bestCounts = new Map<number, number>();
  const history: number[] = [];
  const picks: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let roundBest = -1;
    let roundScore = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < candidates.length; c++) {
      const oof = candidates[c].oof;
      for (let i = 0; i < length; i++) trial[i] = (sum[i] + oof[i]) / (members + 1);
      const score = scoreOutOfFold(trial, y, task, nClasses, plan, metric);
      // Strictly better only: ties keep the earlier (better-ranked) candidate, so selection is deterministic.
      if (score > roundScore) {
        roundScore = score;
        roundBest = c;
      }
    }
    const chosen = candidates[roundBest];
    picks.push(roundBest);
    for (let i = 0; i < length; i++) sum[i] += chosen.oof[i];
    members++;
    counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
    history.push(roundScore);
    if (roundScore > bestScore) {
      bestScore = roundScore;
      bestCounts = new Map(counts);
    }
  }
  const total = [...bestCounts.values()].reduce((a, b) => a + b, 0);
  // The chosen ensemble's out-of-fold predictions again (its picks summed in selection order, as scored), for
  // its per-fold scores.
  sum.fill(0);
  for (const c of picks.slice(0, total)) for (let i = 0; i < length; i++) sum[i] += candidates[c].oof[i];
  for (let i = 0; i < length; i++) trial[i] = sum[i] / total;
  const foldScores = outOfFoldFoldScores(trial, y, task, nClasses, plan, metric);
  return { weights: new Map([...bestCounts].map(([id, n]) => [id, n / total])), score: bestScore, foldScores, history };
}
