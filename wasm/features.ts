// Per-frame features after the power spectrum, in float64 (f64x2 SIMD where the arithmetic allows):
// magnitude, centroid / bandwidth / rolloff / flatness / frame maximum, spectral contrast's band peaks and
// valleys, the float32-rounded power that chroma reads, and the chroma filter-bank product. The caller
// (src/audio/feature-kernel.ts) lays out the tables in this module's memory and passes byte offsets.

let nBins: i32 = 0;
let freqsPtr: usize = 0;
let magPtr: usize = 0;
let rollPercent: f64 = 0.85;
let amin: f64 = 1e-10;

let contrastRows: i32 = 0;
let bandStartPtr: usize = 0;
let bandLengthPtr: usize = 0;
let takePtr: usize = 0;
let lowestPtr: usize = 0;
let highestPtr: usize = 0;
let candidatesPtr: usize = 0;

/** Values written per frame by spectralFrames: centroid, bandwidth, rolloff, flatness, max power, fallback. */
const SHAPE_STRIDE: i32 = 6;
const FLAG_MAGNITUDE: i32 = 1;
const FLAG_SHAPE: i32 = 2;
const FLAG_CONTRAST: i32 = 4;
const FLAG_ROUNDED: i32 = 8;
/** Powers above this make the flatness product leave float64's range: the caller recomputes such frames. (NaN
 * powers count as amin in the flatness, as in the JS kernel, whose `p > amin ? p : amin` does the same.) */
const SAFE_POWER: f64 = 1e37;
const FLOAT32_TINY: f64 = 1.1754943508222875e-38;
const LN2: f64 = 0.6931471805599453;
/** Groups (five f64x2 registers) the contrast cut is taken over; bands with a larger take select plainly. */
const CUT_GROUPS: i32 = 10;
const MANTISSA_BITS: i64 = 0x000fffffffffffff;
const EXPONENT_ONE: i64 = 0x3ff0000000000000;

/** The first byte the caller may lay out: below it are this module's static data (Math.log/exp tables). */
export function heapBase(): usize {
  return __heap_base;
}

/** bins: n_fft/2 + 1; freqs and magnitude scratch: bins f64 each. */
export function configure(bins: i32, freqs: usize, magnitude: usize, rolloff: f64, aminValue: f64): void {
  nBins = bins;
  freqsPtr = freqs;
  magPtr = magnitude;
  rollPercent = rolloff;
  amin = aminValue;
}

/**
 * Contrast bands: rows i32 each of start, length and take; lowest/highest scratch of the largest take (f64);
 * candidates: scratch of nBins (rounded up to even) + 2·CUT_GROUPS f64.
 */
export function configureContrast(rows: i32, start: usize, length: usize, take: usize, lowest: usize, highest: usize, candidates: usize): void {
  candidatesPtr = candidates;
  contrastRows = rows;
  bandStartPtr = start;
  bandLengthPtr = length;
  takePtr = take;
  lowestPtr = lowest;
  highestPtr = highest;
}

/**
 * For each of `frames` power frames (f64, nBins each, consecutive from `power`): with FLAG_MAGNITUDE the
 * magnitude into the scratch; always [_, _, _, flatness, max power, fallback] at shape + f·SHAPE_STRIDE·8,
 * plus [centroid, bandwidth, rolloff] with FLAG_SHAPE; with FLAG_CONTRAST each band's peak and valley
 * (contrastRows f64 each per frame); with FLAG_ROUNDED the power rounded to float32 at rounded + f·nBins·4.
 */
export function spectralFrames(power: usize, frames: i32, flags: i32, shape: usize, peak: usize, valley: usize, rounded: usize): void {
  const frameBytes = (<usize>nBins) << 3;
  for (let f = 0; f < frames; f++) {
    const p = power + <usize>f * frameBytes;
    const out = shape + ((<usize>(f * SHAPE_STRIDE)) << 3);
    const r = rounded + ((<usize>(f * nBins)) << 2);
    firstPass(p, flags, out, r);
    if (flags & FLAG_SHAPE) secondPass(out);
    if (flags & FLAG_CONTRAST) contrastFrame(peak + ((<usize>(f * contrastRows)) << 3), valley + ((<usize>(f * contrastRows)) << 3));
  }
}

