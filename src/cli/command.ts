import type { Command } from 'commander';
import type { CommandContext } from './context.js';

/**
 * One file per subcommand: static metadata plus `configure` (arguments, options) and `run`.
 * Help text and examples come from here, so they cannot drift from the code.
 */
export interface CommandModule {
  name: string;
  summary: string;
  examples: readonly string[];
  configure(command: Command): void;
  /** Returns the exit code (0 on success). */
  run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number>;
}
