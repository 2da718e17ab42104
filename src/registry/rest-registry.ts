/**
 * RegistryStore over MLflow's REST API (shared docs/mlflow.md §5, registry endpoints), sharing the tracking
 * store's `RestClient` (one endpoint table, one `call()`, one credentials callback). Arguments are validated
 * locally with the same rules as the file registry, so a bad alias or name fails before any request and the
 * server's remaining answers have one meaning each (e.g. a 400 from GET registered-models/alias after local
 * validation means "no such alias", reported as NOT_FOUND like the file registry).
 */
import { SpotmlError } from '../errors.js';
import { validateKey } from '../tracking/file-store/codec.js';
import {
  RestClient,
  decodeArray,
  decodeInt,
  decodeString,
  keyValues,
  toKeyValueList,
  type Json,
  type RestClientOptions,
} from '../tracking/rest/client.js';
import {
  MAX_REGISTRY_TAG_VALUE,
  MODEL_STAGES,
  canonicalStage,
  checkArchiveExisting,
  checkMaxResults,
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

export class RestRegistry implements RegistryStore {
  readonly client: RestClient;
  readonly location: string;

  constructor(options: RestClientOptions | RestClient) {
    this.client = options instanceof RestClient ? options : new RestClient(options);
    this.location = this.client.baseUrl;
  }

  async createRegisteredModel(name: string, options: { description?: string; tags?: Record<string, string> } = {}): Promise<RegisteredModel> {
    validateModelName(name);
    for (const [key, value] of Object.entries(options.tags ?? {})) validateTag(key, value);
    const body = await this.client.call('createRegisteredModel', {
      name,
      ...(options.description ? { description: options.description } : {}),
      tags: toKeyValueList(options.tags),
    });
    return decodeRegisteredModel(body.registered_model);
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    const body = await this.client.call('getRegisteredModel', { name });
    return decodeRegisteredModel(body.registered_model);
  }

  async searchRegisteredModels(query: SearchRegisteredModelsQuery = {}): Promise<Page<RegisteredModel>> {
    const maxResults = checkMaxResults(query.maxResults, 100, 1000);
    const clauses: string[] = [];
    if (query.name !== undefined) clauses.push(`name = ${quote(query.name)}`);
    if (query.nameLike !== undefined) clauses.push(`name LIKE ${quote(query.nameLike)}`);
    for (const [key, value] of Object.entries(query.tags ?? {})) clauses.push(`tags.\`${tagKey(key)}\` = ${quote(value)}`);
    const body = await this.client.call('searchRegisteredModels', {
      filter: clauses.length > 0 ? clauses.join(' AND ') : undefined,
      max_results: maxResults,
      order_by: ['name ASC'],
      page_token: query.pageToken,
    });
    return page(decodeArray(body.registered_models).map(decodeRegisteredModel), body.next_page_token);
  }

  async updateRegisteredModel(name: string, description: string): Promise<RegisteredModel> {
    validateModelName(name);
    const body = await this.client.call('updateRegisteredModel', { name, description });
    return decodeRegisteredModel(body.registered_model);
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    validateModelName(name);
    await this.client.call('deleteRegisteredModel', { name });
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    validateModelName(name);
    validateTag(key, value);
    await this.client.call('setRegisteredModelTag', { name, key, value });
  }

  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    validateModelName(name);
    validateKey('tag', key);
    await this.client.call('deleteRegisteredModelTag', { name, key });
  }

  async createModelVersion(name: string, source: string, options: CreateModelVersionOptions = {}): Promise<ModelVersion> {
    validateModelName(name);
    if (source.trim() === '') throw new SpotmlError('INVALID_INPUT', `model version source for "${name}" is empty: pass the artifact URI of the model`, { name });
    for (const [key, value] of Object.entries(options.tags ?? {})) validateTag(key, value);
    const body = await this.client.call('createModelVersion', {
      name,
      source,
      ...(options.runId ? { run_id: options.runId } : {}),
      ...(options.runLink ? { run_link: options.runLink } : {}),
      ...(options.description ? { description: options.description } : {}),
      tags: toKeyValueList(options.tags),
    });
    return decodeModelVersion(body.model_version);
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion> {
    validateModelName(name);
    validateVersion(version);
    const body = await this.client.call('getModelVersion', { name, version: String(version) });
    return decodeModelVersion(body.model_version);
  }

  async searchModelVersions(query: SearchModelVersionsQuery = {}): Promise<Page<ModelVersion>> {
    const maxResults = checkMaxResults(query.maxResults, 1000, 200_000);
    const clauses: string[] = [];
    if (query.name !== undefined) clauses.push(`name = ${quote(query.name)}`);
    if (query.runId !== undefined) clauses.push(`run_id = ${quote(query.runId)}`);
    for (const [key, value] of Object.entries(query.tags ?? {})) clauses.push(`tags.\`${tagKey(key)}\` = ${quote(value)}`);
    const body = await this.client.call('searchModelVersions', {
      filter: clauses.length > 0 ? clauses.join(' AND ') : undefined,
      max_results: maxResults,
      order_by: ['name ASC', 'version_number DESC'],
      page_token: query.pageToken,
    });
    return page(decodeArray(body.model_versions).map(decodeModelVersion), body.next_page_token);
  }

  async updateModelVersion(name: string, version: number, description: string): Promise<ModelVersion> {
    validateModelName(name);
    validateVersion(version);
    const body = await this.client.call('updateModelVersion', { name, version: String(version), description });
    return decodeModelVersion(body.model_version);
  }

  async deleteModelVersion(name: string, version: number): Promise<void> {
    validateModelName(name);
    validateVersion(version);
    await this.client.call('deleteModelVersion', { name, version: String(version) });
  }

  async setModelVersionTag(name: string, version: number, key: string, value: string): Promise<void> {
    validateModelName(name);
    validateVersion(version);
    validateTag(key, value);
    await this.client.call('setModelVersionTag', { name, version: String(version), key, value });
  }

  async deleteModelVersionTag(name: string, version: number, key: string): Promise<void> {
    validateModelName(name);
    validateVersion(version);
    validateKey('tag', key);
    await this.client.call('deleteModelVersionTag', { name, version: String(version), key });
  }

  async getModelVersionDownloadUri(name: string, version: number): Promise<string> {
    validateModelName(name);
    validateVersion(version);
    const body = await this.client.call('getModelVersionDownloadUri', { name, version: String(version) });
    return decodeString(body.artifact_uri);
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    validateVersion(version);
    await this.client.call('setRegisteredModelAlias', { name, alias, version: String(version) });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    await this.client.call('deleteRegisteredModelAlias', { name, alias });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    validateModelName(name);
    validateAlias(alias);
    try {
      const body = await this.client.call('getModelVersionByAlias', { name, alias });
      return decodeModelVersion(body.model_version);
    } catch (err) {
      // MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE; the alias itself was validated above.
      if (err instanceof SpotmlError && err.details.errorCode === 'INVALID_PARAMETER_VALUE') {
        throw new SpotmlError('NOT_FOUND', `registered model "${name}" has no alias "${alias}"; set it with spotml promote ${name} --version <n> --alias ${alias}`, { name, alias });
      }
      throw err;
    }
  }

  async transitionStage(name: string, version: number, stage: ModelStage | string, archiveExistingVersions: boolean): Promise<ModelVersion> {
    validateModelName(name);
    validateVersion(version);
    const target = canonicalStage(stage);
    checkArchiveExisting(target, archiveExistingVersions);
    const body = await this.client.call('transitionModelVersionStage', {
      name,
      version: String(version),
      stage: target,
      archive_existing_versions: archiveExistingVersions,
    });
    return decodeModelVersion(body.model_version);
  }

  async getLatestVersions(name: string, stages?: readonly string[]): Promise<ModelVersion[]> {
    validateModelName(name);
    const body = await this.client.call('getLatestVersions', { name, ...(stages && stages.length > 0 ? { stages: stages.map(canonicalStage) } : {}) });
    const versions = decodeArray(body.model_versions).map(decodeModelVersion);
    return MODEL_STAGES.flatMap((s) => versions.filter((v) => v.currentStage === s));
  }
}

function validateTag(key: string, value: string): void {
  validateKey('tag', key);
  if (value.length > MAX_REGISTRY_TAG_VALUE) {
    throw new SpotmlError('INVALID_INPUT', `registry tag "${key}" value is ${value.length} characters; the limit is ${MAX_REGISTRY_TAG_VALUE}`, { key });
  }
}

/** MLflow's filter strings cannot escape a quote, so such values cannot be searched for. */
function quote(value: string): string {
  if (value.includes("'")) {
    throw new SpotmlError('INVALID_INPUT', `cannot search for "${value}": MLflow search filters cannot contain "'"`, { value });
  }
  return `'${value}'`;
}

function tagKey(key: string): string {
  validateKey('tag', key);
  return key;
}

function page<T>(items: T[], token: unknown): Page<T> {
  const next = decodeString(token);
  return next ? { items, nextPageToken: next } : { items };
}

function nullable(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function decodeModelVersion(value: unknown): ModelVersion {
  const v = (value ?? {}) as Json;
  const stage = decodeString(v.current_stage);
  const status = decodeString(v.status);
  return {
    name: decodeString(v.name),
    version: decodeInt(v.version),
    creationTimestamp: decodeInt(v.creation_timestamp),
    lastUpdatedTimestamp: decodeInt(v.last_updated_timestamp),
    currentStage: (MODEL_STAGES as readonly string[]).includes(stage) ? (stage as ModelStage) : 'None',
    description: decodeString(v.description),
    source: decodeString(v.source),
    runId: nullable(v.run_id),
    runLink: nullable(v.run_link),
    status: (status || 'READY') as ModelVersionStatus,
    statusMessage: nullable(v.status_message),
    userId: nullable(v.user_id),
    tags: keyValues(v.tags),
    aliases: (Array.isArray(v.aliases) ? v.aliases.filter((a): a is string => typeof a === 'string') : []).sort(),
  };
}

export function decodeRegisteredModel(value: unknown): RegisteredModel {
  const m = (value ?? {}) as Json;
  const aliases: Record<string, number> = {};
  for (const a of decodeArray(m.aliases).sort((x, y) => (decodeString(x.alias) < decodeString(y.alias) ? -1 : 1))) {
    aliases[decodeString(a.alias)] = decodeInt(a.version);
  }
  const latest = decodeArray(m.latest_versions).map(decodeModelVersion);
  return {
    name: decodeString(m.name),
    creationTimestamp: decodeInt(m.creation_timestamp),
    lastUpdatedTimestamp: decodeInt(m.last_updated_timestamp),
    description: decodeString(m.description),
    tags: keyValues(m.tags),
    aliases,
    latestVersions: MODEL_STAGES.flatMap((s) => latest.filter((v) => v.currentStage === s)),
  };
}
