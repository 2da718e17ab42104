// The STFT front end in float64 SIMD (f64x2): frame → periodic-window multiply → real FFT → |X|² → mel
// filterbank, for many frames per call. The caller (src/audio/spectrum-kernel.ts) lays out every table in
// this module's memory and passes its byte offsets to `configure` once; the kernels then work on those.
//
// FFT: the N real samples are packed as M = N/2 complex points z[n] = x[2n] + i·x[2n+1] (one v128 load
// each), run through an iterative decimation-in-time FFT of size M — a twiddle-free first stage (radix 4,
// or radix 2 when log2 M is odd) that gathers its inputs in bit-reversed order and applies the window as
// it loads them, then radix-4 stages over split re/im arrays, two butterflies per f64x2 — and split into
// the real spectrum's power: with A = Z[k], B = Z[M−k], E = A + conj B, O = −i(A − conj B) and W = e^{−2πi/N},
// |X[k]|² = |E + W^k·O|²/4 and |X[M−k]|² = |E − W^k·O|²/4. Lanes (k, k+1) pair with the mirrored (M−k, M−k−1).

let half: i32 = 0;
let firstRadix: i32 = 4;
let windowPtr: usize = 0;
let sourcesPtr: usize = 0;
let twiddlePtr: usize = 0;
let splitPtr: usize = 0;
let rePtr: usize = 0;
let imPtr: usize = 0;
let nMels: i32 = 0;
let melFirstBinPtr: usize = 0;
let melCountPtr: usize = 0;
let melWeightPtr: usize = 0;

/**
 * m: M = N/2 (a power of two >= 8); radix: 4 (log2 M even) or 2 (odd); window: N f64; sources: the first
 * stage's source point per block (i32, M/radix of them); twiddles: per radix-4 stage of quarter q (q = radix,
 * 4·radix, … < M), six f64 arrays of q: Re w^k, Im w^k, Re w^2k, Im w^2k, Re w^3k, Im w^3k, w = e^{−2πi/4q};
 * split: Re W^k then Im W^k for k <= M/2 (two arrays of M/2 + 1); re/im: M f64 of scratch each.
 */
export function configure(m: i32, radix: i32, window: usize, sources: usize, twiddles: usize, split: usize, re: usize, im: usize): void {
  half = m;
  firstRadix = radix;
  windowPtr = window;
  sourcesPtr = sources;
  twiddlePtr = twiddles;
  splitPtr = split;
  rePtr = re;
  imPtr = im;
}

/** Mel bands as runs: band b has count[b] weights (f64, consecutive at weights) for bins firstBin[b]…; i32 arrays. */
export function configureMel(bands: i32, firstBin: usize, count: usize, weights: usize): void {
  nMels = bands;
  melFirstBinPtr = firstBin;
  melCountPtr = count;
  melWeightPtr = weights;
}

/**
 * For each of `frames` frames, the one starting at input + f·hop samples (f64): its power spectrum
 * (M + 1 f64) at power + f·powerStride bytes, and, when mel is not 0, its mel band energies (f64) at
 * mel + f·melStride bytes.
 */
export function powerFrames(input: usize, frames: i32, hop: i32, power: usize, powerStride: i32, mel: usize, melStride: i32): void {
  for (let f = 0; f < frames; f++) {
    const frame = input + ((<usize>(f * hop)) << 3);
    const out = power + <usize>(f * powerStride);
    if (firstRadix == 4) firstStage4(frame);
    else firstStage2(frame);
    let offset: usize = twiddlePtr;
    for (let q = firstRadix; q < half; q <<= 2) {
      radix4Stage(q, offset);
      offset += (<usize>(6 * q)) << 3;
    }
    splitPower(out);
    if (mel != 0) melBands(out, mel + <usize>(f * melStride));
  }
}

// @ts-ignore: decorator
@inline
function windowed(frame: usize, window: usize, point: i32): v128 {
  const byte = (<usize>point) << 4;
  return f64x2.mul(v128.load(frame + byte), v128.load(window + byte));
}

// @ts-ignore: decorator
@inline
function storeSplit(re: usize, im: usize, j: i32, v: v128): void {
  const byte = (<usize>j) << 3;
  store<f64>(re + byte, f64x2.extract_lane(v, 0));
  store<f64>(im + byte, f64x2.extract_lane(v, 1));
}

/**
 * Radix 4, twiddle-free: block p's positions 4p … 4p+3 hold z[r], z[r + M/2], z[r + M/4], z[r + 3M/4].
 * The four (re, im) results are regrouped into (re, re) and (im, im) pairs for whole-vector stores.
 */
