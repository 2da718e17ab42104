/**
 * The log-mel / MFCC chain as librosa: power_to_db (ref 1, amin, top_db from the whole clip's maximum),
 * DCT-II with orthonormal scaling (scipy.fftpack.dct norm='ortho'), and Savitzky-Golay deltas
 * (librosa.feature.delta, mode='interp').
 *
 * On float32 matrices (the analyzer's mel spectrogram) the maximum, the floored dB and the DCT run in the
 * WebAssembly kernel wasm/spectrum-mfcc.ts, same arithmetic order per value; float64 arrays stay in JS.
 */
import { wasmBase64 } from '../generated/wasm/spectrum-mfcc.js';
import { instantiateKernel, type WasmKernelModule } from '../runtime/wasm.js';

interface MfccKernelExports {
  maxF32(ptr: number, n: number): number;
  flooredDb(ptr: number, n: number, amin: number, floor: number, cut: number): void;
  flooredDbFast(ptr: number, n: number, amin: number, floor: number, cut: number): void;
  dctColumns(data: number, nIn: number, frames: number, basis: number, nOut: number, out: number): void;
  positiveFluxSums(data: number, nMels: number, frames: number, lag: number, out: number): void;
}

let mfccKernel: WasmKernelModule<MfccKernelExports> | null = null;

/** The thread's kernel instance, its memory grown to at least `bytes` (views must be made after this call). */
function kernelWithBytes(bytes: number): WasmKernelModule<MfccKernelExports> {
  mfccKernel ??= instantiateKernel<MfccKernelExports>('spectrum-mfcc', wasmBase64);
  mfccKernel.ensureBytes(bytes);
  return mfccKernel;
}

const MIN_NORMAL_F64 = 2.2250738585072014e-308;

/** Where a float32 matrix goes in the kernel's memory (past the first page's low bytes). */
const MATRIX_AT = 64;

/**
 * A whole-clip matrix passes through the kernel in blocks of at most this many values (4 MiB of float32),
 * since WebAssembly memory never shrinks: copying a 30-minute clip's mel matrix whole would keep ~40 MB
 * resident for the rest of the process. Every kernel here computes each value (or frame) on its own, so
 * the blocks give the same results as one call. A multiple of 4, so the four-value steps line up too.
 */
const BLOCK_VALUES = 1 << 20;

/** Frames per column block of a rows × frames matrix (at least 1, at most BLOCK_VALUES values in all). */
function blockFrames(rows: number): number {
  return Math.max(1, Math.floor(BLOCK_VALUES / Math.max(1, rows)));
}

/** Copies columns [first, first + width) of the row-major rows × frames `data` to `at` as a rows × width matrix. */
function copyColumnsIn(buffer: ArrayBuffer, at: number, data: Float32Array, rows: number, frames: number, first: number, width: number): void {
  const block = new Float32Array(buffer, at, rows * width);
  for (let m = 0; m < rows; m++) block.set(data.subarray(m * frames + first, m * frames + first + width), m * width);
}

export interface PowerToDbOptions {
  amin: number;
  /** Floor the result at (max − topDb); null for no floor. */
  topDb: number | null;
}

export const DEFAULT_AMIN = 1e-10;

/** 10·log10(max(amin, power)) with ref = 1 (librosa.power_to_db). */
export function powerToDbValue(power: number, amin: number): number {
  return 10 * Math.log10(power > amin ? power : amin);
}

/**
 * In-place power_to_db over a whole array: the top_db floor is measured from the maximum of the whole
 * array (the whole clip), never per chunk, as librosa does. The maximum is found on the powers first (the
 * dB map is increasing), so values certainly below the floor are set to it without taking their log: a
 * power (clamped to amin) under 10^(floor/10)·(1 − 1e-12) has a dB value below the floor by far more than log10's error.
 */
