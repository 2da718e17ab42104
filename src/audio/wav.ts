/**
 * A small, strict WAV reader that decodes what libsndfile (and so soundfile / librosa.load) decodes, the
 * same way, and refuses everything else with a one-line reason.
 *
 * Decoded: integer PCM (8-bit unsigned, 16/24/32-bit signed, fewer valid bits inside those containers),
 * IEEE float 32/64, G.711 µ-law and A-law, each plain or as WAVE_FORMAT_EXTENSIBLE; any rate; 1–1024
 * channels (libsndfile's limit). Chunks other than `fmt ` and `data` are skipped; odd sizes are padded.
 *
 * Scaling is libsndfile's float read: an integer sample is divided by 2^(container bits − 1) (u8:
 * (x − 128) / 128), so 24 valid bits in a 32-bit container scale as 32-bit, exactly as libsndfile does;
 * floats pass through after rounding to float32; G.711 codes decode to the 16-bit G.711 value / 32768.
 *
 * Mono mixdown is librosa.to_mono: the mean over channels of the float32 samples. We sum in float64 and
 * round the mean to float32 once. For 1–2 channels this is bit-identical to numpy's float32 mean (the sum
 * of two float32 values is exact in float64); for 3+ channels it can differ from numpy by one float32 ulp.
 *
 * Safety (uploads are untrusted): nothing is allocated from a declared size without clamping it to the
 * bytes really present; at most MAX_CHUNKS chunk headers are scanned; chunks that run past the end of the
 * file end the scan; every refusal is SpotmlError('DECODE').
 */
import { open, type FileHandle } from 'node:fs/promises';
import { SpotmlError } from '../errors.js';
import { wasmBase64 as wavDecodeWasm } from '../generated/wasm/wav-decode.js';
import { instantiateKernel, type WasmKernelModule } from '../runtime/wasm.js';

export type SampleFormat = 'pcm' | 'float' | 'mulaw' | 'alaw';

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** valid bits (EXTENSIBLE) or bitsPerSample */
  validBits: number;
  format: SampleFormat;
  /** Bytes per frame (all channels of one sample instant). */
  blockAlign: number;
  /** Whole frames present: the declared data size clamped to the bytes in the file, a partial frame dropped. */
  frames: number;
  /** Byte offset in the file of the first frame. */
  dataOffset: number;
  /** frames × blockAlign: the payload bytes that decode. */
  dataBytes: number;
  /**
   * What the decoder had to work around, one line each ('truncated: …', 'data size 0xFFFFFFFF (streaming
   * writer): read to end of file', a malformed header field). Empty for a well-formed file; anything here
   * means the file is damaged or malformed, so extract reports it as a warning (a failure with --strict).
   */
  notes: string[];
}

/** libsndfile refuses more channels than this (SF_MAX_CHANNELS). */
export const MAX_CHANNELS = 1024;
/** Chunk headers scanned before giving up: real files have a handful; a hostile one could have millions. */
export const MAX_CHUNKS = 4096;
/** Bytes read at the start of a file before parsing; parseWavHeader wants at least this much (or the whole file). */
export const HEADER_PROBE_BYTES = 64 * 1024;

/** Notes that mean audio the header promised is missing (what `extract --strict` refuses; the rest are header slips). */
const LOST_AUDIO_NOTES = ['truncated:', 'data ends with a partial frame'];

/** Whether a decode note says audio was lost (truncated data, a partial last frame), not only a header slip. */
export function noteLosesAudio(note: string): boolean {
  return LOST_AUDIO_NOTES.some((prefix) => note.startsWith(prefix));
}

