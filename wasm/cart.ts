// Random-threshold (extra trees) split kernels for src/learners/tree/cart.ts (its CartKernel lays out the memory):
// a node's column gather with its min and max, the side counts of a threshold, and the partition by the chosen
// threshold. The gather and counts give exactly what the JS reference in test/unit/learners/cart-reference.ts
// gives (same comparisons, integer counts).

/**
 * values[i] = column[idx[i]] for i in [start, end) (column: f64, idx: i32, values: f64); min and max of them to
 * range[0], range[1], taken as `x < min`, `x > max` in order from the first, like the JS loop.
 */
export function gatherColumn(column: usize, idx: usize, values: usize, start: i32, end: i32, range: usize): void {
  let p = idx + (<usize>start << 2);
  let v = values + (<usize>start << 3);
  const stop = idx + (<usize>end << 2);
  let min = load<f64>(column + (<usize>load<i32>(p) << 3));
  let max = min;
  store<f64>(v, min);
  p += 4;
  v += 8;
  for (; p < stop; p += 4, v += 8) {
    const x = load<f64>(column + (<usize>load<i32>(p) << 3));
    store<f64>(v, x);
    min = select<f64>(x, min, x < min);
    max = select<f64>(x, max, x > max);
  }
  store<f64>(range, min);
  store<f64>(range + 8, max);
}

/**
 * Two classes, unit weights: rows with values[i] <= threshold go left. Writes [count left, count left of class 1]
 * (i32) to out; labels are 0/1 (i32).
 */
export function countBinary(values: usize, labels: usize, start: i32, end: i32, threshold: f64, out: usize): void {
  const t = f64x2.splat(threshold);
  let left = i32x4.splat(0);
  let leftOne = i32x4.splat(0);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const v = values + (<usize>i << 3);
    const a = f64x2.le(v128.load(v), t);
    const b = f64x2.le(v128.load(v + 16), t);
    // The four 64-bit masks narrowed to four 32-bit lanes (each all ones or zero).
    const mask = v128.shuffle<i32>(a, b, 0, 2, 4, 6);
    left = i32x4.sub(left, mask);
    leftOne = i32x4.add(leftOne, v128.and(mask, v128.load(labels + (<usize>i << 2))));
  }
  let countLeft = i32x4.extract_lane(left, 0) + i32x4.extract_lane(left, 1) + i32x4.extract_lane(left, 2) + i32x4.extract_lane(left, 3);
  let countLeftOne = i32x4.extract_lane(leftOne, 0) + i32x4.extract_lane(leftOne, 1) + i32x4.extract_lane(leftOne, 2) + i32x4.extract_lane(leftOne, 3);
  for (; i < end; i++) {
    const g = <i32>(load<f64>(values + (<usize>i << 3)) <= threshold);
    countLeft += g;
    countLeftOne += g & load<i32>(labels + (<usize>i << 2));
  }
  store<i32>(out, countLeft);
  store<i32>(out + 4, countLeftOne);
}

/** More than two classes, unit weights: counts (i32) left in [0, K) and right in [K, 2K). Returns rows right. */
export function countClasses(values: usize, labels: usize, start: i32, end: i32, threshold: f64, counts: usize, K: i32): i32 {
  memory.fill(counts, 0, <usize>(2 * K) << 2);
  let nRight = 0;
  for (let i = start; i < end; i++) {
    const right = <i32>(load<f64>(values + (<usize>i << 3)) > threshold);
    const c = counts + (<usize>(right * K + load<i32>(labels + (<usize>i << 2))) << 2);
    store<i32>(c, load<i32>(c) + 1);
    nRight += right;
  }
  return nRight;
}

/**
 * Partitions positions [start, end) so rows with values <= threshold come first, moving rows and labels (i32)
 * along; returns the first right position. Stable: each side keeps its order, so a node's rows stay ascending and
 * the next gathers read memory forward (the split counts are integers, so the order within a node changes no
 * tree). Branch-free, as the side is random: every row is written to both sides and only the matching cursor
 * moves; the right side goes through spareRows/spareLabels and is copied back after the left.
 */
export function partitionStable(values: usize, idx: usize, labels: usize, threshold: f64, start: i32, end: i32, spareRows: usize, spareLabels: usize): i32 {
  let l = idx + (<usize>start << 2);
  let ll = labels + (<usize>start << 2);
  let r = spareRows;
  let rl = spareLabels;
  for (let i = start; i < end; i++) {
    const row = load<i32>(idx + (<usize>i << 2));
    const label = load<i32>(labels + (<usize>i << 2));
    const goesLeft = <usize>(load<f64>(values + (<usize>i << 3)) <= threshold);
    store<i32>(l, row);
    store<i32>(ll, label);
    store<i32>(r, row);
    store<i32>(rl, label);
    l += goesLeft << 2;
    ll += goesLeft << 2;
    r += (1 - goesLeft) << 2;
    rl += (1 - goesLeft) << 2;
  }
  const nRight = r - spareRows;
  memory.copy(l, spareRows, nRight);
  memory.copy(ll, spareLabels, nRight);
  return <i32>((l - idx) >> 2);
}
