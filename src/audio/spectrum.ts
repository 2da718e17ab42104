/**
 * One shared short-time Fourier transform per clip, streamed frame by frame: every spectral feature
 * reads the same magnitude/power frame (librosa computes the STFT once per feature; we do it once).
 */
import { RealFft } from './fft.js';
import { FrameWindow, sharedHannPeriodic } from './framing.js';
import type { MelFilterbank } from './mel.js';
import { acquireSpectrumKernel, BLOCK_FRAMES, KERNEL_MIN_FFT, releaseSpectrumKernel, type SpectrumKernel } from './spectrum-kernel.js';

export interface StftOptions {
  nFft: number;
  hopLength: number;
  /** Fill `magnitude` (one sqrt per bin); default true. Power-only consumers (mel, chroma) turn it off. */
  magnitude?: boolean;
  /** Fill `re`/`im` with the windowed complex spectrum; default false (no feature reads it, and power alone is cheaper). */
  complex?: boolean;
  /** Also apply this mel filterbank to each power frame (frame.mel). */
  mel?: MelFilterbank;
}

export const DEFAULT_STFT: StftOptions = { nFft: 2048, hopLength: 512 };

/** A frame of the spectrum, valid only during the callback (buffers are reused). */
export interface SpectrumFrame {
  index: number;
  /** The windowed spectrum's real and imaginary parts (all zero unless the stream was made with complex: true). */
  re: Float64Array;
  im: Float64Array;
  /** |X|, length nFft/2 + 1 (all zero when the stream was made with magnitude: false). */
  magnitude: Float64Array;
  /** |X|², length nFft/2 + 1. */
  power: Float64Array;
  /** The stream's mel filterbank applied to power (null when the stream has none). */
  mel: Float64Array | null;
}

const fftCache = new Map<number, RealFft>();

/**
 * A RealFft plan per size, shared within the thread: plans are immutable apart from scratch that a
 * synchronous `forward` call uses and leaves, so sharing is safe.
 */
export function sharedRealFft(size: number): RealFft {
  let fft = fftCache.get(size);
  if (!fft) {
    fft = new RealFft(size);
    fftCache.set(size, fft);
  }
  return fft;
}

/**
 * Centred (zero-padded), periodic-Hann STFT as librosa.stft with its defaults.
 *
 * Power only (the default): frames go in blocks of BLOCK_FRAMES through the WebAssembly front end
 * (spectrum-kernel.ts: window, FFT, |X|² and the optional mel bank in one call per block), so they reach
 * `onFrame` a block at a time, in order, all of them by the end of `end()`. Sizes below KERNEL_MIN_FFT use
 * `RealFft.forwardPower` frame by frame. With `complex: true` the window is applied in the frequency domain: the periodic Hann window is 0.5 − 0.25·e^{2πin/N} −
 * 0.25·e^{−2πin/N}, so the windowed spectrum is Xw[k] = 0.5·X[k] − 0.25·(X[k−1] + X[k+1]) with X the
 * transform of the plain frame (X[−1] = conj X[1], X[N/2+1] = conj X[N/2−1]). That is exact algebra; it lets
 * the FFT read the frame straight from the framer's buffer and folds the window into the pass that computes
 * the power, instead of a separate multiply over all N samples. Rounding stays at the FFT's own level
 * (relative to the frame's largest bin).
 */
export class SpectrumStream {
  /** The JS path's framer; null on the kernel path, which frames in the kernel's input area itself. */
  private readonly framer: FrameWindow | null = null;
  readonly nBins: number;
  /** The WebAssembly front end (power-only streams with n_fft >= KERNEL_MIN_FFT); null: the JS path. */
  private kernel: SpectrumKernel | null = null;
  /**
   * Kernel path: the centred signal (n_fft/2 zeros, the samples, zeros) goes straight into the kernel's input
   * area, which holds padded positions [nextFrame·hop, nextFrame·hop + filled); `position` counts the padded
   * samples received. A full area is a block of BLOCK_FRAMES whole frames; after it the overlap moves to the front.
   */
  private filled = 0;
  private position = 0;
  private nextFrame = 0;
  private samplesPushed = 0;
  private ended = false;
  private readonly deliver: (frames: number) => void = () => undefined;

