/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011), multivariate as Optuna's
 * TPESampler(multivariate=True): split the finished trials into the best gamma(n) ("below") and the rest
 * ("above"), fit a Parzen mixture to each over the joint space, draw candidates from l(x) and keep the one
 * maximising log l(x) − log g(x). Conditional parameters are fitted on the trials where they were active.
 *
 * Details follow Optuna's `_tpe/parzen_estimator.py`:
 * - kernels: truncated normals in internal units (log for log-scaled), one per observation plus a prior
 *   kernel at the centre with σ = the range; discrete ranges (int, stepped float) use the normal's mass
 *   over each value's cell [x − step/2, x + step/2]; log-scaled ints are continuous on [log(low − ½), log(high + ½)];
 * - multivariate bandwidth σ = 0.2 · n^(−1/(d+4)) · range for every kernel (d = parameters in the group,
 *   n = observations), then the "magic clip" to [range / min(100, n + 2), range];
 * - categorical kernels put prior_weight/(n+1) on every choice plus 1 on the observed one, normalised;
 * - mixture weights: Optuna's default_weights (older observations ramped down past 25) and the prior weight;
 * - gamma(n) = min(ceil(0.1 n), 25); pruned trials count in n and sit above; with `constantLiar`, running
 *   trials sit above too, so parallel workers do not all propose the same point.
 */
import type { ParamValue } from '../learners/types.js';
import type { Rng } from '../learners/rng.js';
import { RandomSampler, type Sampler, sampleUniform } from './sampler.js';
import { type Distribution, type SearchSpace, isActive, orderedEntries } from './space.js';
import type { TrialRecord } from './trial.js';
import { logNormalMass, truncatedNormalSample } from './normal.js';

export interface TpeOptions {
  /** Random trials before TPE starts (Optuna: 10). */
  startupTrials?: number;
  /** Candidates drawn from l(x) per suggestion (Optuna: 24). */
  candidates?: number;
  /** Weight of the prior component (Optuna: 1.0). */
  priorWeight?: number;
  /** Treat running trials as bad results (Optuna's constant_liar), for parallel workers. */
  constantLiar?: boolean;
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** One parameter as the estimator sees it: bounds of the truncation in internal units. */
interface Dimension {
  name: string;
  distribution: Distribution;
  kind: 'continuous' | 'discrete' | 'categorical';
  /** Truncation bounds (internal units); for discrete, the outer cell edges. */
  low: number;
  high: number;
  /** Cell width for discrete dimensions. */
  step: number;
  nChoices: number;
}

interface Mixture {
  cumulativeWeights: Float64Array;
  /**
   * Per component: log weight plus the log normalisers of its continuous kernels, so evaluating a point
   * only adds −z²/2 per continuous dimension.
   */
  base: Float64Array;
  /** components × dims, row-major; used for numeric dimensions only. */
  mus: Float64Array;
  sigmas: Float64Array;
  invSigmas: Float64Array;
  /** Discrete dimensions' log normalisers (components × dims). */
  logNorms: Float64Array;
  /** Per categorical dimension: components × choices, probabilities and their logs (empty otherwise). */
  probs: Float64Array[];
  logProbs: Float64Array[];
}

export function gamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Optuna's default_weights: older observations get ramped-down weights once there are 25 or more. */
export function observationWeights(n: number): Float64Array {
  const w = new Float64Array(n);
  if (n < 25) return w.fill(1);
  const ramp = n - 25;
  for (let i = 0; i < ramp; i++) w[i] = ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1);
  for (let i = ramp; i < n; i++) w[i] = 1;
  return w;
}

function makeDimension(name: string, d: Distribution): Dimension {
  if (d.kind === 'categorical') return { name, distribution: d, kind: 'categorical', low: 0, high: 0, step: 0, nChoices: d.choices.length };
  const step = d.step;
  if (d.log) {
    if (step !== undefined && d.low - step / 2 > 0) {
      return { name, distribution: d, kind: 'continuous', low: Math.log(d.low - step / 2), high: Math.log(d.high + step / 2), step: 0, nChoices: 0 };
    }
    return { name, distribution: d, kind: 'continuous', low: Math.log(d.low), high: Math.log(d.high), step: 0, nChoices: 0 };
  }
  if (step !== undefined) {
    return { name, distribution: d, kind: 'discrete', low: d.low - step / 2, high: d.high + step / 2, step, nChoices: 0 };
  }
  return { name, distribution: d, kind: 'continuous', low: d.low, high: d.high, step: 0, nChoices: 0 };
}

/** A parameter value → internal coordinate (choice index for categoricals); NaN when unusable. */
function toCoordinate(dim: Dimension, value: ParamValue | undefined): number {
  const d = dim.distribution;
  if (value === undefined) return Number.NaN;
  if (d.kind === 'categorical') {
    const index = d.choices.indexOf(value);
    return index >= 0 ? index : Number.NaN;
  }
  if (typeof value !== 'number') return Number.NaN;
  return d.log ? Math.log(value) : value;
}

