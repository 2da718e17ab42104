/**
 * `spotml models list | show <name> [--version N] | delete <name> --version N`: what is registered, one
 * version's lineage and integrity, and deleting a version (its number is never reused).
 * Parsing and printing only; the work is in src/api/registry.ts.
 */
import type { Command } from 'commander';
import { deleteVersion, listModels, showModel, type ModelSummary, type ShowResult, type VersionSummary } from '../../api/registry.js';
import { SpotmlError } from '../../errors.js';
import { openStores } from '../../tracking/open-store.js';
import type { CommandModule } from '../command.js';
import type { CommandContext } from '../context.js';
import { oneOf, parseNumberOption, textOption } from '../parse.js';
import { formatTable } from '../ui/index.js';

const ACTIONS = ['list', 'show', 'delete'] as const;

export const modelsCommand: CommandModule = {
  name: 'models',
  summary: 'list registered models, show a version with its lineage and integrity, or delete a version',
  examples: [
    'spotml models list',
    'spotml models show genre-classifier --version 3',
    'spotml --json models delete genre-classifier --version 2',
  ],
  configure(command: Command): void {
    command
      .argument('[action]', `one of ${ACTIONS.join(', ')}`, 'list')
      .argument('[name]', 'registered model name (show, delete)')
      .option('-v, --version <n>', 'the version to show or delete')
      .option('--force', 'delete a version even when it holds an alias or is in Production (its aliases go with it)')
      .option('--tracking-uri <uri>', 'MLflow store: a path, file:…, or http(s):// for an MLflow server (default $MLFLOW_TRACKING_URI or ./mlruns)')
      .option('--tenant <name>', 'namespace experiments and models for one tenant');
  },
  async run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number> {
    const { ui } = context;
    const action = oneOf('<action>', args[0] ?? 'list', ACTIONS);
    const stores = openStores({ trackingUri: textOption(options, 'trackingUri'), tenant: textOption(options, 'tenant') });
    const versionText = textOption(options, 'version');
    const version = versionText === undefined ? undefined : parseNumberOption('--version', versionText, true);
    if (action === 'list') {
      const models = await listModels(stores);
      ui.result({ models }, () => renderList(models));
      return 0;
    }
    const name = await context.require(args[1], '<name>', 'Registered model name:');
    if (action === 'show') {
      const shown = await showModel(stores, name, version);
      ui.result(shown, () => renderShow(shown));
      return shown.version !== null && !shown.version.integrity.ok ? 1 : 0;
    }
    if (version === undefined) throw new SpotmlError('USAGE', 'models delete needs --version <n> (deleting a whole model is not offered here)', { flag: '--version' });
    const deleted = await deleteVersion(stores, name, version, options.force === true);
    ui.result(deleted, () =>
      `deleted ${deleted.name} version ${deleted.version}${deleted.aliasesRemoved.length > 0 ? ` (removed aliases: ${deleted.aliasesRemoved.join(', ')})` : ''}; its number stays taken`,
    );
    return 0;
  },
};

function metricsText(v: VersionSummary): string {
  return Object.entries(v.metrics)
    .filter(([k]) => !k.endsWith('_std') && k !== 'trials')
    .map(([k, value]) => `${k} ${value.toFixed(4)}`)
    .join(', ');
}

function renderList(models: readonly ModelSummary[]): string {
  if (models.length === 0) return 'no registered models (register one with: spotml register <run id | folder> --name <model>)';
  const rows = models.flatMap((m) =>
    m.versions.map((v) => [m.name, String(v.version), v.aliases.map((a) => `@${a}`).join(' '), v.stage, metricsText(v), v.encrypted ? 'yes' : '', v.createdAt.slice(0, 19)]),
  );
  const empty = models.filter((m) => m.versions.length === 0).map((m) => [m.name, '-', '', '', '', '', m.createdAt.slice(0, 19)]);
  return formatTable(['model', 'version', 'aliases', 'stage', 'metrics', 'encrypted', 'created'], [...rows, ...empty]);
}

function renderShow(shown: ShowResult): string {
  const m = shown.model;
  const lines = [
    `model     ${m.name}${m.description ? ` — ${m.description}` : ''}`,
    `aliases   ${Object.entries(m.aliases).map(([a, v]) => `@${a} → ${v}`).join(', ') || 'none'}`,
    `versions  ${m.versions.map((v) => v.version).join(', ') || 'none'}`,
  ];
  const v = shown.version;
  if (v === null) return lines.join('\n');
  const l = v.lineage;
  lines.push(
    '',
    `version   ${v.version} (${v.stage}${v.aliases.length > 0 ? `, ${v.aliases.map((a) => `@${a}`).join(' ')}` : ''})`,
    `created   ${v.createdAt}`,
    `source    ${v.source}`,
    `run       ${l.runId ?? 'none'}${l.run ? ` (${l.run.runName}, ${l.run.status}, experiment ${l.run.experimentId})` : ''}`,
    `model     ${l.family ?? '?'} — ${l.task ?? '?'} of "${l.target ?? '?'}"`,
    `metrics   ${metricsText(v) || 'none recorded'}`,
    `data      sha256 ${l.dataHash ?? 'unknown'}`,
    `features  ${l.featureSpecHash ? `FeatureSpec ${l.featureSpecHash}` : 'plain table (no FeatureSpec)'}`,
    `encrypted ${v.encrypted ? v.tags['spotml.encryption'] : 'no'}`,
    `integrity ${v.integrity.ok ? 'ok' : 'FAILED'}: ${v.integrity.message}`,
  );
  if (l.aliasHistory === null) lines.push('history   (alias history is kept in the file store audit log only)');
  else if (l.aliasHistory.length === 0) lines.push('history   no alias or stage moves');
  else {
    lines.push('history');
    for (const e of l.aliasHistory) {
      const what = e.alias !== null ? `@${e.alias}` : 'stage';
      lines.push(`  ${e.time}  ${e.user}  ${what}: ${e.from ?? '-'} → ${e.to ?? '-'}`);
    }
  }
  return lines.join('\n');
}
