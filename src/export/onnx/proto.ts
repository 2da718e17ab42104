/**
 * A small protobuf writer for the ONNX messages spotml exports (onnx.proto3 field numbers):
 * ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto (+ TypeProto,
 * TensorShapeProto, OperatorSetIdProto, StringStringEntryProto). Only writing, only what the exporters
 * use; messages are plain objects encoded in one pass.
 */

export const TensorType = { FLOAT: 1, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, DOUBLE: 11 } as const;
export type TensorTypeCode = (typeof TensorType)[keyof typeof TensorType];

/** IR version 8 pairs with opset 13–17; onnxruntime 1.x reads it. */
export const IR_VERSION = 8;

export interface TensorProto {
  name: string;
  dims: readonly number[];
  dataType: TensorTypeCode;
  /** Little-endian bytes of the values (raw_data). */
  raw: Uint8Array;
}

export type AttributeValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'strings'; value: readonly string[] }
  | { kind: 'tensor'; value: TensorProto };

export interface NodeProto {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Readonly<Record<string, AttributeValue>>;
}

export interface ValueInfoProto {
  name: string;
  elemType: TensorTypeCode;
  /** A number is a fixed size, a string a symbolic one (e.g. 'N'). */
  shape: readonly (number | string)[];
}

export interface GraphProto {
  name: string;
  nodes: readonly NodeProto[];
  inputs: readonly ValueInfoProto[];
  outputs: readonly ValueInfoProto[];
  initializers: readonly TensorProto[];
  docString?: string;
}

export interface ModelProto {
  graph: GraphProto;
  opsets: readonly { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------- tensors

export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return { name, dims, dataType: TensorType.FLOAT, raw };
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i]), true);
  return { name, dims, dataType: TensorType.INT64, raw };
}

export const attr = {
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: 'floats', value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: 'ints', value }),
  strings: (value: readonly string[]): AttributeValue => ({ kind: 'strings', value }),
  tensor: (value: TensorProto): AttributeValue => ({ kind: 'tensor', value }),
};

// ---------------------------------------------------------------- encoding

class Writer {
  private chunks: number[] = [];

  varintField(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  bytesField(field: number, bytes: Uint8Array): this {
    this.tag(field, 2);
    this.varint(bytes.length);
    for (const b of bytes) this.chunks.push(b);
    return this;
  }

  stringField(field: number, text: string): this {
    return this.bytesField(field, new TextEncoder().encode(text));
  }

  messageField(field: number, message: Writer): this {
    return this.bytesField(field, message.finish());
  }

  floatField(field: number, value: number): this {
    this.tag(field, 5);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    for (const b of bytes) this.chunks.push(b);
    return this;
  }

  packedFloats(field: number, values: readonly number[]): this {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return this.bytesField(field, bytes);
  }

  packedVarints(field: number, values: readonly number[]): this {
    const inner = new Writer();
    for (const v of values) inner.varint(v);
    return this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** Base-128 varint; negatives as 64-bit two's complement (protobuf int64). */
  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.chunks.push(byte);
    } while (v !== 0n);
  }
}

function encodeTensor(t: TensorProto): Writer {
  const w = new Writer();
  for (const d of t.dims) w.varintField(1, d);
  w.varintField(2, t.dataType);
  w.stringField(8, t.name);
  w.bytesField(9, t.raw);
  return w;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;

function encodeAttribute(name: string, a: AttributeValue): Writer {
  const w = new Writer().stringField(1, name);
  switch (a.kind) {
    case 'float':
      w.floatField(2, a.value);
      break;
    case 'int':
      w.varintField(3, a.value);
      break;
    case 'string':
      w.stringField(4, a.value);
      break;
    case 'tensor':
      w.messageField(5, encodeTensor(a.value));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedVarints(8, a.value);
      break;
    case 'strings':
      for (const s of a.value) w.stringField(9, s);
      break;
  }
  w.varintField(20, ATTRIBUTE_TYPE[a.kind]);
  return w;
}

function encodeNode(n: NodeProto): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  if (n.name) w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const [name, value] of Object.entries(n.attributes ?? {})) w.messageField(5, encodeAttribute(name, value));
  if (n.domain) w.stringField(7, n.domain);
  return w;
}

function encodeValueInfo(v: ValueInfoProto): Writer {
  const shape = new Writer();
  for (const d of v.shape) {
    const dim = new Writer();
    if (typeof d === 'number') dim.varintField(1, d);
    else dim.stringField(2, d);
    shape.messageField(1, dim);
  }
  const tensorType = new Writer().varintField(1, v.elemType).messageField(2, shape);
  const type = new Writer().messageField(1, tensorType);
  return new Writer().stringField(1, v.name).messageField(2, type);
}

function encodeGraph(g: GraphProto): Writer {
  const w = new Writer();
  for (const n of g.nodes) w.messageField(1, encodeNode(n));
  w.stringField(2, g.name);
  for (const t of g.initializers) w.messageField(5, encodeTensor(t));
  if (g.docString) w.stringField(10, g.docString);
  for (const i of g.inputs) w.messageField(11, encodeValueInfo(i));
  for (const o of g.outputs) w.messageField(12, encodeValueInfo(o));
  return w;
}

export function encodeModel(m: ModelProto): Uint8Array {
  const w = new Writer().varintField(1, IR_VERSION).stringField(2, m.producerName).stringField(3, m.producerVersion);
  if (m.docString) w.stringField(6, m.docString);
  w.messageField(7, encodeGraph(m.graph));
  for (const o of m.opsets) w.messageField(8, new Writer().stringField(1, o.domain).varintField(2, o.version));
  for (const [key, value] of Object.entries(m.metadata ?? {})) w.messageField(14, new Writer().stringField(1, key).stringField(2, value));
  return w.finish();
}
