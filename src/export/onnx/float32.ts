/**
 * Split thresholds for float32 tree runtimes. ONNX TreeEnsemble compares float32 inputs with float32
 * thresholds, while spotml compares float64 values: a threshold merely rounded to float32 can send a value
 * to the other side. For a float32 input x whose spotml value is g(x) (g = identity, or the pipeline's
 * (x − mean) / scale, computed exactly as spotml computes it), the float32 threshold that preserves every
 * decision is the largest float32 x with g(x) <= t: g is non-decreasing, so for every float32 x,
 * g(x) <= t  ⇔  x <= that threshold. Contract: decisions are exact for float32-representable inputs.
 */

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

/** Order-preserving key of a float32 bit pattern: keys compare as the floats do (−0 just below +0). */
function keyOfBits(b: number): number {
  return b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}

function floatOfKey(key: number): number {
  bits[0] = key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  return asFloat[0];
}

function keyOfFloat(x: number): number {
  asFloat[0] = x;
  return keyOfBits(bits[0]);
}

const KEY_NEG_INF = keyOfFloat(-Infinity);
const KEY_POS_INF = keyOfFloat(Infinity);

/**
 * The largest float32 x in [−∞, +∞] with `goesLeft(x)`, for a predicate that is true up to some point and
 * false after it; −∞ when it holds nowhere (then only −∞ itself would take the left branch).
 */
export function largestFloat32Where(goesLeft: (x: number) => boolean): number {
  if (goesLeft(Infinity)) return Infinity;
  if (!goesLeft(-Infinity)) return -Infinity;
  let low = KEY_NEG_INF; // goesLeft holds
  let high = KEY_POS_INF; // goesLeft fails
  while (high - low > 1) {
    const mid = low + Math.floor((high - low) / 2);
    if (goesLeft(floatOfKey(mid))) low = mid;
    else high = mid;
  }
  return floatOfKey(low);
}

/** The largest float32 <= t: the threshold for a feature spotml reads unchanged. */
export function float32AtOrBelow(t: number): number {
  const rounded = Math.fround(t);
  if (rounded <= t || Number.isNaN(t)) return rounded;
  return largestFloat32Where((x) => x <= t);
}
