// Linear-algebra kernels for the learners (kNN search; SVM Gram matrix, solver scans and prediction; logistic regression;
// Gaussian naive Bayes). Every pointer is a byte offset into this module's memory, laid out by the TypeScript caller;
// f64 arrays are 16-byte aligned.

// ---------------------------------------------------------------------------------------------------------
// kNN (Euclidean): one block of four queries against every training row. See kNearestEuclidean in
// src/learners/knn.ts for the screening argument; the lanes of each vector hold two queries, so every dot
// product is still summed over j in order (the same screen value as the scalar code, bit for bit).

/**
 * Exact squared distance of query `r` of the block to training row `t`, and kNearest's insertion into the
 * query's sorted list (ties keep the earlier row).
 */
@inline
function insertIfNearer(train: usize, queries: usize, d: i32, k: i32, neighbours: usize, distances: usize, filled: usize, worst: usize, r: i32, t: i32): void {
  const rowPtr = train + ((<usize>t * <usize>d) << 3);
  const queryPtr = queries + ((<usize>r * <usize>d) << 3);
  let dist: f64 = 0;
  for (let j = 0; j < d; j++) {
    const diff = load<f64>(rowPtr + (<usize>j << 3)) - load<f64>(queryPtr + (<usize>j << 3));
    dist += diff * diff;
  }
  const worstPtr = worst + (<usize>r << 3);
  if (dist >= load<f64>(worstPtr)) return;
  const listD = distances + ((<usize>r * <usize>k) << 3);
  const listN = neighbours + ((<usize>r * <usize>k) << 2);
  const filledPtr = filled + (<usize>r << 2);
  let count = load<i32>(filledPtr);
  let pos: i32;
  if (count < k) {
    pos = count;
    count++;
    store<i32>(filledPtr, count);
  } else {
    pos = k - 1;
  }
  while (pos > 0 && load<f64>(listD + (<usize>(pos - 1) << 3)) > dist) {
    store<f64>(listD + (<usize>pos << 3), load<f64>(listD + (<usize>(pos - 1) << 3)));
    store<i32>(listN + (<usize>pos << 2), load<i32>(listN + (<usize>(pos - 1) << 2)));
    pos--;
  }
  store<f64>(listD + (<usize>pos << 3), dist);
  store<i32>(listN + (<usize>pos << 2), t);
  if (count == k) store<f64>(worstPtr, load<f64>(listD + (<usize>(k - 1) << 3)));
}

/** 1 when every lane of the 4 × 4 block's screen (lo: queries 0, 1; hi: queries 2, 3) is at or above worst. */
@inline
function allFar(lo: v128, hi: v128, w01: v128, w23: v128): v128 {
  return v128.and(f64x2.ge(lo, w01), f64x2.ge(hi, w23));
}

/**
 * The k nearest training rows of four queries.
 * train: nTrain × d row-major; trainKept[t] = keep·‖t‖² − slack; trainTails2: nTrain × nPauses, 2‖t_rest‖;
 * pauses: nPauses i32 feature indices; interleaved: for each j, the four queries' x_j; queries: the same four
 * rows row-major; info: keep·‖q‖² for the four queries, then per pause their ‖q_rest‖; neighbours (i32) and
 * distances: 4 × k, filled (i32) and worst: 4 each, carried between calls; scratch: 16 f64.
 */
