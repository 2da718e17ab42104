// Kernels of the learners' preprocessing (src/learners/preprocess.ts): NaN-ignoring column medians and the
// standardisation statistics. Each mirrors the JavaScript it replaced operation for operation (same order of
// additions, same comparisons, same quickselect), so every median, mean and scale is bit-identical.

/**
 * Copies a block of row-major rows (rows × cols at data) into per-column slices columns[j·stride + counts[j] …),
 * skipping NaN, and keeps each column's running count, min and max (mins start at +∞, maxs at −∞).
 */
export function scatterColumns(data: usize, rows: i32, cols: i32, columns: usize, stride: i32, counts: usize, mins: usize, maxs: usize): void {
  let at = data;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = load<f64>(at);
      at += 8;
      if (v == v) {
        const countAt = counts + (<usize>j << 2);
        const c = load<i32>(countAt);
        store<f64>(columns + ((<usize>j * <usize>stride + <usize>c) << 3), v);
        store<i32>(countAt, c + 1);
        const minAt = mins + (<usize>j << 3);
        const maxAt = maxs + (<usize>j << 3);
        if (v < load<f64>(minAt)) store<f64>(minAt, v);
        if (v > load<f64>(maxAt)) store<f64>(maxAt, v);
      }
    }
  }
}

const MEDIAN_BUCKETS: i32 = 2048;
const MIN_BUCKETED: i32 = 4096;

/**
 * Median of values[0..count) (no NaN; reorders them) given their min and max: equal-width buckets over
 * [min, max] locate the middle ranks, and only the values in those buckets are selected (into scratch).
 */
export function medianOf(values: usize, count: i32, min: f64, max: f64, scratch: usize, buckets: usize): f64 {
  const upperRank = count >> 1;
  const lowerRank = count % 2 == 0 ? upperRank - 1 : upperRank;
  if (count < MIN_BUCKETED) return middleOf(values, count, lowerRank, upperRank);
  if (min == max) return min;
  const nBuckets = count >> 2 < MEDIAN_BUCKETS ? count >> 2 : MEDIAN_BUCKETS;
  const scale = <f64>nBuckets / (max - min);
  if (!(max - min < Infinity) || !(scale < Infinity)) return middleOf(values, count, lowerRank, upperRank);
  memory.fill(buckets, 0, <usize>nBuckets << 2);
  for (let i = 0; i < count; i++) {
    const b = bucketOf(load<f64>(values + (<usize>i << 3)), min, scale, nBuckets);
    const bucketAt = buckets + (<usize>b << 2);
    store<i32>(bucketAt, load<i32>(bucketAt) + 1);
  }
  const first = bucketHoldingRank(buckets, lowerRank);
  const last = bucketHoldingRank(buckets, upperRank);
  let before = 0;
  for (let b = 0; b < first; b++) before += load<i32>(buckets + (<usize>b << 2));
  const span = <u32>(last - first);
  let gathered = 0;
  for (let i = 0; i < count; i++) {
    const v = load<f64>(values + (<usize>i << 3));
    if (<u32>(bucketOf(v, min, scale, nBuckets) - first) <= span) {
      store<f64>(scratch + (<usize>gathered << 3), v);
      gathered++;
    }
  }
  return middleOf(scratch, gathered, lowerRank - before, upperRank - before);
}

// (v − min)·scale lies in [0, nBuckets·(1 + ε)] here, where truncation equals JavaScript's `| 0`.
@inline
function bucketOf(v: f64, min: f64, scale: f64, nBuckets: i32): i32 {
  const b = <i32>((v - min) * scale);
  return b < nBuckets ? b : nBuckets - 1;
}

function bucketHoldingRank(buckets: usize, rank: i32): i32 {
  let b = 0;
  for (let through = load<i32>(buckets); through <= rank; through += load<i32>(buckets + (<usize>b << 2))) b++;
  return b;
}

