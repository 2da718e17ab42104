/**
 * Test fixtures for the scoring server: small model packages fitted in-process, a hand-encoded ONNX model
 * (a linear softmax classifier: MatMul → Add → Softmax, written as protobuf bytes here so no exporter is
 * needed), and 16-bit PCM WAV bytes.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import type { FeatureSpec } from '../../../src/audio/feature-spec.js';
import { randomForest } from '../../../src/learners/forest.js';
import { LabelEncoder } from '../../../src/learners/label-encoder.js';
import { fitPipeline } from '../../../src/learners/preprocess.js';
import { Rng } from '../../../src/learners/rng.js';
import type { Task } from '../../../src/learners/types.js';
import { writeModelPackage } from '../../../src/registry/package.js';

export interface SyntheticData {
  X: Matrix;
  y: Float64Array;
  featureNames: string[];
}

/** Gaussian clusters: class k shifts every feature by k (classification) or y = Σ x_j (regression). */
export function synthetic(rows: number, features: number, classes: number, seed: number, task: Task = 'classification'): SyntheticData {
  const rng = new Rng(seed);
  const data = new Float64Array(rows * features);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const k = i % classes;
    let sum = 0;
    for (let j = 0; j < features; j++) {
      const v = rng.normal() + (task === 'classification' ? k * 1.5 : 0);
      data[i * features + j] = v;
      sum += v;
    }
    y[i] = task === 'classification' ? k : sum;
  }
  return { X: createMatrix(rows, features, data), y, featureNames: Array.from({ length: features }, (_, j) => `f${j}`) };
}

export interface PackageOptions {
  dir: string;
  trees?: number;
  features?: number;
  classes?: string[];
  rows?: number;
  seed?: number;
  task?: Task;
  featureNames?: string[];
  spec?: FeatureSpec | null;
  /** Training data to use instead of the synthetic set. */
  data?: SyntheticData;
  maxDepth?: number;
  /** Export model.onnx too (default false: these packages exercise the native runtime; ONNX tests write their own graph). */
  onnx?: boolean;
}

/** Fits a random forest pipeline and writes a package; returns the fitted data too. */
export async function forestPackage(options: PackageOptions): Promise<SyntheticData> {
  const task = options.task ?? 'classification';
  const classes = options.classes ?? ['cat', 'dog', 'owl'];
  const data = options.data ?? synthetic(options.rows ?? 120, options.features ?? 4, task === 'classification' ? classes.length : 1, options.seed ?? 1, task);
  const featureNames = options.featureNames ?? data.featureNames;
  const labels = task === 'classification' ? LabelEncoder.fit(classes) : null;
  const nClasses = labels?.nClasses;
  const model = await fitPipeline(
    randomForest,
    { X: data.X, y: data.y, task, nClasses },
    { n_estimators: options.trees ?? 10, max_depth: options.maxDepth ?? 0 },
    { seed: options.seed ?? 1 },
  );
  await mkdir(options.dir, { recursive: true });
  await writeModelPackage({
    dir: options.dir,
    task,
    target: 'label',
    model,
    labels,
    featureNames,
    spec: options.spec ?? null,
    dataHash: null,
    metrics: {},
    training: { family: 'random_forest' },
    exampleRow: Array.from(data.X.data.subarray(0, data.X.cols)),
    onnx: options.onnx ?? false,
  });
  return { ...data, featureNames };
}

// ---------------------------------------------------------------- a tiny protobuf writer for ONNX

export class Proto {
  private readonly parts: number[] = [];

  varint(value: number | bigint): void {
    let v = BigInt(value);
    if (v < 0n) v += 1n << 64n;
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      this.parts.push(byte);
    } while (v > 0n);
  }

  int(field: number, value: number): this {
    this.varint((field << 3) | 0);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(value.length);
    for (const b of value) this.parts.push(b);
    return this;
  }

  /** A packed repeated varint field. */
  ints(field: number, values: ArrayLike<number>): this {
    const inner = new Proto();
    for (let i = 0; i < values.length; i++) inner.varint(values[i]);
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated float (fixed32) field. */
  floats(field: number, values: ArrayLike<number>): this {
    return this.bytes(field, new Uint8Array(Float32Array.from(values).buffer));
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Proto): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const FLOAT = 1;
const INT64 = 7;

export function tensorType(elemType: number, dims: (number | string)[]): Proto {
  const shape = new Proto();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Proto().int(1, d) : new Proto().string(2, d));
  return new Proto().message(1, new Proto().int(1, elemType).message(2, shape));
}

