/**
 * Where a served model comes from, behind `ModelSource.resolve()` → the folder to load and a `key` that changes
 * exactly when another model should be served. The holder polls `resolve()` and reloads when the key moves.
 *
 * - a package folder: the key is model.json's modification time, so a package rewritten in place (atomic
 *   rename) is picked up too;
 * - `models:/name@alias`: the registry's alias → version → source; the key is the version, so moving the alias
 *   swaps the served model;
 * - `models:/name/N`: one fixed version.
 * A version's source may be `runs:/<run id>/<path>` (downloaded through the tracking store), a `file:` URI or a
 * local path.
 */
import { stat } from 'node:fs/promises';
import { basename, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpotmlError } from '../errors.js';
import { openStores, TENANT_TAG, type OpenStoresOptions, type Stores } from '../tracking/open-store.js';

export interface ResolvedModel {
  /** The package folder to load. */
  readonly dir: string;
  /** Changes exactly when a different model should be served. */
  readonly key: string;
  readonly name: string;
  /** Registry version, or null for a plain folder. */
  readonly version: number | null;
  readonly alias: string | null;
  /** The tenant owning the model (registry tag or --tenant), or null. */
  readonly tenant: string | null;
}

export interface ModelSource {
  /** As the user wrote it (for logs and /version). */
  readonly uri: string;
  resolve(): Promise<ResolvedModel>;
}

export class DirModelSource implements ModelSource {
  readonly dir: string;
  constructor(
    readonly uri: string,
    private readonly tenant: string | null = null,
  ) {
    this.dir = resolvePath(uri);
  }

  async resolve(): Promise<ResolvedModel> {
    let mtime: number;
    try {
      mtime = (await stat(join(this.dir, 'model.json'))).mtimeMs;
    } catch {
      throw new SpotmlError('NOT_FOUND', `${this.uri} is not a spotml model package (no model.json): pass the folder spotml train --out wrote`, {
        dir: this.dir,
      });
    }
    return { dir: this.dir, key: `${this.dir}@${mtime}`, name: basename(this.dir), version: null, alias: null, tenant: this.tenant };
  }
}

export interface RegistryReference {
  name: string;
  alias: string | null;
  version: number | null;
}

/** `models:/name@alias` or `models:/name/N`; null when the text is not a models:/ URI. */
export function parseModelsUri(uri: string): RegistryReference | null {
  if (!uri.startsWith('models:/')) return null;
  const rest = uri.slice('models:/'.length);
  const at = rest.lastIndexOf('@');
  if (at > 0) {
    const alias = rest.slice(at + 1);
    if (alias === '') throw new SpotmlError('USAGE', `${uri}: the alias after "@" is empty; use models:/name@alias`, { uri });
    return { name: rest.slice(0, at), alias, version: null };
  }
  const slash = rest.lastIndexOf('/');
  const versionText = slash > 0 ? rest.slice(slash + 1) : '';
  const version = Number(versionText);
  if (slash <= 0 || !/^\d+$/.test(versionText) || version < 1) {
    throw new SpotmlError('USAGE', `${uri}: use models:/name@alias or models:/name/<version number>`, { uri });
  }
  return { name: rest.slice(0, slash), alias: null, version };
}

export class RegistryModelSource implements ModelSource {
  private readonly stores: Stores;
  private tagTenant: string | null | undefined;

  constructor(
    readonly uri: string,
    private readonly reference: RegistryReference,
    storeOptions: OpenStoresOptions = {},
    stores?: Stores,
  ) {
    this.stores = stores ?? openStores(storeOptions);
  }

  async resolve(): Promise<ResolvedModel> {
    const { registry } = this.stores;
    const { name, alias } = this.reference;
    const version = alias !== null ? await registry.getModelVersionByAlias(name, alias) : await registry.getModelVersion(name, this.reference.version as number);
    const dir = await this.sourceDir(version.source);
    return { dir, key: `${name}/${version.version}`, name, version: version.version, alias, tenant: await this.modelTenant() };
  }

  private async modelTenant(): Promise<string | null> {
    if (this.stores.tenant !== undefined) return this.stores.tenant;
    if (this.tagTenant === undefined) {
      const model = await this.stores.registry.getRegisteredModel(this.reference.name);
      this.tagTenant = model.tags[TENANT_TAG] ?? null;
    }
    return this.tagTenant;
  }

  private async sourceDir(source: string): Promise<string> {
    const runs = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
    if (runs) return this.stores.tracking.downloadArtifact(runs[1], runs[2]);
    if (/^file:/i.test(source)) return fileURLToPath(source.startsWith('file://') ? source : `file://${source.slice(5)}`);
    const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(source)?.[1];
    if (scheme && scheme.length > 1) {
      throw new SpotmlError('USAGE', `model version source "${source}" uses ${scheme}:, which spotml serve cannot fetch; register a runs:/ or local path source`, {
        source,
      });
    }
    return resolvePath(source);
  }
}

export interface SourceOptions {
  trackingUri?: string;
  tenant?: string;
}

export function modelSource(uri: string, options: SourceOptions = {}): ModelSource {
  const reference = parseModelsUri(uri);
  if (reference === null) return new DirModelSource(uri, options.tenant ?? null);
  return new RegistryModelSource(uri, reference, { trackingUri: options.trackingUri, tenant: options.tenant });
}