// @ts-ignore: decorator
@inline
function renormalise(product: v128, exponents: v128): v128 {
  return i64x2.add(exponents, i64x2.sub(i64x2.shr_u(product, 52), i64x2.splat(1023)));
}

// @ts-ignore: decorator
@inline
function mantissa(product: v128): v128 {
  return v128.or(v128.and(product, i64x2.splat(MANTISSA_BITS)), i64x2.splat(EXPONENT_ONE));
}

/**
 * Sums (two lanes), flatness (the product of max(amin, p) kept as mantissa and exponent, renormalised
 * every 16 bins, so one log per frame), the maximum, and optionally the magnitude and rounded power.
 */
function firstPass(p: usize, flags: i32, out: usize, r: usize): void {
  const n = nBins;
  const wantMagnitude = (flags & FLAG_MAGNITUDE) != 0;
  const wantRounded = (flags & FLAG_ROUNDED) != 0;
  const aminV = f64x2.splat(amin);
  let total = f64x2.splat(0);
  let weighted = f64x2.splat(0);
  let powerSum = f64x2.splat(0);
  let maxPower = f64x2.splat(0);
  let product = f64x2.splat(1);
  let exponents = i64x2.splat(0);
  let k = 0;
  for (; k + 2 <= n; k += 2) {
    const byte = (<usize>k) << 3;
    const x = v128.load(p + byte);
    maxPower = f64x2.pmax(maxPower, x);
    const v = f64x2.pmax(aminV, x);
    product = f64x2.mul(product, v);
    powerSum = f64x2.add(powerSum, v);
    if (wantMagnitude) {
      const m = f64x2.sqrt(x);
      v128.store(magPtr + byte, m);
      total = f64x2.add(total, m);
      weighted = f64x2.add(weighted, f64x2.mul(v128.load(freqsPtr + byte), m));
    }
    if (wantRounded) store<i64>(r + ((<usize>k) << 2), i64x2.extract_lane(f32x4.demote_f64x2_zero(x), 0));
    // Eight values per lane since the last renormalisation: within float64's range for powers in [amin, SAFE_POWER].
    if ((k & 15) == 14) {
      exponents = renormalise(product, exponents);
      product = mantissa(product);
    }
  }
  let totalS = f64x2.extract_lane(total, 0) + f64x2.extract_lane(total, 1);
  let weightedS = f64x2.extract_lane(weighted, 0) + f64x2.extract_lane(weighted, 1);
  let powerSumS = f64x2.extract_lane(powerSum, 0) + f64x2.extract_lane(powerSum, 1);
  let maxS = max(f64x2.extract_lane(maxPower, 0), f64x2.extract_lane(maxPower, 1));
  exponents = renormalise(product, exponents);
  product = mantissa(product);
  let logSum = Math.log(f64x2.extract_lane(product, 0)) + Math.log(f64x2.extract_lane(product, 1));
  logSum += <f64>(i64x2.extract_lane(exponents, 0) + i64x2.extract_lane(exponents, 1)) * LN2;
  for (; k < n; k++) {
    const byte = (<usize>k) << 3;
    const x = load<f64>(p + byte);
    if (x > maxS) maxS = x;
    const v = x > amin ? x : amin;
    logSum += Math.log(v);
    powerSumS += v;
    if (wantMagnitude) {
      const m = Math.sqrt(x);
      store<f64>(magPtr + byte, m);
      totalS += m;
      weightedS += load<f64>(freqsPtr + byte) * m;
    }
    if (wantRounded) store<f32>(r + ((<usize>k) << 2), <f32>x);
  }
  store<f64>(out, weightedS);
  store<f64>(out, totalS, 8);
  store<f64>(out, Math.exp(logSum / <f64>n) / (powerSumS / <f64>n), 24);
  store<f64>(out, maxS, 32);
  store<f64>(out, maxS <= SAFE_POWER && amin >= 1e-37 ? 0 : 1, 40);
}

