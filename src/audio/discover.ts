/**
 * Which audio files `extract` reads, and their labels.
 *
 * Inputs (any mix):
 * - a file: taken as given, whatever its extension (a non-WAV file then fails to decode and is reported);
 * - a folder: every `.wav` / `.wave` file below it, recursively (case-insensitive extension);
 * - a glob (`*`, `**`, `?`, `[abc]`, `[!abc]`, `{a,b}`), used when no file or folder has that exact name:
 *   the `.wav` / `.wave` files it matches. `*` stays within one folder, `**` spans any number of them.
 * Folders and globs skip hidden entries (names starting with '.', e.g. macOS `._x.wav` AppleDouble files
 * or `.spotml-cache`) unless the pattern itself names them. Symbolic links to files are followed, to
 * folders are not (no cycles). A folder below an input that cannot be read (permissions) is skipped and
 * listed in `unreadableFolders`, so one locked subfolder never stops a run over the rest; an input folder
 * that cannot be read at all is an error. The result is de-duplicated and sorted by display path (code-point order),
 * so row order never depends on the file system or on parallelism. The display path is relative to the
 * working directory with '/' separators, or absolute for files outside it.
 *
 * Labels:
 * - from folders (`--labels-from-dirs`): the name of the folder holding the file (GTZAN/ESC layout
 *   `genres/blues/blues.00000.wav` → `blues`);
 * - from a CSV (`--labels labels.csv`): a header row, a path column and a label column (found by name,
 *   see PATH_COLUMNS / LABEL_COLUMNS, or given; a two-column file needs no names). A path is matched
 *   1) as a path: absolute, or relative to the CSV's folder; else 2) as the longest trailing part of
 *   the file's path (`blues/a.wav` matches `…/genres/blues/a.wav`; a bare `a.wav` matches any a.wav);
 *   else 3) by file name alone (`x/a.wav` in the CSV matches `…/y/a.wav`). A name or trailing part that
 *   the CSV gives two different labels is ambiguous and reported, never guessed.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SpotmlError } from '../errors.js';
import { parseCsvRecords } from '../data/table.js';

export interface AudioFile {
  /** Absolute path on this machine. */
  readonly absolutePath: string;
  /** Relative to the working directory with '/' separators (absolute outside it): the `path` column. */
  readonly path: string;
}

export interface Discovery {
  readonly files: readonly AudioFile[];
  /** Files inside input folders or glob matches that were skipped because they are not .wav. */
  readonly skippedNonWav: number;
  /** Globs that matched no .wav file. */
  readonly emptyGlobs: readonly string[];
  /** Input folders (as given) holding no .wav file: a typo or a wrong folder, worth a warning. */
  readonly emptyFolders: readonly string[];
  /** Folders below an input that could not be read, with why: their files are missing from the run. */
  readonly unreadableFolders: readonly { readonly path: string; readonly reason: string }[];
}

const WAV_EXTENSION = /\.wave?$/i;
const GLOB_MAGIC = /[*?[\]{}]/;

export function isWavName(name: string): boolean {
  return WAV_EXTENSION.test(name);
}

export function hasGlobMagic(pattern: string): boolean {
  return GLOB_MAGIC.test(pattern);
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

export function displayPath(absolutePath: string, cwd: string): string {
  const rel = relative(cwd, absolutePath);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return toPosix(absolutePath);
  return toPosix(rel);
}

/** Resolves inputs to a sorted list of audio files. A missing input that is not a glob is an error. */
export async function discoverAudio(inputs: readonly string[], options: { cwd?: string } = {}): Promise<Discovery> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const found = new Map<string, AudioFile>();
  let skippedNonWav = 0;
  const emptyGlobs: string[] = [];
  const emptyFolders: string[] = [];
  const unreadableFolders: { path: string; reason: string }[] = [];
  const onUnreadable = (folder: string, reason: string): void => {
    unreadableFolders.push({ path: displayPath(folder, cwd), reason });
  };
  const add = (absolutePath: string): void => {
    if (!found.has(absolutePath)) found.set(absolutePath, { absolutePath, path: displayPath(absolutePath, cwd) });
  };

  for (const input of inputs) {
    const absolute = resolve(cwd, input);
    const stats = await stat(absolute).catch(() => undefined);
    if (stats?.isFile()) {
      add(absolute);
    } else if (stats?.isDirectory()) {
      const walked = await walk(absolute, Number.POSITIVE_INFINITY, false, onUnreadable);
      let wavCount = 0;
      for (const file of walked) {
        if (isWavName(file)) {
          add(file);
          wavCount++;
        } else skippedNonWav++;
      }
      if (wavCount === 0) emptyFolders.push(input);
    } else if (hasGlobMagic(input)) {
      const matches = await expandGlob(input, cwd, onUnreadable);
      let wavCount = 0;
      for (const file of matches) {
        if (isWavName(file)) {
          add(file);
          wavCount++;
        } else skippedNonWav++;
      }
      if (wavCount === 0) emptyGlobs.push(input);
    } else {
      throw new SpotmlError('NOT_FOUND', `input ${input} does not exist: pass an existing .wav file, folder or glob`, { file: input });
    }
  }
  const files = [...found.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, skippedNonWav, emptyGlobs, emptyFolders, unreadableFolders };
}

