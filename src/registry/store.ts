/**
 * The RegistryStore contract (MLflow's model-registry AbstractStore): registered models, their versions,
 * aliases and (deprecated, still supported) stages. Two implementations: the MLflow file store under
 * `<mlruns>/models/` (file-registry.ts) and the MLflow REST API (rest-registry.ts); both pass
 * test/conformance/registry.cases.ts.
 *
 * Invariants every implementation keeps:
 * - version numbers start at 1 and are never reused: the next one is max(all versions, deleted included) + 1;
 * - a deleted version is invisible (NOT_FOUND, excluded from searches) and loses its aliases;
 * - aliases match ALIAS_PATTERN, are ≤ 255 characters, and `latest` / `v<digits>` (any case) are reserved;
 * - every change to a model, its tags, aliases or versions moves the model's `lastUpdatedTimestamp`;
 * - errors: unknown model/version/alias → 'NOT_FOUND'; a duplicate name or a bad argument → 'INVALID_INPUT'.
 */
import { SpotmlError } from '../errors.js';

export type ModelStage = 'None' | 'Staging' | 'Production' | 'Archived';
export type ModelVersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

export const MODEL_STAGES: readonly ModelStage[] = ['None', 'Staging', 'Production', 'Archived'];

export interface ModelVersion {
  name: string;
  version: number;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  currentStage: ModelStage;
  /** '' when none. */
  description: string;
  source: string;
  runId: string | null;
  runLink: string | null;
  status: ModelVersionStatus;
  statusMessage: string | null;
  userId: string | null;
  tags: Record<string, string>;
  /** Aliases pointing at this version, sorted. */
  aliases: string[];
}

export interface RegisteredModel {
  name: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  /** '' when none. */
  description: string;
  tags: Record<string, string>;
  /** alias → version number. */
  aliases: Record<string, number>;
  /** The highest version per stage (deleted versions excluded), ordered by stage. */
  latestVersions: ModelVersion[];
}

export interface Page<T> {
  items: T[];
  /** Pass back as `pageToken` for the next page; undefined on the last page. */
  nextPageToken?: string;
}

export interface SearchRegisteredModelsQuery {
  /** Exact name. */
  name?: string;
  /** SQL LIKE pattern on the name (`%` any run, `_` one character), case-sensitive. */
  nameLike?: string;
  /** Every tag must match exactly. */
  tags?: Record<string, string>;
  /** Default 100, at most 1000. */
  maxResults?: number;
  pageToken?: string;
}

export interface SearchModelVersionsQuery {
  name?: string;
  runId?: string;
  tags?: Record<string, string>;
  /** Default 1000, at most 200 000. */
  maxResults?: number;
  pageToken?: string;
}

export interface CreateModelVersionOptions {
  runId?: string;
  runLink?: string;
  description?: string;
  tags?: Record<string, string>;
}

/** Results are ordered: models by name ascending; versions by name ascending then version descending. */
export interface RegistryStore {
  /** Human-readable location (for logs): a path or URL. */
  readonly location: string;

  createRegisteredModel(name: string, options?: { description?: string; tags?: Record<string, string> }): Promise<RegisteredModel>;
  getRegisteredModel(name: string): Promise<RegisteredModel>;
  searchRegisteredModels(query?: SearchRegisteredModelsQuery): Promise<Page<RegisteredModel>>;
  updateRegisteredModel(name: string, description: string): Promise<RegisteredModel>;
  /** Removes the model and every version. */
  deleteRegisteredModel(name: string): Promise<void>;
  setRegisteredModelTag(name: string, key: string, value: string): Promise<void>;
  /** Idempotent: deleting a missing tag is not an error. */
  deleteRegisteredModelTag(name: string, key: string): Promise<void>;

  /** Registers `source` (an artifact URI) as the next version of an existing model. */
  createModelVersion(name: string, source: string, options?: CreateModelVersionOptions): Promise<ModelVersion>;
  getModelVersion(name: string, version: number): Promise<ModelVersion>;
  searchModelVersions(query?: SearchModelVersionsQuery): Promise<Page<ModelVersion>>;
  updateModelVersion(name: string, version: number, description: string): Promise<ModelVersion>;
  /** Marks the version Deleted_Internal (its number stays taken) and removes its aliases. */
  deleteModelVersion(name: string, version: number): Promise<void>;
  setModelVersionTag(name: string, version: number, key: string, value: string): Promise<void>;
  /** Idempotent, like deleteRegisteredModelTag. */
  deleteModelVersionTag(name: string, version: number, key: string): Promise<void>;
  /** The artifact URI to download the version from. */
  getModelVersionDownloadUri(name: string, version: number): Promise<string>;

  /** Points `alias` at `version` (moving it if it pointed elsewhere). */
  setAlias(name: string, alias: string, version: number): Promise<void>;
  /** Idempotent: deleting a missing alias is not an error (the model must exist). */
  deleteAlias(name: string, alias: string): Promise<void>;
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion>;

