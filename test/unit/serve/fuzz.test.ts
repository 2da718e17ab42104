/**
 * 10,000 malformed requests in-process (seeded fast-check samples): bad and truncated JSON, wrong types at
 * every level, huge numbers, deep nesting, wrong content types and methods, garbage headers, broken CSV and
 * WAV bodies. No answer may be a 5xx or carry a stack trace, and the heap must come back to its starting
 * level. (Truncated and slow bodies over a real socket are in test/integration/serve.test.ts.)
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildSpec, resolveSettings } from '../../../src/audio/feature-spec.js';
import { AccessLog } from '../../../src/serve/access-log.js';
import { createServeApp } from '../../../src/serve/app.js';
import { createAuthenticator } from '../../../src/serve/auth.js';
import { ServeMetrics } from '../../../src/serve/metrics.js';
import { ModelHolder } from '../../../src/serve/model-holder.js';
import { DirModelSource } from '../../../src/serve/model-source.js';
import { forestPackage, synthetic, tone, wavBytes } from './fixtures.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface FuzzRequest {
  method: string;
  path: string;
  contentType: string | null;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
}

const NAMES = ['f0', 'f1', 'f2', 'f3'];
const valueArb = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom('1e999', '-1e999', '1'.repeat(400), 'NaN', 'Infinity', '-0', '0x10', '', ' '),
  fc.string({ maxLength: 10 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.double(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
);
const rowArb = fc.oneof(fc.array(valueArb, { maxLength: 6 }), fc.dictionary(fc.constantFrom(...NAMES, 'x', ''), valueArb, { maxKeys: 6 }), valueArb);
const payloadArb = fc.oneof(
  fc.record({ dataframe_split: fc.oneof(fc.record({ columns: fc.oneof(fc.array(fc.constantFrom(...NAMES, 'x'), { maxLength: 6 }), valueArb), data: fc.oneof(fc.array(rowArb, { maxLength: 5 }), valueArb) }, { requiredKeys: [] }), valueArb) }),
  fc.record({ dataframe_records: fc.oneof(fc.array(rowArb, { maxLength: 5 }), valueArb) }),
  fc.record({ instances: fc.oneof(fc.array(rowArb, { maxLength: 5 }), valueArb) }),
  fc.record({ inputs: fc.oneof(fc.dictionary(fc.constantFrom(...NAMES, 'y'), fc.oneof(fc.array(valueArb, { maxLength: 4 }), valueArb), { maxKeys: 5 }), fc.array(rowArb, { maxLength: 4 }), valueArb) }),
  fc.record({ instances: fc.array(rowArb, { maxLength: 3 }), inputs: fc.array(rowArb, { maxLength: 3 }) }),
  fc.jsonValue({ maxDepth: 4 }),
);

/** JSON text that is broken on purpose: truncated, deeply nested, huge literals, stray bytes. */
const brokenJsonArb = fc.oneof(
  payloadArb.chain((p) => {
    const text = JSON.stringify(p) ?? 'null';
    return fc.nat({ max: Math.max(0, text.length - 1) }).map((cut) => text.slice(0, cut));
  }),
  fc.integer({ min: 1, max: 50_000 }).map((depth) => `{"instances":${'['.repeat(depth)}${']'.repeat(depth % 3 === 0 ? depth : 0)}}`),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.constantFrom('{"instances": [[1e999, -1e999, 1e309, 2]]}', `{"instances": [[${'9'.repeat(5000)}, 1, 2, 3]]}`, '{"instances": [[1,2,3,4]]', '\u0000\u0001', '{"__proto__": {"instances": [[1,2,3,4]]}}', '{"constructor": {"prototype": 1}}'),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
);

const csvArb = fc.oneof(
  fc.array(fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.double().map(String), fc.constantFrom(...NAMES, '"', '""', '"a,b"')), { maxLength: 7 }), { maxLength: 6 }).map((rows) => rows.map((r) => r.join(',')).join('\n')),
  fc.string({ maxLength: 100 }),
);

const contentTypeArb = fc.oneof(
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/csv', 'text/csv; charset=utf-8'),
  fc.constantFrom('application/json; charset=utf-16', 'application/json; format=split', 'text/plain', 'application/xml', 'multipart/form-data', 'multipart/form-data; boundary=x', 'audio/wav', '', ';;;', 'application/json;'),
  fc.string({ maxLength: 30 }),
  fc.constant(null),
);

const headerArb = fc.record(
  {
    authorization: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('Bearer', 'Bearer ', 'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.e30.', 'Basic Zm9vOmJhcg==')),
    'x-request-id': fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('ok-id-1', '"; drop', 'a'.repeat(300))),
    'x-spotml-proba': fc.constantFrom('true', '1', 'no', ''),
  },
  { requiredKeys: [] },
);