  constructor(options: StftOptions, onFrame: (frame: SpectrumFrame) => void) {
    const nFft = options.nFft;
    const hop = options.hopLength;
    const nBins = nFft / 2 + 1;
    this.nBins = nBins;
    const wantMagnitude = options.magnitude ?? true;
    const wantComplex = options.complex ?? false;
    const melBank = options.mel ?? null;
    const frame: SpectrumFrame = {
      index: 0,
      re: new Float64Array(nBins),
      im: new Float64Array(nBins),
      magnitude: new Float64Array(nBins),
      power: new Float64Array(nBins),
      mel: melBank ? new Float64Array(melBank.nMels) : null,
    };
    const magnitude = frame.magnitude;

    if (!wantComplex && nFft >= KERNEL_MIN_FFT) {
      const kernel = acquireSpectrumKernel(nFft, hop, melBank);
      this.kernel = kernel;
      this.deliver = (frames) => {
        kernel.compute(0, frames);
        const first = this.nextFrame;
        for (let f = 0; f < frames; f++) {
          const power = kernel.powerFrames[f];
          frame.power = power;
          if (melBank) frame.mel = kernel.melFrames[f];
          if (wantMagnitude) for (let k = 0; k < nBins; k++) magnitude[k] = Math.sqrt(power[k]);
          frame.index = first + f;
          onFrame(frame);
        }
      };
      return;
    }

    const fft = sharedRealFft(nFft);
    const window = sharedHannPeriodic(nFft);
    const { re, im, power } = frame;
    const melOut = frame.mel;
    const last = nBins - 1;
    const emit = (index: number): void => {
      if (wantMagnitude) for (let k = 0; k < nBins; k++) magnitude[k] = Math.sqrt(power[k]);
      if (melBank && melOut) melBank.apply(power, melOut);
      frame.index = index;
      onFrame(frame);
    };
    this.framer = new FrameWindow({ frameLength: nFft, hopLength: hop, padMode: 'constant' }, (samples, start, index) => {
      if (!wantComplex) {
        fft.forwardPower(samples, start, window, power);
        emit(index);
        return;
      }
      fft.forward(samples.subarray(start, start + nFft), re, im);
      // Sliding over the bins: (previous, current) hold X[k−1], X[k] before the update of bin k.
      let previousRe = re[1];
      let previousIm = -im[1];
      let currentRe = re[0];
      let currentIm = im[0];
      for (let k = 0; k < last; k++) {
        const nextRe = re[k + 1];
        const nextIm = im[k + 1];
        const windowedRe = 0.5 * currentRe - 0.25 * (previousRe + nextRe);
        const windowedIm = 0.5 * currentIm - 0.25 * (previousIm + nextIm);
        re[k] = windowedRe;
        im[k] = windowedIm;
        power[k] = windowedRe * windowedRe + windowedIm * windowedIm;
        previousRe = currentRe;
        previousIm = currentIm;
        currentRe = nextRe;
        currentIm = nextIm;
      }
      // Nyquist: X[N/2 + 1] = conj X[N/2 − 1], so the two neighbours' sum is twice the real part.
      const nyquistRe = 0.5 * currentRe - 0.5 * previousRe;
      const nyquistIm = 0.5 * currentIm;
      re[last] = nyquistRe;
      im[last] = nyquistIm;
      power[last] = nyquistRe * nyquistRe + nyquistIm * nyquistIm;
      emit(index);
    });
  }

  push(samples: ArrayLike<number>): void {
    if (this.framer) {
      this.framer.push(samples);
      return;
    }
    if (this.ended) throw new Error('SpectrumStream.push after end()');
    if (samples.length === 0) return;
    const kernel = this.kernel as SpectrumKernel;
    if (this.samplesPushed === 0) this.feed(null, Math.floor(kernel.nFft / 2));
    this.samplesPushed += samples.length;
    this.feed(samples instanceof Float32Array || samples instanceof Float64Array ? samples : Float64Array.from(samples), samples.length);
  }

  /** Flushes the last frames; returns the number of frames produced in total. The stream is done after it. */
  end(): number {
    if (this.framer) return this.framer.end();
    if (this.ended) return this.nextFrame;
    this.ended = true;
    const kernel = this.kernel as SpectrumKernel;
    if (this.samplesPushed > 0) {
      // librosa's count, 1 + floor(n / hop); the last frame ends (count − 1)·hop + n_fft into the padded signal.
      const total = 1 + Math.floor(this.samplesPushed / kernel.hop);
      this.feed(null, Math.max(0, (total - 1) * kernel.hop + kernel.nFft - this.position));
      if (total > this.nextFrame) this.computeBlock(total - this.nextFrame);
    }
    releaseSpectrumKernel(kernel);
    this.kernel = null;
    return this.nextFrame;
  }

  /** Appends `count` padded samples (from `samples`, or zeros when null) to the kernel's input area, computing each full block. */
  private feed(samples: Float32Array | Float64Array | null, count: number): void {
    const kernel = this.kernel as SpectrumKernel;
    const input = kernel.input;
    const capacity = kernel.inputCapacity;
    let i = 0;
    while (i < count) {
      // With hop > n_fft some samples fall between frames: skip them.
      const base = this.nextFrame * kernel.hop;
      if (this.position < base) {
        const skip = Math.min(base - this.position, count - i);
        i += skip;
        this.position += skip;
        continue;
      }
      const take = Math.min(capacity - this.filled, count - i);
      if (samples) input.set(samples.subarray(i, i + take), this.filled);
      else input.fill(0, this.filled, this.filled + take);
      this.filled += take;
      this.position += take;
      i += take;
      if (this.filled === capacity) this.computeBlock(BLOCK_FRAMES);
    }
  }

  /** Frames nextFrame … nextFrame + frames − 1 (all inside the input area) to onFrame; the overlap moves to the front. */
  private computeBlock(frames: number): void {
    const kernel = this.kernel as SpectrumKernel;
    this.deliver(frames);
    this.nextFrame += frames;
    const consumed = frames * kernel.hop;
    if (consumed < this.filled) {
      kernel.input.copyWithin(0, consumed, this.filled);
      this.filled -= consumed;
    } else {
      this.filled = 0;
    }
  }
}

/** Frequencies of the STFT bins (librosa.fft_frequencies). */
export function fftFrequencies(sampleRate: number, nFft: number): Float64Array {
  const out = new Float64Array(nFft / 2 + 1);
  for (let k = 0; k < out.length; k++) out[k] = (k * sampleRate) / nFft;
  return out;
}