/** Centroid, bandwidth (spread about the centroid, two lanes) and rolloff (a running sum in bin order). */
function secondPass(out: usize): void {
  const n = nBins;
  const weighted = load<f64>(out);
  const total = load<f64>(out, 8);
  const scale = total < FLOAT32_TINY ? 1 : total;
  const centroid = weighted / scale;
  const centroidV = f64x2.splat(centroid);
  const threshold = rollPercent * total;
  let rolloff = load<f64>(freqsPtr + ((<usize>(n - 1)) << 3));
  let cumulative: f64 = 0;
  let spread = f64x2.splat(0);
  let k = 0;
  let found = false;
  for (; k + 2 <= n; k += 2) {
    const byte = (<usize>k) << 3;
    const m = v128.load(magPtr + byte);
    const d = f64x2.sub(v128.load(freqsPtr + byte), centroidV);
    spread = f64x2.add(spread, f64x2.mul(m, f64x2.mul(d, d)));
    cumulative += f64x2.extract_lane(m, 0);
    if (cumulative >= threshold) {
      rolloff = load<f64>(freqsPtr + byte);
      found = true;
      k += 2;
      break;
    }
    cumulative += f64x2.extract_lane(m, 1);
    if (cumulative >= threshold) {
      rolloff = load<f64>(freqsPtr + byte, 8);
      found = true;
      k += 2;
      break;
    }
  }
  for (; k + 2 <= n; k += 2) {
    const byte = (<usize>k) << 3;
    const m = v128.load(magPtr + byte);
    const d = f64x2.sub(v128.load(freqsPtr + byte), centroidV);
    spread = f64x2.add(spread, f64x2.mul(m, f64x2.mul(d, d)));
  }
  let spreadS = f64x2.extract_lane(spread, 0) + f64x2.extract_lane(spread, 1);
  for (; k < n; k++) {
    const byte = (<usize>k) << 3;
    const m = load<f64>(magPtr + byte);
    const d = load<f64>(freqsPtr + byte) - centroid;
    spreadS += m * (d * d);
    if (!found) {
      cumulative += m;
      if (cumulative >= threshold) {
        rolloff = load<f64>(freqsPtr + byte);
        found = true;
      }
    }
  }
  store<f64>(out, centroid);
  store<f64>(out, Math.sqrt(spreadS / scale), 8);
  store<f64>(out, rolloff, 16);
}

// @ts-ignore: decorator
@inline
function mag(b: i32): f64 {
  return load<f64>(magPtr + ((<usize>b) << 3));
}

/** Inserts v into the ascending a[0..length), giving a[0..length]. */
// @ts-ignore: decorator
@inline
function insertAscending(a: usize, length: i32, v: f64): void {
  let i = length;
  while (i > 0 && load<f64>(a + ((<usize>(i - 1)) << 3)) > v) {
    store<f64>(a + ((<usize>i) << 3), load<f64>(a + ((<usize>(i - 1)) << 3)));
    i--;
  }
  store<f64>(a + ((<usize>i) << 3), v);
}

/**
 * ContrastBands.frame (src/audio/spectral.ts) on the magnitude scratch: the same multisets (the `take`
 * smallest and largest magnitudes of each band), summed in the same ascending order, so the same means.
 *
 * Bands of 1 < take <= CUT_GROUPS are narrowed first, without branches on the data: deal the band's bins
 * into CUT_GROUPS groups (bin i into group i mod CUT_GROUPS, two groups per f64x2 lane pair, in registers).
 * The take-th smallest group minimum is a cut with at least `take` bins at or below it (those groups'
 * minima), and the take-th largest group maximum likewise from above. Only the bins past the cuts (typically 2–3·take of a
 * few hundred) go through the insertion selection, so its mispredicted branches are paid on those few. A
 * band holding a NaN takes the plain selection over all its bins, as the JS reference does.
 */
