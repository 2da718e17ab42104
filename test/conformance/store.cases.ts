/** Shared cases every TrackingStore must pass (run per implementation with a factory). */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrackingStore } from '../../src/tracking/store.js';
import { RunLogger } from '../../src/tracking/store.js';

export function trackingStoreCases(name: string, makeStore: () => Promise<TrackingStore>): void {
  describe(`TrackingStore conformance: ${name}`, () => {
    it('creates experiments with unique names and finds them by name', async () => {
      const store = await makeStore();
      const id = await store.createExperiment('exp-a', { team: 'audio' });
      expect(typeof id).toBe('string');
      const e = await store.getExperiment(id);
      expect(e).toMatchObject({ experimentId: id, name: 'exp-a', lifecycleStage: 'active', tags: { team: 'audio' } });
      expect((await store.getExperimentByName('exp-a'))?.experimentId).toBe(id);
      expect(await store.getExperimentByName('nope')).toBeUndefined();
      await expect(store.createExperiment('exp-a')).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/already exists/) });
    });

    it('logs params (immutable), tags and metric history with steps', async () => {
      const store = await makeStore();
      const experimentId = await store.createExperiment('exp-b');
      const run = await store.createRun({ experimentId, runName: 'r1' });
      expect(run.runId).toMatch(/^[0-9a-f]{32}$/);
      expect(run.status).toBe('RUNNING');
      const log = new RunLogger(store, run.runId);
      await log.logParams({ lr: 0.1, family: 'gbdt' });
      await log.logParams({ lr: 0.1 });
      await expect(log.logParams({ lr: 0.2 })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/lr/) });
      await store.logBatch(run.runId, {
        metrics: [
          { key: 'val/loss', value: 0.9, step: 0, timestamp: 1000 },
          { key: 'val/loss', value: 0.5, step: 1, timestamp: 1001 },
          { key: 'acc', value: Number.NaN, step: 0, timestamp: 1002 },
        ],
        tags: [{ key: 'stage', value: 'search' }],
      });
      const got = await store.getRun(run.runId);
      expect(got.data.params).toEqual({ lr: '0.1', family: 'gbdt' });
      expect(got.data.tags.stage).toBe('search');
      expect(got.data.tags['mlflow.runName']).toBe('r1');
      const loss = got.data.metrics.find((m) => m.key === 'val/loss');
      expect(loss).toEqual({ key: 'val/loss', value: 0.5, step: 1, timestamp: 1001 });
      expect(Number.isNaN(got.data.metrics.find((m) => m.key === 'acc')?.value)).toBe(true);
      expect((await store.getMetricHistory(run.runId, 'val/loss')).map((m) => m.value)).toEqual([0.9, 0.5]);
      const done = await store.updateRun(run.runId, 'FINISHED');
      expect(done.status).toBe('FINISHED');
      expect(done.endTime).toBeGreaterThanOrEqual(done.startTime);
      expect((await store.listRuns(experimentId)).map((r) => r.runId)).toEqual([run.runId]);
    });

    it('rejects unsafe names and unknown runs', async () => {
      const store = await makeStore();
      const experimentId = await store.createExperiment('exp-c');
      const run = await store.createRun({ experimentId });
      await expect(store.logBatch(run.runId, { params: [{ key: '../escape', value: 'x' }] })).rejects.toThrow(/invalid param name/);
      await expect(store.logBatch(run.runId, { metrics: [{ key: 'a:b', value: 1, step: 0, timestamp: 0 }] })).rejects.toThrow(/invalid metric name/);
      await expect(store.writeArtifact(run.runId, '../../x', 'x')).rejects.toThrow(/invalid artifact path/);
      await expect(store.getRun('0123456789abcdef0123456789abcdef')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(store.listRuns('424242424242')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('stores and lists artifacts', async () => {
      const store = await makeStore();
      const experimentId = await store.createExperiment('exp-d');
      const run = await store.createRun({ experimentId });
      await store.writeArtifact(run.runId, 'model/model.json', '{"a":1}');
      await store.writeArtifact(run.runId, 'leaderboard.json', '[]');
      const top = await store.listArtifacts(run.runId);
      expect(top.map((a) => [a.path, a.isDir])).toEqual([
        ['leaderboard.json', false],
        ['model', true],
      ]);
      expect((await store.listArtifacts(run.runId, 'model')).map((a) => a.path)).toEqual(['model/model.json']);
      expect((await store.listArtifacts(run.runId, 'model'))[0].size).toBe(7);
    });

    it('uploads a local folder and downloads it back byte for byte', async () => {
      const store = await makeStore();
      const experimentId = await store.createExperiment('exp-e');
      const run = await store.createRun({ experimentId });
      const local = await mkdtemp(join(tmpdir(), 'spotml-artifact-src-'));
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
      await mkdir(join(local, 'nested'), { recursive: true });
      await writeFile(join(local, 'MLmodel'), 'flavors: {}\n');
      await writeFile(join(local, 'nested', 'weights.bin'), bytes);
      await store.logArtifact(run.runId, local, 'model');
      expect((await store.listArtifacts(run.runId, 'model')).map((a) => [a.path, a.isDir])).toEqual([
        ['model/MLmodel', false],
        ['model/nested', true],
      ]);
      const target = join(await mkdtemp(join(tmpdir(), 'spotml-artifact-dst-')), 'copy');
      expect(await store.downloadArtifact(run.runId, 'model', target)).toBe(target);
      expect(new Uint8Array(await readFile(join(target, 'nested', 'weights.bin')))).toEqual(bytes);
      expect(await readFile(join(target, 'MLmodel'), 'utf8')).toBe('flavors: {}\n');
      const single = join(await mkdtemp(join(tmpdir(), 'spotml-artifact-one-')), 'MLmodel');
      await store.downloadArtifact(run.runId, 'model/MLmodel', single);
      expect(await readFile(single, 'utf8')).toBe('flavors: {}\n');
      await expect(store.downloadArtifact(run.runId, 'model/missing.bin', single)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('logs batches larger than one MLflow request and non-finite metric values', async () => {
      const store = await makeStore();
      const experimentId = await store.createExperiment('exp-f');
      const run = await store.createRun({ experimentId, userId: 'alice' });
      expect(run.userId).toBe('alice');
      const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i % 3}`, value: i / 7, step: i, timestamp: 1000 + i }));
      const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: `v${i}` }));
      const tags = Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: `w${i}` }));
      await store.logBatch(run.runId, { metrics, params, tags });
      await store.logBatch(run.runId, {
        metrics: [
          { key: 'inf', value: Number.POSITIVE_INFINITY, step: 0, timestamp: 1 },
          { key: 'inf', value: Number.NEGATIVE_INFINITY, step: 1, timestamp: 2 },
        ],
      });
      const got = await store.getRun(run.runId);
      expect(Object.keys(got.data.params)).toHaveLength(250);
      expect(got.data.params.p249).toBe('v249');
      expect(got.data.tags.t149).toBe('w149');
      expect(got.data.tags['mlflow.user']).toBe('alice');
      const history = await store.getMetricHistory(run.runId, 'm1');
      expect(history.map((m) => m.step)).toEqual(metrics.filter((m) => m.key === 'm1').map((m) => m.step));
      expect(history[5].value).toBeCloseTo(metrics.filter((m) => m.key === 'm1')[5].value, 15);
      expect((await store.getMetricHistory(run.runId, 'inf')).map((m) => m.value)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      expect(await store.getMetricHistory(run.runId, 'never-logged')).toEqual([]);
    });
  });
}
