// Smoke kernel for the build pipeline: sums n float64 values at ptr, two lanes at a time.
export function sumF64(ptr: usize, n: i32): f64 {
  let acc = f64x2.splat(0);
  let i = 0;
  for (; i + 2 <= n; i += 2) acc = f64x2.add(acc, v128.load(ptr + (<usize>i << 3)));
  let total = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < n; i++) total += load<f64>(ptr + (<usize>i << 3));
  return total;
}
