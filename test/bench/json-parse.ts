/**
 * /invocations JSON parse speed: CPU µs per body for the serve bench's 1,000-row batch (synthetic(1000, 20, 3,
 * seed 99) as `{"dataframe_split": {"columns": [...], "data": [[...]]}}`, built exactly as test/bench/serve.ts
 * builds it, ≈382 kB), through parseJsonFast (src/serve/fast-json.ts + wasm/trees-json.ts).
 *
 * "before" is the parser at a base commit (default 85de58a, the last one before the digit-group kernel; pass
 * --base <ref> for another): its kernel and driver are read with `git show`, the kernel compiled as
 * scripts/build-wasm.mjs compiles it, and both loaded into this process beside the current ones. "after" is
 * the working tree (run `node scripts/build-wasm.mjs trees-json` first). Both are checked to give a matrix
 * bit-identical to JSON.parse's numbers before any timing.
 *
 * Bodies are timed as the server's fast path hands them over (a Buffer) and as text (the Hono path). Timing is
 * process CPU time; each round times a block of bodies per parser, the parsers alternating, and the report
 * gives the median and best of the rounds. Writes bench-results/json-parse.json.
 * Run: npx tsx test/bench/json-parse.ts [--rounds 25] [--base <ref>]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import asc from 'assemblyscript/asc';
import { parseJsonFast } from '../../src/serve/fast-json.js';
import { inputSchema, type InputSchema, type ParsedInput, type ParseLimits } from '../../src/serve/protocol.js';
import { synthetic } from '../unit/serve/fixtures.js';

type Parser = (body: string | Uint8Array, schema: InputSchema, limits: ParseLimits) => ParsedInput | null;

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROUNDS = Number(option('--rounds', '25'));
const BASE = option('--base', '85de58a');
const BODIES_PER_BLOCK = 10;
const FEATURES = 20;
const CLASSES = 3;
const BATCH = 1000;

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function gitShow(path: string): string {
  return execFileSync('git', ['show', `${BASE}:${path}`], { cwd: repo, encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** The base commit's parseJsonFast: its kernel compiled with build-wasm.mjs's flags, its driver importing the current src/ otherwise. */
async function baseParser(): Promise<Parser> {
  const dir = mkdtempSync(join(tmpdir(), 'spotml-bench-json-'));
  const kernelSource = join(dir, 'trees-json.ts');
  writeFileSync(kernelSource, gitShow('wasm/trees-json.ts'));
  let bytes: Uint8Array | null = null;
  const { error, stderr } = await asc.main(
    [kernelSource, '--outFile', 'base.wasm', '-O3', '--noAssert', '--runtime', 'stub', '--enable', 'simd', '--initialMemory', '1'],
    {
      writeFile: (file: string, contents: string | Uint8Array) => {
        if (file.endsWith('.wasm') && typeof contents !== 'string') bytes = contents;
      },
    },
  );
  if (error || bytes === null) throw new Error(`the ${BASE} kernel did not compile: ${error?.message ?? stderr.toString()}`);
  writeFileSync(join(dir, 'kernel.ts'), `export const wasmBase64 = '${Buffer.from(bytes).toString('base64')}';\n`);
  const driverDir = pathToFileURL(join(repo, 'src', 'serve', '/')).href;
  const driver = gitShow('src/serve/fast-json.ts')
    .replace(`'../generated/wasm/trees-json.js'`, `'${pathToFileURL(join(dir, 'kernel.js')).href}'`)
    .replace(/from '(\.\.?\/[^']+)'/g, (_, path: string) => `from '${new URL(path, driverDir).href}'`)
    // instantiateKernel caches compiled modules by name: the base kernel needs its own.
    .replace(`instantiateKernel<JsonKernel>('trees-json'`, `instantiateKernel<JsonKernel>('trees-json-base'`);
  if (!driver.includes(`'trees-json-base'`)) throw new Error(`the ${BASE} driver no longer names its kernel as expected`);
  writeFileSync(join(dir, 'fast-json.ts'), driver);
  const module = (await import(pathToFileURL(join(dir, 'fast-json.ts')).href)) as { parseJsonFast: Parser };
  return module.parseJsonFast;
}

