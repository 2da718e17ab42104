// The whole-clip end of the MFCC chain on float32 matrices the caller copies in (src/audio/mfcc.ts):
// the largest value, power_to_db with the top_db floor in place, and the DCT-II product. Arithmetic is
// float64, in the same order as the JS code per value (the DCT's lanes are two frames, each summing its mel
// bands in order), so only log10 itself may differ: musl's (flooredDb) or a vectorised one (flooredDbFast)
// instead of V8's fdlibm, by a few float64 ulps, which float32 rounding hides except at ties.

/** The largest of n float32 values at ptr, or NaN when any is NaN (n >= 1). */
export function maxF32(ptr: usize, n: i32): f64 {
  let acc = f32x4.splat(-Infinity);
  let i = 0;
  // f32x4.max propagates NaN, as the JS scan reports it.
  for (; i + 4 <= n; i += 4) acc = f32x4.max(acc, v128.load(ptr + ((<usize>i) << 2)));
  let best: f32 = max(max(f32x4.extract_lane(acc, 0), f32x4.extract_lane(acc, 1)), max(f32x4.extract_lane(acc, 2), f32x4.extract_lane(acc, 3)));
  for (; i < n; i++) best = max(best, load<f32>(ptr + ((<usize>i) << 2)));
  return <f64>best;
}

/** In place: p < cut → floor; otherwise max(floor, 10·log10(max(p, amin))), each rounded to float32. */
export function flooredDb(ptr: usize, n: i32, amin: f64, floor: f64, cut: f64): void {
  for (let i = 0; i < n; i++) {
    const at = ptr + ((<usize>i) << 2);
    const p = <f64>load<f32>(at);
    let db = floor;
    if (!(p < cut)) {
      db = 10 * Math.log10(p > amin ? p : amin);
      if (db < floor) db = floor;
    }
    store<f32>(at, <f32>db);
  }
}

/**
 * flooredDb with the logarithm in f64x2 (log10Times10), four values per step, for finite data and a normal
 * amin > 0 (the caller checks both; flooredDb handles the rest). It agrees with Math.log10 to a few float64
 * ulps, so after float32 rounding the results equal flooredDb's except at a rounding tie (one float32 ulp).
 */
export function flooredDbFast(ptr: usize, n: i32, amin: f64, floor: f64, cut: f64): void {
  const aminV = f64x2.splat(amin);
  const floorV = f64x2.splat(floor);
  const cutV = f64x2.splat(cut);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = ptr + ((<usize>i) << 2);
    const x = v128.load(at);
    const lo = f64x2.promote_low_f32x4(x);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1));
    const dbLo = flooredLane(lo, aminV, floorV, cutV);
    const dbHi = flooredLane(hi, aminV, floorV, cutV);
    const low = f32x4.demote_f64x2_zero(dbLo);
    const high = f32x4.demote_f64x2_zero(dbHi);
    v128.store(at, v128.shuffle<f32>(low, high, 0, 1, 4, 5));
  }
  if (i < n) flooredDb(ptr + ((<usize>i) << 2), n - i, amin, floor, cut);
}

// @ts-ignore: decorator
@inline
function flooredLane(p: v128, amin: v128, floor: v128, cut: v128): v128 {
  // pmax(a, b) = a < b ? b : a, one instruction (max's NaN and signed-zero rules are not needed: p is finite).
  const db = f64x2.pmax(log10Times10(f64x2.pmax(amin, p)), floor);
  return v128.bitselect(floor, db, f64x2.lt(p, cut));
}

const SQRT2: f64 = 1.4142135623730951;
// ln 2 split so that e·LN2_HI is exact for |e| < 2^11.
const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const TEN_OVER_LN10: f64 = 4.3429448190325182765;

/**
 * 10·log10(x) per lane for positive normal x: x = m·2^e with m in [√½, √2), ln m = 2·atanh(s) with
 * s = (m − 1)/(m + 1), |s| <= 0.1716, the atanh series to s^19 (truncation below 1e-17 relative).
 */