export function knnBlock(
  train: usize,
  trainKept: usize,
  trainTails2: usize,
  nTrain: i32,
  d: i32,
  pauses: usize,
  nPauses: i32,
  interleaved: usize,
  queries: usize,
  info: usize,
  k: i32,
  neighbours: usize,
  distances: usize,
  filled: usize,
  worst: usize,
  scratch: usize,
): void {
  const two = f64x2.splat(2);
  const n01 = v128.load(info);
  const n23 = v128.load(info, 16);
  const stride = <usize>d << 3;
  const nBlocks = nTrain & ~3;
  for (let t = 0; t < nBlocks; t += 4) {
    const rowA = train + <usize>t * stride;
    const rowB = rowA + stride;
    const rowC = rowB + stride;
    const rowE = rowC + stride;
    const taA = v128.load64_splat(trainKept + (<usize>t << 3));
    const taB = v128.load64_splat(trainKept + (<usize>t << 3), 8);
    const taC = v128.load64_splat(trainKept + (<usize>t << 3), 16);
    const taE = v128.load64_splat(trainKept + (<usize>t << 3), 24);
    const w01 = v128.load(worst);
    const w23 = v128.load(worst, 16);
    let loA = f64x2.splat(0);
    let hiA = f64x2.splat(0);
    let loB = f64x2.splat(0);
    let hiB = f64x2.splat(0);
    let loC = f64x2.splat(0);
    let hiC = f64x2.splat(0);
    let loE = f64x2.splat(0);
    let hiE = f64x2.splat(0);
    let j = 0;
    let dropped = false;
    for (let p = 0; p <= nPauses; p++) {
      const end = p < nPauses ? load<i32>(pauses + (<usize>p << 2)) : d;
      for (; j < end; j++) {
        const qPtr = interleaved + (<usize>j << 5);
        const q01 = v128.load(qPtr);
        const q23 = v128.load(qPtr, 16);
        const offset = <usize>j << 3;
        const a = v128.load64_splat(rowA + offset);
        loA = f64x2.add(loA, f64x2.mul(a, q01));
        hiA = f64x2.add(hiA, f64x2.mul(a, q23));
        const b = v128.load64_splat(rowB + offset);
        loB = f64x2.add(loB, f64x2.mul(b, q01));
        hiB = f64x2.add(hiB, f64x2.mul(b, q23));
        const c = v128.load64_splat(rowC + offset);
        loC = f64x2.add(loC, f64x2.mul(c, q01));
        hiC = f64x2.add(hiC, f64x2.mul(c, q23));
        const e = v128.load64_splat(rowE + offset);
        loE = f64x2.add(loE, f64x2.mul(e, q01));
        hiE = f64x2.add(hiE, f64x2.mul(e, q23));
      }
      if (p == nPauses) break;
      // (keep‖q‖² + keep‖t‖² − slack − 2q·t) − 2‖t_rest‖‖q_rest‖, as the scalar screen orders it.
      const r01 = v128.load(info + 32 + (<usize>p << 5));
      const r23 = v128.load(info + 32 + (<usize>p << 5), 16);
      const tails = trainTails2 + ((<usize>t * <usize>nPauses + <usize>p) << 3);
      const tailStride = <usize>nPauses << 3;
      const raA = v128.load64_splat(tails);
      const raB = v128.load64_splat(tails + tailStride);
      const raC = v128.load64_splat(tails + 2 * tailStride);
      const raE = v128.load64_splat(tails + 3 * tailStride);
      let far = allFar(
        f64x2.sub(f64x2.sub(f64x2.add(n01, taA), f64x2.mul(two, loA)), f64x2.mul(raA, r01)),
        f64x2.sub(f64x2.sub(f64x2.add(n23, taA), f64x2.mul(two, hiA)), f64x2.mul(raA, r23)),
        w01,
        w23,
      );
      far = v128.and(far, allFar(
        f64x2.sub(f64x2.sub(f64x2.add(n01, taB), f64x2.mul(two, loB)), f64x2.mul(raB, r01)),
        f64x2.sub(f64x2.sub(f64x2.add(n23, taB), f64x2.mul(two, hiB)), f64x2.mul(raB, r23)),
        w01,
        w23,
      ));
      far = v128.and(far, allFar(
        f64x2.sub(f64x2.sub(f64x2.add(n01, taC), f64x2.mul(two, loC)), f64x2.mul(raC, r01)),
        f64x2.sub(f64x2.sub(f64x2.add(n23, taC), f64x2.mul(two, hiC)), f64x2.mul(raC, r23)),
        w01,
        w23,
      ));
      far = v128.and(far, allFar(
        f64x2.sub(f64x2.sub(f64x2.add(n01, taE), f64x2.mul(two, loE)), f64x2.mul(raE, r01)),
        f64x2.sub(f64x2.sub(f64x2.add(n23, taE), f64x2.mul(two, hiE)), f64x2.mul(raE, r23)),
        w01,
        w23,
      ));
      if (i64x2.all_true(far)) {
        dropped = true;
        break;
      }
    }
    if (dropped) continue;
    // Final screen, keep‖q‖² + (keep‖t‖² − slack) − 2q·t, per lane.
    const sA01 = f64x2.sub(f64x2.add(n01, taA), f64x2.mul(two, loA));
    const sA23 = f64x2.sub(f64x2.add(n23, taA), f64x2.mul(two, hiA));
    const sB01 = f64x2.sub(f64x2.add(n01, taB), f64x2.mul(two, loB));
    const sB23 = f64x2.sub(f64x2.add(n23, taB), f64x2.mul(two, hiB));
    const sC01 = f64x2.sub(f64x2.add(n01, taC), f64x2.mul(two, loC));
    const sC23 = f64x2.sub(f64x2.add(n23, taC), f64x2.mul(two, hiC));
    const sE01 = f64x2.sub(f64x2.add(n01, taE), f64x2.mul(two, loE));
    const sE23 = f64x2.sub(f64x2.add(n23, taE), f64x2.mul(two, hiE));
    let far = v128.and(allFar(sA01, sA23, w01, w23), allFar(sB01, sB23, w01, w23));
    far = v128.and(far, v128.and(allFar(sC01, sC23, w01, w23), allFar(sE01, sE23, w01, w23)));
    if (i64x2.all_true(far)) continue;
    // scratch[4m + r]: the screen of training row t+m against query r.
    v128.store(scratch, sA01);
    v128.store(scratch, sA23, 16);
    v128.store(scratch, sB01, 32);
    v128.store(scratch, sB23, 48);
    v128.store(scratch, sC01, 64);
    v128.store(scratch, sC23, 80);
    v128.store(scratch, sE01, 96);
    v128.store(scratch, sE23, 112);
    for (let r = 0; r < 4; r++) {
      for (let m = 0; m < 4; m++) {
        const screened = load<f64>(scratch + (<usize>(4 * m + r) << 3));
        // Compared against the current worst (an insertion may just have lowered it); NaN takes the exact path.
        if (!(screened >= load<f64>(worst + (<usize>r << 3)))) insertIfNearer(train, queries, d, k, neighbours, distances, filled, worst, r, t + m);
      }
    }
  }
  // The last nTrain mod 4 rows, exactly.
  for (let r = 0; r < 4; r++) {
    for (let t = nBlocks; t < nTrain; t++) insertIfNearer(train, queries, d, k, neighbours, distances, filled, worst, r, t);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Gram matrix X·Xᵀ (SVM kernel values): G[a][b] = Σ_j x_a[j]·x_b[j], summed over j in order in every lane, so
// each entry is bit for bit the scalar dot product, and G[a][b] = G[b][a].

/**
 * Rows a0..a0+3 of G against columns b ≥ a0 in blocks of four, mirrored into the lower triangle.
 * x: n4 × d row-major (rows past n are zeros); xt: d × n4 (the transpose); g: n4 × n4.
 */
export function gramBlockRow(x: usize, xt: usize, n4: i32, d: i32, a0: i32, g: usize): void {
  const stride = <usize>d << 3;
  const rowA = x + <usize>a0 * stride;
  const rowB = rowA + stride;
  const rowC = rowB + stride;
  const rowE = rowC + stride;
  const columnStride = <usize>n4 << 3;
  for (let b0 = a0; b0 < n4; b0 += 4) {
    let a01 = f64x2.splat(0);
    let a23 = f64x2.splat(0);
    let b01 = f64x2.splat(0);
    let b23 = f64x2.splat(0);
    let c01 = f64x2.splat(0);
    let c23 = f64x2.splat(0);
    let e01 = f64x2.splat(0);
    let e23 = f64x2.splat(0);
    let column = xt + (<usize>b0 << 3);
    for (let j = 0; j < d; j++) {
      const v01 = v128.load(column);
      const v23 = v128.load(column, 16);
      const offset = <usize>j << 3;
      const a = v128.load64_splat(rowA + offset);
      a01 = f64x2.add(a01, f64x2.mul(a, v01));
      a23 = f64x2.add(a23, f64x2.mul(a, v23));
      const b = v128.load64_splat(rowB + offset);
      b01 = f64x2.add(b01, f64x2.mul(b, v01));
      b23 = f64x2.add(b23, f64x2.mul(b, v23));
      const c = v128.load64_splat(rowC + offset);
      c01 = f64x2.add(c01, f64x2.mul(c, v01));
      c23 = f64x2.add(c23, f64x2.mul(c, v23));
      const e = v128.load64_splat(rowE + offset);
      e01 = f64x2.add(e01, f64x2.mul(e, v01));
      e23 = f64x2.add(e23, f64x2.mul(e, v23));
      column += columnStride;
    }
    const out = g + ((<usize>a0 * <usize>n4 + <usize>b0) << 3);
    v128.store(out, a01);
    v128.store(out, a23, 16);
    v128.store(out + columnStride, b01);
    v128.store(out + columnStride, b23, 16);
    v128.store(out + 2 * columnStride, c01);
    v128.store(out + 2 * columnStride, c23, 16);
    v128.store(out + 3 * columnStride, e01);
    v128.store(out + 3 * columnStride, e23, 16);
    if (b0 == a0) continue;
    // Mirror: G[b0+c][a0+r] = G[a0+r][b0+c].
    const mirror = g + ((<usize>b0 * <usize>n4 + <usize>a0) << 3);
    storeColumn(mirror, columnStride, a01, a23, 0);
    storeColumn(mirror, columnStride, b01, b23, 8);
    storeColumn(mirror, columnStride, c01, c23, 16);
    storeColumn(mirror, columnStride, e01, e23, 24);
  }
}

/** Writes the four lanes of (lo, hi) down a column: rows 0..3 of `base`, `offset` bytes in. */
@inline
function storeColumn(base: usize, rowStride: usize, lo: v128, hi: v128, offset: usize): void {
  store<f64>(base + offset, f64x2.extract_lane(lo, 0));
  store<f64>(base + rowStride + offset, f64x2.extract_lane(lo, 1));
  store<f64>(base + 2 * rowStride + offset, f64x2.extract_lane(hi, 0));
  store<f64>(base + 3 * rowStride + offset, f64x2.extract_lane(hi, 1));
}

// ---------------------------------------------------------------------------------------------------------
// Logistic regression: logits X·Wᵀ and gradient Fᵀ·[X, 1], bit for bit the scalar loops of src/learners/linear.ts.

/**
 * z[s·rows + r] = w[r·stride + d] + w_r · x_s for the `count` samples whose row addresses are at rowPtrs (i32).
 * The dot product is linear.ts's four-way sum: accumulators over j ≡ 0, 1, 2, 3 (mod 4) held as two lane pairs,
 * the last d mod 4 products added to the first, then ((s0 + s1) + s2) + s3.
 */
export function logisticLogits(rowPtrs: usize, count: i32, d: i32, w: usize, rows: i32, stride: i32, z: usize): void {
  const d4 = d & ~3;
  for (let s = 0; s < count; s++) {
    const x = <usize>load<i32>(rowPtrs + (<usize>s << 2));
    const out = z + ((<usize>s * <usize>rows) << 3);
    for (let r = 0; r < rows; r++) {
      const wr = w + ((<usize>r * <usize>stride) << 3);
      let lo = f64x2.splat(0);
      let hi = f64x2.splat(0);
      for (let j = 0; j < d4; j += 4) {
        const offset = <usize>j << 3;
        lo = f64x2.add(lo, f64x2.mul(v128.load(wr + offset), v128.load(x + offset)));
        hi = f64x2.add(hi, f64x2.mul(v128.load(wr + offset, 16), v128.load(x + offset, 16)));
      }
      let s0 = f64x2.extract_lane(lo, 0);
      for (let j = d4; j < d; j++) s0 += load<f64>(wr + (<usize>j << 3)) * load<f64>(x + (<usize>j << 3));
      const dot = s0 + f64x2.extract_lane(lo, 1) + f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1);
      store<f64>(out + (<usize>r << 3), load<f64>(wr + (<usize>d << 3)) + dot);
    }
  }
}

/**
 * grad[r·stride + j] = Σ_s f[s·rows + r]·x_s[j] and grad[r·stride + d] = Σ_s f[s·rows + r], every entry adding
 * the samples in order from 0 (each SIMD lane is one entry's own running sum).
 */
export function logisticGradient(rowPtrs: usize, count: i32, d: i32, f: usize, rows: i32, stride: i32, grad: usize): void {
  const d8 = d & ~7;
  const fStride = <usize>rows << 3;
  for (let r = 0; r < rows; r++) {
    const g = grad + ((<usize>r * <usize>stride) << 3);
    const fr = f + (<usize>r << 3);
    for (let j = 0; j < d8; j += 8) {
      const offset = <usize>j << 3;
      let a = f64x2.splat(0);
      let b = f64x2.splat(0);
      let c = f64x2.splat(0);
      let e = f64x2.splat(0);
      for (let s = 0; s < count; s++) {
        const x = <usize>load<i32>(rowPtrs + (<usize>s << 2)) + offset;
        const factor = v128.load64_splat(fr + <usize>s * fStride);
        a = f64x2.add(a, f64x2.mul(factor, v128.load(x)));
        b = f64x2.add(b, f64x2.mul(factor, v128.load(x, 16)));
        c = f64x2.add(c, f64x2.mul(factor, v128.load(x, 32)));
        e = f64x2.add(e, f64x2.mul(factor, v128.load(x, 48)));
      }
      v128.store(g + offset, a);
      v128.store(g + offset, b, 16);
      v128.store(g + offset, c, 32);
      v128.store(g + offset, e, 48);
    }
    for (let j = d8; j < d; j += 2) {
      const offset = <usize>j << 3;
      if (j + 1 < d) {
        let a = f64x2.splat(0);
        for (let s = 0; s < count; s++) {
          const x = <usize>load<i32>(rowPtrs + (<usize>s << 2)) + offset;
          a = f64x2.add(a, f64x2.mul(v128.load64_splat(fr + <usize>s * fStride), v128.load(x)));
        }
        v128.store(g + offset, a);
      } else {
        let a: f64 = 0;
        for (let s = 0; s < count; s++) {
          const x = <usize>load<i32>(rowPtrs + (<usize>s << 2)) + offset;
          a += load<f64>(fr + <usize>s * fStride) * load<f64>(x);
        }
        store<f64>(g + offset, a);
      }
    }
    let bias: f64 = 0;
    for (let s = 0; s < count; s++) bias += load<f64>(fr + <usize>s * fStride);
    store<f64>(g + (<usize>d << 3), bias);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Gaussian naive Bayes (src/learners/naive-bayes.ts): class statistics and joint log-likelihoods. Every sum adds
// the rows (fit) or the features (predict) in order, each SIMD lane being one entry's own sum, so the values are
// bit for bit the scalar loops'.

/**
 * Rows [from, to) of x (d columns): totals[c] += w_i, means[c·d + j] += w_i·x_ij and columnSums[j] += x_ij,
 * c = labels[i] (class indices as f64).
 */
export function nbSums(x: usize, d: i32, from: i32, to: i32, labels: usize, weights: usize, totals: usize, means: usize, columnSums: usize): void {
  const d2 = d & ~1;
  for (let i = from; i < to; i++) {
    const c = <usize><i32>load<f64>(labels + (<usize>i << 3));
    const w = load<f64>(weights + (<usize>i << 3));
    store<f64>(totals + (c << 3), load<f64>(totals + (c << 3)) + w);
    const row = x + ((<usize>i * <usize>d) << 3);
    const mean = means + ((c * <usize>d) << 3);
    const w2 = f64x2.splat(w);
    for (let j = 0; j < d2; j += 2) {
      const offset = <usize>j << 3;
      const v = v128.load(row + offset);
      v128.store(mean + offset, f64x2.add(v128.load(mean + offset), f64x2.mul(w2, v)));
      v128.store(columnSums + offset, f64x2.add(v128.load(columnSums + offset), v));
    }
    if (d2 < d) {
      const offset = <usize>d2 << 3;
      const v = load<f64>(row + offset);
      store<f64>(mean + offset, load<f64>(mean + offset) + w * v);
      store<f64>(columnSums + offset, load<f64>(columnSums + offset) + v);
    }
  }
}

/**
 * Rows [from, to): variances[c·d + j] += (w_i·δ)·δ with δ = x_ij − means[c·d + j], and
 * columnVariances[j] += (x_ij − columnMeans[j])².
 */
export function nbSquares(
  x: usize,
  d: i32,
  from: i32,
  to: i32,
  labels: usize,
  weights: usize,
  means: usize,
  columnMeans: usize,
  variances: usize,
  columnVariances: usize,
): void {
  const d2 = d & ~1;
  for (let i = from; i < to; i++) {
    const c = <usize><i32>load<f64>(labels + (<usize>i << 3));
    const w = load<f64>(weights + (<usize>i << 3));
    const row = x + ((<usize>i * <usize>d) << 3);
    const mean = means + ((c * <usize>d) << 3);
    const variance = variances + ((c * <usize>d) << 3);
    const w2 = f64x2.splat(w);
    for (let j = 0; j < d2; j += 2) {
      const offset = <usize>j << 3;
      const v = v128.load(row + offset);
      const diff = f64x2.sub(v, v128.load(mean + offset));
      v128.store(variance + offset, f64x2.add(v128.load(variance + offset), f64x2.mul(f64x2.mul(w2, diff), diff)));
      const columnDiff = f64x2.sub(v, v128.load(columnMeans + offset));
      v128.store(columnVariances + offset, f64x2.add(v128.load(columnVariances + offset), f64x2.mul(columnDiff, columnDiff)));
    }
    if (d2 < d) {
      const offset = <usize>d2 << 3;
      const v = load<f64>(row + offset);
      const diff = v - load<f64>(mean + offset);
      store<f64>(variance + offset, load<f64>(variance + offset) + w * diff * diff);
      const columnDiff = v - load<f64>(columnMeans + offset);
      store<f64>(columnVariances + offset, load<f64>(columnVariances + offset) + columnDiff * columnDiff);
    }
  }
}

/**
 * Joint log-likelihoods of rows [from, to) of x (d columns): out[i·k + c] = constants[c] − ½ Σ_j ((x_ij − μ_cj)²)/σ²_cj,
 * summed over j in order (−∞ stays −∞: an absent class). meansT and inverseVariancesT are d × k2 (transposed, k2 = k
 * rounded up to even, padding zeros), so the lanes of a vector are two classes.
 */
export function nbJointLogLikelihood(x: usize, d: i32, from: i32, to: i32, meansT: usize, inverseVariancesT: usize, k: i32, constants: usize, out: usize): void {
  const k2 = (k + 1) & ~1;
  const columnStride = <usize>k2 << 3;
  for (let i = from; i < to; i++) {
    const row = x + ((<usize>i * <usize>d) << 3);
    const outRow = out + ((<usize>i * <usize>k) << 3);
    for (let c = 0; c < k; c += 2) {
      let quad = f64x2.splat(0);
      let mean = meansT + (<usize>c << 3);
      let inverse = inverseVariancesT + (<usize>c << 3);
      for (let j = 0; j < d; j++) {
        const diff = f64x2.sub(v128.load64_splat(row + (<usize>j << 3)), v128.load(mean));
        quad = f64x2.add(quad, f64x2.mul(f64x2.mul(diff, diff), v128.load(inverse)));
        mean += columnStride;
        inverse += columnStride;
      }
      const c0 = load<f64>(constants + (<usize>c << 3));
      store<f64>(outRow + (<usize>c << 3), c0 == -Infinity ? c0 : c0 - 0.5 * f64x2.extract_lane(quad, 0));
      if (c + 1 < k) {
        const c1 = load<f64>(constants + (<usize>(c + 1) << 3));
        store<f64>(outRow + (<usize>(c + 1) << 3), c1 == -Infinity ? c1 : c1 - 0.5 * f64x2.extract_lane(quad, 1));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// SVM prediction (src/learners/svm/kernel.ts, RbfRows): squared distances of query rows to the support vectors,
// each Σ_j (x_j − sv_j)² summed over j in order in its own lane, bit for bit the scalar sum.

/**
 * out[q·nSv8 + s] = Σ_j (queries[q·d + j] − svT[j·nSv8 + s])² for q < nQueries (even) and s < nSv8 (a multiple
 * of 8; svT is the d × nSv8 transpose of the support vectors, zero-padded).
 */
export function rbfSquaredDistances(queries: usize, nQueries: i32, d: i32, svT: usize, nSv8: i32, out: usize): void {
  const svStride = <usize>nSv8 << 3;
  const rowStride = <usize>d << 3;
  for (let q = 0; q < nQueries; q += 2) {
    const rowA = queries + <usize>q * rowStride;
    const rowB = rowA + rowStride;
    const outA = out + <usize>q * svStride;
    const outB = outA + svStride;
    for (let s = 0; s < nSv8; s += 8) {
      let a0 = f64x2.splat(0);
      let a1 = f64x2.splat(0);
      let a2 = f64x2.splat(0);
      let a3 = f64x2.splat(0);
      let b0 = f64x2.splat(0);
      let b1 = f64x2.splat(0);
      let b2 = f64x2.splat(0);
      let b3 = f64x2.splat(0);
      let column = svT + (<usize>s << 3);
      for (let j = 0; j < d; j++) {
        const offset = <usize>j << 3;
        const xa = v128.load64_splat(rowA + offset);
        const xb = v128.load64_splat(rowB + offset);
        const v0 = v128.load(column);
        const v1 = v128.load(column, 16);
        const v2 = v128.load(column, 32);
        const v3 = v128.load(column, 48);
        let diff = f64x2.sub(xa, v0);
        a0 = f64x2.add(a0, f64x2.mul(diff, diff));
        diff = f64x2.sub(xa, v1);
        a1 = f64x2.add(a1, f64x2.mul(diff, diff));
        diff = f64x2.sub(xa, v2);
        a2 = f64x2.add(a2, f64x2.mul(diff, diff));
        diff = f64x2.sub(xa, v3);
        a3 = f64x2.add(a3, f64x2.mul(diff, diff));
        diff = f64x2.sub(xb, v0);
        b0 = f64x2.add(b0, f64x2.mul(diff, diff));
        diff = f64x2.sub(xb, v1);
        b1 = f64x2.add(b1, f64x2.mul(diff, diff));
        diff = f64x2.sub(xb, v2);
        b2 = f64x2.add(b2, f64x2.mul(diff, diff));
        diff = f64x2.sub(xb, v3);
        b3 = f64x2.add(b3, f64x2.mul(diff, diff));
        column += svStride;
      }
      const at = <usize>s << 3;
      v128.store(outA + at, a0);
      v128.store(outA + at, a1, 16);
      v128.store(outA + at, a2, 32);
      v128.store(outA + at, a3, 48);
      v128.store(outB + at, b0);
      v128.store(outB + at, b1, 16);
      v128.store(outB + at, b2, 32);
      v128.store(outB + at, b3, 48);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// SMO solver loops (src/learners/svm/smo.ts): the working-set selection scans and the gradient update, the same
// operations in the same order as the TypeScript they replace. Masks are 0 or NaN (NaN fails every comparison).

/** max over t < activeSize of upMask[t] − ySign[t]·G[t] (the last index among equals): value at out, index at out + 8 (−1: none). */
export function smoMaxViolation(g: usize, ySign: usize, upMask: usize, activeSize: i32, out: usize): void {
  let gMax = -Infinity;
  let gMaxIndex = -1;
  for (let t = 0; t < activeSize; t++) {
    const at = <usize>t << 3;
    const value = load<f64>(upMask + at) - load<f64>(ySign + at) * load<f64>(g + at);
    if (value >= gMax) {
      gMax = value;
      gMaxIndex = t;
    }
  }
  store<f64>(out, gMax);
  store<f64>(out, <f64>gMaxIndex, 8);
}

/**
 * WSS3's second index for i (row qi of Q): gMax2 = max lowMask[j] + y_j·G[j] at out + 16, and the j minimising
 * −b²/a among violating j (the last among equals) at out + 24 (−1: none).
 */
export function smoSecondIndex(g: usize, ySign: usize, lowMask: usize, qd: usize, qi: usize, activeSize: i32, i: i32, gMax: f64, tau: f64, out: usize): void {
  let gMax2 = -Infinity;
  let gMinIndex = -1;
  let objDiffMin = Infinity;
  const twoYi = 2 * load<f64>(ySign + (<usize>i << 3));
  const qdi = load<f64>(qd + (<usize>i << 3));
  for (let j = 0; j < activeSize; j++) {
    const at = <usize>j << 3;
    const yj = load<f64>(ySign + at);
    const value = load<f64>(lowMask + at) + yj * load<f64>(g + at);
    if (value >= gMax2) gMax2 = value;
    const gradDiff = gMax + value;
    if (gradDiff > 0) {
      const quad = qdi + load<f64>(qd + at) - twoYi * yj * load<f64>(qi + at);
      const objDiff = -(gradDiff * gradDiff) / (quad > 0 ? quad : tau);
      if (objDiff <= objDiffMin) {
        gMinIndex = j;
        objDiffMin = objDiff;
      }
    }
  }
  store<f64>(out, gMax2, 16);
  store<f64>(out, <f64>gMinIndex, 24);
}

/** G[k] += Qi[k]·deltaI + Qj[k]·deltaJ for k < count. */
export function smoUpdateGradient(g: usize, qi: usize, qj: usize, deltaI: f64, deltaJ: f64, count: i32): void {
  const dI = f64x2.splat(deltaI);
  const dJ = f64x2.splat(deltaJ);
  const count2 = count & ~1;
  for (let k = 0; k < count2; k += 2) {
    const at = <usize>k << 3;
    v128.store(g + at, f64x2.add(v128.load(g + at), f64x2.add(f64x2.mul(v128.load(qi + at), dI), f64x2.mul(v128.load(qj + at), dJ))));
  }
  if (count2 < count) {
    const at = <usize>count2 << 3;
    store<f64>(g + at, load<f64>(g + at) + (load<f64>(qi + at) * deltaI + load<f64>(qj + at) * deltaJ));
  }
}

/**
 * One-vs-one decision sums of pairs of query rows (lanes): for every block pair i < j (in order),
 * out[q·nPairs + p] = (Σ_{s∈block i} coef[(j−1)·nSv + s]·K_qs + Σ_{s∈block j} coef[i·nSv + s]·K_qs) − rho[p], each sum
 * in s order, as SvmEvaluator.pairSumsFrom adds them. values holds K for row pairs interleaved:
 * K_qs at values + ((⌊q/2⌋·nSv8 + s)·2 + q mod 2)·8. starts: blocks + 1 i32 offsets of the blocks' vectors.
 */
export function svmPairSums(values: usize, nQueries: i32, nSv8: i32, coef: usize, nSv: i32, starts: usize, blocks: i32, rho: usize, out: usize): void {
  const nPairs = (blocks * (blocks - 1)) >> 1;
  const pairStride = <usize>nSv8 << 4;
  const coefStride = <usize>nSv << 3;
  for (let q = 0; q < nQueries; q += 2) {
    const pairValues = values + (<usize>(q >> 1)) * pairStride;
    const outA = out + ((<usize>q * <usize>nPairs) << 3);
    const outB = outA + (<usize>nPairs << 3);
    let p = 0;
    for (let i = 0; i < blocks; i++) {
      const startI = load<i32>(starts + (<usize>i << 2));
      const endI = load<i32>(starts + (<usize>(i + 1) << 2));
      for (let j = i + 1; j < blocks; j++) {
        const rowI = coef + <usize>(j - 1) * coefStride;
        const rowJ = coef + <usize>i * coefStride;
        let sum = f64x2.splat(0);
        for (let s = startI; s < endI; s++) {
          sum = f64x2.add(sum, f64x2.mul(v128.load64_splat(rowI + (<usize>s << 3)), v128.load(pairValues + (<usize>s << 4))));
        }
        const endJ = load<i32>(starts + (<usize>(j + 1) << 2));
        for (let s = load<i32>(starts + (<usize>j << 2)); s < endJ; s++) {
          sum = f64x2.add(sum, f64x2.mul(v128.load64_splat(rowJ + (<usize>s << 3)), v128.load(pairValues + (<usize>s << 4))));
        }
        const decision = f64x2.sub(sum, v128.load64_splat(rho + (<usize>p << 3)));
        store<f64>(outA + (<usize>p << 3), f64x2.extract_lane(decision, 0));
        store<f64>(outB + (<usize>p << 3), f64x2.extract_lane(decision, 1));
        p++;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Linear model outputs at predict (src/learners/linear.ts, LogisticModel): each row's outputs summed onto the
// intercept over j in order, as linearOutput adds them; the lanes of a vector are two rows.

/** out[i·outputs + r] = coef[r·(d+1) + d] + Σ_j coef[r·(d+1) + j]·x[i·d + j] for i < nRows (even; x row-major). */
export function linearOutputs(x: usize, nRows: i32, d: i32, coef: usize, outputs: i32, out: usize): void {
  const rowStride = <usize>d << 3;
  const coefStride = <usize>(d + 1) << 3;
  for (let i = 0; i < nRows; i += 2) {
    const rowA = x + <usize>i * rowStride;
    const rowB = rowA + rowStride;
    const outA = out + ((<usize>i * <usize>outputs) << 3);
    const outB = outA + (<usize>outputs << 3);
    for (let r = 0; r < outputs; r++) {
      const c = coef + <usize>r * coefStride;
      let z = v128.load64_splat(c + rowStride);
      for (let j = 0; j < d; j++) {
        const offset = <usize>j << 3;
        const xs = f64x2.replace_lane(v128.load64_splat(rowA + offset), 1, load<f64>(rowB + offset));
        z = f64x2.add(z, f64x2.mul(v128.load64_splat(c + offset), xs));
      }
      store<f64>(outA + (<usize>r << 3), f64x2.extract_lane(z, 0));
      store<f64>(outB + (<usize>r << 3), f64x2.extract_lane(z, 1));
    }
  }
}
