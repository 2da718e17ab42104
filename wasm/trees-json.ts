// The numeric heart of /invocations JSON bodies (src/serve/fast-json.ts): an array of rows, each an array of
// `width` JSON numbers or nulls, parsed from UTF-8 bytes into float64 values (null → NaN), row-major.
//
// Anything this does not take exactly as JSON.parse would (a non-number value, a row of another width, more than
// 19 significant digits, a result that is subnormal, infinite or near an unresolvable halfway point, or any
// syntax error) makes it return FALLBACK, and the caller parses the whole body the general way, so messages
// and validation stay the general parser's. What it does accept it converts correctly rounded (decimalToBits):
// Eisel–Lemire on w · 5^q from a 128-bit table of powers of five (filled by the caller; see fast-json.ts), with
// Clinger's fast path (w ≤ 2^53, |q| ≤ 22: one exact-operand multiply or divide) and the round-to-even tie rule
// in decimalToBitsCareful for the few the first 64-bit product leaves open.
//
// Speed (a typical feature value is JSON.stringify's "-0.7314524180768497"): the fraction's digits are read
// 16 at a time with one vector load (count, align, combine), the 17th–24th with one 8-byte load; one integer
// digit is taken as it is. Where a branch would go either way at random on such values (below 1 or not, 16 or
// 17 digits, w above 2^53 or not) the code computes without one. Numbers that run past 19 significant digits
// are read again by slowNumber, byte by byte, which decides what is taken (trailing zeros) and what is declined.
// The body must be followed by a zero byte and 24 readable bytes, so every scan stops at the end without a
// bounds test.

const FALLBACK: i32 = -1;
const NO_NUMBER: u64 = 0x7ff8dead0000beef;
/**
 * Offsets in the caller's tables (see fast-json.ts): 23 float64 exact powers 10^0 … 10^22, 651 128-bit powers of
 * five, 25 u64 10^0 … 10^24 (mod 2^64), then 7 vector constants (loaded once: V8 would rebuild a v128.const at
 * every use in the loop, three instructions each).
 */
const POWERS_OF_FIVE_AT: usize = 23 * 8;
const INTEGER_POWERS_AT: usize = 23 * 8 + 651 * 16;
const VECTORS_AT: usize = INTEGER_POWERS_AT + 25 * 8;

/** Where parseRows stopped: the byte after the rows array's closing bracket. */
let stoppedAt: usize = 0;
/** Where slowNumber stopped: the byte after its number. */
let numberEnd: usize = 0;

export function parsedEnd(): usize {
  return stoppedAt;
}

