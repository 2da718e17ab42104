/**
 * The STFT front end on the WebAssembly SIMD kernel (wasm/spectrum.ts): periodic-Hann window → real FFT →
 * power → (optionally) mel band energies, float64 throughout, for a run of frames per call. This module lays
 * out the kernel's memory once per configuration — window, bit-reversal sources, twiddles, mel runs,
 * scratch, an input area and the output frames — and never grows it afterwards, so the typed-array views
 * it hands out stay valid. The window may be any nFft values (the tempogram passes its zero-padded Hann
 * and hop 1, and sums the frames' normalised power with addNormalisedPower).
 *
 * The results equal RealFft.forwardPower (and MelFilterbank.apply) up to rounding: the same butterflies,
 * but a radix-2 rather than radix-8 first stage for odd log2 sizes, and sums taken two lanes at a time
 * (test/unit/audio/spectrum-kernel.test.ts states the tolerance).
 */
import { wasmBase64 } from '../generated/wasm/spectrum.js';
import { instantiateKernel, MemoryLayout } from '../runtime/wasm.js';
import { sharedHannPeriodic } from './framing.js';
import type { MelFilterbank } from './mel.js';

interface SpectrumExports {
  configure(m: number, radix: number, window: number, sources: number, twiddles: number, split: number, re: number, im: number): void;
  configureMel(bands: number, firstBin: number, count: number, weights: number): void;
  powerFrames(input: number, frames: number, hop: number, power: number, powerStride: number, mel: number, melStride: number): void;
  addNormalisedPower(power: number, frames: number, powerStride: number, sum: number, tiny: number): void;
}

/** The smallest n_fft the kernel handles (its split step and stages need M = n_fft/2 >= 8). */
export const KERNEL_MIN_FFT = 16;

/** Frames computed per kernel call: the input area holds (BLOCK_FRAMES − 1)·hop + n_fft samples. */
export const BLOCK_FRAMES = 64;


function reverseBits(value: number, bits: number): number {
  let reversed = 0;
  for (let b = 0; b < bits; b++) reversed |= ((value >> b) & 1) << (bits - 1 - b);
  return reversed;
}

export class SpectrumKernel {
  readonly nFft: number;
  readonly hop: number;
  readonly nBins: number;
  readonly nMels: number;
  /** Samples the input area holds: frames f = 0 … BLOCK_FRAMES − 1 start at f·hop. */
  readonly inputCapacity: number;
  /** The input area (write frames here), then per frame f: power.subarray(f·nBins, (f+1)·nBins), mel likewise. */
  readonly input: Float64Array;
  readonly power: Float64Array;
  readonly mel: Float64Array;
  /** power and mel of frame f of the block as views, made once. */
  readonly powerFrames: Float64Array[] = [];
  readonly melFrames: Float64Array[] = [];
  /** nBins f64 that addNormalisedPower accumulates into (zero at construction; the caller resets it). */
  readonly powerSum: Float64Array;
  private readonly exports: SpectrumExports;
  private readonly inputPtr: number;
  private readonly powerPtr: number;
  private readonly melPtr: number;
  private readonly powerSumPtr: number;

  /** window: nFft f64 (default the periodic Hann of nFft), applied to every frame as it is loaded. */
  constructor(nFft: number, hop: number, mel: MelFilterbank | null, window: Float64Array | null = null) {
    if (!Number.isInteger(nFft) || nFft < KERNEL_MIN_FFT || (nFft & (nFft - 1)) !== 0) {
      throw new RangeError(`the spectrum kernel needs n_fft a power of two >= ${KERNEL_MIN_FFT}, got ${nFft}`);
    }
    if (!Number.isInteger(hop) || hop < 1) throw new RangeError(`hop must be a positive integer, got ${hop}`);
    if (window !== null && window.length !== nFft) throw new RangeError(`the window has ${window.length} samples, n_fft is ${nFft}`);
    if (mel !== null && mel.nBins !== nFft / 2 + 1) throw new RangeError(`the mel filterbank has ${mel.nBins} bins, n_fft ${nFft} needs ${nFft / 2 + 1}`);
    this.nFft = nFft;
    this.hop = hop;
    const half = nFft / 2;
    const nBins = half + 1;
    this.nBins = nBins;
    const bits = Math.log2(half);
    const radix = bits % 2 === 0 ? 4 : 2;
    const runs = mel?.runs() ?? null;
    const nMels = runs ? runs.firstBin.length : 0;
    this.nMels = nMels;
    this.inputCapacity = (BLOCK_FRAMES - 1) * hop + nFft;

    let twiddleCount = 0;
    for (let q = radix; q < half; q *= 4) twiddleCount += 6 * q;
    const layout = new MemoryLayout();
    const windowAt = layout.take(8 * nFft);
    const sourcesAt = layout.take(4 * (half / radix));
    const twiddlesAt = layout.take(8 * twiddleCount);
    const splitAt = layout.take(16 * (half / 2 + 1));
    const reAt = layout.take(8 * half);
    const imAt = layout.take(8 * half);
    const melFirstAt = layout.take(4 * nMels);
    const melCountAt = layout.take(4 * nMels);
    const melWeightsAt = layout.take(8 * (runs ? runs.weights.length : 0));
    this.inputPtr = layout.take(8 * this.inputCapacity);
    this.powerPtr = layout.take(8 * nBins * BLOCK_FRAMES);
    this.melPtr = layout.take(8 * Math.max(1, nMels) * BLOCK_FRAMES);
    this.powerSumPtr = layout.take(8 * nBins);

    const kernel = instantiateKernel<SpectrumExports>('spectrum', wasmBase64);
    kernel.ensureBytes(layout.end);
    const buffer = kernel.memory.buffer;
    this.exports = kernel.exports;

    new Float64Array(buffer, windowAt, nFft).set(window ?? sharedHannPeriodic(nFft));
    const sources = new Int32Array(buffer, sourcesAt, half / radix);
    for (let p = 0; p < sources.length; p++) sources[p] = reverseBits(p * radix, bits);
    const twiddles = new Float64Array(buffer, twiddlesAt, twiddleCount);
    let offset = 0;
    for (let q = radix; q < half; q *= 4) {
      for (let power = 1; power <= 3; power++) {
        for (let k = 0; k < q; k++) {
          const angle = (-2 * Math.PI * power * k) / (4 * q);
          twiddles[offset + 2 * (power - 1) * q + k] = Math.cos(angle);
          twiddles[offset + (2 * (power - 1) + 1) * q + k] = Math.sin(angle);
        }
      }
      offset += 6 * q;
    }
    const middle = half / 2;
    const split = new Float64Array(buffer, splitAt, 2 * (middle + 1));
    for (let k = 0; k <= middle; k++) {
      const angle = (2 * Math.PI * k) / nFft;
      split[k] = Math.cos(angle);
      split[middle + 1 + k] = -Math.sin(angle);
    }
    this.exports.configure(half, radix, windowAt, sourcesAt, twiddlesAt, splitAt, reAt, imAt);
    if (runs) {
      new Int32Array(buffer, melFirstAt, nMels).set(runs.firstBin);
      new Int32Array(buffer, melCountAt, nMels).set(runs.counts);
      new Float64Array(buffer, melWeightsAt, runs.weights.length).set(runs.weights);
      this.exports.configureMel(nMels, melFirstAt, melCountAt, melWeightsAt);
    }
    this.input = new Float64Array(buffer, this.inputPtr, this.inputCapacity);
    this.power = new Float64Array(buffer, this.powerPtr, nBins * BLOCK_FRAMES);
    this.mel = new Float64Array(buffer, this.melPtr, Math.max(1, nMels) * BLOCK_FRAMES);
    this.powerSum = new Float64Array(buffer, this.powerSumPtr, nBins);
    for (let f = 0; f < BLOCK_FRAMES; f++) {
      this.powerFrames.push(this.power.subarray(f * nBins, (f + 1) * nBins));
      this.melFrames.push(this.mel.subarray(f * nMels, (f + 1) * nMels));
    }
  }

