/**
 * The socket side of `spotml serve`: load the model, listen (loopback unless told otherwise), poll the source
 * for hot swaps, and drain on shutdown. With `workers > 1` the process becomes a cluster primary that forks
 * one server per worker on the same port (Node's cluster shares the listening socket), restarts a worker that
 * dies, forwards SIGTERM, and merges the workers' metrics over IPC so /metrics counts every worker.
 *
 * Shutdown (SIGTERM/SIGINT or close()): readiness turns 503 (with `shutdownDelayMs`, requests are still
 * answered as usual for that long, while balancers take the instance out), the listening socket closes, idle keep-alive
 * connections are closed, responses from then on carry `Connection: close`, in-flight requests finish (up to
 * `drainTimeoutMs`), then the remaining sockets are closed, logs flushed and the model released. A second
 * signal to a single server or the primary exits at once (128 + signal); a worker ignores it, because a
 * signal to the process group (Ctrl-C, systemd's default KillMode) reaches it twice: directly and forwarded.
 *
 * The cluster primary restarts a worker that dies, after a backoff that doubles with each death in the last
 * minute, and gives up (exit 70, one line) when workers keep failing to start: the first one at startup, or
 * MAX_FAILED_STARTS in a row later (say the model folder was deleted), so a crash loop is visible to systemd
 * or Kubernetes instead of forking forever.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { SpotmlError } from '../errors.js';
import { SPOTML_VERSION } from '../version.js';
import { AccessLog, RequestIds, type LogSink } from './access-log.js';
import { createServeApp } from './app.js';
import { createFastPath } from './fast-path.js';
import { DEFAULT_LIMITS, type ServeLimits } from './scoring.js';
import { createAuthenticator, type AuthOptions } from './auth.js';
import { mergeSnapshots, retiredSnapshot, ServeMetrics, type MetricsSnapshot } from './metrics.js';
import { ModelHolder } from './model-holder.js';
import { modelSource, type ModelSource } from './model-source.js';
import { DEFAULT_RUNTIME, type RuntimeChoice } from './runtime.js';

export interface ServeOptions {
  /** A package folder, models:/name@alias, models:/name/N, models:/name/<stage> or models:/name/latest. */
  model: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  runtime?: RuntimeChoice;
  /** Seconds between checks of the model source for a new version; 0 disables. */
  pollSeconds?: number;
  trackingUri?: string;
  tenant?: string;
  /** Key for encrypted registry versions (default $SPOTML_MODEL_KEY). */
  keyFile?: string;
  auth?: AuthOptions;
  limits?: Partial<ServeLimits>;
  /** Longest a request (headers and body) may take to arrive, in ms (Node answers 408 after it). */
  requestTimeoutMs?: number;
  /** Longest shutdown waits for in-flight requests, in ms. */
  drainTimeoutMs?: number;
  /**
   * On SIGTERM, how long to keep answering (readiness already 503) before draining, in ms: a Kubernetes
   * Service or load balancer keeps sending for a few seconds after the pod is marked terminating.
   */
  shutdownDelayMs?: number;
  /**
   * How long an idle keep-alive connection stays open, in ms. Longer than a load balancer's idle timeout
   * (AWS ALB: 60 s), or the server closes sockets the balancer is about to reuse and clients get 502s.
   */
  keepAliveTimeoutMs?: number;
  /** Where JSON-lines logs go (null: nowhere). */
  logSink?: LogSink | null;
  onnxThreads?: number;
  /** Workers in the cluster (for /metrics); set by the cluster launcher. */
  workers?: number;
  /** The module cluster workers run (default: the primary's own entry, process.argv[1]). */
  workerExec?: string;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly holder: ModelHolder;
  readonly metrics: ServeMetrics;
  readonly server: Server;
  /** Drains and stops; resolves when every socket is closed. */
  close(): Promise<void>;
}

export const DEFAULT_POLL_SECONDS = 10;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Workers in a row that may exit before listening (after the cluster started) before the primary gives up. */
export const MAX_FAILED_STARTS = 5;
const RESTART_BACKOFF_BASE_MS = 200;
const RESTART_BACKOFF_MAX_MS = 10_000;
const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

interface MetricsIpc {
  type: 'spotml:metrics-request' | 'spotml:metrics-collect' | 'spotml:metrics-snapshot' | 'spotml:metrics-merged';
  id: number;
  snapshot?: MetricsSnapshot;
}

function isMetricsIpc(message: unknown): message is MetricsIpc {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' && (message as { type: string }).type.startsWith('spotml:metrics');
}

