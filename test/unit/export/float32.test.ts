/**
 * The float32 threshold search: the result r is a float32, satisfies the predicate, and the next float32
 * above it does not (checked with an independent bit-stepping neighbour), for thresholds anywhere in the
 * double range and for the pipeline's scaling map.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { float32AtOrBelow, largestFloat32Where } from '../../../src/export/onnx/float32.js';

/** The next float32 above x (x a float32, not +∞). */
function nextFloat32Up(x: number): number {
  if (x === 0) return 1.401298464324817e-45;
  const f = new Float32Array([x]);
  const bits = new Int32Array(f.buffer);
  bits[0] += x > 0 ? 1 : -1;
  return f[0];
}

function expectLargest(r: number, goesLeft: (x: number) => boolean): void {
  expect(Math.fround(r)).toBe(r);
  if (r === -Infinity && !goesLeft(r)) return;
  expect(goesLeft(r)).toBe(true);
  if (r !== Infinity) expect(goesLeft(nextFloat32Up(r))).toBe(false);
}

describe('largestFloat32Where', () => {
  it('finds the float32 floor of any double threshold', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (t) => {
        const r = largestFloat32Where((x) => x <= t);
        expectLargest(r, (x) => x <= t);
        // −0 and +0 are the same threshold.
        expect(float32AtOrBelow(t) === r).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('handles the edges: infinities, zeros, float32 values themselves, the largest float32', () => {
    for (const t of [Infinity, -Infinity, 0, -0, 1, Math.fround(0.1), 0.1, 3.4028234663852886e38, 3.5e38, -3.5e38, 1e-46, -1e-46]) {
      expectLargest(largestFloat32Where((x) => x <= t), (x) => x <= t);
    }
    expect(float32AtOrBelow(Math.fround(0.1))).toBe(Math.fround(0.1));
    expect(float32AtOrBelow(0.1)).toBeLessThan(0.1);
  });

  it('inverts the standard scaling (x − mean) / scale exactly as computed in float64', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.double({ min: -50, max: 50, noNaN: true }),
        (mean, scale, t) => {
          const goesLeft = (x: number): boolean => (x - mean) / scale <= t;
          expectLargest(largestFloat32Where(goesLeft), goesLeft);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
