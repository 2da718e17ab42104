/** asSpotmlError: file system failures become one-line errors naming the path and the fix; the rest stay INTERNAL. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpotmlError, asSpotmlError } from '../../src/errors.js';

describe('asSpotmlError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spotml-errors-'));
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');

  it('names the path for a folder that cannot be made under a file (ENOTDIR) and a missing file (ENOENT)', async () => {
    const blocked = asSpotmlError(await mkdir(join(file, 'out'), { recursive: true }).catch((e: unknown) => e));
    expect(blocked.code).toBe('INVALID_INPUT');
    expect(blocked.message).toMatch(/a-file.* is a file where a folder was expected: choose another path$/);
    expect(blocked.message).not.toMatch(/\n/);
    const missing = asSpotmlError(await readFile(join(dir, 'nope.csv')).catch((e: unknown) => e));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toBe(`${join(dir, 'nope.csv')} does not exist: check the path`);
    expect(missing.details).toMatchObject({ errno: 'ENOENT', syscall: 'open' });
  });

  it('keeps SpotmlErrors and wraps anything else as INTERNAL', () => {
    const own = new SpotmlError('USAGE', 'x');
    expect(asSpotmlError(own)).toBe(own);
    const other = asSpotmlError(new TypeError('boom'));
    expect(other.code).toBe('INTERNAL');
    expect(other.message).toMatch(/unexpected error: boom/);
  });
});
