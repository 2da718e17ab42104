/** The progress bar never wraps: a wrapped line leaves a copy behind at every redraw. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fitToColumns, Ui } from '../../../src/cli/ui/index.js';

const visibleLength = (text: string): number => [...text.replace(/\x1b\[[0-9;]*m/g, '')].length;

class FakeTerminal extends Writable {
  readonly isTTY = true;
  readonly frames: string[] = [];
  constructor(readonly columns: number) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.frames.push(chunk.toString());
    done();
  }
}

describe('progress lines', () => {
  it('cut to the visible width, colour escapes kept whole and not counted, astral characters whole', () => {
    expect(fitToColumns('abcdef', 4)).toBe('abcd\x1b[0m');
    expect(fitToColumns('\x1b[36mab\x1b[39mcd', 3)).toBe('\x1b[36mab\x1b[39mc\x1b[0m');
    expect(fitToColumns('ab', 5)).toBe('ab');
    expect(fitToColumns('a😀b😀', 3)).toBe('a😀b\x1b[0m');
  });

  it('every frame fits an 80-column terminal, and a pty that reports 0 columns still shows rate and ETA', () => {
    const previousCi = process.env.CI;
    delete process.env.CI;
    try {
      for (const columns of [80, 0]) {
        const terminal = new FakeTerminal(columns);
        const ui = new Ui({ json: false, quiet: false, debug: false, color: true, stderr: terminal, stdinIsTTY: false });
        const bar = ui.progress('extracting', 10_000, 'files');
        for (let i = 0; i < 3; i++) bar.tick(1000, `· ${'x'.repeat(200)}/some/very/long/path/to/a/file.wav`);
        const frames = terminal.frames.filter((f) => f.startsWith('\r'));
        expect(frames.length).toBeGreaterThan(0);
        for (const frame of frames) {
          const text = frame.replace('\r\x1b[2K', '');
          expect(visibleLength(text)).toBeLessThanOrEqual((columns || 120) - 1);
          expect(text).toMatch(/\/s · ETA/);
        }
      }
    } finally {
      if (previousCi !== undefined) process.env.CI = previousCi;
    }
  });
});
