/**
 * Seeded initial weights and the compact, exact JSON form of float32 tensors (base64 of the little-endian
 * bytes: a saved model reloads bit-for-bit).
 */
import type { Rng } from '../rng.js';
import { malformed } from '../preprocess.js';

/** He (Kaiming) uniform, for layers followed by ReLU: U(±√(6 / fanIn)). */
export function heUniform(count: number, fanIn: number, rng: Rng): Float32Array {
  return uniform(count, Math.sqrt(6 / fanIn), rng);
}

/** Glorot (Xavier) uniform, for the output layer and tanh: U(±√(6 / (fanIn + fanOut))). */
export function glorotUniform(count: number, fanIn: number, fanOut: number, rng: Rng): Float32Array {
  return uniform(count, Math.sqrt(6 / (fanIn + fanOut)), rng);
}

function uniform(count: number, limit: number, rng: Rng): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (2 * rng.next() - 1) * limit;
  return out;
}

export function encodeFloat32(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return Buffer.from(bytes).toString('base64');
}

/** Decodes and checks the length, so a damaged model file is a clear error rather than a wrong prediction. */
export function decodeFloat32(text: unknown, expected: number, family: string, what: string): Float32Array {
  if (typeof text !== 'string') throw malformed(family, `${what} missing`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== expected * 4) throw malformed(family, `${what} has ${bytes.length / 4} values, expected ${expected}`);
  const out = new Float32Array(expected);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < expected; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
