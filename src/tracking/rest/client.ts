/**
 * One `call()` for every MLflow REST endpoint: builds the request from the endpoint table, adds auth from a
 * `getCredentials()` callback (asked on every request, so tokens can refresh), retries transient failures
 * (408, 429, 5xx, dropped connections) with exponential backoff and jitter, and maps MLflow's `error_code` to
 * a SpotmlError whose one-line message names the endpoint, the server and what to set.
 *
 * Like MLflow's own client (mlflow/utils/request_utils.py: urllib3 `Retry(allowed_methods=None)`), every
 * method is retried, POSTs included; callers treat "already exists" after a retried create as success.
 * Failures that cannot heal by waiting are not retried: an unknown host, an untrusted TLS certificate, a
 * redirect (followed silently it would turn a POST into a GET and drop the Authorization header).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { SpotmlError, type ErrorCode } from '../../errors.js';
import { ENDPOINTS, type EndpointName, type HttpMethod } from './endpoints.js';

export interface Credentials {
  /** Sent as `Authorization: Bearer <token>` (wins over username/password). */
  token?: string;
  username?: string;
  password?: string;
}

export type CredentialsProvider = () => Credentials | Promise<Credentials>;

export interface RetryOptions {
  /** Retries after the first attempt (default 5; MLflow's own client uses 7). */
  maxRetries?: number;
  /** First backoff delay (default 500 ms); doubles per retry. */
  baseDelayMs?: number;
  /** Cap on one delay (default 30 s). */
  maxDelayMs?: number;
  /** Injectable for tests, so retries cost no wall time. */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable jitter source in [0, 1). */
  random?: () => number;
}

