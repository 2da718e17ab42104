// Histogram gradient boosting kernels (src/learners/gbdt/kernel.ts lays out the memory): gradient histograms,
// the split scan, the row partition. A histogram bin is three f64 [sum gradient, sum hessian, count] (24 bytes);
// gradient and hessian are updated together as one f64x2. Every sum adds in the same order as the JS reference
// (test/unit/learners/gbdt-reference.ts), so results are bit for bit the same.

const STRIDE: usize = 24;
/** From this many rows buildHistogram counts rows per bin in a separate i32 array (histogram.ts). */
const SEPARATE_COUNT_ROWS = 1024;

/** The threshold above, for histogram.ts's copy of it to be checked against (test/unit/learners/gbdt.test.ts). */
export function separateCountRows(): i32 {
  return SEPARATE_COUNT_ROWS;
}

/** Zeroes `bytes` bytes at ptr (a multiple of 8). */
function zero(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}

/** Bin index k of a row-major table of u16 (wide = 0) or u32 (wide = 1) global bin indices. */
// @ts-ignore: decorator
@inline
function binAt(binIndex: usize, wide: i32, i: usize): usize {
  return wide ? <usize>load<u32>(binIndex + (i << 2)) : <usize>load<u16>(binIndex + (i << 1));
}

/**
 * Histogram of rows[start, end) (i32 row ids at rows) into `out` (nBins bins): gradients and hessians per row
 * (f64 at grad/hess), counts kept apart as i32 in `counts` (nBins of them) and copied in at the end.
 */
export function buildHistogram(
  out: usize,
  nBins: i32,
  binIndex: usize,
  wide: i32,
  slots: i32,
  rows: usize,
  start: i32,
  end: i32,
  grad: usize,
  hess: usize,
  counts: usize,
): void {
  zero(out, <usize>nBins * STRIDE);
  const s = <usize>slots;
  if (end - start < SEPARATE_COUNT_ROWS) {
    // Few rows: clearing and copying the separate counts would cost more than the float increments save.
    for (let i = start; i < end; i++) {
      const r = <usize>load<i32>(rows + (<usize>i << 2));
      const gh = f64x2.replace_lane(f64x2.splat(load<f64>(grad + (r << 3))), 1, load<f64>(hess + (r << 3)));
      const row = r * s;
      for (let k: usize = 0; k < s; k++) {
        const b = out + binAt(binIndex, wide, row + k) * STRIDE;
        v128.store(b, f64x2.add(v128.load(b), gh));
        store<f64>(b + 16, load<f64>(b + 16) + 1.0);
      }
    }
    return;
  }
  zero(counts, <usize>nBins << 2);
  if (wide) {
    for (let i = start; i < end; i++) {
      const r = <usize>load<i32>(rows + (<usize>i << 2));
      const gh = f64x2.replace_lane(f64x2.splat(load<f64>(grad + (r << 3))), 1, load<f64>(hess + (r << 3)));
      const base = binIndex + ((r * s) << 2);
      for (let k: usize = 0; k < s; k++) {
        const c = <usize>load<u32>(base + (k << 2));
        const b = out + c * STRIDE;
        v128.store(b, f64x2.add(v128.load(b), gh));
        const cp = counts + (c << 2);
        store<i32>(cp, load<i32>(cp) + 1);
      }
    }
  } else {
    for (let i = start; i < end; i++) {
      const r = <usize>load<i32>(rows + (<usize>i << 2));
      const gh = f64x2.replace_lane(f64x2.splat(load<f64>(grad + (r << 3))), 1, load<f64>(hess + (r << 3)));
      const base = binIndex + ((r * s) << 1);
      for (let k: usize = 0; k < s; k++) {
        const c = <usize>load<u16>(base + (k << 1));
        const b = out + c * STRIDE;
        v128.store(b, f64x2.add(v128.load(b), gh));
        const cp = counts + (c << 2);
        store<i32>(cp, load<i32>(cp) + 1);
      }
    }
  }
  for (let b = 0; b < nBins; b++) store<f64>(out + <usize>b * STRIDE + 16, <f64>load<i32>(counts + (<usize>b << 2)));
}

/** buildHistogram of rows 0..nRows-1 in order, with the counts copied from rootCounts (f64 per bin). */
export function buildRootHistogram(out: usize, nBins: i32, binIndex: usize, wide: i32, slots: i32, nRows: i32, grad: usize, hess: usize, rootCounts: usize): void {
  zero(out, <usize>nBins * STRIDE);
  for (let b = 0; b < nBins; b++) store<f64>(out + <usize>b * STRIDE + 16, load<f64>(rootCounts + (<usize>b << 3)));
  const s = <usize>slots;
  for (let r: usize = 0; r < <usize>nRows; r++) {
    const gh = f64x2.replace_lane(f64x2.splat(load<f64>(grad + (r << 3))), 1, load<f64>(hess + (r << 3)));
    const row = r * s;
    for (let k: usize = 0; k < s; k++) {
      const b = out + binAt(binIndex, wide, row + k) * STRIDE;
      v128.store(b, f64x2.add(v128.load(b), gh));
    }
  }
}

