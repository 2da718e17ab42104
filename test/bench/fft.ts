/**
 * Micro-benchmark of RealFft: µs per transform for 1024/2048/4096 points, forward and inverse, the
 * current implementation against the previous radix-2 one (kept below, for comparison only). The old
 * "inverse" is what the resampler did before `inverse` existed: a second forward transform of the
 * Hermitian-folded spectrum. Run: npx tsx test/bench/fft.ts [trials]
 *
 * Times are CPU time. Trials of each variant are interleaved so that load from other processes hits all of them alike;
 * the minimum is the best estimate of the cost, the median shows the noise.
 */
import { RealFft } from '../../src/audio/fft.js';

// ---- previous implementation (commit 9149c7b), verbatim apart from the name ----
class OldRealFft {
  readonly size: number;
  private readonly half: number;
  private readonly cosTable: Float64Array;
  private readonly sinTable: Float64Array;
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly reversed: Uint32Array;
  private readonly workRe: Float64Array;
  private readonly workIm: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 4, got ${size}`);
    }
    this.size = size;
    const half = size >> 1;
    this.half = half;
    this.cosTable = new Float64Array(half >> 1);
    this.sinTable = new Float64Array(half >> 1);
    for (let i = 0; i < half >> 1; i++) {
      this.cosTable[i] = Math.cos((2 * Math.PI * i) / half);
      this.sinTable[i] = -Math.sin((2 * Math.PI * i) / half);
    }
    this.splitCos = new Float64Array(half + 1);
    this.splitSin = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.splitCos[k] = Math.cos((2 * Math.PI * k) / size);
      this.splitSin[k] = -Math.sin((2 * Math.PI * k) / size);
    }
    this.reversed = new Uint32Array(half);
    const bits = Math.log2(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.reversed[i] = r;
    }
    this.workRe = new Float64Array(half);
    this.workIm = new Float64Array(half);
  }

  /**
   * Forward transform of `input` (length `size`) into `outRe`/`outIm` (length size/2 + 1),
   * e^{-2πi kn/N} convention, unnormalised (as numpy.fft.rfft).
   */
  forward(input: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    const half = this.half;
    const re = this.workRe;
    const im = this.workIm;
    const rev = this.reversed;
    for (let i = 0; i < half; i++) {
      const j = rev[i];
      re[j] = input[2 * i];
      im[j] = input[2 * i + 1];
    }
    for (let len = 2; len <= half; len <<= 1) {
      const step = half / len;
      const halfLen = len >> 1;
      for (let start = 0; start < half; start += len) {
        for (let k = 0; k < halfLen; k++) {
          const wr = this.cosTable[k * step];
          const wi = this.sinTable[k * step];
          const a = start + k;
          const b = a + halfLen;
          const tr = re[b] * wr - im[b] * wi;
          const ti = re[b] * wi + im[b] * wr;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
    // Split the packed complex transform into the spectrum of the real sequence.
    outRe[0] = re[0] + im[0];
    outIm[0] = 0;
    outRe[half] = re[0] - im[0];
    outIm[half] = 0;
    for (let k = 1; k < half; k++) {
      const zr = re[k];
      const zi = im[k];
      const cr = re[half - k];
      const ci = -im[half - k];
      const evenRe = 0.5 * (zr + cr);
      const evenIm = 0.5 * (zi + ci);
      const oddRe = 0.5 * (zi - ci);
      const oddIm = -0.5 * (zr - cr);
      const wr = this.splitCos[k];
      const wi = this.splitSin[k];
      outRe[k] = evenRe + wr * oddRe - wi * oddIm;
      outIm[k] = evenIm + wr * oddIm + wi * oddRe;
    }
  }
}

// ---- end of previous implementation ----

/** The resampler's old inverse: forward transform of (Re + Im) folded into a real sequence. */
function oldInverse(fft: OldRealFft, re: Float64Array, im: Float64Array, out: Float64Array, folded: Float64Array, scratchRe: Float64Array, scratchIm: Float64Array): void {
  const n = fft.size;
  const half = n / 2;
  for (let k = 0; k <= half; k++) {
    if (k === 0 || k === half) folded[k] = re[k];
    else {
      folded[k] = re[k] + im[k];
      folded[n - k] = re[k] - im[k];
    }
  }
  fft.forward(folded, scratchRe, scratchIm);
  const scale = 1 / n;
  for (let t = 0; t < n; t++) out[t] = t <= half ? (scratchRe[t] + scratchIm[t]) * scale : (scratchRe[n - t] - scratchIm[n - t]) * scale;
}

interface Variant {
  name: string;
  size: number;
  run: () => void;
  samples: number[];
}

function randomSignal(n: number, seed: number): Float64Array {
  const x = new Float64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    x[i] = s / 2 ** 30 - 1;
  }
  return x;
}

function maxAbsDifference(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
}

const trials = Number(process.argv[2] ?? 25);
const sizes = [1024, 2048, 4096];
const variants: Variant[] = [];

for (const size of sizes) {
  const bins = size / 2 + 1;
  const x = randomSignal(size, size);
  const oldFft = new OldRealFft(size);
  const newFft = new RealFft(size);
  const oldRe = new Float64Array(bins);
  const oldIm = new Float64Array(bins);
  const newRe = new Float64Array(bins);
  const newIm = new Float64Array(bins);
  const oldOut = new Float64Array(size);
  const newOut = new Float64Array(size);
  const folded = new Float64Array(size);
  const scratchRe = new Float64Array(bins);
  const scratchIm = new Float64Array(bins);

  // The two must agree before their speed means anything.
  oldFft.forward(x, oldRe, oldIm);
  newFft.forward(x, newRe, newIm);
  const forwardError = Math.max(maxAbsDifference(oldRe, newRe), maxAbsDifference(oldIm, newIm));
  oldInverse(oldFft, oldRe, oldIm, oldOut, folded, scratchRe, scratchIm);
  newFft.inverse(newRe, newIm, newOut);
  const inverseError = Math.max(maxAbsDifference(oldOut, x), maxAbsDifference(newOut, x));
  console.log(`size ${size}: |new − old| forward ${forwardError.toExponential(1)}, round-trip error ${inverseError.toExponential(1)}`);
  if (forwardError > 1e-9 * Math.sqrt(size) || inverseError > 1e-12) throw new Error(`size ${size}: implementations disagree`);

  variants.push(
    { name: 'forward old', size, run: () => oldFft.forward(x, oldRe, oldIm), samples: [] },
    { name: 'forward new', size, run: () => newFft.forward(x, newRe, newIm), samples: [] },
    { name: 'inverse old', size, run: () => oldInverse(oldFft, oldRe, oldIm, oldOut, folded, scratchRe, scratchIm), samples: [] },
    { name: 'inverse new', size, run: () => newFft.inverse(newRe, newIm, newOut), samples: [] },
  );
}

/** Transforms per timed trial: enough for ~10 ms at the new code's speed, so timer resolution is irrelevant. */
function repetitions(size: number): number {
  return Math.max(200, Math.round((2048 / size) * 2000));
}

/**
 * CPU time (user + system) of this process per transform, not wall time: on a shared, loaded machine the
 * wall clock also counts time spent descheduled.
 */
function time(variant: Variant): number {
  const reps = repetitions(variant.size);
  const start = process.cpuUsage();
  for (let r = 0; r < reps; r++) variant.run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / reps;
}

// Warm-up: let every variant reach optimised code.
for (const variant of variants) for (let i = 0; i < 5; i++) time(variant);
for (let trial = 0; trial < trials; trial++) for (const variant of variants) variant.samples.push(time(variant));

console.log(`\nCPU µs per transform, ${trials} interleaved trials (min / median)`);
console.log('size   variant        min      median   speed-up (min, median)');
for (const size of sizes) {
  for (const kind of ['forward', 'inverse']) {
    const old = variants.find((v) => v.size === size && v.name === `${kind} old`);
    const fresh = variants.find((v) => v.size === size && v.name === `${kind} new`);
    if (old === undefined || fresh === undefined) continue;
    for (const v of [old, fresh]) {
      const speedUp = v === fresh ? `   ×${(Math.min(...old.samples) / Math.min(...v.samples)).toFixed(2)}, ×${(median(old.samples) / median(v.samples)).toFixed(2)}` : '';
      console.log(`${String(size).padEnd(6)} ${v.name.padEnd(12)} ${Math.min(...v.samples).toFixed(2).padStart(8)} ${median(v.samples).toFixed(2).padStart(10)}${speedUp}`);
    }
  }
}