export function powerToDbInPlace(data: Float32Array | Float64Array, options: PowerToDbOptions): void {
  const amin = options.amin;
  if (options.topDb === null || data.length === 0) {
    for (let i = 0; i < data.length; i++) data[i] = powerToDbValue(data[i], amin);
    return;
  }
  if (data instanceof Float32Array) {
    powerToDbFloat32(data, amin, options.topDb);
    return;
  }
  // Each pass is its own function: V8 compiles a hot loop on the fly (on-stack replacement), and code
  // compiled inside one loop of a long function leaves that loop without type feedback for what follows,
  // bails out there on every call and runs the rest (the logs) in the interpreter.
  const maxPower = maxOrNaN(data);
  // NaN anywhere (never from real audio) takes the plain path, which propagates it as before.
  if (!(maxPower >= 0)) {
    plainDbWithFloor(data, amin, options.topDb);
    return;
  }
  const floor = powerToDbValue(maxPower, amin) - options.topDb;
  // Values are clamped to amin before the log: the shortcut only applies when amin itself is below the floor.
  const surelyBelow = 10 ** (floor / 10) * (1 - 1e-12);
  const cut = surelyBelow > amin ? surelyBelow : Number.NEGATIVE_INFINITY;
  flooredDbInPlace(data, amin, floor, cut);
}

/**
 * For onset strength (src/audio/onset.ts), on a float32 dB mel matrix (row-major nMels × frames): element
 * t − lag, for t = lag … frames − 1, is Σ_m max(0, S[m, t] − S[m, t − lag]) summed over the bands in order.
 */
export function positiveFluxSums(melDb: Float32Array, nMels: number, frames: number, lag: number): Float64Array {
  const count = Math.max(0, frames - lag);
  const sums = new Float64Array(count);
  if (count === 0 || nMels === 0) return sums;
  // Column blocks of `step` output frames, each with the `lag` frames before it.
  const step = Math.max(1, blockFrames(nMels) - lag);
  const widest = Math.min(count, step) + lag;
  const outAt = MATRIX_AT + Math.ceil((4 * nMels * widest) / 16) * 16;
  const kernel = kernelWithBytes(outAt + 8 * Math.min(count, step));
  const buffer = kernel.memory.buffer;
  for (let done = 0; done < count; done += step) {
    const n = Math.min(step, count - done);
    copyColumnsIn(buffer, MATRIX_AT, melDb, nMels, frames, done, n + lag);
    kernel.exports.positiveFluxSums(MATRIX_AT, nMels, n + lag, lag, outAt);
    sums.set(new Float64Array(buffer, outAt, n), done);
  }
  return sums;
}

/** powerToDbInPlace with a floor on float32 data, in the kernel (block by block): the same steps, the same cut. */
function powerToDbFloat32(data: Float32Array, amin: number, topDb: number): void {
  const kernel = kernelWithBytes(MATRIX_AT + 4 * Math.min(data.length, BLOCK_VALUES));
  const buffer = kernel.memory.buffer;
  let maxPower = Number.NEGATIVE_INFINITY;
  for (let start = 0; start < data.length; start += BLOCK_VALUES) {
    const n = Math.min(BLOCK_VALUES, data.length - start);
    new Float32Array(buffer, MATRIX_AT, n).set(data.subarray(start, start + n));
    const blockMax = kernel.exports.maxF32(MATRIX_AT, n);
    // A NaN anywhere makes the whole maximum NaN, as one scan would.
    if (blockMax !== blockMax || blockMax > maxPower) maxPower = blockMax;
    if (maxPower !== maxPower) break;
  }
  if (!(maxPower >= 0)) {
    plainDbWithFloor(data, amin, topDb);
    return;
  }
  const floor = powerToDbValue(maxPower, amin) - topDb;
  const surelyBelow = 10 ** (floor / 10) * (1 - 1e-12);
  const cut = surelyBelow > amin ? surelyBelow : Number.NEGATIVE_INFINITY;
  // The vectorised logarithm needs finite data (a finite maximum) and a normal amin; both are the usual case.
  const fast = maxPower < Number.POSITIVE_INFINITY && amin >= MIN_NORMAL_F64;
  for (let start = 0; start < data.length; start += BLOCK_VALUES) {
    const n = Math.min(BLOCK_VALUES, data.length - start);
    const block = new Float32Array(buffer, MATRIX_AT, n);
    // One block is already in place when the data fit in one.
    if (start > 0 || data.length > BLOCK_VALUES) block.set(data.subarray(start, start + n));
    if (fast) kernel.exports.flooredDbFast(MATRIX_AT, n, amin, floor, cut);
    else kernel.exports.flooredDb(MATRIX_AT, n, amin, floor, cut);
    data.set(block, start);
  }
}

