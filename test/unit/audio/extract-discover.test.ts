import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { discoverAudio, displayPath, globToRegExp, loadLabels, type AudioFile } from '../../../src/audio/discover.js';
import { SpotmlError } from '../../../src/errors.js';

let root: string;

const layout = [
  'genres/blues/b1.wav',
  'genres/blues/b2.WAV',
  'genres/rock/r1.wav',
  'genres/rock/deep/r2.wave',
  'genres/rock/notes.txt',
  'genres/rock/song.mp3',
  'genres/.hidden/h.wav',
  'genres/rock/._r1.wav',
  'other/o1.wav',
  'other/[x]/odd.wav',
];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'spotml-discover-'));
  for (const rel of layout) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), 'x');
  }
  symlinkSync(join(root, 'other'), join(root, 'genres', 'link-to-other'));
  symlinkSync(join(root, 'other', 'o1.wav'), join(root, 'genres', 'o1-link.wav'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const paths = (files: readonly AudioFile[]): string[] => files.map((f) => f.path);

describe('discoverAudio', () => {
  it('walks folders recursively: .wav/.wave in any case, hidden entries and non-WAV skipped, file symlinks followed', async () => {
    const found = await discoverAudio(['genres'], { cwd: root });
    expect(paths(found.files)).toEqual([
      'genres/blues/b1.wav',
      'genres/blues/b2.WAV',
      'genres/o1-link.wav',
      'genres/rock/deep/r2.wave',
      'genres/rock/r1.wav',
    ]);
    expect(found.skippedNonWav).toBe(2);
    expect(found.files[0].absolutePath).toBe(join(root, 'genres/blues/b1.wav'));
  });

  it('takes an explicit file whatever its extension (it then fails to decode and is reported)', async () => {
    const found = await discoverAudio(['genres/rock/notes.txt'], { cwd: root });
    expect(paths(found.files)).toEqual(['genres/rock/notes.txt']);
  });

  it('expands globs: * within a folder, ** across folders, braces and classes', async () => {
    expect(paths((await discoverAudio(['genres/*/*.wav'], { cwd: root })).files)).toEqual(['genres/blues/b1.wav', 'genres/rock/r1.wav']);
    expect(paths((await discoverAudio(['genres/**/*.wav'], { cwd: root })).files)).toEqual([
      'genres/blues/b1.wav',
      'genres/o1-link.wav',
      'genres/rock/r1.wav',
    ]);
    expect(paths((await discoverAudio(['genres/**/*.{wav,wave,WAV}'], { cwd: root })).files)).toEqual([
      'genres/blues/b1.wav',
      'genres/blues/b2.WAV',
      'genres/o1-link.wav',
      'genres/rock/deep/r2.wave',
      'genres/rock/r1.wav',
    ]);
    expect(paths((await discoverAudio(['genres/blues/b[!1].*'], { cwd: root })).files)).toEqual(['genres/blues/b2.WAV']);
    expect(paths((await discoverAudio([join(root, 'other', '?1.wav')], { cwd: '/' })).files)).toEqual([`${root}/other/o1.wav`.slice(1)]);
  });

  it('a glob naming hidden entries finds them; one matching nothing is reported, not fatal', async () => {
    expect(paths((await discoverAudio(['genres/.hidden/*.wav'], { cwd: root })).files)).toEqual(['genres/.hidden/h.wav']);
    const found = await discoverAudio(['genres/**/*.flac', 'other'], { cwd: root });
    expect(found.emptyGlobs).toEqual(['genres/**/*.flac']);
    expect(paths(found.files)).toEqual(['other/[x]/odd.wav', 'other/o1.wav']);
  });

  it('an existing path with glob characters is taken literally', async () => {
    expect(paths((await discoverAudio(['other/[x]/odd.wav'], { cwd: root })).files)).toEqual(['other/[x]/odd.wav']);
  });

  it('de-duplicates overlapping inputs and sorts by path whatever the input order', async () => {
    const a = await discoverAudio(['other/o1.wav', 'genres/rock', 'other', 'genres/rock/r1.wav'], { cwd: root });
    const b = await discoverAudio(['genres/rock/r1.wav', 'other', 'genres/rock'], { cwd: root });
    expect(paths(a.files)).toEqual(paths(b.files));
    expect(paths(a.files)).toEqual(['genres/rock/deep/r2.wave', 'genres/rock/r1.wav', 'other/[x]/odd.wav', 'other/o1.wav']);
  });

  it('a missing input is NOT_FOUND naming it', async () => {
    const err = await discoverAudio(['nope/here.wav'], { cwd: root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpotmlError);
    expect((err as SpotmlError).code).toBe('NOT_FOUND');
    expect((err as SpotmlError).message).toContain('nope/here.wav');
  });

  it('displays paths relative to cwd, absolute outside it', () => {
    expect(displayPath('/a/b/c.wav', '/a')).toBe('b/c.wav');
    expect(displayPath('/x/c.wav', '/a')).toBe('/x/c.wav');
  });
});

describe('globToRegExp', () => {
  it('agrees with a naive matcher on * and ? over random paths (property)', () => {
    // Independent reference: recursive backtracking matcher for * and ? that never crosses '/'.
    const naive = (p: string, s: string): boolean => {
      if (p === '') return s === '';
      if (p[0] === '*') return naive(p.slice(1), s) || (s !== '' && s[0] !== '/' && naive(p, s.slice(1)));
      if (s === '') return false;
      if (p[0] === '?') return s[0] !== '/' && naive(p.slice(1), s.slice(1));
      return p[0] === s[0] && naive(p.slice(1), s.slice(1));
    };
    const alphabet = fc.constantFrom('a', 'b', '/', '.');
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', '/', '.', '*', '?'), { maxLength: 8 }).map((a) => a.join('')),
        fc.array(alphabet, { maxLength: 10 }).map((a) => a.join('')),
        (pattern, subject) => {
          if (pattern.includes('**')) return;
          expect(globToRegExp(pattern).test(subject)).toBe(naive(pattern, subject));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('** matches zero or more folders', () => {
    const re = globToRegExp('a/**/b.wav');
    expect(re.test('a/b.wav')).toBe(true);
    expect(re.test('a/x/y/b.wav')).toBe(true);
    expect(re.test('ab.wav')).toBe(false);
    expect(globToRegExp('**').test('x/y/z')).toBe(true);
  });

  it('escapes regex characters', () => {
    expect(globToRegExp('a+b(1).wav').test('a+b(1).wav')).toBe(true);
    expect(globToRegExp('a.wav').test('aXwav')).toBe(false);
  });
});

describe('labels', () => {
  const file = (rel: string): AudioFile => ({ absolutePath: join(root, rel), path: rel });

  it('from folders: the parent folder name', async () => {
    const labels = await loadLabels({ kind: 'dirs' });
    expect(labels.lookup(file('genres/rock/deep/r2.wave'))).toEqual({ label: 'deep' });
    expect(labels.lookup(file('genres/blues/b1.wav'))).toEqual({ label: 'blues' });
  });

  it('none: no lookup at all', async () => {
    expect((await loadLabels({ kind: 'none' })).lookup(file('other/o1.wav'))).toBeUndefined();
  });

  it('from CSV: relative to the CSV, absolute, trailing part, file name; quoted fields; ambiguity reported', async () => {
    const csv = join(root, 'meta', 'labels.csv');
    mkdirSync(join(root, 'meta'), { recursive: true });
    writeFileSync(
      csv,
      [
        'filename,fold,label',
        '../genres/blues/b1.wav,1,blues',
        `${join(root, 'genres/blues/b2.WAV')},1,"blues, slow"`,
        'rock/r1.wav,2,rock',
        'r2.wave,2,"deep ""rock"""',
        'a/o1.wav,3,x',
        'elsewhere/o1.wav,3,y',
        'misc/odd.wav,3,odd',
        'o1-link.wav,3,',
      ].join('\n'),
    );
    const labels = await loadLabels({ kind: 'csv', path: csv });
    expect(labels.lookup(file('genres/blues/b1.wav'))).toEqual({ label: 'blues' });
    expect(labels.lookup(file('genres/blues/b2.WAV'))).toEqual({ label: 'blues, slow' });
    expect(labels.lookup(file('genres/rock/r1.wav'))).toEqual({ label: 'rock' });
    expect(labels.lookup(file('genres/rock/deep/r2.wave'))).toEqual({ label: 'deep "rock"' });
    expect(labels.lookup(file('other/[x]/odd.wav'))).toEqual({ label: 'odd' });
    expect(labels.lookup(file('other/o1.wav'))).toEqual({ error: expect.stringMatching(/files named "o1.wav" with different labels/) });
    // An empty label cell gives no label.
    expect(labels.lookup(file('genres/o1-link.wav'))).toEqual({ error: expect.stringMatching(/no label for it in/) });
  });

  it('from CSV: picks columns by name (ESC-50: category before target), by position for two columns, or as given', async () => {
    const esc = join(root, 'esc.csv');
    writeFileSync(esc, 'filename,fold,target,category\nb1.wav,1,0,dog\n');
    expect((await loadLabels({ kind: 'csv', path: esc })).lookup(file('genres/blues/b1.wav'))).toEqual({ label: 'dog' });
    expect((await loadLabels({ kind: 'csv', path: esc, labelColumn: 'target' })).lookup(file('genres/blues/b1.wav'))).toEqual({ label: '0' });
    const two = join(root, 'two.csv');
    writeFileSync(two, 'wav,genre_name\nb1.wav,jazz\n');
    expect((await loadLabels({ kind: 'csv', path: two })).lookup(file('genres/blues/b1.wav'))).toEqual({ label: 'jazz' });
  });

  it('from CSV: unknown columns and missing files are clear errors', async () => {
    const three = join(root, 'three.csv');
    writeFileSync(three, 'a,b,c\n1,2,3\n');
    await expect(loadLabels({ kind: 'csv', path: three })).rejects.toThrow(/--path-column/);
    await expect(loadLabels({ kind: 'csv', path: three, pathColumn: 'a', labelColumn: 'zz' })).rejects.toThrow(/--label-column zz is not a column/);
    await expect(loadLabels({ kind: 'csv', path: join(root, 'none.csv') })).rejects.toThrow(/--labels/);
  });
});
