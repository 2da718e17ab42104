/**
 * Writes WAV files for tests, independently of src/audio/wav.ts: sample codes in, bytes out, with every
 * header field overridable so tests can build broken files on purpose.
 */

export interface WavChunk {
  id: string;
  body: Uint8Array;
  /** Leave out the RIFF pad byte after an odd-sized body (a writer bug some files have). */
  omitPad?: boolean;
}

export interface WavSpec {
  /** Format tag written in the fmt chunk (1 PCM, 3 float, 6 A-law, 7 µ-law; 0xFFFE is set by `extensible`). */
  formatTag: number;
  channels: number;
  sampleRate: number;
  /** Container bits per sample (the fmt field). */
  bitsPerSample: number;
  /** Write WAVE_FORMAT_EXTENSIBLE with formatTag as the sub-format GUID and these valid bits. */
  extensible?: { validBits: number; channelMask?: number; guidTail?: number[] };
  /**
   * Interleaved sample codes: integers as stored (u8 0..255, signed ints as two's complement values,
   * left-justified in the container as given), floats as numbers, G.711 as byte codes.
   */
  samples: ArrayLike<number>;
  before?: WavChunk[];
  /** Chunks between fmt and data. */
  between?: WavChunk[];
  after?: WavChunk[];
  /** Header fields to force (sizes as written, whatever the real sizes are). */
  override?: Partial<{ riffSize: number; fmtSize: number; dataSize: number; blockAlign: number; byteRate: number; riffId: string; waveId: string }>;
}

const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

class ByteSink {
  private bytes = new Uint8Array(256);
  length = 0;

  private grow(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extra));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  ascii(text: string): void {
    this.grow(4);
    for (let i = 0; i < 4; i++) this.bytes[this.length++] = text.charCodeAt(i) & 0xff;
  }

  uint(value: number, byteCount: number): void {
    this.grow(byteCount);
    let v = BigInt.asUintN(byteCount * 8, BigInt(Math.trunc(value)));
    for (let i = 0; i < byteCount; i++) {
      this.bytes[this.length++] = Number(v & 0xffn);
      v >>= 8n;
    }
  }

  float(value: number, byteCount: 4 | 8): void {
    this.grow(byteCount);
    const view = new DataView(this.bytes.buffer, this.length, byteCount);
    if (byteCount === 4) view.setFloat32(0, value, true);
    else view.setFloat64(0, value, true);
    this.length += byteCount;
  }

  raw(data: Uint8Array): void {
    this.grow(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  setU32(at: number, value: number): void {
    new DataView(this.bytes.buffer).setUint32(at, value >>> 0, true);
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

function writeChunk(sink: ByteSink, chunk: WavChunk): void {
  sink.ascii(chunk.id);
  sink.uint(chunk.body.length, 4);
  sink.raw(chunk.body);
  if (chunk.body.length % 2 === 1 && !chunk.omitPad) sink.uint(0, 1);
}

export function writeWav(spec: WavSpec): Uint8Array {
  const sampleBytes = Math.ceil(spec.bitsPerSample / 8);
  const blockAlign = spec.override?.blockAlign ?? spec.channels * sampleBytes;
  const sink = new ByteSink();
  sink.ascii(spec.override?.riffId ?? 'RIFF');
  sink.uint(0, 4); // patched below
  sink.ascii(spec.override?.waveId ?? 'WAVE');
  for (const chunk of spec.before ?? []) writeChunk(sink, chunk);

  const fmtBodySize = spec.extensible ? 40 : 16;
  sink.ascii('fmt ');
  sink.uint(spec.override?.fmtSize ?? fmtBodySize, 4);
  sink.uint(spec.extensible ? 0xfffe : spec.formatTag, 2);
  sink.uint(spec.channels, 2);
  sink.uint(spec.sampleRate, 4);
  sink.uint(spec.override?.byteRate ?? spec.sampleRate * blockAlign, 4);
  sink.uint(blockAlign, 2);
  sink.uint(spec.bitsPerSample, 2);
  if (spec.extensible) {
    sink.uint(22, 2);
    sink.uint(spec.extensible.validBits, 2);
    sink.uint(spec.extensible.channelMask ?? 0, 4);
    sink.uint(spec.formatTag, 2);
    for (const b of spec.extensible.guidTail ?? GUID_TAIL) sink.uint(b, 1);
  }
  for (const chunk of spec.between ?? []) writeChunk(sink, chunk);

  const payload = new ByteSink();
  const isFloat = spec.formatTag === 3;
  for (let i = 0; i < spec.samples.length; i++) {
    const value = spec.samples[i];
    if (isFloat) payload.float(value, sampleBytes === 8 ? 8 : 4);
    else payload.uint(value, sampleBytes);
  }
  const data = payload.result();
  sink.ascii('data');
  sink.uint(spec.override?.dataSize ?? data.length, 4);
  sink.raw(data);
  if (data.length % 2 === 1) sink.uint(0, 1);
  for (const chunk of spec.after ?? []) writeChunk(sink, chunk);

  sink.setU32(4, spec.override?.riffSize ?? sink.length - 8);
  return sink.result();
}

export function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0) & 0xff);
}

/** A plain 16-bit mono PCM WAV of `samples` in [-1, 1] (clipped), as most recorders write one. */
export function pcm16MonoWav(samples: ArrayLike<number>, sampleRate: number): Uint8Array {
  const codes = Array.from(samples, (x) => Math.round(Math.max(-1, Math.min(1, x)) * 32767));
  return writeWav({ formatTag: 1, channels: 1, sampleRate, bitsPerSample: 16, samples: codes });
}
