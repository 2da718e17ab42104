/**
 * The front door: parse, resolve configuration (flags > SPOTML_* environment > --config file > defaults),
 * run one subcommand, print errors as one line (or JSON) and return an exit code. No ML logic here.
 */
import { Command, CommanderError, Option } from 'commander';
import { SPOTML_VERSION } from '../version.js';
import { SpotmlError, asSpotmlError } from '../errors.js';
import { Ui } from './ui/index.js';
import { camelCase, loadConfigFile, makeContext } from './context.js';
import { COMMANDS } from './commands/index.js';

interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  color?: boolean;
  seed?: string;
  config?: string;
}

export interface MainIo {
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  stdinIsTTY?: boolean;
}

export function buildProgram(io: MainIo = {}): { program: Command; ui: () => Ui } {
  let ui: Ui | undefined;
  const getUi = (opts: GlobalOptions = {}): Ui => {
    ui ??= new Ui({
      json: Boolean(opts.json),
      quiet: Boolean(opts.quiet),
      debug: Boolean(opts.debug),
      color: opts.color === false ? false : undefined,
      stdout: io.stdout,
      stderr: io.stderr,
      stdinIsTTY: io.stdinIsTTY,
    });
    return ui;
  };

  const program = new Command('spotml')
    .description('From a folder of audio to a served, versioned model.')
    .version(SPOTML_VERSION, '-V, --version', 'print the spotml version')
    .option('--json', 'print the result as JSON on stdout (logs stay on stderr)')
    .option('-q, --quiet', 'print nothing but errors and the result')
    .option('--debug', 'print stack traces for errors')
    .option('--no-color', 'disable colour (NO_COLOR is honoured too)')
    .addOption(new Option('--seed <n>', 'random seed for reproducible results').env('SPOTML_SEED'))
    .addOption(new Option('--config <file.yaml>', 'read options from a YAML file').env('SPOTML_CONFIG'))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => (io.stdout ?? process.stdout).write(s),
      writeErr: (s) => (io.stderr ?? process.stderr).write(s),
    });

  program.addHelpText(
    'after',
    `\nExamples:\n${COMMANDS.flatMap((c) => c.examples.slice(0, 1)).map((e) => `  $ ${e}`).join('\n')}\n`,
  );

  // Program options go before the subcommand; each subcommand accepts the same global options too, so
  // `spotml train … --json` works and a subcommand's own `--version N` (promote, models) is not taken
  // for spotml's version flag.
  program.enablePositionalOptions();
  for (const module of COMMANDS) {
    const command = program.command(module.name).description(module.summary).exitOverride();
    module.configure(command);
    addGlobalOptions(command);
    command.addHelpText('after', `\nExamples:\n${module.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    command.action(async (...actionArgs: unknown[]) => {
      const cmd = actionArgs[actionArgs.length - 1] as Command;
      const globals = mergeGlobals(program, cmd);
      const currentUi = getUi(globals);
      const config = globals.config ? loadConfigFile(globals.config) : {};
      if (globals.config) applyConfig(program, cmd, module.name, config, globals.config);
      // A seed in the config file counts when neither --seed nor SPOTML_SEED gave one.
      const configSeed = config.seed ?? (config[module.name] as Record<string, unknown> | undefined)?.seed;
      const seed = parseSeed(globals.seed ?? (configSeed === undefined ? undefined : String(configSeed)));
      const positional = cmd.args;
      const code = await module.run(makeContext(currentUi, seed), positional, cmd.opts());
      process.exitCode = code;
      exitCode = code;
    });
  }
  let exitCode = 0;
  return {
    program,
    ui: () => getUi(program.opts<GlobalOptions>()),
    get exitCode() {
      return exitCode;
    },
  } as { program: Command; ui: () => Ui; exitCode: number };
}

const GLOBAL_KEYS = ['json', 'quiet', 'debug', 'color', 'seed', 'config'] as const;

function addGlobalOptions(command: Command): void {
  const has = (flag: string): boolean => command.options.some((o) => o.long === flag);
  if (!has('--json')) command.option('--json', 'print the result as JSON on stdout (logs stay on stderr)');
  if (!has('--quiet')) command.option('-q, --quiet', 'print nothing but errors and the result');
  if (!has('--debug')) command.option('--debug', 'print stack traces for errors');
  if (!has('--no-color')) command.option('--no-color', 'disable colour (NO_COLOR is honoured too)');
  if (!has('--seed')) command.addOption(new Option('--seed <n>', 'random seed for reproducible results'));
  if (!has('--config')) command.addOption(new Option('--config <file.yaml>', 'read options from a YAML file'));
}

/** Global options given after the subcommand win over those before it (and over the environment). */
function mergeGlobals(program: Command, command: Command): GlobalOptions {
  const merged: Record<string, unknown> = { ...program.opts<GlobalOptions>() };
  const local = command.opts<Record<string, unknown>>();
  for (const key of GLOBAL_KEYS) {
    if (command.getOptionValueSource(key) === 'cli') merged[key] = local[key];
  }
  return merged as GlobalOptions;
}

function parseSeed(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) {
    throw new SpotmlError('USAGE', `--seed must be a whole number from 0 to 4294967295, got "${value}"`, { flag: '--seed' });
  }
  return seed;
}

/**
 * Config values fill options the user did not give on the command line or in the environment. A key no command
 * knows is refused (a typo would otherwise be ignored without a word); a top-level key that another command
 * knows is left to that command.
 */
function applyConfig(program: Command, command: Command, section: string, config: Record<string, unknown>, file: string): void {
  const commands = new Map(program.commands.map((c) => [c.name(), c]));
  const optionsOf = (c: Command): Set<string> => new Set(c.options.map((o) => o.attributeName()));
  const anyCommand = new Set([...commands.values()].flatMap((c) => [...optionsOf(c)]));
  for (const [key, value] of Object.entries(config)) {
    if (asRecord(value) !== undefined) {
      const sectionCommand = commands.get(key);
      if (sectionCommand === undefined) {
        throw new SpotmlError('USAGE', `config file ${file}: section "${key}" is not a spotml command; use one of ${[...commands.keys()].join(', ')}`, { file, key });
      }
      const unknown = Object.keys(asRecord(value) ?? {}).find((k) => !optionsOf(sectionCommand).has(camelCase(k)));
      if (unknown !== undefined) {
        throw new SpotmlError('USAGE', `config file ${file}: "${key}.${unknown}" is not an option of spotml ${key}; see spotml ${key} --help`, { file, key: `${key}.${unknown}` });
      }
    } else if (!anyCommand.has(camelCase(key))) {
      throw new SpotmlError('USAGE', `config file ${file}: "${key}" is not an option of any spotml command; check the spelling (see spotml <command> --help)`, { file, key });
    }
  }
  const scoped = { ...pickScalars(config), ...(asRecord(config[section]) ?? {}) };
  const known = new Map(command.options.map((o) => [o.attributeName(), o]));
  for (const [rawKey, value] of Object.entries(scoped)) {
    const key = camelCase(rawKey);
    const option = known.get(key);
    if (!option) continue; // a top-level key for other commands
    const source = command.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') continue;
    const normalised = Array.isArray(value) ? value.map(String) : typeof value === 'object' ? value : String(value);
    command.setOptionValueWithSource(key, option.isBoolean() ? Boolean(value) : normalised, 'config');
  }
}

function pickScalars(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v === null || typeof v !== 'object' || Array.isArray(v)));
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: readonly string[], io: MainIo = {}): Promise<number> {
  const built = buildProgram(io) as ReturnType<typeof buildProgram> & { exitCode: number };
  try {
    await built.program.parseAsync(argv as string[]);
    return built.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    const error = asSpotmlError(err);
    built.ui().error(error);
    return error.exitCode;
  }
}