/** An internal coordinate → the value the trial will run with (rounded to the grid, clipped). */
function toValue(dim: Dimension, x: number): ParamValue {
  const d = dim.distribution;
  if (d.kind === 'categorical') return d.choices[x];
  let v = d.log ? Math.exp(x) : x;
  const step = d.step;
  if (step !== undefined) v = d.low + Math.round((v - d.low) / step) * step;
  v = Math.min(d.high, Math.max(d.low, v));
  // Keep stepped floats free of binary noise such as 0.30000000000000004.
  if (step !== undefined && d.kind === 'float') v = Number(v.toPrecision(12));
  return v;
}

export class TpeSampler implements Sampler {
  readonly name = 'tpe';
  private readonly startup: number;
  private readonly nCandidates: number;
  private readonly priorWeight: number;
  private readonly constantLiar: boolean;
  private readonly random = new RandomSampler();

  constructor(options: TpeOptions = {}) {
    this.startup = options.startupTrials ?? 10;
    this.nCandidates = options.candidates ?? 24;
    this.priorWeight = options.priorWeight ?? 1.0;
    this.constantLiar = options.constantLiar ?? false;
  }

  sample(space: SearchSpace, trials: readonly TrialRecord[], rng: Rng): Record<string, ParamValue> {
    const complete = trials.filter((t) => t.state === 'COMPLETE' && t.value !== null && Number.isFinite(t.value));
    const pruned = trials.filter((t) => t.state === 'PRUNED');
    const n = complete.length + pruned.length;
    if (n < this.startup || complete.length === 0) return this.random.sample(space, trials, rng);
    // Best first (greater value is better); ties broken by trial number for determinism.
    const ranked = [...complete].sort((a, b) => (b.value as number) - (a.value as number) || a.number - b.number);
    const nBelow = Math.min(gamma(n), ranked.length);
    const byNumber = (a: TrialRecord, b: TrialRecord): number => a.number - b.number;
    const below = ranked.slice(0, nBelow).sort(byNumber);
    const aboveTrials = [...ranked.slice(nBelow), ...pruned];
    if (this.constantLiar) aboveTrials.push(...trials.filter((t) => t.state === 'RUNNING'));
    const above = aboveTrials.sort(byNumber);

    const entries = orderedEntries(space);
    const params: Record<string, ParamValue> = {};
    // Unconditional parameters are sampled jointly; conditional ones one by one once their parent is known.
    const joint = entries.filter(([, e]) => !e.condition).map(([name, e]) => makeDimension(name, e.distribution));
    Object.assign(params, this.sampleGroup(joint, below, above, rng));
    for (const [name, entry] of entries) {
      if (!entry.condition || !isActive(entry, params)) continue;
      const relevant = (ts: readonly TrialRecord[]): TrialRecord[] => ts.filter((t) => t.params[name] !== undefined);
      const b = relevant(below);
      const a = relevant(above);
      params[name] = b.length === 0 ? sampleUniform(entry, rng) : this.sampleGroup([makeDimension(name, entry.distribution)], b, a, rng)[name];
    }
    return params;
  }

  private sampleGroup(dims: readonly Dimension[], below: readonly TrialRecord[], above: readonly TrialRecord[], rng: Rng): Record<string, ParamValue> {
    if (dims.length === 0) return {};
    const l = this.fit(dims, observationsOf(dims, below));
    const g = this.fit(dims, observationsOf(dims, above));
    const d = dims.length;
    const candidate = new Float64Array(d);
    const best = new Float64Array(d);
    let bestScore = Number.NEGATIVE_INFINITY;
    const scratch = new Float64Array(Math.max(l.base.length, g.base.length));
    for (let c = 0; c < this.nCandidates; c++) {
      this.draw(dims, l, rng, candidate);
      const score = logPdf(dims, l, candidate, scratch) - logPdf(dims, g, candidate, scratch);
      if (score > bestScore || c === 0) {
        best.set(candidate);
        bestScore = score;
      }
    }
    const out: Record<string, ParamValue> = {};
    dims.forEach((dim, j) => {
      out[dim.name] = toValue(dim, best[j]);
    });
    return out;
  }

