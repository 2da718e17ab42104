/**
 * The served model and its atomic hot swap.
 *
 * A request takes `holder.acquire()` once and uses that LoadedModel to the end (schema, predictor, labels all
 * from the same version), then `release()`s it. A swap loads and self-checks the new version completely off
 * to the side, then replaces one reference: JavaScript runs the assignment between requests, so every request
 * sees either the old model or the new one, never a mix, and none fails because of the swap. The old model is
 * closed once its last in-flight request releases it.
 *
 * A version that fails verification (checksums, decryption), fails to load or fails its self-check is not
 * served; the old one stays and the failure is reported (logs, /metrics). Polls keep locating (cheap, so a
 * move to another version is seen at once) but fetch the same failed version again only after a backoff that
 * doubles up to five minutes: a corrupt multi-GB version is not re-downloaded and re-verified every poll. The
 * verified (possibly decrypted) copy a version is loaded from is removed as soon as the load ends.
 *
 * A package that reads frame-level input (model.json `frameInput`, e.g. the cnn) takes its `featureNames` then one
 * n_bands × frames patch per row: its model's width is the sum, and its schema names the patch columns too.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpotmlError, asSpotmlError } from '../errors.js';
import { createMatrix, type Matrix } from '../data/matrix.js';
import { onnxSupport } from '../export/onnx/index.js';
import type { FrameInput } from '../learners/dl/frame-input.js';
import { readModelPackage, type ModelPackage } from '../registry/package.js';
import { inputSchema, type InputSchema } from './protocol.js';
import { hasOnnxFile, nativePredictor, onnxPredictor, type Predictor, type RuntimeChoice } from './runtime.js';
import type { LoadableModel, ModelLocation, ModelSource } from './model-source.js';

export interface LoadedModel {
  readonly resolved: LoadableModel;
  readonly pkg: ModelPackage;
  readonly predictor: Predictor;
  readonly schema: InputSchema;
  /** Class labels by index (classification), else null. */
  readonly classes: readonly (string | number)[] | null;
  readonly loadedAt: Date;
  /** Requests currently using this model. */
  inflight: number;
  retired: boolean;
}

export interface LoadOptions {
  /** `auto`: the package's model.onnx when present, else native. */
  runtime: RuntimeChoice;
  /** onnxruntime intra-op threads. */
  onnxThreads?: number;
}

/** Rows the self-check predicts: the package's input example, else one row of zeros. */
async function checkRows(pkg: ModelPackage): Promise<Matrix> {
  const p = pkg.model.nFeatures;
  try {
    const example = JSON.parse(await readFile(join(pkg.dir, 'input_example.json'), 'utf8')) as { data?: unknown };
    const rows = example.data;
    if (Array.isArray(rows) && rows.length > 0 && rows.every((r) => Array.isArray(r) && r.length === p && r.every((v) => v === null || typeof v === 'number'))) {
      const data = Float64Array.from((rows as (number | null)[][]).flat(), (v) => (v === null ? Number.NaN : v));
      return createMatrix(rows.length, p, data);
    }
  } catch {
    // no example: fall through
  }
  return createMatrix(1, p);
}

