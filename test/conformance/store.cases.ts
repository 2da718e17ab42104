/** Shared cases every TrackingStore must pass (run per implementation with a factory). */
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
      await expect(store.createExperiment('exp-a')).rejects.toThrow(/already exists/);
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
      await expect(log.logParams({ lr: 0.2 })).rejects.toThrow(/cannot change/);
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
      await expect(store.getRun('0123456789abcdef0123456789abcdef')).rejects.toThrow(/does not exist/);
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
    });
  });
}
