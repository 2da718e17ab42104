import type { CommandModule } from '../command.js';
import { extractCommand } from './extract.js';

/** The subcommands that really work, in the order of the pipeline. */
export const COMMANDS: readonly CommandModule[] = [extractCommand];