/** The largest value, or NaN when any value is NaN. */
function maxOrNaN(data: Float32Array | Float64Array): number {
  let maxPower = Number.NEGATIVE_INFINITY;
  let sawNaN = false;
  for (let i = 0; i < data.length; i++) {
    const p = data[i];
    if (p > maxPower) maxPower = p;
    else if (p !== p) sawNaN = true;
  }
  return sawNaN ? Number.NaN : maxPower;
}

function plainDbWithFloor(data: Float32Array | Float64Array, amin: number, topDb: number): void {
  let maxDb = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const db = powerToDbValue(data[i], amin);
    data[i] = db;
    if (db > maxDb) maxDb = db;
  }
  const plainFloor = maxDb - topDb;
  for (let i = 0; i < data.length; i++) if (data[i] < plainFloor) data[i] = plainFloor;
}

/** dB with the floor, skipping the log for powers under `cut` (see powerToDbInPlace). */
function flooredDbInPlace(data: Float32Array | Float64Array, amin: number, floor: number, cut: number): void {
  for (let i = 0; i < data.length; i++) {
    const p = data[i];
    if (p < cut) {
      data[i] = floor;
    } else {
      const db = 10 * Math.log10(p > amin ? p : amin);
      data[i] = db < floor ? floor : db;
    }
  }
}

/**
 * Orthonormal DCT-II basis, row-major nOut × nIn: y[k] = s_k Σ_n x[n] cos(π k (2n+1) / 2N) with
 * s_0 = √(1/N), s_k = √(2/N) (scipy.fftpack.dct(type=2, norm='ortho')), truncated to nOut rows.
 */
export function dctOrthoBasis(nIn: number, nOut: number): Float64Array {
  const basis = new Float64Array(nOut * nIn);
  for (let k = 0; k < nOut; k++) {
    const scale = k === 0 ? Math.sqrt(1 / nIn) : Math.sqrt(2 / nIn);
    for (let n = 0; n < nIn; n++) basis[k * nIn + n] = scale * Math.cos((Math.PI * k * (2 * n + 1)) / (2 * nIn));
  }
  return basis;
}

/** out[k] = Σ_n basis[k, n] · x[n] for k < out.length. */
export function applyBasis(basis: Float64Array, x: Float64Array, out: Float64Array): void {
  const nIn = x.length;
  for (let k = 0; k < out.length; k++) {
    let sum = 0;
    const row = k * nIn;
    for (let n = 0; n < nIn; n++) sum += basis[row + n] * x[n];
    out[k] = sum;
  }
}

/**
 * Why librosa refuses deltas for this many frames, or null when it accepts them
 * (delta width must be odd, >= 3, and no larger than the number of frames in 'interp' mode).
 */
export function deltaRefusal(frames: number, width: number): string | null {
  if (!Number.isInteger(width) || width < 3 || width % 2 === 0) return `delta width must be an odd integer >= 3, got ${width}`;
  if (width > frames) return `when mode='interp', width=${width} cannot exceed data.shape[axis]=${frames}`;
  return null;
}

