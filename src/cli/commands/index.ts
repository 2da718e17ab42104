import type { CommandModule } from '../command.js';
import { extractCommand } from './extract.js';
import { trainCommand } from './train.js';
import { evaluateCommand } from './evaluate.js';
import { tuneCommand } from './tune.js';
import { registerCommand } from './register.js';
import { promoteCommand } from './promote.js';
import { modelsCommand } from './models.js';
import { serveCommand } from './serve.js';

/** The subcommands that really work, in the order of the pipeline. */
export const COMMANDS: readonly CommandModule[] = [extractCommand, trainCommand, evaluateCommand, tuneCommand, registerCommand, promoteCommand, modelsCommand, serveCommand];