function contrastFrame(peak: usize, valley: usize): void {
  const candidates = candidatesPtr;
  const groupMin = candidatesPtr + ((<usize>((nBins + 1) & ~1)) << 3);
  for (let row = 0; row < contrastRows; row++) {
    const start = load<i32>(bandStartPtr + ((<usize>row) << 2));
    const length = load<i32>(bandLengthPtr + ((<usize>row) << 2));
    const end = start + length;
    const take = min(load<i32>(takePtr + ((<usize>row) << 2)), length);
    const rowByte = (<usize>row) << 3;
    if (take == 1) {
      let low = mag(start);
      let high = low;
      for (let b = start + 1; b < end; b++) {
        const v = mag(b);
        if (v < low) low = v;
        if (v > high) high = v;
      }
      store<f64>(valley + rowByte, low);
      store<f64>(peak + rowByte, high);
      continue;
    }
    if (take > CUT_GROUPS) {
      const band = magPtr + ((<usize>start) << 3);
      selectExtremes(band, band, length, length, take, peak + rowByte, valley + rowByte);
      continue;
    }
    const groups = CUT_GROUPS;
    const groupMax = groupMin + ((<usize>groups) << 3);
    let min0 = f64x2.splat(Infinity);
    let min1 = min0;
    let min2 = min0;
    let min3 = min0;
    let min4 = min0;
    let max0 = f64x2.splat(-Infinity);
    let max1 = max0;
    let max2 = max0;
    let max3 = max0;
    let max4 = max0;
    let nanLanes = f64x2.splat(0);
    const whole = start + (length / groups) * groups;
    let b = start;
    // pmin/pmax (b < a ? b : a) are plain minpd/maxpd; NaNs are tracked on their own.
    for (; b < whole; b += groups) {
      const at = magPtr + ((<usize>b) << 3);
      const v0 = v128.load(at);
      const v1 = v128.load(at, 16);
      const v2 = v128.load(at, 32);
      const v3 = v128.load(at, 48);
      const v4 = v128.load(at, 64);
      min0 = f64x2.pmin(min0, v0);
      min1 = f64x2.pmin(min1, v1);
      min2 = f64x2.pmin(min2, v2);
      min3 = f64x2.pmin(min3, v3);
      min4 = f64x2.pmin(min4, v4);
      max0 = f64x2.pmax(max0, v0);
      max1 = f64x2.pmax(max1, v1);
      max2 = f64x2.pmax(max2, v2);
      max3 = f64x2.pmax(max3, v3);
      max4 = f64x2.pmax(max4, v4);
      const nan01 = v128.or(f64x2.ne(v0, v0), f64x2.ne(v1, v1));
      const nan23 = v128.or(f64x2.ne(v2, v2), f64x2.ne(v3, v3));
      nanLanes = v128.or(nanLanes, v128.or(v128.or(nan01, nan23), f64x2.ne(v4, v4)));
    }
    v128.store(groupMin, min0);
    v128.store(groupMin, min1, 16);
    v128.store(groupMin, min2, 32);
    v128.store(groupMin, min3, 48);
    v128.store(groupMin, min4, 64);
    v128.store(groupMax, max0);
    v128.store(groupMax, max1, 16);
    v128.store(groupMax, max2, 32);
    v128.store(groupMax, max3, 48);
    v128.store(groupMax, max4, 64);
    let sawNaN = v128.any_true(nanLanes);
    for (let g = 0; b < end; b++, g++) {
      const v = mag(b);
      const slot = (<usize>g) << 3;
      if (v < load<f64>(groupMin + slot)) store<f64>(groupMin + slot, v);
      if (v > load<f64>(groupMax + slot)) store<f64>(groupMax + slot, v);
      if (v != v) sawNaN = true;
    }
    if (sawNaN) {
      const band = magPtr + ((<usize>start) << 3);
      selectExtremes(band, band, length, length, take, peak + rowByte, valley + rowByte);
      continue;
    }
    // An empty group (a band shorter than CUT_GROUPS) keeps ±Infinity: then the cut passes every bin, still exact.
    const lowCut = takeThExtreme(groupMin, take, false);
    const highCut = takeThExtreme(groupMax, take, true);
    // One list for both sides: it holds every bin past either cut, so its `take` extremes are the band's.
    let count = 0;
    for (let i = start; i < end; i++) {
      const v = mag(i);
      store<f64>(candidates + ((<usize>count) << 3), v);
      count += i32(v <= lowCut) | i32(v >= highCut);
    }
    selectExtremes(candidates, candidates, count, count, take, peak + rowByte, valley + rowByte);
  }
}

/**
 * The take-th smallest of the CUT_GROUPS values at a (largest: the take-th largest), NaN-free, without
 * branches on the data: the smallest x with at least `take` values <= x (largest: >= x), counted with
 * lane-pair compares. Ties are counted, so this is the take-th of the sorted values.
 */
