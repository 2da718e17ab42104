/**
 * Search spaces: float (uniform or log), int (step, log), categorical, each optionally conditional on
 * another parameter's value. Families declare theirs in their param tables (`ParamSpec.search`);
 * `tune` can also read YAML spaces.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { SpotmlError } from '../errors.js';
import type { LearnerFamily, ParamValue } from '../learners/types.js';

export type Distribution =
  | { kind: 'float'; low: number; high: number; log: boolean; step?: number }
  | { kind: 'int'; low: number; high: number; log: boolean; step: number }
  | { kind: 'categorical'; choices: readonly ParamValue[] };

export interface Condition {
  /** The parameter this one depends on. */
  param: string;
  /** Active when that parameter takes one of these values. */
  in: readonly ParamValue[];
}

export interface SpaceEntry {
  distribution: Distribution;
  condition?: Condition;
}

export type SearchSpace = Readonly<Record<string, SpaceEntry>>;

/** The space a family declares in its constraint table (entries with `search: false` are left at their default). */
export function spaceFromFamily(family: LearnerFamily): SearchSpace {
  const space: Record<string, SpaceEntry> = {};
  for (const [name, spec] of Object.entries(family.params)) {
    if (spec.search === false || spec.search === undefined) continue;
    if (spec.type === 'int' || spec.type === 'float') {
      const range = typeof spec.search === 'object' ? spec.search : { low: spec.low, high: spec.high, log: spec.log };
      const log = Boolean((range as { log?: boolean }).log);
      space[name] =
        spec.type === 'int'
          ? { distribution: { kind: 'int', low: range.low, high: range.high, log, step: 1 } }
          : { distribution: { kind: 'float', low: range.low, high: range.high, log } };
    } else if (spec.type === 'categorical') {
      const choices = Array.isArray(spec.search) ? spec.search : spec.choices;
      space[name] = { distribution: { kind: 'categorical', choices } };
    } else {
      space[name] = { distribution: { kind: 'categorical', choices: [false, true] } };
    }
  }
  return space;
}

/** True when the entry's condition holds for the params chosen so far. */
export function isActive(entry: SpaceEntry, params: Readonly<Record<string, ParamValue>>): boolean {
  if (!entry.condition) return true;
  const value = params[entry.condition.param];
  return value !== undefined && entry.condition.in.includes(value);
}

/** Orders entries so a parameter comes after the one it depends on. */
export function orderedEntries(space: SearchSpace): [string, SpaceEntry][] {
  const entries = Object.entries(space);
  const done = new Set<string>();
  const out: [string, SpaceEntry][] = [];
  let progress = true;
  while (out.length < entries.length && progress) {
    progress = false;
    for (const [name, entry] of entries) {
      if (done.has(name)) continue;
      if (!entry.condition || done.has(entry.condition.param)) {
        out.push([name, entry]);
        done.add(name);
        progress = true;
      }
    }
  }
  if (out.length < entries.length) {
    const missing = entries.filter(([n]) => !done.has(n)).map(([n]) => n);
    throw new SpotmlError('INVALID_INPUT', `search space: conditions of ${missing.join(', ')} refer to unknown or cyclic parameters`, {});
  }
  return out;
}

/** Maps a numeric value into the sampler's internal space (log for log-scaled). */
export function toInternal(d: Extract<Distribution, { kind: 'float' | 'int' }>, value: number): number {
  return d.log ? Math.log(value) : value;
}

export function fromInternal(d: Extract<Distribution, { kind: 'float' | 'int' }>, x: number): number {
  let v = d.log ? Math.exp(x) : x;
  v = Math.min(d.high, Math.max(d.low, v));
  if (d.kind === 'int') {
    v = d.low + Math.round((v - d.low) / d.step) * d.step;
    v = Math.min(d.high, Math.max(d.low, v));
  } else if (d.step !== undefined) {
    v = d.low + Math.round((v - d.low) / d.step) * d.step;
  }
  return v;
}

export function internalBounds(d: Extract<Distribution, { kind: 'float' | 'int' }>): [number, number] {
  if (d.log) {
    if (d.low <= 0) throw new SpotmlError('INVALID_INPUT', `a log-scaled range needs low > 0, got ${d.low}`, {});
    // Widen integer bounds by half a step so the end values are as likely as the others.
    if (d.kind === 'float') return [Math.log(d.low), Math.log(d.high)];
    const low = d.low - 0.5 * d.step;
    return [Math.log(low > 0 ? low : d.low), Math.log(d.high + 0.5 * d.step)];
  }
  return d.kind === 'int' ? [d.low - 0.5 * d.step, d.high + 0.5 * d.step] : [d.low, d.high];
}

