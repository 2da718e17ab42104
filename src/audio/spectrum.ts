/**
 * One shared short-time Fourier transform per clip, streamed frame by frame: every spectral feature
 * reads the same magnitude/power frame (librosa computes the STFT once per feature; we do it once).
 */
import { RealFft } from './fft.js';
import { FrameWindow, sharedHannPeriodic } from './framing.js';

export interface StftOptions {
  nFft: number;
  hopLength: number;
  /** Fill `magnitude` (one sqrt per bin); default true. Power-only consumers (mel, chroma) turn it off. */
  magnitude?: boolean;
  /** Fill `re`/`im` with the windowed complex spectrum; default false (no feature reads it, and power alone is cheaper). */
  complex?: boolean;
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
 * Power only (the default): `RealFft.forwardPower` reads each frame straight from the framer's buffer,
 * windows it as the FFT's first stage loads it and writes |X|² from its last stage, as librosa multiplies
 * the frame by the window before the FFT. With `complex: true` the window is applied in the frequency domain: the periodic Hann window is 0.5 − 0.25·e^{2πin/N} −
 * 0.25·e^{−2πin/N}, so the windowed spectrum is Xw[k] = 0.5·X[k] − 0.25·(X[k−1] + X[k+1]) with X the
 * transform of the plain frame (X[−1] = conj X[1], X[N/2+1] = conj X[N/2−1]). That is exact algebra; it lets
 * the FFT read the frame straight from the framer's buffer and folds the window into the pass that computes
 * the power, instead of a separate multiply over all N samples. Rounding stays at the FFT's own level
 * (relative to the frame's largest bin).
 */
export class SpectrumStream {
  private readonly framer: FrameWindow;
  readonly nBins: number;

  constructor(options: StftOptions, onFrame: (frame: SpectrumFrame) => void) {
    const nFft = options.nFft;
    const fft = sharedRealFft(nFft);
    const nBins = nFft / 2 + 1;
    this.nBins = nBins;
    const wantMagnitude = options.magnitude ?? true;
    const wantComplex = options.complex ?? false;
    const window = sharedHannPeriodic(nFft);
    const frame: SpectrumFrame = {
      index: 0,
      re: new Float64Array(nBins),
      im: new Float64Array(nBins),
      magnitude: new Float64Array(nBins),
      power: new Float64Array(nBins),
    };
    const { re, im, power, magnitude } = frame;
    const last = nBins - 1;
    this.framer = new FrameWindow({ frameLength: nFft, hopLength: options.hopLength, padMode: 'constant' }, (samples, start, index) => {
      if (!wantComplex) {
        fft.forwardPower(samples, start, window, power);
        if (wantMagnitude) for (let k = 0; k < nBins; k++) magnitude[k] = Math.sqrt(power[k]);
        frame.index = index;
        onFrame(frame);
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
      if (wantMagnitude) for (let k = 0; k < nBins; k++) magnitude[k] = Math.sqrt(power[k]);
      frame.index = index;
      onFrame(frame);
    });
  }

  push(samples: ArrayLike<number>): void {
    this.framer.push(samples);
  }

  end(): number {
    return this.framer.end();
  }
}

/** Frequencies of the STFT bins (librosa.fft_frequencies). */
export function fftFrequencies(sampleRate: number, nFft: number): Float64Array {
  const out = new Float64Array(nFft / 2 + 1);
  for (let k = 0; k < out.length; k++) out[k] = (k * sampleRate) / nFft;
  return out;
}