  /** The Parzen mixture over `observations` (rows of coordinates) plus the prior component. */
  private fit(dims: readonly Dimension[], observations: readonly Float64Array[]): Mixture {
    const n = observations.length;
    const k = n + 1;
    const d = dims.length;
    const weights = new Float64Array(k);
    weights.set(observationWeights(n));
    weights[n] = this.priorWeight;
    let total = 0;
    for (let i = 0; i < k; i++) total += weights[i];
    const base = new Float64Array(k);
    const cumulativeWeights = new Float64Array(k);
    let running = 0;
    for (let i = 0; i < k; i++) {
      base[i] = Math.log(weights[i] / total);
      running += weights[i] / total;
      cumulativeWeights[i] = running;
    }
    const mixture: Mixture = {
      cumulativeWeights,
      base,
      mus: new Float64Array(k * d),
      sigmas: new Float64Array(k * d),
      invSigmas: new Float64Array(k * d),
      logNorms: new Float64Array(k * d),
      probs: [],
      logProbs: [],
    };
    dims.forEach((dim, j) => {
      if (dim.kind === 'categorical') {
        const m = dim.nChoices;
        const probs = new Float64Array(k * m);
        const prior = this.priorWeight / k;
        for (let i = 0; i < k; i++) {
          let sum = 0;
          for (let c = 0; c < m; c++) {
            probs[i * m + c] = prior + (i < n && observations[i][j] === c ? 1 : 0);
            sum += probs[i * m + c];
          }
          for (let c = 0; c < m; c++) probs[i * m + c] /= sum;
        }
        mixture.probs.push(probs);
        mixture.logProbs.push(probs.map(Math.log));
        return;
      }
      mixture.probs.push(new Float64Array(0));
      mixture.logProbs.push(new Float64Array(0));
      // For discrete ranges Optuna's "range" includes one step: the span of the outer cell edges.
      const range = dim.high - dim.low;
      const bandwidth = 0.2 * Math.pow(Math.max(n, 1), -1 / (d + 4)) * range;
      const minSigma = range / Math.min(100, 1 + n + 1);
      const sigma = Math.min(range, Math.max(minSigma, bandwidth));
      for (let i = 0; i < k; i++) {
        const mu = i < n ? observations[i][j] : 0.5 * (dim.low + dim.high);
        const s = i < n ? sigma : range;
        const at = i * d + j;
        mixture.mus[at] = mu;
        mixture.sigmas[at] = s;
        mixture.invSigmas[at] = 1 / s;
        const mass = logNormalMass((dim.low - mu) / s, (dim.high - mu) / s);
        // Continuous: the truncated normal's normaliser joins the component's base term. Discrete: only the mass.
        if (dim.kind === 'continuous') base[i] += -LOG_SQRT_2PI - Math.log(s) - mass;
        else mixture.logNorms[at] = -mass;
      }
    });
    return mixture;
  }

  /** Draws one point from the mixture into `out`, snapped to the value a trial would run with. */
  private draw(dims: readonly Dimension[], m: Mixture, rng: Rng, out: Float64Array): void {
    const u = rng.next();
    let component = m.cumulativeWeights.length - 1;
    for (let i = 0; i < m.cumulativeWeights.length; i++) {
      if (u < m.cumulativeWeights[i]) {
        component = i;
        break;
      }
    }
    for (let j = 0; j < dims.length; j++) {
      const dim = dims[j];
      if (dim.kind === 'categorical') {
        const probs = m.probs[j];
        const base = component * dim.nChoices;
        let v = rng.next();
        let choice = dim.nChoices - 1;
        for (let c = 0; c < dim.nChoices; c++) {
          v -= probs[base + c];
          if (v < 0) {
            choice = c;
            break;
          }
        }
        out[j] = choice;
        continue;
      }
      const at = component * dims.length + j;
      const x = truncatedNormalSample(rng.next(), m.mus[at], m.sigmas[at], dim.low, dim.high);
      // Evaluate l and g where the trial will actually run.
      out[j] = toCoordinate(dim, toValue(dim, x));
    }
  }
}

function observationsOf(dims: readonly Dimension[], trials: readonly TrialRecord[]): Float64Array[] {
  const rows: Float64Array[] = [];
  for (const trial of trials) {
    const row = new Float64Array(dims.length);
    let usable = true;
    for (let j = 0; j < dims.length && usable; j++) {
      row[j] = toCoordinate(dims[j], trial.params[dims[j].name]);
      usable = Number.isFinite(row[j]);
    }
    if (usable) rows.push(row);
  }
  return rows;
}

/** log of the mixture density at x (log-sum-exp over components). `scratch` holds per-component terms. */
function logPdf(dims: readonly Dimension[], m: Mixture, x: Float64Array, scratch: Float64Array): number {
  const k = m.base.length;
  const d = dims.length;
  let maxTerm = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < k; i++) {
    let t = m.base[i];
    const row = i * d;
    for (let j = 0; j < d; j++) {
      const kind = dims[j].kind;
      if (kind === 'continuous') {
        const z = (x[j] - m.mus[row + j]) * m.invSigmas[row + j];
        t -= 0.5 * z * z;
      } else if (kind === 'categorical') {
        t += m.logProbs[j][i * dims[j].nChoices + x[j]];
      } else {
        const half = 0.5 * dims[j].step;
        const mu = m.mus[row + j];
        const inv = m.invSigmas[row + j];
        t += logNormalMass((x[j] - half - mu) * inv, (x[j] + half - mu) * inv) + m.logNorms[row + j];
      }
    }
    scratch[i] = t;
    if (t > maxTerm) maxTerm = t;
  }
  let s = 0;
  for (let i = 0; i < k; i++) s += Math.exp(scratch[i] - maxTerm);
  return maxTerm + Math.log(s);
}
