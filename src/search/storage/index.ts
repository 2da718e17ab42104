/**
 * Picks a study storage from `--storage`: nothing → the project's journal `.spotml/studies.jsonl`;
 * `postgresql://…` (or `postgres://…`) → PostgreSQL; a path or `file:` URL → that journal file.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JournalFileStorage } from './journal.js';
import { PostgresStudyStorage } from './postgres.js';
import type { StudyStorage } from './types.js';

export type { StudyStorage, StudyInfo, WorkerIdentity, ProposeFn, Proposal, CreateTrialOptions } from './types.js';
export { JournalFileStorage } from './journal.js';
export { PostgresStudyStorage } from './postgres.js';

export const DEFAULT_JOURNAL = join('.spotml', 'studies.jsonl');

export function openStudyStorage(uri: string | undefined, cwd: string = process.cwd()): StudyStorage {
  if (uri === undefined || uri === '') return new JournalFileStorage(resolve(cwd, DEFAULT_JOURNAL));
  if (/^postgres(ql)?:\/\//i.test(uri)) return new PostgresStudyStorage(uri);
  const path = uri.startsWith('file:') ? fileURLToPath(uri) : resolve(cwd, uri);
  if (existsSync(path) && statSync(path).isDirectory()) return new JournalFileStorage(join(path, 'studies.jsonl'));
  return new JournalFileStorage(path);
}
