/**
 * `resolveModel(ref, stores)`: any way of naming a model → a verified, decrypted local package folder.
 *
 *   models:/name@alias, models:/name/N   a registry version: checksums verified against the registry's tag
 *   models:/name/<stage>                 the highest version in that stage (None, Staging, Production,
 *                                        Archived; any case), as MLflow resolves it
 *   models:/name/latest                  the highest version number
 *   runs:/<run id>/<path>, <32-hex id>   a run's artifact (path `model` for a bare id)
 *   <folder>                             a package folder (train --out), used as is
 *
 * Whenever a checksum manifest is present, every file is hashed and only the verified bytes are handed on
 * (written to a private temp folder, decrypted when the version is encrypted), so what is loaded is what
 * was checked. Call `dispose()` when done with the folder.
 *
 * The two halves are exported for callers that look a version up often and load it rarely (serve's hot
 * swap polls `lookupVersion`, then `materialiseVersion` only when the version changed).
 */
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpotmlError } from '../errors.js';
import type { Stores } from '../tracking/open-store.js';
import { MODEL_STAGES, type ModelStage, type ModelVersion } from './store.js';
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

/** A tracking run id as spotml and MLflow write them. */
export const RUN_ID = /^[0-9a-f]{32}$/;

export type RegistryRef =
  | { kind: 'version'; name: string; version: number }
  | { kind: 'alias'; name: string; alias: string }
  | { kind: 'stage'; name: string; stage: ModelStage }
  | { kind: 'latest'; name: string };

export type ModelRef = RegistryRef | { kind: 'run'; runId: string; path: string } | { kind: 'dir'; dir: string };

const MODELS_FORMS = 'models:/<name>@<alias>, models:/<name>/<version number>, models:/<name>/<stage> (None|Staging|Production|Archived) or models:/<name>/latest';

/** Parses a reference; an existing folder wins over a 32-hex run id of the same spelling. */
export function parseModelRef(ref: string): ModelRef {
  if (ref.startsWith('models:/')) return parseModelsUri(ref);
  if (ref.startsWith('runs:/')) {
    const match = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(ref);
    if (!match) throw new SpotmlError('USAGE', `${ref}: use runs:/<run id>/<artifact path>`, { ref });
    return { kind: 'run', runId: match[1], path: (match[2] ?? '').replace(/\/+$/, '') || 'model' };
  }
  if (existsSync(ref) && statSync(ref).isDirectory()) return { kind: 'dir', dir: resolvePath(ref) };
  if (RUN_ID.test(ref)) return { kind: 'run', runId: ref, path: 'model' };
  throw new SpotmlError('NOT_FOUND', `"${ref}" is not a package folder, a run id, runs:/<id>/<path> or models:/<name>@<alias>|/<version>|/<stage>|/latest`, { ref });
}

/**
 * A `models:/` URI, read as MLflow does: after the last "/", digits are a version, `latest` (any case) the
 * highest version, anything else a stage (validated here rather than at lookup, so a typo fails at once).
 */
export function parseModelsUri(ref: string): RegistryRef {
  if (!ref.startsWith('models:/')) throw new SpotmlError('USAGE', `${ref} is not a models:/ URI: use ${MODELS_FORMS}`, { ref });
  const rest = ref.slice('models:/'.length);
  const at = rest.lastIndexOf('@');
  if (at > 0 && at < rest.length - 1) return { kind: 'alias', name: rest.slice(0, at), alias: rest.slice(at + 1) };
  const match = /^(.+)\/([^/@]+)$/.exec(rest);
  if (match) {
    const [, name, last] = match;
    if (/^\d+$/.test(last)) {
      if (Number(last) >= 1) return { kind: 'version', name, version: Number(last) };
    } else if (last.toLowerCase() === 'latest') {
      return { kind: 'latest', name };
    } else {
      const stage = MODEL_STAGES.find((s) => s.toLowerCase() === last.toLowerCase());
      if (stage) return { kind: 'stage', name, stage };
    }
  }
  throw new SpotmlError('USAGE', `${ref}: use ${MODELS_FORMS}`, { ref });
}

/** The version a registry reference names right now (a registry read only; the artifacts are not touched). */
export async function lookupVersion(stores: Stores, ref: RegistryRef): Promise<ModelVersion> {
  const { registry } = stores;
  switch (ref.kind) {
    case 'version':
      return registry.getModelVersion(ref.name, ref.version);
    case 'alias':
      return registry.getModelVersionByAlias(ref.name, ref.alias);
    case 'stage': {
      const [found] = await registry.getLatestVersions(ref.name, [ref.stage]);
      if (!found) {
        throw new SpotmlError('NOT_FOUND', `registered model "${ref.name}" has no version in stage ${ref.stage}: move one there with spotml promote ${ref.name} --version <n> --stage ${ref.stage}`, {
          name: ref.name,
          stage: ref.stage,
        });
      }
      return found;
    }
    case 'latest': {
      // MLflow's models:/name/latest: the highest version over every stage's latest.
      const latest = (await registry.getLatestVersions(ref.name)).reduce<ModelVersion | null>((best, v) => (best === null || v.version > best.version ? v : best), null);
      if (!latest) throw new SpotmlError('NOT_FOUND', `registered model "${ref.name}" has no versions: register one with spotml register`, { name: ref.name });
      return latest;
    }
  }
}

export async function resolveModel(ref: string, stores: Stores, options: ResolveOptions = {}): Promise<ResolvedPackage> {
  const parsed = parseModelRef(ref);
  if (parsed.kind === 'dir') return resolvePackageDir(parsed.dir, options);
  if (parsed.kind === 'run') {
    const local = await fetchRunArtifact(stores, parsed.runId, parsed.path);
    return materialise(local.dir, null, { name: null, version: null, alias: null, runId: parsed.runId, source: `runs:/${parsed.runId}/${parsed.path}` }, options, local.cleanup);
  }
  const version = await lookupVersion(stores, parsed);
  return materialiseVersion(stores, parsed.name, version, options, parsed.kind === 'alias' ? parsed.alias : null);
}

/** A package folder: verified (and decrypted) into a private copy when it has a checksum manifest, else used in place. */
export function resolvePackageDir(dir: string, options: ResolveOptions = {}): Promise<ResolvedPackage> {
  return materialise(dir, null, { name: null, version: null, alias: null, runId: null, source: dir }, options);
}

/** One registry version's artifacts, verified against its checksum tag and decrypted into a private folder. */
export async function materialiseVersion(stores: Stores, name: string, version: ModelVersion, options: ResolveOptions = {}, alias: string | null = null): Promise<ResolvedPackage> {
  const digest = version.tags[CHECKSUMS_TAG];
  if (!digest) {
    throw new SpotmlError(
      'STORE',
      `version ${version.version} of "${name}" has no ${CHECKSUMS_TAG} tag, so its artifacts cannot be verified: register it with spotml register`,
      { name, version: version.version },
    );
  }
  const local = await versionArtifactDir(stores, version);
  return materialise(
    local.dir,
    digest,
    { name, version: version.version, alias, runId: version.runId, source: version.source },
    options,
    local.cleanup,
    `${name} version ${version.version}`,
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