// @ts-ignore: decorator
@inline
function log10Times10(x: v128): v128 {
  let e = i64x2.sub(i64x2.shr_u(x, 52), i64x2.splat(1023));
  let m = v128.or(v128.and(x, i64x2.splat(0x000fffffffffffff)), i64x2.splat(0x3ff0000000000000));
  const above = f64x2.gt(m, f64x2.splat(SQRT2));
  m = v128.bitselect(f64x2.mul(m, f64x2.splat(0.5)), m, above);
  // above is all ones (−1) in the lanes that were halved: e + 1 there.
  e = i64x2.sub(e, above);
  const exponent = f64x2.convert_low_i32x4_s(v128.shuffle<i32>(e, e, 0, 2, 0, 2));
  const one = f64x2.splat(1.0);
  const s = f64x2.div(f64x2.sub(m, one), f64x2.add(m, one));
  const z = f64x2.mul(s, s);
  let poly = f64x2.splat(1.0 / 19.0);
  poly = f64x2.add(f64x2.mul(poly, z), f64x2.splat(1.0 / 17.0));
  poly = f64x2.add(f64x2.mul(poly, z), f64x2.splat(1.0 / 15.0));
  poly = f64x2.add(f64x2.mul(poly, z), f64x2.splat(1.0 / 13.0));
  poly = f64x2.add(f64x2.mul(poly, z), f64x2.splat(1.0 / 11.0));
  poly = f64x2.add(f64x2.mul(poly, z), f64x2.splat(1.0 / 9.0));
  poly = f64x2.add(f64x2.mul(poly, z), f64x2.splat(1.0 / 7.0));
  poly = f64x2.add(f64x2.mul(poly, z), f64x2.splat(1.0 / 5.0));
  poly = f64x2.add(f64x2.mul(poly, z), f64x2.splat(1.0 / 3.0));
  // ln m = 2s + 2s·z·poly: the small correction added last keeps 2s exact in the sum.
  const twoS = f64x2.add(s, s);
  const logM = f64x2.add(twoS, f64x2.mul(twoS, f64x2.mul(z, poly)));
  const ln = f64x2.add(f64x2.mul(exponent, f64x2.splat(LN2_HI)), f64x2.add(f64x2.mul(exponent, f64x2.splat(LN2_LO)), logM));
  return f64x2.mul(ln, f64x2.splat(TEN_OVER_LN10));
}

/**
 * out (float32, nOut × frames) = basis (float64, nOut × nIn) times each frame's column of data (float32,
 * nIn × frames); both matrices row-major. Four frames and four coefficients per pass over the mel bands.
 */
export function dctColumns(data: usize, nIn: i32, frames: i32, basis: usize, nOut: i32, out: usize): void {
  const rowBytes = (<usize>frames) << 2;
  let t = 0;
  for (; t + 4 <= frames; t += 4) {
    const column = data + ((<usize>t) << 2);
    let k = 0;
    // Four coefficients per pass: each frame column is loaded and widened once for all four.
    for (; k + 4 <= nOut; k += 4) {
      const b0 = basis + ((<usize>(k * nIn)) << 3);
      const b1 = b0 + ((<usize>nIn) << 3);
      const b2 = b1 + ((<usize>nIn) << 3);
      const b3 = b2 + ((<usize>nIn) << 3);
      let a0 = f64x2.splat(0);
      let a1 = f64x2.splat(0);
      let c0 = f64x2.splat(0);
      let c1 = f64x2.splat(0);
      let e0 = f64x2.splat(0);
      let e1 = f64x2.splat(0);
      let g0 = f64x2.splat(0);
      let g1 = f64x2.splat(0);
      let at = column;
      for (let m = 0; m < nIn; m++) {
        const x = v128.load(at);
        const lo = f64x2.promote_low_f32x4(x);
        const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1));
        const mb = (<usize>m) << 3;
        const w0 = v128.load64_splat(b0 + mb);
        const w1 = v128.load64_splat(b1 + mb);
        const w2 = v128.load64_splat(b2 + mb);
        const w3 = v128.load64_splat(b3 + mb);
        a0 = f64x2.add(a0, f64x2.mul(w0, lo));
        a1 = f64x2.add(a1, f64x2.mul(w0, hi));
        c0 = f64x2.add(c0, f64x2.mul(w1, lo));
        c1 = f64x2.add(c1, f64x2.mul(w1, hi));
        e0 = f64x2.add(e0, f64x2.mul(w2, lo));
        e1 = f64x2.add(e1, f64x2.mul(w2, hi));
        g0 = f64x2.add(g0, f64x2.mul(w3, lo));
        g1 = f64x2.add(g1, f64x2.mul(w3, hi));
        at += rowBytes;
      }
      const outAt = out + ((<usize>t) << 2);
      storeFour(outAt + (<usize>k) * rowBytes, a0, a1);
      storeFour(outAt + (<usize>(k + 1)) * rowBytes, c0, c1);
      storeFour(outAt + (<usize>(k + 2)) * rowBytes, e0, e1);
      storeFour(outAt + (<usize>(k + 3)) * rowBytes, g0, g1);
    }
    for (; k < nOut; k++) {
      const b0 = basis + ((<usize>(k * nIn)) << 3);
      let a0 = f64x2.splat(0);
      let a1 = f64x2.splat(0);
      let at = column;
      for (let m = 0; m < nIn; m++) {
        const x = v128.load(at);
        const w0 = f64x2.splat(load<f64>(b0 + ((<usize>m) << 3)));
        a0 = f64x2.add(a0, f64x2.mul(w0, f64x2.promote_low_f32x4(x)));
        a1 = f64x2.add(a1, f64x2.mul(w0, f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1))));
        at += rowBytes;
      }
      storeFour(out + (<usize>k) * rowBytes + ((<usize>t) << 2), a0, a1);
    }
  }
  for (; t < frames; t++) {
    for (let k = 0; k < nOut; k++) {
      const b0 = basis + ((<usize>(k * nIn)) << 3);
      let sum: f64 = 0;
      let at = data + ((<usize>t) << 2);
      for (let m = 0; m < nIn; m++) {
        sum += load<f64>(b0 + ((<usize>m) << 3)) * <f64>load<f32>(at);
        at += rowBytes;
      }
      store<f32>(out + (<usize>k) * rowBytes + ((<usize>t) << 2), <f32>sum);
    }
  }
}

