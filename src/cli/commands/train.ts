/**
 * `spotml train`: one model (--model) or an AutoML search (--auto-optimize) on a feature table.
 * Parsing and printing only; the work is `train()` in src/api/train.ts.
 */
import { cpus } from 'node:os';
import type { Command } from 'commander';
import type { LeaderboardRow, TrainResult } from '../../api/train.js';
import { DEFAULT_SEARCH_BUDGET_SECONDS } from '../../search/budget.js';
import { familyNames, frameFamilyNames, trainsInEpochs } from '../../learners/catalogue.js';
import type { Task } from '../../learners/types.js';
import { METRICS, type MetricName } from '../../metrics/index.js';
import { openStores } from '../../tracking/open-store.js';
import { SpotmlError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import type { CommandContext } from '../context.js';
import { collectOption, oneOf, parseKeyValues, parseNonEmptyListOption, parseNumberOption, parsePositiveOption, textOption } from '../parse.js';
import { formatSeconds, formatTable } from '../ui/index.js';

export const trainCommand: CommandModule = {
  name: 'train',
  summary: 'train one model or search families and hyperparameters (AutoML) on a feature table',
  examples: [
    'spotml train out/features.csv --target label --auto-optimize --time-budget 60 --out out/model',
    'spotml train data.csv --target y --model gbdt --param learning_rate=0.05 --param max_iter=300',
    'spotml --seed 7 --json train data.parquet --target genre --auto-optimize --families svm,knn,extra_trees --cv 10',
    'spotml train out/features.csv --target label --frames out/frames --model cnn --param max_epochs=40',
  ],
  configure(command: Command): void {
    command
      .argument('[table]', 'feature table (.csv, .parquet, .jsonl); a <table>.spec.json beside it is used')
      .option('-t, --target <column>', 'the column to predict')
      .option('--auto-optimize', 'search model families and hyperparameters under --time-budget')
      .option('-m, --model <family>', `train one family: ${[...familyNames(), ...frameFamilyNames()].join(', ')} (${frameFamilyNames().join(', ')} needs --frames)`)
      .option('-p, --param <key=value>', 'a parameter for --model (repeatable)', collectOption)
      .option('--families <list>', 'families the search may use (comma-separated; default all that fit the task, plus cnn with --frames)')
      .option('--frames <dir>', 'the folder spotml extract --frames wrote for the table: cnn trains on its log-mel patches (rows matched by path)')
      .option('--time-budget <seconds>', 'wall-clock budget for search and final refit (default 60 with --auto-optimize; one --model or --max-trials runs without a limit unless given)')
      .option('--max-trials <n>', 'stop after this many trials; without --time-budget no clock applies, so a seeded search gives the same model on any machine')
      .option('--metric <name>', `metric to optimise: ${Object.keys(METRICS).join(', ')} (default accuracy or r2)`)
      .option('--task <task>', 'classification or regression (default: inferred from the target)')
      .option('--cv <folds>', 'cross-validation folds (stratified for classification)', '5')
      .option('--holdout <fraction>', 'use one holdout split of this fraction instead of k-fold')
      .option('--folds <file.json>', 'fixed folds: JSON {"fold": [test fold per row]}')
      .option('--group-by <column>', "keep rows sharing this column's value in one fold (default: path when a file has several rows, e.g. segments; none: split rows freely)")
      .option('--no-ensemble', 'ship the best single model even when an ensemble scores higher')
      .option('--log-trials <n>', 'trials logged as MLflow child runs: the first n, then any that enters the top n (every trial is in leaderboard.json)', '200')
      .option('-j, --jobs <n>', 'trials run in parallel on worker threads', String(Math.max(1, cpus().length)))
      .option('-o, --out <dir>', 'where to write the model package', 'out/model')
      .option('--experiment <name>', 'MLflow experiment to log to', 'spotml')
      .option('--tracking-uri <uri>', 'MLflow store: a path, file:…, or http(s):// for an MLflow server (default $MLFLOW_TRACKING_URI or ./mlruns)')
      .option('--tenant <name>', 'namespace experiments and models for one tenant')
      .option('--device <device>', 'compute backend for the neural families (mlp, cnn): auto, gpu, node, wasm or cpu', process.env.SPOTML_DEVICE ?? 'auto');
  },
  async run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number> {
    const { ui } = context;
    const table = await context.require(args[0], '<table>', 'Feature table to train on:');
    const target = await context.require(textOption(options, 'target'), '--target', 'Column to predict:');
    const autoOptimize = Boolean(options.autoOptimize);
    const timeBudgetText = textOption(options, 'timeBudget');
    const timeBudget = timeBudgetText === undefined ? undefined : parsePositiveOption('--time-budget', timeBudgetText);
    const groupByText = textOption(options, 'groupBy');
    const metricText = textOption(options, 'metric');
    const taskText = textOption(options, 'task');
    const maxTrials = textOption(options, 'maxTrials');
    const holdoutText = textOption(options, 'holdout');
    const trackingUri = textOption(options, 'trackingUri');
    const config = { table, target, ...options };
    const framesDir = textOption(options, 'frames');
    const families = parseNonEmptyListOption('--families', options.families, [...familyNames(), ...(framesDir ? frameFamilyNames() : [])]);
    const modelName = textOption(options, 'model');
    if (autoOptimize && modelName !== undefined) {
      throw new SpotmlError('USAGE', `--model ${modelName} trains one model and --auto-optimize searches: to search ${modelName}'s hyperparameters use --auto-optimize --families ${modelName} (or spotml tune)`, {
        flag: '--model',
      });
    }
    const searched = families ?? [...familyNames(), ...(framesDir ? frameFamilyNames() : [])];
    const usesNetworks = autoOptimize ? searched.some(trainsInEpochs) : modelName !== undefined && trainsInEpochs(modelName);
    if (usesNetworks) {
      // Worker threads read the device from the environment; choosing it here surfaces a missing GPU at once.
      const { getTf, parseDevice } = await import('../../runtime/tf.js');
      const device = parseDevice(String(options.device));
      process.env.SPOTML_DEVICE = device;
      ui.info(ui.color.dim(`neural backend: ${(await getTf(device)).description}`));
    }
    // One neural model shows a bar of epochs per fit (train() makes them); a search shows its time budget.
    const epochBars = !autoOptimize && usesNetworks;
    const progress = epochBars ? null : ui.progress('search', Math.round(timeBudget ?? (autoOptimize && maxTrials === undefined ? DEFAULT_SEARCH_BUDGET_SECONDS : 0)), 's');
    let lastTick = performance.now();
    const { train } = await import('../../api/train.js');
    const result = await train({
      table,
      target,
      model: modelName,
      framesDir,
      ...(epochBars ? { epochProgress: (label: string) => ui.progress(label, 0, 'epochs') } : {}),
      params: parseKeyValues('--param', options.param as string[] | undefined),
      autoOptimize,
      timeBudget,
      maxTrials: maxTrials === undefined ? undefined : parsePositiveOption('--max-trials', maxTrials, true),
      families,
      metric: metricText === undefined ? undefined : oneOf<MetricName>('--metric', metricText, Object.keys(METRICS) as MetricName[]),
      task: taskText === undefined ? undefined : oneOf<Task>('--task', taskText, ['classification', 'regression']),
      cv: parseNumberOption('--cv', String(options.cv), true),
      holdoutFraction: holdoutText === undefined ? undefined : parseNumberOption('--holdout', holdoutText),
      foldsFile: textOption(options, 'folds'),
      groupBy: groupByText === undefined ? undefined : groupByText === 'none' ? null : groupByText,
      seed: context.seed ?? 0,
      jobs: parsePositiveOption('--jobs', String(options.jobs), true),
      out: String(options.out),
      experiment: String(options.experiment),
      store: openStores({ trackingUri, tenant: textOption(options, 'tenant') }).tracking,
      ensemble: options.ensemble !== false,
      logTrials: parseNumberOption('--log-trials', String(options.logTrials), true),
      config,
      onStatus: (message) => ui.info(ui.color.dim(message)),
      onWarning: (message) => ui.warn(message),
      onTrial: (trial, board) => {
        const now = performance.now();
        progress?.tick(Math.round((now - lastTick) / 1000), leaderLine(board[0]));
        lastTick = now;
        if (trial.state === 'FAIL') ui.warn(`trial ${trial.number} (${String(trial.attrs.family)}) failed: ${String(trial.attrs.reason)}`);
      },
    });
    progress?.done();
    ui.result(result, () => renderResult(result, ui.color.bold, ui.color.green));
    return 0;
  },
};

function leaderLine(row: LeaderboardRow | undefined): string {
  return row ? `best ${row.family} ${row.score.toFixed(4)}` : '';
}

function renderResult(result: TrainResult, bold: (s: string) => string, good: (s: string) => string): string {
  const rows = result.leaderboard.slice(0, 10).map((r) => [
    String(r.rank),
    r.family,
    keyParams(r.params),
    `${r.score.toFixed(4)} ± ${r.std.toFixed(4)}`,
    formatSeconds(r.seconds),
  ]);
  const shipped =
    result.model.kind === 'ensemble'
      ? `ensemble of ${result.model.members.length} (${result.model.members.map((m) => `${m.family} ${(m.weight * 100).toFixed(0)}%`).join(', ')})`
      : result.model.family;
  return [
    formatTable(['#', 'family', 'params', `cv ${result.metric}`, 'time'], rows),
    '',
    `${bold('model')}   ${shipped}`,
    `${bold('score')}   ${good(result.score.toFixed(4))} cv ${result.metric} (${result.folds.n} ${result.folds.kind} folds${result.folds.groupedBy ? `, grouped by ${result.folds.groupedBy}` : ''})`,
    `${bold('trials')}  ${result.trials.complete} ok, ${result.trials.failed} failed in ${formatSeconds(result.elapsedSeconds)}`,
    `${bold('saved')}   ${result.out}  (run ${result.runId})`,
  ].join('\n');
}

function keyParams(params: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(params);
  if (entries.length === 0) return 'defaults';
  return entries
    .slice(0, 4)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(3)) : String(v)}`)
    .join(' ');
}
