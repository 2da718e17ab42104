// The numeric heart of /invocations JSON bodies (src/serve/fast-json.ts): an array of rows, each an array of
// `width` JSON numbers or nulls, parsed from UTF-8 bytes into float64 values (null → NaN), row-major.
//
// Anything this does not take exactly as JSON.parse would (a non-number value, a row of another width, more than
// 19 significant digits, a result that is subnormal, infinite or near an unresolvable halfway point, or any
// syntax error) makes it return FALLBACK, and the caller parses the whole body the general way, so messages
// and validation stay the general parser's. What it does accept it converts correctly rounded:
//   - Clinger's fast path: w ≤ 2^53 and |q| ≤ 22 → one exact-operand float64 multiply or divide;
//   - otherwise Eisel–Lemire: w · 5^q from a 128-bit table of powers of five (filled by the caller; see
//     fast-json.ts), rounded to nearest-even in integer arithmetic.
// The body must be followed by a zero byte, so every scan stops at the end without a bounds test.

const FALLBACK: i32 = -1;
const NO_NUMBER: u64 = 0x7ff8dead0000beef;

/** Where parseRows stopped: the byte after the rows array's closing bracket. */
let stoppedAt: usize = 0;

export function parsedEnd(): usize {
  return stoppedAt;
}

// @ts-ignore: decorator
@inline
function skipSpace(p: usize): usize {
  let c = load<u8>(p);
  while (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) c = load<u8>(++p);
  return p;
}

/** True when the 8 bytes of `v` are all ASCII digits. */
// @ts-ignore: decorator
@inline
function eightDigits(v: u64): bool {
  return ((v & 0xf0f0f0f0f0f0f0f0) | (((v + 0x0606060606060606) & 0xf0f0f0f0f0f0f0f0) >> 4)) == 0x3333333333333333;
}

/** The value of 8 ASCII digits read little-endian (first digit in the low byte), by pairwise combining. */
// @ts-ignore: decorator
@inline
function eightDigitsValue(v: u64): u64 {
  v -= 0x3030303030303030;
  v = v * 10 + (v >> 8); // byte pairs: tens·10 + units in the low byte of each pair
  return (((v & 0x000000ff000000ff) * (100 + (1000000 << 32))) + (((v >> 16) & 0x000000ff000000ff) * (1 + (10000 << 32)))) >> 32;
}

/** High 64 bits of the 128-bit product a · b (wasm has no 64×64→128 multiply). */
// @ts-ignore: decorator
@inline
function mulHigh(a: u64, b: u64): u64 {
  const aLo = a & 0xffffffff;
  const aHi = a >> 32;
  const bLo = b & 0xffffffff;
  const bHi = b >> 32;
  const lowLow = aLo * bLo;
  const lowHigh = aLo * bHi;
  const highLow = aHi * bLo;
  const middle = (lowLow >> 32) + (lowHigh & 0xffffffff) + (highLow & 0xffffffff);
  return aHi * bHi + (lowHigh >> 32) + (highLow >> 32) + (middle >> 32);
}

/**
 * The float64 bits of w · 10^q (w > 0, at most 19 digits), or NO_NUMBER when the result is subnormal or
 * infinite, or the 128-bit product cannot decide the rounding.
 * `tables`: 23 float64 exact powers 10^0 … 10^22, then for q = -342 … 308 the 128-bit 5^q (high word, low word).
 */
function decimalToBits(w: u64, q: i32, tables: usize): u64 {
  if (w <= 0x20000000000000 && q >= -22 && q <= 22) {
    const value = q < 0 ? <f64>w / load<f64>(tables + (<usize>(-q) << 3)) : <f64>w * load<f64>(tables + (<usize>q << 3));
    return reinterpret<u64>(value);
  }
  if (q < -342 || q > 308) return NO_NUMBER;
  const lz = clz<u64>(w);
  const m = w << lz;
  const entry = tables + 23 * 8 + (<usize>(q + 342) << 4);
  const powHigh = load<u64>(entry);
  const powLow = load<u64>(entry, 8);
  let high = mulHigh(m, powHigh);
  let low = m * powHigh;
  // 52 explicit bits + hidden + rounding + a possible leading zero: refine when the bits below those are all ones.
  const mask: u64 = 0xffffffffffffffff >> 55;
  if ((high & mask) == mask) {
    const secondHigh = mulHigh(m, powLow);
    low += secondHigh;
    if (secondHigh > low) high++;
  }
  if (low == 0xffffffffffffffff) return NO_NUMBER;
  const upperBit = <i32>(high >> 63);
  const shift = <u64>(upperBit + 9);
  let mantissa = high >> shift;
  let power2 = ((q * (152170 + 65536)) >> 16) + 63 + upperBit - <i32>lz + 1023;
  if (power2 <= 0) return NO_NUMBER;
  // Exactly halfway with an even result below: round down instead of up.
  if (low <= 1 && q >= -4 && q <= 23 && (mantissa & 3) == 1 && mantissa << shift == high) mantissa &= ~(<u64>1);
  mantissa += mantissa & 1;
  mantissa >>= 1;
  if (mantissa >= (<u64>2 << 52)) {
    mantissa = <u64>1 << 52;
    power2++;
  }
  mantissa &= ~(<u64>1 << 52);
  if (power2 >= 0x7ff) return NO_NUMBER;
  return mantissa | (<u64>power2 << 52);
}