export interface RestClientOptions {
  /** The tracking URI, e.g. http://localhost:5000 (a path prefix is kept; user:password in it is used as Basic auth). */
  baseUrl: string;
  getCredentials?: CredentialsProvider;
  retry?: RetryOptions;
  /** Per-attempt timeout (default 120 s, as MLflow; MLFLOW_HTTP_REQUEST_TIMEOUT). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Statuses MLflow's client retries (mlflow/utils/request_utils.py `_TRANSIENT_FAILURE_RESPONSE_CODES`). */
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

const ERROR_CODE_MAP: Record<string, ErrorCode> = {
  RESOURCE_DOES_NOT_EXIST: 'NOT_FOUND',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_PARAMETER_VALUE: 'INVALID_INPUT',
  RESOURCE_ALREADY_EXISTS: 'INVALID_INPUT',
  BAD_REQUEST: 'INVALID_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'FORBIDDEN',
};

/** Network error codes that waiting does not fix: the host does not exist, or its certificate is not trusted. */
const PERMANENT_NETWORK_ERRORS = new Set([
  'ENOTFOUND',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Auth from MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD (Basic) or MLFLOW_TRACKING_TOKEN (Bearer). */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): CredentialsProvider {
  return () => ({
    token: env.MLFLOW_TRACKING_TOKEN || undefined,
    username: env.MLFLOW_TRACKING_USERNAME || undefined,
    password: env.MLFLOW_TRACKING_PASSWORD || undefined,
  });
}

/**
 * MLflow's order (mlflow/utils/rest_utils.py `http_request`): Basic when both username and password are set,
 * else Bearer with the token, else nothing.
 */
export function authorizationHeader(credentials: Credentials): string | undefined {
  if (credentials.username && credentials.password) {
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
  }
  if (credentials.token) return `Bearer ${credentials.token}`;
  return undefined;
}

/** Which variables produced an Authorization header, for error messages (never the values). */
function credentialSource(authorization: string | undefined, fromUrl: boolean): string | null {
  if (authorization === undefined) return null;
  if (fromUrl) return 'the user:password in MLFLOW_TRACKING_URI';
  return authorization.startsWith('Basic ') ? 'MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD' : 'MLFLOW_TRACKING_TOKEN';
}

/**
 * MLflow's client settings, read from the variables MLflow reads (mlflow/environment_variables.py), so a
 * team's existing MLflow environment configures spotml too:
 * - MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (seconds; delays double per retry),
 *   MLFLOW_HTTP_REQUEST_TIMEOUT (seconds per attempt, default 120);
 * - MLFLOW_TRACKING_INSECURE_TLS=true skips certificate checks; MLFLOW_TRACKING_SERVER_CERT_PATH is a CA
 *   bundle to trust; MLFLOW_TRACKING_CLIENT_CERT_PATH a PEM file with the client certificate and its key.
 * Unset variables leave spotml's defaults. A value MLflow would refuse is a USAGE error naming the variable.
 */
export function restOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<RestClientOptions, 'retry' | 'timeoutMs' | 'fetch'> {
  const out: Pick<RestClientOptions, 'retry' | 'timeoutMs' | 'fetch'> = {};
  const retries = envInteger(env, 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', 0, 10);
  const factor = envInteger(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', 0, 120);
  if (retries !== undefined || factor !== undefined) {
    out.retry = {};
    if (retries !== undefined) out.retry.maxRetries = retries;
    if (factor !== undefined) {
      out.retry.baseDelayMs = factor * 1000;
      out.retry.maxDelayMs = 120_000; // urllib3's backoff cap, which MLflow's factor is paired with
    }
  }
  const timeout = envInteger(env, 'MLFLOW_HTTP_REQUEST_TIMEOUT', 1, 86_400);
  if (timeout !== undefined) out.timeoutMs = timeout * 1000;
  const insecure = envBoolean(env, 'MLFLOW_TRACKING_INSECURE_TLS');
  const caPath = env.MLFLOW_TRACKING_SERVER_CERT_PATH || undefined;
  const clientCertPath = env.MLFLOW_TRACKING_CLIENT_CERT_PATH || undefined;
  if (insecure || caPath !== undefined || clientCertPath !== undefined) {
    out.fetch = nodeFetch({
      rejectUnauthorized: !insecure,
      ca: caPath !== undefined ? readPem(caPath, 'MLFLOW_TRACKING_SERVER_CERT_PATH') : undefined,
      clientPem: clientCertPath !== undefined ? readPem(clientCertPath, 'MLFLOW_TRACKING_CLIENT_CERT_PATH') : undefined,
    });
  }
  return out;
}

function envInteger(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SpotmlError('USAGE', `${name}="${raw}" is not valid: use a whole number from ${min} to ${max}, or unset it`, { variable: name });
  }
  return value;
}

/** MLflow's boolean variables take true/false/1/0 in any case. */
function envBoolean(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return false;
  const lowered = raw.trim().toLowerCase();
  if (lowered === 'true' || lowered === '1') return true;
  if (lowered === 'false' || lowered === '0') return false;
  throw new SpotmlError('USAGE', `${name}="${raw}" is not valid: use true or false`, { variable: name });
}

function readPem(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SpotmlError('USAGE', `${variable}=${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}): point it at a PEM file`, { variable, path }, { cause: err });
  }
}

export interface TlsSettings {
  rejectUnauthorized: boolean;
  ca?: Buffer;
  /** A PEM file holding the client certificate and its private key (what MLflow's client cert path holds). */
  clientPem?: Buffer;
}

/**
 * A `fetch` over node:http(s), for TLS settings the built-in fetch cannot take (Node ships no public way to
 * pass `rejectUnauthorized` or a CA to it without the undici package). It covers what RestClient sends:
 * string or byte bodies, a header record, an abort signal; redirects are never followed.
 */
export function nodeFetch(tls: TlsSettings): typeof fetch {
  const send = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (input instanceof Request) return Promise.reject(new TypeError('nodeFetch takes a URL, not a Request'));
    const url = new URL(String(input));
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      return Promise.reject(new TypeError('nodeFetch sends string or byte bodies only'));
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const signal = init.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      const fail = (err: unknown): void => reject(new TypeError('fetch failed', { cause: signal?.aborted ? signal.reason : err }));
      const onResponse = (res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          const status = res.statusCode ?? 500;
          const responseHeaders = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
            else if (value !== undefined) responseHeaders.set(key, value);
          }
          const nullBody = status === 204 || status === 205 || status === 304;
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
        });
      };
      const options = { method: init.method ?? 'GET', headers, signal };
      const req =
        url.protocol === 'https:'
          ? httpsRequest(url, { ...options, rejectUnauthorized: tls.rejectUnauthorized, ca: tls.ca, cert: tls.clientPem, key: tls.clientPem }, onResponse)
          : httpRequest(url, options, onResponse);
      req.on('error', fail);
      req.end(body ?? undefined);
    });
  };
  return send as typeof fetch;
}