/**
 * Weights c[j], j = 0..width-1, such that Σ_j c[j] x[t - h + j] is the order-th derivative of the
 * least-squares polynomial of degree `order` fitted to the window (h = (width-1)/2). With polyorder equal
 * to the derivative order that derivative is constant over the window, so scipy's 'interp' edge fit gives
 * the first/last full window's value: delta[t] uses the window centred at clamp(t, h, n-1-h).
 *
 * The degree-p coefficient of the fit is <x, q_p> / <q_p, q_p>, where q_p is the monic polynomial of
 * degree p orthogonal (over the window's points) to all lower degrees; the p-th derivative is p! times it.
 */
export function savgolDerivativeWeights(width: number, order: number): Float64Array {
  const half = (width - 1) / 2;
  // Gram-Schmidt on the monomials 1, j, j², … evaluated at j = -half..half.
  const basis: Float64Array[] = [];
  for (let p = 0; p <= order; p++) {
    const q = new Float64Array(width);
    for (let i = 0; i < width; i++) q[i] = (i - half) ** p;
    for (const lower of basis) {
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < width; i++) {
        dot += q[i] * lower[i];
        norm += lower[i] * lower[i];
      }
      for (let i = 0; i < width; i++) q[i] -= (dot / norm) * lower[i];
    }
    basis.push(q);
  }
  const top = basis[order];
  let norm = 0;
  for (let i = 0; i < width; i++) norm += top[i] * top[i];
  let factorial = 1;
  for (let p = 2; p <= order; p++) factorial *= p;
  const weights = new Float64Array(width);
  for (let i = 0; i < width; i++) weights[i] = (factorial * top[i]) / norm;
  return weights;
}

/**
 * librosa.feature.delta(data, width, order, axis=-1, mode='interp') on a row-major rows × frames matrix.
 * Throws RangeError with librosa's reason when it would refuse (see deltaRefusal).
 */
export function delta(
  data: Float32Array | Float64Array,
  rows: number,
  frames: number,
  width: number,
  order: number,
  out: Float32Array | Float64Array,
): void {
  const refusal = deltaRefusal(frames, width);
  if (refusal !== null) throw new RangeError(refusal);
  if (order < 1 || !Number.isInteger(order)) throw new RangeError(`delta order must be a positive integer, got ${order}`);
  const weights = savgolDerivativeWeights(width, order);
  const half = (width - 1) / 2;
  const centreLast = frames - 1 - half;
  for (let r = 0; r < rows; r++) {
    const base = r * frames;
    if (width === 9 && data instanceof Float32Array && out instanceof Float32Array) {
      deltaRowWidth9(data, base, half, centreLast, weights, out);
    } else {
      for (let t = half; t <= centreLast; t++) out[base + t] = windowSum(data, base + t - half, weights, width);
    }
    // The edges repeat the first and last full window's value (the same sum, so the same number).
    for (let t = 0; t < half; t++) out[base + t] = out[base + half];
    for (let t = centreLast + 1; t < frames; t++) out[base + t] = out[base + centreLast];
  }
}

/** Σ_j weights[j]·data[start + j], in order from 0. */
function windowSum(data: Float32Array | Float64Array, start: number, weights: Float64Array, width: number): number {
  let sum = 0;
  for (let j = 0; j < width; j++) sum += weights[j] * data[start + j];
  return sum;
}

/**
 * The full windows of one row for librosa's default width 9 (float32 in and out): windowSum unrolled, the
 * same products added in the same order, with the weights in locals.
 */
function deltaRowWidth9(data: Float32Array, base: number, first: number, last: number, weights: Float64Array, out: Float32Array): void {
  const w0 = weights[0];
  const w1 = weights[1];
  const w2 = weights[2];
  const w3 = weights[3];
  const w4 = weights[4];
  const w5 = weights[5];
  const w6 = weights[6];
  const w7 = weights[7];
  const w8 = weights[8];
  for (let t = first; t <= last; t++) {
    const s = base + t - 4;
    let sum = 0;
    sum += w0 * data[s];
    sum += w1 * data[s + 1];
    sum += w2 * data[s + 2];
    sum += w3 * data[s + 3];
    sum += w4 * data[s + 4];
    sum += w5 * data[s + 5];
    sum += w6 * data[s + 6];
    sum += w7 * data[s + 7];
    sum += w8 * data[s + 8];
    out[base + t] = sum;
  }
}

