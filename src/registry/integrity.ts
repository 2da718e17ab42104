/**
 * Integrity of a model version's artifact folder: a sha256 manifest (`checksums.json`) of every file, written
 * at register time, and the manifest's own digest kept as a version tag in the registry. Loading re-hashes
 * every byte it hands out, so a changed, missing or added file is refused with the file named.
 *
 * The manifest hashes the bytes as stored (ciphertext for an encrypted version), so integrity can be checked
 * without the key; AES-GCM then authenticates the plaintext on decryption as a second, independent layer.
 */
import { constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, readFile, readdir, realpath } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { SpotmlError } from '../errors.js';

export const CHECKSUMS_FILE = 'checksums.json';
/** Version tag holding sha256 of checksums.json: editing the manifest to match a tampered file is caught too. */
export const CHECKSUMS_TAG = 'spotml.checksums_sha256';
export const MANIFEST_FORMAT = 'spotml.checksums';
export const MANIFEST_FORMAT_VERSION = 1;
/** writeFileAtomic's in-flight temp files: another process may be writing the manifest right now. */
const ATOMIC_TEMP = /^\.[0-9a-f]{12}\.tmp$/;

export interface EncryptionInfo {
  algorithm: 'AES-256-GCM';
  keyId: string;
}

export interface ChecksumManifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: typeof MANIFEST_FORMAT_VERSION;
  algorithm: 'sha256';
  /** null for a plaintext version. */
  encryption: EncryptionInfo | null;
  /** Relative POSIX path → sha256 hex of the stored bytes, sorted by path. */
  files: Record<string, string>;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Every regular file under `dir` as sorted relative POSIX paths, the manifest itself and in-flight atomic-write
 * temp files excluded (those are never loaded either: only files the manifest lists are handed on).
 */
export async function listArtifactFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    throw new SpotmlError('NOT_FOUND', `artifact folder ${dir} cannot be read; check the path or the version's source`, { dir });
  }
  const out: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || ATOMIC_TEMP.test(entry.name)) continue;
    const parent = (entry as unknown as { parentPath?: string; path?: string }).parentPath ?? (entry as unknown as { path: string }).path;
    const rel = relative(dir, join(parent, entry.name)).split(sep).join('/');
    if (rel !== CHECKSUMS_FILE) out.push(rel);
  }
  return out.sort();
}

/** The manifest as written: stable key order, so the same files always give the same digest. */
export function manifestText(manifest: ChecksumManifest): string {
  const files: Record<string, string> = {};
  for (const path of Object.keys(manifest.files).sort()) files[path] = manifest.files[path];
  return `${JSON.stringify({ ...manifest, files }, null, 2)}\n`;
}

/** Hashes every file of `dir` (the bytes as stored). */
export async function buildManifest(dir: string, encryption: EncryptionInfo | null): Promise<ChecksumManifest> {
  const files: Record<string, string> = {};
  for (const path of await listArtifactFiles(dir)) files[path] = sha256Hex(await readFile(join(dir, path)));
  if (Object.keys(files).length === 0) throw new SpotmlError('INVALID_INPUT', `${dir} holds no files to register`, { dir });
  return { format: MANIFEST_FORMAT, formatVersion: MANIFEST_FORMAT_VERSION, algorithm: 'sha256', encryption, files };
}

export function parseManifest(text: string, where: string): ChecksumManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new SpotmlError('STORE', `${where}/${CHECKSUMS_FILE} is not valid JSON: the version's artifacts are damaged; re-register the model`, { where });
  }
  const m = data as Partial<ChecksumManifest> | null;
  const filesOk = m !== null && typeof m.files === 'object' && m.files !== null && Object.values(m.files).every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));
  if (!m || m.format !== MANIFEST_FORMAT || m.formatVersion !== MANIFEST_FORMAT_VERSION || m.algorithm !== 'sha256' || !filesOk) {
    throw new SpotmlError('STORE', `${where}/${CHECKSUMS_FILE} is not a spotml checksum manifest (format ${MANIFEST_FORMAT} v${MANIFEST_FORMAT_VERSION})`, { where });
  }
  for (const path of Object.keys(m.files as Record<string, string>)) checkRelativePath(path, where);
  return m as ChecksumManifest;
}

