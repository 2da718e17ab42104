/**
 * One shared short-time Fourier transform per clip, streamed frame by frame: every spectral feature
 * reads the same magnitude/power frame (librosa computes the STFT once per feature; we do it once).
 */
import { RealFft } from './fft.js';
import { Framer, hannPeriodic } from './framing.js';

export interface StftOptions {
  nFft: number;
  hopLength: number;
}

export const DEFAULT_STFT: StftOptions = { nFft: 2048, hopLength: 512 };

/** A frame of the spectrum, valid only during the callback (buffers are reused). */
export interface SpectrumFrame {
  index: number;
  re: Float64Array;
  im: Float64Array;
  /** |X|, length nFft/2 + 1. */
  magnitude: Float64Array;
  /** |X|², length nFft/2 + 1. */
  power: Float64Array;
}

/** Centred (zero-padded), periodic-Hann STFT as librosa.stft with its defaults. */
export class SpectrumStream {
  private readonly framer: Framer;
  private readonly fft: RealFft;
  private readonly window: Float64Array;
  private readonly windowed: Float64Array;
  private readonly frame: SpectrumFrame;
  readonly nBins: number;

  constructor(options: StftOptions, onFrame: (frame: SpectrumFrame) => void) {
    this.fft = new RealFft(options.nFft);
    this.window = hannPeriodic(options.nFft);
    this.windowed = new Float64Array(options.nFft);
    this.nBins = options.nFft / 2 + 1;
    this.frame = {
      index: 0,
      re: new Float64Array(this.nBins),
      im: new Float64Array(this.nBins),
      magnitude: new Float64Array(this.nBins),
      power: new Float64Array(this.nBins),
    };
    this.framer = new Framer({ frameLength: options.nFft, hopLength: options.hopLength, padMode: 'constant' }, (samples, index) => {
      const w = this.window;
      const out = this.windowed;
      for (let i = 0; i < out.length; i++) out[i] = samples[i] * w[i];
      const f = this.frame;
      this.fft.forward(out, f.re, f.im);
      for (let k = 0; k < this.nBins; k++) {
        const p = f.re[k] * f.re[k] + f.im[k] * f.im[k];
        f.power[k] = p;
        f.magnitude[k] = Math.sqrt(p);
      }
      f.index = index;
      onFrame(f);
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
