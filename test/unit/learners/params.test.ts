/** `--param k=v` text → typed values: numbers, booleans and choices parse; anything else is a usage error naming it. */
import { describe, expect, it } from 'vitest';
import { SpotmlError } from '../../../src/errors.js';
import { parseParamValue } from '../../../src/learners/params.js';
import type { ParamSpec } from '../../../src/learners/types.js';

const INT: ParamSpec = { type: 'int', low: 1, high: 100, default: 10, description: '' };
const FLOAT: ParamSpec = { type: 'float', low: 0, high: 1, default: 0.1, description: '' };
const BOOL: ParamSpec = { type: 'bool', default: true, description: '' };
const CHOICE: ParamSpec = { type: 'categorical', choices: ['a', 'b'], default: 'a', description: '' };

function refusal(spec: ParamSpec, raw: string): SpotmlError {
  try {
    parseParamValue(spec, raw, 'learning_rate');
  } catch (err) {
    return err as SpotmlError;
  }
  throw new Error(`"${raw}" was accepted`);
}

describe('parseParamValue', () => {
  it('parses numbers, booleans and choices', () => {
    expect(parseParamValue(INT, '300')).toBe(300);
    expect(parseParamValue(FLOAT, ' 0.05 ')).toBe(0.05);
    expect(parseParamValue(FLOAT, '1e-3')).toBe(0.001);
    for (const t of ['true', 'TRUE', '1', 'yes']) expect(parseParamValue(BOOL, t)).toBe(true);
    for (const f of ['false', '0', 'no', 'No']) expect(parseParamValue(BOOL, f)).toBe(false);
    expect(parseParamValue(CHOICE, 'b')).toBe('b');
  });

  it('refuses text that is not of the type (it used to become NaN, 0 or false)', () => {
    for (const [spec, raw] of [
      [FLOAT, 'abc'],
      [FLOAT, ''],
      [INT, '  '],
      [FLOAT, 'Infinity'],
      [BOOL, 'maybe'],
    ] as const) {
      const err = refusal(spec, raw);
      expect(err).toBeInstanceOf(SpotmlError);
      expect(err.code).toBe('USAGE');
      expect(err.message).toMatch(/^--param learning_rate=.*: expected /);
    }
  });
});
