/**
 * `npm run bench:serve`: the scoring server under autocannon on loopback, with a 300-tree random forest
 * (20 features, 3 classes). The server runs in its own process (bundled with esbuild, as a built CLI would
 * start) and autocannon in this one, so on a 2-core machine the load generator and the server share the cores.
 *
 * Measured per runtime (native, onnx) and for --workers 2 (native):
 *   - start-up: spawn → first 200 from /invocations;
 *   - resident memory the model load added in the server (its own measurement) and the server's RSS after load;
 *   - single-row requests: requests/s, latency p50/p99 (ms);
 *   - 1,000-row batches: requests/s, rows/s, latency p50/p99; labels (the default answer) and ?proba=true.
 * Goals (from the issue): single-row ≥ 10,000 req/s with p99 < 10 ms; batches ≥ 500,000 rows/s; model RSS
 * < 50 MB; start-up < 1 s. Results go to bench-results/serve.json.
 *
 * The ONNX model is the same forest written as an ai.onnx.ml TreeEnsembleClassifier (encoded here: packages
 * do not carry model.onnx yet). Forest thresholds are float64 in spotml and float32 in that operator, and the
 * pipeline's median imputer is left out (bench rows have no missing values), so it is a speed comparison:
 * the bench counts how many of the batch rows the two runtimes label alike and reports it.
 *
 * Run: npx tsx test/bench/serve.ts [--duration 10] [--repeats 3] [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { readModelPackage } from '../../src/registry/package.js';
import type { PipelineModel } from '../../src/learners/preprocess.js';
import type { AveragedTreesModel } from '../../src/learners/tree/ensemble.js';
import { forestPackage, Proto, synthetic, valueInfo } from '../unit/serve/fixtures.js';

interface AutocannonOptions {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  duration: number;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

// autocannon ships no types; this is the part of its API the bench uses.
const autocannon = createRequire(import.meta.url)('autocannon') as (options: AutocannonOptions) => Promise<AutocannonResult>;

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const durationIndex = args.indexOf('--duration');
const DURATION = durationIndex >= 0 ? Number(args[durationIndex + 1]) : quick ? 3 : 10;
const repeatsIndex = args.indexOf('--repeats');
// The machine's speed drifts by ±20–30% from minute to minute (shared host): each load runs several times and
// the median run is reported, with every run listed.
const REPEATS = repeatsIndex >= 0 ? Number(args[repeatsIndex + 1]) : quick ? 1 : 3;
const TREES = 300;
const FEATURES = 20;
const CLASSES = ['a', 'b', 'c'];
const BATCH = 1000;

// ---------------------------------------------------------------- ONNX TreeEnsembleClassifier

function attribute(name: string, type: number, fill: (p: Proto) => void): Proto {
  const a = new Proto().string(1, name);
  fill(a);
  return a.int(20, type);
}

function forestOnnx(model: AveragedTreesModel): Uint8Array {
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const values: number[] = [];
  const modes: string[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const missingTrue: number[] = [];
  const classTree: number[] = [];
  const classNode: number[] = [];
  const classIds: number[] = [];
  const classWeights: number[] = [];
  const K = model.nClasses as number;
  const scale = 1 / model.trees.length;
  model.trees.forEach((tree, t) => {
    for (let n = 0; n < tree.nodeCount; n++) {
      treeIds.push(t);
      nodeIds.push(n);
      const leaf = tree.feature[n] < 0;
      featureIds.push(leaf ? 0 : tree.feature[n]);
      values.push(leaf ? 0 : tree.threshold[n]);
      modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      trueIds.push(leaf ? 0 : tree.left[n]);
      falseIds.push(leaf ? 0 : tree.right[n]);
      missingTrue.push(leaf ? 0 : tree.missingLeft[n]);
      if (leaf) {
        for (let k = 0; k < K; k++) {
          classTree.push(t);
          classNode.push(n);
          classIds.push(k);
          classWeights.push(tree.value[n * K + k] * scale);
        }
      }
    }
  });
  const FLOATS = 6;
  const INTS = 7;
  const STRINGS = 8;
  const STRING = 3;
  const attrs = [
    attribute('nodes_treeids', INTS, (a) => a.ints(8, treeIds)),
    attribute('nodes_nodeids', INTS, (a) => a.ints(8, nodeIds)),
    attribute('nodes_featureids', INTS, (a) => a.ints(8, featureIds)),
    attribute('nodes_values', FLOATS, (a) => a.floats(7, values)),
    attribute('nodes_modes', STRINGS, (a) => modes.forEach((m) => a.string(9, m))),
    attribute('nodes_truenodeids', INTS, (a) => a.ints(8, trueIds)),
    attribute('nodes_falsenodeids', INTS, (a) => a.ints(8, falseIds)),
    attribute('nodes_missing_value_tracks_true', INTS, (a) => a.ints(8, missingTrue)),
    attribute('class_treeids', INTS, (a) => a.ints(8, classTree)),
    attribute('class_nodeids', INTS, (a) => a.ints(8, classNode)),
    attribute('class_ids', INTS, (a) => a.ints(8, classIds)),
    attribute('class_weights', FLOATS, (a) => a.floats(7, classWeights)),
    attribute('classlabels_int64s', INTS, (a) => a.ints(8, Array.from({ length: K }, (_, k) => k))),
    attribute('post_transform', STRING, (a) => a.string(4, 'NONE')),
  ];
  const node = new Proto().string(1, 'input').string(2, 'label').string(2, 'probabilities').string(3, 'forest').string(4, 'TreeEnsembleClassifier');
  for (const a of attrs) node.message(5, a);
  node.string(7, 'ai.onnx.ml');
  const graph = new Proto().message(1, node).string(2, 'forest');
  graph.message(11, valueInfo('input', 1, ['N', model.nFeatures]));
  graph.message(12, valueInfo('label', 7, ['N'])).message(12, valueInfo('probabilities', 1, ['N', K]));
  return new Proto()
    .int(1, 8)
    .string(2, 'spotml-bench')
    .message(7, graph)
    .message(8, new Proto().string(1, '').int(2, 13))
    .message(8, new Proto().string(1, 'ai.onnx.ml').int(2, 3))
    .finish();
}

// ---------------------------------------------------------------- server process

async function bundleEntry(work: string): Promise<string> {
  const entry = join(work, 'entry.ts');
  writeFileSync(
    entry,
    `import cluster from 'node:cluster';
import { runCluster, serveUntilSignal } from ${JSON.stringify(join(repo, 'src/serve/server.ts'))};
// Cluster workers re-run this file with the same environment.
const options = JSON.parse(process.env.BENCH_SERVE_OPTIONS);
if (cluster.isPrimary && options.workers > 1) await runCluster(options, options.workers);
else await serveUntilSignal(options);
process.exit(0);
`,
  );
  const esbuild = await import('esbuild');
  // Inside the repo so the external onnxruntime-node resolves from its node_modules.
  const outDir = join(repo, 'node_modules', '.cache', 'spotml-bench');
  mkdirSync(outDir, { recursive: true });
  // Per process, so two bench runs at once (or a helper's) never start each other's bundle.
  const outfile = join(outDir, `serve-bundle-${process.pid}.mjs`);
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    external: ['onnxruntime-node'],
    nodePaths: [join(repo, 'node_modules')],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    define: { 'import.meta.url': JSON.stringify(`file://${join(repo, 'src/version.ts')}`) },
    logLevel: 'silent',
  });
  // version.ts reads ../package.json relative to import.meta.url, which the define above points at src/version.ts.
  return outfile;
}

interface Started {
  child: ChildProcess;
  url: string;
  startupMs: number;
  modelRssMb: number;
  rssMb: number;
  logFile: string;
}

async function startServer(bundle: string, work: string, model: string, runtime: string, workers: number): Promise<Started> {
  const logFile = join(work, `log-${runtime}-${workers}-${Date.now()}.jsonl`);
  const fd = openSync(logFile, 'w');
  const options = { model, host: '127.0.0.1', port: 0, runtime, workers, pollSeconds: 0 };
  const t0 = performance.now();
  const child = spawn(process.execPath, [bundle], {
    cwd: repo,
    env: { ...process.env, BENCH_SERVE_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', fd, 'inherit'],
  });
  let url = '';
  let modelRssMb = Number.NaN;
  let rssMb = Number.NaN;
  const deadline = Date.now() + 30_000;
  while (url === '') {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 2));
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes('listening')) continue;
      const event = JSON.parse(line) as { url: string; modelRssMb?: number; rssMb?: number };
      url = event.url;
      if (event.modelRssMb !== undefined) modelRssMb = event.modelRssMb;
      if (event.rssMb !== undefined) rssMb = event.rssMb;
    }
  }
  const body = JSON.stringify({ dataframe_split: { columns: names(), data: [Array.from({ length: FEATURES }, () => 0)] } });
  for (;;) {
    const response = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => null);
    if (response?.status === 200) break;
    if (Date.now() > deadline) throw new Error('server never answered');
  }
  const startupMs = performance.now() - t0;
  if (workers > 1) {
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (line.includes('"msg":"listening"')) {
        const event = JSON.parse(line) as { modelRssMb: number; rssMb: number };
        modelRssMb = event.modelRssMb;
        rssMb = event.rssMb;
      }
    }
  }
  return { child, url, startupMs, modelRssMb, rssMb, logFile };
}

async function stopServer(s: Started): Promise<number | null> {
  const exited = new Promise<number | null>((r) => s.child.once('exit', (code) => r(code)));
  s.child.kill('SIGTERM');
  return exited;
}

function names(): string[] {
  return Array.from({ length: FEATURES }, (_, j) => `f${j}`);
}

interface LoadResult {
  requestsPerSecond: number;
  rowsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  total: number;
}

async function load(url: string, body: string, rows: number, connections: number, query = ''): Promise<LoadResult> {
  const result = await autocannon({
    url: `${url}/invocations${query}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: DURATION,
  });
  const rps = result.requests.average;
  return {
    requestsPerSecond: Math.round(rps),
    rowsPerSecond: Math.round(rps * rows),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total,
  };
}

/** The run with the median throughput (the lower middle one for an even count). */
function medianRun(runs: LoadResult[]): LoadResult {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'spotml-bench-serve-'));
  const model = join(work, 'model');
  const fitStart = performance.now();
  const data = synthetic(3000, FEATURES, CLASSES.length, 7);
  await forestPackage({ dir: model, trees: TREES, classes: CLASSES, data, seed: 7 });
  const pkg = await readModelPackage(model);
  const forest = (pkg.model as PipelineModel).model as AveragedTreesModel;
  writeFileSync(join(model, 'model.onnx'), forestOnnx(forest));
  const nodes = forest.trees.reduce((sum, t) => sum + t.nodeCount, 0);
  process.stderr.write(`forest: ${TREES} trees, ${nodes} nodes, fitted in ${((performance.now() - fitStart) / 1000).toFixed(1)} s\n`);
  const bundle = await bundleEntry(work);

  const rowsData = synthetic(BATCH, FEATURES, CLASSES.length, 99);
  const single = JSON.stringify({ dataframe_split: { columns: names(), data: [Array.from(rowsData.X.data.subarray(0, FEATURES))] } });
  const batchRows: number[][] = [];
  for (let i = 0; i < BATCH; i++) batchRows.push(Array.from(rowsData.X.data.subarray(i * FEATURES, (i + 1) * FEATURES)));
  const batch = JSON.stringify({ dataframe_split: { columns: names(), data: batchRows } });

  const configs: { runtime: 'native' | 'onnx'; workers: number }[] = quick
    ? [
        { runtime: 'native', workers: 1 },
        { runtime: 'onnx', workers: 1 },
      ]
    : [
        { runtime: 'native', workers: 1 },
        { runtime: 'onnx', workers: 1 },
        { runtime: 'native', workers: 2 },
      ];
  const runs: Record<string, unknown>[] = [];
  const predictions: Record<string, unknown[]> = {};
  for (const config of configs) {
    const label = `${config.runtime}, ${config.workers} worker${config.workers > 1 ? 's' : ''}`;
    process.stderr.write(`${label}: starting\n`);
    const server = await startServer(bundle, work, model, config.runtime, config.workers);
    const answer = (await (await fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch })).json()) as {
      predictions: unknown[];
    };
    predictions[config.runtime] = answer.predictions;
    // Warm-up (JIT, connection pools) before measuring.
    await autocannon({ url: `${server.url}/invocations`, method: 'POST', headers: { 'content-type': 'application/json' }, body: single, connections: 16, duration: 1 });
    const singleRuns: LoadResult[] = [];
    const batchRuns: LoadResult[] = [];
    const probaRuns: LoadResult[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      const one = await load(server.url, single, 1, 32);
      process.stderr.write(`  single-row: ${one.requestsPerSecond} req/s, p50 ${one.latencyMs.p50} ms, p99 ${one.latencyMs.p99} ms\n`);
      singleRuns.push(one);
      const many = await load(server.url, batch, BATCH, 4);
      process.stderr.write(`  batch ${BATCH}: ${many.rowsPerSecond} rows/s, p50 ${many.latencyMs.p50} ms, p99 ${many.latencyMs.p99} ms\n`);
      batchRuns.push(many);
      // Labels and probabilities: every tree for every row (labels alone may stop a row once its class is settled).
      const withProba = await load(server.url, batch, BATCH, 4, '?proba=true');
      process.stderr.write(`  batch ${BATCH} ?proba=true: ${withProba.rowsPerSecond} rows/s, p50 ${withProba.latencyMs.p50} ms, p99 ${withProba.latencyMs.p99} ms\n`);
      probaRuns.push(withProba);
    }
    const singleRow = medianRun(singleRuns);
    const batched = medianRun(batchRuns);
    const batchedProba = medianRun(probaRuns);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const exitCode = await stopServer(server);
    runs.push({
      runtime: config.runtime,
      workers: config.workers,
      startupMs: Math.round(server.startupMs),
      modelRssMb: server.modelRssMb,
      serverRssMbAfterLoad: server.rssMb,
      singleRow,
      singleRowRequestsPerSecondAllRuns: singleRuns.map((r) => r.requestsPerSecond),
      batch: { rows: BATCH, ...batched },
      batchRowsPerSecondAllRuns: batchRuns.map((r) => r.rowsPerSecond),
      batchWithProba: { rows: BATCH, ...batchedProba },
      batchWithProbaRowsPerSecondAllRuns: probaRuns.map((r) => r.rowsPerSecond),
      rowsPredictedTotal: Number(/^spotml_rows_predicted_total (\d+)/m.exec(metrics)?.[1] ?? Number.NaN),
      exitCodeAfterSigterm: exitCode,
    });
  }
  const native = predictions.native ?? [];
  const onnx = predictions.onnx ?? [];
  const agree = native.filter((p, i) => p === onnx[i]).length;
  const best = (key: 'singleRow' | 'batch'): string => {
    const single = runs.filter((r) => r.workers === 1) as { runtime: string; singleRow: LoadResult; batch: LoadResult }[];
    return single.sort((a, b) => b[key].requestsPerSecond - a[key].requestsPerSecond)[0]?.runtime ?? '';
  };
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version },
    setup: {
      model: `random_forest, ${TREES} trees (${nodes} nodes), ${FEATURES} features, ${CLASSES.length} classes`,
      loadGenerator: 'autocannon in the bench process, same machine (cores shared with the server)',
      durationSeconds: DURATION,
      repeats: `${REPEATS} runs of each load per configuration; the median run is reported, all runs listed`,
      singleRowConnections: 32,
      batchConnections: 4,
      body: 'application/json dataframe_split',
      accessLog: 'on (JSON lines to a file)',
    },
    goals: { singleRowRequestsPerSecond: 10_000, singleRowP99Ms: 10, batchRowsPerSecond: 500_000, modelRssMb: 50, startupMs: 1000 },
    runs,
    fasterRuntime: { singleRow: best('singleRow'), batch: best('batch') },
    runtimesAgreeOnBatchRows: `${agree}/${native.length}`,
  };
  mkdirSync(join(repo, 'bench-results'), { recursive: true });
  writeFileSync(join(repo, 'bench-results', 'serve.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  rmSync(work, { recursive: true, force: true });
  rmSync(bundle, { force: true });
}

await main();