  /** Stages are deprecated in MLflow ≥ 2.9 in favour of aliases; kept as an option. */
  transitionStage(name: string, version: number, stage: ModelStage | string, archiveExistingVersions: boolean): Promise<ModelVersion>;
  /** Highest version per stage; `stages` filters (case-insensitive), default all. */
  getLatestVersions(name: string, stages?: readonly string[]): Promise<ModelVersion[]>;
}

// ---- shared validation (both implementations check before touching storage or the network) ----

/** MLflow's alias rule: `^[\w\-]*$` with Unicode \w. */
export const ALIAS_PATTERN = /^[\p{L}\p{N}_-]*$/u;
export const MAX_ALIAS_LENGTH = 255;
export const MAX_REGISTRY_TAG_VALUE = 5000;

export function validateAlias(alias: string): void {
  const bad = (why: string): never => {
    throw new SpotmlError('INVALID_INPUT', `invalid alias "${alias}": ${why}`, { alias });
  };
  if (alias === '') bad('it is empty');
  if (alias.length > MAX_ALIAS_LENGTH) bad(`longer than ${MAX_ALIAS_LENGTH} characters`);
  if (!ALIAS_PATTERN.test(alias)) bad('use letters, digits, "_" and "-" only');
  if (alias.toLowerCase() === 'latest') bad('"latest" is reserved (MLflow resolves @latest itself); pick another name');
  if (/^v\d+$/i.test(alias)) bad('"v<digits>" is reserved for version references; pick another name');
}

/** Model names become folder names in the file store, so path separators and `%` are refused (as MLflow does). */
export function validateModelName(name: string): void {
  const bad = (why: string): never => {
    throw new SpotmlError('INVALID_INPUT', `invalid registered model name "${name}": ${why}`, { name });
  };
  if (name.trim() === '') bad('it is empty');
  if (name.trim() !== name) bad('it starts or ends with white space (a name that differs by a space would look the same); trim it');
  if (name.length > 256) bad('longer than 256 characters');
  if (/[/\\%]/.test(name)) bad('it must not contain "/", "\\" or "%"');
  if (name === '.' || name === '..') bad('"." and ".." are not names');
  if (/[\u0000-\u001f]/.test(name)) bad('it must not contain control characters');
}

export function validateVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new SpotmlError('INVALID_INPUT', `invalid model version ${String(version)}: versions are integers from 1`, { version });
  }
}

/** Stage names are case-insensitive on input and canonicalised ("production" → "Production"). */
export function canonicalStage(stage: string): ModelStage {
  const found = MODEL_STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (!found) {
    throw new SpotmlError('INVALID_INPUT', `invalid stage "${stage}": use one of ${MODEL_STAGES.join(', ')}`, { stage });
  }
  return found;
}

/** archive_existing_versions only makes sense when promoting to Staging or Production (MLflow's rule). */
export function checkArchiveExisting(stage: ModelStage, archiveExistingVersions: boolean): void {
  if (archiveExistingVersions && stage !== 'Staging' && stage !== 'Production') {
    throw new SpotmlError(
      'INVALID_INPUT',
      `archiveExistingVersions is only allowed when moving to Staging or Production, not ${stage}`,
      { stage },
    );
  }
}

/** SQL LIKE → RegExp (`%` any run, `_` one character; everything else literal). */
export function likeToRegExp(pattern: string, caseInsensitive = false): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '%') source += '[\\s\\S]*';
    else if (ch === '_') source += '[\\s\\S]';
    else source += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'iu' : 'u');
}

/** Highest version per stage, ordered None, Staging, Production, Archived. */
export function latestPerStage(versions: readonly ModelVersion[], stages?: readonly string[]): ModelVersion[] {
  const wanted = stages && stages.length > 0 ? new Set(stages.map(canonicalStage)) : new Set(MODEL_STAGES);
  const best = new Map<ModelStage, ModelVersion>();
  for (const v of versions) {
    if (!wanted.has(v.currentStage)) continue;
    const current = best.get(v.currentStage);
    if (!current || v.version > current.version) best.set(v.currentStage, v);
  }
  return MODEL_STAGES.filter((s) => best.has(s)).map((s) => best.get(s) as ModelVersion);
}

/** Opaque page tokens: base64 of the offset (as MLflow's file store does). */
export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64');
}

export function decodePageToken(token: string | undefined): number {
  if (!token) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { offset?: unknown };
    if (typeof parsed.offset === 'number' && Number.isSafeInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
  } catch {
    // fall through to the error below
  }
  throw new SpotmlError('INVALID_INPUT', `invalid page token "${token}": pass back the nextPageToken of the previous page`, {});
}

export function pageOf<T>(all: readonly T[], maxResults: number, pageToken: string | undefined): Page<T> {
  const offset = decodePageToken(pageToken);
  const items = all.slice(offset, offset + maxResults);
  const next = offset + maxResults;
  return next < all.length ? { items, nextPageToken: encodePageToken(next) } : { items };
}

export function checkMaxResults(maxResults: number | undefined, fallback: number, limit: number): number {
  const value = maxResults ?? fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > limit) {
    throw new SpotmlError('INVALID_INPUT', `maxResults must be an integer from 1 to ${limit}, got ${String(maxResults)}`, {
      maxResults,
    });
  }
  return value;
}
