/**
 * The per-clip analyzer: one streamed STFT feeds every spectral feature, the zero-crossing rate and RMS come
 * from block sums over the signal (no framing), and only small per-frame results are kept (mel power
 * nMels × frames in float32, a few values per frame for the rest). Whole-clip steps (top_db floors, MFCC,
 * deltas, onset envelopes, tempo) run in `finish`. Only what the requested features need is computed: no
 * magnitude spectrum without a magnitude feature, no mel bank without a mel-based one, and so on.
 *
 * Chroma needs the clip's tuning before its first frame. When the tuning is estimated, pass 1 keeps the
 * power spectrogram (float32) if it fits the caller's budget and computes chroma from it at the end of the
 * pass; otherwise (or with no budget) pass 2 re-reads the signal. Chroma reads float32-rounded power on both
 * paths (as librosa's float32 spectrogram), so the choice never changes a value.
 */
import { SpotmlError } from '../errors.js';
import { ChromaComputer, TuningEstimator } from './chroma.js';
import { ALL_FEATURES, isFeatureName, type FeatureName } from './feature-names.js';
import { sharedMelFilterbank, type MelFilterbank } from './mel.js';
import { dctFrames, dctOrthoBasis, DEFAULT_AMIN, delta, deltaRefusal, powerToDbInPlace } from './mfcc.js';
import { onsetStrengths } from './onset.js';
import { ContrastBands, contrastFromPeakValley, SPECTRAL_BLOCK_STRIDE, SpectralFrameBatch, type SpectralBlock } from './spectral.js';
import { fftFrequencies, SpectrumStream, type SpectrumFrame } from './spectrum.js';
import { beatTrack, estimateTempo, type BeatTrackResult } from './tempo.js';
import { TimeFrameStats } from './time-domain.js';

export { ALL_FEATURES, type FeatureName } from './feature-names.js';

export interface FeatureOptions {
  sampleRate: number;
  nFft: number;
  hopLength: number;
  nMels: number;
  fmin: number;
  /** null = sampleRate / 2. */
  fmax: number | null;
  nMfcc: number;
  deltaWidth: number;
  nChroma: number;
  /** Deviation from A440 in fractions of a chroma bin; null = estimate it from the clip (librosa's default). */
  tuning: number | null;
  contrastBands: number;
  contrastFmin: number;
  contrastQuantile: number;
  rolloffPercent: number;
  topDb: number;
  features: readonly FeatureName[];
}

/** librosa 0.11 defaults (sr 22050 unless given). */
export function defaultFeatureOptions(sampleRate = 22050): FeatureOptions {
  return {
    sampleRate,
    nFft: 2048,
    hopLength: 512,
    nMels: 128,
    fmin: 0,
    fmax: null,
    nMfcc: 20,
    deltaWidth: 9,
    nChroma: 12,
    tuning: null,
    contrastBands: 6,
    contrastFmin: 200,
    contrastQuantile: 0.02,
    rolloffPercent: 0.85,
    topDb: 80,
    features: ALL_FEATURES,
  };
}

/** Rows x frames, row-major: data[row * frames + t]. */
export interface FrameMatrix {
  rows: number;
  frames: number;
  data: Float32Array | Float64Array;
}

export interface ClipAnalysis {
  nSamples: number;
  nFrames: number;
  matrices: Partial<Record<FeatureName, FrameMatrix>>;
  /** The tuning chroma used (estimated or given); null when chroma was not asked for. */
  tuning: number | null;
  /**
   * `beatTrack` (and `beatFrames`) come from librosa.beat.beat_track, which needs a second tempogram over
   * the median-aggregated onset envelope: it runs on the first read of either (feature tables read only
   * `feature`), and the result is kept.
   */
  tempo: { readonly feature: number; readonly beatTrack: number } | null;
  readonly beatFrames: Int32Array | null;
  /** Why the MFCC deltas were not computed (clip shorter than the delta width), as librosa refuses them. */
  deltaError: string | null;
}

function usage(message: string, details: Record<string, unknown> = {}): SpotmlError {
  return new SpotmlError('USAGE', message, details);
}

function isPositiveInteger(v: number): boolean {
  return Number.isInteger(v) && v > 0;
}

