/**
 * `openStores({trackingUri, tenant})` → `{tracking, registry}`: one place that turns MLFLOW_TRACKING_URI into
 * stores. http(s) → the MLflow REST API; `file:` URI, a path, or nothing → the MLflow file store (`./mlruns`).
 *
 * Tenancy (`--tenant acme`): a tenant sees a namespace inside a shared store. MLflow has no such notion, so
 * it is encoded in what MLflow already stores, the same way for both backends:
 * - experiments and registered models of tenant `acme` are stored under the name `acme.<name>` and carry the
 *   tag `spotml.tenant = acme`; model versions carry the tag too (so version searches can filter on it).
 *   A `.` prefix rather than `acme/`: model names become folder names and may not contain `/` (MLflow rule),
 *   and tenant names may not contain `.`, so the prefix is unambiguous. Both the prefix AND the tag must match:
 *   an untagged object someone named `acme.x` is not acme's.
 * - the tenant view shows names without the prefix and hides the tag; it refuses to set or delete the tag.
 * - access by name can only reach the tenant's own namespace; access by id (experiment id, run id) to another
 *   tenant's object, and registering a version from another tenant's run, fail with FORBIDDEN.
 * - without a tenant the view is unscoped (the operator's view): it sees and can change everything.
 * This is namespacing for cooperating teams on one server or folder, not a security boundary against someone
 * who can reach the store directly (they can always read the files or call the REST API unscoped).
 */
import { fileURLToPath } from 'node:url';
import { SpotmlError } from '../errors.js';
import { FileRegistry } from '../registry/file-registry.js';
import { RestRegistry } from '../registry/rest-registry.js';
import type {
  CreateModelVersionOptions,
  ModelStage,
  ModelVersion,
  Page,
  RegisteredModel,
  RegistryStore,
  SearchModelVersionsQuery,
  SearchRegisteredModelsQuery,
} from '../registry/store.js';
import { validateModelName } from '../registry/store.js';
import { FileStore } from './file-store/index.js';
import { RestClient, credentialsFromEnv, restOptionsFromEnv, type CredentialsProvider, type RetryOptions } from './rest/client.js';
import { RestStore } from './rest-store.js';
import type { CreateRunOptions, Experiment, LogBatch, Metric, Run, RunInfo, RunStatus, TrackingStore } from './store.js';

export const TENANT_TAG = 'spotml.tenant';
const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export interface OpenStoresOptions {
  /** Wins over MLFLOW_TRACKING_URI; default ./mlruns. */
  trackingUri?: string;
  tenant?: string;
  /** Environment to read MLFLOW_TRACKING_* from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Who is recorded in the file registry's audit log. */
  user?: string;
  /** REST only: credentials callback (default: MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN from env). */
  getCredentials?: CredentialsProvider;
  /** REST only: wins over MLFLOW_HTTP_REQUEST_MAX_RETRIES / MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR. */
  retry?: RetryOptions;
  /** REST only: wins over the transport MLFLOW_TRACKING_INSECURE_TLS / *_CERT_PATH select. */
  fetch?: typeof fetch;
}

export interface Stores {
  tracking: TrackingStore;
  registry: RegistryStore;
  kind: 'file' | 'rest';
  /** The file-store root or the server URL. */
  location: string;
  tenant?: string;
}

export type ResolvedTrackingUri = { kind: 'file'; root: string } | { kind: 'rest'; url: string };