function names(): string[] {
  return Array.from({ length: FEATURES }, (_, j) => `f${j}`);
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

async function main(): Promise<void> {
  const rowsData = synthetic(BATCH, FEATURES, CLASSES, 99);
  const batchRows: number[][] = [];
  for (let i = 0; i < BATCH; i++) batchRows.push(Array.from(rowsData.X.data.subarray(i * FEATURES, (i + 1) * FEATURES)));
  const text = JSON.stringify({ dataframe_split: { columns: names(), data: batchRows } });
  const bodies: Record<string, string | Uint8Array> = { buffer: Buffer.from(text, 'utf8'), string: text };
  const schema = inputSchema(names());
  const limits = { maxRows: BATCH };
  const parsers: Record<string, Parser> = { before: await baseParser(), after: parseJsonFast };

  // Both must take the body and give JSON.parse's numbers bit for bit.
  const expected = new Float64Array(batchRows.flat());
  const reference = new Float64Array((JSON.parse(text) as { dataframe_split: { data: number[][] } }).dataframe_split.data.flat());
  for (let i = 0; i < expected.length; i++) if (!Object.is(expected[i], reference[i])) throw new Error('JSON.stringify did not round-trip');
  for (const [name, parse] of Object.entries(parsers)) {
    for (const [kind, body] of Object.entries(bodies)) {
      const parsed = parse(body, schema, limits);
      if (parsed === null) throw new Error(`${name} declined the ${kind} body`);
      const got = parsed.matrix.data;
      if (got.length !== reference.length || got.some((v, i) => !Object.is(v, reference[i]))) throw new Error(`${name} misread the ${kind} body`);
    }
  }

  const times: Record<string, Record<string, number[]>> = {};
  for (const kind of Object.keys(bodies)) times[kind] = { before: [], after: [] };
  // Warm-up: both kernels tier up to optimised code before anything is counted.
  for (let i = 0; i < 60; i++) for (const parse of Object.values(parsers)) for (const body of Object.values(bodies)) parse(body, schema, limits);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [kind, body] of Object.entries(bodies)) {
      const order = r % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
      for (const name of order) {
        const parse = parsers[name];
        const start = cpuMicros();
        for (let i = 0; i < BODIES_PER_BLOCK; i++) if (parse(body, schema, limits) === null) throw new Error(`${name} declined`);
        times[kind][name].push((cpuMicros() - start) / BODIES_PER_BLOCK);
      }
    }
  }

  const results: Record<string, unknown> = {};
  for (const [kind, byParser] of Object.entries(times)) {
    const summary = (values: number[]): { medianMicros: number; bestMicros: number } => ({ medianMicros: round1(median(values)), bestMicros: round1(Math.min(...values)) });
    const before = summary(byParser.before);
    const after = summary(byParser.after);
    results[kind] = { before, after, speedupMedian: round2(before.medianMicros / after.medianMicros), speedupBest: round2(before.bestMicros / after.bestMicros) };
  }
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    setup: {
      body: `synthetic(${BATCH}, ${FEATURES}, ${CLASSES}, seed 99) as dataframe_split with columns, built as test/bench/serve.ts builds its batch: ${text.length} bytes, ${BATCH * FEATURES} numbers`,
      before: `parseJsonFast at ${BASE} (kernel and driver from git show)`,
      after: 'parseJsonFast in the working tree',
      timing: `process CPU µs per body, median and best of ${ROUNDS} rounds of ${BODIES_PER_BLOCK} bodies, before/after alternating; both checked bit-identical to JSON.parse`,
    },
    results,
  };
  mkdirSync(join(repo, 'bench-results'), { recursive: true });
  writeFileSync(join(repo, 'bench-results', 'json-parse.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

await main();