/** Checks option values librosa would reject, naming the option and the fix. */
export function validateFeatureOptions(o: FeatureOptions): void {
  if (!(Number.isFinite(o.sampleRate) && o.sampleRate > 0)) throw usage(`sample rate must be a positive number, got ${o.sampleRate}`);
  if (!isPositiveInteger(o.nFft) || o.nFft < 4 || (o.nFft & (o.nFft - 1)) !== 0) {
    throw usage(`n_fft must be a power of two >= 4, got ${o.nFft}`);
  }
  if (!isPositiveInteger(o.hopLength)) throw usage(`hop length must be a positive integer, got ${o.hopLength}`);
  if (!isPositiveInteger(o.nMels)) throw usage(`n_mels must be a positive integer, got ${o.nMels}`);
  const fmax = o.fmax ?? o.sampleRate / 2;
  if (!(o.fmin >= 0 && fmax > o.fmin)) throw usage(`mel range must satisfy 0 <= fmin < fmax, got fmin=${o.fmin} fmax=${fmax}`);
  if (!isPositiveInteger(o.nMfcc) || o.nMfcc > o.nMels) throw usage(`n_mfcc must be an integer in 1..n_mels (${o.nMels}), got ${o.nMfcc}`);
  if (!Number.isInteger(o.deltaWidth) || o.deltaWidth < 3 || o.deltaWidth % 2 === 0) {
    throw usage(`delta width must be an odd integer >= 3, got ${o.deltaWidth}`);
  }
  if (!isPositiveInteger(o.nChroma)) throw usage(`n_chroma must be a positive integer, got ${o.nChroma}`);
  if (o.tuning !== null && !(Number.isFinite(o.tuning) && o.tuning >= -0.5 && o.tuning < 0.5)) {
    throw usage(`tuning must lie in [-0.5, 0.5) chroma bins (or be omitted to estimate it), got ${o.tuning}`);
  }
  if (!(o.rolloffPercent > 0 && o.rolloffPercent < 1)) throw usage(`rolloff percent must lie in (0, 1), got ${o.rolloffPercent}`);
  if (!(o.topDb >= 0)) throw usage(`top_db must be >= 0, got ${o.topDb}`);
  if (o.features.length === 0) throw usage('no features selected: name at least one feature');
  for (const f of o.features) {
    if (!isFeatureName(f)) throw usage(`unknown feature "${String(f)}": use one of ${ALL_FEATURES.join(', ')}`);
  }
  try {
    new ContrastBands(contrastOptions(o));
  } catch (err) {
    throw usage(err instanceof Error ? err.message : String(err));
  }
}

function contrastOptions(o: FeatureOptions): ConstructorParameters<typeof ContrastBands>[0] {
  return { sampleRate: o.sampleRate, nFft: o.nFft, nBands: o.contrastBands, fmin: o.contrastFmin, quantile: o.contrastQuantile };
}

/**
 * Per-frame columns of `rows` values. With a frame-count hint the store is the final row-major matrix,
 * written in place (no second copy at the end); without one, columns go into fixed-size blocks (growth
 * never copies) and are transposed once at the end.
 */
class FrameStore {
  private readonly blocks: (Float32Array | Float64Array | null)[] = [];
  private matrix: Float32Array | Float64Array | null = null;
  private capacity = 0;
  private count = 0;
  private readonly one = new Float64Array(1);

  constructor(
    readonly rows: number,
    private readonly precision: 'f32' | 'f64',
    expectedFrames: number | null,
    private readonly blockFrames = 1024,
  ) {
    if (expectedFrames !== null && expectedFrames > 0) {
      this.capacity = expectedFrames;
      this.matrix = this.allocate(rows * expectedFrames);
    }
  }

  private allocate(length: number): Float32Array | Float64Array {
    return this.precision === 'f32' ? new Float32Array(length) : new Float64Array(length);
  }

  /** One frame: values[from … from + rows). */
  push(values: ArrayLike<number>, from = 0): void {
    const rows = this.rows;
    if (this.matrix) {
      if (this.count === this.capacity) this.growMatrix();
      const m = this.matrix;
      const cap = this.capacity;
      const t = this.count;
      for (let r = 0; r < rows; r++) m[r * cap + t] = values[from + r];
    } else {
      const slot = this.count % this.blockFrames;
      if (slot === 0) this.blocks.push(this.allocate(rows * this.blockFrames));
      const block = this.blocks[this.blocks.length - 1] as Float32Array | Float64Array;
      const offset = slot * rows;
      for (let r = 0; r < rows; r++) block[offset + r] = values[from + r];
    }
    this.count++;
  }

  pushScalar(value: number): void {
    this.one[0] = value;
    this.push(this.one);
  }

  /** The hint was short (e.g. a file shorter than its header said): enlarge, keeping the row layout. */
  private growMatrix(): void {
    const old = this.matrix as Float32Array | Float64Array;
    const oldCap = this.capacity;
    const cap = Math.max(oldCap + this.blockFrames, Math.ceil(oldCap * 1.25));
    const next = this.allocate(this.rows * cap);
    for (let r = 0; r < this.rows; r++) next.set(old.subarray(r * oldCap, r * oldCap + this.count), r * cap);
    this.matrix = next;
    this.capacity = cap;
  }

