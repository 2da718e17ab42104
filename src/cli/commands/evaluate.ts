/**
 * `spotml evaluate`: metrics, plots, an HTML report and a CI quality gate for a model on a table.
 * Parsing and printing only; the work is `evaluate()` in src/api/evaluate.ts.
 */
import type { Command } from 'commander';
import { openStores } from '../../tracking/open-store.js';
import { resolveModel } from '../../registry/resolve.js';
import type { CommandModule } from '../command.js';
import type { CommandContext } from '../context.js';
import { textOption } from '../parse.js';

export const evaluateCommand: CommandModule = {
  name: 'evaluate',
  summary: 'score a model on data: metrics with confidence intervals, plots, an HTML report, a CI quality gate',
  examples: [
    'spotml evaluate out/model --data out/holdout.csv',
    'spotml evaluate out/cnn --data out/holdout.csv --frames out/holdout-frames',
    'spotml evaluate models:/instruments@champion --data test.csv --fail-under accuracy=0.9,f1_macro=0.85',
    'spotml --json evaluate out/candidate --data test.csv --baseline models:/instruments@champion --fail-if-worse',
  ],
  configure(command: Command): void {
    command
      .argument('[model]', 'a model package folder, models:/name@alias, models:/name/N, models:/name/<stage>, models:/name/latest or a run id')
      .option('-d, --data <table>', 'table to score (made by spotml extract with the model\'s settings, or plain features)')
      .option('--frames <dir>', 'the folder spotml extract --frames wrote for --data (needed when the model reads frame-level input, e.g. cnn)')
      .option('-t, --target <column>', 'the true-label column (default: the one the model was trained on)')
      .option('--fail-under <thresholds>', 'exit 1 when any metric misses its threshold, e.g. accuracy=0.9,f1_macro=0.85 (rmse<=… for lower-is-better)')
      .option('--baseline <model>', 'compare against this model on the same rows (McNemar exact / paired bootstrap)')
      .option('--fail-if-worse', 'exit 1 when the candidate is significantly worse than --baseline')
      .option('--report-dir <dir>', 'where to write report.html, metrics.json and the plots', 'out/report')
      .option('--no-importance', 'skip permutation feature importance')
      .option('--no-plots', 'skip the plots (metrics and report table only)')
      .option('--tracking-uri <uri>', 'MLflow store for registry references and run logging (default $MLFLOW_TRACKING_URI or ./mlruns)')
      .option('--no-track', 'log no run (by default each evaluation is its own run: a child of the model\'s training run when it is in the store, else in the spotml-evaluate experiment)')
      .option('--tenant <name>', 'tenant namespace for registry references')
      .option('--key-file <file>', 'key for encrypted registry artifacts (default $SPOTML_MODEL_KEY)');
  },
  async run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number> {
    const { ui } = context;
    const modelRef = await context.require(args[0], '<model>', 'Model to evaluate (folder or models:/name@alias):');
    const data = await context.require(textOption(options, 'data'), '--data', 'Table to score:');
    const stores = openStores({ trackingUri: textOption(options, 'trackingUri'), tenant: textOption(options, 'tenant') });
    const keyFile = textOption(options, 'keyFile');
    const model = await resolveModel(modelRef, stores, { keyFile });
    const baselineRef = textOption(options, 'baseline');
    let baseline: Awaited<ReturnType<typeof resolveModel>> | undefined;
    // The verified (maybe decrypted) copies live in private temp folders: removed however evaluate ends.
    try {
      if (baselineRef) baseline = await resolveModel(baselineRef, stores, { keyFile });
      // Loaded on use: the report stack (vega, resvg) is heavy and other commands should not pay for it.
      const { evaluate } = await import('../../api/evaluate.js');
      const { formatEvaluationSummary } = await import('../../report/terminal.js');
      const result = await evaluate({
        modelDir: model.dir,
        modelRef,
        data,
        framesDir: textOption(options, 'frames'),
        target: textOption(options, 'target'),
        failUnder: textOption(options, 'failUnder'),
        baselineDir: baseline?.dir,
        baselineRef,
        failIfWorse: Boolean(options.failIfWorse),
        reportDir: String(options.reportDir),
        importance: options.importance !== false,
        plots: options.plots !== false,
        seed: context.seed ?? 0,
        store: options.track === false ? undefined : stores.tracking,
      });
      // With --json the one document on stdout carries the gate's failure too (a second error document would make
      // stdout unparseable); the exit code still says it failed.
      const failure = ui.json && result.failure ? result.failure.toJSON().error : undefined;
      const run = result.run;
      ui.result(
        {
          ...result.summary,
          report: result.reportPath,
          loggedToRun: result.loggedToRun,
          experimentId: run?.experimentId ?? null,
          parentRunId: run?.parentRunId ?? null,
          passed: result.failure === null,
          error: failure,
        },
        () => {
          const summary = formatEvaluationSummary(
            { evaluation: result.evaluation, intervals: result.document.intervals, gate: result.gate ?? undefined, comparison: result.comparison ?? undefined, reportPath: result.reportPath },
            ui.color,
          );
          if (!run) return summary;
          const where = run.parentRunId ? `child of training run ${run.parentRunId}` : `experiment ${run.experimentId}`;
          return `${summary}\n${ui.color.dim(`logged to run ${run.runId} (${where})`)}`;
        },
      );
      if (result.failure && ui.json) return result.failure.exitCode;
      if (result.failure) throw result.failure;
      return 0;
    } finally {
      await model.dispose();
      await baseline?.dispose();
    }
  },
};
