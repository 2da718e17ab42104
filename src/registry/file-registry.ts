/**
 * MLflow's model-registry file store under `<mlruns>/models/` (shared docs/mlflow.md §3), so `mlflow ui`
 * and MLflow's Python client read what spotml registers:
 *
 *   models/<name>/meta.yaml                 registered model (name, timestamps, description, informational aliases)
 *   models/<name>/tags/<key>                raw value, no newline
 *   models/<name>/aliases/<alias>           the version number, no newline (the source of truth for aliases)
 *   models/<name>/version-<n>/meta.yaml     model version (version as an int, current_stage, source, …)
 *   models/<name>/version-<n>/tags/<key>
 *
 * Every mutation runs under one registry lock (`.trash/.spotml-registry.lock`, a file MLflow never reads),
 * writes each file atomically, moves the model's last_updated_timestamp and appends one JSON line to the
 * audit log. Version numbers come from the folders on disk (max + 1) read under the lock, so concurrent
 * processes get distinct numbers and a deleted version's number is never reused.
 *
 * The audit log is `<mlruns>/spotml-audit.jsonl`: a FILE at the root, because MLflow treats every extra
 * FOLDER in the root as an experiment (and lists only subfolders, so a file is invisible to it). It is
 * append-only: one line per mutation with who, when, what, and the state before and after.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { SpotmlError } from '../errors.js';
import { withLock, writeFileAtomic } from '../tracking/fs-atomic.js';
import { dumpYaml, loadYaml, validateKey } from '../tracking/file-store/codec.js';
import { FileStore, readKeyFiles } from '../tracking/file-store/index.js';
import {
  MAX_REGISTRY_TAG_VALUE,
  MODEL_STAGES,
  canonicalStage,
  checkArchiveExisting,
  checkMaxResults,
  latestPerStage,
  likeToRegExp,
  pageOf,
  validateAlias,
  validateModelName,
  validateVersion,
} from './store.js';
import type {
  CreateModelVersionOptions,
  ModelStage,
  ModelVersion,
  ModelVersionStatus,
  Page,
  RegisteredModel,
  RegistryStore,
  SearchModelVersionsQuery,
  SearchRegisteredModelsQuery,
} from './store.js';

/** The audit log's file name at the store root (see the module comment for why a file, not a folder). */
export const AUDIT_LOG_FILE = 'spotml-audit.jsonl';
const DELETED_STAGE = 'Deleted_Internal';
const VERSION_DIR = /^version-(\d+)$/;
const PENDING_PREFIX = '.pending-version-';
const MODEL_PENDING_PREFIX = '.spotml-pending-model-';

export interface AuditEntry {
  /** ISO-8601 time of the mutation. */
  time: string;
  user: string;
  /** e.g. "registered_model.create", "model_version.transition_stage", "alias.set". */
  action: string;
  model: string;
  version?: number;
  alias?: string;
  key?: string;
  before: unknown;
  after: unknown;
}

export interface FileRegistryOptions {
  /** Who is recorded in the audit log; default $SPOTML_USER or the OS user. */
  user?: string;
  /** Clock (ms); injectable for tests. */
  now?: () => number;
  lockTimeoutMs?: number;
}

export class FileRegistry implements RegistryStore {
  readonly root: string;
  readonly location: string;
  private readonly modelsDir: string;
  private readonly user: string;
  private readonly now: () => number;
  private readonly lockTimeoutMs: number;
  private initialised = false;

  constructor(root: string, options: FileRegistryOptions = {}) {
    this.root = resolve(root);
    this.modelsDir = join(this.root, 'models');
    this.location = this.modelsDir;
    this.user = options.user ?? process.env.SPOTML_USER ?? osUser();
    this.now = options.now ?? Date.now;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  }

  get auditLogPath(): string {
    return join(this.root, AUDIT_LOG_FILE);
  }

  // ---- registered models ----

