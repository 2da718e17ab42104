/** Normal distribution helpers for the Parzen estimators: CDF, inverse CDF and truncated log-density. */

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** erfc with relative error < 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

// Acklam's coefficients, hoisted so the hot path allocates nothing.
const QA = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239] as const;
const QB = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572] as const;
const QC = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const QD = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] as const;

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const a = QA;
  const b = QB;
  const c = QC;
  const d = QD;
  const lower = 0.02425;
  if (p < lower) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lower) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** log density of N(mu, sigma) truncated to [low, high] at x. */
export function truncatedNormalLogPdf(x: number, mu: number, sigma: number, low: number, high: number): number {
  const z = (x - mu) / sigma;
  const mass = normalCdf((high - mu) / sigma) - normalCdf((low - mu) / sigma);
  return -0.5 * z * z - LOG_SQRT_2PI - Math.log(sigma) - Math.log(Math.max(mass, 1e-300));
}

/** Draws from N(mu, sigma) truncated to [low, high] by inverting the CDF (u is uniform in [0,1)). */
export function truncatedNormalSample(u: number, mu: number, sigma: number, low: number, high: number): number {
  const a = normalCdf((low - mu) / sigma);
  const b = normalCdf((high - mu) / sigma);
  if (!(b - a > 1e-12)) {
    // All the mass sits in a far tail: the nearest bound is the honest answer.
    return Math.abs(low - mu) < Math.abs(high - mu) ? low : high;
  }
  const x = mu + sigma * normalQuantile(a + u * (b - a));
  return Math.min(high, Math.max(low, x));
}

/**
 * log(Φ(b) − Φ(a)) for a < b, computed in the tail where the difference is representable
 * (mirrored so both ends sit in the lower tail, where erfc keeps its relative accuracy).
 */
export function logNormalMass(a: number, b: number): number {
  if (a >= 0) {
    // Both in the upper tail: Φ(b) − Φ(a) = Φ(−a) − Φ(−b).
    const hi = normalCdf(-a);
    const lo = normalCdf(-b);
    return Math.log(Math.max(hi - lo, 1e-300));
  }
  return Math.log(Math.max(normalCdf(b) - normalCdf(a), 1e-300));
}