const FORMAT_TAGS: Readonly<Record<number, SampleFormat>> = { 1: 'pcm', 3: 'float', 6: 'alaw', 7: 'mulaw' };
const KNOWN_UNSUPPORTED_TAGS: Readonly<Record<number, string>> = {
  0x0002: 'Microsoft ADPCM',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MP3',
  0x0092: 'Dolby AC3',
  0x00ff: 'AAC',
  0x1610: 'HE-AAC',
  0xf1ac: 'FLAC',
};
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_* GUIDs are the format tag in their first two bytes followed by these 14 bytes. */
const SUBFORMAT_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
const CONVERT_HINT = 'convert it to 16-bit PCM WAV (e.g. `ffmpeg -i in -c:a pcm_s16le out.wav`)';

function decodeError(name: string, reason: string, details: Record<string, unknown> = {}): SpotmlError {
  return new SpotmlError('DECODE', `${name}: ${reason}`, { file: name, ...details });
}

// ---------------------------------------------------------------------------------------------------------
// Header scanning. Written once as a generator that asks for byte ranges, so the same code runs on an
// in-memory buffer (sync) and on an open file (async) without reading more than the chunk headers.

interface ByteRequest {
  offset: number;
  length: number;
}
/** Yields byte requests; each is answered with the bytes present (shorter than asked at the end of the file). */
type HeaderScan = Generator<ByteRequest, WavInfo, Uint8Array>;

function u16(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function isPrintableFourCc(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + 4; i++) if (bytes[i] < 0x20 || bytes[i] > 0x7e) return false;
  return true;
}