/** total + component `part` (0 gradient, 1 hessian) of bins [first, first + count), in bin order. */
export function sumBins(hist: usize, first: i32, count: i32, total: f64, part: i32): f64 {
  let p = hist + <usize>first * STRIDE + (<usize>part << 3);
  for (let b = 0; b < count; b++, p += STRIDE) total += load<f64>(p);
  return total;
}

/** total + values[rows[i]] for i < count, in order. */
export function sumRows(values: usize, rows: usize, count: i32, total: f64): f64 {
  for (let i = 0; i < count; i++) total += load<f64>(values + (<usize>load<i32>(rows + (<usize>i << 2)) << 3));
  return total;
}

/** Reorders rows[start, end) so rows going left (code <= bin; the missing bin per missingLeft) come first. */
export function partitionRows(rows: usize, start: i32, end: i32, codes: usize, bin: i32, missingBin: i32, missingLeft: i32): i32 {
  let i = start;
  let j = end - 1;
  while (i <= j) {
    const pi = rows + (<usize>i << 2);
    const r = load<i32>(pi);
    const code = <i32>load<u8>(codes + <usize>r);
    if (code == missingBin ? missingLeft != 0 : code <= bin) i++;
    else {
      const pj = rows + (<usize>j << 2);
      store<i32>(pi, load<i32>(pj));
      store<i32>(pj, r);
      j--;
    }
  }
  return i;
}

// The best split found so far, at `best`: gain f64 @0, gradLeft @8, hessLeft @16, countLeft @24, slot i32 @32,
// bin i32 @36, missingLeft i32 @40.

// @ts-ignore: decorator
@inline
function record(best: usize, gain: f64, f: i32, b: i32, missingLeft: bool, gl: f64, hl: f64, cl: f64): void {
  store<f64>(best, gain);
  store<f64>(best + 8, gl);
  store<f64>(best + 16, hl);
  store<f64>(best + 24, cl);
  store<i32>(best + 32, f);
  store<i32>(best + 36, b);
  store<i32>(best + 40, missingLeft ? 1 : 0);
}

/** parent − smaller over bins at [from, to) bytes of both; a bin the subtraction empties gets exact zeros. */
function subtractBins(parent: usize, smaller: usize, from: usize, to: usize): void {
  for (let b = from; b < to; b += STRIDE) {
    const count = load<f64>(parent + b + 16) - load<f64>(smaller + b + 16);
    const occupied = count != 0 ? 1.0 : 0.0;
    const gh = f64x2.mul(f64x2.sub(v128.load(parent + b), v128.load(smaller + b)), f64x2.splat(occupied));
    v128.store(parent + b, gh);
    store<f64>(parent + b + 16, count);
  }
}

/**
 * The candidate after adding one more bin: left sums L = [gl, hl] and count cl; right sums are totals − L. Both
 * quotients of the gain in one division, each lane exactly its scalar expression
 * gl²/(hl+λ) + gr²/(hr+λ) − parentScore. Returns 1 to go on, 0 to stop the scan (the right side is too small).
 */
// @ts-ignore: decorator
@inline
function consider(L: v128, cl: f64, b: i32, f: i32, missingCount: f64, totals: v128, count: f64, parentScore: f64, l2s: v128, msl: f64, mcw: f64, best: usize, missingLeftAlways: bool): i32 {
  const hl = f64x2.extract_lane(L, 1);
  if (cl < msl || hl < mcw) return 1;
  const cr = count - cl;
  const R = f64x2.sub(totals, L);
  if (cr < msl || f64x2.extract_lane(R, 1) < mcw) return 0;
  const A = v128.shuffle<f64>(L, R, 0, 2);
  const B = v128.shuffle<f64>(L, R, 1, 3);
  const q = f64x2.div(f64x2.mul(A, A), f64x2.add(B, l2s));
  const gain = f64x2.extract_lane(q, 0) + f64x2.extract_lane(q, 1) - parentScore;
  if (gain > load<f64>(best)) {
    // Without missing values here, a NaN at predict time follows the larger child.
    const missingLeft = missingLeftAlways ? true : missingCount > 0 ? false : cl > cr;
    record(best, gain, f, b, missingLeft, f64x2.extract_lane(L, 0), hl, cl);
  }
  return 1;
}

