/**
 * `resolveModel(ref, stores)`: any way of naming a model → a verified, decrypted local package folder.
 *
 *   models:/name@alias, models:/name/N   a registry version: checksums verified against the registry's tag
 *   runs:/<run id>/<path>, <32-hex id>   a run's artifact (path `model` for a bare id)
 *   <folder>                             a package folder (train --out), used as is
 *
 * Whenever a checksum manifest is present, every file is hashed and only the verified bytes are handed on
 * (written to a private temp folder, decrypted when the version is encrypted), so what is loaded is what
 * was checked. Call `dispose()` when done with the folder.
 */
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpotmlError } from '../errors.js';
import type { Stores } from '../tracking/open-store.js';
import type { ModelVersion } from './store.js';
import { CHECKSUMS_FILE, CHECKSUMS_TAG, verifyArtifacts } from './integrity.js';
import { ENCRYPTED_SUFFIX, decryptArtifact, loadModelKey, type KeySourceOptions, type ModelKey } from './crypto.js';

export interface ResolvedPackage {
  /** The package folder to read (MLmodel, model.json, …). */
  dir: string;
  /** Registry name (without tenant prefix), or null for runs and folders. */
  name: string | null;
  version: number | null;
  alias: string | null;
  runId: string | null;
  /** Where the artifacts came from (the version's source, run artifact or folder). */
  source: string;
  /** True when every file was checked against a checksum manifest. */
  verified: boolean;
  encrypted: boolean;
  /** Removes the private temp folder, if one was made. */
  dispose(): Promise<void>;
}

export interface ResolveOptions extends KeySourceOptions {
  /** An already loaded key (wins over keyFile/env). */
  key?: ModelKey;
}

const RUN_ID = /^[0-9a-f]{32}$/;

export type ModelRef =
  | { kind: 'version'; name: string; version: number }
  | { kind: 'alias'; name: string; alias: string }
  | { kind: 'run'; runId: string; path: string }
  | { kind: 'dir'; dir: string };

/** Parses a reference; an existing folder wins over a 32-hex run id of the same spelling. */
export function parseModelRef(ref: string): ModelRef {
  if (ref.startsWith('models:/')) {
    const rest = ref.slice('models:/'.length);
    const at = rest.lastIndexOf('@');
    if (at > 0 && at < rest.length - 1) return { kind: 'alias', name: rest.slice(0, at), alias: rest.slice(at + 1) };
    const match = /^(.+)\/(\d+)$/.exec(rest);
    if (match && Number(match[2]) >= 1) return { kind: 'version', name: match[1], version: Number(match[2]) };
    throw new SpotmlError('USAGE', `${ref}: use models:/<name>@<alias> or models:/<name>/<version number>`, { ref });
  }
  if (ref.startsWith('runs:/')) {
    const match = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(ref);
    if (!match) throw new SpotmlError('USAGE', `${ref}: use runs:/<run id>/<artifact path>`, { ref });
    return { kind: 'run', runId: match[1], path: (match[2] ?? '').replace(/\/+$/, '') || 'model' };
  }
  if (existsSync(ref) && statSync(ref).isDirectory()) return { kind: 'dir', dir: resolvePath(ref) };
  if (RUN_ID.test(ref)) return { kind: 'run', runId: ref, path: 'model' };
  throw new SpotmlError('NOT_FOUND', `"${ref}" is not a package folder, a run id, runs:/<id>/<path> or models:/<name>@<alias>|/<version>`, { ref });
}

export async function resolveModel(ref: string, stores: Stores, options: ResolveOptions = {}): Promise<ResolvedPackage> {
  const parsed = parseModelRef(ref);
  if (parsed.kind === 'dir') return materialise(parsed.dir, null, { name: null, version: null, alias: null, runId: null, source: parsed.dir }, options);
  if (parsed.kind === 'run') {
    const local = await fetchRunArtifact(stores, parsed.runId, parsed.path);
    return materialise(local.dir, null, { name: null, version: null, alias: null, runId: parsed.runId, source: `runs:/${parsed.runId}/${parsed.path}` }, options, local.cleanup);
  }
  const version =
    parsed.kind === 'alias' ? await stores.registry.getModelVersionByAlias(parsed.name, parsed.alias) : await stores.registry.getModelVersion(parsed.name, parsed.version);
  const digest = version.tags[CHECKSUMS_TAG];
  if (!digest) {
    throw new SpotmlError(
      'STORE',
      `version ${version.version} of "${parsed.name}" has no ${CHECKSUMS_TAG} tag, so its artifacts cannot be verified: register it with spotml register`,
      { name: parsed.name, version: version.version },
    );
  }
  const local = await versionArtifactDir(stores, version);
  return materialise(
    local.dir,
    digest,
    { name: parsed.name, version: version.version, alias: parsed.kind === 'alias' ? parsed.alias : null, runId: version.runId, source: version.source },
    options,
    local.cleanup,
    `${parsed.name} version ${version.version}`,
  );
}

