/**
 * All terminal I/O in one place: results go to stdout (human text, or one JSON document with --json),
 * logs and progress go to stderr, so pipes stay parseable. Colour honours NO_COLOR and non-TTY output.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import { SpotmlError } from '../../errors.js';

export interface UiOptions {
  json: boolean;
  quiet: boolean;
  debug: boolean;
  color?: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdinIsTTY?: boolean;
}

export interface Progress {
  /** Advance by `n` items, with optional extra text (rates, current file). */
  tick(n?: number, detail?: string): void;
  /** Update the total when it becomes known or changes. */
  setTotal(total: number): void;
  done(summary?: string): void;
}

const NO_PROGRESS: Progress = { tick() {}, setTotal() {}, done() {} };

export class Ui {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly debug: boolean;
  readonly color: ChalkInstance;
  readonly interactive: boolean;
  private readonly out: NonNullable<UiOptions['stdout']>;
  private readonly err: NonNullable<UiOptions['stderr']>;

  constructor(options: UiOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.debug = options.debug;
    this.out = options.stdout ?? process.stdout;
    this.err = options.stderr ?? process.stderr;
    const noColorEnv = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
    const wantColor = options.color ?? (!noColorEnv && Boolean(this.err.isTTY));
    this.color = new Chalk({ level: wantColor && process.env.FORCE_COLOR !== '0' ? 1 : 0 });
    const stdinTTY = options.stdinIsTTY ?? Boolean(process.stdin.isTTY);
    this.interactive = stdinTTY && Boolean(this.err.isTTY) && !this.json && process.env.CI === undefined;
  }

  /** The command's result: a JSON document with --json, otherwise the human rendering (--quiet keeps it). */
  result(data: unknown, human: () => string): void {
    if (this.json) this.out.write(`${JSON.stringify(data, jsonReplacer, 2)}\n`);
    else {
      const text = human();
      if (text.length > 0) this.out.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** Informational log line on stderr; silent with --quiet or --json. */
  info(message: string): void {
    if (!this.quiet && !this.json) this.err.write(`${message}\n`);
  }

  /** A warning is shown unless --quiet; with --json it is a JSON line on stderr. */
  warn(message: string, details: Record<string, unknown> = {}): void {
    if (this.quiet) return;
    if (this.json) this.err.write(`${JSON.stringify({ level: 'warn', message, ...details })}\n`);
    else this.err.write(`${this.color.yellow('warning')} ${message}\n`);
  }

  error(err: SpotmlError): void {
    if (this.json) {
      this.out.write(`${JSON.stringify(err.toJSON())}\n`);
    } else {
      this.err.write(`${this.color.red('error')} ${this.color.dim(`[${err.code}]`)} ${err.message}\n`);
    }
    if (this.debug && err.stack) this.err.write(`${err.stack}\n${causeStack(err)}`);
  }

  /** A progress bar on a TTY; nothing with --json, --quiet, CI or a pipe. */
  progress(label: string, total: number, unit = 'items'): Progress {
    if (this.json || this.quiet || !this.err.isTTY || process.env.CI !== undefined) return NO_PROGRESS;
    return new TerminalProgress(this.err, this.color, label, total, unit);
  }
}

function causeStack(err: Error): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error && cause.stack ? `caused by: ${cause.stack}\n` : '';
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

class TerminalProgress implements Progress {
  private count = 0;
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    private readonly stream: NonNullable<UiOptions['stderr']>,
    private readonly color: ChalkInstance,
    private readonly label: string,
    private total: number,
    private readonly unit: string,
  ) {}

  tick(n = 1, detail = ''): void {
    this.count += n;
    const now = Date.now();
    if (now - this.lastDraw < 80 && this.count < this.total) return;
    this.lastDraw = now;
    this.draw(detail);
  }

  setTotal(total: number): void {
    this.total = total;
  }

  done(summary?: string): void {
    this.stream.write('\r\x1b[2K');
    if (summary) this.stream.write(`${summary}\n`);
  }

  private draw(detail: string): void {
    const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 70));
    const fraction = this.total > 0 ? Math.min(1, this.count / this.total) : 0;
    const filled = Math.round(fraction * width);
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = elapsed > 0 ? this.count / elapsed : 0;
    const eta = rate > 0 ? Math.max(0, (this.total - this.count) / rate) : 0;
    const bar = this.color.cyan('█'.repeat(filled)) + this.color.dim('░'.repeat(width - filled));
    const line = `${this.label} ${bar} ${this.count}/${this.total} ${this.unit} · ${rate.toFixed(1)}/s · ETA ${formatSeconds(eta)} ${detail}`;
    // A pty without a size reports 0 columns: treat it as unknown rather than cutting the line to nothing.
    const columns = this.stream.columns || 120;
    this.stream.write(`\r\x1b[2K${fitToColumns(line, columns - 1)}`);
  }
}

/**
 * `line` cut to `visible` characters on screen, colour escapes kept whole and not counted: a line that wraps
 * leaves a copy behind at every redraw (\r only returns to the start of the last row).
 */
export function fitToColumns(line: string, visible: number): string {
  let out = '';
  let shown = 0;
  for (let i = 0; i < line.length; ) {
    if (line.charCodeAt(i) === 0x1b) {
      const end = line.indexOf('m', i);
      if (end < 0) break;
      out += line.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (shown >= visible) return `${out}\x1b[0m`;
    const char = String.fromCodePoint(line.codePointAt(i) as number);
    out += char;
    shown++;
    i += char.length;
  }
  return out;
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Renders rows as an aligned plain-text table (the caller adds colour to cells if it wants). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');
  const widths = header.map((h, i) => Math.max(strip(h).length, ...rows.map((r) => strip(r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => c + ' '.repeat(Math.max(0, widths[i] - strip(c).length))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
