/**
 * Instantiates a WebAssembly kernel module built from wasm/<name>.ts (AssemblyScript, compiled by
 * scripts/build-wasm.mjs into src/generated/wasm/<name>.ts). Synchronous on purpose: Node compiles small
 * modules in well under a millisecond, and the numeric code calling a kernel stays a plain function.
 * Kernels work on the module's own linear memory: the caller copies inputs in at byte offsets it chooses,
 * calls the kernel with those offsets, and reads outputs back through typed-array views.
 */
import { SpotmlError } from '../errors.js';

/** The slice of the WebAssembly JS API used here (@types/node 20 does not declare it; the DOM lib would). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

// Growing a memory detaches its old ArrayBuffer, and the first detach in a process makes V8 throw away the
// optimised code of every typed-array loop compiled so far (30–60 ms measured in a cold fit). Detaching one
// throwaway buffer now, before any hot loop runs, moves that cost to start-up where there is nothing to lose.
new webAssembly.Memory({ initial: 1 }).grow(1);

export interface WasmKernelModule<Exports> {
  readonly exports: Exports;
  readonly memory: WasmMemory;
  /** Grows the memory to at least `bytes`; typed-array views made before a growth must be made again. */
  ensureBytes(bytes: number): void;
  /** Views over the whole memory as it is now (made again, once, after a growth). */
  f64(): Float64Array;
  i32(): Int32Array;
  u8(): Uint8Array;
}

interface WholeMemoryViews {
  buffer: ArrayBuffer;
  f64: Float64Array;
  i32: Int32Array;
  u8: Uint8Array;
}

const PAGE_BYTES = 65536;
/** WebAssembly's 32-bit memories hold at most 65,536 pages (4 GiB). */
export const MAX_KERNEL_BYTES = 65536 * PAGE_BYTES;

/** Compiled modules by name: each thread compiles a kernel once, however many instances it makes. */
const compiled = new Map<string, object>();

export function instantiateKernel<Exports>(name: string, wasmBase64: string): WasmKernelModule<Exports> {
  let module = compiled.get(name);
  if (!module) {
    module = new webAssembly.Module(Buffer.from(wasmBase64, 'base64'));
    compiled.set(name, module);
  }
  const instance = new webAssembly.Instance(module, {
    env: {
      abort: (): never => {
        throw new Error(`the ${name} WebAssembly kernel aborted`);
      },
    },
  });
  const memory = instance.exports.memory as WasmMemory;
  let views: WholeMemoryViews | null = null;
  const currentViews = (): WholeMemoryViews => {
    const buffer = memory.buffer;
    if (views === null || views.buffer !== buffer) views = { buffer, f64: new Float64Array(buffer), i32: new Int32Array(buffer), u8: new Uint8Array(buffer) };
    return views;
  };
  return {
    f64: () => currentViews().f64,
    i32: () => currentViews().i32,
    u8: () => currentViews().u8,
    exports: instance.exports as unknown as Exports,
    memory,
    ensureBytes(bytes: number): void {
      if (bytes > MAX_KERNEL_BYTES) {
        throw new SpotmlError(
          'INVALID_INPUT',
          `the data need ${(bytes / 2 ** 30).toFixed(1)} GiB in the ${name} kernel's memory, more than WebAssembly's 4 GiB: use fewer rows or columns (or shorter audio) per call`,
          { kernel: name, bytes },
        );
      }
      const missing = bytes - memory.buffer.byteLength;
      if (missing > 0) memory.grow(Math.ceil(missing / PAGE_BYTES));
    },
  };
}

/** A byte-offset allocator over a kernel's memory, 16-byte aligned (v128 loads), from `start` on. */
export class MemoryLayout {
  private next: number;
  /** `start`: the first byte callers may use (above the module's static data, see heapBase in wasm/features.ts). */
  constructor(start = 64) {
    this.next = Math.ceil(start / 16) * 16;
  }
  take(bytes: number): number {
    const at = this.next;
    this.next += Math.ceil(bytes / 16) * 16;
    return at;
  }
  get end(): number {
    return this.next;
  }
}
