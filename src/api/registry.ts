/**
 * The registry workflow behind `spotml register`, `spotml promote` and `spotml models`:
 *
 * - register: a run's `model` artifact or a package folder becomes the next version of a registered model
 *   (created on first use). Every artifact file gets a sha256 in `checksums.json`, whose own digest is a
 *   version tag; `encrypt` stores AES-256-GCM ciphertext (`<file>.enc`) instead. The version's source is the
 *   artifact URI inside its run, as MLflow records it; a folder gets a fresh run to hold it.
 * - promote: points an alias (or moves a stage) at a version; with `ifBetter` only when the candidate beats
 *   the current holder on a data set, by `evaluate`'s statistical comparison. Not promoting is a normal
 *   outcome (`promoted: false` with the reason), not an error.
 * - list / show (with lineage) / deleteVersion.
 * Locking, atomic writes and the audit log are the registry store's (file-registry.ts); tenancy comes from
 * the stores passed in (openStores({tenant})).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { SpotmlError } from '../errors.js';
import { readFeatureSpec, specPathFor, type FeatureSpec } from '../audio/feature-spec.js';
import { readTable } from '../data/table.js';
import type { Task } from '../learners/types.js';
import { reportMetric } from '../metrics/report-metrics.js';
import { DEFAULT_ALPHA, compareModels, describeComparison, pairedBootstrap, type ComparisonResult } from '../metrics/stats.js';
import { readAuditLog, type AuditEntry } from '../registry/file-registry.js';
import { ENCRYPTED_SUFFIX, ENCRYPTION_ALGORITHM, encryptArtifact, requireModelKey, type ModelKey } from '../registry/crypto.js';
import {
  CHECKSUMS_FILE,
  CHECKSUMS_TAG,
  buildManifest,
  listArtifactFiles,
  manifestText,
  sha256Hex,
  verifyArtifacts,
  type ChecksumManifest,
} from '../registry/integrity.js';
import { featureMatrix, readModelPackage, type ModelPackage, type PackageDocument } from '../registry/package.js';
import { RUN_ID, parseModelRef, resolveModel, versionArtifactDir } from '../registry/resolve.js';
import { canonicalStage, validateAlias, validateModelName, validateVersion, type ModelVersion, type RegisteredModel } from '../registry/store.js';
import { experimentNamed } from '../tracking/experiments.js';
import type { Stores } from '../tracking/open-store.js';
import { SPOTML_VERSION } from '../version.js';

/** Version tags spotml writes; user tags may not use the `spotml.` prefix. */
export const TAGS = {
  checksums: CHECKSUMS_TAG,
  encryption: 'spotml.encryption',
  dataHash: 'spotml.data_hash',
  featureSpecHash: 'spotml.feature_spec_hash',
  task: 'spotml.task',
  target: 'spotml.target',
  family: 'spotml.model_family',
  metricPrefix: 'spotml.metric.',
} as const;

export const DEFAULT_REGISTER_EXPERIMENT = 'spotml-registry';

export interface KeyOptions {
  keyFile?: string;
  env?: NodeJS.ProcessEnv;
}

// ------------------------------------------------------------------------------------------------ register

export interface RegisterOptions extends KeyOptions {
  stores: Stores;
  /** A run id, runs:/<id>/<path>, or a package folder. */
  source: string;
  name: string;
  tags?: Record<string, string>;
  description?: string;
  encrypt?: boolean;
  /** Experiment for the run that holds a registered folder. */
  experiment?: string;
}

export interface RegisterResult {
  name: string;
  version: number;
  source: string;
  runId: string;
  artifactPath: string;
  checksumsSha256: string;
  files: string[];
  encrypted: boolean;
  keyId: string | null;
  createdModel: boolean;
}

