/**
 * What keeps `spotml serve` up when its surroundings misbehave: a log destination that stalls or breaks, and
 * /metrics that stays valid Prometheus text whose counters never go down when a worker is replaced.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AccessLog } from '../../../src/serve/access-log.js';
import { LATENCY_BUCKETS, mergeSnapshots, renderMetrics, retiredSnapshot, ServeMetrics } from '../../../src/serve/metrics.js';

class FakeSink extends EventEmitter {
  writableLength = 0;
  readonly written: string[] = [];
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
}

const entry = (id: string): Parameters<AccessLog['write']>[0] => ({ id, method: 'GET', path: '/ping', route: 'ping', status: 200, ms: 0.1 });

describe('the access log under a misbehaving destination', () => {
  it('drops and counts lines while the destination holds more than the bound, then says how many it lost', () => {
    const sink = new FakeSink();
    let dropped = 0;
    const log = new AccessLog(sink, { maxPendingBytes: 1000, onDropped: (n) => (dropped += n) });
    sink.writableLength = 5000;
    for (let i = 0; i < 3; i++) log.write(entry(`slow-${i}`));
    log.flush();
    expect(sink.written).toEqual([]);
    expect(dropped).toBe(3);

    sink.writableLength = 0;
    log.write(entry('fast'));
    log.flush();
    const lines = sink.written.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', msg: 'log destination too slow; lines dropped', dropped: 3 }), expect.objectContaining({ id: 'fast' })]);
  });

  it('stops writing after the destination fails, warns once and counts every line it could not write', () => {
    const sink = new FakeSink();
    const warnings: string[] = [];
    let dropped = 0;
    const log = new AccessLog(sink, { onDropped: (n) => (dropped += n), warn: (text) => warnings.push(text) });
    log.write(entry('before'));
    log.flush();
    sink.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    sink.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    log.write(entry('after-1'));
    log.event('model swapped');
    log.flush();
    expect(sink.written.join('')).toContain('"before"');
    expect(sink.written.join('')).not.toContain('after-1');
    expect(warnings).toEqual(['spotml serve: the log destination failed (EPIPE); serving goes on without logs\n']);
    expect(dropped).toBe(2);
  });

  it('survives a sink whose write throws', () => {
    let dropped = 0;
    const log = new AccessLog(
      {
        write: () => {
          throw Object.assign(new Error('closed'), { code: 'ERR_STREAM_DESTROYED' });
        },
      },
      { onDropped: (n) => (dropped += n), warn: () => undefined },
    );
    log.write(entry('a'));
    expect(() => log.flush()).not.toThrow();
    log.write(entry('b'));
    expect(dropped).toBe(1);
  });
});

describe('/metrics exposition', () => {
  it('is valid text: every sample has HELP and TYPE, counters end in _total, histograms are cumulative to +Inf', () => {
    const metrics = new ServeMetrics();
    for (const seconds of [0.0001, 0.003, 0.003, 0.2, 20]) metrics.observe('invocations', 200, seconds);
    metrics.observe('other', 404, 0.001);
    const text = renderMetrics(metrics.snapshot(), { name: 'a"b\\c\nd', version: 3, alias: 'x', runtime: 'native', specHash: 'h"', loadedAt: new Date(0) }, 1);
    const types = new Map<string, string>();
    const helps = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('# HELP ')) helps.add(line.split(' ')[2]);
      else if (line.startsWith('# TYPE ')) types.set(line.split(' ')[2], line.split(' ')[3]);
      else {
        // name{labels} value, label values escaped (no raw quote, backslash or newline inside).
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (\S+)$/.exec(line);
        expect(match, line).not.toBeNull();
        const name = match![1];
        const family = name.replace(/_(bucket|sum|count)$/, '');
        const type = types.get(name) ?? types.get(family);
        expect(type, name).toBeDefined();
        expect(helps.has(types.has(name) ? name : family), name).toBe(true);
        if (type === 'counter') expect(name).toMatch(/_total$/);
        expect(Number.isNaN(Number(match![3].replace('+Inf', 'Infinity')))).toBe(false);
      }
    }
    const buckets = [...text.matchAll(/^spotml_request_duration_seconds_bucket\{route="invocations",le="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])] as const);
    expect(buckets.map(([le]) => le)).toEqual([...LATENCY_BUCKETS.map(String), '+Inf']);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i][1]).toBeGreaterThanOrEqual(buckets[i - 1][1]);
    expect(buckets.at(-1)![1]).toBe(5);
    expect(text).toMatch(/^spotml_request_duration_seconds_count\{route="invocations"\} 5$/m);
    expect(text).toContain('name="a\\"b\\\\c\\nd"');
    expect(text).toContain('spec_hash="h\\""');
  });

  it('keeps counters of a replaced worker, with its gauges zeroed, so merged totals never go down', () => {
    const dead = new ServeMetrics();
    dead.observe('invocations', 200, 0.01);
    dead.observe('invocations', 200, 0.01);
    dead.inflight = 2;
    dead.modelRefreshFailing = 1;
    const alive = new ServeMetrics();
    alive.observe('invocations', 200, 0.01);
    const before = mergeSnapshots([dead.snapshot(), alive.snapshot()]);
    const after = mergeSnapshots([retiredSnapshot(dead.snapshot()), alive.snapshot(), new ServeMetrics().snapshot()]);
    expect(after.requests).toEqual(before.requests);
    expect(after.latency.invocations.count).toBe(3);
    expect(after.inflight).toBe(0);
    expect(after.modelRefreshFailing).toBe(0);
    // spotml_workers counts the processes that answered (the dead one no longer does), not --workers.
    expect([before.processes, after.processes]).toEqual([2, 2]);
    expect(mergeSnapshots([retiredSnapshot(dead.snapshot()), alive.snapshot()]).processes).toBe(1);
    const text = renderMetrics(mergeSnapshots([retiredSnapshot(dead.snapshot()), alive.snapshot()]), null, 2);
    expect(text).toMatch(/^spotml_workers 1$/m);
    expect(text).toMatch(/^spotml_workers_configured 2$/m);
  });
});
