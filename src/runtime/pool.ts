/**
 * A small worker-thread pool: N workers, one task each at a time, tasks queued in submission order.
 * The worker module calls `serveTasks(handler)`; the parent calls `pool.run(task)` and gets the result
 * (structured-cloned) or the error the handler threw (a SpotmlError keeps its code and details).
 *
 * A worker that dies (uncaught error, out of memory, process.exit) fails only its current task and is
 * replaced, so one bad input cannot stall the run. Workers must be compiled JavaScript: Node cannot
 * start a worker from a .ts file without a loader, so callers check `workerAvailable` first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { SpotmlError, type ErrorCode, ERROR_CODES } from '../errors.js';

interface TaskMessage<TTask> {
  id: number;
  task: TTask;
}

interface SerializedError {
  message: string;
  code?: string;
  details?: Record<string, unknown>;
  stack?: string;
}

type ResultMessage<TResult> = { id: number; result: TResult } | { id: number; error: SerializedError };

interface QueuedTask<TTask, TResult> {
  id: number;
  task: TTask;
  resolve: (result: TResult) => void;
  reject: (error: unknown) => void;
  timeoutMs?: number;
}

interface Slot<TTask, TResult> {
  worker: Worker;
  current: QueuedTask<TTask, TResult> | undefined;
  exited: boolean;
}

/** Sent instead of a task: the worker closes its port and its thread ends on its own. */
interface ShutdownMessage {
  shutdown: true;
}

/** How long close() waits for a worker to finish its current file before terminating it. */
const SHUTDOWN_GRACE_MS = 30_000;

/** True when `workerUrl` points at a file Node can start as a worker (a built .js module). */
export function workerAvailable(workerUrl: URL): boolean {
  const path = fileURLToPath(workerUrl);
  return /\.(c|m)?js$/.test(path) && existsSync(path);
}

