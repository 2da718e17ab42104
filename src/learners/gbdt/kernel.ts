/**
 * The WebAssembly side of growing boosting trees (wasm/gbdt.ts): histograms, split scans and row partitions run
 * on the module's memory, where one fit lays out its binned data, rows, gradients and a pool of histograms.
 * One module instance per fit, so concurrent fits never share memory. Views on the memory are re-made whenever
 * it grows (a growth detaches the old buffer).
 */
import { wasmBase64 } from '../../generated/wasm/gbdt.js';
import { instantiateKernel, MemoryLayout, type WasmKernelModule } from '../../runtime/wasm.js';
import { HIST_STRIDE, type HistogramLayout } from './histogram.js';
import type { SplitConstraints, SplitInfo } from './split.js';

interface GbdtExports {
  buildHistogram(out: number, nBins: number, binIndex: number, wide: number, slots: number, rows: number, start: number, end: number, grad: number, hess: number, counts: number): void;
  buildRootHistogram(out: number, nBins: number, binIndex: number, wide: number, slots: number, nRows: number, grad: number, hess: number, rootCounts: number): void;
  sumBins(hist: number, first: number, count: number, total: number, part: number): number;
  sumRows(values: number, rows: number, count: number, total: number): number;
  partitionRows(rows: number, start: number, end: number, codes: number, bin: number, missingBin: number, missingLeft: number): number;
  findBestSplit(
    hist: number,
    subtract: number,
    offsets: number,
    nBins: number,
    slots: number,
    nSlots: number,
    sumGrad: number,
    sumHess: number,
    count: number,
    l2: number,
    minSamplesLeaf: number,
    minChildWeight: number,
    best: number,
  ): void;
}

/** Bytes of the split record findBestSplit writes (see wasm/gbdt.ts). */
const SPLIT_RECORD_BYTES = 48;

/** Memory of one fit: fixed regions laid out once, histograms handed out (and reused) by acquire/release. */
export class GbdtKernel {
  private readonly module: WasmKernelModule<GbdtExports>;
  private readonly fn: GbdtExports;
  private readonly layout = new MemoryLayout(); // from byte 64: a histogram pointer is never 0 ("none")
  private buffer: ArrayBuffer | null = null;
  private f64View = new Float64Array(0);
  private i32View = new Int32Array(0);
  private u8View = new Uint8Array(0);
  private readonly freeHistograms: number[] = [];

  readonly nBinsTotal: number;
  readonly histogramBytes: number;
  readonly nSlots: number;
  readonly wide: number;
  readonly rows: number;
  readonly binIndex: number;
  readonly codes: number;
  readonly rootCounts: number;
  readonly offsets: number;
  readonly nBins: number;
  readonly slots: number;
  readonly grad: number;
  readonly hess: number;
  readonly counts: number;
  readonly best: number;

  constructor(
    layout: HistogramLayout,
    binIndex: Uint16Array | Uint32Array,
    codes: Uint8Array,
    rootCounts: Float64Array | null,
    readonly nRows: number,
  ) {
    this.module = instantiateKernel<GbdtExports>('gbdt', wasmBase64);
    this.fn = this.module.exports;
    this.nBinsTotal = layout.size / HIST_STRIDE;
    this.histogramBytes = layout.size * 8;
    this.nSlots = layout.features.length;
    this.wide = binIndex instanceof Uint32Array ? 1 : 0;
    const n = nRows;
    this.rows = this.alloc(4 * n);
    this.grad = this.alloc(8 * n);
    this.hess = this.alloc(8 * n);
    this.binIndex = this.alloc(binIndex.byteLength);
    this.codes = this.alloc(codes.byteLength);
    this.rootCounts = rootCounts ? this.alloc(rootCounts.byteLength) : 0;
    this.offsets = this.alloc(4 * this.nSlots);
    this.nBins = this.alloc(4 * this.nSlots);
    this.slots = this.alloc(4 * this.nSlots);
    this.counts = this.alloc(4 * this.nBinsTotal);
    this.best = this.alloc(SPLIT_RECORD_BYTES);
    this.refresh();
    new Uint8Array(this.module.memory.buffer, this.binIndex, binIndex.byteLength).set(new Uint8Array(binIndex.buffer, binIndex.byteOffset, binIndex.byteLength));
    this.u8View.set(codes, this.codes);
    if (rootCounts) this.f64View.set(rootCounts, this.rootCounts / 8);
    this.i32View.set(layout.offsets, this.offsets / 4);
    this.i32View.set(layout.nBins, this.nBins / 4);
  }