export type QueryValue = string | number | boolean | undefined | readonly (string | number)[];

export interface RawRequest {
  method: HttpMethod;
  /** Relative to `<base>/api/2.0/`, already URI-encoded. */
  path: string;
  query?: Record<string, QueryValue>;
  body?: string | Uint8Array;
  contentType?: string;
}

export class RestClient {
  /** The tracking URI without credentials (safe to print). */
  readonly baseUrl: string;
  private readonly getCredentials: CredentialsProvider;
  /** user:password written into the tracking URI, used when the environment gives no credentials. */
  private readonly urlCredentials: Credentials | null;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: RestClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new SpotmlError('USAGE', `tracking URI "${options.baseUrl}" is not a URL: use http(s)://host:port`, {});
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SpotmlError('USAGE', `tracking URI "${redact(url)}" is not http(s): the REST store needs http(s)://host:port`, {});
    }
    // Python's requests (under MLflow's client) sends user:password from the URL as Basic auth; fetch refuses
    // such URLs, so they are taken out here and never printed.
    this.urlCredentials = url.username || url.password ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : null;
    this.baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.getCredentials = options.getCredentials ?? (() => ({}));
    this.maxRetries = options.retry?.maxRetries ?? 5;
    this.baseDelayMs = options.retry?.baseDelayMs ?? 500;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 30_000;
    this.sleep = options.retry?.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.retry?.random ?? Math.random;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** Calls a table endpoint: GET sends `payload` as query parameters, other methods as a JSON body. */
  async call<T = Record<string, unknown>>(name: EndpointName, payload: Record<string, unknown> = {}): Promise<T> {
    const endpoint = ENDPOINTS[name];
    const request: RawRequest =
      endpoint.method === 'GET'
        ? { method: 'GET', path: endpoint.path, query: payload as Record<string, QueryValue> }
        : { method: endpoint.method, path: endpoint.path, body: JSON.stringify(payload), contentType: 'application/json' };
    const response = await this.request(request);
    const text = await response.text();
    if (text.trim() === '') return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SpotmlError('STORE', `MLflow ${endpoint.method} ${endpoint.path} answered ${response.status} with a body that is not JSON; is ${this.baseUrl} an MLflow server (MLFLOW_TRACKING_URI)?`, {
        endpoint: endpoint.path,
      });
    }
  }

  /** Sends one request with auth and retries; resolves with a 2xx response, otherwise throws a SpotmlError. */
  async request(request: RawRequest): Promise<Response> {
    const url = this.urlFor(request);
    const label = `${request.method} ${request.path}`;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (request.contentType) headers['Content-Type'] = request.contentType;
      const { authorization, source } = await this.authorization();
      if (authorization) headers.Authorization = authorization;
      let response: Response;
      try {
        response = await this.fetchFn(url, {
          method: request.method,
          headers,
          body: request.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        const code = networkErrorCode(err);
        if (attempt < this.maxRetries && (code === undefined || !PERMANENT_NETWORK_ERRORS.has(code))) {
          await this.sleep(this.backoff(attempt, undefined));
          continue;
        }
        throw this.networkError(err, code, label, request.path, attempt + 1);
      }
      if (response.ok) return response;
      if (response.status >= 300 && response.status < 400) throw this.redirectError(response, label, request.path, url);
      if (RETRY_STATUSES.has(response.status) && attempt < this.maxRetries) {
        const text = await response.text().catch(() => '');
        // `mlflow server --no-serve-artifacts` answers the proxy with a 503 that no retry can change.
        if (!(response.status === 503 && /serve-artifacts/.test(text))) {
          await this.sleep(this.backoff(attempt, response.headers.get('retry-after')));
          continue;
        }
        throw this.errorFrom(response.status, text, label, request.path, source);
      }
      throw this.errorFrom(response.status, await response.text().catch(() => ''), label, request.path, source);
    }
  }

  /** Exponential backoff with "equal jitter": half the capped delay fixed, half random. Honours Retry-After. */
  backoff(attempt: number, retryAfter: string | null | undefined): number {
    const capped = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
    const jittered = capped / 2 + this.random() * (capped / 2);
    const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
    return Number.isFinite(seconds) && seconds >= 0 ? Math.min(this.maxDelayMs, Math.max(jittered, seconds * 1000)) : jittered;
  }

  private async authorization(): Promise<{ authorization: string | undefined; source: string | null }> {
    const fromCallback = authorizationHeader(await this.getCredentials());
    if (fromCallback !== undefined || this.urlCredentials === null) return { authorization: fromCallback, source: credentialSource(fromCallback, false) };
    const fromUrl = authorizationHeader(this.urlCredentials);
    return { authorization: fromUrl, source: credentialSource(fromUrl, true) };
  }

  private urlFor(request: RawRequest): string {
    let url = `${this.baseUrl}/api/2.0/${request.path}`;
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value) params.append(key, String(item));
      else params.append(key, String(value));
    }
    const query = params.toString();
    if (query) url += `?${query}`;
    return url;
  }

  private networkError(err: unknown, code: string | undefined, label: string, path: string, attempts: number): SpotmlError {
    const details = { endpoint: path, attempts, errno: code ?? null };
    const host = new URL(this.baseUrl).host;
    if (code === 'ENOTFOUND') {
      return new SpotmlError('STORE', `MLflow ${label} failed: host ${new URL(this.baseUrl).hostname} of ${this.baseUrl} does not resolve (ENOTFOUND); check MLFLOW_TRACKING_URI`, details, { cause: err });
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
      return new SpotmlError('STORE', `MLflow ${label} failed: ${host} does not speak TLS; use http:// instead of https:// in MLFLOW_TRACKING_URI`, details, { cause: err });
    }
    if (code !== undefined && PERMANENT_NETWORK_ERRORS.has(code)) {
      return new SpotmlError(
        'STORE',
        `MLflow ${label} failed: the TLS certificate of ${host} is not trusted (${code}); set MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle, or MLFLOW_TRACKING_INSECURE_TLS=true to skip the check`,
        details,
        { cause: err },
      );
    }
    if (isTimeout(err)) {
      return new SpotmlError(
        'STORE',
        `MLflow ${label} failed: ${this.baseUrl} did not answer within ${this.timeoutMs / 1000} s (${attempts} attempts); raise MLFLOW_HTTP_REQUEST_TIMEOUT (seconds) if the server is slow`,
        details,
        { cause: err },
      );
    }
    return new SpotmlError(
      'STORE',
      `MLflow ${label} failed: cannot reach ${this.baseUrl} (${describeNetworkError(err)}) after ${attempts} attempts; check MLFLOW_TRACKING_URI and that the server is running`,
      details,
      { cause: err },
    );
  }

  private redirectError(response: Response, label: string, path: string, requested: string): SpotmlError {
    const location = response.headers.get('location');
    let target = location ?? '(no Location header)';
    let suggestion = '';
    if (location) {
      const resolved = new URL(location, requested);
      resolved.username = '';
      resolved.password = '';
      target = `${resolved.origin}${resolved.pathname}`;
      const api = resolved.pathname.indexOf('/api/2.0/');
      if (api >= 0) suggestion = `; set MLFLOW_TRACKING_URI=${resolved.origin}${resolved.pathname.slice(0, api)}`;
    }
    const hint = suggestion || '; if it is a sign-in page, set MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD), else set MLFLOW_TRACKING_URI to the address the server moved to';
    return new SpotmlError('STORE', `MLflow ${label} at ${this.baseUrl} was redirected (HTTP ${response.status}) to ${target}${hint}`, {
      endpoint: path,
      status: response.status,
      location: target,
    });
  }

  private errorFrom(status: number, text: string, label: string, path: string, credentials: string | null): SpotmlError {
    let mlflowCode: string | undefined;
    let serverMessage = '';
    try {
      const body = JSON.parse(text) as { error_code?: unknown; message?: unknown };
      if (typeof body.error_code === 'string') mlflowCode = body.error_code;
      if (typeof body.message === 'string') serverMessage = body.message;
    } catch {
      // not JSON: an HTML 404 for an unknown route, a proxy page, or plain text (auth, host checks)
      serverMessage = text.replace(/<[^>]*>/g, ' ');
    }
    serverMessage = oneLine(serverMessage);
    const details = { endpoint: path, status, errorCode: mlflowCode ?? null };
    const at = `MLflow ${label} at ${this.baseUrl}`;
    if (status === 401 || mlflowCode === 'UNAUTHENTICATED') {
      return new SpotmlError(
        'UNAUTHENTICATED',
        credentials === null
          ? `${at} failed: not authenticated (HTTP ${status}); set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD`
          : `${at} failed: the server rejected the credentials from ${credentials} (HTTP ${status}); check them`,
        details,
      );
    }
    if (status === 403 && /Invalid Host header/i.test(serverMessage)) {
      // MLflow >= 3.5 checks the Host header against --allowed-hosts (DNS-rebinding protection).
      const host = new URL(this.baseUrl).host;
      return new SpotmlError('FORBIDDEN', `${at} failed: the server does not accept requests addressed to ${host} (HTTP 403: ${serverMessage}); its admin must start it with --allowed-hosts ${host}`, details);
    }
    if (status === 403 || mlflowCode === 'PERMISSION_DENIED') {
      const who = credentials === null ? 'anonymous requests' : `the account from ${credentials}`;
      return new SpotmlError('FORBIDDEN', `${at} failed: permission denied for ${who} (HTTP ${status}${serverMessage ? `: ${serverMessage}` : ''}); ask the server admin for access`, details);
    }
    if (!mlflowCode) {
      let hint = '';
      if (status === 404 && path.startsWith('mlflow/registered-models/alias')) {
        hint = '; model aliases need an MLflow 2.3 or newer server: upgrade it, or use stages (--stage, models:/<name>/<stage>)';
      } else if (status === 404) {
        hint = `; is ${this.baseUrl} an MLflow server (MLFLOW_TRACKING_URI)?`;
      }
      return new SpotmlError('STORE', `${at} failed with HTTP ${status}${serverMessage ? `: ${serverMessage}` : ''}${hint}`, details);
    }
    return new SpotmlError(ERROR_CODE_MAP[mlflowCode] ?? 'STORE', `MLflow ${label} failed: ${mlflowCode}: ${serverMessage}`, details);
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) return `${err.message}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`;
    return err.message;
  }
  return String(err);
}

