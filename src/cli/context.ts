import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { input } from '@inquirer/prompts';
import { SpotmlError } from '../errors.js';
import type { Ui } from './ui/index.js';

/** What every subcommand receives besides its own options: output, seed and the prompt helper. */
export interface CommandContext {
  ui: Ui;
  seed: number | undefined;
  /** Asks for a missing required value on a TTY; in CI (or with --json) it is a usage error naming the flag. */
  require(value: string | undefined, flag: string, question: string): Promise<string>;
}

export function makeContext(ui: Ui, seed: number | undefined): CommandContext {
  return {
    ui,
    seed,
    async require(value, flag, question) {
      if (value !== undefined && value !== '') return value;
      if (!ui.interactive) {
        // A positional argument (<table>) is given as a value in its place, an option (--target) with its flag.
        const how = flag.startsWith('<') ? `give ${flag} as an argument` : `pass ${flag} <value>`;
        throw new SpotmlError('USAGE', `missing ${flag}: ${how} (no prompt without a terminal; see --help)`, { flag });
      }
      const answer = await input({ message: question, required: true });
      return answer.trim();
    },
  };
}

/** Reads a --config YAML file. Sections are keyed by subcommand; top-level scalars apply to all. */
export function loadConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new SpotmlError('NOT_FOUND', `config file ${path} cannot be read: check the --config path`, { file: path });
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new SpotmlError('INVALID_INPUT', `config file ${path} is not valid YAML (${reason}): fix the syntax`, { file: path });
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new SpotmlError('INVALID_INPUT', `config file ${path} must hold a mapping of option names to values`, { file: path });
  }
  return data as Record<string, unknown>;
}

/** Converts kebab-case (or snake_case) config keys to commander's camelCase attribute names. */
export function camelCase(key: string): string {
  return key.replace(/[-_]([a-z])/g, (_m, c: string) => c.toUpperCase());
}
