/** Worker-thread entry for `tune --jobs N`: runs one cross-validation fold per task (compiled JS only). */
import { serveTasks } from '../runtime/pool.js';
import { type FoldResult, type FoldTask, runFold } from './tune-fold.js';

serveTasks<FoldTask, FoldResult>((task) => runFold(task));
