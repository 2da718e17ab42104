/**
 * Structured access logs: one JSON object per line, buffered and written in one call per tick (or when 64 KiB
 * pile up), so logging costs a string concatenation per request rather than a syscall. `flush()` on shutdown
 * writes what is left.
 *
 * The log never takes the server down: when the destination is slow (a stalled pipe reader) lines the sink
 * has not taken beyond `maxPendingBytes` are dropped and counted, rather than growing memory until the
 * process is killed; when the destination fails (EPIPE once a log shipper dies) logging stops, one warning
 * goes to stderr and serving goes on.
 *
 * Request ids: a client's `X-Request-Id` is kept when it is short and plain (so ids can be traced across
 * services); otherwise the server makes one from a per-process random prefix and a counter.
 */
import { randomBytes } from 'node:crypto';

export interface AccessEntry {
  id: string;
  method: string;
  path: string;
  route: string;
  status: number;
  ms: number;
  rows?: number;
  model?: string;
  error?: string;
  /** /predict/audio: what was wrong with the audio that still got an answer. */
  warnings?: string[];
}

export interface LogSink {
  write(text: string): unknown;
  /** Bytes accepted but not yet written (Node streams). */
  readonly writableLength?: number;
  on?(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
}

export interface AccessLogOptions {
  /** Most bytes the sink may hold unwritten before lines are dropped (default 8 MiB). */
  maxPendingBytes?: number;
  /** Called with the number of lines dropped (slow or failed destination). */
  onDropped?(lines: number): void;
  /** Where the one warning about a failed destination goes (default stderr). */
  warn?(text: string): void;
}

const FLUSH_BYTES = 64 * 1024;
const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;

function countLines(text: string): number {
  let lines = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

export class AccessLog {
  private buffer = '';
  private scheduled = false;
  private failed = false;
  /** Lines dropped while the destination was slow, reported once it keeps up again. */
  private droppedWhileSlow = 0;
  private readonly maxPendingBytes: number;

  constructor(
    private readonly sink: LogSink | null,
    private readonly options: AccessLogOptions = {},
  ) {
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    sink?.on?.('error', (err) => this.fail(err));
  }

  /** Whether to build entries at all; still true after the destination failed, so lost lines are counted. */
  get enabled(): boolean {
    return this.sink !== null;
  }

  private fail(err: NodeJS.ErrnoException): void {
    if (this.failed) return;
    this.failed = true;
    this.drop(this.buffer);
    this.buffer = '';
    const warn = this.options.warn ?? ((text: string) => process.stderr.write(text));
    try {
      warn(`spotml serve: the log destination failed (${err.code ?? err.message}); serving goes on without logs\n`);
    } catch {
      // stderr may be the same broken pipe: the metric still counts the dropped lines.
    }
  }

  private drop(text: string): void {
    const lines = countLines(text);
    if (lines > 0) this.options.onDropped?.(lines);
  }

  write(entry: AccessEntry): void {
    if (this.sink === null) return;
    if (this.failed) {
      this.options.onDropped?.(1);
      return;
    }
    this.buffer += `${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'request', ...entry })}\n`;
    this.schedule();
  }

  /** Server events (start, swap, shutdown) in the same JSON-lines stream. */
  event(msg: string, fields: Record<string, unknown> = {}, level: 'info' | 'warn' | 'error' = 'info'): void {
    if (this.sink === null) return;
    if (this.failed) {
      this.options.onDropped?.(1);
      return;
    }
    this.buffer += `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`;
    this.schedule();
  }

  private schedule(): void {
    if (this.buffer.length >= FLUSH_BYTES) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.buffer === '' || this.sink === null || this.failed) return;
    let text = this.buffer;
    this.buffer = '';
    if ((this.sink.writableLength ?? 0) > this.maxPendingBytes) {
      const lines = countLines(text);
      this.droppedWhileSlow += lines;
      this.options.onDropped?.(lines);
      return;
    }
    if (this.droppedWhileSlow > 0) {
      text = `${JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'log destination too slow; lines dropped', dropped: this.droppedWhileSlow })}\n${text}`;
      this.droppedWhileSlow = 0;
    }
    try {
      this.sink.write(text);
    } catch (err) {
      this.fail(err as NodeJS.ErrnoException);
    }
  }
}

const ID_PATTERN = /^[\w.:-]{1,128}$/;

export class RequestIds {
  private readonly prefix = randomBytes(4).toString('hex');
  private counter = 0;

  next(given: string | undefined): string {
    if (given !== undefined && ID_PATTERN.test(given)) return given;
    this.counter++;
    return `${this.prefix}-${this.counter.toString(36)}`;
  }
}
