import { describe, expect, it } from 'vitest';
import { instantiateKernel, MAX_KERNEL_BYTES, MemoryLayout } from '../../src/runtime/wasm.js';
import { wasmBase64 } from '../../src/generated/wasm/spectrum-mfcc.js';

describe('WebAssembly kernels (src/runtime/wasm.ts)', () => {
  it('instantiates a kernel, grows its memory on demand and runs it on data the caller lays out', () => {
    const kernel = instantiateKernel<{ maxF32(ptr: number, n: number): number }>('spectrum-mfcc', wasmBase64);
    const n = 50_001;
    const layout = new MemoryLayout();
    const at = layout.take(4 * n);
    const before = kernel.memory.buffer.byteLength;
    kernel.ensureBytes(layout.end);
    expect(kernel.memory.buffer.byteLength).toBeGreaterThanOrEqual(Math.max(before, layout.end));
    const values = new Float32Array(kernel.memory.buffer, at, n);
    for (let i = 0; i < n; i++) values[i] = Math.sin(i) * 100;
    values[n - 1] = 1234.5; // in the scalar tail, past the last four-value step
    let naive = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) naive = Math.max(naive, values[i]);
    expect(kernel.exports.maxF32(at, n)).toBe(naive);
  });

  it('compiles a kernel once per thread but gives every instance its own memory', () => {
    const a = instantiateKernel<{ maxF32(ptr: number, n: number): number }>('spectrum-mfcc', wasmBase64);
    const b = instantiateKernel<{ maxF32(ptr: number, n: number): number }>('spectrum-mfcc', wasmBase64);
    expect(a.memory).not.toBe(b.memory);
    new Float32Array(a.memory.buffer, 64, 4).set([1, 2, 3, 4]);
    new Float32Array(b.memory.buffer, 64, 4).set([5, 6, 7, 8]);
    expect(a.exports.maxF32(64, 4)).toBe(4);
    expect(b.exports.maxF32(64, 4)).toBe(8);
  });

  it('refuses data past WebAssembly\'s 4 GiB with a one-line error naming the kernel, before growing anything', () => {
    const kernel = instantiateKernel<object>('spectrum-mfcc', wasmBase64);
    const before = kernel.memory.buffer.byteLength;
    expect(() => kernel.ensureBytes(MAX_KERNEL_BYTES + 1)).toThrow(/spectrum-mfcc kernel's memory, more than WebAssembly's 4 GiB/);
    expect(kernel.memory.buffer.byteLength).toBe(before);
  });

  it('hands out whole-memory views that are made again after a growth, and only then', () => {
    const kernel = instantiateKernel<object>('spectrum-mfcc', wasmBase64);
    const before = kernel.f64();
    expect(kernel.f64() === before).toBe(true);
    kernel.ensureBytes(kernel.memory.buffer.byteLength + 1);
    const after = kernel.f64();
    expect(after === before).toBe(false); // (the old view is detached: compare identities, not contents)
    expect(after.byteLength).toBe(kernel.memory.buffer.byteLength);
    expect(kernel.u8().buffer).toBe(kernel.memory.buffer);
    expect(kernel.i32().length).toBe(kernel.memory.buffer.byteLength / 4);
  });

  it('lays out 16-byte aligned blocks from its start', () => {
    const layout = new MemoryLayout(70);
    expect(layout.take(3)).toBe(80);
    expect(layout.take(17)).toBe(96);
    expect(layout.take(0)).toBe(128);
    expect(layout.end).toBe(128);
  });
});