interface LocalArtifacts {
  dir: string;
  cleanup: () => Promise<void>;
}

const noCleanup = async (): Promise<void> => {};

/** A run artifact as a local folder (in place for the file store, downloaded for REST). */
async function fetchRunArtifact(stores: Stores, runId: string, path: string): Promise<LocalArtifacts> {
  if (stores.kind === 'file') return { dir: await stores.tracking.downloadArtifact(runId, path), cleanup: noCleanup };
  const temp = await mkdtemp(join(tmpdir(), 'spotml-download-'));
  const cleanup = (): Promise<void> => rm(temp, { recursive: true, force: true });
  try {
    return { dir: await stores.tracking.downloadArtifact(runId, path, join(temp, 'artifacts')), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Where a version's artifacts are: under its run when the source lies in the run's artifact root, else the source URI. */
export async function versionArtifactDir(stores: Stores, version: ModelVersion): Promise<LocalArtifacts> {
  const source = version.source;
  const runs = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
  if (runs) return fetchRunArtifact(stores, runs[1], runs[2] || 'model');
  if (version.runId) {
    const root = (await stores.tracking.getRun(version.runId)).info.artifactUri.replace(/\/+$/, '');
    if (source.startsWith(`${root}/`)) return fetchRunArtifact(stores, version.runId, source.slice(root.length + 1));
  }
  if (/^file:/i.test(source)) return { dir: fileURLToPath(source.startsWith('file://') ? source : `file://${source.slice(5)}`), cleanup: noCleanup };
  if (/^[a-z][a-z0-9+.-]+:/i.test(source)) {
    throw new SpotmlError('USAGE', `version ${version.version} of "${version.name}" has source ${source}, which spotml cannot fetch; register a run artifact or a local folder`, { source });
  }
  return { dir: resolvePath(source), cleanup: noCleanup };
}

/**
 * Verified + decrypted copy when the folder has a manifest; the folder itself when it has none (a plain
 * `train --out` package). A registry version always has a manifest (expectedDigest is set).
 */
async function materialise(
  dir: string,
  expectedDigest: string | null,
  facts: Pick<ResolvedPackage, 'name' | 'version' | 'alias' | 'runId' | 'source'>,
  options: ResolveOptions,
  cleanupSource: () => Promise<void> = noCleanup,
  label = facts.source,
): Promise<ResolvedPackage> {
  try {
    if (expectedDigest === null && !existsSync(join(dir, CHECKSUMS_FILE))) {
      return { ...facts, dir, verified: false, encrypted: false, dispose: cleanupSource };
    }
    const verified = await verifyArtifacts(dir, expectedDigest, label);
    const encryption = verified.manifest.encryption;
    const key = encryption ? (options.key ?? (await loadModelKey(options))) : undefined;
    if (encryption && !key) {
      throw new SpotmlError(
        'USAGE',
        `${label} is encrypted (key ${encryption.keyId}): set SPOTML_MODEL_KEY or pass --key-file with the key it was registered with`,
        { keyId: encryption.keyId },
      );
    }
    const out = await mkdtemp(join(tmpdir(), 'spotml-model-'));
    await chmod(out, 0o700);
    try {
      for (const [path, bytes] of verified.files) {
        let name = path;
        let content: Buffer = bytes;
        if (encryption && key) {
          if (!path.endsWith(ENCRYPTED_SUFFIX)) {
            throw new SpotmlError('STORE', `${label}: "${path}" is not encrypted in an encrypted version; refusing to load`, { file: path });
          }
          content = decryptArtifact(bytes, key, path, label);
          name = path.slice(0, -ENCRYPTED_SUFFIX.length);
        }
        await mkdir(dirname(join(out, name)), { recursive: true });
        await writeFile(join(out, name), content, { mode: 0o600 });
      }
    } catch (err) {
      await rm(out, { recursive: true, force: true });
      throw err;
    }
    await cleanupSource();
    return {
      ...facts,
      dir: out,
      verified: true,
      encrypted: encryption !== null,
      dispose: () => rm(out, { recursive: true, force: true }),
    };
  } catch (err) {
    await cleanupSource();
    throw err;
  }
}