  async createRegisteredModel(name: string, options: { description?: string; tags?: Record<string, string> } = {}): Promise<RegisteredModel> {
    validateModelName(name);
    const tags = options.tags ?? {};
    for (const [key, value] of Object.entries(tags)) validateTag(key, value);
    return this.mutate('registered_model.create', { model: name }, async () => {
      const dir = this.modelDir(name);
      if (existsSync(join(dir, 'meta.yaml'))) {
        throw new SpotmlError('INVALID_INPUT', `registered model "${name}" already exists; pick another name or add a version to it`, { name });
      }
      // Built outside models/ and renamed in: MLflow reads every folder under models/ and raises on one
      // without meta.yaml. A folder left there by a crash (no meta.yaml) was never a model: replace it.
      await removeAbandoned(join(this.root, '.trash'), MODEL_PENDING_PREFIX);
      const staging = join(this.root, '.trash', `${MODEL_PENDING_PREFIX}${randomBytes(6).toString('hex')}`);
      await mkdir(staging, { recursive: true });
      const now = this.now();
      await writeFileAtomic(
        join(staging, 'meta.yaml'),
        dumpYaml({ aliases: {}, creation_timestamp: now, description: options.description || null, last_updated_timestamp: now, name }),
      );
      for (const [key, value] of Object.entries(tags)) await writeFileAtomic(join(staging, 'tags', key), value);
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
      const after = await this.readModel(name);
      return { result: after, before: null, after };
    });
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    return this.readModel(name);
  }

  async searchRegisteredModels(query: SearchRegisteredModelsQuery = {}): Promise<Page<RegisteredModel>> {
    const maxResults = checkMaxResults(query.maxResults, 100, 1000);
    const like = query.nameLike !== undefined ? likeToRegExp(query.nameLike) : undefined;
    const matches: RegisteredModel[] = [];
    for (const name of await this.modelNames()) {
      if (query.name !== undefined && name !== query.name) continue;
      if (like && !like.test(name)) continue;
      let model: RegisteredModel;
      try {
        model = await this.readModel(name);
      } catch {
        continue; // deleted meanwhile or unreadable: skipped, as MLflow does
      }
      if (!tagsMatch(model.tags, query.tags)) continue;
      matches.push(model);
    }
    return pageOf(matches, maxResults, query.pageToken);
  }