/** http(s) → REST; `file:` URI, plain path or nothing → file store; other schemes are refused with the fix. */
export function resolveTrackingUri(uri: string | undefined): ResolvedTrackingUri {
  const value = (uri ?? '').trim();
  if (value === '') return { kind: 'file', root: 'mlruns' };
  if (/^https?:\/\//i.test(value)) return { kind: 'rest', url: value };
  if (/^file:\/\//i.test(value)) return { kind: 'file', root: fileURLToPath(value) };
  if (/^file:/i.test(value)) return { kind: 'file', root: value.slice(5) };
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(value)?.[1]; // one letter would be a Windows drive
  if (scheme || value === 'databricks') {
    throw new SpotmlError(
      'USAGE',
      `tracking URI "${value}" is not supported: use http(s)://host:port for an MLflow server, or a folder path / file: URI for a local mlruns store`,
      { trackingUri: value },
    );
  }
  return { kind: 'file', root: value };
}

export function validateTenant(tenant: string): void {
  if (!TENANT_PATTERN.test(tenant)) {
    throw new SpotmlError('USAGE', `invalid tenant "${tenant}": use 1-63 lowercase letters, digits, "_" or "-", starting with a letter or digit`, {
      tenant,
    });
  }
}

export function openStores(options: OpenStoresOptions = {}): Stores {
  const env = options.env ?? process.env;
  const resolved = resolveTrackingUri(options.trackingUri ?? env.MLFLOW_TRACKING_URI);
  let tracking: TrackingStore;
  let registry: RegistryStore;
  let location: string;
  if (resolved.kind === 'rest') {
    // The variables MLflow's own client reads (timeouts, retries, TLS) configure this client the same way.
    const fromEnv = restOptionsFromEnv(env);
    const client = new RestClient({
      baseUrl: resolved.url,
      getCredentials: options.getCredentials ?? credentialsFromEnv(env),
      retry: { ...fromEnv.retry, ...options.retry },
      timeoutMs: fromEnv.timeoutMs,
      fetch: options.fetch ?? fromEnv.fetch,
    });
    tracking = new RestStore(client);
    registry = new RestRegistry(client);
    location = client.baseUrl;
  } else {
    const file = new FileStore(resolved.root);
    tracking = file;
    registry = new FileRegistry(file.root, { user: options.user });
    location = file.root;
  }
  if (options.tenant === undefined) return { tracking, registry, kind: resolved.kind, location };
  validateTenant(options.tenant);
  const scopedTracking = new TenantTrackingStore(tracking, options.tenant);
  return {
    tracking: scopedTracking,
    registry: new TenantRegistryStore(registry, options.tenant, (runId) => scopedTracking.checkRun(runId)),
    kind: resolved.kind,
    location,
    tenant: options.tenant,
  };
}

// ---------------------------------------------------------------- tenant views

class TenantNames {
  readonly prefix: string;
  constructor(readonly tenant: string) {
    validateTenant(tenant);
    this.prefix = `${tenant}.`;
  }

  /** The stored name of a tenant's experiment or model (a name is validated before the prefix hides mistakes). */
  toStored(name: string, kind: 'experiment' | 'model' = 'model'): string {
    if (kind === 'model') validateModelName(name);
    else if (name.trim() === '') throw new SpotmlError('INVALID_INPUT', 'experiment name must not be empty', {});
    return `${this.prefix}${name}`;
  }

  fromStored(name: string): string {
    return name.startsWith(this.prefix) ? name.slice(this.prefix.length) : name;
  }

  owns(name: string, tags: Record<string, string>): boolean {
    return name.startsWith(this.prefix) && tags[TENANT_TAG] === this.tenant;
  }

  /** The tags a caller passes, refusing any attempt to set the tenant tag itself. */
  userTags(tags: Record<string, string> | undefined): Record<string, string> {
    if (tags && TENANT_TAG in tags) this.refuseTag();
    return { ...tags, [TENANT_TAG]: this.tenant };
  }

  refuseTag(): never {
    throw new SpotmlError('FORBIDDEN', `the "${TENANT_TAG}" tag is managed by spotml and cannot be set or removed by tenant "${this.tenant}"`, {
      tenant: this.tenant,
    });
  }

  hide(tags: Record<string, string>): Record<string, string> {
    const { [TENANT_TAG]: _hidden, ...rest } = tags;
    return rest;
  }

  forbidden(what: string): SpotmlError {
    return new SpotmlError('FORBIDDEN', `${what} belongs to another tenant; tenant "${this.tenant}" cannot use it`, { tenant: this.tenant });
  }

  /** An inner store's error in the tenant's terms: a stored name ("acme.bats") as the tenant knows it ("bats"). */
  translate(err: unknown): unknown {
    if (!(err instanceof SpotmlError) || !err.message.includes(this.prefix)) return err;
    const stored = new RegExp(`(^|["'\\s(])${this.prefix.replace('.', '\\.')}`, 'g');
    return new SpotmlError(err.code, err.message.replace(stored, '$1'), err.details, { cause: err });
  }

  /** `store` whose async methods reject in the tenant's terms (see translate). */
  speaking<T extends object>(store: T): T {
    return new Proxy(store, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]): unknown => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          return result instanceof Promise
            ? result.catch((err: unknown) => {
                throw this.translate(err);
              })
            : result;
        };
      },
    });
  }
}

