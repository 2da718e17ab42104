/**
 * What a big, messy folder does to extract: inputs the user cannot read (a locked file or subfolder, a
 * folder named x.wav) are reported per file or per folder and never stop the run, and the terminal
 * progress line stays short enough not to wrap (a wrapped line is left behind at every redraw).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pcm16MonoWav } from '../../helpers/wav-writer.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

// readdir fails with EACCES on folders named "locked": as root (CI containers) chmod 000 would not stop it.
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const readdir = (async (path: Parameters<typeof actual.readdir>[0], options?: unknown) => {
    if (String(path).endsWith('/locked')) throw Object.assign(new Error(`EACCES: permission denied, scandir '${String(path)}'`), { code: 'EACCES', path: String(path) });
    return (actual.readdir as (p: unknown, o?: unknown) => Promise<unknown>)(path, options);
  }) as typeof actual.readdir;
  return { ...actual, readdir };
});

const { discoverAudio } = await import('../../../src/audio/discover.js');
const { extractFile, fileSystemReason } = await import('../../../src/audio/extract.js');
const { resolveSettings, specHash } = await import('../../../src/audio/feature-spec.js');
const { main } = await import('../../../src/cli/main.js');
const { SpotmlError } = await import('../../../src/errors.js');

let root: string;

function toneWav(seconds: number, sampleRate = 22050): Uint8Array {
  const n = Math.round(seconds * sampleRate);
  return pcm16MonoWav(Float64Array.from({ length: n }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)), sampleRate);
}

function put(rel: string, data: Uint8Array | string): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), data);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'spotml-extract-scale-'));
  put('set/dog/a clip with spaces.wav', toneWav(0.3));
  put('set/dog/ñandú_音.wav', toneWav(0.25));
  put('set/cat/c1.wav', toneWav(0.3));
  put('set/cat/locked/hidden-from-us.wav', toneWav(0.3));
  put('set/cat/not-audio.wav', 'plain text, not a RIFF file');
  mkdirSync(join(root, 'set', 'cat', 'folder.wav'), { recursive: true });
  mkdirSync(join(root, 'empty', 'sub'), { recursive: true });
  put('empty/sub/readme.txt', 'no audio here');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('discovery over a messy tree', () => {
  it('an unreadable subfolder is skipped and listed, the rest of the run goes on', async () => {
    const found = await discoverAudio(['set'], { cwd: root });
    expect(found.files.map((f) => f.path)).toEqual(['set/cat/c1.wav', 'set/cat/not-audio.wav', 'set/dog/a clip with spaces.wav', 'set/dog/ñandú_音.wav']);
    expect(found.unreadableFolders).toEqual([{ path: 'set/cat/locked', reason: expect.stringContaining('permission denied') as string }]);
    // A glob walks the same way.
    const globbed = await discoverAudio(['set/**/*.wav'], { cwd: root });
    expect(globbed.files).toHaveLength(4);
    expect(globbed.unreadableFolders.map((f) => f.path)).toEqual(['set/cat/locked']);
  });

  it('an input folder that cannot be read at all is an error naming it and the fix', async () => {
    const error = await discoverAudio(['set/cat/locked'], { cwd: root }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpotmlError);
    expect((error as InstanceType<typeof SpotmlError>).message).toMatch(/set\/cat\/locked cannot be read: permission denied: make it readable/);
  });

  it('input folders holding no .wav file are listed (a typo or the wrong folder), a folder named x.wav included', async () => {
    const found = await discoverAudio(['set/dog', 'empty', 'set/cat/folder.wav'], { cwd: root });
    expect(found.files).toHaveLength(2);
    expect(found.emptyFolders).toEqual(['empty', 'set/cat/folder.wav']);
    expect(found.skippedNonWav).toBe(1);
  });

  it('the same file named twice (glob, folder, ./ and absolute spellings) gives one entry', async () => {
    const found = await discoverAudio(['set/dog/*.wav', 'set/dog', './set/dog/ñandú_音.wav', join(root, 'set/dog/ñandú_音.wav')], { cwd: root });
    expect(found.files.map((f) => f.path)).toEqual(['set/dog/a clip with spaces.wav', 'set/dog/ñandú_音.wav']);
  });
});