export async function register(options: RegisterOptions): Promise<RegisterResult> {
  const { stores, name } = options;
  validateModelName(name);
  const userTags = options.tags ?? {};
  for (const key of Object.keys(userTags)) {
    if (key.startsWith('spotml.')) throw new SpotmlError('USAGE', `tag "${key}": the "spotml." prefix is reserved for tags spotml writes; rename it`, { key });
  }
  const key = options.encrypt ? await requireModelKey(options, '--encrypt') : undefined;
  const given = parseModelRef(options.source);
  if (given.kind !== 'run' && given.kind !== 'dir') {
    throw new SpotmlError('USAGE', `register takes a run id, runs:/<id>/<path> or a package folder, not ${options.source}; to copy a version, register its run`, {});
  }

  const staging = await mkdtemp(join(tmpdir(), 'spotml-register-'));
  try {
    // `train --out` writes the folder and logs the same files to its run: register that run's copy, so the
    // version's lineage reaches the training run (as `register <run id>` does).
    const twin = given.kind === 'dir' ? await trainingRunTwin(stores, given.dir, join(staging, 'twin')) : null;
    const ref = twin !== null ? { kind: 'run' as const, runId: twin, path: 'model' } : given;
    let runId: string;
    let artifactPath: string;
    let digest: string;
    let manifest: ChecksumManifest;
    let document: PackageDocument;
    if (ref.kind === 'run') {
      runId = ref.runId;
      await stores.tracking.getRun(runId); // NOT_FOUND, or FORBIDDEN for another tenant's run
      const local = join(staging, 'source');
      const dir = await stores.tracking.downloadArtifact(runId, ref.path, stores.kind === 'file' ? undefined : local);
      const files = await packageFiles(dir, `run ${runId} artifact "${ref.path}"`);
      const earlier = await earlierManifest(runId, ref.path, dir); // checked before anything reads the files
      document = (await readModelPackage(dir)).document;
      if (key) {
        artifactPath = `model-encrypted-${randomBytes(4).toString('hex')}`;
        ({ manifest, digest } = await stageEncrypted(dir, files, join(staging, 'out'), key));
        await stores.tracking.logArtifact(runId, join(staging, 'out'), artifactPath);
      } else {
        artifactPath = ref.path;
        ({ manifest, digest } = earlier ?? (await writeManifestInPlace(stores, runId, ref.path, dir)));
      }
    } else {
      const files = await packageFiles(ref.dir, ref.dir);
      document = (await readModelPackage(ref.dir)).document;
      runId = await createHoldingRun(stores, options.experiment ?? DEFAULT_REGISTER_EXPERIMENT, name, ref.dir, document);
      artifactPath = 'model';
      const out = join(staging, 'out');
      if (key) ({ manifest, digest } = await stageEncrypted(ref.dir, files, out, key));
      else ({ manifest, digest } = await stagePlain(ref.dir, files, out));
      await stores.tracking.logArtifact(runId, out, artifactPath);
      await stores.tracking.updateRun(runId, 'FINISHED');
    }

    const runInfo = (await stores.tracking.getRun(runId)).info;
    const source = `${runInfo.artifactUri.replace(/\/+$/, '')}/${artifactPath}`;
    const createdModel = await ensureRegisteredModel(stores, name);
    const version = await stores.registry.createModelVersion(name, source, {
      runId,
      description: options.description,
      tags: { ...userTags, ...spotmlTags(document, digest, key) },
    });
    return {
      name,
      version: version.version,
      source,
      runId,
      artifactPath,
      checksumsSha256: digest,
      files: Object.keys(manifest.files),
      encrypted: key !== undefined,
      keyId: key?.id ?? null,
      createdModel,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The training run whose logged `model` artifact holds exactly the files of the package folder `dir` (the run
 * its model.json names, in this store), or null: another store, a deleted run, an edited or retrained folder.
 */
async function trainingRunTwin(stores: Stores, dir: string, downloadTo: string): Promise<string | null> {
  let runId: unknown;
  try {
    runId = (JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { training?: { runId?: unknown } }).training?.runId;
  } catch {
    return null; // packageFiles below reports a missing or damaged model.json
  }
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) return null;
  try {
    await stores.tracking.getRun(runId);
    const logged = await stores.tracking.downloadArtifact(runId, 'model', stores.kind === 'file' ? undefined : downloadTo);
    const [mine, theirs] = await Promise.all([listArtifactFiles(dir), listArtifactFiles(logged)]);
    if (mine.length === 0 || mine.join('\n') !== theirs.join('\n')) return null;
    for (const file of mine) {
      const [a, b] = await Promise.all([readFile(join(dir, file)), readFile(join(logged, file))]);
      if (!a.equals(b)) return null;
    }
    return runId;
  } catch {
    return null; // not in this store, or not readable here: register the folder itself
  }
}

/** The package's files (an earlier manifest excluded); an encrypted folder cannot be re-registered as a source. */
async function packageFiles(dir: string, label: string): Promise<string[]> {
  const files = await listArtifactFiles(dir);
  if (files.some((f) => f.endsWith(ENCRYPTED_SUFFIX))) {
    throw new SpotmlError('USAGE', `${label} holds encrypted artifacts; register the plaintext package (the run's "model" artifact or the train --out folder)`, {});
  }
  if (!files.includes('model.json')) {
    throw new SpotmlError('NOT_FOUND', `${label} is not a spotml model package (no model.json): pass a run that spotml train logged, or its --out folder`, {});
  }
  return files;
}

/**
 * A run's plaintext model artifact is registered in place (as MLflow does). The first registration writes
 * its manifest; later ones verify the files still match it, so a changed artifact is never blessed and every
 * version of that run shares one digest.
 */
async function earlierManifest(runId: string, path: string, dir: string): Promise<{ manifest: ChecksumManifest; digest: string } | null> {
  if (!existsSync(join(dir, CHECKSUMS_FILE))) return null;
  const verified = await verifyArtifacts(dir, null, `run ${runId} artifact "${path}"`);
  return { manifest: verified.manifest, digest: verified.digest };
}

async function writeManifestInPlace(stores: Stores, runId: string, path: string, dir: string): Promise<{ manifest: ChecksumManifest; digest: string }> {
  const manifest = await buildManifest(dir, null);
  const text = manifestText(manifest);
  await stores.tracking.writeArtifact(runId, `${path}/${CHECKSUMS_FILE}`, text);
  return { manifest, digest: sha256Hex(text) };
}

async function stagePlain(dir: string, files: readonly string[], out: string): Promise<{ manifest: ChecksumManifest; digest: string }> {
  for (const file of files) {
    await mkdir(dirname(join(out, file)), { recursive: true });
    await copyFile(join(dir, file), join(out, file));
  }
  return writeManifest(out, null);
}

async function stageEncrypted(dir: string, files: readonly string[], out: string, key: ModelKey): Promise<{ manifest: ChecksumManifest; digest: string }> {
  for (const file of files) {
    const stored = `${file}${ENCRYPTED_SUFFIX}`;
    await mkdir(dirname(join(out, stored)), { recursive: true });
    await writeFile(join(out, stored), encryptArtifact(await readFile(join(dir, file)), key, stored));
  }
  return writeManifest(out, { algorithm: ENCRYPTION_ALGORITHM, keyId: key.id });
}

async function writeManifest(out: string, encryption: ChecksumManifest['encryption']): Promise<{ manifest: ChecksumManifest; digest: string }> {
  const manifest = await buildManifest(out, encryption);
  const text = manifestText(manifest);
  await writeFile(join(out, CHECKSUMS_FILE), text);
  return { manifest, digest: sha256Hex(text) };
}

/** A folder has no run yet: make one in `experiment` to hold its artifacts, recording where it came from. */
async function createHoldingRun(stores: Stores, experiment: string, name: string, dir: string, document: PackageDocument): Promise<string> {
  const tracking = stores.tracking;
  const found = await experimentNamed(tracking, experiment);
  const run = await tracking.createRun({
    experimentId: found.experimentId,
    runName: `register-${name}`,
    tags: { 'spotml.command': 'register', 'spotml.version': SPOTML_VERSION, 'spotml.source_dir': resolvePath(dir).slice(0, 4000) },
  });
  const params: Record<string, string> = { source_dir: resolvePath(dir).slice(0, 6000) };
  if (document.dataHash) params.data_sha256 = document.dataHash;
  if (document.specHash) params.feature_spec_hash = document.specHash;
  await tracking.logBatch(run.runId, { params: Object.entries(params).map(([key, value]) => ({ key, value })) });
  return run.runId;
}

function spotmlTags(document: PackageDocument, digest: string, key: ModelKey | undefined): Record<string, string> {
  const tags: Record<string, string> = {
    [TAGS.checksums]: digest,
    [TAGS.task]: document.task,
    [TAGS.target]: document.target,
    [TAGS.family]: familyOf(document),
  };
  if (key) tags[TAGS.encryption] = `${ENCRYPTION_ALGORITHM}:${key.id}`;
  if (document.dataHash) tags[TAGS.dataHash] = document.dataHash;
  if (document.specHash) tags[TAGS.featureSpecHash] = document.specHash;
  for (const [metric, value] of Object.entries(document.metrics ?? {})) {
    if (typeof value === 'number' && Number.isFinite(value) && /^[\w.\- ]{1,200}$/.test(metric)) tags[`${TAGS.metricPrefix}${metric}`] = String(value);
  }
  return tags;
}

/** The trained family (train records it in training.model; the serialized model may be a preprocessing pipeline). */
function familyOf(document: PackageDocument): string {
  const summary = document.training?.model as { family?: unknown } | undefined;
  return String(summary?.family ?? document.model?.family ?? 'unknown');
}

/** Get-or-create; true when this call created it. Two processes racing to create both end up with the model. */
async function ensureRegisteredModel(stores: Stores, name: string): Promise<boolean> {
  try {
    await stores.registry.getRegisteredModel(name);
    return false;
  } catch (err) {
    if (!(err instanceof SpotmlError && err.code === 'NOT_FOUND')) throw err;
  }
  try {
    await stores.registry.createRegisteredModel(name);
    return true;
  } catch (err) {
    if (err instanceof SpotmlError && err.code === 'INVALID_INPUT') {
      await stores.registry.getRegisteredModel(name); // exists now (created by a concurrent register), or rethrows
      return false;
    }
    throw err;
  }
}

// ------------------------------------------------------------------------------------------------ promote

export interface IfBetterOptions {
  /** Held-out table with the target column (and the model's feature columns). */
  data: string;
  /** Report metric to compare on; default accuracy (classification) or r2 (regression). */
  metric?: string;
  alpha?: number;
  seed?: number;
}

export interface PromoteOptions extends KeyOptions {
  stores: Stores;
  name: string;
  version: number;
  alias?: string;
  stage?: string;
  archiveExisting?: boolean;
  ifBetter?: IfBetterOptions;
}

export interface PromoteComparison extends ComparisonResult {
  holderVersion: number;
  data: string;
  rows: number;
}

export interface PromoteResult {
  name: string;
  version: number;
  promoted: boolean;
  /** One line: what happened, or why not. */
  reason: string;
  alias: string | null;
  stage: string | null;
  /** The version that held the alias (or the highest in the stage) before, or null. */
  previous: number | null;
  comparison: PromoteComparison | null;
}

export async function promote(options: PromoteOptions): Promise<PromoteResult> {
  const { stores, name, version } = options;
  validateModelName(name);
  validateVersion(version);
  if (options.alias === undefined && options.stage === undefined) {
    throw new SpotmlError('USAGE', 'promote needs --alias <name> (recommended) or --stage Staging|Production|Archived', {});
  }
  if (options.alias !== undefined) validateAlias(options.alias);
  const stage = options.stage === undefined ? null : canonicalStage(options.stage);
  if (options.archiveExisting && stage === null) throw new SpotmlError('USAGE', '--archive-existing goes with --stage Staging|Production', {});
  await stores.registry.getModelVersion(name, version); // NOT_FOUND early, before any comparison work

  const holder = async (): Promise<number | null> => currentHolder(stores, name, options.alias ?? null, stage);
  const previous = await holder();
  const base = { name, version, alias: options.alias ?? null, stage, previous };
  const target = options.alias !== undefined ? `@${options.alias}` : `stage ${stage}`;

  let comparison: PromoteComparison | null = null;
  if (options.ifBetter) {
    if (previous === version) {
      return { ...base, promoted: false, reason: `version ${version} already holds ${target}; nothing to do`, comparison: null };
    }
    if (previous !== null) {
      comparison = await compareVersions(stores, name, version, previous, options.ifBetter, options);
      if (comparison.decision !== 'better') {
        return {
          ...base,
          promoted: false,
          reason: `not promoted: version ${version} is not significantly better than version ${previous} (${target}) on ${basename(options.ifBetter.data)}: ${describeComparison(comparison)}`,
          comparison,
        };
      }
      // The comparison took time: refuse if the holder moved meanwhile rather than overwrite a newer decision.
      const now = await holder();
      if (now !== previous) {
        return { ...base, promoted: false, reason: `not promoted: ${target} moved from version ${previous} to ${String(now)} during the comparison; run promote again`, comparison };
      }
    }
  }
  if (options.alias !== undefined) await stores.registry.setAlias(name, options.alias, version);
  if (stage !== null) await stores.registry.transitionStage(name, version, stage, Boolean(options.archiveExisting));
  const why =
    comparison !== null
      ? `promoted: ${describeComparison(comparison)}`
      : options.ifBetter && previous === null
        ? `promoted: ${target} had no holder`
        : 'promoted';
  return { ...base, promoted: true, reason: `${why} → version ${version} now holds ${target}`, comparison };
}

async function currentHolder(stores: Stores, name: string, alias: string | null, stage: string | null): Promise<number | null> {
  if (alias !== null) {
    try {
      return (await stores.registry.getModelVersionByAlias(name, alias)).version;
    } catch (err) {
      if (err instanceof SpotmlError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  }
  if (stage === null || stage === 'None') return null;
  const latest = await stores.registry.getLatestVersions(name, [stage]);
  return latest[0]?.version ?? null;
}

/** Both versions predict on the same rows (each under its own FeatureSpec check); compared as `evaluate` does. */
async function compareVersions(
  stores: Stores,
  name: string,
  candidateVersion: number,
  holderVersion: number,
  ifBetter: IfBetterOptions,
  keys: KeyOptions,
): Promise<PromoteComparison> {
  const candidate = await resolveModel(`models:/${name}/${candidateVersion}`, stores, keys);
  try {
    const holder = await resolveModel(`models:/${name}/${holderVersion}`, stores, keys);
    try {
      const [a, b] = [await readModelPackage(candidate.dir), await readModelPackage(holder.dir)];
      if (a.document.task !== b.document.task || a.document.target !== b.document.target) {
        throw new SpotmlError(
          'INVALID_INPUT',
          `versions ${candidateVersion} and ${holderVersion} predict different things (${a.document.task} of "${a.document.target}" vs ${b.document.task} of "${b.document.target}"); they cannot be compared`,
          {},
        );
      }
      return await comparePackages(a, b, holderVersion, ifBetter);
    } finally {
      await holder.dispose();
    }
  } finally {
    await candidate.dispose();
  }
}

async function comparePackages(candidate: ModelPackage, holder: ModelPackage, holderVersion: number, options: IfBetterOptions): Promise<PromoteComparison> {
  const task: Task = candidate.document.task;
  const target = candidate.document.target;
  const table = await readTable(options.data, { stringColumns: [target] });
  const specPath = specPathFor(options.data);
  const tableSpec: FeatureSpec | null = existsSync(specPath) ? await readFeatureSpec(specPath) : null;
  const dataName = basename(options.data);
  const targetIndex = table.names.indexOf(target);
  if (targetIndex < 0) throw new SpotmlError('INVALID_INPUT', `${dataName} has no target column "${target}"; --if-better needs labelled data`, { column: target });
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const seed = options.seed ?? 0;
  const predict = (pkg: ModelPackage): Float64Array => pkg.model.predict(featureMatrix(pkg, table, tableSpec, dataName));
  const rawTarget = Array.from(table.columns[targetIndex] as ArrayLike<string | number>, (v) => String(v));
  let result: ComparisonResult;
  if (task === 'classification') {
    // Each model has its own label map: put truth and both predictions in one label space.
    const decode = (pkg: ModelPackage, pred: Float64Array): string[] => (pkg.labels ? pkg.labels.decode(pred).map(String) : Array.from(pred, String));
    const candidateLabels = decode(candidate, predict(candidate));
    const holderLabels = decode(holder, predict(holder));
    const space = [...new Set([...rawTarget, ...candidateLabels, ...holderLabels])].sort();
    const index = new Map(space.map((label, i) => [label, i]));
    const encode = (labels: readonly string[]): Float64Array => Float64Array.from(labels, (l) => index.get(l) as number);
    const [y, a, b] = [encode(rawTarget), encode(candidateLabels), encode(holderLabels)];
    const metric = options.metric ?? 'accuracy';
    result = metric === 'accuracy' ? compareModels(task, y, a, b, { alpha, seed }) : bootstrapClassification(metric, y, a, b, space.length, alpha, seed);
  } else {
    const y = Float64Array.from(rawTarget, Number);
    const bad = y.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new SpotmlError('INVALID_INPUT', `${dataName}: target "${target}" is not a number in row ${bad + 1}`, { row: bad + 1 });
    result = compareModels(task, y, predict(candidate), predict(holder), { metric: options.metric, alpha, seed });
  }
  return { ...result, holderVersion, data: resolvePath(options.data), rows: table.nRows };
}

/**
 * compareModels tests classifiers on accuracy (McNemar); for another label metric (f1_macro, …) the same
 * paired bootstrap it uses for regressors is run on that metric, with the same decision rule.
 */
function bootstrapClassification(metric: string, y: Float64Array, a: Float64Array, b: Float64Array, nClasses: number, alpha: number, seed: number): ComparisonResult {
  const definition = reportMetric(metric);
  if (!definition || definition.task !== 'classification' || definition.needsProba) {
    throw new SpotmlError('USAGE', `--metric ${metric} cannot compare classifiers here; use accuracy, balanced_accuracy, f1_macro, f1_weighted, matthews_corrcoef or another label metric`, {
      flag: '--metric',
    });
  }
  const score = (t: ArrayLike<number>, p: ArrayLike<number>): number => definition.compute(t, p, undefined, nClasses);
  const boot = pairedBootstrap(y, a, b, score, { seed, confidence: 1 - alpha });
  const significant = boot.pValue < alpha && boot.delta !== 0;
  return {
    test: 'paired-bootstrap',
    metric,
    statistic: boot.delta,
    pValue: boot.pValue,
    delta: boot.delta,
    candidateValue: score(y, a),
    baselineValue: score(y, b),
    alpha,
    decision: !significant ? 'no significant difference' : boot.delta > 0 === definition.greaterIsBetter ? 'better' : 'worse',
    interval: { lower: boot.lower, upper: boot.upper },
  };
}

// ------------------------------------------------------------------------------------------------ list / show / delete

export interface VersionSummary {
  version: number;
  stage: string;
  aliases: string[];
  createdAt: string;
  runId: string | null;
  source: string;
  description: string;
  encrypted: boolean;
  /** From the package's training metrics (e.g. cv_accuracy). */
  metrics: Record<string, number>;
}

export interface ModelSummary {
  name: string;
  description: string;
  createdAt: string;
  updatedAt: string;
  aliases: Record<string, number>;
  versions: VersionSummary[];
}

export async function listModels(stores: Stores): Promise<ModelSummary[]> {
  const models: RegisteredModel[] = [];
  let pageToken: string | undefined;
  do {
    const page = await stores.registry.searchRegisteredModels({ maxResults: 1000, pageToken });
    models.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  const out: ModelSummary[] = [];
  for (const model of models) out.push(await summariseModel(stores, model));
  return out;
}

async function summariseModel(stores: Stores, model: RegisteredModel): Promise<ModelSummary> {
  const versions: ModelVersion[] = [];
  let pageToken: string | undefined;
  do {
    const page = await stores.registry.searchModelVersions({ name: model.name, pageToken });
    versions.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return {
    name: model.name,
    description: model.description,
    createdAt: iso(model.creationTimestamp),
    updatedAt: iso(model.lastUpdatedTimestamp),
    aliases: model.aliases,
    versions: versions.sort((a, b) => b.version - a.version).map(summariseVersion),
  };
}

function summariseVersion(v: ModelVersion): VersionSummary {
  const metrics: Record<string, number> = {};
  for (const [key, value] of Object.entries(v.tags)) {
    if (key.startsWith(TAGS.metricPrefix)) metrics[key.slice(TAGS.metricPrefix.length)] = Number(value);
  }
  return {
    version: v.version,
    stage: v.currentStage,
    aliases: v.aliases,
    createdAt: iso(v.creationTimestamp),
    runId: v.runId,
    source: v.source,
    description: v.description,
    encrypted: v.tags[TAGS.encryption] !== undefined,
    metrics,
  };
}

export interface AliasEvent {
  time: string;
  user: string;
  action: string;
  alias: string | null;
  /** Version (alias events) or stage (stage events) before and after. */
  from: number | string | null;
  to: number | string | null;
}

export interface VersionDetail extends VersionSummary {
  tags: Record<string, string>;
  lineage: {
    runId: string | null;
    run: { experimentId: string; runName: string; status: string; startTime: string } | null;
    task: string | null;
    target: string | null;
    family: string | null;
    dataHash: string | null;
    featureSpecHash: string | null;
    /** The FeatureSpec itself when the version is plaintext (encrypted versions show the hash only). */
    featureSpec: unknown;
    /** Alias and stage moves that involved this version, oldest first (file store: from the audit log). */
    aliasHistory: AliasEvent[] | null;
  };
  integrity: { ok: boolean; message: string };
}

export interface ShowResult {
  model: ModelSummary;
  version: VersionDetail | null;
}

/** A model's summary, and with `version` that version's tags, lineage and an integrity check (no key needed). */
export async function showModel(stores: Stores, name: string, version?: number): Promise<ShowResult> {
  validateModelName(name);
  const model = await summariseModel(stores, await stores.registry.getRegisteredModel(name));
  if (version === undefined) return { model, version: null };
  validateVersion(version);
  const v = await stores.registry.getModelVersion(name, version);
  let run: VersionDetail['lineage']['run'] = null;
  if (v.runId) {
    try {
      const info = (await stores.tracking.getRun(v.runId)).info;
      run = { experimentId: info.experimentId, runName: info.runName, status: info.status, startTime: iso(info.startTime) };
    } catch {
      run = null; // the run was deleted or is unreachable; the version still stands
    }
  }
  let integrity: VersionDetail['integrity'];
  let featureSpec: unknown = null;
  const local = await versionArtifactDir(stores, v).catch((err: unknown) => err as Error);
  if (local instanceof Error) integrity = { ok: false, message: local.message };
  else {
    try {
      const verified = await verifyArtifacts(local.dir, v.tags[CHECKSUMS_TAG] ?? null, `${name} version ${version}`);
      if (!v.tags[CHECKSUMS_TAG]) integrity = { ok: false, message: `no ${CHECKSUMS_TAG} tag: not registered by spotml, cannot be verified` };
      else integrity = { ok: true, message: `${verified.files.size} file(s) match ${CHECKSUMS_FILE} (sha256 ${verified.digest.slice(0, 12)}…)` };
      const spec = verified.files.get('feature-spec.json');
      if (spec && verified.manifest.encryption === null) featureSpec = JSON.parse(spec.toString('utf8')) as unknown;
    } catch (err) {
      integrity = { ok: false, message: err instanceof Error ? err.message : String(err) };
    } finally {
      await local.cleanup();
    }
  }
  return {
    model,
    version: {
      ...summariseVersion(v),
      tags: v.tags,
      lineage: {
        runId: v.runId,
        run,
        task: v.tags[TAGS.task] ?? null,
        target: v.tags[TAGS.target] ?? null,
        family: v.tags[TAGS.family] ?? null,
        dataHash: v.tags[TAGS.dataHash] ?? null,
        featureSpecHash: v.tags[TAGS.featureSpecHash] ?? null,
        featureSpec,
        aliasHistory: await aliasHistory(stores, name, version),
      },
      integrity,
    },
  };
}

/** From the file store's audit log; null for a REST store (its audit trail is the server's). */
async function aliasHistory(stores: Stores, name: string, version: number): Promise<AliasEvent[] | null> {
  if (stores.kind !== 'file') return null;
  const stored = stores.tenant !== undefined ? `${stores.tenant}.${name}` : name;
  const entries: AuditEntry[] = await readAuditLog(stores.location);
  const out: AliasEvent[] = [];
  for (const e of entries) {
    if (e.model !== stored) continue;
    if (e.action === 'alias.set' || e.action === 'alias.delete') {
      if (e.before !== version && e.after !== version && e.version !== version) continue;
      out.push({ time: e.time, user: e.user, action: e.action, alias: e.alias ?? null, from: asVersion(e.before), to: asVersion(e.after) });
    } else if (e.action === 'model_version.transition_stage' && e.version === version) {
      out.push({ time: e.time, user: e.user, action: e.action, alias: null, from: stageOf(e.before), to: stageOf(e.after) });
    }
  }
  return out;
}

export interface DeleteResult {
  name: string;
  version: number;
  deleted: true;
  /** Aliases that pointed at the version and were removed with it. */
  aliasesRemoved: string[];
}

/**
 * Deletes a version. One that is in use (holds an alias, or is in Production) is refused unless `force`: its
 * aliases would vanish with it (MLflow's rule) and a server following them would lose its model.
 */
export async function deleteVersion(stores: Stores, name: string, version: number, force = false): Promise<DeleteResult> {
  validateModelName(name);
  validateVersion(version);
  const before = await stores.registry.getModelVersion(name, version);
  const inUse = [...before.aliases.map((a) => `@${a}`), ...(before.currentStage === 'Production' ? ['stage Production'] : [])];
  if (inUse.length > 0 && !force) {
    throw new SpotmlError(
      'USAGE',
      `version ${version} of "${name}" is in use (${inUse.join(', ')}): promote another version first (spotml promote ${name} --version <n> …), or pass --force to delete it and its aliases`,
      { name, version, inUse },
    );
  }
  await stores.registry.deleteModelVersion(name, version);
  return { name, version, deleted: true, aliasesRemoved: before.aliases };
}

function iso(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : '';
}

function asVersion(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

function stageOf(value: unknown): string | null {
  const stage = (value as { currentStage?: unknown } | null)?.currentStage;
  return typeof stage === 'string' ? stage : null;
}
