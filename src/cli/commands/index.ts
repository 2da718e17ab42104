import type { CommandModule } from '../command.js';

/** The subcommands that really work, in the order of the pipeline. */
export const COMMANDS: readonly CommandModule[] = [];
