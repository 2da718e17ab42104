import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FileStore } from '../../src/tracking/file-store/index.js';
import { trackingStoreCases } from './store.cases.js';

trackingStoreCases('MLflow file store', async () => new FileStore(await mkdtemp(join(tmpdir(), 'spotml-store-'))));

describe('file store layout (shared docs/mlflow.md §2)', () => {
  it('writes the Default experiment, run meta with run_id and run_uuid, integer status, raw param files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'spotml-layout-'));
    const store = new FileStore(root);
    const experimentId = await store.createExperiment('layout');
    const run = await store.createRun({ experimentId, runName: 'r' });
    await store.logBatch(run.runId, {
      params: [{ key: 'n_estimators', value: '100' }],
      metrics: [{ key: 'acc', value: 0.5, step: 3, timestamp: 1795677508657 }],
    });
    await store.updateRun(run.runId, 'FINISHED');

    const defaultText = await readFile(join(root, '0', 'meta.yaml'), 'utf8');
    expect(defaultText).toMatch(/^experiment_id: "0"$|^experiment_id: '0'$/m);
    expect(parse(defaultText)).toMatchObject({ experiment_id: '0', name: 'Default', lifecycle_stage: 'active' });

    const expText = await readFile(join(root, experimentId, 'meta.yaml'), 'utf8');
    const expMeta = parse(expText) as Record<string, unknown>;
    expect(typeof expMeta.experiment_id).toBe('string');
    expect(Object.keys(expMeta).sort()).toEqual(['artifact_location', 'creation_time', 'experiment_id', 'last_update_time', 'lifecycle_stage', 'name']);
    expect(Object.keys(expMeta)).toEqual(Object.keys(expMeta).sort());
    expect(String(expMeta.artifact_location)).toMatch(/^file:\/\//);

    const runDir = join(root, experimentId, run.runId);
    const meta = parse(await readFile(join(runDir, 'meta.yaml'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(meta).sort()).toEqual(
      ['artifact_uri', 'end_time', 'entry_point_name', 'experiment_id', 'lifecycle_stage', 'run_id', 'run_name', 'run_uuid', 'source_name', 'source_type', 'source_version', 'start_time', 'status', 'tags', 'user_id'],
    );
    expect(meta.run_id).toBe(run.runId);
    expect(meta.run_uuid).toBe(run.runId);
    expect(meta.status).toBe(3);
    expect(meta.source_type).toBe(4);
    expect(meta.experiment_id).toBe(experimentId);
    expect(Number.isInteger(meta.start_time)).toBe(true);
    expect(Number.isInteger(meta.end_time)).toBe(true);
    expect(await readFile(join(runDir, 'params', 'n_estimators'), 'utf8')).toBe('100');
    expect(await readFile(join(runDir, 'metrics', 'acc'), 'utf8')).toBe('1795677508657 0.5 3\n');
    expect((await readdir(runDir)).sort()).toEqual(['artifacts', 'meta.yaml', 'metrics', 'params', 'tags']);
    expect(await readFile(join(runDir, 'tags', 'mlflow.runName'), 'utf8')).toBe('r');
  });
});