type OnUnreadable = (folder: string, reason: string) => void;

const DENIED = new Set(['EACCES', 'EPERM']);

/**
 * Absolute paths of the files under `dir`, at most `maxDepth` folder levels down (1 = only `dir`).
 * `dir` itself must be readable; a subfolder that is not (permissions, or gone meanwhile) goes to
 * `onUnreadable` and the walk goes on.
 */
async function walk(dir: string, maxDepth: number, includeHidden: boolean, onUnreadable: OnUnreadable): Promise<string[]> {
  const out: string[] = [];
  const visit = async (folder: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (folder !== dir && (DENIED.has(code as string) || code === 'ENOENT')) {
        onUnreadable(folder, DENIED.has(code as string) ? 'permission denied: make it readable (chmod +rx) to include its files' : 'removed during the search');
        return;
      }
      if (DENIED.has(code as string)) {
        throw new SpotmlError('INVALID_INPUT', `folder ${folder} cannot be read: permission denied: make it readable (chmod +rx) or pass another folder`, { file: folder });
      }
      throw err;
    }
    for (const entry of entries) {
      if (!includeHidden && entry.name.startsWith('.')) continue;
      const full = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (depth > 1) await visit(full, depth - 1);
      } else if (entry.isFile()) {
        out.push(full);
      } else if (entry.isSymbolicLink()) {
        const target = await stat(full).catch(() => undefined);
        if (target?.isFile()) out.push(full);
      }
    }
  };
  await visit(dir, maxDepth);
  return out;
}

/** Files matching a glob, as absolute paths. */
export async function expandGlob(pattern: string, cwd: string, onUnreadable: OnUnreadable = () => undefined): Promise<string[]> {
  const absolutePattern = toPosix(isAbsolute(pattern) ? pattern : join(cwd, pattern));
  const segments = absolutePattern.split('/');
  const firstMagic = segments.findIndex((s) => hasGlobMagic(s));
  if (firstMagic < 0) return [];
  const base = segments.slice(0, firstMagic).join('/') || '/';
  const rest = segments.slice(firstMagic);
  const baseStats = await stat(base).catch(() => undefined);
  if (!baseStats?.isDirectory()) return [];
  const maxDepth = rest.includes('**') ? Number.POSITIVE_INFINITY : rest.length;
  const includeHidden = rest.some((s) => s.startsWith('.'));
  const matcher = globToRegExp(rest.join('/'));
  const files = await walk(base, maxDepth, includeHidden, onUnreadable);
  return files.filter((file) => matcher.test(toPosix(relative(base, file))));
}

/** Compiles a '/'-separated glob to an anchored RegExp over '/'-separated relative paths. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  const segments = glob.split('/');
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '**') {
      // Zero or more whole folders; as the last segment, anything below.
      source += last ? '.*' : '(?:[^/]*/)*';
      return;
    }
    source += segmentToRegExp(segment);
    if (!last) source += '/';
  });
  return new RegExp(`^${source}$`);
}

function segmentToRegExp(segment: string): string {
  let out = '';
  let inBraces = false;
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = close;
    } else if (c === '{' && !inBraces) {
      inBraces = true;
      out += '(?:';
    } else if (c === '}' && inBraces) {
      inBraces = false;
      out += ')';
    } else if (c === ',' && inBraces) out += '|';
    else out += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  if (inBraces) throw new SpotmlError('USAGE', `glob ${segment} has an unclosed "{": close it or quote the brace`, { pattern: segment });
  return out;
}

// ---------------------------------------------------------------- labels

export type LabelSource =
  | { kind: 'none' }
  | { kind: 'dirs' }
  | { kind: 'csv'; path: string; pathColumn?: string; labelColumn?: string };

export type LabelLookup = { label: string } | { error: string };

export interface LabelResolver {
  readonly source: LabelSource;
  /** undefined when labels are off; otherwise a label or the reason there is none. */
  lookup(file: AudioFile): LabelLookup | undefined;
}

