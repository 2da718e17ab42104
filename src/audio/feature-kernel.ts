/**
 * The per-frame features after the power spectrum on the WebAssembly kernel (wasm/features.ts): magnitude,
 * centroid / bandwidth / rolloff / flatness / frame maximum, spectral contrast's peaks and valleys, the
 * float32-rounded power chroma reads, and chroma's filter-bank product. One kernel instance per thread,
 * shared by every analyzer: each call copies its inputs in, runs, and copies its results out, so analyzers
 * that interleave (several clips streamed at once) never see each other's data. Tables (frequencies,
 * contrast bands, chroma weights) are uploaded again only when a call brings different ones.
 */
import { wasmBase64 } from '../generated/wasm/features.js';
import { instantiateKernel, MemoryLayout, type WasmKernelModule } from '../runtime/wasm.js';

interface FeatureExports {
  heapBase(): number;
  configure(bins: number, freqs: number, magnitude: number, rolloff: number, amin: number): void;
  configureContrast(rows: number, start: number, length: number, take: number, lowest: number, highest: number, candidates: number): void;
  spectralFrames(power: number, frames: number, flags: number, shape: number, peak: number, valley: number, rounded: number): void;
  chromaFrames(input: number, frames: number, weights: number, nChroma: number, out: number): void;
}

/** Values per frame in SpectralResults.shape: centroid, bandwidth, rolloff, flatness, max power, fallback (1: recompute in JS). */
export const SHAPE_STRIDE = 6;
export const FLAG_MAGNITUDE = 1;
export const FLAG_SHAPE = 2;
export const FLAG_CONTRAST = 4;
export const FLAG_ROUNDED = 8;

/** Frames per spectralFrames call (the caller's batch). */
export const KERNEL_BATCH_FRAMES = 32;
/** Frames per chromaFrames call. */
export const KERNEL_CHROMA_FRAMES = 256;

/** Contrast bands as the kernel reads them (ContrastBands builds it). */
export interface ContrastTable {
  readonly rows: number;
  readonly start: Int32Array;
  readonly length: Int32Array;
  readonly take: Int32Array;
  readonly mostTaken: number;
}

/** A clip's fixed inputs for spectralFrames; keep one object per clip (uploads are skipped for the same object). */
export interface SpectralTables {
  readonly nBins: number;
  readonly freqs: Float64Array;
  readonly rollPercent: number;
  readonly amin: number;
  readonly contrast: ContrastTable | null;
}

/** Chroma weights, row pairs interleaved (see wasm/features.ts chromaFrames), and their row count. */
export interface ChromaTable {
  readonly nChroma: number;
  readonly nBins: number;
  readonly pairs: Float64Array;
}


interface Sizes {
  nBins: number;
  contrastRows: number;
  mostTaken: number;
  chromaPairs: number;
  nChroma: number;
}

class FeatureKernel {
  private readonly module: WasmKernelModule<FeatureExports>;
  private sizes: Sizes = { nBins: 0, contrastRows: 0, mostTaken: 0, chromaPairs: 0, nChroma: 0 };
  private ptr = { freqs: 0, magnitude: 0, power: 0, shape: 0, peak: 0, valley: 0, start: 0, length: 0, take: 0, lowest: 0, highest: 0, candidates: 0, rounded: 0, weights: 0, chroma: 0 };
  private uploadedTables: SpectralTables | null = null;
  private uploadedChroma: ChromaTable | null = null;

  constructor() {
    this.module = instantiateKernel<FeatureExports>('features', wasmBase64);
  }

  /** Lays the memory out for at least these sizes (never shrinking); forgets uploads when it moves anything. */
  private reserve(need: Sizes): void {
    const s = this.sizes;
    if (need.nBins <= s.nBins && need.contrastRows <= s.contrastRows && need.mostTaken <= s.mostTaken && need.chromaPairs <= s.chromaPairs && need.nChroma <= s.nChroma) {
      return;
    }
    const sizes: Sizes = {
      nBins: Math.max(need.nBins, s.nBins),
      contrastRows: Math.max(need.contrastRows, s.contrastRows),
      mostTaken: Math.max(need.mostTaken, s.mostTaken),
      chromaPairs: Math.max(need.chromaPairs, s.chromaPairs),
      nChroma: Math.max(need.nChroma, s.nChroma),
    };
    const layout = new MemoryLayout(this.module.exports.heapBase());
    const n = sizes.nBins;
    const b = KERNEL_BATCH_FRAMES;
    this.ptr = {
      freqs: layout.take(8 * n),
      magnitude: layout.take(8 * n),
      power: layout.take(8 * b * n),
      shape: layout.take(8 * b * SHAPE_STRIDE),
      peak: layout.take(8 * b * sizes.contrastRows),
      valley: layout.take(8 * b * sizes.contrastRows),
      start: layout.take(4 * sizes.contrastRows),
      length: layout.take(4 * sizes.contrastRows),
      take: layout.take(4 * sizes.contrastRows),
      lowest: layout.take(8 * sizes.mostTaken),
      highest: layout.take(8 * sizes.mostTaken),
      // The contrast selection's candidates (nBins, rounded up to even) and group extremes (two arrays of
      // 10, the kernel's CUT_GROUPS).
      candidates: layout.take(8 * (n + 1) + 16 * 10),
      rounded: layout.take(4 * KERNEL_CHROMA_FRAMES * n),
      weights: layout.take(16 * sizes.chromaPairs * n),
      chroma: layout.take(8 * KERNEL_CHROMA_FRAMES * sizes.nChroma),
    };
    this.module.ensureBytes(layout.end);
    this.sizes = sizes;
    this.uploadedTables = null;
    this.uploadedChroma = null;
  }