export class WorkerPool<TTask, TResult> {
  private readonly slots: Slot<TTask, TResult>[] = [];
  private readonly queue: QueuedTask<TTask, TResult>[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly workerUrl: URL,
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new SpotmlError('USAGE', `worker pool size must be a positive integer, got ${size}`);
    if (!workerAvailable(workerUrl)) {
      throw new SpotmlError('INTERNAL', `worker module ${fileURLToPath(workerUrl)} is missing: run npm run build`);
    }
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Runs a task on the next free worker. With `timeoutMs`, a task still running after that long (counted
   * from when a worker takes it) is rejected and its worker replaced: a stuck synchronous computation
   * cannot be interrupted any other way.
   */
  run(task: TTask, options: { timeoutMs?: number } = {}): Promise<TResult> {
    if (this.closed) return Promise.reject(new SpotmlError('INTERNAL', 'worker pool is closed'));
    return new Promise<TResult>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, resolve, reject, timeoutMs: options.timeoutMs });
      this.dispatch();
    });
  }

  private expire(slot: Slot<TTask, TResult>, id: number, timeoutMs: number): void {
    const current = slot.current;
    if (this.closed || !current || current.id !== id) return;
    slot.current = undefined;
    current.reject(new SpotmlError('INTERNAL', `task timed out after ${(timeoutMs / 1000).toFixed(1)} s`, { timeoutMs }));
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots[index] = this.spawn();
    void slot.worker.terminate();
    this.dispatch();
  }

  /**
   * Stops all workers; queued and running tasks are rejected at once. Workers are asked to end on their
   * own rather than terminated: Worker.terminate() while V8 still compiles on a background thread can
   * abort the whole process in Node 20 (an assertion in NodePlatform::ForIsolate), so terminate() is
   * only the fallback for a worker that does not end within SHUTDOWN_GRACE_MS.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const cancelled = new SpotmlError('INTERNAL', 'worker pool closed before the task ran');
    for (const queued of this.queue.splice(0)) queued.reject(cancelled);
    await Promise.all(
      this.slots.map(async (slot) => {
        const current = slot.current;
        slot.current = undefined;
        current?.reject(cancelled);
        await stopWorker(slot);
      }),
    );
  }

  private spawn(): Slot<TTask, TResult> {
    // Workers inherit the process's Node flags; those that make Node run inline code (node -e / -p with
    // --input-type) would stop a worker from loading its file.
    const worker = new Worker(this.workerUrl, { execArgv: workerExecArgv() });
    const slot: Slot<TTask, TResult> = { worker, current: undefined, exited: false };
    worker.on('message', (message: ResultMessage<TResult>) => {
      const current = slot.current;
      if (!current || current.id !== message.id) return;
      slot.current = undefined;
      if ('error' in message) current.reject(deserializeError(message.error));
      else current.resolve(message.result);
      this.dispatch();
    });
    const replace = (reason: string): void => {
      if (this.closed) return;
      const current = slot.current;
      slot.current = undefined;
      current?.reject(new SpotmlError('INTERNAL', `worker thread died: ${reason}`));
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots[index] = this.spawn();
      this.dispatch();
    };
    worker.on('error', (err) => {
      // After 'error' the thread is already ending; the 'exit' that follows is ignored (slot replaced).
      replace(err instanceof Error ? err.message : String(err));
    });
    worker.on('exit', (code) => {
      slot.exited = true;
      if (this.slots.includes(slot)) replace(`exited with code ${code}`);
    });
    return slot;
  }

  private dispatch(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.current) continue;
      const next = this.queue.shift() as QueuedTask<TTask, TResult>;
      slot.current = next;
      if (next.timeoutMs !== undefined) {
        const timer = setTimeout(() => this.expire(slot, next.id, next.timeoutMs as number), next.timeoutMs);
        timer.unref();
        const settle = (): void => clearTimeout(timer);
        const { resolve, reject } = next;
        next.resolve = (result) => {
          settle();
          resolve(result);
        };
        next.reject = (error) => {
          settle();
          reject(error);
        };
      }
      const message: TaskMessage<TTask> = { id: next.id, task: next.task };
      slot.worker.postMessage(message);
    }
  }
}

function stopWorker<TTask, TResult>(slot: Slot<TTask, TResult>): Promise<void> {
  if (slot.exited) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => void slot.worker.terminate(), SHUTDOWN_GRACE_MS);
    slot.worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    slot.worker.postMessage({ shutdown: true } satisfies ShutdownMessage);
  });
}

/** In the worker module: answer each task with the handler's result or error. */
export function serveTasks<TTask, TResult>(handler: (task: TTask) => Promise<TResult>): void {
  if (isMainThread || !parentPort) throw new SpotmlError('INTERNAL', 'serveTasks must be called inside a worker thread');
  const port = parentPort;
  port.on('message', (message: TaskMessage<TTask> | ShutdownMessage) => {
    if ('shutdown' in message) {
      // With the port closed and no task left, the event loop empties and the thread ends normally.
      port.close();
      return;
    }
    const fail = (err: unknown): void => port.postMessage({ id: message.id, error: serializeError(err) } satisfies ResultMessage<TResult>);
    handler(message.task).then((result) => {
      try {
        port.postMessage({ id: message.id, result } satisfies ResultMessage<TResult>);
      } catch (err) {
        // A result that cannot be cloned must still answer the task, or the pool would wait forever.
        fail(err);
      }
    }, fail);
  });
}

function serializeError(err: unknown): SerializedError {
  if (err instanceof SpotmlError) return { message: err.message, code: err.code, details: { ...err.details }, stack: err.stack };
  if (err instanceof Error) return { message: err.message, stack: err.stack };
  return { message: String(err) };
}

function deserializeError(serialized: SerializedError): Error {
  const code = serialized.code;
  if (code !== undefined && code in ERROR_CODES) {
    const error = new SpotmlError(code as ErrorCode, serialized.message, serialized.details ?? {});
    if (serialized.stack) error.stack = serialized.stack;
    return error;
  }
  const error = new Error(serialized.message);
  if (serialized.stack) error.stack = serialized.stack;
  return error;
}

/**
 * The process's Node flags without those that run inline code instead of a file: -e/-p/--eval/--print with
 * the code that follows them (execArgv holds it), and --input-type with its value.
 */
export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (/^(-e|-p|--eval|--print|--input-type)$/.test(flag)) {
      i++; // its value
      continue;
    }
    if (/^(--eval|--print|--input-type)=/.test(flag)) continue;
    out.push(flag);
  }
  return out;
}