/** Loads a package, opens its runtime and predicts a check row; throws (naming the folder) when anything is off. */
export async function loadModel(resolved: LoadableModel, options: LoadOptions): Promise<LoadedModel> {
  const pkg = await readModelPackage(resolved.dir);
  const { document, model } = pkg;
  const frameInput = checkedFrameInput(document.frameInput, resolved.dir);
  const patchWidth = frameInput ? frameInput.n_bands * frameInput.frames : 0;
  if (document.featureNames.length + patchWidth !== model.nFeatures) {
    const listed = frameInput
      ? `${document.featureNames.length} features plus a ${frameInput.n_bands} × ${frameInput.frames} ${frameInput.feature} patch (${document.featureNames.length + patchWidth} values)`
      : `${document.featureNames.length} features`;
    throw new SpotmlError('INVALID_INPUT', `${resolved.dir}: the package lists ${listed} but its model takes ${model.nFeatures}`, {
      dir: resolved.dir,
    });
  }
  const runtime = options.runtime === 'auto' ? (hasOnnxFile(resolved.dir) ? 'onnx' : 'native') : options.runtime;
  if (runtime === 'onnx' && !hasOnnxFile(resolved.dir)) {
    // Say why there is none when the model cannot be exported, rather than suggesting an export that would fail.
    const support = onnxSupport(model);
    if (!support.exportable) {
      throw new SpotmlError('USAGE', `--runtime onnx: the model package ${resolved.dir} has no model.onnx because its model does not export (${support.reason}); serve it with --runtime native`, {
        dir: resolved.dir,
      });
    }
  }
  const predictor = runtime === 'onnx' ? await onnxPredictor(resolved.dir, model.task, model.nFeatures, model.nClasses, options.onnxThreads ?? 1) : nativePredictor(model);
  const classes = document.task === 'classification' ? (pkg.labels?.classes ?? null) : null;
  try {
    const X = await checkRows(pkg);
    const { values, proba } = await predictor.predict(X, predictor.hasProba);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      const ok = classes ? Number.isInteger(v) && v >= 0 && v < classes.length : Number.isFinite(v);
      if (!ok) throw new Error(`self-check prediction ${v} is not ${classes ? 'a class index' : 'finite'}`);
    }
    if (values.length !== X.rows) throw new Error(`self-check gave ${values.length} predictions for ${X.rows} rows`);
    if (proba && proba.data.some((v) => !Number.isFinite(v))) throw new Error('self-check probabilities are not finite');
  } catch (err) {
    await predictor.close().catch(() => undefined);
    throw new SpotmlError('INVALID_INPUT', `${resolved.dir}: the model failed its self-check (${(err as Error).message})`, { dir: resolved.dir });
  }
  return { resolved, pkg, predictor, schema: inputSchema(document.featureNames, frameInput), classes, loadedAt: new Date(), inflight: 0, retired: false };
}

/** The package's frame input, or null; a malformed one is refused (naming the folder) rather than served wrong. */
function checkedFrameInput(value: FrameInput | null | undefined, dir: string): FrameInput | null {
  if (value === undefined || value === null) return null;
  const count = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
  if (typeof value !== 'object' || typeof value.feature !== 'string' || !count(value.n_bands) || !count(value.frames)) {
    throw new SpotmlError('INVALID_INPUT', `${dir}: model.json's frameInput is malformed (needs feature, n_bands, frames); the package is damaged, re-train it`, { dir });
  }
  return value;
}

export interface HolderEvents {
  onSwap?(next: LoadedModel, previous: LoadedModel | null): void;
  /** Every failed refresh; `repeated` when it failed the same way as the one before (log those once). */
  onError?(error: SpotmlError, repeated: boolean): void;
  /** A refresh succeeded after failures (the source is reachable again, or a sound version was loaded). */
  onRecovered?(failures: number): void;
}

/** Longest wait before fetching a version that already failed to load again. */
export const MAX_FAILED_VERSION_BACKOFF_MS = 5 * 60_000;

export class ModelHolder {
  private model: LoadedModel | null = null;
  private refreshing: Promise<'unchanged' | 'swapped' | 'failed'> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pollIntervalMs = 0;
  /** The version that last failed to fetch or load, and when it may be tried again. */
  private failedVersion: { key: string; attempts: number; retryAt: number } | null = null;
  swaps = 0;
  failures = 0;
  /** Refreshes that failed since the last one that succeeded. */
  consecutiveFailures = 0;
  lastError: SpotmlError | null = null;

  constructor(
    readonly source: ModelSource,
    readonly options: LoadOptions,
    private readonly events: HolderEvents = {},
  ) {}

  get current(): LoadedModel | null {
    return this.model;
  }