function takeThExtreme(a: usize, take: i32, largest: bool): f64 {
  const v0 = v128.load(a);
  const v1 = v128.load(a, 16);
  const v2 = v128.load(a, 32);
  const v3 = v128.load(a, 48);
  const v4 = v128.load(a, 64);
  const none = f64x2.splat(largest ? -Infinity : Infinity);
  let best = none;
  for (let i = 0; i < CUT_GROUPS; i++) {
    const x = f64x2.splat(load<f64>(a + ((<usize>i) << 3)));
    // Compare masks are all ones (−1 as i64) where true: their negated sum is the count.
    let counts: v128;
    if (largest) {
      counts = i64x2.add(i64x2.add(f64x2.ge(v0, x), f64x2.ge(v1, x)), i64x2.add(f64x2.ge(v2, x), f64x2.ge(v3, x)));
      counts = i64x2.add(counts, f64x2.ge(v4, x));
    } else {
      counts = i64x2.add(i64x2.add(f64x2.le(v0, x), f64x2.le(v1, x)), i64x2.add(f64x2.le(v2, x), f64x2.le(v3, x)));
      counts = i64x2.add(counts, f64x2.le(v4, x));
    }
    const count = -(i64x2.extract_lane(counts, 0) + i64x2.extract_lane(counts, 1));
    const qualifies = i64x2.splat(-(<i64>(count >= <i64>take)));
    const candidate = v128.bitselect(x, none, qualifies);
    best = largest ? f64x2.pmax(best, candidate) : f64x2.pmin(best, candidate);
  }
  return f64x2.extract_lane(best, 0);
}

/**
 * The mean of the `take` smallest of lows[0 … lowCount) into valley and of the `take` largest of
 * highs[0 … highCount) into peak, each summed in ascending order (both counts >= take). The lowest are
 * looked for from the end down and the highest from the start up (spectra mostly fall with frequency, so
 * most values then fail the test against the current cut).
 */
function selectExtremes(lows: usize, highs: usize, lowCount: i32, highCount: i32, take: i32, peak: usize, valley: usize): void {
  const lowest = lowestPtr;
  const highest = highestPtr;
  for (let filled = 0; filled < take; filled++) {
    insertAscending(lowest, filled, load<f64>(lows + ((<usize>(lowCount - 1 - filled)) << 3)));
    insertAscending(highest, filled, load<f64>(highs + ((<usize>filled) << 3)));
  }
  let lowCut = load<f64>(lowest + ((<usize>(take - 1)) << 3));
  for (let i = lowCount - 1 - take; i >= 0; i--) {
    const v = load<f64>(lows + ((<usize>i) << 3));
    if (v < lowCut) {
      insertAscending(lowest, take - 1, v);
      lowCut = load<f64>(lowest + ((<usize>(take - 1)) << 3));
    }
  }
  let highCut = load<f64>(highest);
  for (let i = take; i < highCount; i++) {
    const h = load<f64>(highs + ((<usize>i) << 3));
    if (h > highCut) {
      let j = 1;
      while (j < take && load<f64>(highest + ((<usize>j) << 3)) < h) {
        store<f64>(highest + ((<usize>(j - 1)) << 3), load<f64>(highest + ((<usize>j) << 3)));
        j++;
      }
      store<f64>(highest + ((<usize>(j - 1)) << 3), h);
      highCut = load<f64>(highest);
    }
  }
  let low: f64 = 0;
  let high: f64 = 0;
  for (let i = 0; i < take; i++) {
    low += load<f64>(lowest + ((<usize>i) << 3));
    high += load<f64>(highest + ((<usize>i) << 3));
  }
  store<f64>(valley, low / <f64>take);
  store<f64>(peak, high / <f64>take);
}

/**
 * Chroma: for `frames` float32 power frames (nBins each from `input`), out[f·nChroma + c] = Σ_k w_c[k]·p[k]
 * summed over the bins in order, then each frame divided by its maximum (below float32 tiny: left as is).
 * weights: row pairs interleaved, (w_2j[k], w_2j+1[k]) as one v128 per bin, pair after pair (an odd last
 * row is paired with zeros). Each lane is one row's sum, so every value is the plain in-order dot product.
 */
export function chromaFrames(input: usize, frames: i32, weights: usize, nChroma: i32, out: usize): void {
  const pairs = (nChroma + 1) >> 1;
  const frameBytes = (<usize>nBins) << 2;
  let f = 0;
  for (; f + 2 <= frames; f += 2) {
    const p0 = input + <usize>f * frameBytes;
    const p1 = p0 + frameBytes;
    let j = 0;
    for (; j + 3 <= pairs; j += 3) chromaPairs3x2(p0, p1, weights, j, nChroma, out + ((<usize>(f * nChroma)) << 3));
    for (; j < pairs; j++) chromaPair1x2(p0, p1, weights, j, nChroma, out + ((<usize>(f * nChroma)) << 3));
  }
  if (f < frames) {
    const p0 = input + <usize>f * frameBytes;
    for (let j = 0; j < pairs; j++) chromaPair1x1(p0, weights, j, nChroma, out + ((<usize>(f * nChroma)) << 3));
  }
  for (let g = 0; g < frames; g++) normaliseByMaximum(out + ((<usize>(g * nChroma)) << 3), nChroma);
}