// ---------------------------------------------------------------------------------------------------------
// YAML spaces

/** A space read from YAML: the search space, params held fixed, and the family it was written for. */
export interface SpaceFile {
  family: string | null;
  space: SearchSpace;
  fixed: Record<string, ParamValue>;
  source: string;
}

const SPACE_KEYS = new Set(['family', 'params', 'fixed', 'description']);
const ENTRY_KEYS = new Set(['type', 'low', 'high', 'log', 'step', 'choices', 'condition', 'description']);

/** The folder of the default spaces shipped with spotml (`configs/spaces/`, beside src/ and dist/). */
export function defaultSpacesDir(): string {
  return fileURLToPath(new URL('../../configs/spaces/', import.meta.url));
}

export function defaultSpacePath(family: string): string {
  return join(defaultSpacesDir(), `${family}.yaml`);
}

export function loadSpaceFile(path: string): SpaceFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new SpotmlError('NOT_FOUND', `search space ${path} cannot be read: check the --space path`, { file: path, flag: '--space' });
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new SpotmlError('INVALID_INPUT', `search space ${path} is not valid YAML (${reason}): fix the syntax`, { file: path });
  }
  return parseSpace(data, path);
}

/** Validates a parsed YAML space; every problem is an error naming the file, the parameter and the fix. */
export function parseSpace(data: unknown, source: string): SpaceFile {
  const fail = (where: string, message: string): never => {
    throw new SpotmlError('INVALID_INPUT', `search space ${source}: ${where}${message}`, { file: source });
  };
  if (!isRecord(data)) return fail('', 'must be a mapping with a "params" section (see configs/spaces/ for examples)');
  for (const key of Object.keys(data)) {
    if (!SPACE_KEYS.has(key)) fail('', `unknown key "${key}"; expected family, params, fixed, description`);
  }
  const family = data.family === undefined || data.family === null ? null : String(data.family);
  if (!isRecord(data.params) || Object.keys(data.params).length === 0) fail('', '"params" must map at least one parameter name to its range');
  const space: Record<string, SpaceEntry> = {};
  for (const [name, raw] of Object.entries(data.params as Record<string, unknown>)) {
    space[name] = parseEntry(name, raw, (message) => fail(`params.${name}: `, message));
  }
  for (const [name, entry] of Object.entries(space)) {
    if (!entry.condition) continue;
    const parent = space[entry.condition.param];
    if (!parent) fail(`params.${name}: `, `condition refers to "${entry.condition.param}", which is not in params`);
    if (parent.distribution.kind !== 'categorical') fail(`params.${name}: `, `condition parameter "${entry.condition.param}" must be categorical`);
    const choices = (parent.distribution as { choices: readonly ParamValue[] }).choices;
    for (const value of entry.condition.in) {
      if (!choices.includes(value)) fail(`params.${name}: `, `condition value ${JSON.stringify(value)} is not a choice of "${entry.condition.param}" (${choices.join(', ')})`);
    }
  }
  orderedEntries(space);
  const fixed: Record<string, ParamValue> = {};
  if (data.fixed !== undefined && data.fixed !== null) {
    if (!isRecord(data.fixed)) fail('', '"fixed" must map parameter names to values');
    for (const [name, value] of Object.entries(data.fixed as Record<string, unknown>)) {
      if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean') fail(`fixed.${name}: `, 'must be a number, string or boolean');
      if (name in space) fail(`fixed.${name}: `, 'is also in params; keep it in one of the two');
      fixed[name] = value as ParamValue;
    }
  }
  return { family, space, fixed, source };
}