/** A TrackingStore restricted to one tenant's experiments (and their runs). */
export class TenantTrackingStore implements TrackingStore {
  readonly location: string;
  private readonly names: TenantNames;
  /** experiment id → owned; run id → experiment id. Both never change once known. */
  private readonly ownedExperiments = new Map<string, boolean>();
  private readonly runExperiments = new Map<string, string>();

  readonly inner: TrackingStore;

  constructor(
    inner: TrackingStore,
    readonly tenant: string,
  ) {
    this.names = new TenantNames(tenant);
    this.inner = this.names.speaking(inner);
    this.location = `${inner.location} (tenant ${tenant})`;
  }

  private view(e: Experiment): Experiment {
    return { ...e, name: this.names.fromStored(e.name), tags: this.names.hide(e.tags) };
  }

  private async checkExperiment(experimentId: string): Promise<Experiment> {
    const e = await this.inner.getExperiment(experimentId);
    const owned = this.names.owns(e.name, e.tags);
    this.ownedExperiments.set(experimentId, owned);
    if (!owned) throw this.names.forbidden(`experiment ${experimentId}`);
    return e;
  }

  private async checkExperimentCached(experimentId: string): Promise<void> {
    const known = this.ownedExperiments.get(experimentId);
    if (known === true) return;
    if (known === false) throw this.names.forbidden(`experiment ${experimentId}`);
    await this.checkExperiment(experimentId);
  }

  /** Throws FORBIDDEN unless the run lives in one of this tenant's experiments. */
  async checkRun(runId: string): Promise<void> {
    let experimentId = this.runExperiments.get(runId);
    if (experimentId === undefined) {
      experimentId = (await this.inner.getRun(runId)).info.experimentId;
      this.runExperiments.set(runId, experimentId);
    }
    try {
      await this.checkExperimentCached(experimentId);
    } catch (err) {
      if (err instanceof SpotmlError && err.code === 'FORBIDDEN') throw this.names.forbidden(`run ${runId}`);
      throw err;
    }
  }

  async createExperiment(name: string, tags?: Record<string, string>): Promise<string> {
    const id = await this.inner.createExperiment(this.names.toStored(name, 'experiment'), this.names.userTags(tags));
    this.ownedExperiments.set(id, true);
    return id;
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    return this.view(await this.checkExperiment(experimentId));
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    const e = await this.inner.getExperimentByName(this.names.toStored(name, 'experiment'));
    if (!e) return undefined;
    if (!this.names.owns(e.name, e.tags)) throw this.names.forbidden(`experiment "${e.name}"`);
    return this.view(e);
  }