// @ts-ignore: decorator
@inline
function isSpace(c: u32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

// @ts-ignore: decorator
@inline
function skipSpace(p: usize): usize {
  let c = <u32>load<u8>(p);
  // Every JSON space is ≤ 0x20, so one comparison settles the usual case (no space).
  while (c <= 0x20 && isSpace(c)) c = load<u8>(++p);
  return p;
}

// @ts-ignore: decorator
@inline
function isDigit(c: u32): bool {
  return c - 0x30 < 10;
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
  return digitBytesValue(v - 0x3030303030303030);
}

/** The value of 8 bytes holding digit values 0–9, read little-endian (first digit in the low byte). */
// @ts-ignore: decorator
@inline
function digitBytesValue(v: u64): u64 {
  v = v * 10 + (v >> 8); // byte pairs: tens·10 + units in the low byte of each pair
  return (((v & 0x000000ff000000ff) * (100 + (1000000 << 32))) + (((v >> 16) & 0x000000ff000000ff) * (1 + (10000 << 32)))) >> 32;
}

/**
 * How many of the 8 bytes of `t` (bytes XOR '0', first byte lowest) lead with digits, 0–8: a byte is a digit
 * when it is below 10, i.e. adding 0x76 leaves its top bit clear (and it was clear). A carry out of a non-digit
 * byte can only disturb the bytes above it, never the first non-digit.
 */
// @ts-ignore: decorator
@inline
function leadingDigits(t: u64): i32 {
  return <i32>(ctz(((t + 0x7676767676767676) | t) & 0x8080808080808080) >> 3);
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
 * infinite, or the 128-bit product cannot decide the rounding. The common case inline: Eisel–Lemire's first
 * 64×64-bit product (its high word to within 2) decides it, the result is a normal double and no tie is
 * possible; everything else goes to decimalToBitsCareful (the exact first product, the second when needed,
 * Clinger's fast path first), which gives the same bits whenever both answer, as both round correctly.
 */
// @ts-ignore: decorator
@inline
function decimalToBits(w: u64, q: i32, tables: usize): u64 {
  // Outside the table (q < -342 or q > 308) the careful path declines.
  if (<u32>(q + 342) > 650) return decimalToBitsCareful(w, q, tables);
  const lz = clz<u64>(w);
  const m = w << lz;
  const powHigh = load<u64>(tables + POWERS_OF_FIVE_AT + (<usize>(q + 342) << 4));
  // The high word of m · powHigh less the carry out of the low 32×32 product and the middle sums (0, 1 or
  // 2): it only matters when it would reach the bits the result keeps, i.e. when the bits below the rounding
  // bit are ≥ 0x1fd. Those, the ones where the second product could carry in (all ones), and a low word of
  // ~0, 0 or 1 (a possible tie, or an undecidable product) go to the careful path.
  const mHigh = m >> 32;
  const pHigh = powHigh >> 32;
  const high = mHigh * pHigh + ((mHigh * (powHigh & 0xffffffff)) >> 32) + (((m & 0xffffffff) * pHigh) >> 32);
  const low = m * powHigh;
  if ((<i32>((high & 0x1ff) >= 0x1fd) | <i32>(low + 1 <= 2)) != 0) return decimalToBitsCareful(w, q, tables);
  const upperBit = <i32>(high >> 63);
  let mantissa = high >> <u64>(upperBit + 9);
  let power2 = ((q * (152170 + 65536)) >> 16) + 63 + upperBit - <i32>lz + 1023;
  // Subnormal, or at the top of the range where rounding could overflow: the careful path (it declines both).
  if (<u32>(power2 - 1) >= 0x7fd) return decimalToBitsCareful(w, q, tables);
  mantissa += mantissa & 1;
  mantissa >>= 1;
  // Rounding up to 2^53 carries into the exponent (and 2^53 >> 1 is the 2^52 wanted).
  const carry = mantissa >> 53;
  mantissa >>= carry;
  power2 += <i32>carry;
  return (mantissa & ~(<u64>1 << 52)) | (<u64>power2 << 52);
}

/**
 * decimalToBits for every case: Clinger's fast path (w ≤ 2^53 and |q| ≤ 22 → one exact-operand multiply or
 * divide), otherwise Eisel–Lemire with both 128-bit words and the round-to-even tie rule.
 */
function decimalToBitsCareful(w: u64, q: i32, tables: usize): u64 {
  if (w <= 0x20000000000000 && q >= -22 && q <= 22) {
    const value = q < 0 ? <f64>w / load<f64>(tables + (<usize>(-q) << 3)) : <f64>w * load<f64>(tables + (<usize>q << 3));
    return reinterpret<u64>(value);
  }
  if (q < -342 || q > 308) return NO_NUMBER;
  const lz = clz<u64>(w);
  const m = w << lz;
  const entry = tables + POWERS_OF_FIVE_AT + (<usize>(q + 342) << 4);
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
 * The bits of the unsigned JSON number at `p` (after any minus sign), byte by byte, or NO_NUMBER; numberEnd is
 * then the byte after it. Numbers with more than 19 digits come here: past 19 significant digits only zeros are
 * taken (JSON.stringify writes 1e20 as 100000000000000000000), anything else is declined.
 */
function slowNumber(p: usize, tables: usize): u64 {
  let c = <u32>load<u8>(p);
  let w: u64 = 0;
  let digits = 0;
  let q = 0;
  if (c == 0x30) {
    c = load<u8>(++p);
    if (isDigit(c)) return NO_NUMBER; // a leading zero is not JSON
  } else if (c >= 0x31 && c <= 0x39) {
    while (digits <= 11 && eightDigits(load<u64>(p))) {
      w = w * 100000000 + eightDigitsValue(load<u64>(p));
      digits += 8;
      p += 8;
    }
    c = load<u8>(p);
    while (isDigit(c)) {
      if (digits < 19) {
        w = w * 10 + <u64>(c - 0x30);
        digits++;
      } else if (c == 0x30) q++;
      else return NO_NUMBER;
      c = load<u8>(++p);
    }
  } else return NO_NUMBER;
  if (c == 0x2e) {
    c = load<u8>(++p);
    if (!isDigit(c)) return NO_NUMBER;
    while (isDigit(c)) {
      // Zeros before the first significant digit only move the exponent.
      if (digits < 19 && (digits > 0 || c != 0x30)) {
        w = w * 10 + <u64>(c - 0x30);
        digits++;
        q--;
      } else if (digits == 0) q--;
      else if (c != 0x30) return NO_NUMBER; // more than 19 significant digits (zeros past them change nothing)
      c = load<u8>(++p);
    }
  }
  if (c == 0x65 || c == 0x45) {
    const e = exponentPart(p + 1);
    if (e == NO_EXPONENT) return NO_NUMBER;
    p = scanEnd;
    q += e;
  }
  numberEnd = p;
  return w == 0 ? 0 : decimalToBits(w, q, tables);
}

/** Where integerPart and exponentPart ended, and how many digits integerPart read. */
let scanDigits: i32 = 0;
let scanEnd: usize = 0;

/** The value of an integer part of any length at `p` (its first byte 1–9); past 19 digits it wraps, and the caller reads the number again. */
function integerPart(p: usize, integerPowers: usize): u64 {
  let t = load<u64>(p) ^ 0x3030303030303030;
  let k = leadingDigits(t);
  let w: u64 = 0;
  let digits = 0;
  while (k == 8) {
    w = w * 100000000 + digitBytesValue(t);
    digits += 8;
    p += 8;
    t = load<u64>(p) ^ 0x3030303030303030;
    k = leadingDigits(t);
  }
  // The 0–7 digits left, shifted to the top so the empty bytes read as zeros.
  scanDigits = digits + k;
  scanEnd = p + k;
  return w * load<u64>(integerPowers + (<usize>k << 3)) + digitBytesValue((t << 8) << <u64>(56 - 8 * k));
}

/** The exponent at `p` (just after the e or E), its magnitude capped below 10^6, or NO_EXPONENT; scanEnd is after it. */
const NO_EXPONENT: i32 = 0x7fffffff;
function exponentPart(p: usize): i32 {
  let c = <u32>load<u8>(p);
  const negativeExponent = c == 0x2d;
  if (c == 0x2d || c == 0x2b) c = load<u8>(++p);
  if (!isDigit(c)) return NO_EXPONENT;
  let e = 0;
  while (isDigit(c)) {
    if (e < 100000) e = e * 10 + <i32>(c - 0x30);
    c = load<u8>(++p);
  }
  scanEnd = p;
  return negativeExponent ? -e : e;
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
  const integerPowers = tables + INTEGER_POWERS_AT;
  const lanes = v128.load(tables + VECTORS_AT); // 0, 1, … 15
  const zeros = v128.load(tables + VECTORS_AT, 16); // '0' in every byte
  const nines = v128.load(tables + VECTORS_AT, 32); // 9 in every byte
  const lowBytes = v128.load(tables + VECTORS_AT, 48); // 0x00ff in every i16
  const tensI16 = v128.load(tables + VECTORS_AT, 64); // 10 in every i16
  const hundredOne = v128.load(tables + VECTORS_AT, 80); // 100, 1, 100, 1, … (i16)
  const tenThousandOne = v128.load(tables + VECTORS_AT, 96); // 10000, 1, … (i16)
  const last = width - 1;
  let rows = 0;
  let n = 0;
  while (true) {
    if (load<u8>(p) != 0x5b) return FALLBACK;
    if (n + width > capacity) return FALLBACK;
    p++;
    for (let j = 0; j < width; j++) {
      let c = <u32>load<u8>(p);
      if (c <= 0x20) {
        p = skipSpace(p);
        c = load<u8>(p);
      }
      let bits: u64;
      if (c == 0x6e) {
        if (load<u8>(p, 1) != 0x75 || load<u8>(p, 2) != 0x6c || load<u8>(p, 3) != 0x6c) return FALLBACK;
        p += 4;
        bits = reinterpret<u64>(NaN);
      } else {
        const negative = c == 0x2d;
        p += <usize>negative;
        const start = p;
        let w: u64 = <u64>(load<u8>(p) - 0x30);
        let digits: i32;
        if (w < 10 && load<u8>(p, 1) == 0x2e) {
          // One integer digit and a fraction: most feature values.
          digits = <i32>(w != 0);
          p++;
        } else {
          if (w - 1 >= 9) {
            if (w != 0) return FALLBACK; // not a number
            if (isDigit(load<u8>(p, 1))) return FALLBACK; // a leading zero is not JSON
            digits = 0;
            p++;
          } else {
            w = integerPart(p, integerPowers);
            if (w == NO_NUMBER) return FALLBACK;
            digits = scanDigits;
            p = scanEnd;
          }
        }
        let q = 0;
        c = load<u8>(p);
        if (c == 0x2e) {
          p++;
          // Up to 16 digits in one vector: count them, move them to the top lanes (swizzle zeroes the lanes
          // before them) and combine pairs, quads, then eights.
          const values = i8x16.sub(v128.load(p), zeros);
          const count = ctz(~i8x16.bitmask(i8x16.eq(i8x16.min_u(values, nines), values)));
          if (count == 0) return FALLBACK; // a point needs a digit after it
          // After an integer part of 0, zeros before the first significant digit only move the exponent
          // (counted without a branch: whether a value is below 1 is a coin toss).
          const leadingZeros = ctz(~i8x16.bitmask(i8x16.eq(values, i8x16.splat(0))));
          const insignificant = select<i32>(min(leadingZeros, count), 0, w == 0);
          const aligned = i8x16.swizzle(values, i8x16.sub(lanes, i8x16.splat(<i8>(16 - count))));
          const pairs = i16x8.add(i16x8.mul(v128.and(aligned, lowBytes), tensI16), i16x8.shr_u(aligned, 8));
          const quads = i32x4.dot_i16x8_s(pairs, hundredOne);
          const eights = i32x4.dot_i16x8_s(i16x8.narrow_i32x4_u(quads, quads), tenThousandOne);
          const sixteen = <u64>i32x4.extract_lane(eights, 0) * 100000000 + <u64>i32x4.extract_lane(eights, 1);
          // Digits 17–24 count only when all 16 lanes were digits (8 of them: too many, read again below).
          const t3 = load<u64>(p, 16) ^ 0x3030303030303030;
          const k3 = select<i32>(leadingDigits(t3), 0, count == 16);
          const fractionDigits = count + k3;
          w = w * load<u64>(integerPowers + (<usize>fractionDigits << 3)) + sixteen * load<u64>(integerPowers + (<usize>k3 << 3)) + digitBytesValue((t3 << 8) << <u64>(56 - 8 * k3));
          // 24 digits read may not be all of them: then leave the number to slowNumber too.
          digits += select<i32>(fractionDigits - insignificant, 100, k3 < 8);
          q -= fractionDigits;
          p += fractionDigits;
          c = load<u8>(p);
        }
        if (digits > 19) {
          // w has wrapped: read the number again digit by digit.
          bits = slowNumber(start, tables);
          p = numberEnd;
        } else {
          if (c == 0x65 || c == 0x45) {
            const e = exponentPart(p + 1);
            if (e == NO_EXPONENT) return FALLBACK;
            q += e;
            p = scanEnd;
          }
          bits = w == 0 ? 0 : decimalToBits(w, q, tables);
        }
        if (bits == NO_NUMBER) return FALLBACK;
        bits |= <u64>negative << 63;
      }
      store<u64>(out + (<usize>n << 3), bits);
      n++;
      let c2 = <u32>load<u8>(p);
      if (c2 <= 0x20) {
        p = skipSpace(p);
        c2 = load<u8>(p);
      }
      if (c2 != (j == last ? 0x5d : 0x2c)) return FALLBACK;
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
