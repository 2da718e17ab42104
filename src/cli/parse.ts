/** Option-value parsers shared by the subcommands: each error names the flag and what it wants. */
import { SpotmlError } from '../errors.js';

export function parseNumberOption(flag: string, value: string, integer = false): number {
  const trimmed = value.trim();
  const number = trimmed === '' ? Number.NaN : Number(trimmed);
  if (!Number.isFinite(number) || (integer && !Number.isInteger(number))) {
    throw new SpotmlError('USAGE', `${flag} must be ${integer ? 'a whole number' : 'a number'}, got "${value}"`, { flag });
  }
  return number;
}

/** A number above zero (a budget, a count of jobs or trials): 0 and negatives are refused with the flag named. */
export function parsePositiveOption(flag: string, value: string, integer = false): number {
  const number = parseNumberOption(flag, value, integer);
  if (number <= 0) throw new SpotmlError('USAGE', `${flag} must be above 0, got "${value}"`, { flag });
  return number;
}

/** "a,b, c" (or a YAML list from --config) → ["a","b","c"]; "all" → every allowed value. */
export function parseListOption(value: unknown, all: readonly string[]): string[] | undefined {
  if (value === undefined) return undefined;
  const parts = Array.isArray(value) ? value.map(String) : [String(value)];
  const items = parts.flatMap((part) => part.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  return items.length === 1 && items[0] === 'all' ? [...all] : items;
}

/** parseListOption for a flag that, when given, must name at least one item. */
export function parseNonEmptyListOption(flag: string, value: unknown, all: readonly string[]): string[] | undefined {
  const items = parseListOption(value, all);
  if (items !== undefined && items.length === 0) throw new SpotmlError('USAGE', `${flag} is empty: name at least one (or "all")`, { flag });
  return items;
}

/** Commander collector for repeatable options. */
export function collectOption(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function textOption(options: Record<string, unknown>, key: string): string | undefined {
  const value = options[key];
  return typeof value === 'string' ? value : undefined;
}

/** ["k=v", "a=b"] → {k: "v", a: "b"}; a missing "=" is an error naming the flag. */
export function parseKeyValues(flag: string, items: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    for (const part of item.split(',').filter((p) => p.trim() !== '')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new SpotmlError('USAGE', `${flag} takes key=value pairs, got "${part}"`, { flag });
      out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
  }
  return out;
}

export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new SpotmlError('USAGE', `${flag} must be one of ${allowed.join(', ')}, got "${value}"`, { flag });
  }
  return value as T;
}