/** In a cluster worker: asks the primary for every worker's metrics, merged; falls back to our own. */
function clusterSnapshot(metrics: ServeMetrics): () => Promise<MetricsSnapshot> {
  let nextId = 0;
  const pending = new Map<number, (s: MetricsSnapshot) => void>();
  process.on('message', (message: unknown) => {
    if (!isMetricsIpc(message)) return;
    if (message.type === 'spotml:metrics-collect') process.send?.({ type: 'spotml:metrics-snapshot', id: message.id, snapshot: metrics.snapshot() });
    else if (message.type === 'spotml:metrics-merged' && message.snapshot) {
      pending.get(message.id)?.(message.snapshot);
      pending.delete(message.id);
    }
  });
  return () =>
    new Promise((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(metrics.snapshot());
      }, 2000);
      pending.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      process.send?.({ type: 'spotml:metrics-request', id });
    });
}

export async function startServer(options: ServeOptions, source: ModelSource = modelSource(options.model, options)): Promise<RunningServer> {
  const started = performance.now();
  const metrics = new ServeMetrics();
  const log = new AccessLog(options.logSink === undefined ? process.stdout : options.logSink, { onDropped: (lines) => (metrics.logLinesDropped += lines) });
  const auth = await createAuthenticator(options.auth ?? {});
  const holder = new ModelHolder(
    source,
    { runtime: options.runtime ?? DEFAULT_RUNTIME, onnxThreads: options.onnxThreads },
    {
      onSwap: (next, previous) => {
        if (previous) metrics.modelSwaps++;
        log.event(previous ? 'model swapped' : 'model loaded', {
          model: next.resolved.key,
          version: next.resolved.version,
          alias: next.resolved.alias,
          previous: previous?.resolved.key ?? null,
          runtime: next.predictor.runtime,
          specHash: next.pkg.document.specHash,
        });
      },
      onError: (error, repeated) => {
        metrics.modelLoadFailures++;
        metrics.modelRefreshFailing = 1;
        // Once per distinct failure, not every poll: a registry down for an hour is one line, not 360.
        if (!repeated) log.event('model refresh failed; still serving the loaded version', { error: error.message }, 'warn');
      },
      onRecovered: (failures) => {
        metrics.modelRefreshFailing = 0;
        log.event('model refresh works again', { failedChecks: failures });
      },
    },
  );
  const rssBefore = process.memoryUsage.rss();
  await holder.start();
  const modelRssBytes = process.memoryUsage.rss() - rssBefore;

  let draining = false;
  let leaving = false;
  const isDraining = (): boolean => draining;
  const isLeaving = (): boolean => leaving;
  const requestIds = new RequestIds();
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const app = createServeApp({
    holder,
    auth,
    metrics,
    log,
    limits,
    workers: options.workers ?? 1,
    metricsSnapshot: cluster.isWorker ? clusterSnapshot(metrics) : undefined,
    isDraining,
    isLeaving,
    requestIds,
  });
  const hostAllowed = loopbackHostCheck(options.host);
  const fastPath = createFastPath({ scoring: { holder, auth, metrics, limits }, log, ids: requestIds, isDraining });
  const listener = getRequestListener(app.fetch, {
    // A failure inside the adapter (not the app) still answers without internals.
    errorHandler: () => new Response('{"error_code":"BAD_REQUEST","message":"the request could not be read"}', { status: 400, headers: { 'Content-Type': 'application/json' } }),
  });
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const server = createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 20_000),
      // Node checks the timeouts above only this often (default 30 s): check often enough to honour them.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, requestTimeout / 4)),
      keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => {
      if (!hostAllowed(req.headers.host)) {
        refuseForeignHost(res, req.headers.host ?? '', (server.address() as AddressInfo).port);
        return;
      }
      if (!fastPath(req, res)) void listener(req, res);
    },
  );
  // Malformed HTTP (bad request lines, oversized headers, bodies slower than the request timeout): answer
  // 400 / 431 / 408 and drop the socket; never crash.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const message =
        err.code === 'EADDRINUSE'
          ? `port ${options.port} on ${options.host} is in use: pick another --port`
          : err.code === 'EACCES'
            ? `port ${options.port} on ${options.host} needs root (or CAP_NET_BIND_SERVICE): pick a --port above 1023 and map it in the load balancer or container`
            : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND'
              ? `--host ${options.host} is not an address of this machine: use 0.0.0.0 (every interface), 127.0.0.1 or one of its addresses`
              : `cannot listen on ${options.host}:${options.port} (${err.message})`;
      reject(new SpotmlError('USAGE', message, { host: options.host, port: options.port }));
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostForUrl}:${address.port}`;
  holder.startPolling((options.pollSeconds ?? DEFAULT_POLL_SECONDS) * 1000);
  log.event('listening', {
    url,
    spotml: SPOTML_VERSION,
    model: holder.current?.resolved.key,
    runtime: holder.current?.predictor.runtime,
    startupMs: Math.round(performance.now() - started),
    // Resident memory the model load added (package parse, model, runtime session).
    modelRssMb: Math.round(modelRssBytes / 1e4) / 100,
    rssMb: Math.round(process.memoryUsage.rss() / 1e4) / 100,
    pid: process.pid,
    auth: auth.enabled,
  });
  log.flush();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const delay = options.shutdownDelayMs ?? 0;
      if (delay > 0) {
        leaving = true;
        log.event('shutdown delay: not ready, still answering', { seconds: delay / 1000 });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
      draining = true;
      holder.stopPolling();
      log.event('draining', { inflight: metrics.inflight });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + (options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      while (metrics.inflight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      // Keep-alive sockets that went idle after their last response.
      server.closeIdleConnections();
      if (metrics.inflight > 0) log.event('drain timeout; closing remaining connections', { inflight: metrics.inflight }, 'warn');
      setTimeout(() => server.closeAllConnections(), 200).unref();
      await closed;
      await holder.close();
      log.event('stopped');
      log.flush();
    })();
    return closing;
  };

  return { url, port: address.port, host: options.host, holder, metrics, server, close };
}

// ---------------------------------------------------------------- DNS rebinding

const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\./.test(host);
}

/**
 * On a loopback address, requests must name a loopback host: a web page whose domain an attacker re-binds to
 * 127.0.0.1 would otherwise read predictions and /version from a browser on this machine (the Host header
 * still carries the attacker's name). Servers on other addresses take any Host (proxies and balancers set it).
 */
export function loopbackHostCheck(listenHost: string): (host: string | undefined) => boolean {
  if (!isLoopbackHost(listenHost)) return () => true;
  return (host) => {
    if (host === undefined) return true; // HTTP/1.0 without Host
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
    return isLoopbackHost(name.toLowerCase());
  };
}

function refuseForeignHost(res: ServerResponse, host: string, port: number): void {
  const body = JSON.stringify({ error_code: 'BAD_REQUEST', message: `Host "${host.slice(0, 100)}" is not this server; use http://127.0.0.1:${port}` });
  res.writeHead(421, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
}

