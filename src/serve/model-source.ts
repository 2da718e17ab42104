/**
 * Where a served model comes from, in two steps: `locate()` says cheaply which model should be served now
 * (a `key` that changes exactly when another model should be served), `fetch()` makes that model loadable.
 * The holder polls `locate()` and fetches + loads only when the key moves.
 *
 * - a package folder: the key is model.json's (or checksums.json's) modification time, so a package rewritten
 *   in place (atomic rename) is picked up too;
 * - `models:/name@alias`, `models:/name/<stage>`, `models:/name/latest`: the registry's current version for
 *   that reference; the key is the version, so moving the alias (or a newer version entering the stage, or a
 *   new registration for `latest`) swaps the served model;
 * - `models:/name/N`: one fixed version.
 *
 * Fetching goes through src/registry/resolve.ts, as evaluate does: a registry version is verified against the
 * registry's checksum tag and decrypted (when registered with --encrypt) into a private temp folder; a folder
 * with a checksum manifest is verified the same way. The holder disposes of that folder as soon as the model
 * is loaded, so no decrypted copy outlives the load.
 */
import { stat } from 'node:fs/promises';
import { basename, join, resolve as resolvePath } from 'node:path';
import { SpotmlError } from '../errors.js';
import { CHECKSUMS_FILE } from '../registry/integrity.js';
import { lookupVersion, materialiseVersion, parseModelsUri, resolvePackageDir, type RegistryRef, type ResolveOptions, type ResolvedPackage } from '../registry/resolve.js';
import { openStores, TENANT_TAG, type OpenStoresOptions, type Stores } from '../tracking/open-store.js';

/** Which model should be served, without its files. */
export interface ModelLocation {
  /** Changes exactly when a different model should be served. */
  readonly key: string;
  readonly name: string;
  /** Registry version, or null for a plain folder. */
  readonly version: number | null;
  readonly alias: string | null;
  /** The tenant owning the model (registry tag or --tenant), or null. */
  readonly tenant: string | null;
}

/** A located model with the folder to load it from. */
export interface LoadableModel extends ModelLocation {
  /** The package folder to load (a private verified copy for registry versions). */
  readonly dir: string;
}

export interface ResolvedModel extends LoadableModel {
  /** What to call the model in messages (the folder, or "name version N"). */
  readonly label: string;
  /** Removes the private copy, if one was made; the holder calls it once the model is loaded (or failed to load). */
  dispose(): Promise<void>;
}

export interface ModelSource {
  /** As the user wrote it (for logs and /version). */
  readonly uri: string;
  locate(): Promise<ModelLocation>;
  /** The located model as a loadable folder: verified, decrypted; throws (naming the file) when it is not intact. */
  fetch(location: ModelLocation): Promise<ResolvedModel>;
}

function fromPackage(location: ModelLocation, pkg: ResolvedPackage, label: string): ResolvedModel {
  return { ...location, dir: pkg.dir, label, dispose: () => pkg.dispose() };
}

export class DirModelSource implements ModelSource {
  readonly dir: string;
  constructor(
    readonly uri: string,
    private readonly tenant: string | null = null,
    private readonly keys: ResolveOptions = {},
  ) {
    this.dir = resolvePath(uri);
  }

  async locate(): Promise<ModelLocation> {
    // An encrypted package has model.json.enc, not model.json; its manifest then marks it as a package.
    let mtime: number | null = null;
    for (const file of ['model.json', CHECKSUMS_FILE]) {
      mtime = await stat(join(this.dir, file)).then(
        (s) => s.mtimeMs,
        () => null,
      );
      if (mtime !== null) break;
    }
    if (mtime === null) {
      throw new SpotmlError('NOT_FOUND', `${this.uri} is not a spotml model package (no model.json): pass the folder spotml train --out wrote`, {
        dir: this.dir,
      });
    }
    // The key changes when the package is rewritten (a swap); it shows in logs, so the time is readable.
    return { key: `${this.dir}@${new Date(mtime).toISOString()}`, name: basename(this.dir), version: null, alias: null, tenant: this.tenant };
  }

  async fetch(location: ModelLocation): Promise<ResolvedModel> {
    return fromPackage(location, await resolvePackageDir(this.dir, this.keys), this.dir);
  }
}

export class RegistryModelSource implements ModelSource {
  private readonly stores: Stores;
  private tagTenant: string | null | undefined;

  constructor(
    readonly uri: string,
    private readonly reference: RegistryRef,
    storeOptions: OpenStoresOptions = {},
    stores?: Stores,
    private readonly keys: ResolveOptions = {},
  ) {
    this.stores = stores ?? openStores(storeOptions);
  }

  async locate(): Promise<ModelLocation> {
    const { name } = this.reference;
    const version = await lookupVersion(this.stores, this.reference);
    const alias = this.reference.kind === 'alias' ? this.reference.alias : null;
    return { key: `${name}/${version.version}`, name, version: version.version, alias, tenant: await this.modelTenant() };
  }

  async fetch(location: ModelLocation): Promise<ResolvedModel> {
    const { name } = this.reference;
    // Read by number: the version located is the one loaded, even if the alias or stage moved meanwhile.
    const version = await this.stores.registry.getModelVersion(name, location.version as number);
    const pkg = await materialiseVersion(this.stores, name, version, this.keys, location.alias);
    return fromPackage(location, pkg, `${name} version ${version.version}`);
  }

  private async modelTenant(): Promise<string | null> {
    if (this.stores.tenant !== undefined) return this.stores.tenant;
    if (this.tagTenant === undefined) {
      const model = await this.stores.registry.getRegisteredModel(this.reference.name);
      this.tagTenant = model.tags[TENANT_TAG] ?? null;
    }
    return this.tagTenant;
  }
}

export interface SourceOptions {
  trackingUri?: string;
  tenant?: string;
  /** Key for encrypted versions (default $SPOTML_MODEL_KEY), as evaluate's --key-file. */
  keyFile?: string;
}

export function modelSource(uri: string, options: SourceOptions = {}): ModelSource {
  const keys: ResolveOptions = { keyFile: options.keyFile };
  if (!uri.startsWith('models:/')) return new DirModelSource(uri, options.tenant ?? null, keys);
  return new RegistryModelSource(uri, parseModelsUri(uri), { trackingUri: options.trackingUri, tenant: options.tenant }, undefined, keys);
}
