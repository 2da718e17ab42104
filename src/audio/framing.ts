/**
 * Streaming framer with librosa's centring: the signal is padded by frameLength/2 on both sides
 * ('constant' = zeros, as stft/rms; 'edge' = repeat the end samples, as zero_crossing_rate) and frame t
 * covers padded[t*hop, t*hop + frameLength). The number of frames is 1 + floor(n / hop) for n samples,
 * exactly as librosa, however the samples arrive in chunks.
 */
export type PadMode = 'constant' | 'edge';

export interface FramerOptions {
  frameLength: number;
  hopLength: number;
  padMode: PadMode;
}

export class Framer {
  private readonly frameLength: number;
  private readonly hop: number;
  private readonly padMode: PadMode;
  private readonly pad: number;
  /** Ring of the padded signal not yet consumed; grows as needed, compacted after each frame batch. */
  private buffer: Float64Array;
  private bufferStart = 0;
  private bufferEnd = 0;
  private started = false;
  private ended = false;
  private totalSamples = 0;
  private framesEmitted = 0;
  private lastSample = 0;
  private readonly frame: Float64Array;

  constructor(options: FramerOptions, private readonly onFrame: (frame: Float64Array, index: number) => void) {
    if (!Number.isInteger(options.frameLength) || options.frameLength < 2) throw new RangeError('frameLength must be an integer >= 2');
    if (!Number.isInteger(options.hopLength) || options.hopLength < 1) throw new RangeError('hopLength must be a positive integer');
    this.frameLength = options.frameLength;
    this.hop = options.hopLength;
    this.padMode = options.padMode;
    this.pad = Math.floor(options.frameLength / 2);
    this.buffer = new Float64Array(Math.max(4 * options.frameLength, 1 << 14));
    this.frame = new Float64Array(options.frameLength);
  }

  push(samples: ArrayLike<number>): void {
    if (this.ended) throw new Error('Framer.push after end()');
    if (samples.length === 0) return;
    if (!this.started) {
      this.started = true;
      this.appendConstant(this.padMode === 'edge' ? samples[0] : 0, this.pad);
    }
    this.append(samples);
    this.totalSamples += samples.length;
    this.lastSample = samples[samples.length - 1];
    this.drain(false);
  }

  /** Flushes the trailing padded frames. Returns the number of frames produced in total. */
  end(): number {
    if (this.ended) return this.framesEmitted;
    this.ended = true;
    if (!this.started) {
      // librosa refuses empty input; callers check length first. Nothing to frame.
      return 0;
    }
    this.appendConstant(this.padMode === 'edge' ? this.lastSample : 0, this.pad + this.frameLength);
    this.drain(true);
    return this.framesEmitted;
  }

  get frameCount(): number {
    return this.framesEmitted;
  }

  private expectedFrames(): number {
    return 1 + Math.floor(this.totalSamples / this.hop);
  }

  private drain(final: boolean): void {
    const limit = final ? this.expectedFrames() : Number.POSITIVE_INFINITY;
    while (this.framesEmitted < limit) {
      const start = this.framesEmitted * this.hop - this.bufferStart;
      if (start + this.frameLength > this.bufferEnd) break;
      this.frame.set(this.buffer.subarray(start, start + this.frameLength));
      this.onFrame(this.frame, this.framesEmitted);
      this.framesEmitted++;
    }
    // Drop what no future frame needs.
    const keepFrom = this.framesEmitted * this.hop - this.bufferStart;
    if (keepFrom > this.buffer.length / 2) {
      this.buffer.copyWithin(0, keepFrom, this.bufferEnd);
      this.bufferEnd -= keepFrom;
      this.bufferStart += keepFrom;
    }
  }

  private ensure(extra: number): void {
    if (this.bufferEnd + extra <= this.buffer.length) return;
    const keepFrom = Math.max(0, this.framesEmitted * this.hop - this.bufferStart);
    const live = this.bufferEnd - keepFrom;
    const size = Math.max(this.buffer.length, 2 * (live + extra));
    const next = new Float64Array(size);
    next.set(this.buffer.subarray(keepFrom, this.bufferEnd));
    this.buffer = next;
    this.bufferEnd = live;
    this.bufferStart += keepFrom;
  }

  private append(samples: ArrayLike<number>): void {
    this.ensure(samples.length);
    const buf = this.buffer;
    let end = this.bufferEnd;
    for (let i = 0; i < samples.length; i++) buf[end++] = samples[i];
    this.bufferEnd = end;
  }

  private appendConstant(value: number, count: number): void {
    this.ensure(count);
    this.buffer.fill(value, this.bufferEnd, this.bufferEnd + count);
    this.bufferEnd += count;
  }
}

/** Periodic Hann window (scipy.signal.get_window('hann', n, fftbins=True)), as librosa uses. */
export function hannPeriodic(length: number): Float64Array {
  const w = new Float64Array(length);
  for (let i = 0; i < length; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / length);
  return w;
}