  /**
   * Frames f = 0 … frames − 1 of the input area (frame f starts at input[first + f·hop]) into
   * power[f·nBins …] and, with a mel bank, mel[f·nMels …].
   */
  compute(first: number, frames: number): void {
    if (frames < 1 || frames > BLOCK_FRAMES || first < 0 || first + (frames - 1) * this.hop + this.nFft > this.inputCapacity) {
      throw new RangeError(`SpectrumKernel.compute: ${frames} frames from ${first} do not fit the input area`);
    }
    this.exports.powerFrames(this.inputPtr + 8 * first, frames, this.hop, this.powerPtr, 8 * this.nBins, this.nMels > 0 ? this.melPtr : 0, 8 * this.nMels);
  }

  /**
   * For the first `frames` power spectra of the block: powerSum[k] += power[k] / r(0), where
   * r(0) = (power[0] + 2·Σ_{0<k<N/2} power[k] + power[N/2]) / N is the frame's energy (its autocorrelation at
   * lag 0); frames with r(0) < tiny are added as they are.
   */
  addNormalisedPower(frames: number, tiny: number): void {
    if (frames < 1 || frames > BLOCK_FRAMES) throw new RangeError(`SpectrumKernel.addNormalisedPower: ${frames} frames, the block holds ${BLOCK_FRAMES}`);
    this.exports.addNormalisedPower(this.powerPtr, frames, 8 * this.nBins, this.powerSumPtr, tiny);
  }
}

/** Idle kernels by configuration, kept for the thread's life: a stream takes one and gives it back at its end. */
const idleKernels = new Map<string, SpectrumKernel[]>();
/** Identities of the mel banks and windows kernels were made with (a key part per object, not per value). */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
const kernelKeys = new WeakMap<SpectrumKernel, string>();

function objectId(value: object | null): number {
  if (value === null) return 0;
  let id = objectIds.get(value);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(value, id);
  }
  return id;
}

function kernelKey(nFft: number, hop: number, mel: MelFilterbank | null, window: Float64Array | null): string {
  return `${nFft}|${hop}|${objectId(mel)}|${objectId(window)}`;
}

/**
 * A kernel for this configuration that no other stream is using (made on first need, then reused). A custom
 * window is told apart by identity: pass the same (unchanged) array each time to reuse its kernels.
 */
export function acquireSpectrumKernel(nFft: number, hop: number, mel: MelFilterbank | null, window: Float64Array | null = null): SpectrumKernel {
  const key = kernelKey(nFft, hop, mel, window);
  const kernel = idleKernels.get(key)?.pop() ?? new SpectrumKernel(nFft, hop, mel, window);
  kernelKeys.set(kernel, key);
  return kernel;
}

export function releaseSpectrumKernel(kernel: SpectrumKernel): void {
  const key = kernelKeys.get(kernel);
  if (key === undefined) return;
  kernelKeys.delete(kernel);
  let idle = idleKernels.get(key);
  if (!idle) {
    idle = [];
    idleKernels.set(key, idle);
  }
  // A few per configuration are enough (streams of one configuration rarely overlap).
  if (idle.length < 2) idle.push(kernel);
}
