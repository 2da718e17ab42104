/** Checks shared by the tabular and the frame-level learner conformance suites. */
import { expect } from 'vitest';
import { SpotmlError } from '../../src/errors.js';
import { createMatrix, type Matrix } from '../../src/data/matrix.js';
import type { FittedModel, LearnerFamily, ParamSpec, Params, SerializedModel, TrainingData } from '../../src/learners/types.js';

export function withNaN(data: TrainingData, every: number): TrainingData {
  const X = data.X.data.slice();
  for (let i = 0; i < X.length; i += every) X[i] = NaN;
  return { ...data, X: createMatrix(data.X.rows, data.X.cols, X) };
}

export function rowOf(X: Matrix, i: number): Matrix {
  return createMatrix(1, X.cols, X.data.slice(i * X.cols, (i + 1) * X.cols));
}

export function roundTrip(model: FittedModel, load: (json: SerializedModel) => FittedModel): FittedModel {
  return load(JSON.parse(JSON.stringify(model.toJSON())) as SerializedModel);
}

export function expectValidProbabilities(proba: Matrix, rows: number, nClasses: number): void {
  expect(proba.rows).toBe(rows);
  expect(proba.cols).toBe(nClasses);
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let c = 0; c < nClasses; c++) {
      const p = proba.data[i * nClasses + c];
      expect(Number.isFinite(p)).toBe(true);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      sum += p;
    }
    expect(Math.abs(sum - 1)).toBeLessThanOrEqual(1e-9);
  }
}

export async function expectSpotmlError(action: () => unknown, pattern: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a SpotmlError').toBeInstanceOf(SpotmlError);
  const error = caught as SpotmlError;
  expect(['USAGE', 'INVALID_INPUT']).toContain(error.code);
  expect(error.message).toMatch(pattern);
  expect(error.message).not.toContain('\n');
}

/** A value just outside the first bounded param's range (or an unknown choice). */
export function outOfRange(family: LearnerFamily): Params | null {
  for (const [name, spec] of Object.entries(family.params) as [string, ParamSpec][]) {
    if (spec.type === 'int') return { [name]: spec.high + 1 };
    if (spec.type === 'float') return { [name]: 2 * spec.high + 1 };
    if (spec.type === 'categorical') return { [name]: 'no-such-choice' };
  }
  return null;
}

/** A float64's bits as hex, so equality is bitwise (-0 ≠ 0, NaN = NaN). */
export function bits(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return view.getBigUint64(0).toString(16);
}
