/**
 * Structured access logs: one JSON object per line, buffered and written in one call per tick (or when 64 KiB
 * pile up), so logging costs a string concatenation per request rather than a syscall. `flush()` on shutdown
 * writes what is left.
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
}

const FLUSH_BYTES = 64 * 1024;

export class AccessLog {
  private buffer = '';
  private scheduled = false;

  constructor(private readonly sink: LogSink | null) {}

  get enabled(): boolean {
    return this.sink !== null;
  }

  write(entry: AccessEntry): void {
    if (this.sink === null) return;
    this.buffer += `${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'request', ...entry })}\n`;
    this.schedule();
  }

  /** Server events (start, swap, shutdown) in the same JSON-lines stream. */
  event(msg: string, fields: Record<string, unknown> = {}, level: 'info' | 'warn' | 'error' = 'info'): void {
    if (this.sink === null) return;
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
    if (this.buffer === '' || this.sink === null) return;
    const text = this.buffer;
    this.buffer = '';
    this.sink.write(text);
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
