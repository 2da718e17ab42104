import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AUDIT_LOG_FILE, FileRegistry, readAuditLog } from '../../src/registry/file-registry.js';
import { FileStore } from '../../src/tracking/file-store/index.js';
import { registryStoreCases } from './registry.cases.js';

registryStoreCases('MLflow file registry', async () => {
  const root = await mkdtemp(join(tmpdir(), 'spotml-registry-'));
  return { registry: new FileRegistry(root), tracking: new FileStore(root) };
});

const yamlOf = async (path: string): Promise<Record<string, unknown>> => parse(await readFile(path, 'utf8')) as Record<string, unknown>;

describe('file registry layout (shared docs/mlflow.md §3)', () => {
  it('writes models/<name>/meta.yaml, tags, aliases and version-<n> folders as MLflow 2.12 does', async () => {
    const root = await mkdtemp(join(tmpdir(), 'spotml-registry-layout-'));
    const tracking = new FileStore(root);
    const registry = new FileRegistry(root);
    const experimentId = await tracking.createExperiment('layout');
    const run = await tracking.createRun({ experimentId });
    const source = `${run.artifactUri}/model`;
    await registry.createRegisteredModel('spotml-ref-model', { description: 'reference model', tags: { team: 'audio' } });
    await registry.createModelVersion('spotml-ref-model', source, { runId: run.runId, tags: { fold: '0' } });
    await registry.createModelVersion('spotml-ref-model', source);
    await registry.setAlias('spotml-ref-model', 'champion', 1);
    await registry.setRegisteredModelTag('spotml-ref-model', 'stage/owner', 'ana');

    const dir = join(root, 'models', 'spotml-ref-model');
    expect((await readdir(dir)).sort()).toEqual(['aliases', 'meta.yaml', 'tags', 'version-1', 'version-2']);
    const modelText = await readFile(join(dir, 'meta.yaml'), 'utf8');
    const model = parse(modelText) as Record<string, unknown>;
    expect(Object.keys(model)).toEqual(['aliases', 'creation_timestamp', 'description', 'last_updated_timestamp', 'name']);
    expect(model).toMatchObject({ name: 'spotml-ref-model', description: 'reference model', aliases: { champion: '1' } });
    expect(modelText).toMatch(/^ {2}champion: "1"$|^ {2}champion: '1'$/m); // the informational alias map holds strings, as 2.12
    expect(Number.isInteger(model.creation_timestamp)).toBe(true);
    expect(Number.isInteger(model.last_updated_timestamp)).toBe(true);

    // Alias files hold the bare version number: no newline.
    expect(await readFile(join(dir, 'aliases', 'champion'), 'utf8')).toBe('1');
    expect(await readFile(join(dir, 'tags', 'team'), 'utf8')).toBe('audio');
    expect(await readFile(join(dir, 'tags', 'stage', 'owner'), 'utf8')).toBe('ana');

    const v1 = await yamlOf(join(dir, 'version-1', 'meta.yaml'));
    expect(Object.keys(v1)).toEqual([
      'aliases', 'creation_timestamp', 'current_stage', 'description', 'last_updated_timestamp', 'name', 'run_id', 'run_link',
      'source', 'status', 'status_message', 'storage_location', 'user_id', 'version',
    ]);
    expect(v1).toMatchObject({
      aliases: [], current_stage: 'None', description: null, name: 'spotml-ref-model', run_id: run.runId, run_link: null,
      source, status: 'READY', status_message: null, storage_location: source, user_id: null, version: 1,
    });
    expect(typeof v1.version).toBe('number');
    expect(Number.isInteger(v1.creation_timestamp)).toBe(true);
    expect(await readFile(join(dir, 'version-1', 'tags', 'fold'), 'utf8')).toBe('0');
    expect((await yamlOf(join(dir, 'version-2', 'meta.yaml'))).run_id).toBeNull();

    // The registry never adds folders to the root besides models/ (MLflow would read them as experiments).
    const rootFolders = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect(rootFolders).toEqual(['.trash', '0', experimentId, 'models'].sort());
    expect((await stat(join(root, AUDIT_LOG_FILE))).isFile()).toBe(true);
  });

  it('marks deleted versions Deleted_Internal on disk, drops their aliases, and numbers the next version max+1', async () => {
    const root = await mkdtemp(join(tmpdir(), 'spotml-registry-delete-'));
    const registry = new FileRegistry(root);
    await registry.createRegisteredModel('m');
    for (let i = 0; i < 3; i++) await registry.createModelVersion('m', 's3://bucket/model');
    await registry.setAlias('m', 'prod', 3);
    await registry.deleteModelVersion('m', 3);
    const dir = join(root, 'models', 'm');
    expect((await yamlOf(join(dir, 'version-3', 'meta.yaml'))).current_stage).toBe('Deleted_Internal');
    expect(await readdir(join(dir, 'aliases'))).toEqual([]);
    expect((await yamlOf(join(dir, 'meta.yaml'))).aliases).toEqual({});
    expect((await registry.createModelVersion('m', 's3://bucket/model')).version).toBe(4);

    // A version folder written by another tool (a gap, e.g. version-9) still sets the next number.
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(join(dir, 'version-9'));
    await writeFile(join(dir, 'version-9', 'meta.yaml'), 'name: m\nversion: 9\ncreation_timestamp: 1\ncurrent_stage: None\nsource: x\n');
    expect((await registry.createModelVersion('m', 's3://bucket/model')).version).toBe(10);
    expect((await registry.getModelVersion('m', 9)).source).toBe('x');

    // aliases: keys inside meta.yaml are informational; the aliases folder wins on read.
    await writeFile(join(dir, 'meta.yaml'), 'name: m\naliases:\n  stale: "1"\ncreation_timestamp: 5\nlast_updated_timestamp: 5\n');
    expect((await registry.getRegisteredModel('m')).aliases).toEqual({});

    await registry.deleteRegisteredModel('m');
    expect(await readdir(join(root, 'models'))).toEqual([]);
  });

  it('appends one audit line per mutation: who, when, what, before and after', async () => {
    const root = await mkdtemp(join(tmpdir(), 'spotml-registry-audit-'));
    let clock = 1_795_677_508_000;
    const registry = new FileRegistry(root, { user: 'ana', now: () => ++clock });
    await registry.createRegisteredModel('m');
    await registry.createModelVersion('m', 's3://b/m');
    await registry.setAlias('m', 'champion', 1);
    await registry.transitionStage('m', 1, 'Production', false);
    await registry.deleteAlias('m', 'missing'); // no-op: not audited
    await expect(registry.createRegisteredModel('m')).rejects.toThrow(); // failed: not audited
    await registry.deleteModelVersion('m', 1);

    const lines = (await readFile(join(root, AUDIT_LOG_FILE), 'utf8')).split('\n');
    expect(lines.at(-1)).toBe('');
    const entries = await readAuditLog(root);
    expect(entries.map((e) => e.action)).toEqual([
      'registered_model.create',
      'model_version.create',
      'alias.set',
      'model_version.transition_stage',
      'model_version.delete',
    ]);
    for (const e of entries) {
      expect(e.user).toBe('ana');
      expect(e.model).toBe('m');
      expect(Date.parse(e.time)).toBeGreaterThan(1_795_677_508_000);
    }
    expect(entries[1]).toMatchObject({ version: 1, before: null, after: { version: 1, currentStage: 'None' } });
    expect(entries[2]).toMatchObject({ alias: 'champion', before: null, after: 1 });
    expect(entries[3]).toMatchObject({ before: { currentStage: 'None' }, after: { currentStage: 'Production' } });
    expect(entries[4]).toMatchObject({ before: { currentStage: 'Production', aliases: ['champion'] }, after: { currentStage: 'Deleted_Internal' } });
    expect(new Set(entries.map((e) => e.time)).size).toBe(entries.length);
  });
});
