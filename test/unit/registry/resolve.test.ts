/** Model references: every accepted spelling, and clear refusals. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseModelRef } from '../../../src/registry/resolve.js';

describe('parseModelRef', () => {
  it('reads models:/ aliases and versions, runs:/ URIs and bare run ids', () => {
    expect(parseModelRef('models:/genre@champion')).toEqual({ kind: 'alias', name: 'genre', alias: 'champion' });
    expect(parseModelRef('models:/genre/12')).toEqual({ kind: 'version', name: 'genre', version: 12 });
    expect(parseModelRef('runs:/0123456789abcdef0123456789abcdef/model')).toEqual({ kind: 'run', runId: '0123456789abcdef0123456789abcdef', path: 'model' });
    expect(parseModelRef('runs:/0123456789abcdef0123456789abcdef')).toEqual({ kind: 'run', runId: '0123456789abcdef0123456789abcdef', path: 'model' });
    expect(parseModelRef('0123456789abcdef0123456789abcdef')).toEqual({ kind: 'run', runId: '0123456789abcdef0123456789abcdef', path: 'model' });
  });

  it('takes an existing folder as a package folder', async () => {
    const dir = await mkdtemp(`${tmpdir()}/spotml-ref-`);
    expect(parseModelRef(dir)).toEqual({ kind: 'dir', dir });
  });

  it('refuses malformed references with the accepted forms', () => {
    expect(() => parseModelRef('models:/genre')).toThrow(/models:\/<name>@<alias>/);
    expect(() => parseModelRef('models:/genre/0')).toThrow(/models:\/<name>@<alias>/);
    expect(() => parseModelRef('models:/genre@')).toThrow(/models:\/<name>@<alias>/);
    expect(() => parseModelRef('/no/such/folder')).toThrow(/not a package folder/);
  });
});