/** The errno-style code of a network failure (fetch wraps it in `cause`, sometimes twice). */
function networkErrorCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current instanceof Error && depth < 4; current = (current as Error & { cause?: unknown }).cause, depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && !/^ABORT/.test(code)) return code;
  }
  return undefined;
}

function isTimeout(err: unknown): boolean {
  for (let current: unknown = err, depth = 0; current instanceof Error && depth < 4; current = (current as Error & { cause?: unknown }).cause, depth++) {
    if (current.name === 'TimeoutError') return true;
  }
  return false;
}

/** A URL as it may be printed: without user:password. */
function redact(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

// ---- protobuf JSON helpers shared by the REST stores ----

/** Doubles: protobuf JSON spells the non-finite ones as strings. */
export function encodeDouble(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

export function decodeDouble(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  return 0; // protobuf's default for an omitted double
}

/** int64 arrives as a JSON number from MLflow; strings are accepted too (protobuf's canonical form). */
export function decodeInt(value: unknown, fallback = 0): number {
  if (typeof value === 'number') return Math.trunc(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Math.trunc(Number(value));
  return fallback;
}

export function decodeString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export type Json = Record<string, unknown>;

/** Missing arrays mean empty (MLflow omits empty fields). */
export function decodeArray(value: unknown): Json[] {
  return Array.isArray(value) ? (value.filter((v) => v !== null && typeof v === 'object') as Json[]) : [];
}

export function keyValues(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of decodeArray(value)) out[decodeString(item.key)] = decodeString(item.value);
  return out;
}

export function toKeyValueList(record: Record<string, string> | undefined): { key: string; value: string }[] {
  return Object.entries(record ?? {}).map(([key, value]) => ({ key, value }));
}