  async updateRegisteredModel(name: string, description: string): Promise<RegisteredModel> {
    validateModelName(name);
    return this.mutate('registered_model.update', { model: name }, async () => {
      const before = await this.readModel(name);
      await this.patchModelMeta(name, { description: description || null });
      const after = await this.readModel(name);
      return { result: after, before: pickModel(before), after: pickModel(after) };
    });
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    validateModelName(name);
    await this.mutate('registered_model.delete', { model: name }, async () => {
      const before = await this.readModel(name);
      await rm(this.modelDir(name), { recursive: true, force: true });
      return { result: undefined, before: pickModel(before), after: null };
    });
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    validateModelName(name);
    validateTag(key, value);
    await this.mutate('registered_model.set_tag', { model: name, key }, async () => {
      const before = await this.readModel(name);
      await writeFileAtomic(join(this.modelDir(name), 'tags', key), value);
      await this.patchModelMeta(name, {});
      return { result: undefined, before: before.tags[key] ?? null, after: value };
    });
  }

  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    validateModelName(name);
    validateKey('tag', key);
    await this.mutate('registered_model.delete_tag', { model: name, key }, async () => {
      const before = await this.readModel(name);
      if (before.tags[key] === undefined) return { result: undefined, before: null, after: null, unchanged: true };
      await rm(join(this.modelDir(name), 'tags', key), { force: true });
      await this.patchModelMeta(name, {});
      return { result: undefined, before: before.tags[key], after: null };
    });
  }

  // ---- versions ----

  async createModelVersion(name: string, source: string, options: CreateModelVersionOptions = {}): Promise<ModelVersion> {
    validateModelName(name);
    if (source.trim() === '') throw new SpotmlError('INVALID_INPUT', `model version source for "${name}" is empty: pass the artifact URI of the model`, { name });
    const tags = options.tags ?? {};
    for (const [key, value] of Object.entries(tags)) validateTag(key, value);
    return this.mutate('model_version.create', { model: name }, async () => {
      await this.readModelMeta(name); // NOT_FOUND when the model does not exist
      const dir = this.modelDir(name);
      // Built under a name MLflow and spotml both ignore, then renamed into place: a crash leaves no
      // version-N folder or a complete one (MLflow's file store raises on a version-* folder without meta.yaml).
      await removeAbandoned(dir, PENDING_PREFIX); // under the lock, any pending folder is a crashed writer's
      const staging = join(dir, `${PENDING_PREFIX}${randomBytes(6).toString('hex')}`);
      await mkdir(staging);
      for (const [key, value] of Object.entries(tags)) await writeFileAtomic(join(staging, 'tags', key), value);
      const now = this.now();
      let version = (await this.versionNumbersOnDisk(name)).reduce((a, b) => Math.max(a, b), 0) + 1;
      for (;;) {
        await writeFileAtomic(
          join(staging, 'meta.yaml'),
          dumpYaml({
            aliases: [],
            creation_timestamp: now,
            current_stage: 'None',
            description: options.description || null,
            last_updated_timestamp: now,
            name,
            run_id: options.runId ?? null,
            run_link: options.runLink ?? null,
            source,
            status: 'READY',
            status_message: null,
            storage_location: source,
            user_id: null,
            version,
          }),
        );
        try {
          await rename(staging, join(dir, `version-${version}`)); // fails with ENOTEMPTY when version-N holds anything
          break;
        } catch (err) {
          // Taken by a writer that does not use the lock (e.g. MLflow itself): take the next number.
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' && (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
          version += 1;
        }
      }
      await this.patchModelMeta(name, {}, now);
      const after = await this.readVersion(name, version);
      return { result: after, before: null, after, version };
    });
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion> {
    validateModelName(name);
    validateVersion(version);
    return this.readVersion(name, version);
  }

  async searchModelVersions(query: SearchModelVersionsQuery = {}): Promise<Page<ModelVersion>> {
    const maxResults = checkMaxResults(query.maxResults, 1000, 200_000);
    if (query.name !== undefined) validateModelName(query.name);
    const names = query.name !== undefined ? (existsSync(this.modelDir(query.name)) ? [query.name] : []) : await this.modelNames();
    const matches: ModelVersion[] = [];
    for (const name of names) {
      const versions = (await this.readVersions(name)).sort((a, b) => b.version - a.version);
      for (const v of versions) {
        if (query.runId !== undefined && v.runId !== query.runId) continue;
        if (!tagsMatch(v.tags, query.tags)) continue;
        matches.push(v);
      }
    }
    return pageOf(matches, maxResults, query.pageToken);
  }

  async updateModelVersion(name: string, version: number, description: string): Promise<ModelVersion> {
    return this.mutateVersion('model_version.update', name, version, {}, async () => {
      await this.patchVersionMeta(name, version, { description: description || null });
    });
  }

  async deleteModelVersion(name: string, version: number): Promise<void> {
    validateModelName(name);
    validateVersion(version);
    await this.mutate('model_version.delete', { model: name, version }, async () => {
      const before = await this.readVersion(name, version);
      const now = this.now();
      for (const alias of before.aliases) await rm(join(this.modelDir(name), 'aliases', alias), { force: true });
      await this.patchVersionMeta(name, version, { current_stage: DELETED_STAGE }, now);
      await this.patchModelMeta(name, {}, now);
      return { result: undefined, before, after: { name, version, currentStage: DELETED_STAGE } };
    });
  }

  async setModelVersionTag(name: string, version: number, key: string, value: string): Promise<void> {
    validateTag(key, value);
    await this.mutateVersion('model_version.set_tag', name, version, { key }, async () => {
      await writeFileAtomic(join(this.modelDir(name), `version-${version}`, 'tags', key), value);
      await this.patchVersionMeta(name, version, {});
    });
  }

  async deleteModelVersionTag(name: string, version: number, key: string): Promise<void> {
    validateKey('tag', key);
    await this.mutateVersion('model_version.delete_tag', name, version, { key }, async (before) => {
      if (before.tags[key] === undefined) return false;
      await rm(join(this.modelDir(name), `version-${version}`, 'tags', key), { force: true });
      await this.patchVersionMeta(name, version, {});
      return true;
    });
  }

  async getModelVersionDownloadUri(name: string, version: number): Promise<string> {
    validateModelName(name);
    validateVersion(version);
    const { meta } = await this.readVersionMeta(name, version);
    return String(meta.storage_location ?? meta.source ?? '');
  }

  // ---- aliases ----

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    validateVersion(version);
    await this.mutate('alias.set', { model: name, alias, version }, async () => {
      await this.readVersion(name, version); // NOT_FOUND for a missing or deleted version
      const aliases = await this.readAliases(name);
      await writeFileAtomic(join(this.modelDir(name), 'aliases', alias), String(version));
      await this.patchModelMeta(name, {});
      return { result: undefined, before: aliases[alias] ?? null, after: version };
    });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    await this.mutate('alias.delete', { model: name, alias }, async () => {
      await this.readModelMeta(name);
      const aliases = await this.readAliases(name);
      if (aliases[alias] === undefined) return { result: undefined, before: null, after: null, unchanged: true };
      await rm(join(this.modelDir(name), 'aliases', alias), { force: true });
      await this.patchModelMeta(name, {});
      return { result: undefined, before: aliases[alias], after: null };
    });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    validateModelName(name);
    validateAlias(alias);
    await this.readModelMeta(name);
    const version = (await this.readAliases(name))[alias];
    if (version === undefined) {
      throw new SpotmlError('NOT_FOUND', `registered model "${name}" has no alias "${alias}"; set it with spotml promote ${name} --version <n> --alias ${alias}`, { name, alias });
    }
    return this.readVersion(name, version);
  }

  // ---- stages ----

  async transitionStage(name: string, version: number, stage: ModelStage | string, archiveExistingVersions: boolean): Promise<ModelVersion> {
    const target = canonicalStage(stage);
    checkArchiveExisting(target, archiveExistingVersions);
    return this.mutateVersion('model_version.transition_stage', name, version, {}, async () => {
      const now = this.now();
      if (archiveExistingVersions) {
        for (const other of await this.readVersions(name)) {
          if (other.version !== version && other.currentStage === target) {
            await this.patchVersionMeta(name, other.version, { current_stage: 'Archived' }, now);
          }
        }
      }
      await this.patchVersionMeta(name, version, { current_stage: target }, now);
    });
  }

  async getLatestVersions(name: string, stages?: readonly string[]): Promise<ModelVersion[]> {
    validateModelName(name);
    await this.readModelMeta(name);
    return latestPerStage(await this.readVersions(name), stages);
  }

  // ---- reading ----

  private modelDir(name: string): string {
    return join(this.modelsDir, name);
  }

  private async modelNames(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.modelsDir, { withFileTypes: true });
    } catch {
      return [];
    }
    return entries
      .filter((e) => e.isDirectory() && existsSync(join(this.modelsDir, e.name, 'meta.yaml')))
      .map((e) => e.name)
      .sort(compareStrings);
  }

  private async readModelMeta(name: string): Promise<Record<string, unknown>> {
    const file = join(this.modelDir(name), 'meta.yaml');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new SpotmlError('NOT_FOUND', `registered model "${name}" does not exist in ${this.modelsDir}; register a version with spotml register <run id or folder> --name ${name} (spotml models list shows the names)`, { name });
    }
    return loadYaml(text, file);
  }

  /** The aliases folder is the source of truth; the `aliases:` key in meta.yaml is ignored on read. */
  private async readAliases(name: string): Promise<Record<string, number>> {
    const files = await readKeyFiles(join(this.modelDir(name), 'aliases'));
    const out: Record<string, number> = {};
    for (const [alias, text] of Object.entries(files)) {
      const version = Number(text.trim());
      if (Number.isSafeInteger(version) && version >= 1) out[alias] = version;
    }
    return out;
  }

  private async readModel(name: string): Promise<RegisteredModel> {
    const meta = await this.readModelMeta(name);
    const versions = await this.readVersions(name);
    return {
      name: String(meta.name ?? name),
      creationTimestamp: toInt(meta.creation_timestamp),
      lastUpdatedTimestamp: toInt(meta.last_updated_timestamp),
      description: typeof meta.description === 'string' ? meta.description : '',
      tags: await readKeyFiles(join(this.modelDir(name), 'tags')),
      aliases: sortKeys(await this.readAliases(name)),
      latestVersions: latestPerStage(versions),
    };
  }

  private async versionNumbersOnDisk(name: string): Promise<number[]> {
    let entries;
    try {
      entries = await readdir(this.modelDir(name), { withFileTypes: true });
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const e of entries) {
      const match = e.isDirectory() ? VERSION_DIR.exec(e.name) : null;
      if (match) out.push(Number(match[1]));
    }
    return out;
  }

  private async readVersionMeta(name: string, version: number): Promise<{ meta: Record<string, unknown>; file: string }> {
    const file = join(this.modelDir(name), `version-${version}`, 'meta.yaml');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      await this.readModelMeta(name); // a missing model is reported as such
      throw new SpotmlError('NOT_FOUND', `registered model "${name}" has no version ${version}`, { name, version });
    }
    const meta = loadYaml(text, file);
    if (meta.current_stage === DELETED_STAGE) {
      throw new SpotmlError('NOT_FOUND', `version ${version} of registered model "${name}" was deleted`, { name, version });
    }
    return { meta, file };
  }

  private async readVersion(name: string, version: number, aliases?: Record<string, number>): Promise<ModelVersion> {
    const { meta } = await this.readVersionMeta(name, version);
    const byAlias = aliases ?? (await this.readAliases(name));
    return decodeVersion(
      meta,
      name,
      version,
      await readKeyFiles(join(this.modelDir(name), `version-${version}`, 'tags')),
      Object.keys(byAlias)
        .filter((a) => byAlias[a] === version)
        .sort(compareStrings),
    );
  }

  /** Live (not deleted) versions, ascending. */
  private async readVersions(name: string): Promise<ModelVersion[]> {
    const aliases = await this.readAliases(name);
    const out: ModelVersion[] = [];
    for (const version of (await this.versionNumbersOnDisk(name)).sort((a, b) => a - b)) {
      try {
        out.push(await this.readVersion(name, version, aliases));
      } catch {
        // deleted, or a folder whose meta.yaml is not written yet: skipped
      }
    }
    return out;
  }

  // ---- writing ----

  /** Rewrites the model's meta.yaml with `patch`, a fresh last_updated_timestamp and the informational aliases map. */
  private async patchModelMeta(name: string, patch: Record<string, unknown>, now = this.now()): Promise<void> {
    const meta = await this.readModelMeta(name);
    const aliases = await this.readAliases(name);
    const informational: Record<string, string> = {};
    for (const alias of Object.keys(aliases).sort(compareStrings)) informational[alias] = String(aliases[alias]);
    await writeFileAtomic(
      join(this.modelDir(name), 'meta.yaml'),
      dumpYaml({ ...meta, ...patch, aliases: informational, last_updated_timestamp: now }),
    );
  }

  /** Rewrites a version's meta.yaml keeping keys spotml does not know (e.g. a 3.x model_id). */
  private async patchVersionMeta(name: string, version: number, patch: Record<string, unknown>, now = this.now()): Promise<void> {
    const { meta, file } = await this.readVersionMeta(name, version);
    await writeFileAtomic(file, dumpYaml({ ...meta, ...patch, last_updated_timestamp: now }));
    await this.patchModelMeta(name, {}, now);
  }

  private async mutateVersion(
    action: string,
    name: string,
    version: number,
    extra: { key?: string },
    change: (before: ModelVersion) => Promise<boolean | void>,
  ): Promise<ModelVersion> {
    validateModelName(name);
    validateVersion(version);
    return this.mutate(action, { model: name, version, ...extra }, async () => {
      const before = await this.readVersion(name, version);
      const changed = (await change(before)) !== false;
      const after = changed ? await this.readVersion(name, version) : before;
      return { result: after, before, after, unchanged: !changed };
    });
  }

  /** Runs one mutation under the registry lock and appends its audit line under the same lock. */
  private async mutate<T>(
    action: string,
    target: { model: string; version?: number; alias?: string; key?: string },
    change: () => Promise<{ result: T; before: unknown; after: unknown; version?: number; unchanged?: boolean }>,
  ): Promise<T> {
    await this.ensureInitialised();
    return withLock(
      join(this.root, '.trash', '.spotml-registry.lock'),
      async () => {
        const outcome = await change();
        if (outcome.unchanged) return outcome.result; // idempotent no-op (e.g. deleting a missing tag): nothing to audit
        const entry: AuditEntry = {
          time: new Date(this.now()).toISOString(),
          user: this.user,
          action,
          ...target,
          ...(outcome.version !== undefined ? { version: outcome.version } : {}),
          before: outcome.before,
          after: outcome.after,
        };
        await appendFile(this.auditLogPath, `${JSON.stringify(entry)}\n`);
        return outcome.result;
      },
      { timeoutMs: this.lockTimeoutMs },
    );
  }

  /** The registry shares the root with the tracking store, which must hold `0/meta.yaml` for MLflow. */
  private async ensureInitialised(): Promise<void> {
    if (this.initialised) return;
    await new FileStore(this.root).ensureInitialised();
    await mkdir(this.modelsDir, { recursive: true });
    this.initialised = true;
  }
}