describe('per-file failures an input can cause are the input\'s problem, not internal errors', () => {
  it('errno codes map to a code and a one-line reason with the fix', () => {
    const errno = (code: string): Error => Object.assign(new Error(`${code}: something, open '/x.wav'`), { code });
    expect(fileSystemReason(errno('EACCES'))).toEqual({ code: 'INVALID_INPUT', reason: expect.stringMatching(/^permission denied: make the file readable/) as string });
    expect(fileSystemReason(errno('EPERM'))?.code).toBe('INVALID_INPUT');
    expect(fileSystemReason(errno('EISDIR'))?.reason).toMatch(/is a folder, not a file/);
    expect(fileSystemReason(errno('ENOENT'))?.code).toBe('NOT_FOUND');
    expect(fileSystemReason(errno('EIO'))?.code).toBe('DECODE');
    expect(fileSystemReason(new Error('something else'))).toBeUndefined();
    expect(fileSystemReason(null)).toBeUndefined();
  });

  it('a folder where a file is expected fails that file with a reason (no "internal error")', async () => {
    const settings = resolveSettings({ features: ['rms'] });
    const result = await extractFile({
      absolutePath: join(root, 'set', 'cat', 'folder.wav'),
      path: 'set/cat/folder.wav',
      settings,
      specHash: specHash(settings),
      framesDir: null,
      cacheDir: null,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('INVALID_INPUT');
    expect(result.reason).toMatch(/^is a folder, not a file/);
  });
});

class FakeTerminal extends Writable {
  readonly isTTY = true;
  readonly columns = 80;
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

describe('the progress line on an 80-column terminal', () => {
  const savedCi = process.env.CI;
  afterEach(() => {
    if (savedCi === undefined) delete process.env.CI;
    else process.env.CI = savedCi;
  });

  it('every redraw fits in one line (no wrap, so nothing is left behind) and counts the failures', async () => {
    delete process.env.CI;
    const stderr = new FakeTerminal();
    const stdout = new FakeTerminal();
    // Outside the working directory, so the paths are long absolute ones (as the old detail printed them).
    const code = await main(['node', 'spotml', 'extract', join(root, 'set'), '--out', join(root, 'out', 'features.csv'), '--features', 'rms', '--jobs', '1', '--no-cache'], {
      stderr,
      stdout,
      stdinIsTTY: true,
    });
    expect(code).toBe(0);
    const frames = stderr.text
      .split('\r')
      .map((f) => f.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''))
      .filter((f) => f.startsWith('extract '));
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) expect(frame.length).toBeLessThan(80);
    expect(frames.at(-1)).toMatch(/4\/4 files · [\d.]+\/s · ETA \S+ · 1 failed$/);
    expect(frames[0]).toMatch(/ · 0\.00 h audio$/);
  });
});

describe('extract() says what discovery skipped', () => {
  it('warns about a skipped subfolder and an empty input folder, and lists the skipped folder in its summary', async () => {
    const { extract } = await import('../../../src/api/extract.js');
    const warned: string[] = [];
    const summary = await extract({
      inputs: ['set', 'empty'],
      out: 'out/skipped.csv',
      cwd: root,
      jobs: 1,
      cache: false,
      settings: { features: ['rms'] },
      onWarning: (message) => warned.push(message),
    });
    expect(summary.unreadableFolders).toEqual([{ path: 'set/cat/locked', reason: expect.stringContaining('permission denied') as string }]);
    expect(warned).toContain('folder empty holds no .wav file');
    expect(warned.find((w) => w.startsWith('folder set/cat/locked skipped: permission denied'))).toBeDefined();
    expect(summary.files.ok).toBe(3);
  });
});