/** Header names tried, in order, when the path column is not given. */
export const PATH_COLUMNS = ['path', 'file', 'filename', 'file_name', 'fname', 'filepath', 'slice_file_name'];
/** Header names tried, in order, when the label column is not given (category before target: ESC-50). */
export const LABEL_COLUMNS = ['label', 'class', 'category', 'genre', 'target', 'y'];

export function labelFromFolder(file: AudioFile): string {
  return basename(dirname(file.absolutePath));
}

export async function loadLabels(source: LabelSource): Promise<LabelResolver> {
  if (source.kind === 'none') return { source, lookup: () => undefined };
  if (source.kind === 'dirs') return { source, lookup: (file) => ({ label: labelFromFolder(file) }) };
  return csvLabels(source);
}

const AMBIGUOUS = Symbol('ambiguous');

async function csvLabels(source: Extract<LabelSource, { kind: 'csv' }>): Promise<LabelResolver> {
  const csvPath = resolve(source.path);
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch {
    throw new SpotmlError('NOT_FOUND', `labels file ${source.path} cannot be read: check the --labels path`, { file: source.path, flag: '--labels' });
  }
  const records = parseCsvRecords(text, source.path);
  if (records.length < 2) throw new SpotmlError('INVALID_INPUT', `labels file ${source.path} has no rows: expected a header and one row per file`, { file: source.path });
  const header = records[0].map((h) => h.trim());
  const pathIndex = pickColumn(header, source.pathColumn, PATH_COLUMNS, 0, '--path-column', source.path, 'path');
  const labelIndex = pickColumn(header, source.labelColumn, LABEL_COLUMNS, 1, '--label-column', source.path, 'label');

  const byAbsolute = new Map<string, string | typeof AMBIGUOUS>();
  const byTrailing = new Map<string, string | typeof AMBIGUOUS>();
  const byBasename = new Map<string, string | typeof AMBIGUOUS>();
  const put = (map: Map<string, string | typeof AMBIGUOUS>, key: string, label: string): void => {
    const existing = map.get(key);
    map.set(key, existing === undefined || existing === label ? label : AMBIGUOUS);
  };
  const csvFolder = dirname(csvPath);
  records.slice(1).forEach((record) => {
    const rawPath = (record[pathIndex] ?? '').trim().replace(/\\/g, '/');
    const label = (record[labelIndex] ?? '').trim();
    if (rawPath === '' || label === '') return;
    put(byAbsolute, resolve(csvFolder, rawPath), label);
    if (!isAbsolute(rawPath)) put(byTrailing, normaliseRelative(rawPath), label);
    put(byBasename, basename(rawPath), label);
  });

  const lookup = (file: AudioFile): LabelLookup => {
    const direct = byAbsolute.get(file.absolutePath);
    if (direct === AMBIGUOUS) return { error: `${source.path} gives ${file.path} more than one label` };
    if (direct !== undefined) return { label: direct };
    const parts = toPosix(file.absolutePath).split('/').filter((p) => p !== '');
    for (let start = 0; start < parts.length; start++) {
      const key = parts.slice(start).join('/');
      const hit = byTrailing.get(key);
      if (hit === AMBIGUOUS) return { error: `${source.path} lists "${key}" with different labels; give full paths` };
      if (hit !== undefined) return { label: hit };
    }
    const byName = byBasename.get(basename(file.absolutePath));
    if (byName === AMBIGUOUS) return { error: `${source.path} lists files named "${basename(file.absolutePath)}" with different labels; give paths that tell them apart` };
    if (byName !== undefined) return { label: byName };
    return { error: `no label for it in ${source.path}` };
  };
  return { source, lookup };
}

function normaliseRelative(path: string): string {
  return path
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

function pickColumn(
  header: readonly string[],
  given: string | undefined,
  candidates: readonly string[],
  twoColumnIndex: number,
  flag: string,
  file: string,
  what: string,
): number {
  if (given !== undefined) {
    const index = header.indexOf(given);
    if (index < 0) throw new SpotmlError('USAGE', `${flag} ${given} is not a column of ${file} (columns: ${header.join(', ')})`, { flag, file });
    return index;
  }
  const lower = header.map((h) => h.toLowerCase());
  for (const name of candidates) {
    const index = lower.indexOf(name);
    if (index >= 0) return index;
  }
  if (header.length === 2) return twoColumnIndex;
  throw new SpotmlError(
    'USAGE',
    `cannot tell which column of ${file} holds the ${what} (columns: ${header.join(', ')}): pass ${flag} <name>`,
    { flag, file },
  );
}
