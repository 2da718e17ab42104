/**
 * Frame-wise time-domain features as librosa.feature.zero_crossing_rate and librosa.feature.rms. Frames come
 * from `Framer`: edge padding for the zero-crossing rate, zero padding for RMS (librosa's defaults).
 */

/** librosa.zero_crossings' default threshold: |x| <= it counts as zero, and zero counts as positive. */
export const ZERO_CROSSING_THRESHOLD = 1e-10;

/**
 * Fraction of sign changes between consecutive samples of the frame, divided by the frame length
 * (librosa pads one non-crossing in front, so the mean is over frameLength values).
 */
export function zeroCrossingRate(frame: Float64Array, threshold = ZERO_CROSSING_THRESHOLD): number {
  let crossings = 0;
  // signbit of the thresholded value: true only for values below -threshold.
  let previousNegative = frame[0] < -threshold;
  for (let i = 1; i < frame.length; i++) {
    const negative = frame[i] < -threshold;
    if (negative !== previousNegative) crossings++;
    previousNegative = negative;
  }
  return crossings / frame.length;
}

/** sqrt(mean(x²)) over the frame. */
export function rootMeanSquare(frame: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < frame.length; i++) sum += frame[i] * frame[i];
  return Math.sqrt(sum / frame.length);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export interface TimeFrameOptions {
  frameLength: number;
  hopLength: number;
}

/**
 * Zero-crossing rate (edge padding) and RMS (zero padding) of every centred frame, streamed without
 * framing: the signal is cut into blocks of g = gcd(hop, frameLength / 2, frameLength) samples, each block
 * keeps its sum of squares and its crossing count, and a frame (a whole number of blocks, since it starts at
 * t·hop − frameLength/2) adds up frameLength / g blocks. Crossing counts are integers, so the rate is exact;
 * the sum of squares differs from a frame-wise sum only by summation order.
 *
 * Padding needs no samples: zero padding adds nothing to a sum of squares, and edge padding repeats the end
 * sample, which never crosses zero against itself or its neighbour. So both read the same blocks, with
 * blocks outside the signal empty.
 */
export class TimeFrameStats {
  private readonly frameLength: number;
  private readonly hop: number;
  private readonly pad: number;
  private readonly block: number;
  private readonly blocksPerFrame: number;
  private readonly blocksPerHop: number;
  /** Ring of the last blocksPerFrame blocks: sum of squares, crossings, and whether the first sample crosses. */
  private readonly ringSquares: Float64Array;
  private readonly ringCrossings: Float64Array;
  private readonly ringFirstCrossing: Uint8Array;
  private blockIndex = 0;
  private blockFill = 0;
  private blockSquares = 0;
  private blockCrossings = 0;
  private blockFirstCrossing = 0;
  private previousNegative = false;
  private totalSamples = 0;
  private framesEmitted = 0;
  private ended = false;

  constructor(
    options: TimeFrameOptions,
    private readonly onFrame: (index: number, zeroCrossingRate: number, rms: number) => void,
  ) {
    if (!Number.isInteger(options.frameLength) || options.frameLength < 2) throw new RangeError('frameLength must be an integer >= 2');
    if (!Number.isInteger(options.hopLength) || options.hopLength < 1) throw new RangeError('hopLength must be a positive integer');
    this.frameLength = options.frameLength;
    this.hop = options.hopLength;
    this.pad = Math.floor(options.frameLength / 2);
    this.block = gcd(gcd(this.hop, this.pad), this.frameLength);
    this.blocksPerFrame = this.frameLength / this.block;
    this.blocksPerHop = this.hop / this.block;
    this.ringSquares = new Float64Array(this.blocksPerFrame);
    this.ringCrossings = new Float64Array(this.blocksPerFrame);
    this.ringFirstCrossing = new Uint8Array(this.blocksPerFrame);
  }

  push(samples: ArrayLike<number>): void {
    if (this.ended) throw new Error('TimeFrameStats.push after end()');
    const n = samples.length;
    const block = this.block;
    let i = 0;
    let previousNegative = this.previousNegative;
    const threshold = -ZERO_CROSSING_THRESHOLD;
    while (i < n) {
      const take = Math.min(block - this.blockFill, n - i);
      let squares = this.blockSquares;
      let crossings = this.blockCrossings;
      let j = i;
      if (this.blockFill === 0) {
        // The block's first sample: its crossing (with the previous sample) is remembered on its own, since a
        // frame starting at this block must not count it. The signal's first sample crosses nothing.
        const x = samples[j];
        const negative = x < threshold;
        const crosses = this.totalSamples > 0 && negative !== previousNegative ? 1 : 0;
        this.blockFirstCrossing = crosses;
        crossings += crosses;
        squares += x * x;
        previousNegative = negative;
        j++;
      }
      const end = i + take;
      // Signs as 0/1 and their XOR: no branch on a crossing, which real audio makes unpredictable.
      let previousSign = previousNegative ? 1 : 0;
      for (; j < end; j++) {
        const x = samples[j];
        const sign = x < threshold ? 1 : 0;
        crossings += sign ^ previousSign;
        squares += x * x;
        previousSign = sign;
      }
      previousNegative = previousSign === 1;
      this.blockSquares = squares;
      this.blockCrossings = crossings;
      this.blockFill += take;
      this.totalSamples += take;
      i = end;
      if (this.blockFill === block) this.completeBlock();
    }
    this.previousNegative = previousNegative;
  }

  /** Emits the trailing frames. Returns the number of frames produced in total (1 + floor(n / hop)). */
  end(): number {
    if (this.ended) return this.framesEmitted;
    this.ended = true;
    if (this.totalSamples === 0) return 0;
    const expected = 1 + Math.floor(this.totalSamples / this.hop);
    // The partial block, then empty blocks past the end, until every frame is out.
    while (this.framesEmitted < expected) this.completeBlock();
    return this.framesEmitted;
  }

  get frameCount(): number {
    return this.framesEmitted;
  }

  private completeBlock(): void {
    const b = this.blockIndex;
    const slot = b % this.blocksPerFrame;
    this.ringSquares[slot] = this.blockSquares;
    this.ringCrossings[slot] = this.blockCrossings;
    this.ringFirstCrossing[slot] = this.blockFirstCrossing;
    this.blockSquares = 0;
    this.blockCrossings = 0;
    this.blockFirstCrossing = 0;
    this.blockFill = 0;
    this.blockIndex++;
    // Frame t ends with block (t·hop − pad + frameLength) / g − 1: emit it once that block is complete.
    const lead = (b + 1) * this.block + this.pad - this.frameLength;
    if (lead < 0 || lead % this.hop !== 0) return;
    const t = lead / this.hop;
    if (t !== this.framesEmitted) return;
    this.emitFrame(b);
  }

  private emitFrame(lastBlock: number): void {
    const count = this.blocksPerFrame;
    const firstBlock = lastBlock - count + 1;
    let squares = 0;
    let crossings = 0;
    // Blocks before the signal (firstBlock < 0) are the padding: their ring slots are still empty (zero)
    // for the first frames, and are skipped explicitly so reuse of the ring can never leak into them.
    for (let b = Math.max(0, firstBlock); b <= lastBlock; b++) {
      const slot = b % count;
      squares += this.ringSquares[slot];
      crossings += this.ringCrossings[slot];
    }
    if (firstBlock >= 0) crossings -= this.ringFirstCrossing[firstBlock % count];
    const t = this.framesEmitted;
    this.framesEmitted++;
    this.onFrame(t, crossings / this.frameLength, Math.sqrt(squares / this.frameLength));
  }
}
