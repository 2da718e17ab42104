/**
 * Worker-thread entry for `extract --jobs N`: runs the per-file pipeline for each task the pool sends.
 * Loaded as compiled JavaScript from dist/ (see runtime/pool.ts).
 */
import { serveTasks } from '../runtime/pool.js';
import { extractFile, type ExtractTask, type FileResult } from './extract.js';

serveTasks<ExtractTask, FileResult>(extractFile);