  /** The row-major matrix; the store is empty afterwards. */
  toMatrix(): FrameMatrix {
    const frames = this.count;
    const rows = this.rows;
    this.count = 0;
    if (this.matrix) {
      let data = this.matrix;
      const cap = this.capacity;
      this.matrix = null;
      if (frames !== cap) {
        // Rows move down in order, so copyWithin never overwrites data still to be moved.
        for (let r = 1; r < rows; r++) data.copyWithin(r * frames, r * cap, r * cap + frames);
        data = frames < 0.9 * cap ? data.slice(0, rows * frames) : data.subarray(0, rows * frames);
      }
      return { rows, frames, data };
    }
    const data = this.allocate(rows * frames);
    for (let b = 0; b < this.blocks.length; b++) {
      const block = this.blocks[b] as Float32Array | Float64Array;
      const first = b * this.blockFrames;
      const n = Math.min(this.blockFrames, frames - first);
      for (let i = 0; i < n; i++) {
        const t = first + i;
        const offset = i * rows;
        for (let r = 0; r < rows; r++) data[r * frames + t] = block[offset + r];
      }
      // Release as we go so the garbage collector can reclaim blocks during the copy.
      this.blocks[b] = null;
    }
    this.blocks.length = 0;
    return { rows, frames, data };
  }
}

/** Optional facts about the signal to come, for memory only (results never depend on them). */
export interface AnalyzerHints {
  /** Samples the first pass will receive (e.g. from the WAV header after resampling). Lets per-frame
   * results be written straight into their final matrices instead of being collected and copied. */
  expectedSamples?: number;
  /**
   * Bytes the analyzer may spend keeping the clip's power spectrogram (float32) so that chroma with an
   * estimated tuning needs no second pass over the signal. 0 (the default) always asks for the second pass;
   * a clip whose spectrogram outgrows the budget (known up front from expectedSamples, or found while
   * streaming) drops it and asks for the second pass. Chroma reads float32-rounded power on every path, so
   * the results are the same either way.
   */
  spectrogramBudgetBytes?: number;
}

/** 2^22 frames: over 27 hours at hop 512 / 22050 Hz. */
const MAX_HINTED_FRAMES = 1 << 22;

/** A spectrogram budget that keeps a few minutes of audio (at n_fft 2048) in one pass: ~11,700 frames. */
export const DEFAULT_SPECTROGRAM_BUDGET_BYTES = 48 * 1024 * 1024;

/** Largest slice pushed into the framers at once: bounds their buffers whatever chunk the caller sends. */
const PUSH_SLICE = 1 << 16;

/** Frames per block of the kept power spectrogram. */
const SPECTROGRAM_BLOCK_FRAMES = 256;

/**
 * Spectrogram blocks kept for reuse by the next clip in this thread, up to SPARE_BLOCKS_MAX (~12 MB at
 * n_fft 2048, held for the thread's life): a minute of audio fills ~11 blocks of 1 MB, which would otherwise
 * be allocated (zero-filled) afresh for every clip and left to the garbage collector.
 */
const spareBlocks: Float32Array[] = [];
const SPARE_BLOCKS_MAX = 12;

function takeBlock(length: number): Float32Array {
  const spare = spareBlocks.pop();
  // Every slot of a reused block is overwritten before it is read (frames fill it from the start).
  return spare && spare.length === length ? spare : new Float32Array(length);
}

function returnBlock(block: Float32Array): void {
  if (spareBlocks.length < SPARE_BLOCKS_MAX) spareBlocks.push(block);
}

/** The clip's power spectrogram, rounded to float32, frame after frame in fixed-size blocks (no copying). */
class PowerSpectrogram {
  private readonly blocks: Float32Array[] = [];
  private count = 0;

  constructor(
    readonly nBins: number,
    private readonly maxFrames: number,
  ) {}

  get frames(): number {
    return this.count;
  }

  /** Stores the frame of float32-rounded power rounded[offset, offset + nBins); false (and nothing stored) once the budget is reached. */
  push(rounded: Float32Array, offset: number): boolean {
    if (this.count >= this.maxFrames) return false;
    const slot = this.count % SPECTROGRAM_BLOCK_FRAMES;
    if (slot === 0) this.blocks.push(takeBlock(SPECTROGRAM_BLOCK_FRAMES * this.nBins));
    this.blocks[this.blocks.length - 1].set(rounded.subarray(offset, offset + this.nBins), slot * this.nBins);
    this.count++;
    return true;
  }

  /** Visits the stored frames in order, block by block, as (block, frames in it); releases each block after its visit. */
  forEachBlock(visit: (block: Float32Array, frames: number) => void): void {
    for (let b = 0; b < this.blocks.length; b++) {
      visit(this.blocks[b], Math.min(SPECTROGRAM_BLOCK_FRAMES, this.count - b * SPECTROGRAM_BLOCK_FRAMES));
      returnBlock(this.blocks[b]);
    }
    this.blocks.length = 0;
    this.count = 0;
  }

  /** Drops the stored frames, keeping blocks for reuse. */
  release(): void {
    for (const block of this.blocks) returnBlock(block);
    this.blocks.length = 0;
    this.count = 0;
  }
}

/** Frames of streamed power gathered before chroma runs on them (its kernel takes frames two at a time). */
const CHROMA_BATCH_FRAMES = 32;