// ---------------------------------------------------------------- signals and the cluster

/** Runs one server until SIGTERM/SIGINT, then drains and resolves (the process then exits on its own). */
export async function serveUntilSignal(options: ServeOptions, onListening?: (server: RunningServer) => void): Promise<void> {
  let running: RunningServer;
  try {
    running = await startServer(options);
  } catch (err) {
    // The IPC channel would keep a worker that cannot serve alive (and counted as one by the primary). The
    // worker's own disconnect() lets it exit with the error's code; process.disconnect() would exit 0 at once.
    if (cluster.isWorker) cluster.worker?.disconnect();
    throw err;
  }
  onListening?.(running);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal?: NodeJS.Signals): void => {
      if (stopping) {
        if (cluster.isWorker || signal === undefined) return;
        process.stderr.write(`spotml serve: second ${signal}; exiting without waiting for in-flight requests\n`);
        process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
      }
      stopping = true;
      void running.close().then(resolve, resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // A primary that goes away takes its workers with it.
    if (cluster.isWorker) process.on('disconnect', () => stop());
  });
  // The IPC channel to the primary would keep a worker alive: drop it so the process exits.
  if (cluster.isWorker && process.connected) process.disconnect();
}

/**
 * The cluster primary: forks `workers` servers sharing one port, restarts crashed ones, merges metrics,
 * forwards SIGTERM/SIGINT and resolves once every worker has drained and exited. Workers re-run the
 * primary's entry with the same arguments (the usual cluster pattern) and call `serveUntilSignal` when
 * `cluster.isWorker`; `spotml serve` does exactly that.
 */
