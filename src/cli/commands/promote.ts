/**
 * `spotml promote <model> --version N --alias champion` (or --stage): points an alias or stage at a version;
 * with --if-better only when it beats the current holder on --data. Not promoting exits 0 with
 * `promoted: false` and the reason: it is a valid outcome of a gated step, not a failure.
 * Parsing and printing only; the work is `promote()` in src/api/registry.ts.
 */
import type { Command } from 'commander';
import { promote, type PromoteResult } from '../../api/registry.js';
import { SpotmlError } from '../../errors.js';
import { MODEL_STAGES } from '../../registry/store.js';
import { openStores } from '../../tracking/open-store.js';
import type { CommandModule } from '../command.js';
import type { CommandContext } from '../context.js';
import { parseNumberOption, textOption } from '../parse.js';

export const promoteCommand: CommandModule = {
  name: 'promote',
  summary: 'point an alias (or stage) at a model version, optionally only if it beats the current holder',
  examples: [
    'spotml promote genre-classifier --version 3 --alias champion',
    'spotml promote genre-classifier --version 4 --alias champion --if-better --metric f1_macro --data holdout.csv',
    'spotml promote genre-classifier --version 4 --stage Production --archive-existing',
  ],
  configure(command: Command): void {
    command
      .argument('[model]', 'registered model name')
      .option('-v, --version <n>', 'the version to promote')
      .option('--alias <name>', 'alias to point at the version (e.g. champion)')
      .option('--stage <stage>', `deprecated MLflow stage instead of (or besides) an alias: ${MODEL_STAGES.filter((s) => s !== 'None').join('|')}`)
      .option('--archive-existing', 'with --stage Staging|Production: move the versions already there to Archived')
      .option('--if-better', 'promote only if the version is significantly better than the current holder on --data')
      .option('--data <table>', 'labelled table to compare on (with --if-better); a <table>.spec.json beside it is checked')
      .option('--metric <name>', 'metric to compare on (default accuracy, McNemar; or r2 for regression; others by paired bootstrap)')
      .option('--alpha <p>', 'significance level of the comparison', '0.05')
      .option('--key-file <file>', 'key for encrypted versions (default $SPOTML_MODEL_KEY)')
      .option('--tracking-uri <uri>', 'MLflow store: a path, file:…, or http(s):// for an MLflow server (default $MLFLOW_TRACKING_URI or ./mlruns)')
      .option('--tenant <name>', 'namespace experiments and models for one tenant');
  },
  async run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number> {
    const { ui } = context;
    const name = await context.require(args[0], '<model>', 'Registered model to promote:');
    const version = parseNumberOption('--version', await context.require(textOption(options, 'version'), '--version', 'Version to promote:'), true);
    const ifBetter = Boolean(options.ifBetter);
    const data = textOption(options, 'data');
    if (ifBetter && data === undefined) {
      throw new SpotmlError('USAGE', '--if-better needs --data <labelled table> to compare the versions on', { flag: '--data' });
    }
    const result = await promote({
      stores: openStores({ trackingUri: textOption(options, 'trackingUri'), tenant: textOption(options, 'tenant') }),
      name,
      version,
      alias: textOption(options, 'alias'),
      stage: textOption(options, 'stage'),
      archiveExisting: Boolean(options.archiveExisting),
      keyFile: textOption(options, 'keyFile'),
      ifBetter:
        ifBetter && data !== undefined
          ? { data, metric: textOption(options, 'metric'), alpha: parseNumberOption('--alpha', String(options.alpha)), seed: context.seed }
          : undefined,
    });
    ui.result(result, () => render(result, ui.color));
    return 0;
  },
};

function render(r: PromoteResult, color: { green: (s: string) => string; yellow: (s: string) => string }): string {
  const head = r.promoted ? color.green('promoted') : color.yellow('not promoted');
  const target = [r.alias !== null ? `@${r.alias}` : '', r.stage !== null ? `stage ${r.stage}` : ''].filter((s) => s !== '').join(' and ');
  // The reason starts with the outcome the head line already shows.
  const reason = r.reason.replace(/^(not )?promoted: /, '');
  return [`${head}  ${r.name} version ${r.version} → ${target} (before: ${r.previous === null ? 'none' : `version ${r.previous}`})`, `  ${reason}`].join('\n');
}