/**
 * Chroma over a run of frames into a FrameStore: frames held in float32 blocks are computed in place;
 * streamed frames are rounded to float32 (as librosa's spectrogram) into a small batch first.
 */
class ChromaWriter {
  private readonly batch: Float32Array;
  private batched = 0;
  private out: Float64Array;

  constructor(
    private readonly chroma: ChromaComputer,
    private readonly store: FrameStore,
    private readonly nBins: number,
  ) {
    this.batch = new Float32Array(CHROMA_BATCH_FRAMES * nBins);
    this.out = new Float64Array(CHROMA_BATCH_FRAMES * store.rows);
  }

  /** `frames` consecutive float32 power frames from block[0…]. */
  writeBlock(block: Float32Array, frames: number): void {
    const rows = this.store.rows;
    if (this.out.length < frames * rows) this.out = new Float64Array(frames * rows);
    const out = this.out;
    this.chroma.frames(block, 0, frames, out);
    for (let f = 0; f < frames; f++) this.store.push(out, f * rows);
  }

  /** One streamed power frame (float64; rounded to float32 here). */
  push(power: Float64Array): void {
    this.batch.set(power, this.batched * this.nBins);
    this.batched++;
    if (this.batched === CHROMA_BATCH_FRAMES) this.flush();
  }

  flush(): void {
    if (this.batched === 0) return;
    const frames = this.batched;
    this.batched = 0;
    this.writeBlock(this.batch, frames);
  }
}

/** Streaming analyzer (see the module comment). */
export class ClipAnalyzer {
  private readonly options: FeatureOptions;
  private readonly wanted: ReadonlySet<FeatureName>;
  private readonly needMel: boolean;
  private readonly freqs: Float64Array;
  private readonly expectedFrames: number | null;

  /** null when no requested feature reads the spectrum (e.g. only rms / zero_crossing_rate). */
  private readonly spectrum: SpectrumStream | null;
  private readonly timeStats: TimeFrameStats | null;
  private readonly melFilterbank: MelFilterbank | null;
  private readonly melScratch: Float64Array;
  private readonly melStore: FrameStore | null;

  private readonly centroidStore: FrameStore | null;
  private readonly bandwidthStore: FrameStore | null;
  private readonly rolloffStore: FrameStore | null;
  private readonly flatnessStore: FrameStore | null;
  private readonly zcrStore: FrameStore | null;
  private readonly rmsStore: FrameStore | null;
  /** Shape, flatness, contrast, rounded power and (tuning given) chroma per frame, batched for the kernel; null when none is asked for. */
  private readonly spectralBatch: SpectralFrameBatch | null;

  private readonly contrastBands: ContrastBands | null;
  private readonly peakStore: FrameStore | null;
  private readonly valleyStore: FrameStore | null;

  private readonly wantChroma: boolean;
  private readonly tuner: TuningEstimator | null;
  /** Chroma into chromaStore once the tuning is known; it always reads float32 power, as librosa's. */
  private chromaWriter: ChromaWriter | null = null;
  private chromaStore: FrameStore | null;
  /** Kept while chroma waits for the tuning and the budget allows; null once over budget or used. */
  private spectrogram: PowerSpectrogram | null = null;
  private chromaFromSpectrogram = false;
  private tuning: number | null;
  private secondSpectrum: SpectrumStream | null = null;

  private samples = 0;
  private secondPassSamples = 0;
  private frames = 0;
  private firstPassEnded = false;
  private finished = false;

