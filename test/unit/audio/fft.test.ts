import { describe, expect, it } from 'vitest';
import { RealFft } from '../../../src/audio/fft.js';
import { Framer } from '../../../src/audio/framing.js';

function naiveDft(x: Float64Array): { re: Float64Array; im: Float64Array } {
  const n = x.length;
  const re = new Float64Array(n / 2 + 1);
  const im = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) {
    for (let t = 0; t < n; t++) {
      re[k] += x[t] * Math.cos((2 * Math.PI * k * t) / n);
      im[k] -= x[t] * Math.sin((2 * Math.PI * k * t) / n);
    }
  }
  return { re, im };
}

describe('RealFft', () => {
  it.each([4, 8, 64, 2048])('matches a naive DFT for size %i (1e-9 relative)', (n) => {
    const x = new Float64Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      x[i] = s / 2 ** 30 - 1;
    }
    const fft = new RealFft(n);
    const re = new Float64Array(n / 2 + 1);
    const im = new Float64Array(n / 2 + 1);
    fft.forward(x, re, im);
    const ref = naiveDft(x);
    const scale = Math.sqrt(n);
    for (let k = 0; k <= n / 2; k++) {
      expect(Math.abs(re[k] - ref.re[k])).toBeLessThan(1e-9 * scale * 10);
      expect(Math.abs(im[k] - ref.im[k])).toBeLessThan(1e-9 * scale * 10);
    }
  });

  it('refuses sizes that are not powers of two', () => {
    expect(() => new RealFft(1000)).toThrow(/power of two/);
  });
});

describe('Framer', () => {
  function frames(signal: Float64Array, chunk: number, padMode: 'constant' | 'edge'): number[][] {
    const out: number[][] = [];
    const framer = new Framer({ frameLength: 8, hopLength: 3, padMode }, (f) => out.push(Array.from(f)));
    for (let i = 0; i < signal.length; i += chunk) framer.push(signal.subarray(i, i + chunk));
    framer.end();
    return out;
  }

  it('gives librosa centring (1 + n // hop frames) whatever the chunking', () => {
    const signal = Float64Array.from({ length: 23 }, (_, i) => i + 1);
    const whole = frames(signal, 1000, 'constant');
    expect(whole.length).toBe(1 + Math.floor(23 / 3));
    // Frame 0 is 4 zeros then the first 4 samples.
    expect(whole[0]).toEqual([0, 0, 0, 0, 1, 2, 3, 4]);
    for (const chunk of [1, 2, 5, 7]) expect(frames(signal, chunk, 'constant')).toEqual(whole);
    const edge = frames(signal, 4, 'edge');
    expect(edge[0]).toEqual([1, 1, 1, 1, 1, 2, 3, 4]);
    // Last frame t=7 starts at padded index 21, i.e. sample 18 (1-based), and runs past the end into edge padding.
    expect(edge[edge.length - 1]).toEqual([18, 19, 20, 21, 22, 23, 23, 23]);
  });
});
