import { describe, expect, it } from 'vitest';
import { LabelEncoder } from '../../../src/learners/label-encoder.js';
import { SpotmlError } from '../../../src/errors.js';

describe('LabelEncoder', () => {
  it('sorts string classes by code point, as scikit-learn (numpy) does', () => {
    const encoder = LabelEncoder.fit(['setosa', 'Virginica', 'versicolor', 'setosa', 'b', 'B']);
    expect(encoder.classes).toEqual(['B', 'Virginica', 'b', 'setosa', 'versicolor']);
    expect(Array.from(encoder.encode(['setosa', 'B', 'versicolor']))).toEqual([3, 0, 4]);
  });

  it('sorts numeric classes numerically, not as text', () => {
    const encoder = LabelEncoder.fit([10, 2, -1, 2, 10]);
    expect(encoder.classes).toEqual([-1, 2, 10]);
    expect(encoder.decode([2, 0, 1])).toEqual([10, -1, 2]);
  });

  it('round-trips through JSON', () => {
    const encoder = LabelEncoder.fit(['x', 'y', 'z']);
    const again = LabelEncoder.fromJSON(JSON.parse(JSON.stringify(encoder.toJSON())));
    expect(again.classes).toEqual(encoder.classes);
    expect(again.encode(['z', 'x'])).toEqual(encoder.encode(['z', 'x']));
  });

  it('names unseen labels, mixed types, missing labels and bad indices', () => {
    const encoder = LabelEncoder.fit(['a', 'b']);
    expect(() => encoder.encode(['a', 'c'])).toThrow(/"c" in row 1 was not seen/);
    expect(() => LabelEncoder.fit(['a', 1])).toThrow(SpotmlError);
    expect(() => LabelEncoder.fit([1, NaN])).toThrow(/row 1/);
    expect(() => LabelEncoder.fit([])).toThrow(SpotmlError);
    expect(() => encoder.decode([2])).toThrow(/outside/);
  });
});