  constructor(options: FeatureOptions, hints: AnalyzerHints = {}) {
    validateFeatureOptions(options);
    this.options = { ...options, features: [...options.features] };
    const o = this.options;
    const wanted = new Set(o.features);
    this.wanted = wanted;
    this.needMel = ['melspectrogram_db', 'mfcc', 'mfcc_delta', 'mfcc_delta2', 'onset_strength', 'tempo'].some((f) => wanted.has(f as FeatureName));
    this.freqs = fftFrequencies(o.sampleRate, o.nFft);
    const nBins = o.nFft / 2 + 1;
    const expected = hints.expectedSamples;
    // A hint beyond MAX_HINTED_FRAMES is ignored rather than trusted with a huge allocation.
    const hinted = expected !== undefined && Number.isSafeInteger(expected) && expected > 0 ? 1 + Math.floor(expected / o.hopLength) : null;
    const expectedFrames = hinted !== null && hinted <= MAX_HINTED_FRAMES ? hinted : null;
    this.expectedFrames = expectedFrames;

    this.melFilterbank = this.needMel ? sharedMelFilterbank({ sampleRate: o.sampleRate, nFft: o.nFft, nMels: o.nMels, fmin: o.fmin, fmax: o.fmax }) : null;
    this.melScratch = new Float64Array(o.nMels);
    // float32 mel power is the big per-clip buffer; its rounding (~3e-7 dB) is far below librosa's own.
    this.melStore = this.needMel ? new FrameStore(o.nMels, 'f32', expectedFrames) : null;

    const scalarStore = (name: FeatureName): FrameStore | null => (wanted.has(name) ? new FrameStore(1, 'f64', expectedFrames) : null);
    this.centroidStore = scalarStore('spectral_centroid');
    this.bandwidthStore = scalarStore('spectral_bandwidth');
    this.rolloffStore = scalarStore('spectral_rolloff');
    this.flatnessStore = scalarStore('spectral_flatness');
    this.zcrStore = scalarStore('zero_crossing_rate');
    this.rmsStore = scalarStore('rms');

    this.contrastBands = wanted.has('spectral_contrast') ? new ContrastBands(contrastOptions(o)) : null;
    const contrastRows = o.contrastBands + 1;
    this.peakStore = this.contrastBands ? new FrameStore(contrastRows, 'f64', expectedFrames) : null;
    this.valleyStore = this.contrastBands ? new FrameStore(contrastRows, 'f64', expectedFrames) : null;

    const wantChroma = wanted.has('chroma_stft');
    this.wantChroma = wantChroma;
    this.tuning = o.tuning;
    this.tuner = wantChroma && o.tuning === null ? new TuningEstimator(o.sampleRate, o.nFft, o.nChroma) : null;
    // With an estimated tuning the chroma store is created once the frame count is known.
    this.chromaStore = wantChroma && o.tuning !== null ? new FrameStore(o.nChroma, 'f32', expectedFrames) : null;
    // A given tuning: chroma comes with the other per-frame features, from the same kernel call.
    const givenChroma = wantChroma && o.tuning !== null ? new ChromaComputer(o.sampleRate, o.nFft, o.nChroma, o.tuning) : null;
    if (this.tuner) {
      const budget = hints.spectrogramBudgetBytes ?? 0;
      const maxFrames = Number.isFinite(budget) && budget > 0 ? Math.floor(budget / (4 * nBins)) : 0;
      // Known up front to be over budget (or no budget): go straight to the two-pass path.
      if (maxFrames > 0 && (hinted === null || hinted <= maxFrames)) {
        this.spectrogram = new PowerSpectrogram(nBins, maxFrames);
        this.chromaFromSpectrogram = true;
      }
    }

    const wantShape = this.centroidStore !== null || this.bandwidthStore !== null || this.rolloffStore !== null;
    const needSpectrum = this.needMel || wantChroma || this.contrastBands !== null || wantShape || this.flatnessStore !== null;
    const wantFrameFeatures = wantChroma || this.contrastBands !== null || wantShape || this.flatnessStore !== null;
    this.spectralBatch = wantFrameFeatures
      ? new SpectralFrameBatch(
          {
            nBins,
            freqs: this.freqs,
            rollPercent: o.rolloffPercent,
            amin: DEFAULT_AMIN,
            shape: wantShape,
            contrast: this.contrastBands,
            keepRounded: this.spectrogram !== null,
            chroma: givenChroma?.table ?? null,
          },
          (block) => this.onFrameFeatures(block),
        )
      : null;
    // The magnitude is computed by the feature kernel (SpectralFrameBatch), not by the stream.
    const needMagnitude = false;
    // The stream applies the mel bank together with the FFT (frame.mel).
    const mel = this.melFilterbank ?? undefined;
    this.spectrum = needSpectrum ? new SpectrumStream({ nFft: o.nFft, hopLength: o.hopLength, magnitude: needMagnitude, mel }, (frame) => this.onSpectrum(frame)) : null;
    const zcrStore = this.zcrStore;
    const rmsStore = this.rmsStore;
    this.timeStats =
      zcrStore || rmsStore
        ? new TimeFrameStats({ frameLength: o.nFft, hopLength: o.hopLength }, (_index, zcr, rms) => {
            zcrStore?.pushScalar(zcr);
            rmsStore?.pushScalar(rms);
          })
        : null;
  }

  /**
   * True when chroma is asked for with an estimated tuning and its spectrogram was not kept: call
   * pushSecondPass with the same signal. Final once endFirstPass has run.
   */
  get needsSecondPass(): boolean {
    return this.tuner !== null && !this.chromaFromSpectrogram;
  }

  /** Pass 1: feed the mono signal in any chunking. */
  push(chunk: Float32Array | Float64Array): void {
    if (this.firstPassEnded) throw new Error('ClipAnalyzer.push after endFirstPass()');
    for (let start = 0; start < chunk.length; start += PUSH_SLICE) {
      const slice = chunk.length <= PUSH_SLICE ? chunk : chunk.subarray(start, Math.min(chunk.length, start + PUSH_SLICE));
      this.spectrum?.push(slice);
      this.timeStats?.push(slice);
    }
    this.samples += chunk.length;
  }

