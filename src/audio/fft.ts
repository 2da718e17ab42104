/**
 * Real-input FFT for power-of-two sizes: an N/2-point complex radix-2 FFT plus the standard split step.
 * Plans precompute twiddles and the bit-reversal table once; `forward` allocates nothing.
 */
export class RealFft {
  readonly size: number;
  private readonly half: number;
  private readonly cosTable: Float64Array;
  private readonly sinTable: Float64Array;
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly reversed: Uint32Array;
  private readonly workRe: Float64Array;
  private readonly workIm: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 4, got ${size}`);
    }
    this.size = size;
    const half = size >> 1;
    this.half = half;
    this.cosTable = new Float64Array(half >> 1);
    this.sinTable = new Float64Array(half >> 1);
    for (let i = 0; i < half >> 1; i++) {
      this.cosTable[i] = Math.cos((2 * Math.PI * i) / half);
      this.sinTable[i] = -Math.sin((2 * Math.PI * i) / half);
    }
    this.splitCos = new Float64Array(half + 1);
    this.splitSin = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.splitCos[k] = Math.cos((2 * Math.PI * k) / size);
      this.splitSin[k] = -Math.sin((2 * Math.PI * k) / size);
    }
    this.reversed = new Uint32Array(half);
    const bits = Math.log2(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.reversed[i] = r;
    }
    this.workRe = new Float64Array(half);
    this.workIm = new Float64Array(half);
  }

  /**
   * Forward transform of `input` (length `size`) into `outRe`/`outIm` (length size/2 + 1),
   * e^{-2πi kn/N} convention, unnormalised (as numpy.fft.rfft).
   */
  forward(input: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array): void {
    const half = this.half;
    const re = this.workRe;
    const im = this.workIm;
    const rev = this.reversed;
    for (let i = 0; i < half; i++) {
      const j = rev[i];
      re[j] = input[2 * i];
      im[j] = input[2 * i + 1];
    }
    for (let len = 2; len <= half; len <<= 1) {
      const step = half / len;
      const halfLen = len >> 1;
      for (let start = 0; start < half; start += len) {
        for (let k = 0; k < halfLen; k++) {
          const wr = this.cosTable[k * step];
          const wi = this.sinTable[k * step];
          const a = start + k;
          const b = a + halfLen;
          const tr = re[b] * wr - im[b] * wi;
          const ti = re[b] * wi + im[b] * wr;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
    // Split the packed complex transform into the spectrum of the real sequence.
    outRe[0] = re[0] + im[0];
    outIm[0] = 0;
    outRe[half] = re[0] - im[0];
    outIm[half] = 0;
    for (let k = 1; k < half; k++) {
      const zr = re[k];
      const zi = im[k];
      const cr = re[half - k];
      const ci = -im[half - k];
      const evenRe = 0.5 * (zr + cr);
      const evenIm = 0.5 * (zi + ci);
      const oddRe = 0.5 * (zi - ci);
      const oddIm = -0.5 * (zr - cr);
      const wr = this.splitCos[k];
      const wi = this.splitSin[k];
      outRe[k] = evenRe + wr * oddRe - wi * oddIm;
      outIm[k] = evenIm + wr * oddIm + wi * oddRe;
    }
  }
}
