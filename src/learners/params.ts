/**
 * One constraint table per family validates params at `fit` (scikit-learn's _parameter_constraints),
 * bounds the search space and writes help. Unknown names and out-of-range values are one-line errors.
 */
import { SpotmlError } from '../errors.js';
import type { ParamSpec, ParamValue, Params } from './types.js';

export type ResolvedParams<T extends Record<string, ParamSpec>> = {
  [K in keyof T]: T[K] extends { type: 'int' | 'float' } ? number : T[K] extends { type: 'bool' } ? boolean : string;
};

export function defaultParams(table: Readonly<Record<string, ParamSpec>>): Params {
  return Object.fromEntries(Object.entries(table).map(([name, spec]) => [name, spec.default]));
}

/** Fills defaults and checks every given value against the table. */
export function resolveParams<T extends Record<string, ParamSpec>>(family: string, table: T, given: Params): ResolvedParams<T> {
  for (const name of Object.keys(given)) {
    if (!(name in table)) {
      throw new SpotmlError('USAGE', `${family} has no parameter "${name}"; known: ${Object.keys(table).join(', ')}`, {
        family,
        param: name,
      });
    }
  }
  const out: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(table)) {
    const value = name in given ? given[name] : spec.default;
    out[name] = checkValue(family, name, spec, value);
  }
  return out as ResolvedParams<T>;
}

/**
 * Parses a CLI `k=v` string value into the param's type; text that is not one (`learning_rate=abc`, an empty
 * number, `bootstrap=maybe`) is a usage error naming it. Ranges and choices are checked at fit (resolveParams).
 */
export function parseParamValue(spec: ParamSpec, raw: string, name = 'value'): ParamValue {
  const text = raw.trim();
  const refuse = (expected: string): never => {
    throw new SpotmlError('USAGE', `--param ${name}=${raw}: expected ${expected}`, { flag: '--param', param: name, value: raw });
  };
  switch (spec.type) {
    case 'int':
    case 'float': {
      const number = text === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(number)) refuse(spec.type === 'int' ? 'a whole number' : 'a number');
      return number;
    }
    case 'bool': {
      const lower = text.toLowerCase();
      if (['true', '1', 'yes'].includes(lower)) return true;
      if (['false', '0', 'no'].includes(lower)) return false;
      return refuse('true or false');
    }
    case 'categorical':
      return text;
  }
}

function checkValue(family: string, name: string, spec: ParamSpec, value: ParamValue): ParamValue {
  const fail = (expected: string): never => {
    throw new SpotmlError('USAGE', `${family} parameter ${name}=${String(value)} is invalid: expected ${expected}`, {
      family,
      param: name,
      value,
    });
  };
  switch (spec.type) {
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.low || value > spec.high) {
        fail(`an integer in [${spec.low}, ${spec.high}]`);
      }
      return value;
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < spec.low || value > spec.high) {
        fail(`a number in [${spec.low}, ${spec.high}]`);
      }
      return value;
    case 'bool':
      if (typeof value !== 'boolean') fail('true or false');
      return value;
    case 'categorical':
      if (typeof value !== 'string' || !spec.choices.includes(value)) fail(`one of ${spec.choices.join(', ')}`);
      return value;
  }
}