  private useTables(tables: SpectralTables): void {
    const c = tables.contrast;
    this.reserve({ ...this.sizes, nBins: tables.nBins, contrastRows: c?.rows ?? 0, mostTaken: c?.mostTaken ?? 0 });
    if (this.uploadedTables === tables) return;
    const buffer = this.module.memory.buffer;
    const p = this.ptr;
    new Float64Array(buffer, p.freqs, tables.nBins).set(tables.freqs);
    this.module.exports.configure(tables.nBins, p.freqs, p.magnitude, tables.rollPercent, tables.amin);
    if (c) {
      new Int32Array(buffer, p.start, c.rows).set(c.start);
      new Int32Array(buffer, p.length, c.rows).set(c.length);
      new Int32Array(buffer, p.take, c.rows).set(c.take);
      this.module.exports.configureContrast(c.rows, p.start, p.length, p.take, p.lowest, p.highest, p.candidates);
    }
    this.uploadedTables = tables;
  }

  private useChroma(table: ChromaTable): void {
    this.reserve({ ...this.sizes, nBins: table.nBins, chromaPairs: table.pairs.length / (2 * table.nBins), nChroma: table.nChroma });
    if (this.uploadedChroma === table) return;
    new Float64Array(this.module.memory.buffer, this.ptr.weights, table.pairs.length).set(table.pairs);
    this.uploadedChroma = table;
  }

  /**
   * `frames` (<= KERNEL_BATCH_FRAMES) power frames from power[0…]; results into `out` (shape: frames ×
   * SHAPE_STRIDE; peak/valley: frames × contrast rows; rounded: frames × nBins float32; chroma: frames ×
   * nChroma, normalised, when a chroma table is given; it reads the rounded power).
   */
  spectral(tables: SpectralTables, flags: number, power: Float64Array, frames: number, out: SpectralOutputs, chroma: ChromaTable | null): void {
    const c = tables.contrast;
    // One reservation for both tables, so uploading one never relays out (and drops) the other.
    this.reserve({
      nBins: tables.nBins,
      contrastRows: c?.rows ?? 0,
      mostTaken: c?.mostTaken ?? 0,
      chromaPairs: chroma ? chroma.pairs.length / (2 * chroma.nBins) : 0,
      nChroma: chroma?.nChroma ?? 0,
    });
    this.useTables(tables);
    if (chroma) this.useChroma(chroma);
    const n = tables.nBins;
    const buffer = this.module.memory.buffer;
    const p = this.ptr;
    new Float64Array(buffer, p.power, frames * n).set(power.subarray(0, frames * n));
    const roundedFlag = chroma || out.rounded ? FLAG_ROUNDED : 0;
    this.module.exports.spectralFrames(p.power, frames, flags | roundedFlag, p.shape, p.peak, p.valley, p.rounded);
    out.shape.set(new Float64Array(buffer, p.shape, frames * SHAPE_STRIDE));
    const rows = tables.contrast?.rows ?? 0;
    if (flags & FLAG_CONTRAST) {
      out.peak.set(new Float64Array(buffer, p.peak, frames * rows));
      out.valley.set(new Float64Array(buffer, p.valley, frames * rows));
    }
    if (out.rounded) out.rounded.set(new Float32Array(buffer, p.rounded, frames * n));
    if (chroma && out.chroma) {
      this.module.exports.chromaFrames(p.rounded, frames, p.weights, chroma.nChroma, p.chroma);
      out.chroma.set(new Float64Array(buffer, p.chroma, frames * chroma.nChroma));
    }
  }

  /** Chroma of `frames` (<= KERNEL_CHROMA_FRAMES) float32 power frames from input[offset…] into out (frames × nChroma). */
  chroma(table: ChromaTable, input: Float32Array, offset: number, frames: number, out: Float64Array): void {
    this.useChroma(table);
    // chromaFrames reads the bin count configured by `configure`: set it when no spectral call has.
    if (this.uploadedTables === null || this.uploadedTables.nBins !== table.nBins) {
      this.module.exports.configure(table.nBins, this.ptr.freqs, this.ptr.magnitude, 0.85, 1e-10);
      this.uploadedTables = null;
    }
    const buffer = this.module.memory.buffer;
    const n = table.nBins;
    new Float32Array(buffer, this.ptr.rounded, frames * n).set(input.subarray(offset, offset + frames * n));
    this.module.exports.chromaFrames(this.ptr.rounded, frames, this.ptr.weights, table.nChroma, this.ptr.chroma);
    out.set(new Float64Array(buffer, this.ptr.chroma, frames * table.nChroma));
  }
}

export interface SpectralOutputs {
  shape: Float64Array;
  peak: Float64Array;
  valley: Float64Array;
  rounded: Float32Array | null;
  chroma: Float64Array | null;
}

let shared: FeatureKernel | null = null;

/** This thread's kernel, made on first use. */
export function featureKernel(): FeatureKernel {
  shared ??= new FeatureKernel();
  return shared;
}

export type { FeatureKernel };