function middleOf(values: usize, count: i32, lowerRank: i32, upperRank: i32): f64 {
  const upper = selectKth(values, count, upperRank);
  if (lowerRank == upperRank) return upper;
  let max = load<f64>(values);
  for (let i = 1; i < upperRank; i++) {
    const v = load<f64>(values + (<usize>i << 3));
    if (v > max) max = v;
  }
  return (max + upper) / 2;
}

/** Hoare's quickselect, exactly as the JavaScript did it (same pivots, same swaps). */
function selectKth(values: usize, count: i32, k: i32): f64 {
  let left = 0;
  let right = count - 1;
  while (left < right) {
    const pivot = load<f64>(values + (<usize>((left + right) >> 1) << 3));
    let i = left;
    let j = right;
    while (i <= j) {
      while (load<f64>(values + (<usize>i << 3)) < pivot) i++;
      while (load<f64>(values + (<usize>j << 3)) > pivot) j--;
      if (i <= j) {
        const a = values + (<usize>i << 3);
        const b = values + (<usize>j << 3);
        const tmp = load<f64>(a);
        store<f64>(a, load<f64>(b));
        store<f64>(b, tmp);
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return load<f64>(values + (<usize>k << 3));
}

/**
 * Per column of a NaN-free column-major block (cols slices of `rows` values, `stride` apart): sums[j] = Σ v and,
 * with centre[j] = sums[j] / rows computed by the caller in between, squares[j] = Σ (v − centre)². Both add the
 * rows in row order from 0; four columns run side by side so their dependency chains overlap.
 */
export function columnSums(columns: usize, stride: i32, rows: i32, cols: i32, sums: usize): void {
  const step = <usize>stride << 3;
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    const base = columns + <usize>j * step;
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    for (let i = 0; i < rows; i++) {
      const at = base + (<usize>i << 3);
      s0 += load<f64>(at);
      s1 += load<f64>(at + step);
      s2 += load<f64>(at + 2 * step);
      s3 += load<f64>(at + 3 * step);
    }
    store<f64>(sums + (<usize>j << 3), s0);
    store<f64>(sums + (<usize>(j + 1) << 3), s1);
    store<f64>(sums + (<usize>(j + 2) << 3), s2);
    store<f64>(sums + (<usize>(j + 3) << 3), s3);
  }
  for (; j < cols; j++) {
    const base = columns + <usize>j * step;
    let s: f64 = 0;
    for (let i = 0; i < rows; i++) s += load<f64>(base + (<usize>i << 3));
    store<f64>(sums + (<usize>j << 3), s);
  }
}

export function columnSquaredDeviations(columns: usize, stride: i32, rows: i32, cols: i32, centre: usize, squares: usize): void {
  const step = <usize>stride << 3;
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    const base = columns + <usize>j * step;
    const c0 = load<f64>(centre + (<usize>j << 3));
    const c1 = load<f64>(centre + (<usize>(j + 1) << 3));
    const c2 = load<f64>(centre + (<usize>(j + 2) << 3));
    const c3 = load<f64>(centre + (<usize>(j + 3) << 3));
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    for (let i = 0; i < rows; i++) {
      const at = base + (<usize>i << 3);
      const d0 = load<f64>(at) - c0;
      const d1 = load<f64>(at + step) - c1;
      const d2 = load<f64>(at + 2 * step) - c2;
      const d3 = load<f64>(at + 3 * step) - c3;
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
    }
    store<f64>(squares + (<usize>j << 3), s0);
    store<f64>(squares + (<usize>(j + 1) << 3), s1);
    store<f64>(squares + (<usize>(j + 2) << 3), s2);
    store<f64>(squares + (<usize>(j + 3) << 3), s3);
  }
  for (; j < cols; j++) {
    const base = columns + <usize>j * step;
    const c = load<f64>(centre + (<usize>j << 3));
    let s: f64 = 0;
    for (let i = 0; i < rows; i++) {
      const d = load<f64>(base + (<usize>i << 3)) - c;
      s += d * d;
    }
    store<f64>(squares + (<usize>j << 3), s);
  }
}
