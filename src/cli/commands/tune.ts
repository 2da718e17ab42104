/**
 * `spotml tune`: deep hyperparameter search of one model family. Parsing and printing only; the work is
 * `tune()` in src/api/tune.ts.
 */
import { Option, type Command } from 'commander';
import { SpotmlError } from '../../errors.js';
import { SAMPLER_NAMES, type SamplerName, type StudyListing, type TuneSummary, deleteStudy, exportStudy, listStudies, tune } from '../../api/tune.js';
import { familyNames } from '../../learners/catalogue.js';
import type { Task } from '../../learners/types.js';
import { METRICS, type MetricName } from '../../metrics/index.js';
import { PRUNER_NAMES, type PrunerName } from '../../search/pruners.js';
import type { CommandModule } from '../command.js';
import type { CommandContext } from '../context.js';
import { parseNumberOption, textOption } from '../parse.js';
import { formatSeconds, formatTable } from '../ui/index.js';

/** A number flag with a lower bound; undefined when the flag was not given. */
function parseNumber(flag: string, value: string | undefined, integer: boolean, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = parseNumberOption(flag, value, integer);
  if (number < min) throw new SpotmlError('USAGE', `${flag} must be ${integer ? 'a whole number' : 'a number'} >= ${min}, got "${value}"`, { flag });
  return number;
}

/** "90", "90s", "5m", "1h" → seconds. */
export function parseDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/i.exec(value);
  if (!match || !(Number(match[1]) > 0)) {
    throw new SpotmlError('USAGE', `--time-budget must be a positive duration such as 60, 90s, 5m or 1h, got "${value}"`, { flag: '--time-budget' });
  }
  const unit = (match[2] ?? 's').toLowerCase();
  return Number(match[1]) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
}

function formatParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : String(v)}`)
    .join(' ');
}

function render(s: TuneSummary): string {
  const lines: string[] = [];
  const t = s.trials;
  lines.push(
    `study ${s.study} (${s.resumed ? 'resumed' : 'new'}) · ${s.family} on ${s.rows} rows × ${s.features} features · ${s.folds}-fold ${s.metric}` +
      ` · ${t.total} trials: ${t.complete} complete, ${t.pruned} pruned, ${t.failed} failed${t.crashed > 0 ? `, ${t.crashed} cut short` : ''}` +
      `${t.running > 0 ? `, ${t.running} still running (other workers of the study)` : ''}` +
      ` · ${t.thisRun} this run in ${formatSeconds(s.elapsedSeconds)} (stopped: ${s.stoppedBecause})`,
  );
  if (s.best) {
    lines.push(`best  trial ${s.best.number}: ${s.metric} ${s.best.score.toFixed(4)}`);
    lines.push(`      ${formatParams(s.best.params)}`);
  } else {
    lines.push('no trial is complete yet');
  }
  if (s.leaderboard.length > 0) {
    lines.push('', 'leaderboard:');
    const rows = s.leaderboard.map((r) => [String(r.rank), String(r.number), r.score.toFixed(4), r.durationSeconds === null ? '' : formatSeconds(r.durationSeconds), formatParams(r.params)]);
    lines.push(...formatTable(['#', 'trial', s.metric, 'time', 'params'], rows).split('\n').map((l) => `  ${l}`));
  }
  if (s.importance.length > 0) {
    lines.push('', 'parameter importance (share of score variance each explains alone):');
    lines.push(...s.importance.map((p) => `  ${p.param.padEnd(22)} ${(p.importance * 100).toFixed(1).padStart(5)}%`));
  }
  lines.push('', `results  ${s.outputs.dir} (summary.json, trials.csv${s.outputs.plots.length > 0 ? `, ${s.outputs.plots.length} plots as SVG+PNG` : ''})`);
  lines.push(`storage  ${s.storage}`);
  if (s.trackingRunId) lines.push(`tracking run ${s.trackingRunId} (one child run per trial)`);
  if (s.outputs.model) lines.push(`model    ${s.outputs.model} (ready for spotml register)`);
  return lines.join('\n');
}

function renderStudies(studies: readonly StudyListing[], storage: string): string {
  if (studies.length === 0) return `no studies in ${storage}`;
  const rows = studies.map((s) => {
    const t = s.trials;
    const counts = `${t.total} (${t.complete} complete, ${t.pruned} pruned, ${t.failed + t.crashed} failed${t.running > 0 ? `, ${t.running} running` : ''})`;
    return [s.study, s.family ?? '', s.metric ?? '', counts, s.best ? `${s.best.score.toFixed(4)} (trial ${s.best.number})` : '', s.createdAt.slice(0, 19).replace('T', ' ')];
  });
  return formatTable(['study', 'model', 'metric', 'trials', 'best', 'created'], rows);
}

/** `--list`, `--export FILE`, `--delete`: reading and removing studies, no table needed. */
async function manageStudies(context: CommandContext, options: Record<string, unknown>): Promise<number> {
  const { ui } = context;
  const storage = textOption(options, 'storage');
  const exportFile = textOption(options, 'export');
  const chosen = [options.list === true && '--list', exportFile !== undefined && '--export', options.delete === true && '--delete'].filter((f): f is string => typeof f === 'string');
  if (chosen.length > 1) throw new SpotmlError('USAGE', `${chosen.join(' and ')} cannot be combined: give one`, { flag: chosen[1] });
  if (options.list === true) {
    const listed = await listStudies({ storage });
    ui.result(listed, () => renderStudies(listed.studies, listed.storage));
    return 0;
  }
  const study = textOption(options, 'study');
  if (study === undefined) throw new SpotmlError('USAGE', `${chosen[0]} needs --study <name> (spotml tune --list shows them)`, { flag: '--study' });
  if (exportFile !== undefined) {
    const exported = await exportStudy({ study, storage, file: exportFile });
    ui.result(exported, () => `wrote ${exported.trials.length} trials of study ${exported.study} to ${exported.file ?? ''}`);
    return 0;
  }
  const deleted = await deleteStudy({ study, storage, heartbeatTimeoutSeconds: parseNumber('--heartbeat-timeout', textOption(options, 'heartbeatTimeout'), false, 1) });
  ui.result(deleted, () => `deleted study ${deleted.study} and its ${deleted.trials} trials from ${deleted.storage}`);
  return 0;
}

export const tuneCommand: CommandModule = {
  name: 'tune',
  summary: 'search one model family’s hyperparameters (TPE, random or grid; pruning; resumable, parallel studies)',
  examples: [
    'spotml tune features.csv --target label --model gbdt --time-budget 60',
    'spotml tune features.csv --target label --model svm --trials 200 --sampler tpe --pruner halving --jobs 2',
    'spotml tune features.csv --target label --model random_forest --study rf-1 --trials 100   # run again to resume',
    'spotml tune features.csv --target label --model gbdt --study shared --storage postgresql://user:pw@db/spotml --trials 500',
    'spotml tune features.csv --target label --model knn --space configs/spaces/knn.yaml --save-model out/knn-best --json',
    'spotml tune --list --storage postgresql://user:pw@db/spotml',
    'spotml tune --study rf-1 --export rf-1-trials.csv',
    'spotml tune --study rf-1 --delete',
  ],
  configure(command: Command): void {
    command
      .argument('[table]', 'feature table (.csv, .parquet, .jsonl)')
      .option('--target <column>', 'the column to predict')
      .option('--model <family>', `model family: ${familyNames().join(', ')} (cnn: use train --frames)`)
      .option('--space <file.yaml>', 'search space YAML (default configs/spaces/<family>.yaml)')
      .option('--trials <n>', 'stop when the study holds this many trials (default 100 without --time-budget)')
      .option('--time-budget <duration>', 'stop starting trials after this long: 60, 90s, 5m, 1h')
      .addOption(new Option('--sampler <name>', 'how configurations are proposed (default tpe)').choices([...SAMPLER_NAMES]))
      .addOption(new Option('--pruner <name>', 'stop poor trials early on per-fold scores (default median; none with --sampler grid)').choices([...PRUNER_NAMES]))
      .option('--study <name>', 'study name; the same name resumes or joins the study (default <model>-<table>-<target>)')
      .option('--storage <uri>', 'where studies live: a journal file path (default .spotml/studies.jsonl) or postgresql://user:pw@host/db')
      .option('-j, --jobs <n>', 'trials run at once by this process (default 1)')
      .option('--cv <k>', 'cross-validation folds (default 5)')
      .option('--group-by <column>', "keep rows sharing this column's value in one fold (default: path when a file has several rows, e.g. segments; none: split rows freely)")
      .addOption(new Option('--metric <name>', 'metric to optimise (default accuracy / r2)').choices(Object.keys(METRICS)))
      .addOption(new Option('--task <task>', 'classification or regression (default: guessed from the target)').choices(['classification', 'regression']))
      .option('--out <dir>', 'folder for summary.json, trials.csv and plots (default tune-out/<study>)')
      .option('--no-plots', 'do not render plots')
      .option('--save-model <dir>', 'refit the best configuration on all rows and write a model package here')
      .option('--tracking-uri <uri>', 'MLflow tracking store for the study run and its trial runs (default MLFLOW_TRACKING_URI or ./mlruns)')
      .option('--no-track', 'do not log the study to the tracking store')
      .option('--experiment <name>', 'tracking experiment (default spotml-tune)')
      .option('--startup-trials <n>', 'random trials before TPE starts (default 10)')
      .option('--grid-resolution <n>', 'values per numeric axis for --sampler grid (default 5)')
      .option('--heartbeat-timeout <seconds>', 'a running trial whose worker is silent this long is marked failed (default 60)')
      .option('--top <n>', 'rows in the leaderboard (default 10)')
      .option('--list', 'list the studies in --storage with their trial counts and best trial, then exit')
      .option('--export <file>', 'write the trials of --study to a .csv or .json file, then exit')
      .option('--delete', 'delete --study and its trials from --storage (refused while its trials run), then exit');
  },
  async run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number> {
    const { ui } = context;
    if (options.list === true || options.export !== undefined || options.delete === true) return manageStudies(context, options);
    const table = await context.require(args[0], '<table>', 'Which feature table?');
    const target = await context.require(textOption(options, 'target'), '--target', 'Which column is the target?');
    const model = await context.require(textOption(options, 'model'), '--model', `Which model family (${familyNames().join(', ')})?`);
    const groupBy = textOption(options, 'groupBy');
    const controller = new AbortController();
    // SIGTERM (kill, a scheduler, Kubernetes) stops as Ctrl-C does: running trials are marked cut short at
    // once, instead of holding their place in a shared study until the heartbeat timeout.
    let exitCode = 130;
    const onSignal = (signal: NodeJS.Signals): void => {
      const code = signal === 'SIGTERM' ? 143 : 130;
      if (controller.signal.aborted) process.exit(code);
      exitCode = code;
      ui.warn(`interrupted (${signal}): finishing up (the study keeps every finished trial; run the same command to resume). Press Ctrl-C again to quit now.`, {});
      controller.abort(new SpotmlError('USAGE', 'interrupted'));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let progress = ui.progress('tune', 0, 'trials');
    // Trial records hold the objective oriented for maximising; show the metric as it is read.
    let sign = 1;
    let metricName = 'score';
    try {
      const summary = await tune({
        table,
        target,
        model,
        space: textOption(options, 'space'),
        trials: parseNumber('--trials', textOption(options, 'trials'), true, 1),
        timeBudget: parseDuration(textOption(options, 'timeBudget')),
        sampler: textOption(options, 'sampler') as SamplerName | undefined,
        pruner: textOption(options, 'pruner') as PrunerName | undefined,
        study: textOption(options, 'study'),
        storage: textOption(options, 'storage'),
        jobs: parseNumber('--jobs', textOption(options, 'jobs'), true, 1),
        cv: parseNumber('--cv', textOption(options, 'cv'), true, 2),
        groupBy: groupBy === undefined ? undefined : groupBy === 'none' ? null : groupBy,
        metric: textOption(options, 'metric') as MetricName | undefined,
        task: textOption(options, 'task') as Task | undefined,
        seed: context.seed,
        out: textOption(options, 'out'),
        plots: options.plots !== false,
        saveModel: textOption(options, 'saveModel'),
        trackingUri: options.track === false ? null : textOption(options, 'trackingUri'),
        experiment: textOption(options, 'experiment'),
        startupTrials: parseNumber('--startup-trials', textOption(options, 'startupTrials'), true, 0),
        gridResolution: parseNumber('--grid-resolution', textOption(options, 'gridResolution'), true, 1),
        heartbeatTimeoutSeconds: parseNumber('--heartbeat-timeout', textOption(options, 'heartbeatTimeout'), false, 1),
        top: parseNumber('--top', textOption(options, 'top'), true, 1),
        signal: controller.signal,
        onStart: (e) => {
          sign = e.greaterIsBetter ? 1 : -1;
          metricName = e.metric;
          const verb = !e.resumed ? 'starting' : e.runningTrials > 0 ? 'joining' : 'resuming';
          const running = e.runningTrials > 0 ? `, ${e.runningTrials} running elsewhere` : '';
          ui.info(
            `${verb} study ${e.study} (${e.existingTrials} trials so far${running}) in ${e.storage}, ${e.jobs} at a time${e.jobs > 1 && !e.workers ? ' (in this thread: build first for worker threads)' : ''}; space: ${e.space}`,
          );
          progress = ui.progress('tune', 0, 'trials');
        },
        onTrial: (trial, best) => {
          const score = trial.value === null ? '' : ` ${metricName} ${(sign * trial.value).toFixed(4)}`;
          progress.tick(1, `· trial ${trial.number} ${trial.state.toLowerCase()}${score}${best ? ` · best ${(sign * (best.value as number)).toFixed(4)} (trial ${best.number})` : ''}`);
        },
        onWarning: (message) => ui.warn(message, {}),
      }).finally(() => progress.done());
      ui.result(summary, () => render(summary));
      return summary.stoppedBecause === 'aborted' ? exitCode : 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