  /** Bump allocation, 16-byte aligned. */
  private alloc(bytes: number): number {
    const at = this.layout.take(bytes);
    this.module.ensureBytes(this.layout.end);
    return at;
  }

  private refresh(): void {
    const buffer = this.module.memory.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.f64View = new Float64Array(buffer);
    this.i32View = new Int32Array(buffer);
    this.u8View = new Uint8Array(buffer);
  }

  acquireHistogram(): number {
    return this.freeHistograms.pop() ?? this.alloc(this.histogramBytes);
  }

  releaseHistogram(hist: number): void {
    this.freeHistograms.push(hist);
  }

  /** Loads one tree's inputs: its rows (in order), per-row gradients and hessians, and its histogram slots. */
  loadTree(rows: Int32Array, nRowsUsed: number, grad: Float64Array, hess: Float64Array, slots: Int32Array, nSlots: number): void {
    this.refresh();
    this.i32View.set(rows.subarray(0, nRowsUsed), this.rows / 4);
    this.f64View.set(grad, this.grad / 8);
    this.f64View.set(hess, this.hess / 8);
    this.i32View.set(slots.subarray(0, nSlots), this.slots / 4);
  }

  /** The tree's rows as the partitions left them (a fresh view; valid until the memory next grows). */
  rowsView(count: number): Int32Array {
    this.refresh();
    return this.i32View.subarray(this.rows / 4, this.rows / 4 + count);
  }

  buildHistogram(out: number, start: number, end: number): void {
    this.fn.buildHistogram(out, this.nBinsTotal, this.binIndex, this.wide, this.nSlots, this.rows, start, end, this.grad, this.hess, this.counts);
  }

  buildRootHistogram(out: number): void {
    this.fn.buildRootHistogram(out, this.nBinsTotal, this.binIndex, this.wide, this.nSlots, this.nRows, this.grad, this.hess, this.rootCounts);
  }

  sumBins(hist: number, first: number, count: number, total: number, part: number): number {
    return this.fn.sumBins(hist, first, count, total, part);
  }

  sumRows(values: 'grad' | 'hess', count: number, total: number): number {
    return this.fn.sumRows(values === 'grad' ? this.grad : this.hess, this.rows, count, total);
  }

  partitionRows(start: number, end: number, feature: number, bin: number, missingBin: number, missingLeft: boolean): number {
    return this.fn.partitionRows(this.rows, start, end, this.codes + feature * this.nRows, bin, missingBin, missingLeft ? 1 : 0);
  }

  /** split.ts's findBestSplit on the loaded slots; with `subtract`, hist (the parent's) becomes parent − subtract. */
  findBestSplit(hist: number, nSlots: number, sumGrad: number, sumHess: number, count: number, constraints: SplitConstraints, best: SplitInfo, subtract = 0): void {
    const { l2, minSamplesLeaf, minChildWeight } = constraints;
    this.fn.findBestSplit(hist, subtract, this.offsets, this.nBins, this.slots, nSlots, sumGrad, sumHess, count, l2, minSamplesLeaf, minChildWeight, this.best);
    this.refresh();
    const f64 = this.f64View;
    const at = this.best / 8;
    best.gain = f64[at];
    best.gradLeft = f64[at + 1];
    best.hessLeft = f64[at + 2];
    best.countLeft = f64[at + 3];
    const i32 = this.i32View;
    best.feature = i32[this.best / 4 + 8];
    best.bin = i32[this.best / 4 + 9];
    best.missingLeft = i32[this.best / 4 + 10] === 1;
  }

  /** A histogram's doubles, copied out (tests and debugging). */
  readHistogram(hist: number): Float64Array {
    this.refresh();
    return this.f64View.slice(hist / 8, hist / 8 + this.histogramBytes / 8);
  }

  /** Overwrites a histogram's doubles (tests). */
  writeHistogram(hist: number, values: Float64Array): void {
    this.refresh();
    this.f64View.set(values, hist / 8);
  }
}