  async createRun(options: CreateRunOptions): Promise<RunInfo> {
    await this.checkExperimentCached(options.experimentId);
    if (options.tags && TENANT_TAG in options.tags) this.names.refuseTag();
    const info = await this.inner.createRun(options);
    this.runExperiments.set(info.runId, info.experimentId);
    return info;
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<RunInfo> {
    await this.checkRun(runId);
    return this.inner.updateRun(runId, status, endTime);
  }

  async getRun(runId: string): Promise<Run> {
    const run = await this.inner.getRun(runId);
    this.runExperiments.set(runId, run.info.experimentId);
    await this.checkRun(runId);
    return run;
  }

  async listRuns(experimentId: string): Promise<RunInfo[]> {
    await this.checkExperimentCached(experimentId);
    return this.inner.listRuns(experimentId);
  }

  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    await this.checkRun(runId);
    return this.inner.logBatch(runId, batch);
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    await this.checkRun(runId);
    return this.inner.getMetricHistory(runId, key);
  }

  async logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void> {
    await this.checkRun(runId);
    return this.inner.logArtifact(runId, localPath, artifactPath);
  }

  async writeArtifact(runId: string, artifactPath: string, content: Uint8Array | string): Promise<void> {
    await this.checkRun(runId);
    return this.inner.writeArtifact(runId, artifactPath, content);
  }

  async listArtifacts(runId: string, path?: string): Promise<{ path: string; isDir: boolean; size?: number }[]> {
    await this.checkRun(runId);
    return this.inner.listArtifacts(runId, path);
  }

  async downloadArtifact(runId: string, artifactPath: string, destination?: string): Promise<string> {
    await this.checkRun(runId);
    return this.inner.downloadArtifact(runId, artifactPath, destination);
  }
}

/** A RegistryStore restricted to one tenant's registered models. */
export class TenantRegistryStore implements RegistryStore {
  readonly location: string;
  private readonly names: TenantNames;

  /** `checkRun` refuses runs outside the tenant (versions may only point at the tenant's own runs). */
  readonly inner: RegistryStore;

  constructor(
    inner: RegistryStore,
    readonly tenant: string,
    private readonly checkRun: (runId: string) => Promise<void>,
  ) {
    this.names = new TenantNames(tenant);
    // The inner store names models as stored ("acme.bats"); its errors reach the tenant with their own names.
    this.inner = this.names.speaking(inner);
    this.location = `${inner.location} (tenant ${tenant})`;
  }

  private versionView(v: ModelVersion): ModelVersion {
    return { ...v, name: this.names.fromStored(v.name), tags: this.names.hide(v.tags) };
  }

  private modelView(m: RegisteredModel): RegisteredModel {
    return {
      ...m,
      name: this.names.fromStored(m.name),
      tags: this.names.hide(m.tags),
      latestVersions: m.latestVersions.map((v) => this.versionView(v)),
    };
  }

  /** The stored model, or FORBIDDEN when the name exists but is not this tenant's. */
  private async owned(name: string): Promise<RegisteredModel> {
    const model = await this.inner.getRegisteredModel(this.names.toStored(name));
    if (!this.names.owns(model.name, model.tags)) throw this.names.forbidden(`registered model "${model.name}"`);
    return model;
  }

  private checkTagKey(key: string): void {
    if (key === TENANT_TAG) this.names.refuseTag();
  }

  async createRegisteredModel(name: string, options: { description?: string; tags?: Record<string, string> } = {}): Promise<RegisteredModel> {
    const model = await this.inner.createRegisteredModel(this.names.toStored(name), { ...options, tags: this.names.userTags(options.tags) });
    return this.modelView(model);
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return this.modelView(await this.owned(name));
  }

  async searchRegisteredModels(query: SearchRegisteredModelsQuery = {}): Promise<Page<RegisteredModel>> {
    if (query.tags && TENANT_TAG in query.tags) this.names.refuseTag();
    const page = await this.inner.searchRegisteredModels({
      ...query,
      name: query.name !== undefined ? this.names.toStored(query.name) : undefined,
      nameLike: `${this.names.prefix}${query.nameLike ?? '%'}`,
      tags: { ...query.tags, [TENANT_TAG]: this.tenant },
    });
    return { ...page, items: page.items.filter((m) => this.names.owns(m.name, m.tags)).map((m) => this.modelView(m)) };
  }