/** Gain of every candidate bin of one slot with missing values sent right, over bins [0, lastBin]. */
function scanMissingRight(
  hist: usize,
  base: usize,
  lastBin: i32,
  f: i32,
  missingCount: f64,
  totals: v128,
  count: f64,
  parentScore: f64,
  l2s: v128,
  msl: f64,
  mcw: f64,
  best: usize,
): void {
  let L = f64x2.splat(0.0);
  let cl = 0.0;
  let h = hist + base;
  for (let b = 0; b <= lastBin; b++, h += STRIDE) {
    L = f64x2.add(L, v128.load(h));
    cl += load<f64>(h + 16);
    if (!consider(L, cl, b, f, missingCount, totals, count, parentScore, l2s, msl, mcw, best, false)) break;
  }
}

/**
 * scanMissingRight on a parent's bins that become this leaf's (parent − subtract, as subtractBins does) as the
 * scan reaches them. Returns the byte offset (relative to hist) where subtraction stopped.
 */
function scanSubtractingMissingRight(
  hist: usize,
  subtract: usize,
  base: usize,
  lastBin: i32,
  f: i32,
  missingCount: f64,
  totals: v128,
  count: f64,
  parentScore: f64,
  l2s: v128,
  msl: f64,
  mcw: f64,
  best: usize,
): usize {
  let L = f64x2.splat(0.0);
  let cl = 0.0;
  let h = base;
  for (let b = 0; b <= lastBin; b++) {
    const p = hist + h;
    const s = subtract + h;
    const c = load<f64>(p + 16) - load<f64>(s + 16);
    const gh = f64x2.mul(f64x2.sub(v128.load(p), v128.load(s)), f64x2.splat(c != 0 ? 1.0 : 0.0));
    v128.store(p, gh);
    store<f64>(p + 16, c);
    h += STRIDE;
    L = f64x2.add(L, gh);
    cl += c;
    if (!consider(L, cl, b, f, missingCount, totals, count, parentScore, l2s, msl, mcw, best, false)) break;
  }
  return h;
}

/** Missing values left, from the first non-empty bin on (see split.ts). */
function scanMissingLeft(
  hist: usize,
  base: usize,
  nb: i32,
  missing: usize,
  f: i32,
  totals: v128,
  count: f64,
  parentScore: f64,
  l2s: v128,
  msl: f64,
  mcw: f64,
  best: usize,
): void {
  let L = v128.load(hist + missing);
  let cl = load<f64>(hist + missing + 16);
  let first = 0;
  while (first < nb - 1 && load<f64>(hist + base + <usize>first * STRIDE + 16) == 0) first++;
  let h = hist + base + <usize>first * STRIDE;
  for (let b = first; b <= nb - 2; b++, h += STRIDE) {
    L = f64x2.add(L, v128.load(h));
    cl += load<f64>(h + 16);
    if (!consider(L, cl, b, f, 0, totals, count, parentScore, l2s, msl, mcw, best, true)) break;
  }
}

/**
 * split.ts's findBestSplit: slots[0, nSlots) (i32) of the histogram at hist, slot k's bins at offsets[k] with
 * nBins[k] non-missing bins (i32 arrays); with subtract != 0, hist holds the parent and becomes parent − subtract
 * for the scanned slots. The result goes to `best` (layout above).
 */
export function findBestSplit(
  hist: usize,
  subtract: usize,
  offsets: usize,
  nBins: usize,
  slots: usize,
  nSlots: i32,
  sumGrad: f64,
  sumHess: f64,
  count: f64,
  l2: f64,
  msl: f64,
  mcw: f64,
  best: usize,
): void {
  const parentScore = (sumGrad * sumGrad) / (sumHess + l2);
  record(best, 0, -1, 0, false, 0, 0, 0);
  const totals = f64x2.replace_lane(f64x2.splat(sumGrad), 1, sumHess);
  const l2s = f64x2.splat(l2);
  for (let j = 0; j < nSlots; j++) {
    const f = load<i32>(slots + (<usize>j << 2));
    const base = <usize>load<i32>(offsets + (<usize>f << 2)) * STRIDE;
    const nb = load<i32>(nBins + (<usize>f << 2));
    const missing = base + <usize>nb * STRIDE;
    if (subtract) subtractBins(hist, subtract, missing, missing + STRIDE);
    const missingCount = load<f64>(hist + missing + 16);
    const lastBin = missingCount > 0 ? nb - 1 : nb - 2;
    if (subtract) {
      // Bins after an early stop are subtracted just after, so the whole slot is this leaf's.
      const subtractedTo = scanSubtractingMissingRight(hist, subtract, base, lastBin, f, missingCount, totals, count, parentScore, l2s, msl, mcw, best);
      subtractBins(hist, subtract, subtractedTo, missing);
    } else scanMissingRight(hist, base, lastBin, f, missingCount, totals, count, parentScore, l2s, msl, mcw, best);
    if (missingCount > 0) scanMissingLeft(hist, base, nb, missing, f, totals, count, parentScore, l2s, msl, mcw, best);
  }
}