function firstStage4(frame: usize): void {
  const quarter = half >> 2;
  const blocks = half >> 2;
  const window = windowPtr;
  const sources = sourcesPtr;
  const re = rePtr;
  const im = imPtr;
  const flip = f64x2(1.0, -1.0);
  for (let p = 0; p < blocks; p++) {
    const r = load<i32>(sources + ((<usize>p) << 2));
    const a = windowed(frame, window, r);
    const c = windowed(frame, window, r + quarter);
    const b = windowed(frame, window, r + 2 * quarter);
    const d = windowed(frame, window, r + 3 * quarter);
    const s0 = f64x2.add(a, b);
    const d0 = f64x2.sub(a, b);
    const s1 = f64x2.add(c, d);
    const d1 = f64x2.sub(c, d);
    // −i·d1 = (Im d1, −Re d1)
    const t = f64x2.mul(v128.shuffle<f64>(d1, d1, 1, 0), flip);
    const x0 = f64x2.add(s0, s1);
    const x1 = f64x2.add(d0, t);
    const x2 = f64x2.sub(s0, s1);
    const x3 = f64x2.sub(d0, t);
    const byte = (<usize>p) << 5;
    v128.store(re + byte, v128.shuffle<f64>(x0, x1, 0, 2));
    v128.store(im + byte, v128.shuffle<f64>(x0, x1, 1, 3));
    v128.store(re + byte + 16, v128.shuffle<f64>(x2, x3, 0, 2));
    v128.store(im + byte + 16, v128.shuffle<f64>(x2, x3, 1, 3));
  }
}

/** Radix 2, twiddle-free: block p's positions 2p, 2p+1 hold z[r], z[r + M/2]. */
function firstStage2(frame: usize): void {
  const halfM = half >> 1;
  const window = windowPtr;
  const sources = sourcesPtr;
  const re = rePtr;
  const im = imPtr;
  for (let p = 0; p < halfM; p++) {
    const r = load<i32>(sources + ((<usize>p) << 2));
    const a = windowed(frame, window, r);
    const b = windowed(frame, window, r + halfM);
    storeSplit(re, im, p << 1, f64x2.add(a, b));
    storeSplit(re, im, (p << 1) + 1, f64x2.sub(a, b));
  }
}

/**
 * One radix-4 DIT stage in place over re/im: each block of 4q points joins four q-point DFTs stored in
 * bit-reversed sub-order (residues 0, 2, 1, 3 mod 4), so the second gets w^2k, the third w^k, the fourth
 * w^3k. Butterflies k and k+1 share the lanes (q >= 2).
 */
function radix4Stage(q: i32, tw: usize): void {
  const span = q << 2;
  const qBytes = (<usize>q) << 3;
  const n = half;
  const re = rePtr;
  const im = imPtr;
  for (let k = 0; k < q; k += 2) {
    const kb = (<usize>k) << 3;
    const w1r = v128.load(tw + kb);
    const w1i = v128.load(tw + qBytes + kb);
    const w2r = v128.load(tw + 2 * qBytes + kb);
    const w2i = v128.load(tw + 3 * qBytes + kb);
    const w3r = v128.load(tw + 4 * qBytes + kb);
    const w3i = v128.load(tw + 5 * qBytes + kb);
    for (let i0 = k; i0 < n; i0 += span) {
      const p0: usize = (<usize>i0) << 3;
      const p1 = p0 + qBytes;
      const p2 = p1 + qBytes;
      const p3 = p2 + qBytes;
      const ar = v128.load(re + p0);
      const ai = v128.load(im + p0);
      let xr = v128.load(re + p1);
      let xi = v128.load(im + p1);
      const br = f64x2.sub(f64x2.mul(xr, w2r), f64x2.mul(xi, w2i));
      const bi = f64x2.add(f64x2.mul(xr, w2i), f64x2.mul(xi, w2r));
      xr = v128.load(re + p2);
      xi = v128.load(im + p2);
      const cr = f64x2.sub(f64x2.mul(xr, w1r), f64x2.mul(xi, w1i));
      const ci = f64x2.add(f64x2.mul(xr, w1i), f64x2.mul(xi, w1r));
      xr = v128.load(re + p3);
      xi = v128.load(im + p3);
      const dr = f64x2.sub(f64x2.mul(xr, w3r), f64x2.mul(xi, w3i));
      const di = f64x2.add(f64x2.mul(xr, w3i), f64x2.mul(xi, w3r));
      const s0r = f64x2.add(ar, br);
      const s0i = f64x2.add(ai, bi);
      const d0r = f64x2.sub(ar, br);
      const d0i = f64x2.sub(ai, bi);
      const s1r = f64x2.add(cr, dr);
      const s1i = f64x2.add(ci, di);
      const d1r = f64x2.sub(cr, dr);
      const d1i = f64x2.sub(ci, di);
      v128.store(re + p0, f64x2.add(s0r, s1r));
      v128.store(im + p0, f64x2.add(s0i, s1i));
      v128.store(re + p2, f64x2.sub(s0r, s1r));
      v128.store(im + p2, f64x2.sub(s0i, s1i));
      v128.store(re + p1, f64x2.add(d0r, d1i));
      v128.store(im + p1, f64x2.sub(d0i, d1r));
      v128.store(re + p3, f64x2.sub(d0r, d1i));
      v128.store(im + p3, f64x2.add(d0i, d1r));
    }
  }
}

