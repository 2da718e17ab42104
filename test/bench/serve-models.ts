/**
 * `npm run bench:serve-models`: what a user's own served model costs per request, in process and without HTTP.
 * `bench:serve` measures a hand-made 300-tree forest; users serve what `spotml train --auto-optimize` gives
 * them (usually an ensemble behind the preprocessing pipeline), so this bench builds the README quickstart's
 * model and single-family models on the same fixture table and times, per model:
 *   - `predict`: the server's predictor (serve/runtime.ts nativePredictor → the model's predict / labels and
 *     probabilities) on a ready Matrix, for 1 row and 1,000 rows, labels and labels+probabilities;
 *   - `invocation`: the whole per-request work of /invocations (serve/scoring.ts scoreInvocation: JSON body →
 *     parse → predict → JSON answer) for the same four calls.
 * Figures are process CPU time (process.cpuUsage), the median of several rounds after a warm-up, as µs per call
 * and rows per CPU second. Rows are the quickstart holdout clips (tiled to 1,000 rows).
 *
 * Models are trained with the built CLI (bin/spotml.js, `--seed 1 --jobs 1`) into --models (default
 * node_modules/.cache/spotml-bench/serve-models) unless already there, so a second run reuses them; pass
 * --retrain to rebuild. Training uses a time budget, so a model may differ between machines; the bench records
 * each model's members.
 * Writes bench-results/serve-models.json. Run: npx tsx test/bench/serve-models.ts [--models DIR] [--cli FILE]
 *   [--only name,name] [--seconds 0.25] [--rounds 5] [--retrain]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMatrix, type Matrix } from '../../src/data/matrix.js';
import { readTable } from '../../src/data/table.js';
import type { FittedModel, SerializedModel } from '../../src/learners/types.js';
import { featureMatrix } from '../../src/registry/package.js';
import { createAuthenticator } from '../../src/serve/auth.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { ModelHolder, type LoadedModel } from '../../src/serve/model-holder.js';
import { DirModelSource } from '../../src/serve/model-source.js';
import { DEFAULT_LIMITS, scoreInvocation, type ScoringContext } from '../../src/serve/scoring.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}
const modelsDir = resolve(option('--models') ?? join(repo, 'node_modules', '.cache', 'spotml-bench', 'serve-models'));
const cli = resolve(option('--cli') ?? join(repo, 'bin', 'spotml.js'));
const only = option('--only')?.split(',');
const SECONDS = Number(option('--seconds') ?? 0.25);
const ROUNDS = Number(option('--rounds') ?? 5);
const BATCH = 1000;
const QUICKSTART_BUDGET = 30;
const FAMILY_BUDGET = 30;

/** The quickstart ensemble, then one model per family AutoML commonly picks, searched alone. */
const MODELS: readonly { name: string; families: string | null }[] = [
  { name: 'quickstart', families: null },
  { name: 'knn', families: 'knn' },
  { name: 'svm', families: 'svm' },
  { name: 'mlp', families: 'mlp' },
  { name: 'gbdt', families: 'gbdt' },
  { name: 'logistic_regression', families: 'logistic_regression' },
  { name: 'random_forest', families: 'random_forest' },
  { name: 'extra_trees', families: 'extra_trees' },
  { name: 'gaussian_nb', families: 'gaussian_nb' },
];

