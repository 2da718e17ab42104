/**
 * Spectrogram augmentation, applied per training batch on plain typed arrays with the seeded Rng, so a
 * seed gives the same batches on every backend:
 * - SpecAugment (Park et al. 2019) frequency and time masking: bands of rows / runs of frames set to the
 *   mask value (0 after the per-band standardisation, i.e. the band's mean);
 * - mixup (Zhang et al. 2018): each row is blended with a partner from the same batch, weight λ ~ Beta(α, α),
 *   and so are its soft target and its sample weight.
 */
import type { Rng } from '../rng.js';

export interface SpecAugmentSettings {
  freqMasks: number;
  /** Widest frequency mask in bands (capped at a quarter of the bands). */
  freqMaskWidth: number;
  timeMasks: number;
  /** Widest time mask in frames (capped at a quarter of the frames). */
  timeMaskWidth: number;
}

/** Masks each row of `batch` (rows × bands·frames, band-major) in place. */
export function specAugment(batch: Float32Array, rows: number, bands: number, frames: number, settings: SpecAugmentSettings, rng: Rng, maskValue = 0): void {
  const size = bands * frames;
  const maxF = Math.min(settings.freqMaskWidth, Math.floor(bands / 4));
  const maxT = Math.min(settings.timeMaskWidth, Math.floor(frames / 4));
  for (let r = 0; r < rows; r++) {
    const base = r * size;
    for (let m = 0; m < settings.freqMasks && maxF > 0; m++) {
      const width = rng.int(maxF + 1);
      const start = rng.int(bands - width + 1);
      batch.fill(maskValue, base + start * frames, base + (start + width) * frames);
    }
    for (let m = 0; m < settings.timeMasks && maxT > 0; m++) {
      const width = rng.int(maxT + 1);
      const start = rng.int(frames - width + 1);
      for (let b = 0; b < bands; b++) {
        const rowBase = base + b * frames + start;
        batch.fill(maskValue, rowBase, rowBase + width);
      }
    }
  }
}

/**
 * Blends rows in place: row i becomes λ·row i + (1−λ)·row π(i) for a random permutation π, and likewise
 * the targets (rows × width) and weights. Returns λ.
 */
export function mixup(inputs: Float32Array, inputWidth: number, targets: Float32Array, targetWidth: number, weights: Float32Array, rows: number, alpha: number, rng: Rng): number {
  const lambda = sampleBeta(alpha, alpha, rng);
  const partner = rng.shuffle(Int32Array.from({ length: rows }, (_, i) => i));
  const x = inputs.slice(0, rows * inputWidth);
  const t = targets.slice(0, rows * targetWidth);
  const w = weights.slice(0, rows);
  const mu = 1 - lambda;
  for (let i = 0; i < rows; i++) {
    const j = partner[i];
    for (let k = 0; k < inputWidth; k++) inputs[i * inputWidth + k] = lambda * x[i * inputWidth + k] + mu * x[j * inputWidth + k];
    for (let k = 0; k < targetWidth; k++) targets[i * targetWidth + k] = lambda * t[i * targetWidth + k] + mu * t[j * targetWidth + k];
    weights[i] = lambda * w[i] + mu * w[j];
  }
  return lambda;
}

/** Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(a: number, b: number, rng: Rng): number {
  const x = sampleGamma(a, rng);
  const y = sampleGamma(b, rng);
  return x + y > 0 ? x / (x + y) : 0.5;
}

/** Gamma(shape, 1): Marsaglia–Tsang for shape ≥ 1, boosted by U^(1/shape) below 1. */
export function sampleGamma(shape: number, rng: Rng): number {
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = rng.next();
    return sampleGamma(shape + 1, rng) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}
