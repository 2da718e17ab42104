/**
 * POST /invocations straight on node:http, in front of the hono app. Building a WHATWG Request and Response
 * per call costs more than predicting a row with a 300-tree forest (measured: hono's adapter alone caps this
 * machine near 10k req/s for an empty route), so the hot route reads the body from the IncomingMessage and
 * writes the answer with one writeHead/end. The work itself is scoring.ts `scoreInvocation`, shared with the
 * hono route, so both answer alike; every other route goes to hono.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLog, RequestIds } from './access-log.js';
import { errorOutcome, HttpRefusal, recordRequest, scoreInvocation, truthy, type Outcome, type ScoringContext } from './scoring.js';

export interface FastPathOptions {
  scoring: ScoringContext;
  log: AccessLog;
  ids: RequestIds;
  isDraining: () => boolean;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The body, refusing more than `limit` bytes whether declared or streamed. */
function readBytes(req: IncomingMessage, limit: number, consumed: { value: boolean }): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const length = Number(declared);
    if (!Number.isSafeInteger(length) || length < 0) return Promise.reject(new HttpRefusal(400, `Content-Length "${declared.slice(0, 20)}" is not a byte count`));
    if (length > limit) return Promise.reject(new HttpRefusal(413, `the request body (${length} bytes) is larger than this server accepts (${limit} bytes)`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    // Refusals are made only when they happen: an Error captures a stack trace, and 'close' fires after every
    // request, so building one there up front cost a tenth of a single-row request's CPU time.
    const fail = (status: number, message: string): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      reject(new HttpRefusal(status, message));
    };
    const unreadable = (): void => fail(400, 'the request body could not be read (truncated or the connection closed)');
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        fail(413, `the request body is larger than this server accepts (${limit} bytes)`);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (settled) return;
      settled = true;
      consumed.value = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    });
    req.once('error', unreadable);
    req.once('close', unreadable);
  });
}

/** Returns a handler that answers POST /invocations and reports whether it took the request. */
export function createFastPath(options: FastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { scoring, log, ids, isDraining } = options;
  const { metrics } = scoring;

  const handle = async (req: IncomingMessage, res: ServerResponse, url: string): Promise<void> => {
    const started = performance.now();
    const id = ids.next(header(req.headers['x-request-id']));
    const consumed = { value: false };
    let modelKey: string | undefined;
    let outcome: Outcome;
    metrics.inflight++;
    try {
      const query = url.indexOf('?');
      const proba = (query >= 0 && truthy(new URLSearchParams(url.slice(query + 1)).get('proba'))) || truthy(header(req.headers['x-spotml-proba']));
      outcome = await scoreInvocation(
        scoring,
        {
          contentType: req.headers['content-type'],
          authorization: req.headers.authorization,
          proba,
          readText: async (limit) => (await readBytes(req, limit, consumed)).toString('utf8'),
          readBytes: (limit) => readBytes(req, limit, consumed),
        },
        (model) => (modelKey = model.resolved.key),
      );
    } catch (err) {
      outcome = errorOutcome(err, id);
      if (outcome.internal !== undefined) {
        const internal = outcome.internal;
        log.event('internal error', { id, path: '/invocations', error: internal instanceof Error ? (internal.stack ?? internal.message) : String(internal) }, 'error');
      }
    } finally {
      metrics.inflight--;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': outcome.contentType,
      'Content-Length': Buffer.byteLength(outcome.body),
      'X-Request-Id': id,
      ...outcome.headers,
    };
    // An unread body (refused before reading) would have to be drained on a kept-alive connection: close instead.
    if (isDraining() || !consumed.value) headers.Connection = 'close';
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(outcome.status, headers);
      res.end(outcome.body);
    }
    recordRequest(metrics, log, { id, method: 'POST', path: '/invocations', status: outcome.status, started, rows: outcome.rows, modelKey, errorCode: outcome.errorCode });
  };

  return (req, res) => {
    const url = req.url ?? '';
    if (req.method !== 'POST' || !(url === '/invocations' || url.startsWith('/invocations?'))) return false;
    handle(req, res, url).catch(() => {
      // Writing to a socket the client already closed is the only way here; nothing to answer.
      if (!res.destroyed) res.destroy();
    });
    return true;
  };
}