// @ts-ignore: decorator
@inline
function powerAt(p: usize, k: i32): v128 {
  return f64x2.splat(<f64>load<f32>(p + ((<usize>k) << 2)));
}

// @ts-ignore: decorator
@inline
function storeRows(o: usize, j: i32, nChroma: i32, v: v128): void {
  const row = j << 1;
  store<f64>(o + ((<usize>row) << 3), f64x2.extract_lane(v, 0));
  if (row + 1 < nChroma) store<f64>(o + ((<usize>(row + 1)) << 3), f64x2.extract_lane(v, 1));
}

/** Row pairs j, j+1, j+2 for two frames (six rows × two frames in flight). */
function chromaPairs3x2(p0: usize, p1: usize, weights: usize, j: i32, nChroma: i32, o: usize): void {
  const n = nBins;
  const pairBytes = (<usize>n) << 4;
  const w0 = weights + <usize>j * pairBytes;
  const w1 = w0 + pairBytes;
  const w2 = w1 + pairBytes;
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let a2 = f64x2.splat(0);
  let b0 = f64x2.splat(0);
  let b1 = f64x2.splat(0);
  let b2 = f64x2.splat(0);
  for (let k = 0; k < n; k++) {
    const x = powerAt(p0, k);
    const y = powerAt(p1, k);
    const byte = (<usize>k) << 4;
    let w = v128.load(w0 + byte);
    a0 = f64x2.add(a0, f64x2.mul(w, x));
    b0 = f64x2.add(b0, f64x2.mul(w, y));
    w = v128.load(w1 + byte);
    a1 = f64x2.add(a1, f64x2.mul(w, x));
    b1 = f64x2.add(b1, f64x2.mul(w, y));
    w = v128.load(w2 + byte);
    a2 = f64x2.add(a2, f64x2.mul(w, x));
    b2 = f64x2.add(b2, f64x2.mul(w, y));
  }
  const o1 = o + ((<usize>nChroma) << 3);
  storeRows(o, j, nChroma, a0);
  storeRows(o, j + 1, nChroma, a1);
  storeRows(o, j + 2, nChroma, a2);
  storeRows(o1, j, nChroma, b0);
  storeRows(o1, j + 1, nChroma, b1);
  storeRows(o1, j + 2, nChroma, b2);
}

function chromaPair1x2(p0: usize, p1: usize, weights: usize, j: i32, nChroma: i32, o: usize): void {
  const n = nBins;
  const w0 = weights + ((<usize>j * <usize>n) << 4);
  let a = f64x2.splat(0);
  let b = f64x2.splat(0);
  for (let k = 0; k < n; k++) {
    const w = v128.load(w0 + ((<usize>k) << 4));
    a = f64x2.add(a, f64x2.mul(w, powerAt(p0, k)));
    b = f64x2.add(b, f64x2.mul(w, powerAt(p1, k)));
  }
  storeRows(o, j, nChroma, a);
  storeRows(o + ((<usize>nChroma) << 3), j, nChroma, b);
}

function chromaPair1x1(p0: usize, weights: usize, j: i32, nChroma: i32, o: usize): void {
  const n = nBins;
  const w0 = weights + ((<usize>j * <usize>n) << 4);
  let a = f64x2.splat(0);
  for (let k = 0; k < n; k++) a = f64x2.add(a, f64x2.mul(v128.load(w0 + ((<usize>k) << 4)), powerAt(p0, k)));
  storeRows(o, j, nChroma, a);
}

function normaliseByMaximum(o: usize, n: i32): void {
  let peak: f64 = 0;
  for (let r = 0; r < n; r++) {
    const magnitude = Math.abs(load<f64>(o + ((<usize>r) << 3)));
    if (magnitude > peak) peak = magnitude;
  }
  if (peak < FLOAT32_TINY) return;
  for (let r = 0; r < n; r++) {
    const at = o + ((<usize>r) << 3);
    store<f64>(at, load<f64>(at) / peak);
  }
}
