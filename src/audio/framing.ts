/**
 * Streaming framer with librosa's centring: the signal is padded by frameLength/2 on both sides
 * ('constant' = zeros, as stft/rms; 'edge' = repeat the end samples, as zero_crossing_rate) and frame t
 * covers padded[t*hop, t*hop + frameLength). The number of frames is 1 + floor(n / hop) for n samples,
 * exactly as librosa, however the samples arrive in chunks.
 *
 * `FrameWindow` hands each frame out as a view into its own buffer (buffer, start), so a consumer that reads
 * the frame once (the STFT's window multiply) pays no copy; `Framer` copies each frame into a reusable array.
 */
export type PadMode = 'constant' | 'edge';

export interface FramerOptions {
  frameLength: number;
  hopLength: number;
  padMode: PadMode;
}

/** Frame t is buffer[start, start + frameLength), valid only during the callback. */
export type FrameViewCallback = (buffer: Float64Array, start: number, index: number) => void;

export class FrameWindow {
  private readonly frameLength: number;
  private readonly hop: number;
  private readonly padMode: PadMode;
  private readonly pad: number;
  /** The padded signal not yet consumed; grows as needed, compacted after each frame batch. */
  private buffer: Float64Array;
  private bufferStart = 0;
  private bufferEnd = 0;
  private started = false;
  private ended = false;
  private totalSamples = 0;
  private framesEmitted = 0;
  private lastSample = 0;

  constructor(options: FramerOptions, private readonly onFrame: FrameViewCallback) {
    if (!Number.isInteger(options.frameLength) || options.frameLength < 2) throw new RangeError('frameLength must be an integer >= 2');
    if (!Number.isInteger(options.hopLength) || options.hopLength < 1) throw new RangeError('hopLength must be a positive integer');
    this.frameLength = options.frameLength;
    this.hop = options.hopLength;
    this.padMode = options.padMode;
    this.pad = Math.floor(options.frameLength / 2);
    this.buffer = new Float64Array(Math.max(4 * options.frameLength, 1 << 14));
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

  private drain(final: boolean): void {
    const limit = final ? 1 + Math.floor(this.totalSamples / this.hop) : Number.POSITIVE_INFINITY;
    while (this.framesEmitted < limit) {
      const start = this.framesEmitted * this.hop - this.bufferStart;
      if (start + this.frameLength > this.bufferEnd) break;
      this.onFrame(this.buffer, start, this.framesEmitted);
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
    if (live + extra <= this.buffer.length) {
      // Enough room once the consumed prefix is dropped: no reallocation.
      this.buffer.copyWithin(0, keepFrom, this.bufferEnd);
    } else {
      const next = new Float64Array(2 * (live + extra));
      next.set(this.buffer.subarray(keepFrom, this.bufferEnd));
      this.buffer = next;
    }
    this.bufferEnd = live;
    this.bufferStart += keepFrom;
  }

  private append(samples: ArrayLike<number>): void {
    this.ensure(samples.length);
    if (samples instanceof Float32Array || samples instanceof Float64Array) {
      this.buffer.set(samples, this.bufferEnd);
      this.bufferEnd += samples.length;
      return;
    }
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

/** As FrameWindow, but each frame is copied into one reusable Float64Array of frameLength samples. */
export class Framer {
  private readonly window: FrameWindow;
  private readonly frame: Float64Array;

  constructor(options: FramerOptions, onFrame: (frame: Float64Array, index: number) => void) {
    this.frame = new Float64Array(Math.max(0, options.frameLength | 0));
    const length = this.frame.length;
    this.window = new FrameWindow(options, (buffer, start, index) => {
      const frame = this.frame;
      for (let i = 0; i < length; i++) frame[i] = buffer[start + i];
      onFrame(frame, index);
    });
  }

  push(samples: ArrayLike<number>): void {
    this.window.push(samples);
  }

  end(): number {
    return this.window.end();
  }

  get frameCount(): number {
    return this.window.frameCount;
  }
}

const hannCache = new Map<number, Float64Array>();

/** Periodic Hann window (scipy.signal.get_window('hann', n, fftbins=True)), as librosa uses. */
export function hannPeriodic(length: number): Float64Array {
  const w = new Float64Array(length);
  for (let i = 0; i < length; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / length);
  return w;
}

/** hannPeriodic(length), built once per length and shared: callers must not modify it. */
export function sharedHannPeriodic(length: number): Float64Array {
  let w = hannCache.get(length);
  if (!w) {
    w = hannPeriodic(length);
    hannCache.set(length, w);
  }
  return w;
}