export interface VerifiedArtifacts {
  manifest: ChecksumManifest;
  /** sha256 of checksums.json as stored. */
  digest: string;
  /** The verified bytes, by relative path: callers use these, never a second read of the file. */
  files: Map<string, Buffer>;
}

/**
 * Reads and checks every file of an artifact folder against its manifest (and the manifest against
 * `expectedDigest`, the registry's tag, when given). Any difference is a STORE error naming the file.
 */
export async function verifyArtifacts(dir: string, expectedDigest: string | null, label = dir): Promise<VerifiedArtifacts> {
  let text: Buffer;
  try {
    text = await readFile(join(dir, CHECKSUMS_FILE));
  } catch {
    throw new SpotmlError('STORE', `${label} has no ${CHECKSUMS_FILE}: its integrity cannot be checked; re-register the model with spotml register`, { file: CHECKSUMS_FILE });
  }
  const digest = sha256Hex(text);
  if (expectedDigest !== null && digest !== expectedDigest) {
    throw new SpotmlError(
      'STORE',
      `${label}: ${CHECKSUMS_FILE} does not match the digest recorded in the registry (sha256 ${digest.slice(0, 12)}…, expected ${expectedDigest.slice(0, 12)}…): the artifacts were modified; refusing to load`,
      { file: CHECKSUMS_FILE, expected: expectedDigest, actual: digest },
    );
  }
  const manifest = parseManifest(text.toString('utf8'), label);
  const present = await listArtifactFiles(dir);
  const extra = present.filter((p) => !(p in manifest.files));
  if (extra.length > 0) {
    throw new SpotmlError('STORE', `${label}: file "${extra[0]}" is not in ${CHECKSUMS_FILE}: something was added after registration; refusing to load`, { file: extra[0] });
  }
  const files = new Map<string, Buffer>();
  const realDir = await realpath(dir);
  for (const [path, expected] of Object.entries(manifest.files)) {
    const bytes = await readListedFile(dir, realDir, path, label);
    const actual = sha256Hex(bytes);
    if (actual !== expected) {
      throw new SpotmlError(
        'STORE',
        `${label}: file "${path}" fails its sha256 check (${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…): it was modified or damaged; refusing to load`,
        { file: path, expected, actual },
      );
    }
    files.set(path, bytes);
  }
  return { manifest, digest, files };
}

/**
 * One listed file's bytes, only when it is a regular file inside the folder: a symlink (the file or a folder on
 * its way) could hand over bytes from elsewhere, and a FIFO or device would hang or never end the read.
 * O_NOFOLLOW and O_NONBLOCK make the open itself refuse a swapped-in symlink and not wait on a FIFO.
 */
async function readListedFile(dir: string, realDir: string, path: string, label: string): Promise<Buffer> {
  const full = join(dir, path);
  const refuse = (why: string): SpotmlError =>
    new SpotmlError('STORE', `${label}: file "${path}" listed in ${CHECKSUMS_FILE} ${why}; refusing to load (re-register the model from a plain folder)`, { file: path });
  let resolved: string;
  try {
    resolved = await realpath(full);
  } catch {
    throw new SpotmlError('STORE', `${label}: file "${path}" listed in ${CHECKSUMS_FILE} is missing; refusing to load`, { file: path });
  }
  if (resolved !== join(realDir, path)) throw refuse('is a symbolic link or lies under one');
  let handle;
  try {
    handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    throw refuse('cannot be opened as a plain file');
  }
  try {
    let bytes: Buffer | null;
    try {
      bytes = (await handle.stat()).isFile() ? await handle.readFile() : null;
    } catch {
      throw refuse('cannot be read');
    }
    if (bytes === null) throw refuse('is not a regular file');
    return bytes;
  } finally {
    await handle.close();
  }
}

/** Manifest paths are relative and stay inside the folder (a crafted manifest cannot point elsewhere). */
function checkRelativePath(path: string, where: string): void {
  const parts = path.split('/');
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new SpotmlError('STORE', `${where}/${CHECKSUMS_FILE} lists an unsafe path "${path}"; refusing to load`, { file: path });
  }
}
