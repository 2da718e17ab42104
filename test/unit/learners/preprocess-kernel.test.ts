import { describe, expect, it } from 'vitest';
import { Preprocessor, type PipelineOptions, type PreprocessorState } from '../../../src/learners/preprocess.js';
import { createMatrix, type Matrix } from '../../../src/data/matrix.js';
import { Rng } from '../../../src/learners/rng.js';
import { ReferencePreprocessor } from './preprocess-reference.js';

/** Bit patterns, so −0 and +0 (and NaN payloads) count as different. */
function bits(values: ArrayLike<number>): string[] {
  const view = new DataView(new ArrayBuffer(8));
  return Array.from(values, (v) => {
    view.setFloat64(0, v);
    return view.getBigUint64(0).toString(16);
  });
}

function expectSameState(actual: PreprocessorState, expected: PreprocessorState): void {
  expect(actual.nInputFeatures).toBe(expected.nInputFeatures);
  expect(actual.indicatorColumns).toEqual(expected.indicatorColumns);
  for (const key of ['medians', 'means', 'scales'] as const) {
    const a = actual[key];
    const e = expected[key];
    expect(a === null, key).toBe(e === null);
    if (a !== null && e !== null) expect(bits(a), key).toEqual(bits(e));
  }
}

type Generator = (rng: Rng, i: number, j: number) => number;

const generators: Record<string, Generator> = {
  normal: (rng) => rng.normal() * 3 + 1,
  ties: (rng) => Math.round(rng.normal() * 2),
  signedZeros: (rng) => (rng.next() < 0.5 ? (rng.next() < 0.5 ? -0 : 0) : Math.round(rng.normal())),
  constantColumns: (rng, _i, j) => (j % 2 === 0 ? 7 : rng.normal()),
  nanSprinkled: (rng, _i, j) => (rng.next() < 0.1 * (j + 1) ? NaN : rng.normal() * 1e-3 + 1e6),
  nanColumn: (rng, _i, j) => (j === 1 ? NaN : Math.exp(rng.normal() * 4)),
  outliers: (rng, i) => (i === 5 ? 1e300 : i === 9 ? -1e300 : rng.normal()),
};

function matrix(rows: number, cols: number, generator: Generator, seed: number): Matrix {
  const rng = new Rng(seed);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) data[i * cols + j] = generator(rng, i, j);
  return createMatrix(rows, cols, data);
}

const OPTIONS: Required<PipelineOptions>[] = [
  { impute: true, missingIndicator: false, scale: false },
  { impute: true, missingIndicator: false, scale: true },
  { impute: true, missingIndicator: true, scale: true },
  { impute: true, missingIndicator: true, scale: false },
  { impute: false, missingIndicator: false, scale: true },
];

describe('Preprocessor (WebAssembly kernels) against the previous JavaScript', () => {
  // Rows and columns around the kernel's boundaries: the bucketed median from 4096 values, the 4-column
  // unrolled statistics (tails of 1–3 columns), and the 32768-value staging blocks (3 columns → 10922 rows each).
  const shapes: [number, number][] = [
    [1, 1],
    [2, 3],
    [3, 5],
    [50, 4],
    [4095, 2],
    [4096, 3],
    [4097, 6],
    [8193, 1],
    [10923, 3],
    [5000, 7],
  ];
  for (const [name, generator] of Object.entries(generators)) {
    it(`fits and transforms bit-identically: ${name}`, () => {
      let seed = 1;
      for (const [rows, cols] of shapes) {
        const X = matrix(rows, cols, generator, seed++);
        const probe = matrix(Math.min(rows, 300), cols, generator, seed++);
        for (const options of OPTIONS) {
          const actual = Preprocessor.fit(X, options);
          const expected = ReferencePreprocessor.fit(X, options);
          expectSameState(actual.state, expected.state);
          for (const input of [X, probe]) {
            const out = actual.transform(input);
            const reference = expected.transform(input);
            expect([out.rows, out.cols]).toEqual([reference.rows, reference.cols]);
            expect(bits(out.data)).toEqual(bits(reference.data));
          }
        }
      }
    });
  }

  it('medians of columns with infinities equal the previous JavaScript (imputation only)', () => {
    const generator: Generator = (rng, i) => (i % 97 === 0 ? Infinity : i % 89 === 0 ? -Infinity : rng.normal());
    for (const rows of [100, 5000]) {
      const X = matrix(rows, 3, generator, rows);
      const options = OPTIONS[0];
      expectSameState(Preprocessor.fit(X, options).state, ReferencePreprocessor.fit(X, options).state);
    }
  });

  it('transform leaves its input untouched and returns a new matrix, or the input itself when nothing changes', () => {
    const X = matrix(40, 3, generators.nanSprinkled, 9);
    const before = bits(X.data);
    for (const options of OPTIONS) {
      const pre = Preprocessor.fit(X, options);
      const out = pre.transform(X);
      expect(out.data).not.toBe(X.data);
      expect(bits(X.data)).toEqual(before);
    }
    // Imputing only (no scaling, no indicator column) and nothing missing: no copy.
    const clean = matrix(40, 3, generators.normal, 10);
    for (const fitOn of [clean, X]) {
      const pre = Preprocessor.fit(fitOn, OPTIONS[0]);
      expect(pre.state.medians).not.toBeNull();
      expect(pre.transform(clean)).toBe(clean);
    }
    // One NaN in the query: a new, imputed matrix.
    const holed = matrix(40, 3, generators.normal, 10);
    holed.data[17] = Number.NaN;
    const imputed = Preprocessor.fit(clean, OPTIONS[0]).transform(holed);
    expect(imputed.data).not.toBe(holed.data);
    expect(Number.isNaN(holed.data[17])).toBe(true);
    expect(Number.isNaN(imputed.data[17])).toBe(false);
  });
});