export function valueInfo(name: string, elemType: number, dims: (number | string)[]): Proto {
  return new Proto().string(1, name).message(2, tensorType(elemType, dims));
}

function floatInitializer(name: string, dims: number[], values: readonly number[]): Proto {
  const t = new Proto();
  for (const d of dims) t.int(1, d);
  const raw = new Uint8Array(new Float32Array(values).buffer);
  return t.int(2, FLOAT).string(8, name).bytes(9, raw);
}

export function node(op: string, inputs: string[], outputs: string[], attributes: Proto[] = []): Proto {
  const n = new Proto();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, `${op}_${outputs[0]}`).string(4, op);
  for (const a of attributes) n.message(5, a);
  return n;
}

/** An INT attribute (AttributeProto.type 2). */
export function intAttribute(name: string, value: number): Proto {
  return new Proto().string(1, name).int(3, value).int(20, 2);
}

/**
 * probabilities = softmax(input · W + b) ([N, K], float32), label = argmax (int64 [N]).
 * W is p×K row-major.
 */
export function linearSoftmaxOnnx(W: readonly number[], b: readonly number[], p: number, inputType: 'float' | 'double' = 'float'): Uint8Array {
  const K = b.length;
  const graph = new Proto();
  const nodes: Proto[] = [];
  const input = inputType === 'double' ? 'input64' : 'input';
  if (inputType === 'double') nodes.push(node('Cast', ['input64'], ['input'], [intAttribute('to', FLOAT)]));
  nodes.push(node('MatMul', ['input', 'W'], ['z']), node('Add', ['z', 'b'], ['logits']), node('Softmax', ['logits'], ['probabilities'], [intAttribute('axis', 1)]));
  nodes.push(node('ArgMax', ['probabilities'], ['label'], [intAttribute('axis', 1), intAttribute('keepdims', 0)]));
  for (const n of nodes) graph.message(1, n);
  graph.string(2, 'linear_softmax');
  graph.message(5, floatInitializer('W', [p, K], W)).message(5, floatInitializer('b', [K], b));
  graph.message(11, valueInfo(input, inputType === 'double' ? 11 : FLOAT, ['N', p]));
  graph.message(12, valueInfo('label', INT64, ['N'])).message(12, valueInfo('probabilities', FLOAT, ['N', K]));
  return new Proto()
    .int(1, 8)
    .string(2, 'spotml-test')
    .message(7, graph)
    .message(8, new Proto().string(1, '').int(2, 13))
    .finish();
}

/** The same model computed in float64 by hand: the reference the ONNX runtime path is checked against. */
export function linearSoftmaxReference(X: Matrix, W: readonly number[], b: readonly number[]): { proba: Float64Array; labels: Float64Array } {
  const K = b.length;
  const proba = new Float64Array(X.rows * K);
  const labels = new Float64Array(X.rows);
  for (let r = 0; r < X.rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) {
      let z = b[k];
      for (let j = 0; j < X.cols; j++) z += X.data[r * X.cols + j] * W[j * K + k];
      proba[r * K + k] = z;
      max = Math.max(max, z);
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += proba[r * K + k] = Math.exp(proba[r * K + k] - max);
    let best = 0;
    for (let k = 0; k < K; k++) {
      proba[r * K + k] /= sum;
      if (proba[r * K + k] > proba[r * K + best]) best = k;
    }
    labels[r] = best;
  }
  return { proba, labels };
}

// ---------------------------------------------------------------- WAV

/** 16-bit PCM WAV bytes from samples in [-1, 1] (channels interleaved). */
export function wavBytes(samples: ArrayLike<number>, sampleRate: number, channels = 1): Uint8Array {
  const dataBytes = samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * channels * 2, 28);
  out.writeUInt16LE(channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), 44 + i * 2);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** A sine (plus a little seeded noise) of `seconds` at `frequency` Hz. */
export function tone(frequency: number, seconds: number, sampleRate: number, seed = 1): Float64Array {
  const rng = new Rng(seed);
  const n = Math.round(seconds * sampleRate);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.5 * Math.sin((2 * Math.PI * frequency * i) / sampleRate) + 0.01 * rng.normal();
  return out;
}

export function packageDir(root: string, name: string): string {
  return join(root, name);
}
