import type { CommandModule } from '../command.js';
import { extractCommand } from './extract.js';
import { trainCommand } from './train.js';
import { tuneCommand } from './tune.js';

/** The subcommands that really work, in the order of the pipeline. */
export const COMMANDS: readonly CommandModule[] = [extractCommand, trainCommand, tuneCommand];