/** A chunk id for messages: printable as 'text', anything else as hex. */
function describeFourCc(bytes: Uint8Array, at: number): string {
  const slice = bytes.subarray(at, at + 4);
  if (slice.length === 4 && isPrintableFourCc(bytes, at)) return `'${String.fromCharCode(...slice)}'`;
  return `0x${Array.from(slice, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function fourCc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

interface FmtChunk {
  tag: number;
  channels: number;
  sampleRate: number;
  byteRate: number;
  blockAlign: number;
  bitsPerSample: number;
  validBits: number;
  extensible: boolean;
}

function* readFmtChunk(at: number, size: number, name: string): Generator<ByteRequest, FmtChunk, Uint8Array> {
  if (size < 16) throw decodeError(name, `fmt chunk is ${size} bytes, a WAV fmt chunk needs at least 16`);
  const body = yield { offset: at, length: Math.min(size, 40) };
  if (body.length < 16) throw decodeError(name, `file ends inside the fmt chunk (truncated header, ${at + body.length} bytes)`);
  const fmt: FmtChunk = {
    tag: u16(body, 0),
    channels: u16(body, 2),
    sampleRate: u32(body, 4),
    byteRate: u32(body, 8),
    blockAlign: u16(body, 12),
    bitsPerSample: u16(body, 14),
    validBits: u16(body, 14),
    extensible: false,
  };
  if (fmt.tag !== WAVE_FORMAT_EXTENSIBLE) return fmt;
  if (size < 40 || body.length < 40 || u16(body, 16) < 22) {
    throw decodeError(name, `WAVE_FORMAT_EXTENSIBLE fmt chunk is too short (${Math.min(size, body.length)} bytes, needs 40)`);
  }
  for (let i = 0; i < SUBFORMAT_GUID_TAIL.length; i++) {
    if (body[26 + i] !== SUBFORMAT_GUID_TAIL[i]) throw decodeError(name, `WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID; ${CONVERT_HINT}`);
  }
  fmt.extensible = true;
  fmt.tag = u16(body, 24);
  // Some writers leave valid bits at 0; libsndfile then uses the container width.
  const valid = u16(body, 18);
  fmt.validBits = valid === 0 ? fmt.bitsPerSample : valid;
  return fmt;
}

/** Checks the fmt fields and returns the bytes one sample occupies in a frame. */
function checkFmt(fmt: FmtChunk, name: string): { format: SampleFormat; sampleBytes: number } {
  const ext = fmt.extensible ? ' (WAVE_FORMAT_EXTENSIBLE)' : '';
  if (fmt.channels === 0) throw decodeError(name, 'fmt chunk declares 0 channels');
  if (fmt.channels > MAX_CHANNELS) throw decodeError(name, `fmt chunk declares ${fmt.channels} channels; at most ${MAX_CHANNELS} are supported`);
  if (fmt.sampleRate === 0) throw decodeError(name, 'fmt chunk declares a sample rate of 0 Hz');
  if (fmt.bitsPerSample === 0) throw decodeError(name, 'fmt chunk declares 0 bits per sample');
  const format = FORMAT_TAGS[fmt.tag];
  if (format === undefined) {
    const known = KNOWN_UNSUPPORTED_TAGS[fmt.tag];
    const what = `format tag 0x${fmt.tag.toString(16).padStart(4, '0')}${known ? ` (${known})` : ''}${ext}`;
    throw decodeError(name, `unsupported WAV encoding: ${what}; ${CONVERT_HINT}`, { formatTag: fmt.tag });
  }
  let sampleBytes: number;
  if (format === 'pcm') {
    if (fmt.bitsPerSample > 32) throw decodeError(name, `${fmt.bitsPerSample}-bit integer PCM${ext} is not supported (at most 32 bits); ${CONVERT_HINT}`);
    if (fmt.extensible && fmt.bitsPerSample % 8 !== 0) {
      throw decodeError(name, `WAVE_FORMAT_EXTENSIBLE container of ${fmt.bitsPerSample} bits is not a whole number of bytes`);
    }
    sampleBytes = Math.ceil(fmt.bitsPerSample / 8);
  } else if (format === 'float') {
    if (fmt.bitsPerSample !== 32 && fmt.bitsPerSample !== 64) {
      throw decodeError(name, `${fmt.bitsPerSample}-bit IEEE float${ext} is not supported (only 32 or 64); ${CONVERT_HINT}`);
    }
    sampleBytes = fmt.bitsPerSample / 8;
  } else {
    if (fmt.bitsPerSample !== 8) throw decodeError(name, `G.711 ${format === 'mulaw' ? 'µ-law' : 'A-law'} must be 8 bits per sample, not ${fmt.bitsPerSample}`);
    sampleBytes = 1;
  }
  if (fmt.validBits > fmt.bitsPerSample) {
    throw decodeError(name, `valid bits per sample (${fmt.validBits}) exceed the ${fmt.bitsPerSample}-bit container`);
  }
  if (fmt.blockAlign !== fmt.channels * sampleBytes) {
    throw decodeError(
      name,
      `block align ${fmt.blockAlign} does not match ${fmt.channels} channel(s) × ${sampleBytes} byte(s) per ${fmt.bitsPerSample}-bit sample; the header is corrupt`,
    );
  }
  return { format, sampleBytes };
}

function* scanWavHeader(fileSize: number, name: string): HeaderScan {
  if (fileSize === 0) throw decodeError(name, 'empty file (0 bytes); expected a RIFF/WAVE file');
  const riff = yield { offset: 0, length: 12 };
  if (riff.length >= 4 && fourCc(riff, 0) === 'RF64') {
    throw decodeError(name, `RF64 (64-bit WAV) files are not supported; ${CONVERT_HINT}`);
  }
  if (riff.length >= 4 && fourCc(riff, 0) === 'RIFX') throw decodeError(name, `big-endian RIFX WAV is not supported; ${CONVERT_HINT}`);
  if (riff.length >= 4 && fourCc(riff, 0) !== 'RIFF') {
    throw decodeError(name, `not a WAV file (starts with ${describeFourCc(riff, 0)}, expected a RIFF/WAVE header); ${CONVERT_HINT}`);
  }
  if (riff.length < 12) throw decodeError(name, `file is only ${riff.length} bytes, too short for a RIFF/WAVE header`);
  if (fourCc(riff, 8) !== 'WAVE') throw decodeError(name, `RIFF file of type ${describeFourCc(riff, 8)}, not WAVE; ${CONVERT_HINT}`);

  const notes: string[] = [];
  const riffSize = u32(riff, 4);

  let fmt: FmtChunk | undefined;
  let dataOffset = -1;
  let declaredDataBytes = 0;
  let stoppedBy = '';
  let pos = 12;
  let chunks = 0;
  for (;;) {
    if (++chunks > MAX_CHUNKS) throw decodeError(name, `more than ${MAX_CHUNKS} chunks before the data chunk; the file is corrupt or hostile`);
    const header = yield { offset: pos, length: 8 };
    if (header.length < 8) {
      stoppedBy = header.length === 0 ? `the file ends at byte ${pos}` : `the file ends inside a chunk header at byte ${pos}`;
      break;
    }
    const id = fourCc(header, 0);
    const size = u32(header, 4);
    if (id === 'data') {
      if (!fmt) throw decodeError(name, `data chunk at byte ${pos} comes before the fmt chunk; the file is not a valid WAV`);
      dataOffset = pos + 8;
      declaredDataBytes = size;
      break;
    }
    if (id === 'fmt ') {
      if (fmt) notes.push(`ignored a second fmt chunk at byte ${pos}`);
      else fmt = yield* readFmtChunk(pos + 8, size, name);
    }
    let next = pos + 8 + size + (size & 1);
    if (size & 1 && next + 8 <= fileSize) {
      // Some writers forget the pad byte after an odd-sized chunk; follow the id that looks like one.
      const peek = yield { offset: next - 1, length: 5 };
      if (peek.length === 5 && !isPrintableFourCc(peek, 1) && isPrintableFourCc(peek, 0)) {
        notes.push(`chunk ${describeFourCc(header, 0)} at byte ${pos} has an odd size without the RIFF pad byte (accepted)`);
        next -= 1;
      }
    }
    if (next > fileSize) {
      stoppedBy = `chunk ${describeFourCc(header, 0)} at byte ${pos} declares ${size} bytes, past the end of the file (${fileSize} bytes)`;
      break;
    }
    pos = next;
  }

  if (!fmt) throw decodeError(name, `no fmt chunk (${stoppedBy}); the file is not a valid WAV`);
  if (dataOffset < 0) throw decodeError(name, `no data chunk (${stoppedBy}); the file is truncated or not a valid WAV`);
  const { format } = checkFmt(fmt, name);

  const available = Math.max(0, fileSize - dataOffset);
  const streamingSize = declaredDataBytes === 0xffffffff || declaredDataBytes === 0;
  const truncated = !streamingSize && declaredDataBytes > available;
  // A wrong RIFF size is what truncation and unfinished streaming headers leave behind: the data-size
  // note already says so, and one line per cause reads better than two.
  if (riffSize + 8 !== fileSize && !streamingSize && !(truncated && riffSize + 8 > fileSize)) {
    notes.push(`RIFF size ${riffSize} does not match the file size ${fileSize} (ignored; chunks are read up to the end of the file)`);
  }
  const dataBytes = declaredDataBytes === 0xffffffff || truncated ? available : declaredDataBytes;
  const frames = Math.floor(dataBytes / fmt.blockAlign);
  const seconds = (frameCount: number): string => `${(frameCount / fmt.sampleRate).toFixed(3)} s`;
  if (declaredDataBytes === 0xffffffff) {
    notes.push('data size 0xFFFFFFFF (streaming writer): read to end of file');
  } else if (declaredDataBytes === 0) {
    // libsndfile reads nothing here; so do we, but say what was left unread.
    if (available > 0) notes.push(`data size 0 (streaming writer that never finalised the header?): ${available} bytes after it are ignored, as libsndfile does`);
  } else if (truncated) {
    const declaredFrames = Math.floor(declaredDataBytes / fmt.blockAlign);
    notes.push(`truncated: data chunk declares ${declaredDataBytes} bytes but only ${available} are present; decoded ${seconds(frames)} of ${seconds(declaredFrames)}`);
  }
  const partial = dataBytes % fmt.blockAlign;
  if (partial !== 0) notes.push(`data ends with a partial frame (${partial} byte${partial === 1 ? '' : 's'}, ignored)`);
  if (fmt.byteRate !== fmt.sampleRate * fmt.blockAlign) notes.push(`byte rate ${fmt.byteRate} in the fmt chunk is inconsistent (ignored)`);

  return {
    sampleRate: fmt.sampleRate,
    channels: fmt.channels,
    bitsPerSample: fmt.bitsPerSample,
    validBits: fmt.validBits,
    format,
    blockAlign: fmt.blockAlign,
    frames,
    dataOffset,
    dataBytes: frames * fmt.blockAlign,
    notes,
  };
}

/** Parses the header from the start of a file (give at least the first 64 KiB, or the whole file) and the file size. Throws SpotmlError('DECODE', `${name}: <reason>`). */
export function parseWavHeader(head: Uint8Array, fileSize: number, name: string): WavInfo {
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) throw new SpotmlError('INVALID_INPUT', `${name}: file size ${fileSize} is not a byte count`, { file: name });
  const given = head.length > fileSize ? head.subarray(0, fileSize) : head;
  const scan = scanWavHeader(fileSize, name);
  let step = scan.next(new Uint8Array(0));
  while (!step.done) {
    const { offset, length } = step.value;
    const end = Math.min(offset + length, fileSize);
    if (end > given.length) {
      throw decodeError(name, `the WAV header continues past the first ${given.length} bytes that were read (at byte ${offset}); pass more of the file`);
    }
    step = scan.next(given.subarray(Math.min(offset, end), end));
  }
  return step.value;
}

// ---------------------------------------------------------------------------------------------------------
// Sample decoding.

const enum SampleKind {
  U8,
  S16,
  S24,
  S32,
  F32,
  F64,
  MuLaw,
  ALaw,
}

/** G.711 µ-law code → 16-bit linear value (ITU-T G.711, as libsndfile's table), scaled to [-1, 1). */
function mulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4)) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

/** G.711 A-law code → 16-bit linear value. */
function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  const segment = (a & 0x70) >> 4;
  let magnitude = (a & 0x0f) << 4;
  magnitude = segment === 0 ? magnitude + 8 : (magnitude + 0x108) << (segment - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

const MULAW_TABLE = Float64Array.from({ length: 256 }, (_, code) => mulawToLinear(code) / 32768);
const ALAW_TABLE = Float64Array.from({ length: 256 }, (_, code) => alawToLinear(code) / 32768);

function sampleKindOf(info: WavInfo): SampleKind {
  const sampleBytes = info.channels > 0 ? info.blockAlign / info.channels : 0;
  if (info.format === 'pcm') {
    if (sampleBytes === 1) return SampleKind.U8;
    if (sampleBytes === 2) return SampleKind.S16;
    if (sampleBytes === 3) return SampleKind.S24;
    if (sampleBytes === 4) return SampleKind.S32;
  } else if (info.format === 'float') {
    if (sampleBytes === 4) return SampleKind.F32;
    if (sampleBytes === 8) return SampleKind.F64;
  } else if (sampleBytes === 1) {
    return info.format === 'mulaw' ? SampleKind.MuLaw : SampleKind.ALaw;
  }
  throw new SpotmlError('INVALID_INPUT', `WavInfo is inconsistent: ${info.format} with block align ${info.blockAlign} for ${info.channels} channel(s)`);
}

/** One sample as the float32 value libsndfile returns (every branch yields a float32-representable number). */
function readSample(view: DataView, bytes: Uint8Array, at: number, kind: SampleKind): number {
  switch (kind) {
    case SampleKind.U8:
      return (bytes[at] - 128) / 128;
    case SampleKind.S16:
      return view.getInt16(at, true) / 32768;
    case SampleKind.S24:
      return (((bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) << 8) >> 8) / 8388608;
    case SampleKind.S32:
      return Math.fround(view.getInt32(at, true) / 2147483648);
    case SampleKind.F32:
      return view.getFloat32(at, true);
    case SampleKind.F64:
      return Math.fround(view.getFloat64(at, true));
    case SampleKind.MuLaw:
      return MULAW_TABLE[bytes[at]];
    case SampleKind.ALaw:
      return ALAW_TABLE[bytes[at]];
  }
}

function nonFiniteError(name: string, frame: number): SpotmlError {
  return decodeError(name, `float sample at frame ${frame} is NaN or infinite (or beyond float32 range); the audio data is corrupt`, { frame });
}

function isFloatKind(kind: SampleKind): boolean {
  return kind === SampleKind.F32 || kind === SampleKind.F64;
}

/** Typed-array views read the platform's byte order; WAV is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface WavDecodeExports {
  s16ToF32(src: number, n: number, dst: number): void;
}

let wavDecodeKernel: WasmKernelModule<WavDecodeExports> | null = null;

/** Below this many samples the plain loop wins over the copies into and out of the kernel. */
const KERNEL_MIN_SAMPLES = 1024;

/** Samples per wav-decode kernel call: its memory stays at ~1.5 MiB however long the file (WebAssembly memory never shrinks). */
const KERNEL_BLOCK_SAMPLES = 1 << 18;

/** out[outOffset + i] = int16 sample i / 32768 for `count` samples at the start of `data`, in the wav-decode kernel. */
function s16ToFloat32(data: Uint8Array, count: number, out: Float32Array, outOffset: number): void {
  const block = Math.min(count, KERNEL_BLOCK_SAMPLES);
  const dst = 16 + Math.ceil((2 * block) / 16) * 16;
  wavDecodeKernel ??= instantiateKernel<WavDecodeExports>('wav-decode', wavDecodeWasm);
  wavDecodeKernel.ensureBytes(dst + 4 * block);
  const buffer = wavDecodeKernel.memory.buffer;
  for (let done = 0; done < count; done += block) {
    const n = Math.min(block, count - done);
    new Uint8Array(buffer, 16, 2 * n).set(data.subarray(2 * done, 2 * (done + n)));
    wavDecodeKernel.exports.s16ToF32(16, n, dst);
    out.set(new Float32Array(buffer, dst, n), outOffset + done);
  }
}

/**
 * Mono mixdown of the whole frames in `data` into out[outOffset…]. `firstFrame` only labels errors.
 * Returns the frames written.
 */
function mixToMono(data: Uint8Array, info: WavInfo, out: Float32Array, outOffset: number, name: string, firstFrame: number): number {
  const kind = sampleKindOf(info);
  const { channels, blockAlign } = info;
  const sampleBytes = blockAlign / channels;
  const frames = Math.min(Math.floor(data.length / blockAlign), out.length - outOffset);
  if (frames <= 0) return 0;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (channels === 1 && kind === SampleKind.S16) {
    // The common case, without the per-sample dispatch: the mean over one channel is the sample itself.
    if (frames >= KERNEL_MIN_SAMPLES) {
      s16ToFloat32(data, frames, out, outOffset);
    } else if (LITTLE_ENDIAN && data.byteOffset % 2 === 0) {
      const samples = new Int16Array(data.buffer, data.byteOffset, frames);
      for (let f = 0; f < frames; f++) out[outOffset + f] = samples[f] / 32768;
    } else {
      for (let f = 0, at = 0; f < frames; f++, at += 2) out[outOffset + f] = view.getInt16(at, true) / 32768;
    }
    return frames;
  }
  if (kind === SampleKind.S16) {
    for (let f = 0; f < frames; f++) {
      let at = f * blockAlign;
      let sum = 0;
      for (let c = 0; c < channels; c++, at += 2) sum += view.getInt16(at, true) / 32768;
      out[outOffset + f] = Math.fround(sum / channels);
    }
    return frames;
  }
  const checkFinite = isFloatKind(kind);
  for (let f = 0; f < frames; f++) {
    let at = f * blockAlign;
    let sum = 0;
    for (let c = 0; c < channels; c++, at += sampleBytes) sum += readSample(view, data, at, kind);
    const mean = Math.fround(sum / channels);
    if (checkFinite && mean - mean !== 0) throw nonFiniteError(name, firstFrame + f);
    out[outOffset + f] = mean;
  }
  return frames;
}

/** Per-channel decode of the whole frames in `data` into out[c][outOffset…]. Returns the frames written. */
function splitChannels(data: Uint8Array, info: WavInfo, out: Float32Array[], outOffset: number, name: string, firstFrame: number): number {
  const kind = sampleKindOf(info);
  const { channels, blockAlign } = info;
  const sampleBytes = blockAlign / channels;
  let frames = Math.floor(data.length / blockAlign);
  for (let c = 0; c < channels; c++) frames = Math.min(frames, out[c].length - outOffset);
  if (frames <= 0) return 0;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const checkFinite = isFloatKind(kind);
  for (let c = 0; c < channels; c++) {
    const channel = out[c];
    for (let f = 0, at = c * sampleBytes; f < frames; f++, at += blockAlign) {
      const value = readSample(view, data, at, kind);
      if (checkFinite && value - value !== 0) throw nonFiniteError(name, firstFrame + f);
      channel[outOffset + f] = value;
    }
  }
  return frames;
}

/**
 * Decodes the whole frames at the start of `data` (data-chunk payload bytes starting on a frame boundary)
 * straight to a mono mixdown in `out`. Pure, allocation-light. Returns frames written: the smaller of
 * out.length and the whole frames in data (a trailing partial frame is ignored).
 */
export function decodeFramesToMono(data: Uint8Array, info: WavInfo, out: Float32Array): number {
  return mixToMono(data, info, out, 0, 'WAV data', 0);
}

/** As decodeFramesToMono, but one Float32Array per channel (each at least as long as the frames wanted). */
export function decodeFramesToChannels(data: Uint8Array, info: WavInfo, out: Float32Array[]): number {
  if (out.length !== info.channels) throw new SpotmlError('INVALID_INPUT', `decodeFramesToChannels needs ${info.channels} output arrays, got ${out.length}`);
  return splitChannels(data, info, out, 0, 'WAV data', 0);
}

/** Decodes a whole in-memory file (used by the HTTP audio endpoint). */
export function decodeWav(bytes: Uint8Array, name: string): { info: WavInfo; channels: Float32Array[] } {
  const info = parseWavHeader(bytes, bytes.length, name);
  // frames was clamped to the bytes present, so these allocations are bounded by the input size.
  const channels = Array.from({ length: info.channels }, () => new Float32Array(info.frames));
  splitChannels(bytes.subarray(info.dataOffset, info.dataOffset + info.dataBytes), info, channels, 0, name, 0);
  return { info, channels };
}

/** Mean over channels of decodeWav's output, as librosa.to_mono (see the module comment). */
export function decodeWavToMono(bytes: Uint8Array, name: string): { info: WavInfo; mono: Float32Array } {
  const info = parseWavHeader(bytes, bytes.length, name);
  const mono = new Float32Array(info.frames);
  mixToMono(bytes.subarray(info.dataOffset, info.dataOffset + info.dataBytes), info, mono, 0, name, 0);
  return { info, mono };
}

// ---------------------------------------------------------------------------------------------------------
// Streaming file reader.

const DEFAULT_READ_FRAMES = 65536;
/** Bytes read per readMono call at most, so a 1024-channel float64 file cannot make one read huge. */
const MAX_READ_BYTES = 4 * 1024 * 1024;

function fileError(path: string, err: unknown): SpotmlError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new SpotmlError('NOT_FOUND', `${path}: file not found; check the path`, { file: path }, { cause: err });
  if (code === 'EISDIR') return decodeError(path, 'is a directory, not a WAV file');
  if (code === 'EACCES' || code === 'EPERM') return new SpotmlError('INVALID_INPUT', `${path}: permission denied; make the file readable`, { file: path }, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new SpotmlError('INVALID_INPUT', `${path}: cannot read the file (${message})`, { file: path }, { cause: err });
}

async function readAt(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** Streaming reader over a file (for 30-minute files in bounded memory). Calls must not overlap. */
export class WavFileReader {
  private nextFrame = 0;
  private scratch = new Uint8Array(0);
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    readonly info: WavInfo,
  ) {}

  /** Errors: SpotmlError NOT_FOUND for a missing file, DECODE for bad contents, both naming the path. */
  static async open(path: string): Promise<WavFileReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw fileError(path, err);
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw decodeError(path, 'is not a regular file');
      const fileSize = stats.size;
      const head = await readAt(handle, 0, Math.min(fileSize, HEADER_PROBE_BYTES));
      const scan = scanWavHeader(fileSize, path);
      let step = scan.next(new Uint8Array(0));
      while (!step.done) {
        const { offset, length } = step.value;
        const end = Math.min(offset + length, fileSize);
        const bytes = end <= head.length ? head.subarray(Math.min(offset, end), end) : await readAt(handle, offset, Math.max(0, end - offset));
        step = scan.next(bytes);
      }
      return new WavFileReader(handle, path, step.value);
    } catch (err) {
      await handle.close().catch(() => undefined);
      if (err instanceof SpotmlError) throw err;
      throw fileError(path, err);
    }
  }

  /** Seek to a frame index (for --offset). Past the end is allowed: readMono then returns null. */
  seekFrame(frame: number): void {
    if (!Number.isSafeInteger(frame) || frame < 0) throw new SpotmlError('INVALID_INPUT', `${this.path}: cannot seek to frame ${frame}; give a non-negative integer`);
    this.nextFrame = Math.min(frame, this.info.frames);
  }

  /** Next chunk of mono samples (mean over channels), at most maxFrames; null at end. */
  async readMono(maxFrames: number = DEFAULT_READ_FRAMES): Promise<Float32Array | null> {
    if (!Number.isSafeInteger(maxFrames) || maxFrames < 1) throw new SpotmlError('INVALID_INPUT', `readMono: maxFrames must be a positive integer, got ${maxFrames}`);
    if (this.closed) throw new SpotmlError('INVALID_INPUT', `${this.path}: reader is closed`);
    const { blockAlign, dataOffset } = this.info;
    const wanted = Math.min(maxFrames, this.info.frames - this.nextFrame, Math.max(1, Math.floor(MAX_READ_BYTES / blockAlign)));
    if (wanted <= 0) return null;
    const byteCount = wanted * blockAlign;
    if (this.scratch.length < byteCount) this.scratch = new Uint8Array(byteCount);
    let filled = 0;
    try {
      while (filled < byteCount) {
        const { bytesRead } = await this.handle.read(this.scratch, filled, byteCount - filled, dataOffset + this.nextFrame * blockAlign + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
    } catch (err) {
      throw fileError(this.path, err);
    }
    const frames = Math.floor(filled / blockAlign);
    if (frames === 0) {
      // The file shrank since it was opened: end the stream where the bytes end.
      this.nextFrame = this.info.frames;
      return null;
    }
    const out = new Float32Array(frames);
    mixToMono(this.scratch.subarray(0, frames * blockAlign), this.info, out, 0, this.path, this.nextFrame);
    this.nextFrame += frames;
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scratch = new Uint8Array(0);
    await this.handle.close();
  }
}