/**
 * Parses the rows array starting at `src` (at or before its '['): rows of exactly `width` values into `out`,
 * at most `capacity` values in all. Returns the row count (parsedEnd() is then the byte after the closing
 * bracket), or FALLBACK.
 */
export function parseRows(src: usize, tables: usize, out: usize, capacity: i32, width: i32): i32 {
  let p = skipSpace(src);
  if (load<u8>(p) != 0x5b) return FALLBACK;
  p = skipSpace(p + 1);
  if (load<u8>(p) == 0x5d || width <= 0) return FALLBACK;
  let rows = 0;
  let n = 0;
  while (true) {
    if (load<u8>(p) != 0x5b) return FALLBACK;
    if (n + width > capacity) return FALLBACK;
    p++;
    for (let j = 0; j < width; j++) {
      p = skipSpace(p);
      let c = load<u8>(p);
      let bits: u64;
      if (c == 0x6e) {
        if (load<u8>(p, 1) != 0x75 || load<u8>(p, 2) != 0x6c || load<u8>(p, 3) != 0x6c) return FALLBACK;
        p += 4;
        bits = reinterpret<u64>(NaN);
      } else {
        const negative = c == 0x2d;
        if (negative) c = load<u8>(++p);
        let w: u64 = 0;
        let digits = 0;
        let q = 0;
        if (c == 0x30) {
          c = load<u8>(++p);
          if (c >= 0x30 && c <= 0x39) return FALLBACK; // a leading zero is not JSON
        } else if (c >= 0x31 && c <= 0x39) {
          // Eight digits at a time while they fit in the 19 a u64 holds (the body is followed by readable memory).
          while (digits <= 11 && eightDigits(load<u64>(p))) {
            w = w * 100000000 + eightDigitsValue(load<u64>(p));
            digits += 8;
            p += 8;
          }
          c = load<u8>(p);
          while (c >= 0x30 && c <= 0x39) {
            if (digits < 19) {
              w = w * 10 + <u64>(c - 0x30);
              digits++;
            } else if (c == 0x30) q++; // trailing zeros of a long integer (JSON.stringify writes 1e20 as 100000000000000000000)
            else return FALLBACK;
            c = load<u8>(++p);
          }
        } else return FALLBACK;
        if (c == 0x2e) {
          c = load<u8>(++p);
          if (c < 0x30 || c > 0x39) return FALLBACK;
          if (digits > 0) {
            while (digits <= 11 && eightDigits(load<u64>(p))) {
              w = w * 100000000 + eightDigitsValue(load<u64>(p));
              digits += 8;
              q -= 8;
              p += 8;
            }
            c = load<u8>(p);
          }
          while (c >= 0x30 && c <= 0x39) {
            // Zeros before the first significant digit only move the exponent.
            if (digits < 19 && (digits > 0 || c != 0x30)) {
              w = w * 10 + <u64>(c - 0x30);
              digits++;
              q--;
            } else if (digits == 0) q--;
            else if (c != 0x30) return FALLBACK; // more than 19 significant digits (zeros past them change nothing)
            c = load<u8>(++p);
          }
        }
        if (c == 0x65 || c == 0x45) {
          c = load<u8>(++p);
          const negativeExponent = c == 0x2d;
          if (c == 0x2d || c == 0x2b) c = load<u8>(++p);
          if (c < 0x30 || c > 0x39) return FALLBACK;
          let e = 0;
          while (c >= 0x30 && c <= 0x39) {
            if (e < 100000) e = e * 10 + <i32>(c - 0x30);
            c = load<u8>(++p);
          }
          q += negativeExponent ? -e : e;
        }
        if (w == 0) bits = 0;
        else {
          bits = decimalToBits(w, q, tables);
          if (bits == NO_NUMBER) return FALLBACK;
        }
        if (negative) bits |= <u64>1 << 63;
      }
      store<u64>(out + (<usize>n << 3), bits);
      n++;
      p = skipSpace(p);
      if (load<u8>(p) != (j == width - 1 ? 0x5d : 0x2c)) return FALLBACK;
      p++;
    }
    rows++;
    p = skipSpace(p);
    const c = load<u8>(p);
    p = skipSpace(p + 1);
    if (c == 0x5d) break;
    if (c != 0x2c) return FALLBACK;
  }
  // p already stepped over the spaces after the closing bracket.
  stoppedAt = p;
  return rows;
}