  endFirstPass(): void {
    if (this.firstPassEnded) return;
    this.firstPassEnded = true;
    if (this.samples === 0) {
      throw new SpotmlError('DECODE', 'the clip has no samples: check that the audio file holds at least one sample frame');
    }
    // Every framer yields 1 + floor(n / hop) frames.
    const counts = [this.spectrum?.end(), this.timeStats?.end()];
    this.spectralBatch?.flush();
    this.frames = counts.find((c) => c !== undefined) ?? 1 + Math.floor(this.samples / this.options.hopLength);
    if (this.tuner) {
      const o = this.options;
      this.tuning = this.tuner.estimate();
      // The frame count is known now: chroma goes straight into its final matrix.
      this.chromaStore = new FrameStore(o.nChroma, 'f32', this.frames);
      const writer = new ChromaWriter(new ChromaComputer(o.sampleRate, o.nFft, o.nChroma, this.tuning), this.chromaStore, o.nFft / 2 + 1);
      this.chromaWriter = writer;
      const spectrogram = this.spectrogram;
      this.spectrogram = null;
      if (this.chromaFromSpectrogram && spectrogram) {
        spectrogram.forEachBlock((block, frames) => writer.writeBlock(block, frames));
      } else {
        this.chromaFromSpectrogram = false;
        this.secondSpectrum = new SpectrumStream({ nFft: o.nFft, hopLength: o.hopLength, magnitude: false }, (frame) => writer.push(frame.power));
      }
    }
  }

  /** Pass 2 (only when needsSecondPass): the same signal again, in any chunking. */
  pushSecondPass(chunk: Float32Array | Float64Array): void {
    if (!this.firstPassEnded) throw new Error('ClipAnalyzer.pushSecondPass before endFirstPass()');
    if (!this.secondSpectrum) throw new Error('ClipAnalyzer.pushSecondPass called but no second pass is needed');
    for (let start = 0; start < chunk.length; start += PUSH_SLICE) {
      this.secondSpectrum.push(chunk.length <= PUSH_SLICE ? chunk : chunk.subarray(start, Math.min(chunk.length, start + PUSH_SLICE)));
    }
    this.secondPassSamples += chunk.length;
  }

  finish(): ClipAnalysis {
    if (this.finished) throw new Error('ClipAnalyzer.finish called twice');
    this.endFirstPass();
    this.finished = true;
    if (this.secondSpectrum) {
      this.secondSpectrum.end();
      this.chromaWriter?.flush();
      if (this.secondPassSamples !== this.samples) {
        throw new SpotmlError(
          'INTERNAL',
          `chroma pass read ${this.secondPassSamples} samples but the first pass read ${this.samples}: feed the same signal to both passes`,
        );
      }
    }
    const o = this.options;
    const frames = this.frames;
    const wanted = this.wanted;
    const matrices: Partial<Record<FeatureName, FrameMatrix>> = {};

    const scalars: [FeatureName, FrameStore | null][] = [
      ['spectral_centroid', this.centroidStore],
      ['spectral_bandwidth', this.bandwidthStore],
      ['spectral_rolloff', this.rolloffStore],
      ['spectral_flatness', this.flatnessStore],
      ['zero_crossing_rate', this.zcrStore],
      ['rms', this.rmsStore],
    ];
    for (const [name, store] of scalars) if (store) matrices[name] = store.toMatrix();
    if (this.peakStore && this.valleyStore) {
      const peak = this.peakStore.toMatrix();
      const valley = this.valleyStore.toMatrix();
      contrastFromPeakValley(peak.data as Float64Array, valley.data as Float64Array, DEFAULT_AMIN);
      matrices.spectral_contrast = peak;
    }
    if (this.chromaStore) matrices.chroma_stft = this.chromaStore.toMatrix();

    let deltaError: string | null = null;
    let tempo: ClipAnalysis['tempo'] = null;
    let tracked: (() => BeatTrackResult) | null = null;
    if (this.melStore) {
      const melDb = this.melStore.toMatrix();
      powerToDbInPlace(melDb.data, { amin: DEFAULT_AMIN, topDb: o.topDb });
      if (wanted.has('melspectrogram_db')) matrices.melspectrogram_db = melDb;

      const wantDeltas = wanted.has('mfcc_delta') || wanted.has('mfcc_delta2');
      if (wanted.has('mfcc') || wantDeltas) {
        const mfcc = mfccFromMelDb(melDb, o.nMfcc);
        if (wanted.has('mfcc')) matrices.mfcc = mfcc;
        if (wantDeltas) {
          deltaError = deltaRefusal(frames, o.deltaWidth);
          if (deltaError === null) {
            for (const [name, order] of [['mfcc_delta', 1], ['mfcc_delta2', 2]] as const) {
              if (!wanted.has(name)) continue;
              const out = new Float32Array(mfcc.rows * frames);
              delta(mfcc.data, mfcc.rows, frames, o.deltaWidth, order, out);
              matrices[name] = { rows: mfcc.rows, frames, data: out };
            }
          } else {
            deltaError = `MFCC deltas need at least ${o.deltaWidth} frames (delta width ${o.deltaWidth}) but the clip has ${frames}; librosa refuses: ${deltaError}`;
          }
        }
      }

      const wantTempo = wanted.has('tempo');
      if (wantTempo || wanted.has('onset_strength')) {
        const { nFft, hopLength, sampleRate } = o;
        const onsetMean = onsetStrengths(melDb.data, o.nMels, frames, { nFft, hopLength }, { mean: true, median: false }).mean as Float64Array;
        if (wanted.has('onset_strength')) matrices.onset_strength = { rows: 1, frames, data: onsetMean };
        if (wantTempo) {
          // feature.tempo reads the mean-aggregated envelope; beat_track the median one, on demand.
          const featureTempo = estimateTempo(onsetMean, sampleRate, hopLength);
          const melDbData = melDb.data;
          let beats: BeatTrackResult | null = null;
          tracked = () => {
            beats ??= beatTrack(onsetStrengths(melDbData, o.nMels, frames, { nFft, hopLength }, { mean: false, median: true }).median as Float64Array, sampleRate, hopLength);
            return beats;
          };
          const track = tracked;
          tempo = {
            feature: featureTempo,
            get beatTrack(): number {
              return track().tempo;
            },
          };
        }
      }
    }

    const beatTracker = tracked;
    return {
      nSamples: this.samples,
      nFrames: frames,
      matrices,
      tuning: this.wantChroma ? this.tuning : null,
      tempo,
      get beatFrames(): Int32Array | null {
        return beatTracker ? beatTracker().beats : null;
      },
      deltaError,
    };
  }

