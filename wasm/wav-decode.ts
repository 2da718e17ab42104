// 16-bit PCM → float32 samples (value / 32768), eight at a time. Every int16 / 32768 is exact in float32,
// so the results equal the JS loop's bit for bit.

/** dst[i] = src[i] / 32768 for n little-endian int16 at src, float32 at dst (the areas must not overlap). */
export function s16ToF32(src: usize, n: i32, dst: usize): void {
  const scale = f32x4.splat(1.0 / 32768.0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const x = v128.load(src + ((<usize>i) << 1));
    const at = dst + ((<usize>i) << 2);
    v128.store(at, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(x)), scale));
    v128.store(at + 16, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(x)), scale));
  }
  for (; i < n; i++) store<f32>(dst + ((<usize>i) << 2), <f32>load<i16>(src + ((<usize>i) << 1)) * (1.0 / 32768.0));
}
