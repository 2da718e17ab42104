/**
 * The data hash a model package records (`model.json` dataHash, `models show`): the sha256 of the table
 * file's bytes, so train and tune name the same table by the same hash.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export async function tableDataHash(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