  /** The model a request uses from start to end; pair with release(). */
  acquire(): LoadedModel | null {
    const model = this.model;
    if (model) model.inflight++;
    return model;
  }

  release(model: LoadedModel): void {
    model.inflight--;
    if (model.retired && model.inflight === 0) void model.predictor.close().catch(() => undefined);
  }

  /** The first load: errors propagate (a server with no model should not start). */
  async start(): Promise<LoadedModel> {
    const model = await this.fetchAndLoad(await this.source.locate());
    this.install(model);
    return model;
  }

  /**
   * Fetches (verifies, decrypts) and loads off to the side. The fetched folder is disposed of as soon as the
   * load ends either way: everything serving needs is in memory by then, and no decrypted copy lingers.
   */
  private async fetchAndLoad(location: ModelLocation): Promise<LoadedModel> {
    const resolved = await this.source.fetch(location);
    try {
      return await loadModel(resolved, this.options);
    } catch (err) {
      // Name the model as the user knows it, not the private copy that is about to disappear.
      const error = asSpotmlError(err);
      if (resolved.label === resolved.dir || !error.message.includes(resolved.dir)) throw error;
      throw new SpotmlError(error.code, error.message.split(resolved.dir).join(resolved.label), error.details, { cause: err });
    } finally {
      await resolved.dispose();
    }
  }

  /** Locates the source again and swaps when it names another model. Concurrent calls share one refresh. */
  refresh(): Promise<'unchanged' | 'swapped' | 'failed'> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<'unchanged' | 'swapped' | 'failed'> {
    let key: string | null = null;
    try {
      const location = await this.source.locate();
      key = location.key;
      if (this.model && location.key === this.model.resolved.key) {
        this.failedVersion = null;
        this.recovered();
        return 'unchanged';
      }
      // Still the version that failed, still inside its backoff: the failure stands, nothing new to report.
      const failed = this.failedVersion;
      if (failed !== null && failed.key === location.key && Date.now() < failed.retryAt) return 'failed';
      this.install(await this.fetchAndLoad(location));
      this.failedVersion = null;
      this.recovered();
      return 'swapped';
    } catch (err) {
      const error = asSpotmlError(err);
      const repeated = this.lastError !== null && this.lastError.code === error.code && this.lastError.message === error.message;
      this.failures++;
      this.consecutiveFailures++;
      this.lastError = error;
      if (key !== null) {
        // locate() worked, so this version itself failed: back off before fetching it again.
        const attempts = this.failedVersion?.key === key ? this.failedVersion.attempts + 1 : 1;
        const backoff = Math.min(MAX_FAILED_VERSION_BACKOFF_MS, Math.max(this.pollIntervalMs, 1000) * 2 ** (attempts - 1));
        this.failedVersion = { key, attempts, retryAt: Date.now() + backoff };
      }
      this.events.onError?.(error, repeated);
      return 'failed';
    }
  }

  private recovered(): void {
    if (this.consecutiveFailures === 0) return;
    const failures = this.consecutiveFailures;
    this.consecutiveFailures = 0;
    this.lastError = null;
    this.events.onRecovered?.(failures);
  }

  private install(next: LoadedModel): void {
    const previous = this.model;
    this.model = next;
    if (previous) {
      this.swaps++;
      previous.retired = true;
      if (previous.inflight === 0) void previous.predictor.close().catch(() => undefined);
    }
    this.events.onSwap?.(next, previous);
  }

  startPolling(intervalMs: number): void {
    this.stopPolling();
    this.pollIntervalMs = intervalMs;
    if (!(intervalMs > 0)) return;
    const tick = (): void => {
      void this.refresh().finally(() => {
        if (this.timer !== null) this.timer = setTimeout(tick, intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, intervalMs).unref();
  }

  stopPolling(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  async close(): Promise<void> {
    this.stopPolling();
    await this.refreshing?.catch(() => undefined);
    const model = this.model;
    this.model = null;
    if (model) await model.predictor.close().catch(() => undefined);
  }
}
