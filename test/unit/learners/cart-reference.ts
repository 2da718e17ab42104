/**
 * The JavaScript random-splitter kernels that wasm/cart.ts replaced (src/learners/tree/cart.ts runs it), kept as
 * the bit-for-bit reference the WebAssembly kernels are tested against.
 */

/**
 * Copies column values of the node's rows into values[start, end) and leaves their min and max in range[0..1].
 * A separate function returning through a typed array keeps min and max unboxed doubles (inside the larger
 * evaluateRandom the engine kept them as heap numbers, allocating one per row).
 */
export function gatherColumn(columns: Float64Array, offset: number, idx: Int32Array, values: Float64Array, start: number, end: number, range: Float64Array): void {
  let min = columns[offset + idx[start]];
  let max = min;
  values[start] = min;
  for (let i = start + 1; i < end; i++) {
    const x = columns[offset + idx[i]];
    values[i] = x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  range[0] = min;
  range[1] = max;
}

/** Two classes, unit weights: integer counts (the same sums as weighBinary), four rows per step. */
export function countBinary(values: Float64Array, labels: Int32Array, start: number, end: number, threshold: number, left: Float64Array): number {
  let countLeft = 0;
  let countLeftOne = 0;
  let i = start;
  for (; i + 3 < end; i += 4) {
    const g0 = +(values[i] <= threshold);
    const g1 = +(values[i + 1] <= threshold);
    const g2 = +(values[i + 2] <= threshold);
    const g3 = +(values[i + 3] <= threshold);
    countLeft += g0 + g1 + (g2 + g3);
    countLeftOne += (g0 & labels[i]) + (g1 & labels[i + 1]) + ((g2 & labels[i + 2]) + (g3 & labels[i + 3]));
  }
  for (; i < end; i++) {
    const g = +(values[i] <= threshold);
    countLeft += g;
    countLeftOne += g & labels[i];
  }
  left[0] = countLeft - countLeftOne;
  left[1] = countLeftOne;
  return end - start - countLeft;
}

/** More than two classes, unit weights: integer counts per side, left in counts[0, K) and right in [K, 2K). */
export function countClasses(
  values: Float64Array,
  labels: Int32Array,
  start: number,
  end: number,
  threshold: number,
  counts: Int32Array,
  K: number,
  left: Float64Array,
): number {
  counts.fill(0);
  let nRight = 0;
  for (let i = start; i < end; i++) {
    const right = +(values[i] > threshold);
    counts[right * K + labels[i]]++;
    nRight += right;
  }
  for (let c = 0; c < K; c++) left[c] = counts[c];
  return nRight;
}