  private onSpectrum(frame: SpectrumFrame): void {
    const power = frame.power;
    if (this.melFilterbank && this.melStore) {
      if (frame.mel) {
        this.melStore.push(frame.mel);
      } else {
        this.melFilterbank.apply(power, this.melScratch);
        this.melStore.push(this.melScratch);
      }
    }
    this.spectralBatch?.push(power);
  }

  /** A run of frames' results from the feature kernel, into the stores (and the tuner, spectrogram, chroma). */
  private onFrameFeatures(block: SpectralBlock): void {
    const { frames, shape, power } = block;
    const stride = SPECTRAL_BLOCK_STRIDE;
    const nBins = this.options.nFft / 2 + 1;
    for (let f = 0; f < frames; f++) {
      const at = f * stride;
      this.centroidStore?.pushScalar(shape[at]);
      this.bandwidthStore?.pushScalar(shape[at + 1]);
      this.rolloffStore?.pushScalar(shape[at + 2]);
      this.flatnessStore?.pushScalar(shape[at + 3]);
    }
    if (this.peakStore && this.valleyStore) {
      const rows = this.peakStore.rows;
      for (let f = 0; f < frames; f++) {
        this.peakStore.push(block.peak, f * rows);
        this.valleyStore.push(block.valley, f * rows);
      }
    }
    if (this.tuner) {
      for (let f = 0; f < frames; f++) {
        this.tuner.addPowerFrameAt(power, f * nBins, nBins, shape[f * stride + 4]);
        if (this.spectrogram && block.rounded && !this.spectrogram.push(block.rounded, f * nBins)) {
          // Over budget: chroma will come from a second pass instead.
          this.spectrogram.release();
          this.spectrogram = null;
          this.chromaFromSpectrogram = false;
        }
      }
    } else if (this.chromaStore && block.chroma) {
      const rows = this.chromaStore.rows;
      for (let f = 0; f < frames; f++) this.chromaStore.push(block.chroma, f * rows);
    }
  }
}

const dctCache = new Map<string, Float64Array>();

function sharedDctBasis(nIn: number, nOut: number): Float64Array {
  const key = `${nIn}|${nOut}`;
  let basis = dctCache.get(key);
  if (!basis) {
    basis = dctOrthoBasis(nIn, nOut);
    dctCache.set(key, basis);
  }
  return basis;
}

/**
 * MFCC = orthonormal DCT-II over the mel axis of the dB mel spectrogram, first nMfcc coefficients
 * (dctFrames: tiles of frames transposed so each sum adds the mel bands in order, as a per-frame dot product does).
 */
export function mfccFromMelDb(melDb: FrameMatrix, nMfcc: number): FrameMatrix {
  const { rows: nMels, frames, data } = melDb;
  return { rows: nMfcc, frames, data: dctFrames(data, nMels, frames, sharedDctBasis(nMels, nMfcc), nMfcc) };
}

/** Convenience for in-memory signals: one pass, or two when the spectrogram is over the default budget. */
export function analyzeSignal(y: Float32Array | Float64Array, options: FeatureOptions): ClipAnalysis {
  const analyzer = new ClipAnalyzer(options, { expectedSamples: y.length, spectrogramBudgetBytes: DEFAULT_SPECTROGRAM_BUDGET_BYTES });
  analyzer.push(y);
  analyzer.endFirstPass();
  if (analyzer.needsSecondPass) analyzer.pushSecondPass(y);
  return analyzer.finish();
}

