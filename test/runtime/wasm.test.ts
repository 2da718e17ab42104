import { describe, expect, it } from 'vitest';
import { instantiateKernel } from '../../src/runtime/wasm.js';
import { wasmBase64 } from '../../src/generated/wasm/probe.js';

describe('WebAssembly kernels', () => {
  it('instantiates a SIMD kernel and runs it on memory the caller lays out', () => {
    const kernel = instantiateKernel<{ sumF64(ptr: number, n: number): number }>('probe', wasmBase64);
    const n = 20001;
    kernel.ensureBytes(8 * n + 64);
    const values = new Float64Array(kernel.memory.buffer, 64, n);
    let naive = 0;
    for (let i = 0; i < n; i++) {
      values[i] = (i % 7) - 3 + i / 1024;
    }
    // Same pairing as the kernel (two running lanes, then the odd tail), so the sums agree exactly.
    let even = 0;
    let odd = 0;
    for (let i = 0; i + 1 < n; i += 2) {
      even += values[i];
      odd += values[i + 1];
    }
    naive = even + odd + values[n - 1];
    expect(kernel.exports.sumF64(64, n)).toBe(naive);
  });
});