const wav = wavBytes(tone(440, 0.05, 8000), 8000);
const audioBodyArb = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.nat({ max: wav.length - 1 }).map((cut) => wav.slice(0, cut)),
  fc.tuple(fc.nat({ max: 43 }), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
    const copy = wav.slice();
    copy[at] = byte;
    return copy;
  }),
);

const requestArb: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ method: fc.constant('POST'), path: fc.constant('/invocations'), contentType: contentTypeArb, headers: headerArb, body: payloadArb.map((p) => JSON.stringify(p) ?? '') }) },
  { weight: 4, arbitrary: fc.record({ method: fc.constant('POST'), path: fc.constantFrom('/invocations', '/invocations?proba=true', '/invocations?proba=%zz'), contentType: contentTypeArb, headers: headerArb, body: brokenJsonArb }) },
  { weight: 1, arbitrary: fc.record({ method: fc.constant('POST'), path: fc.constant('/invocations'), contentType: fc.constant('text/csv'), headers: headerArb, body: csvArb }) },
  { weight: 1, arbitrary: fc.record({ method: fc.constant('POST'), path: fc.constant('/predict/audio'), contentType: fc.constantFrom('audio/wav', 'application/octet-stream', 'multipart/form-data; boundary=zz', 'text/plain'), headers: headerArb, body: audioBodyArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      method: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'POST'),
      path: fc.oneof(fc.constantFrom('/ping', '/health', '/version', '/metrics', '/openapi.json', '/invocations', '/predict/audio', '/%zz', '/..%2f..%2fetc/passwd', '//', '/invocations/'), fc.webPath()),
      contentType: contentTypeArb,
      headers: headerArb,
      body: fc.constant(null),
    }),
  },
);

describe('fuzz: malformed requests', () => {
  it('answers 10,000 malformed requests with no 5xx, no stack trace, and no leaked memory', async () => {
    const root = await mkdtemp(join(tmpdir(), 'spotml-serve-fuzz-'));
    const settings = resolveSettings({ sampleRate: 16000, features: ['rms', 'zero_crossing_rate'], aggregates: ['mean'] });
    const spec = buildSpec({ settings, labels: null, table: { file: 't.csv', format: 'csv', rows: 0 }, files: [], failures: [] });
    await forestPackage({ dir: root, trees: 5, data: { ...synthetic(60, 2, 3, 1), featureNames: spec.columns.features }, spec, seed: 2 });
    const holder = new ModelHolder(new DirModelSource(root), { runtime: 'native' });
    await holder.start();
    const metrics = new ServeMetrics();
    const logged: string[] = [];
    const app = createServeApp({
      holder,
      auth: await createAuthenticator({}),
      metrics,
      log: new AccessLog({ write: (t: string) => logged.push(t) }),
      limits: { maxBodyBytes: 256 * 1024, maxAudioBytes: 256 * 1024, maxRows: 50 },
    });
    const requests = fc.sample(requestArb, { numRuns: 10_000, seed: 20240601 });

    const send = async (r: FuzzRequest): Promise<{ status: number; text: string }> => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) {
        // Header values the Fetch API itself refuses never reach a server: drop them here.
        if (/^[\t\x20-\x7e\x80-\xff]*$/.test(v)) headers[k] = v;
      }
      if (r.contentType !== null && /^[\t\x20-\x7e]*$/.test(r.contentType)) headers['content-type'] = r.contentType;
      const withBody = r.body !== null && r.method !== 'GET' && r.method !== 'HEAD';
      const response = await app.request(r.path, { method: r.method, headers, body: withBody ? r.body : undefined });
      return { status: response.status, text: await response.text() };
    };

    // Warm up (JIT, lazy module state), then measure the heap around the whole run.
    for (const r of requests.slice(0, 200)) await send(r);
    logged.length = 0;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const statuses = new Map<number, number>();
    for (const r of requests) {
      const { status, text } = await send(r);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500 || /\n\s+at |node:internal|\.ts:\d+/.test(text)) {
        throw new Error(`fuzz request ${JSON.stringify({ ...r, body: String(r.body).slice(0, 300) })} got ${status}: ${text.slice(0, 300)}`);
      }
    }
    logged.length = 0;
    await new Promise((resolve) => setImmediate(resolve));
    logged.length = 0;
    gc();
    const heapAfter = process.memoryUsage().heapUsed;
    // Every kind of refusal was exercised, and plenty of well-formed requests still succeeded.
    for (const status of [200, 400, 404, 415, 422]) expect(statuses.get(status) ?? 0).toBeGreaterThan(20);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    expect(heapAfter - heapBefore).toBeLessThan(8 * 1024 * 1024);
    // The server still answers correctly afterwards.
    const ok = await app.request('/invocations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances":[[0.1, 0.2]]}' });
    expect(ok.status).toBe(200);
    await holder.close();
  });
});
