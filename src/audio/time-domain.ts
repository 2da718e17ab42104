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
