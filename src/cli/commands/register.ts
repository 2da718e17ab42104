/**
 * `spotml register <run-id | runs:/id/path | model-dir> --name <model>`: the next version of a registered
 * model, with sha256 checksums of every artifact (and AES-256-GCM encryption with --encrypt).
 * Parsing and printing only; the work is `register()` in src/api/registry.ts.
 */
import type { Command } from 'commander';
import { DEFAULT_REGISTER_EXPERIMENT, register, type RegisterResult } from '../../api/registry.js';
import { KEY_ENV } from '../../registry/crypto.js';
import { openStores } from '../../tracking/open-store.js';
import type { CommandModule } from '../command.js';
import type { CommandContext } from '../context.js';
import { collectOption, parseKeyValues, textOption } from '../parse.js';

export const registerCommand: CommandModule = {
  name: 'register',
  summary: 'register a trained model (run id or package folder) as the next version of a named model',
  examples: [
    'spotml register out/model --name genre-classifier --tags team=audio --description "first cut"',
    'spotml register 3f9c0a7e5b2d4c1e8a6f9b0c2d4e6f80 --name genre-classifier',
    `${KEY_ENV}=$(cat model.key) spotml register out/model --name genre-classifier --encrypt`,
  ],
  configure(command: Command): void {
    command
      .argument('[source]', 'a run id (its "model" artifact), runs:/<run id>/<path>, or a package folder (train --out)')
      .option('-n, --name <model>', 'registered model name (created on first use; no "/", "\\" or "%")')
      .option('--tags <key=value>', 'version tags, comma-separated or repeated (the "spotml." prefix is reserved)', collectOption)
      .option('--description <text>', 'description of this version')
      .option('--encrypt', `store the artifacts encrypted with AES-256-GCM (key from $${KEY_ENV} or --key-file)`)
      .option('--key-file <file>', 'file holding the 32-byte key (base64, hex or raw); wins over the environment')
      .option('--experiment <name>', 'experiment for the run that holds a registered folder', DEFAULT_REGISTER_EXPERIMENT)
      .option('--tracking-uri <uri>', 'MLflow store: a path, file:…, or http(s):// for an MLflow server (default $MLFLOW_TRACKING_URI or ./mlruns)')
      .option('--tenant <name>', 'namespace experiments and models for one tenant');
  },
  async run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number> {
    const { ui } = context;
    const source = await context.require(args[0], '<source>', 'Run id or model folder to register:');
    const name = await context.require(textOption(options, 'name'), '--name', 'Registered model name:');
    const stores = openStores({ trackingUri: textOption(options, 'trackingUri'), tenant: textOption(options, 'tenant') });
    const result = await register({
      stores,
      source,
      name,
      tags: parseKeyValues('--tags', options.tags as string[] | undefined),
      description: textOption(options, 'description'),
      encrypt: Boolean(options.encrypt),
      keyFile: textOption(options, 'keyFile'),
      experiment: textOption(options, 'experiment'),
    });
    ui.result(result, () => render(result, ui.color.bold));
    return 0;
  },
};

function render(r: RegisterResult, bold: (s: string) => string): string {
  return [
    `${bold('registered')}  ${r.name} version ${r.version}${r.createdModel ? ' (new model)' : ''}`,
    `${bold('source')}      ${r.source}`,
    `${bold('run')}         ${r.runId}`,
    `${bold('checksums')}   ${r.files.length} file(s), manifest sha256 ${r.checksumsSha256}`,
    `${bold('encrypted')}   ${r.encrypted ? `AES-256-GCM, key ${r.keyId}` : 'no'}`,
    `use it as models:/${r.name}/${r.version}; promote with: spotml promote ${r.name} --version ${r.version} --alias champion`,
  ].join('\n');
}