// @ts-ignore: decorator
@inline
function swapLanes(v: v128): v128 {
  return v128.shuffle<f64>(v, v, 1, 0);
}

/** |X[k]|² for k = 0 … M from Z in re/im (see the module comment). */
function splitPower(out: usize): void {
  const re = rePtr;
  const im = imPtr;
  const n = half;
  const z0r = load<f64>(re);
  const z0i = load<f64>(im);
  const dc = z0r + z0i;
  const nyquist = z0r - z0i;
  const middle = half >> 1;
  const quarterScale = f64x2.splat(0.25);
  const splitRe = splitPtr;
  const splitIm = splitRe + ((<usize>(middle + 1)) << 3);
  // k = 1 … M/2 in pairs; the pair holding M/2 (its own mirror) writes that bin twice, with equal values.
  for (let k = 1; k < middle; k += 2) {
    const kb = (<usize>k) << 3;
    const mb = (<usize>(n - k - 1)) << 3;
    const ar = v128.load(re + kb);
    const ai = v128.load(im + kb);
    const br = swapLanes(v128.load(re + mb));
    const bi = swapLanes(v128.load(im + mb));
    const er = f64x2.add(ar, br);
    const ei = f64x2.sub(ai, bi);
    const or = f64x2.add(ai, bi);
    const oi = f64x2.sub(br, ar);
    const wr = v128.load(splitRe + kb);
    const wi = v128.load(splitIm + kb);
    const tr = f64x2.sub(f64x2.mul(wr, or), f64x2.mul(wi, oi));
    const ti = f64x2.add(f64x2.mul(wr, oi), f64x2.mul(wi, or));
    const xr = f64x2.add(er, tr);
    const xi = f64x2.add(ei, ti);
    const yr = f64x2.sub(er, tr);
    const yi = f64x2.sub(ei, ti);
    v128.store(out + kb, f64x2.mul(f64x2.add(f64x2.mul(xr, xr), f64x2.mul(xi, xi)), quarterScale));
    v128.store(out + mb, swapLanes(f64x2.mul(f64x2.add(f64x2.mul(yr, yr), f64x2.mul(yi, yi)), quarterScale)));
  }
  store<f64>(out, dc * dc);
  store<f64>(out + ((<usize>half) << 3), nyquist * nyquist);
}

/** mel[b] = Σ weights · power over band b's run of bins, two bins per lane pair. */
function melBands(power: usize, mel: usize): void {
  let w = melWeightPtr;
  const bands = nMels;
  const firstBins = melFirstBinPtr;
  const counts = melCountPtr;
  for (let b = 0; b < bands; b++) {
    const first = load<i32>(firstBins + ((<usize>b) << 2));
    const count = load<i32>(counts + ((<usize>b) << 2));
    let p = power + ((<usize>first) << 3);
    let acc = f64x2.splat(0);
    let i = 0;
    for (; i + 2 <= count; i += 2) {
      acc = f64x2.add(acc, f64x2.mul(v128.load(w), v128.load(p)));
      w += 16;
      p += 16;
    }
    let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
    if (i < count) {
      sum += load<f64>(w) * load<f64>(p);
      w += 8;
    }
    store<f64>(mel + ((<usize>b) << 3), sum);
  }
}

/**
 * The tempogram's sum (src/audio/tempo.ts): for each of `frames` power spectra (M + 1 f64 at
 * power + f·powerStride bytes), r(0) = (P[0] + 2·Σ_{0<k<M} P[k] + P[M]) / 2M, the frame's autocorrelation
 * at lag 0 and so its maximum; then sum[k] += P[k] / r(0), or P[k] as it is when r(0) < tiny.
 */
export function addNormalisedPower(power: usize, frames: i32, powerStride: i32, sum: usize, tiny: f64): void {
  const n = half;
  for (let f = 0; f < frames; f++) {
    const p = power + <usize>(f * powerStride);
    // Bins 1 … M − 1 in lane pairs from bin 1 (M − 1 is odd: the last one alone).
    let acc = f64x2.splat(0);
    let k = 1;
    for (; k + 2 <= n; k += 2) acc = f64x2.add(acc, v128.load(p + ((<usize>k) << 3)));
    let inner = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
    for (; k < n; k++) inner += load<f64>(p + ((<usize>k) << 3));
    const peak = (load<f64>(p) + 2 * inner + load<f64>(p + ((<usize>n) << 3))) / <f64>(2 * n);
    const scale = f64x2.splat(peak < tiny ? 1.0 : 1.0 / peak);
    // Bins 0 … M − 1 in pairs, then bin M.
    for (k = 0; k < n; k += 2) {
      const at = (<usize>k) << 3;
      v128.store(sum + at, f64x2.add(v128.load(sum + at), f64x2.mul(v128.load(p + at), scale)));
    }
    const last = (<usize>n) << 3;
    store<f64>(sum + last, load<f64>(sum + last) + load<f64>(p + last) * (peak < tiny ? 1.0 : 1.0 / peak));
  }
}