  async updateRegisteredModel(name: string, description: string): Promise<RegisteredModel> {
    await this.owned(name);
    return this.modelView(await this.inner.updateRegisteredModel(this.names.toStored(name), description));
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    await this.owned(name);
    await this.inner.deleteRegisteredModel(this.names.toStored(name));
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    this.checkTagKey(key);
    await this.owned(name);
    await this.inner.setRegisteredModelTag(this.names.toStored(name), key, value);
  }

  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    this.checkTagKey(key);
    await this.owned(name);
    await this.inner.deleteRegisteredModelTag(this.names.toStored(name), key);
  }

  async createModelVersion(name: string, source: string, options: CreateModelVersionOptions = {}): Promise<ModelVersion> {
    await this.owned(name);
    if (options.runId) await this.checkRun(options.runId);
    const version = await this.inner.createModelVersion(this.names.toStored(name), source, { ...options, tags: this.names.userTags(options.tags) });
    return this.versionView(version);
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion> {
    await this.owned(name);
    return this.versionView(await this.inner.getModelVersion(this.names.toStored(name), version));
  }

  async searchModelVersions(query: SearchModelVersionsQuery = {}): Promise<Page<ModelVersion>> {
    if (query.tags && TENANT_TAG in query.tags) this.names.refuseTag();
    if (query.name !== undefined) await this.owned(query.name).catch((err: unknown) => {
      if (err instanceof SpotmlError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    });
    const page = await this.inner.searchModelVersions({
      ...query,
      name: query.name !== undefined ? this.names.toStored(query.name) : undefined,
      tags: { ...query.tags, [TENANT_TAG]: this.tenant },
    });
    return {
      ...page,
      items: page.items.filter((v) => this.names.owns(v.name, v.tags)).map((v) => this.versionView(v)),
    };
  }

  async updateModelVersion(name: string, version: number, description: string): Promise<ModelVersion> {
    await this.owned(name);
    return this.versionView(await this.inner.updateModelVersion(this.names.toStored(name), version, description));
  }

  async deleteModelVersion(name: string, version: number): Promise<void> {
    await this.owned(name);
    await this.inner.deleteModelVersion(this.names.toStored(name), version);
  }

  async setModelVersionTag(name: string, version: number, key: string, value: string): Promise<void> {
    this.checkTagKey(key);
    await this.owned(name);
    await this.inner.setModelVersionTag(this.names.toStored(name), version, key, value);
  }

  async deleteModelVersionTag(name: string, version: number, key: string): Promise<void> {
    this.checkTagKey(key);
    await this.owned(name);
    await this.inner.deleteModelVersionTag(this.names.toStored(name), version, key);
  }

  async getModelVersionDownloadUri(name: string, version: number): Promise<string> {
    await this.owned(name);
    return this.inner.getModelVersionDownloadUri(this.names.toStored(name), version);
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    await this.owned(name);
    await this.inner.setAlias(this.names.toStored(name), alias, version);
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.owned(name);
    await this.inner.deleteAlias(this.names.toStored(name), alias);
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    await this.owned(name);
    return this.versionView(await this.inner.getModelVersionByAlias(this.names.toStored(name), alias));
  }

  async transitionStage(name: string, version: number, stage: ModelStage | string, archiveExistingVersions: boolean): Promise<ModelVersion> {
    await this.owned(name);
    return this.versionView(await this.inner.transitionStage(this.names.toStored(name), version, stage, archiveExistingVersions));
  }

  async getLatestVersions(name: string, stages?: readonly string[]): Promise<ModelVersion[]> {
    await this.owned(name);
    return (await this.inner.getLatestVersions(this.names.toStored(name), stages)).map((v) => this.versionView(v));
  }
}