export async function runCluster(options: ServeOptions, workers: number, onListening?: (url: string) => void): Promise<void> {
  const log = new AccessLog(options.logSink === undefined ? process.stdout : options.logSink);
  if (options.workerExec !== undefined) cluster.setupPrimary({ exec: options.workerExec });
  let stopping = false;
  let announced = false;
  /** Metrics collections in flight: our id → the asking worker, its own request id and the snapshots so far. */
  const collecting = new Map<number, { requester: Worker; requestId: number; snapshots: MetricsSnapshot[]; waiting: number; timer: NodeJS.Timeout }>();
  let collectId = 0;
  /** Each live worker's latest snapshot, and the counters of workers that are gone, so totals never go down. */
  const lastSnapshots = new Map<number, MetricsSnapshot>();
  let retired: MetricsSnapshot | null = null;
  const listened = new Set<number>();
  let failedStartsInARow = 0;
  let recentDeaths: number[] = [];
  const restartTimers = new Set<NodeJS.Timeout>();

  const finishCollect = (id: number): void => {
    const entry = collecting.get(id);
    if (!entry) return;
    collecting.delete(id);
    clearTimeout(entry.timer);
    const snapshots = retired === null ? entry.snapshots : [retired, ...entry.snapshots];
    if (entry.requester.isConnected()) entry.requester.send({ type: 'spotml:metrics-merged', id: entry.requestId, snapshot: mergeSnapshots(snapshots) });
  };

  const liveWorkers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => {
      if (!isMetricsIpc(message)) return;
      if (message.type === 'spotml:metrics-request') {
        const id = collectId++;
        const alive = liveWorkers().filter((w) => w.isConnected());
        // A worker that does not answer in time is left out rather than stalling the scrape.
        const timer = setTimeout(() => finishCollect(id), 1000);
        collecting.set(id, { requester: worker, requestId: message.id, snapshots: [], waiting: alive.length, timer });
        for (const w of alive) w.send({ type: 'spotml:metrics-collect', id });
      } else if (message.type === 'spotml:metrics-snapshot' && message.snapshot) {
        lastSnapshots.set(worker.id, message.snapshot);
        const entry = collecting.get(message.id);
        if (!entry) return;
        entry.snapshots.push(message.snapshot);
        if (--entry.waiting <= 0) finishCollect(message.id);
      }
    });
    return worker;
  };

  await new Promise<void>((resolve, reject) => {
    const giveUp = (message: string): void => {
      stopping = true;
      for (const timer of restartTimers) clearTimeout(timer);
      for (const w of liveWorkers()) w.process.kill('SIGTERM');
      reject(new SpotmlError('INTERNAL', message));
    };
    cluster.on('listening', (worker, address) => {
      listened.add(worker.id);
      failedStartsInARow = 0;
      if (announced) return;
      announced = true;
      const host = address.address && address.address.includes(':') ? `[${address.address}]` : (address.address ?? options.host);
      const url = `http://${host}:${address.port}`;
      log.event('cluster listening', { url, workers, pid: process.pid });
      log.flush();
      onListening?.(url);
    });
    cluster.on('exit', (worker, code, signal) => {
      const last = lastSnapshots.get(worker.id);
      lastSnapshots.delete(worker.id);
      if (last !== undefined) retired = mergeSnapshots(retired === null ? [retiredSnapshot(last)] : [retired, retiredSnapshot(last)]);
      const hadListened = listened.delete(worker.id);
      if (stopping) {
        if (liveWorkers().length === 0) resolve();
        return;
      }
      if (!hadListened) {
        failedStartsInARow++;
        if (!announced) {
          giveUp(`serve worker ${worker.process.pid} exited before listening (code ${String(code)}, signal ${String(signal)}); see its log above`);
          return;
        }
        if (failedStartsInARow >= MAX_FAILED_STARTS) {
          giveUp(`serve workers keep failing to start (${failedStartsInARow} in a row, last exit code ${String(code)}); see their log above, fix the model source and restart`);
          return;
        }
      }
      const now = Date.now();
      recentDeaths = [...recentDeaths.filter((t) => now - t < 60_000), now];
      const delay = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_BASE_MS * 2 ** (recentDeaths.length - 1));
      log.event('worker died; restarting it', { pid: worker.process.pid, code, signal, restartInMs: delay }, 'warn');
      const timer = setTimeout(() => {
        restartTimers.delete(timer);
        if (!stopping) fork();
      }, delay);
      restartTimers.add(timer);
    });
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.event(`second ${signal}; killing workers without waiting for in-flight requests`, {}, 'warn');
        log.flush();
        for (const w of liveWorkers()) w.process.kill('SIGKILL');
        process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
      }
      stopping = true;
      for (const timer of restartTimers) clearTimeout(timer);
      log.event('stopping workers', { workers });
      const alive = liveWorkers();
      if (alive.length === 0) resolve();
      for (const w of alive) w.process.kill('SIGTERM');
      // Workers drain for at most drainTimeoutMs; one that is still there well after is stuck: kill it.
      setTimeout(() => {
        for (const w of liveWorkers()) w.process.kill('SIGKILL');
      }, (options.shutdownDelayMs ?? 0) + (options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS) + 5000).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    for (let i = 0; i < workers; i++) fork();
  });
  log.event('stopped');
  log.flush();
}