function parseEntry(name: string, raw: unknown, fail: (message: string) => never): SpaceEntry {
  if (!isRecord(raw)) return fail('must be a mapping such as {type: float, low: 0.01, high: 1, log: true}');
  for (const key of Object.keys(raw)) {
    if (!ENTRY_KEYS.has(key)) fail(`unknown key "${key}"; expected type, low, high, log, step, choices, condition`);
  }
  const type = raw.type ?? (raw.choices !== undefined ? 'categorical' : undefined);
  let distribution: Distribution;
  if (type === 'categorical') {
    if (!Array.isArray(raw.choices) || raw.choices.length === 0) return fail('a categorical needs a non-empty "choices" list');
    const choices = raw.choices as unknown[];
    for (const c of choices) if (typeof c !== 'number' && typeof c !== 'string' && typeof c !== 'boolean') fail('choices must be numbers, strings or booleans');
    if (new Set(choices).size !== choices.length) fail('choices must be distinct');
    for (const key of ['low', 'high', 'log', 'step']) if (raw[key] !== undefined) fail(`"${key}" does not apply to a categorical`);
    distribution = { kind: 'categorical', choices: choices as ParamValue[] };
  } else if (type === 'float' || type === 'int') {
    if (raw.choices !== undefined) fail(`"choices" does not apply to ${type}; use type: categorical`);
    const low = raw.low;
    const high = raw.high;
    if (typeof low !== 'number' || !Number.isFinite(low) || typeof high !== 'number' || !Number.isFinite(high)) {
      return fail('needs numeric "low" and "high"');
    }
    if (!(low <= high)) fail(`low (${low}) must not exceed high (${high})`);
    if (raw.log !== undefined && typeof raw.log !== 'boolean') fail('"log" must be true or false');
    const log = raw.log === true;
    if (log && low <= 0) fail(`a log-scaled range needs low > 0, got ${low}`);
    if (raw.step !== undefined && (typeof raw.step !== 'number' || !(raw.step > 0))) fail('"step" must be a positive number');
    const step = raw.step as number | undefined;
    if (type === 'int') {
      if (!Number.isInteger(low) || !Number.isInteger(high)) fail('an int range needs whole-number low and high');
      if (step !== undefined && !Number.isInteger(step)) fail('an int step must be a whole number');
      const s = step ?? 1;
      if (log && s !== 1) fail('a log-scaled int range cannot have a step other than 1');
      if ((high - low) % s !== 0) fail(`high - low (${high - low}) must be a multiple of step ${s}`);
      distribution = { kind: 'int', low, high, log, step: s };
    } else {
      if (log && step !== undefined) fail('a log-scaled float range cannot have a step');
      if (step !== undefined && Math.abs(Math.round((high - low) / step) * step - (high - low)) > 1e-9 * Math.max(1, Math.abs(high))) {
        fail(`high - low (${high - low}) must be a multiple of step ${step}`);
      }
      distribution = step === undefined ? { kind: 'float', low, high, log } : { kind: 'float', low, high, log, step };
    }
  } else {
    return fail(`"type" must be float, int or categorical, got ${JSON.stringify(type)}`);
  }
  let condition: Condition | undefined;
  if (raw.condition !== undefined) {
    const c = raw.condition;
    if (!isRecord(c) || typeof c.param !== 'string') return fail('condition must be {param: <name>, in: [values]}');
    const values = Array.isArray(c.in) ? (c.in as unknown[]) : [c.in];
    if (values.length === 0 || values.some((v) => typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean')) {
      fail('condition "in" must list the parent values that switch this parameter on');
    }
    if (c.param === name) fail('a parameter cannot be conditional on itself');
    condition = { param: c.param, in: values as ParamValue[] };
  }
  return condition ? { distribution, condition } : { distribution };
}

/**
 * Checks a space against a family's constraint table: known names, matching types, ranges inside the
 * allowed bounds, choices the family accepts. Errors name the parameter and the allowed values.
 */
export function checkSpaceForFamily(file: SpaceFile, family: LearnerFamily): SpaceFile {
  const fail = (name: string, message: string): never => {
    throw new SpotmlError('INVALID_INPUT', `search space ${file.source}: ${name}: ${message}`, { file: file.source, family: family.name });
  };
  if (file.family !== null && file.family !== family.name) {
    fail('family', `the space is for "${file.family}" but --model is "${family.name}"; pass a space written for ${family.name}`);
  }
  const known = Object.keys(family.params);
  const check = (name: string, values: readonly ParamValue[], range?: { low: number; high: number; int: boolean }): void => {
    const spec = family.params[name];
    if (!spec) fail(name, `${family.name} has no such parameter (known: ${known.join(', ')})`);
    if (spec.type === 'int' || spec.type === 'float') {
      if (range) {
        if (spec.type === 'int' && !range.int) fail(name, `${family.name}.${name} is an int; use type: int`);
        if (range.low < spec.low || range.high > spec.high) fail(name, `range [${range.low}, ${range.high}] leaves the allowed [${spec.low}, ${spec.high}]`);
      }
      for (const v of values) {
        if (typeof v !== 'number' || v < spec.low || v > spec.high || (spec.type === 'int' && !Number.isInteger(v))) {
          fail(name, `value ${JSON.stringify(v)} is not a${spec.type === 'int' ? ' whole' : ''} number in [${spec.low}, ${spec.high}]`);
        }
      }
    } else if (spec.type === 'categorical') {
      if (range) fail(name, `${family.name}.${name} is categorical; use choices: [${spec.choices.join(', ')}]`);
      for (const v of values) if (!spec.choices.includes(String(v))) fail(name, `choice ${JSON.stringify(v)} is not one of ${spec.choices.join(', ')}`);
    } else {
      if (range) fail(name, `${family.name}.${name} is a boolean; use choices: [false, true]`);
      for (const v of values) if (typeof v !== 'boolean') fail(name, `choice ${JSON.stringify(v)} must be true or false`);
    }
  };
  for (const [name, entry] of Object.entries(file.space)) {
    const d = entry.distribution;
    if (d.kind === 'categorical') check(name, d.choices);
    else check(name, [], { low: d.low, high: d.high, int: d.kind === 'int' });
  }
  for (const [name, value] of Object.entries(file.fixed)) check(name, [value]);
  // YAML reads `0.5` as a number; string-valued family choices want the text.
  const asText = (name: string, v: ParamValue): ParamValue => (family.params[name]?.type === 'categorical' ? String(v) : v);
  const space: Record<string, SpaceEntry> = {};
  for (const [name, entry] of Object.entries(file.space)) {
    const d = entry.distribution;
    const distribution: Distribution = d.kind === 'categorical' ? { kind: 'categorical', choices: d.choices.map((v) => asText(name, v)) } : d;
    const condition = entry.condition ? { param: entry.condition.param, in: entry.condition.in.map((v) => asText(entry.condition!.param, v)) } : undefined;
    space[name] = condition ? { distribution, condition } : { distribution };
  }
  const fixed = Object.fromEntries(Object.entries(file.fixed).map(([name, v]) => [name, asText(name, v)]));
  return { ...file, space, fixed };
}

/** The space for a family: the YAML file given, else the shipped `configs/spaces/<family>.yaml`, else its param table's. */
export function resolveSpace(family: LearnerFamily, path?: string): SpaceFile {
  if (path !== undefined) {
    return checkSpaceForFamily(loadSpaceFile(path), family);
  }
  const shipped = defaultSpacePath(family.name);
  if (existsSync(shipped)) {
    return checkSpaceForFamily(loadSpaceFile(shipped), family);
  }
  return { family: family.name, space: spaceFromFamily(family), fixed: {}, source: `${family.name} parameter table` };
}

/** A numeric range whose upper end `fitSpaceToRows` lowered to the training rows. */
export interface LoweredBound {
  param: string;
  high: number;
  lowered: number;
}

/**
 * The space with the upper end of every parameter its family marks `atMostTrainingRows` lowered to
 * `trainingRows` (the smallest training fold): values past the rows can only fail, so no trial is spent on
 * them. A range wholly above the rows is left as it is: its trials fail and say why.
 */
export function fitSpaceToRows(space: SearchSpace, family: LearnerFamily, trainingRows: number): { space: SearchSpace; lowered: LoweredBound[] } {
  const lowered: LoweredBound[] = [];
  const fitted: Record<string, SpaceEntry> = { ...space };
  const bounded = Object.entries(family.params).filter(([, spec]) => spec.type === 'int' && spec.atMostTrainingRows === true);
  for (const [name] of bounded) {
    const entry = space[name];
    const d = entry?.distribution;
    if (!d || d.kind === 'categorical' || d.high <= trainingRows || d.low > trainingRows) continue;
    // Stay on the range's grid: the largest low + k·step not above the rows.
    const step = d.step ?? 0;
    const high = step > 0 ? d.low + Math.floor((trainingRows - d.low) / step) * step : trainingRows;
    fitted[name] = { ...entry, distribution: { ...d, high } };
    lowered.push({ param: name, high: d.high, lowered: high });
  }
  return { space: fitted, lowered };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