// ---------------------------------------------------------------------------------------------------------

/** Per-row aggregates over frames. */
export type AggregateName = 'mean' | 'std' | 'min' | 'max' | 'median' | 'skew' | 'kurtosis';

export const AGGREGATES: readonly AggregateName[] = Object.freeze(['mean', 'std', 'min', 'max', 'median', 'skew', 'kurtosis'] as const);

/**
 * mean, std (ddof 0), min, max, median (numpy), skew and kurtosis (Fisher) with bias=True as
 * scipy.stats: NaN when the row is constant up to rounding (m2 <= (eps · mean)²), as scipy returns.
 * A matrix with no frames gives NaN throughout.
 */
export function aggregateRows(m: FrameMatrix, aggregate: AggregateName): Float64Array {
  return aggregateRowsMany(m, [aggregate]).get(aggregate) as Float64Array;
}

/**
 * Several aggregates of the same matrix (as aggregateRows gives each): the moments share a row's mean and
 * its pass of central powers, computed once, and only the powers asked for are summed.
 */
export function aggregateRowsMany(m: FrameMatrix, aggregates: readonly AggregateName[]): Map<AggregateName, Float64Array> {
  const { rows, frames, data } = m;
  const results = new Map<AggregateName, Float64Array>();
  for (const aggregate of aggregates) results.set(aggregate, new Float64Array(rows));
  const wants = (name: AggregateName): boolean => results.has(name);
  // 0: the mean only; 2: the second central moment too; 4: the second to fourth.
  const powers = wants('skew') || wants('kurtosis') ? 4 : wants('std') ? 2 : 0;
  const needsMoments = powers > 0 || wants('mean');
  const moments = new Float64Array(4);
  const scratch = wants('median') ? new Float64Array(frames) : null;
  // One kernel call per row: small functions called often get fully optimized by V8, where one long loop
  // over the whole matrix would run unoptimized (boxing each value) until on-stack replacement.
  for (let r = 0; r < rows; r++) {
    const base = r * frames;
    if (frames === 0) {
      for (const out of results.values()) out[r] = Number.NaN;
      continue;
    }
    if (needsMoments) {
      rowMoments(data, base, frames, powers, moments);
      const [mean, m2, m3, m4] = moments;
      const constant = m2 <= (Number.EPSILON * mean) ** 2;
      results.forEach((out, aggregate) => {
        if (aggregate === 'mean') out[r] = mean;
        else if (aggregate === 'std') out[r] = Math.sqrt(m2);
        else if (aggregate === 'skew') out[r] = constant ? Number.NaN : m3 / m2 ** 1.5;
        else if (aggregate === 'kurtosis') out[r] = constant ? Number.NaN : m4 / (m2 * m2) - 3;
      });
    }
    const min = results.get('min');
    if (min) min[r] = rowMin(data, base, frames);
    const max = results.get('max');
    if (max) max[r] = rowMax(data, base, frames);
    const median = results.get('median');
    if (median) {
      const s = scratch as Float64Array;
      for (let t = 0; t < frames; t++) s[t] = data[base + t];
      s.sort();
      const mid = frames >> 1;
      median[r] = frames % 2 === 1 ? s[mid] : 0.5 * (s[mid - 1] + s[mid]);
    }
  }
  return results;
}

function rowMin(data: Float32Array | Float64Array, base: number, frames: number): number {
  let v = Number.POSITIVE_INFINITY;
  for (let t = 0; t < frames; t++) v = Math.min(v, data[base + t]);
  return v;
}

function rowMax(data: Float32Array | Float64Array, base: number, frames: number): number {
  let v = Number.NEGATIVE_INFINITY;
  for (let t = 0; t < frames; t++) v = Math.max(v, data[base + t]);
  return v;
}

/**
 * A row's mean, then (powers 2 or 4) its central moments m2 (and m3, m4) over frames, into
 * out = [mean, m2, m3, m4] (the ones not summed are left as they were).
 */
function rowMoments(data: Float32Array | Float64Array, base: number, frames: number, powers: number, out: Float64Array): void {
  let sum = 0;
  for (let t = 0; t < frames; t++) sum += data[base + t];
  const mean = sum / frames;
  out[0] = mean;
  if (powers === 0) return;
  let m2 = 0;
  if (powers === 2) {
    for (let t = 0; t < frames; t++) {
      const d = data[base + t] - mean;
      m2 += d * d;
    }
    out[1] = m2 / frames;
    return;
  }
  let m3 = 0;
  let m4 = 0;
  for (let t = 0; t < frames; t++) {
    const d = data[base + t] - mean;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  out[1] = m2 / frames;
  out[2] = m3 / frames;
  out[3] = m4 / frames;
}