// @ts-ignore: decorator
@inline
function storeFour(at: usize, lo: v128, hi: v128): void {
  store<f32>(at, <f32>f64x2.extract_lane(lo, 0));
  store<f32>(at + 4, <f32>f64x2.extract_lane(lo, 1));
  store<f32>(at + 8, <f32>f64x2.extract_lane(hi, 0));
  store<f32>(at + 12, <f32>f64x2.extract_lane(hi, 1));
}

/**
 * Onset flux sums (src/audio/onset.ts): for t = lag … frames − 1 of a row-major nMels × frames float32
 * matrix, out[t − lag] (f64) = Σ_m max(0, S[m, t] − S[m, t − lag]), the differences taken in float64 and
 * summed over m in order. pmax(0, d) is `0 < d ? d : 0`: a NaN or −0 difference adds +0, as the JS sum skips
 * it. Eight frames (four lane pairs) share each row's cache lines.
 */
export function positiveFluxSums(data: usize, nMels: i32, frames: i32, lag: i32, out: usize): void {
  const zero = f64x2.splat(0);
  const rowBytes = (<usize>frames) << 2;
  const back = (<usize>lag) << 2;
  let t = lag;
  for (; t + 8 <= frames; t += 8) {
    let a0 = zero;
    let a1 = zero;
    let a2 = zero;
    let a3 = zero;
    let at = data + ((<usize>t) << 2);
    for (let m = 0; m < nMels; m++, at += rowBytes) {
      a0 = f64x2.add(a0, f64x2.pmax(zero, f64x2.sub(pairAt(at), pairAt(at - back))));
      a1 = f64x2.add(a1, f64x2.pmax(zero, f64x2.sub(pairAt(at + 8), pairAt(at + 8 - back))));
      a2 = f64x2.add(a2, f64x2.pmax(zero, f64x2.sub(pairAt(at + 16), pairAt(at + 16 - back))));
      a3 = f64x2.add(a3, f64x2.pmax(zero, f64x2.sub(pairAt(at + 24), pairAt(at + 24 - back))));
    }
    const o = out + ((<usize>(t - lag)) << 3);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; t < frames; t++) {
    let sum: f64 = 0;
    let at = data + ((<usize>t) << 2);
    for (let m = 0; m < nMels; m++, at += rowBytes) {
      const diff = <f64>load<f32>(at) - <f64>load<f32>(at - back);
      sum += diff > 0 ? diff : 0;
    }
    store<f64>(out + ((<usize>(t - lag)) << 3), sum);
  }
}

/** Two consecutive float32 values as an f64x2. */
// @ts-ignore: decorator
@inline
function pairAt(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}
