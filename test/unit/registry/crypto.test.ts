/** AES-256-GCM artifact encryption: round trip, every flipped byte refused, wrong key told apart, keys parsed. */
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpotmlError } from '../../../src/errors.js';
import { decryptArtifact, encryptArtifact, encryptedKeyId, loadModelKey, parseModelKey } from '../../../src/registry/crypto.js';

const keyBytes = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const key = parseModelKey(keyBytes.toString('base64'), 'test');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof SpotmlError ? err.code : 'other';
  }
  return 'none';
}

describe('artifact encryption', () => {
  const plain = Buffer.from(JSON.stringify({ model: 'knn', weights: [1, 2, 3] }));

  it('round-trips and matches an independent decryption of the documented layout', () => {
    const blob = encryptArtifact(plain, key, 'model.json.enc');
    expect(decryptArtifact(blob, key, 'model.json.enc', 'v1')).toEqual(plain);
    // Independent reader: magic(9) version(1) keyId(8) iv(12) | ciphertext | tag(16), AAD = header ‖ path.
    expect(blob.subarray(0, 9).toString('ascii')).toBe('SPOTMLENC');
    expect(blob[9]).toBe(1);
    const header = blob.subarray(0, 30);
    const decipher = createDecipheriv('aes-256-gcm', keyBytes, header.subarray(18, 30));
    decipher.setAAD(Buffer.concat([header, Buffer.from('model.json.enc')]));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    expect(Buffer.concat([decipher.update(blob.subarray(30, blob.length - 16)), decipher.final()])).toEqual(plain);
    // The key id is the first 8 bytes of sha256("spotml-model-key-id\0" ‖ key), never the key.
    const expectedId = createHash('sha256').update('spotml-model-key-id\0').update(keyBytes).digest().subarray(0, 8).toString('hex');
    expect(key.id).toBe(expectedId);
    expect(encryptedKeyId(blob)).toBe(expectedId);
  });

  it('uses a fresh IV per encryption', () => {
    const a = encryptArtifact(plain, key, 'x.enc');
    const b = encryptArtifact(plain, key, 'x.enc');
    expect(a.subarray(18, 30).equals(b.subarray(18, 30))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it('refuses every single flipped byte, anywhere in the file, as a STORE error (or a key mismatch in the key id)', () => {
    const blob = encryptArtifact(plain, key, 'model.json.enc');
    for (let i = 0; i < blob.length; i++) {
      const tampered = Buffer.from(blob);
      tampered[i] ^= 0x01;
      const code = codeOf(() => decryptArtifact(tampered, key, 'model.json.enc', 'v1'));
      // Bytes 10..17 are the key id: flipping one reads as "another key", still refused.
      expect(code, `byte ${i}`).toBe(i >= 10 && i < 18 ? 'UNAUTHENTICATED' : 'STORE');
    }
  });

  it('binds the file path: a renamed or swapped file is refused', () => {
    const blob = encryptArtifact(plain, key, 'model.json.enc');
    expect(codeOf(() => decryptArtifact(blob, key, 'feature-spec.json.enc', 'v1'))).toBe('STORE');
  });

  it('tells a wrong key apart from tampering, naming both key ids', () => {
    const blob = encryptArtifact(plain, key, 'a.enc');
    const other = parseModelKey(randomBytes(32).toString('hex'), 'other');
    let message = '';
    try {
      decryptArtifact(blob, other, 'a.enc', 'v1');
    } catch (err) {
      expect((err as SpotmlError).code).toBe('UNAUTHENTICATED');
      message = (err as Error).message;
    }
    expect(message).toContain(key.id);
    expect(message).toContain(other.id);
  });

  it('refuses truncated and foreign files', () => {
    const blob = encryptArtifact(plain, key, 'a.enc');
    expect(codeOf(() => decryptArtifact(blob.subarray(0, 40), key, 'a.enc', 'v1'))).toBe('STORE');
    expect(codeOf(() => decryptArtifact(blob.subarray(0, blob.length - 1), key, 'a.enc', 'v1'))).toBe('STORE');
    expect(codeOf(() => decryptArtifact(plain, key, 'a.enc', 'v1'))).toBe('STORE');
  });
});

describe('model keys', () => {
  it('reads 32 bytes from hex, base64 and URL-safe base64 alike', () => {
    const hex = parseModelKey(keyBytes.toString('hex'), 'hex');
    const b64 = parseModelKey(keyBytes.toString('base64'), 'b64');
    const url = parseModelKey(keyBytes.toString('base64url'), 'url');
    expect(hex.bytes).toEqual(keyBytes);
    expect(b64.bytes).toEqual(keyBytes);
    expect(url.bytes).toEqual(keyBytes);
    expect(new Set([hex.id, b64.id, url.id]).size).toBe(1);
  });

  it('refuses keys of the wrong length with a usage error', () => {
    expect(codeOf(() => parseModelKey(randomBytes(16).toString('base64'), 'env'))).toBe('USAGE');
    expect(codeOf(() => parseModelKey('not a key!', 'env'))).toBe('USAGE');
  });

  it('takes --key-file (text or raw bytes) over the environment, and the environment otherwise', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotml-key-'));
    const raw = randomBytes(32);
    raw[0] = 0xff; // not text
    await writeFile(join(dir, 'raw.key'), raw);
    await writeFile(join(dir, 'text.key'), `${keyBytes.toString('hex')}\n`);
    const env = { SPOTML_MODEL_KEY: randomBytes(32).toString('base64') };
    expect((await loadModelKey({ keyFile: join(dir, 'raw.key'), env }))?.bytes).toEqual(raw);
    expect((await loadModelKey({ keyFile: join(dir, 'text.key'), env }))?.bytes).toEqual(keyBytes);
    expect((await loadModelKey({ env }))?.bytes).toEqual(Buffer.from(env.SPOTML_MODEL_KEY, 'base64'));
    expect(await loadModelKey({ env: {} })).toBeUndefined();
    await expect(loadModelKey({ keyFile: join(dir, 'missing.key') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
