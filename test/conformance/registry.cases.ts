/** Shared cases every RegistryStore must pass (run per implementation with a factory). */
import { describe, expect, it } from 'vitest';
import type { RegistryStore } from '../../src/registry/store.js';
import type { TrackingStore } from '../../src/tracking/store.js';

export interface RegistryFixture {
  registry: RegistryStore;
  /** The tracking store beside it, so versions can point at real runs. */
  tracking: TrackingStore;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A run with a model artifact; returns the version source MLflow would register. */
async function modelRun(tracking: TrackingStore, experiment: string): Promise<{ runId: string; source: string }> {
  const experimentId = (await tracking.getExperimentByName(experiment))?.experimentId ?? (await tracking.createExperiment(experiment));
  const run = await tracking.createRun({ experimentId });
  await tracking.writeArtifact(run.runId, 'model/MLmodel', 'flavors: {}\n');
  return { runId: run.runId, source: `${run.artifactUri}/model` };
}

export function registryStoreCases(name: string, makeFixture: () => Promise<RegistryFixture>): void {
  describe(`RegistryStore conformance: ${name}`, () => {
    it('creates, gets, updates and deletes registered models; names are unique', async () => {
      const { registry } = await makeFixture();
      const created = await registry.createRegisteredModel('birds', { description: 'bird calls', tags: { team: 'audio' } });
      expect(created).toMatchObject({ name: 'birds', description: 'bird calls', tags: { team: 'audio' }, aliases: {}, latestVersions: [] });
      expect(created.creationTimestamp).toBeGreaterThan(0);
      expect(created.lastUpdatedTimestamp).toBeGreaterThanOrEqual(created.creationTimestamp);
      await expect(registry.createRegisteredModel('birds')).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/already exists/) });
      expect(await registry.getRegisteredModel('birds')).toEqual(created);

      await sleep(3);
      const updated = await registry.updateRegisteredModel('birds', 'all bird calls');
      expect(updated.description).toBe('all bird calls');
      expect(updated.lastUpdatedTimestamp).toBeGreaterThan(created.lastUpdatedTimestamp);

      await registry.deleteRegisteredModel('birds');
      await expect(registry.getRegisteredModel('birds')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(registry.deleteRegisteredModel('birds')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(registry.getRegisteredModel('never')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('refuses unsafe model names, tag keys and bad arguments before storing anything', async () => {
      const { registry } = await makeFixture();
      for (const bad of ['a/b', 'a\\b', '50%', '', '..']) {
        await expect(registry.createRegisteredModel(bad)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      }
      await expect(registry.createRegisteredModel('ok', { tags: { '../x': 'y' } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(registry.getRegisteredModel('ok')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await registry.createRegisteredModel('ok');
      await expect(registry.setRegisteredModelTag('ok', 'k', 'x'.repeat(5001))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(registry.getModelVersion('ok', 0)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(registry.searchRegisteredModels({ maxResults: 1001 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });

    it('numbers versions from 1, never reuses a deleted number, and hides deleted versions', async () => {
      const { registry, tracking } = await makeFixture();
      const { runId, source } = await modelRun(tracking, 'reg-versions');
      const before = await registry.createRegisteredModel('frogs');
      await expect(registry.createModelVersion('nope', source, { runId })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await sleep(3);
      const v1 = await registry.createModelVersion('frogs', source, { runId, description: 'first', tags: { fold: '0' } });
      expect(v1).toMatchObject({ name: 'frogs', version: 1, currentStage: 'None', status: 'READY', source, runId, description: 'first', tags: { fold: '0' }, aliases: [] });
      const v2 = await registry.createModelVersion('frogs', source, { runId });
      const v3 = await registry.createModelVersion('frogs', source);
      expect([v2.version, v3.version]).toEqual([2, 3]);
      expect(v2.description).toBe('');
      expect(v3.runId).toBeNull();
      expect((await registry.getRegisteredModel('frogs')).lastUpdatedTimestamp).toBeGreaterThan(before.lastUpdatedTimestamp);

      await registry.deleteModelVersion('frogs', 3);
      await expect(registry.getModelVersion('frogs', 3)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(registry.deleteModelVersion('frogs', 3)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const v4 = await registry.createModelVersion('frogs', source);
      expect(v4.version).toBe(4);
      const listed = await registry.searchModelVersions({ name: 'frogs' });
      expect(listed.items.map((v) => v.version)).toEqual([4, 2, 1]);
      expect(listed.nextPageToken).toBeUndefined();
      expect(await registry.getModelVersionDownloadUri('frogs', 1)).toBe(source);

      await sleep(3);
      const described = await registry.updateModelVersion('frogs', 2, 'second');
      expect(described.description).toBe('second');
      expect(described.lastUpdatedTimestamp).toBeGreaterThan(v2.lastUpdatedTimestamp);
      expect((await registry.getModelVersion('frogs', 2)).description).toBe('second');
    });

    it('sets and deletes tags on models and versions, each change moving last_updated', async () => {
      const { registry, tracking } = await makeFixture();
      const { source } = await modelRun(tracking, 'reg-tags');
      await registry.createRegisteredModel('owls');
      await registry.createModelVersion('owls', source);
      let last = (await registry.getRegisteredModel('owls')).lastUpdatedTimestamp;
      const moved = async (): Promise<void> => {
        const now = (await registry.getRegisteredModel('owls')).lastUpdatedTimestamp;
        expect(now).toBeGreaterThan(last);
        last = now;
      };
      await sleep(3);
      await registry.setRegisteredModelTag('owls', 'owner', 'ana');
      await moved();
      await sleep(3);
      await registry.setModelVersionTag('owls', 1, 'val/acc', '0.9');
      await moved();
      expect((await registry.getRegisteredModel('owls')).tags).toEqual({ owner: 'ana' });
      expect((await registry.getModelVersion('owls', 1)).tags).toEqual({ 'val/acc': '0.9' });
      await sleep(3);
      await registry.deleteRegisteredModelTag('owls', 'owner');
      await moved();
      await registry.deleteModelVersionTag('owls', 1, 'val/acc');
      await registry.deleteRegisteredModelTag('owls', 'owner'); // idempotent
      expect((await registry.getRegisteredModel('owls')).tags).toEqual({});
      expect((await registry.getModelVersion('owls', 1)).tags).toEqual({});
      await expect(registry.setModelVersionTag('owls', 9, 'k', 'v')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('points aliases at versions, moves them, and refuses reserved or malformed aliases', async () => {
      const { registry, tracking } = await makeFixture();
      const { source, runId } = await modelRun(tracking, 'reg-alias');
      await registry.createRegisteredModel('bats');
      await registry.createModelVersion('bats', source, { runId });
      await registry.createModelVersion('bats', source, { runId });
      await sleep(3);
      const before = (await registry.getRegisteredModel('bats')).lastUpdatedTimestamp;
      await registry.setAlias('bats', 'champion', 1);
      await registry.setAlias('bats', 'challenger', 2);
      expect((await registry.getModelVersionByAlias('bats', 'champion')).version).toBe(1);
      expect((await registry.getModelVersion('bats', 1)).aliases).toEqual(['champion']);
      const model = await registry.getRegisteredModel('bats');
      expect(model.aliases).toEqual({ challenger: 2, champion: 1 });
      expect(model.lastUpdatedTimestamp).toBeGreaterThan(before);

      await registry.setAlias('bats', 'champion', 2);
      expect((await registry.getModelVersion('bats', 2)).aliases).toEqual(['challenger', 'champion']);
      expect((await registry.getModelVersion('bats', 1)).aliases).toEqual([]);

      for (const bad of ['latest', 'LATEST', 'v1', 'V22', 'has space', 'a.b', '', 'x'.repeat(256)]) {
        await expect(registry.setAlias('bats', bad, 1)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      }
      await registry.setAlias('bats', 'v1beta', 1); // only v<digits> is reserved
      await expect(registry.setAlias('bats', 'ghost', 7)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // The hint is the command that sets it, not a store method.
      await expect(registry.getModelVersionByAlias('bats', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/spotml promote bats --version <n> --alias nope$/) });
      await expect(registry.getModelVersionByAlias('nobody', 'champion')).rejects.toMatchObject({ code: 'NOT_FOUND' });

      await registry.deleteAlias('bats', 'challenger');
      await registry.deleteAlias('bats', 'challenger'); // idempotent
      expect((await registry.getRegisteredModel('bats')).aliases).toEqual({ champion: 2, v1beta: 1 });

      // Deleting a version removes the aliases pointing at it.
      await registry.deleteModelVersion('bats', 2);
      expect((await registry.getRegisteredModel('bats')).aliases).toEqual({ v1beta: 1 });
      await expect(registry.getModelVersionByAlias('bats', 'champion')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('transitions stages (case-insensitive), archives existing versions, reports latest per stage', async () => {
      const { registry, tracking } = await makeFixture();
      const { source } = await modelRun(tracking, 'reg-stages');
      await registry.createRegisteredModel('whales');
      for (let i = 0; i < 4; i++) await registry.createModelVersion('whales', source);
      expect((await registry.transitionStage('whales', 1, 'production', false)).currentStage).toBe('Production');
      await registry.transitionStage('whales', 2, 'Production', false);
      await registry.transitionStage('whales', 3, 'STAGING', false);
      expect((await registry.getLatestVersions('whales')).map((v) => [v.currentStage, v.version])).toEqual([
        ['None', 4],
        ['Staging', 3],
        ['Production', 2],
      ]);
      expect((await registry.getLatestVersions('whales', ['production'])).map((v) => v.version)).toEqual([2]);

      const promoted = await registry.transitionStage('whales', 4, 'Production', true);
      expect(promoted.currentStage).toBe('Production');
      const stages = await Promise.all([1, 2, 3, 4].map(async (v) => (await registry.getModelVersion('whales', v)).currentStage));
      expect(stages).toEqual(['Archived', 'Archived', 'Staging', 'Production']);
      expect((await registry.getRegisteredModel('whales')).latestVersions.map((v) => [v.currentStage, v.version])).toEqual([
        ['Staging', 3],
        ['Production', 4],
        ['Archived', 2],
      ]);

      await expect(registry.transitionStage('whales', 1, 'Archived', true)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(registry.transitionStage('whales', 1, 'None', true)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(registry.transitionStage('whales', 1, 'Deleted_Internal', false)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(registry.transitionStage('whales', 1, 'Shipping', false)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      await expect(registry.transitionStage('whales', 99, 'Staging', false)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('searches models by name, LIKE pattern and tags, and versions by name, run and tags, with paging', async () => {
      const { registry, tracking } = await makeFixture();
      const a = await modelRun(tracking, 'reg-search');
      const b = await modelRun(tracking, 'reg-search');
      for (const n of ['kw-cnn', 'kw-gbdt', 'kw-knn', 'vad-gbdt', 'vad_x']) await registry.createRegisteredModel(n, { tags: { task: n.split(/[-_]/)[0] } });
      const all = await registry.searchRegisteredModels();
      expect(all.items.map((m) => m.name)).toEqual(['kw-cnn', 'kw-gbdt', 'kw-knn', 'vad-gbdt', 'vad_x']);
      expect((await registry.searchRegisteredModels({ nameLike: 'kw-%' })).items.map((m) => m.name)).toEqual(['kw-cnn', 'kw-gbdt', 'kw-knn']);
      expect((await registry.searchRegisteredModels({ nameLike: '%gbdt' })).items.map((m) => m.name)).toEqual(['kw-gbdt', 'vad-gbdt']);
      expect((await registry.searchRegisteredModels({ nameLike: 'vad_gbdt' })).items.map((m) => m.name)).toEqual(['vad-gbdt']);
      expect((await registry.searchRegisteredModels({ name: 'vad_x' })).items.map((m) => m.name)).toEqual(['vad_x']);
      expect((await registry.searchRegisteredModels({ tags: { task: 'vad' } })).items.map((m) => m.name)).toEqual(['vad-gbdt', 'vad_x']);

      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await registry.searchRegisteredModels({ maxResults: 2, pageToken: token });
        seen.push(...page.items.map((m) => m.name));
        token = page.nextPageToken;
        pages += 1;
      } while (token);
      expect(pages).toBe(3);
      expect(seen).toEqual(all.items.map((m) => m.name));

      await registry.createModelVersion('kw-cnn', a.source, { runId: a.runId, tags: { fold: '1' } });
      await registry.createModelVersion('kw-cnn', b.source, { runId: b.runId });
      await registry.createModelVersion('kw-knn', a.source, { runId: a.runId, tags: { fold: '1' } });
      const byRun = await registry.searchModelVersions({ runId: a.runId });
      expect(byRun.items.map((v) => [v.name, v.version])).toEqual([
        ['kw-cnn', 1],
        ['kw-knn', 1],
      ]);
      expect((await registry.searchModelVersions({ tags: { fold: '1' }, name: 'kw-knn' })).items.map((v) => v.name)).toEqual(['kw-knn']);
      const first = await registry.searchModelVersions({ maxResults: 2 });
      expect(first.items.map((v) => [v.name, v.version])).toEqual([
        ['kw-cnn', 2],
        ['kw-cnn', 1],
      ]);
      const second = await registry.searchModelVersions({ maxResults: 2, pageToken: first.nextPageToken });
      expect(second.items.map((v) => [v.name, v.version])).toEqual([['kw-knn', 1]]);
      expect(second.nextPageToken).toBeUndefined();
      expect((await registry.searchModelVersions({ name: 'missing-model' })).items).toEqual([]);
    });
  });
}