/** Frames of the MFCC product computed together: a tile of the mel matrix, transposed, stays in cache. */
const DCT_TILE_FRAMES = 64;

/**
 * out (rows = basis rows, row-major rows × frames, float32) = the orthonormal DCT basis (nOut × nIn) times
 * each frame's column of `data` (nIn × frames, row-major): the MFCC of a dB mel matrix. Same arithmetic as
 * analyze.ts's `mfccFromMelDb` (tiles of frames transposed, four coefficients per read of a mel value, each
 * sum over the mel bands in order), with each loop nest in its own function so that code compiled on the
 * fly inside one loop never runs past it (see powerToDbInPlace): a cold worker no longer bails out of it.
 */
export function dctFrames(data: Float32Array | Float64Array, nIn: number, frames: number, basis: Float64Array, nOut: number): Float32Array {
  const out = new Float32Array(nOut * frames);
  if (data instanceof Float32Array && frames > 0) {
    // Kernel memory: a column block of the data, the basis (8-aligned), the block's output.
    const step = Math.min(frames, blockFrames(nIn));
    const basisAt = MATRIX_AT + Math.ceil((4 * nIn * step) / 16) * 16;
    const outAt = basisAt + 8 * nOut * nIn;
    const kernel = kernelWithBytes(outAt + 4 * nOut * step);
    const buffer = kernel.memory.buffer;
    new Float64Array(buffer, basisAt, nOut * nIn).set(basis.subarray(0, nOut * nIn));
    for (let first = 0; first < frames; first += step) {
      const width = Math.min(step, frames - first);
      copyColumnsIn(buffer, MATRIX_AT, data, nIn, frames, first, width);
      kernel.exports.dctColumns(MATRIX_AT, nIn, width, basisAt, nOut, outAt);
      const block = new Float32Array(buffer, outAt, nOut * width);
      for (let k = 0; k < nOut; k++) out.set(block.subarray(k * width, (k + 1) * width), k * frames + first);
    }
    return out;
  }
  const tile = new Float64Array(DCT_TILE_FRAMES * nIn);
  for (let first = 0; first < frames; first += DCT_TILE_FRAMES) {
    const width = Math.min(DCT_TILE_FRAMES, frames - first);
    transposeTile(data, nIn, frames, first, width, tile);
    dctTile(tile, nIn, width, basis, nOut, out, frames, first);
  }
  return out;
}

function transposeTile(data: Float32Array | Float64Array, nIn: number, frames: number, first: number, width: number, tile: Float64Array): void {
  for (let m = 0; m < nIn; m++) {
    const rowStart = m * frames + first;
    for (let i = 0; i < width; i++) tile[i * nIn + m] = data[rowStart + i];
  }
}

function dctTile(tile: Float64Array, nIn: number, width: number, basis: Float64Array, nOut: number, out: Float32Array, frames: number, first: number): void {
  for (let i = 0; i < width; i++) {
    const column = i * nIn;
    const t = first + i;
    let k = 0;
    for (; k + 4 <= nOut; k += 4) {
      const r0 = k * nIn;
      const r1 = r0 + nIn;
      const r2 = r1 + nIn;
      const r3 = r2 + nIn;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let m = 0; m < nIn; m++) {
        const x = tile[column + m];
        s0 += basis[r0 + m] * x;
        s1 += basis[r1 + m] * x;
        s2 += basis[r2 + m] * x;
        s3 += basis[r3 + m] * x;
      }
      out[k * frames + t] = s0;
      out[(k + 1) * frames + t] = s1;
      out[(k + 2) * frames + t] = s2;
      out[(k + 3) * frames + t] = s3;
    }
    for (; k < nOut; k++) {
      const r = k * nIn;
      let sum = 0;
      for (let m = 0; m < nIn; m++) sum += basis[r + m] * tile[column + m];
      out[k * frames + t] = sum;
    }
  }
}