function spotml(...cliArgs: string[]): void {
  execFileSync(process.execPath, [cli, ...cliArgs], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The quickstart tables and the models (npm run quickstart's extract and train commands, into modelsDir). */
function buildModels(retrain: boolean): void {
  mkdirSync(modelsDir, { recursive: true });
  const train = join(modelsDir, 'train.csv');
  const holdout = join(modelsDir, 'holdout.csv');
  if (!existsSync(train) || retrain) spotml('extract', 'fixtures/audio/*/*_0?.wav', 'fixtures/audio/*/*_1[0-2].wav', '--labels-from-dirs', '--out', train);
  if (!existsSync(holdout) || retrain) spotml('extract', 'fixtures/audio/*/*_1[3-6].wav', '--labels-from-dirs', '--out', holdout);
  for (const m of MODELS) {
    if (only && !only.includes(m.name)) continue;
    const out = join(modelsDir, `model-${m.name}`);
    if (existsSync(join(out, 'model.json')) && !retrain) continue;
    rmSync(out, { recursive: true, force: true });
    const budget = String(m.families === null ? QUICKSTART_BUDGET : FAMILY_BUDGET);
    const search = m.families === null ? [] : ['--families', m.families];
    process.stderr.write(`training ${m.name} (${budget} s)\n`);
    spotml('train', train, '--target', 'label', '--auto-optimize', ...search, '--time-budget', budget, '--seed', '1', '--jobs', '1', '--out', out, '--experiment', 'bench-serve-models', '--tracking-uri', join(modelsDir, 'mlruns'));
  }
}

/** A model's shape for the report: the family, and an ensemble's or pipeline's members. */
function describe(json: SerializedModel): string {
  const state = json.state as { members?: SerializedModel[]; weights?: number[]; model?: SerializedModel } | null;
  if (json.family === 'ensemble' && state?.members && state.weights) {
    const weights = state.weights;
    return `ensemble(${state.members.map((m, i) => `${describe(m)}×${weights[i].toFixed(3)}`).join(', ')})`;
  }
  if (json.family === 'pipeline' && state?.model) return describe(state.model);
  return json.family;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU µs per call: rounds of as many calls as fill `SECONDS`, after a warm-up; the median round. */
async function timeCalls(call: () => unknown): Promise<{ microsPerCall: number; allRounds: number[] }> {
  let calls = 1;
  // Warm-up (JIT, lazily built state), and the number of calls one round needs.
  for (;;) {
    const t0 = cpuSeconds();
    for (let i = 0; i < calls; i++) await call();
    const spent = cpuSeconds() - t0;
    if (spent >= SECONDS / 4) {
      calls = Math.max(1, Math.round((calls * SECONDS) / Math.max(spent, 1e-6)));
      break;
    }
    calls *= 4;
  }
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = cpuSeconds();
    for (let i = 0; i < calls; i++) await call();
    rounds.push(((cpuSeconds() - t0) * 1e6) / calls);
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  return { microsPerCall: round3(sorted[Math.floor(sorted.length / 2)]), allRounds: rounds.map(round3) };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function tile(X: Matrix, rows: number): Matrix {
  const data = new Float64Array(rows * X.cols);
  for (let i = 0; i < rows; i++) data.set(X.data.subarray((i % X.rows) * X.cols, ((i % X.rows) + 1) * X.cols), i * X.cols);
  return createMatrix(rows, X.cols, data);
}

function jsonBody(names: readonly string[], X: Matrix): Buffer {
  const data: number[][] = [];
  for (let i = 0; i < X.rows; i++) data.push(Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols)));
  return Buffer.from(JSON.stringify({ dataframe_split: { columns: names, data } }));
}

interface CallFigures {
  microsPerCall: number;
  rowsPerCpuSecond: number;
  allRounds: number[];
}

function figures(timed: { microsPerCall: number; allRounds: number[] }, rows: number): CallFigures {
  return { microsPerCall: timed.microsPerCall, rowsPerCpuSecond: Math.round((rows * 1e6) / timed.microsPerCall), allRounds: timed.allRounds };
}

async function benchModel(name: string, holdoutPath: string): Promise<Record<string, unknown>> {
  const dir = join(modelsDir, `model-${name}`);
  const holder = new ModelHolder(new DirModelSource(dir), { runtime: 'native' });
  const loaded: LoadedModel = await holder.start();
  const model: FittedModel = loaded.pkg.model;
  const ctx: ScoringContext = { holder, auth: await createAuthenticator({}), metrics: new ServeMetrics(), limits: DEFAULT_LIMITS };
  const holdout = featureMatrix(loaded.pkg, await readTable(holdoutPath), null, holdoutPath);
  const one = tile(holdout, 1);
  const batch = tile(holdout, BATCH);
  const names = loaded.pkg.document.featureNames;
  const bodies = { one: jsonBody(names, one), batch: jsonBody(names, batch) };
  const predictor = loaded.predictor;
  const result: Record<string, unknown> = {
    model: describe(loaded.pkg.document.model),
    features: model.nFeatures,
    classes: model.nClasses ?? null,
  };
  const calls: [string, Matrix, Buffer, boolean][] = [
    ['oneRowLabels', one, bodies.one, false],
    ['oneRowProba', one, bodies.one, true],
    ['batchLabels', batch, bodies.batch, false],
    ['batchProba', batch, bodies.batch, true],
  ];
  const predict: Record<string, CallFigures> = {};
  const invocation: Record<string, CallFigures> = {};
  for (const [key, X, body, proba] of calls) {
    if (proba && !predictor.hasProba) continue;
    predict[key] = figures(await timeCalls(() => predictor.predict(X, proba)), X.rows);
    const request = {
      contentType: 'application/json',
      authorization: undefined,
      proba,
      readText: () => Promise.resolve(body.toString('utf8')),
      readBytes: () => Promise.resolve(body),
    };
    invocation[key] = figures(
      await timeCalls(async () => {
        const outcome = await scoreInvocation(ctx, request);
        if (outcome.status !== 200) throw new Error(`${name}: /invocations answered ${outcome.status}: ${outcome.body}`);
      }),
      X.rows,
    );
    process.stderr.write(`${name} ${key}: predict ${predict[key].microsPerCall} µs (${predict[key].rowsPerCpuSecond} rows/s), invocation ${invocation[key].microsPerCall} µs\n`);
  }
  await holder.close();
  return { ...result, predict, invocation };
}

async function main(): Promise<void> {
  buildModels(args.includes('--retrain'));
  const holdoutPath = join(modelsDir, 'holdout.csv');
  const models: Record<string, unknown> = {};
  for (const m of MODELS) {
    if (only && !only.includes(m.name)) continue;
    models[m.name] = await benchModel(m.name, holdoutPath);
  }
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version },
    setup: {
      table: 'the README quickstart: fixtures extracted with spotml extract (default features); holdout clips as rows, tiled to 1,000',
      training: `spotml train --auto-optimize --seed 1 --jobs 1, ${QUICKSTART_BUDGET} s for the quickstart (all families), ${FAMILY_BUDGET} s per --families model`,
      measure: `process CPU time, median of ${ROUNDS} rounds of ~${SECONDS} s each after a warm-up; microsPerCall and rowsPerCpuSecond`,
      predict: 'the served predictor (nativePredictor) on a ready Matrix',
      invocation: 'scoreInvocation: JSON dataframe_split body → parse → predict → JSON answer (no HTTP)',
    },
    models,
  };
  mkdirSync(join(repo, 'bench-results'), { recursive: true });
  writeFileSync(join(repo, 'bench-results', 'serve-models.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

await main();