/** Reads every entry of the audit log (oldest first). */
export async function readAuditLog(root: string): Promise<AuditEntry[]> {
  let text: string;
  try {
    text = await readFile(join(resolve(root), AUDIT_LOG_FILE), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEntry);
}

function decodeVersion(meta: Record<string, unknown>, name: string, version: number, tags: Record<string, string>, aliases: string[]): ModelVersion {
  const stage = typeof meta.current_stage === 'string' ? meta.current_stage : 'None';
  return {
    name: String(meta.name ?? name),
    version: toInt(meta.version ?? version),
    creationTimestamp: toInt(meta.creation_timestamp),
    lastUpdatedTimestamp: toInt(meta.last_updated_timestamp ?? meta.creation_timestamp),
    currentStage: (MODEL_STAGES as readonly string[]).includes(stage) ? (stage as ModelStage) : 'None',
    description: typeof meta.description === 'string' ? meta.description : '',
    source: typeof meta.source === 'string' ? meta.source : '',
    runId: typeof meta.run_id === 'string' && meta.run_id !== '' ? meta.run_id : null,
    runLink: typeof meta.run_link === 'string' && meta.run_link !== '' ? meta.run_link : null,
    status: (typeof meta.status === 'string' ? meta.status : 'READY') as ModelVersionStatus,
    statusMessage: typeof meta.status_message === 'string' && meta.status_message !== '' ? meta.status_message : null,
    userId: typeof meta.user_id === 'string' && meta.user_id !== '' ? meta.user_id : null,
    tags,
    aliases,
  };
}

/** The model without its versions: what the audit log records as before/after. */
function pickModel(model: RegisteredModel): Omit<RegisteredModel, 'latestVersions'> {
  return { name: model.name, creationTimestamp: model.creationTimestamp, lastUpdatedTimestamp: model.lastUpdatedTimestamp, description: model.description, tags: model.tags, aliases: model.aliases };
}

function validateTag(key: string, value: string): void {
  validateKey('tag', key);
  if (value.length > MAX_REGISTRY_TAG_VALUE) {
    throw new SpotmlError('INVALID_INPUT', `registry tag "${key}" value is ${value.length} characters; the limit is ${MAX_REGISTRY_TAG_VALUE}`, { key });
  }
}

function tagsMatch(tags: Record<string, string>, wanted: Record<string, string> | undefined): boolean {
  if (!wanted) return true;
  return Object.entries(wanted).every(([k, v]) => tags[k] === v);
}

function toInt(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortKeys<V>(record: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of Object.keys(record).sort(compareStrings)) out[key] = record[key];
  return out;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}


/** Removes folders named `<prefix>…` in `dir`: called under the registry lock, they are crashed writers' leftovers. */
async function removeAbandoned(dir: string, prefix: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const entry of entries) if (entry.startsWith(prefix)) await rm(join(dir, entry), { recursive: true, force: true });
}

