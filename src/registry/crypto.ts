/**
 * Artifact encryption at rest: AES-256-GCM per file, with a fresh random 12-byte IV each time.
 *
 *   file = header ‖ ciphertext ‖ tag(16)
 *   header = "SPOTMLENC" ‖ version(1 byte) ‖ key id(8 bytes) ‖ IV(12 bytes)
 *
 * The header and the file's relative path are the GCM additional data, so a flipped header byte, a swapped
 * file or a renamed file all fail authentication. The key id (a hash of the key, not the key) tells a wrong
 * key apart from tampering. Keys are 32 bytes, given as base64 or hex in SPOTML_MODEL_KEY or a key file.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SpotmlError } from '../errors.js';

export const KEY_ENV = 'SPOTML_MODEL_KEY';
export const ENCRYPTED_SUFFIX = '.enc';
export const ENCRYPTION_ALGORITHM = 'AES-256-GCM';

const MAGIC = Buffer.from('SPOTMLENC', 'ascii');
const FORMAT_VERSION = 1;
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + 1 + KEY_ID_BYTES + IV_BYTES;
const KEY_BYTES = 32;

export interface ModelKey {
  readonly bytes: Buffer;
  /** 16 hex characters derived from the key; safe to record and print. */
  readonly id: string;
  /** Where it came from, for messages ("SPOTML_MODEL_KEY" or the file path). */
  readonly origin: string;
}

/** A 32-byte key from base64 (standard or URL-safe) or hex text. */
export function parseModelKey(text: string, origin: string): ModelKey {
  const value = text.trim();
  let bytes: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(value)) bytes = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!bytes || bytes.length !== KEY_BYTES) {
    throw new SpotmlError(
      'USAGE',
      `the model key from ${origin} is not 32 bytes in base64 or hex; make one with: openssl rand -base64 32`,
      { origin },
    );
  }
  return keyFromBytes(bytes, origin);
}

function keyFromBytes(bytes: Buffer, origin: string): ModelKey {
  const id = createHash('sha256').update('spotml-model-key-id\0').update(bytes).digest().subarray(0, KEY_ID_BYTES).toString('hex');
  return { bytes, id, origin };
}

export interface KeySourceOptions {
  /** Wins over the environment when given. */
  keyFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** The key from --key-file or SPOTML_MODEL_KEY; undefined when neither is set. */
export async function loadModelKey(options: KeySourceOptions = {}): Promise<ModelKey | undefined> {
  if (options.keyFile !== undefined) {
    let raw: Buffer;
    try {
      raw = await readFile(options.keyFile);
    } catch {
      throw new SpotmlError('NOT_FOUND', `key file ${options.keyFile} cannot be read: check the --key-file path`, { file: options.keyFile });
    }
    // A file may hold the key as text (base64/hex) or as the 32 raw bytes.
    const text = raw.toString('utf8').trim();
    if (raw.length === KEY_BYTES && !/^[A-Za-z0-9+/_=-]+$/.test(text)) return keyFromBytes(Buffer.from(raw), options.keyFile);
    return parseModelKey(text, options.keyFile);
  }
  const value = (options.env ?? process.env)[KEY_ENV];
  if (value === undefined || value.trim() === '') return undefined;
  return parseModelKey(value, KEY_ENV);
}

/** Like loadModelKey, but a missing key is a usage error saying how to give one. */
export async function requireModelKey(options: KeySourceOptions, why: string): Promise<ModelKey> {
  const key = await loadModelKey(options);
  if (!key) {
    throw new SpotmlError('USAGE', `${why} needs the model key: set ${KEY_ENV} (base64 or hex, 32 bytes) or pass --key-file <file>`, { env: KEY_ENV });
  }
  return key;
}

/** Encrypts one file's bytes; `path` (relative, as stored) is bound in as additional data. */
export function encryptArtifact(plain: Uint8Array, key: ModelKey, path: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const header = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION]), Buffer.from(key.id, 'hex'), iv]);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([header, Buffer.from(path, 'utf8')]));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/** The key id recorded in an encrypted file's header, or null when the bytes are not a spotml encrypted file. */
export function encryptedKeyId(blob: Uint8Array): string | null {
  if (blob.length < HEADER_BYTES + TAG_BYTES || !Buffer.from(blob.subarray(0, MAGIC.length)).equals(MAGIC)) return null;
  return Buffer.from(blob.subarray(MAGIC.length + 1, MAGIC.length + 1 + KEY_ID_BYTES)).toString('hex');
}

/**
 * Decrypts and authenticates one file. A wrong key is UNAUTHENTICATED; anything that fails authentication
 * with the right key (a flipped byte anywhere, a swapped or renamed file) is a STORE error. Nothing
 * unauthenticated is ever returned.
 */
export function decryptArtifact(blob: Uint8Array, key: ModelKey, path: string, label: string): Buffer {
  const data = Buffer.from(blob);
  const storedKeyId = encryptedKeyId(data);
  if (storedKeyId === null) {
    throw new SpotmlError('STORE', `${label}: "${path}" is not a spotml encrypted artifact (bad header or too short); refusing to load`, { file: path });
  }
  const version = data[MAGIC.length];
  if (version !== FORMAT_VERSION) {
    throw new SpotmlError('STORE', `${label}: "${path}" uses encryption format ${version}; this spotml reads ${FORMAT_VERSION}`, { file: path });
  }
  if (storedKeyId !== key.id) {
    throw new SpotmlError(
      'UNAUTHENTICATED',
      `${label}: "${path}" was encrypted with key ${storedKeyId}, but the key from ${key.origin} is ${key.id}: use the key the version was registered with`,
      { file: path, expectedKeyId: storedKeyId, keyId: key.id },
    );
  }
  const header = data.subarray(0, HEADER_BYTES);
  const iv = header.subarray(HEADER_BYTES - IV_BYTES);
  const tag = data.subarray(data.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.concat([header, Buffer.from(path, 'utf8')]));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(data.subarray(HEADER_BYTES, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SpotmlError(
      'STORE',
      `${label}: "${path}" fails AES-256-GCM authentication: it was modified or damaged; refusing to load`,
      { file: path },
    );
  }
}
