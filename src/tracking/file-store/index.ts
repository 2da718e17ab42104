/**
 * MLflow's file store (`./mlruns`), written exactly as MLflow lays it out so `mlflow ui` reads it.
 * Primitives only; formats live in codec.ts. Every meta.yaml is written atomically, and writers that
 * must not interleave (creating experiments, logging params) take the store lock.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { appendFile, cp, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { userInfo } from 'node:os';
import { SpotmlError } from '../../errors.js';
import { withLock, writeFileAtomic } from '../fs-atomic.js';
import type { CreateRunOptions, Experiment, LogBatch, Metric, Run, RunInfo, RunStatus, TrackingStore } from '../store.js';
import {
  MAX_PARAM_VALUE,
  MAX_TAG_VALUE,
  decodeExperiment,
  decodeMetricLines,
  decodeRunInfo,
  encodeExperiment,
  encodeMetricLine,
  encodeRunInfo,
  latestMetric,
  loadYaml,
  validateArtifactPath,
  validateExperimentId,
  validateKey,
  validateRunId,
} from './codec.js';

const RESERVED_ROOT = new Set(['.trash', 'models']);
const RESERVED_IN_EXPERIMENT = new Set(['tags', 'datasets', 'traces', 'models']);

export class FileStore implements TrackingStore {
  readonly root: string;
  readonly location: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = this.root;
  }

  /** `file:` URI or path → store; the embedded default is ./mlruns. */
  static fromUri(uri: string | undefined): FileStore {
    if (!uri) return new FileStore('mlruns');
    return new FileStore(uri.startsWith('file:') ? fileURLToPath(uri) : uri);
  }

  private lockPath(): string {
    return join(this.root, '.trash', '.spotml.lock');
  }

  /** Creates the root, .trash and the Default experiment 0 when missing. */
  async ensureInitialised(): Promise<void> {
    if (existsSync(join(this.root, '0', 'meta.yaml'))) return;
    await mkdir(join(this.root, '.trash'), { recursive: true });
    await withLock(this.lockPath(), async () => {
      if (existsSync(join(this.root, '0', 'meta.yaml'))) return;
      const now = Date.now();
      await this.writeExperiment({
        experimentId: '0',
        name: 'Default',
        artifactLocation: pathToFileURL(join(this.root, '0')).href,
        lifecycleStage: 'active',
        creationTime: now,
        lastUpdateTime: now,
        tags: {},
      });
    });
  }

  private async writeExperiment(e: Experiment): Promise<void> {
    const dir = join(this.root, e.experimentId);
    await mkdir(join(dir, 'tags'), { recursive: true });
    for (const [key, value] of Object.entries(e.tags)) {
      validateKey('tag', key);
      await writeFileAtomic(join(dir, 'tags', key), value.slice(0, MAX_TAG_VALUE));
    }
    await writeFileAtomic(join(dir, 'meta.yaml'), encodeExperiment(e));
  }

  async createExperiment(name: string, tags: Record<string, string> = {}): Promise<string> {
    validateExperimentName(name);
    await this.ensureInitialised();
    return withLock(this.lockPath(), async () => {
      if (await this.findExperimentByName(name)) {
        throw new SpotmlError('INVALID_INPUT', `experiment "${name}" already exists; pick another name`, { name });
      }
      let id: string;
      do id = String(randomInt(1, 2 ** 47)) + String(randomInt(0, 999)).padStart(3, '0');
      while (existsSync(join(this.root, id)));
      const now = Date.now();
      await this.writeExperiment({
        experimentId: id,
        name,
        artifactLocation: pathToFileURL(join(this.root, id)).href,
        lifecycleStage: 'active',
        creationTime: now,
        lastUpdateTime: now,
        tags,
      });
      return id;
    });
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    validateExperimentId(experimentId);
    await this.ensureInitialised();
    const dir = join(this.root, experimentId);
    const file = join(dir, 'meta.yaml');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new SpotmlError('NOT_FOUND', `experiment ${experimentId} does not exist in ${this.root}`, { experimentId });
    }
    return decodeExperiment(loadYaml(text, file), await readKeyFiles(join(dir, 'tags')));
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    await this.ensureInitialised();
    return this.findExperimentByName(name);
  }

  private async findExperimentByName(name: string): Promise<Experiment | undefined> {
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || RESERVED_ROOT.has(entry.name)) continue;
      const file = join(this.root, entry.name, 'meta.yaml');
      try {
        const meta = loadYaml(await readFile(file, 'utf8'), file);
        if (meta.name === name) return decodeExperiment(meta, await readKeyFiles(join(this.root, entry.name, 'tags')));
      } catch {
        // MLflow skips experiments with a missing or invalid meta.yaml; so do we.
      }
    }
    return undefined;
  }

  async createRun(options: CreateRunOptions): Promise<RunInfo> {
    const experiment = await this.getExperiment(options.experimentId);
    if (experiment.lifecycleStage !== 'active') {
      throw new SpotmlError('INVALID_INPUT', `experiment ${options.experimentId} is deleted; restore it or use another`, {});
    }
    const runId = randomBytes(16).toString('hex');
    const runDir = join(this.root, options.experimentId, runId);
    const runName = options.runName ?? `spotml-${runId.slice(0, 8)}`;
    const userId = options.userId ?? safeUser();
    const info: RunInfo = {
      runId,
      experimentId: options.experimentId,
      runName,
      userId,
      status: 'RUNNING',
      startTime: options.startTime ?? Date.now(),
      endTime: null,
      artifactUri: pathToFileURL(join(runDir, 'artifacts')).href,
      lifecycleStage: 'active',
    };
    for (const sub of ['metrics', 'params', 'tags', 'artifacts']) await mkdir(join(runDir, sub), { recursive: true });
    const tags = { 'mlflow.runName': runName, 'mlflow.user': userId, 'mlflow.source.type': 'LOCAL', 'mlflow.source.name': 'spotml', ...options.tags };
    for (const [key, value] of Object.entries(tags)) {
      validateKey('tag', key);
      await writeFileAtomic(join(runDir, 'tags', key), value.slice(0, MAX_TAG_VALUE));
    }
    // meta.yaml last: until it exists, MLflow (and we) skip the folder.
    await writeFileAtomic(join(runDir, 'meta.yaml'), encodeRunInfo(info));
    return info;
  }

  private async runDir(runId: string): Promise<string> {
    validateRunId(runId);
    await this.ensureInitialised();
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || RESERVED_ROOT.has(entry.name)) continue;
      const dir = join(this.root, entry.name, runId);
      if (existsSync(join(dir, 'meta.yaml'))) return dir;
    }
    throw new SpotmlError('NOT_FOUND', `run ${runId} does not exist in ${this.root}`, { runId });
  }

  private async readRunInfo(dir: string): Promise<RunInfo> {
    const file = join(dir, 'meta.yaml');
    return decodeRunInfo(loadYaml(await readFile(file, 'utf8'), file));
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<RunInfo> {
    const dir = await this.runDir(runId);
    const info = await this.readRunInfo(dir);
    const next: RunInfo = { ...info, status, endTime: endTime ?? (status === 'RUNNING' ? null : Date.now()) };
    await writeFileAtomic(join(dir, 'meta.yaml'), encodeRunInfo(next));
    return next;
  }

  async getRun(runId: string): Promise<Run> {
    const dir = await this.runDir(runId);
    const info = await this.readRunInfo(dir);
    const metrics: Metric[] = [];
    for (const [key, text] of Object.entries(await readKeyFiles(join(dir, 'metrics')))) {
      const latest = latestMetric(decodeMetricLines(key, text, join(dir, 'metrics', key)));
      if (latest) metrics.push(latest);
    }
    return {
      info,
      data: { metrics, params: await readKeyFiles(join(dir, 'params')), tags: await readKeyFiles(join(dir, 'tags')) },
    };
  }

  async listRuns(experimentId: string): Promise<RunInfo[]> {
    validateExperimentId(experimentId);
    const dir = join(this.root, experimentId);
    const out: RunInfo[] = [];
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      throw new SpotmlError('NOT_FOUND', `experiment ${experimentId} does not exist in ${this.root}`, { experimentId });
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || RESERVED_IN_EXPERIMENT.has(entry.name)) continue;
      try {
        out.push(await this.readRunInfo(join(dir, entry.name)));
      } catch {
        // A run folder without a readable meta.yaml is skipped, as MLflow does.
      }
    }
    return out.sort((a, b) => b.startTime - a.startTime);
  }

  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    const dir = await this.runDir(runId);
    for (const m of batch.metrics ?? []) validateKey('metric', m.key);
    for (const p of batch.params ?? []) validateKey('param', p.key);
    for (const t of batch.tags ?? []) validateKey('tag', t.key);
    if ((batch.params ?? []).length > 0) {
      // Params are immutable: check-and-write under the lock so two writers cannot race.
      await withLock(join(dir, '.params.lock'), async () => {
        for (const p of batch.params ?? []) {
          const file = join(dir, 'params', p.key);
          const value = p.value.slice(0, MAX_PARAM_VALUE);
          if (existsSync(file)) {
            const old = await readFile(file, 'utf8');
            if (old !== value) {
              throw new SpotmlError('INVALID_INPUT', `param "${p.key}" was already logged as "${old}" and cannot change to "${value}"`, {
                key: p.key,
              });
            }
            continue;
          }
          await writeFileAtomic(file, value);
        }
      });
    }
    for (const t of batch.tags ?? []) await writeFileAtomic(join(dir, 'tags', t.key), t.value.slice(0, MAX_TAG_VALUE));
    // Group metric lines per key so each key gets one append (a whole line per write: no torn lines).
    const byKey = new Map<string, string>();
    for (const m of batch.metrics ?? []) byKey.set(m.key, (byKey.get(m.key) ?? '') + encodeMetricLine(m));
    for (const [key, lines] of byKey) {
      const file = join(dir, 'metrics', key);
      await mkdir(dirname(file), { recursive: true });
      await appendFile(file, lines);
    }
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    validateKey('metric', key);
    const dir = await this.runDir(runId);
    const file = join(dir, 'metrics', key);
    try {
      return decodeMetricLines(key, await readFile(file, 'utf8'), file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private async artifactDir(runId: string): Promise<string> {
    const dir = await this.runDir(runId);
    const info = await this.readRunInfo(dir);
    if (!info.artifactUri.startsWith('file:')) {
      throw new SpotmlError('STORE', `run ${runId} has artifact URI ${info.artifactUri}, which spotml's file store cannot write`, {});
    }
    return fileURLToPath(info.artifactUri);
  }

  async logArtifact(runId: string, localPath: string, artifactPath = ''): Promise<void> {
    validateArtifactPath(artifactPath);
    const base = await this.artifactDir(runId);
    const source = resolve(localPath);
    const info = await stat(source).catch(() => {
      throw new SpotmlError('NOT_FOUND', `artifact source ${localPath} does not exist`, { path: localPath });
    });
    const target = info.isDirectory() ? join(base, artifactPath) : join(base, artifactPath, source.split('/').pop() ?? 'artifact');
    await mkdir(dirname(target), { recursive: true });
    await cp(source, target, { recursive: true });
  }

  async writeArtifact(runId: string, artifactPath: string, content: Uint8Array | string): Promise<void> {
    validateArtifactPath(artifactPath);
    if (artifactPath === '') throw new SpotmlError('INVALID_INPUT', 'artifact path must name a file', {});
    await writeFileAtomic(join(await this.artifactDir(runId), artifactPath), content);
  }

  async listArtifacts(runId: string, path = ''): Promise<{ path: string; isDir: boolean; size?: number }[]> {
    validateArtifactPath(path);
    const base = await this.artifactDir(runId);
    const dir = join(base, path);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return [];
    }
    const out: { path: string; isDir: boolean; size?: number }[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.') && entry.name.endsWith('.tmp')) continue;
      const full = join(dir, entry.name);
      const rel = relative(base, full);
      if (entry.isDirectory()) out.push({ path: rel, isDir: true });
      else out.push({ path: rel, isDir: false, size: (await stat(full)).size });
    }
    return out.sort((a, b) => a.path.localeCompare(b.path));
  }

  async downloadArtifact(runId: string, artifactPath: string, destination?: string): Promise<string> {
    validateArtifactPath(artifactPath);
    const source = join(await this.artifactDir(runId), artifactPath);
    if (!existsSync(source)) throw new SpotmlError('NOT_FOUND', `run ${runId} has no artifact "${artifactPath}"`, { runId, artifactPath });
    if (!destination) return source;
    await cp(source, destination, { recursive: true });
    return destination;
  }
}

function validateExperimentName(name: string): void {
  if (name.trim() === '' || name.length > 500) {
    throw new SpotmlError('INVALID_INPUT', `experiment name must be 1 to 500 characters, got "${name.slice(0, 40)}"`, { name });
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? '';
  }
}

/**
 * Reads a folder of key files (params/, tags/, metrics/, aliases/) recursively: "a/b" keys come from
 * subfolders. Temp files of an unfinished atomic write and lock files are not keys. Keys come back sorted.
 */
export async function readKeyFiles(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!entry.isFile() || entry.name.endsWith('.tmp') || entry.name.endsWith('.lock')) continue;
    const parent = (entry as unknown as { parentPath?: string; path?: string }).parentPath ?? (entry as unknown as { path: string }).path;
    const full = join(parent, entry.name);
    found[relative(dir, full)] = await readFile(full, 'utf8');
  }
  const out: Record<string, string> = {};
  for (const key of Object.keys(found).sort()) out[key] = found[key];
  return out;
}
