/**
 * One `call()` for every MLflow REST endpoint: builds the request from the endpoint table, adds auth from a
 * `getCredentials()` callback (asked on every request, so tokens can refresh), retries transient failures
 * (408, 429, 5xx, network errors) with exponential backoff and jitter, and maps MLflow's `error_code` to a
 * SpotmlError whose one-line message names the endpoint.
 */
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
  /** The tracking URI, e.g. http://localhost:5000 (a path prefix is kept). */
  baseUrl: string;
  getCredentials?: CredentialsProvider;
  retry?: RetryOptions;
  /** Per-attempt timeout (default 120 s, as MLflow). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Statuses MLflow's client retries. */
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

/** Auth from MLFLOW_TRACKING_TOKEN (Bearer) or MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD (Basic). */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): CredentialsProvider {
  return () => ({
    token: env.MLFLOW_TRACKING_TOKEN || undefined,
    username: env.MLFLOW_TRACKING_USERNAME || undefined,
    password: env.MLFLOW_TRACKING_PASSWORD || undefined,
  });
}

export function authorizationHeader(credentials: Credentials): string | undefined {
  if (credentials.token) return `Bearer ${credentials.token}`;
  if (credentials.username !== undefined || credentials.password !== undefined) {
    return `Basic ${Buffer.from(`${credentials.username ?? ''}:${credentials.password ?? ''}`, 'utf8').toString('base64')}`;
  }
  return undefined;
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
  readonly baseUrl: string;
  private readonly getCredentials: CredentialsProvider;
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
      throw new SpotmlError('USAGE', `tracking URI "${options.baseUrl}" is not http(s): the REST store needs http(s)://host:port`, {});
    }
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
      throw new SpotmlError('STORE', `MLflow ${endpoint.method} ${endpoint.path} answered ${response.status} with a body that is not JSON; is ${this.baseUrl} an MLflow server?`, {
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
      const authorization = authorizationHeader(await this.getCredentials());
      if (authorization) headers.Authorization = authorization;
      let response: Response;
      try {
        response = await this.fetchFn(url, {
          method: request.method,
          headers,
          body: request.body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        if (attempt < this.maxRetries) {
          await this.sleep(this.backoff(attempt, undefined));
          continue;
        }
        const reason = describeNetworkError(err);
        throw new SpotmlError(
          'STORE',
          `MLflow ${label} failed: cannot reach ${this.baseUrl} (${reason}) after ${attempt + 1} attempts; check MLFLOW_TRACKING_URI and that the server is running`,
          { endpoint: request.path, attempts: attempt + 1 },
          { cause: err },
        );
      }
      if (response.ok) return response;
      if (RETRY_STATUSES.has(response.status) && attempt < this.maxRetries) {
        await response.body?.cancel();
        await this.sleep(this.backoff(attempt, response.headers.get('retry-after')));
        continue;
      }
      throw await this.errorFrom(response, label, request.path);
    }
  }

  /** Exponential backoff with "equal jitter": half the capped delay fixed, half random. Honours Retry-After. */
  backoff(attempt: number, retryAfter: string | null | undefined): number {
    const capped = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
    const jittered = capped / 2 + this.random() * (capped / 2);
    const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
    return Number.isFinite(seconds) && seconds >= 0 ? Math.min(this.maxDelayMs, Math.max(jittered, seconds * 1000)) : jittered;
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

  private async errorFrom(response: Response, label: string, path: string): Promise<SpotmlError> {
    const text = await response.text().catch(() => '');
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
    const details = { endpoint: path, status: response.status, errorCode: mlflowCode ?? null };
    if (response.status === 401 || mlflowCode === 'UNAUTHENTICATED') {
      return new SpotmlError(
        'UNAUTHENTICATED',
        `MLflow ${label} failed: not authenticated (HTTP ${response.status}); set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD`,
        details,
      );
    }
    if (response.status === 403 || mlflowCode === 'PERMISSION_DENIED') {
      return new SpotmlError(
        'FORBIDDEN',
        `MLflow ${label} failed: permission denied (HTTP ${response.status}${serverMessage ? `: ${serverMessage}` : ''}); ask the server admin for access`,
        details,
      );
    }
    if (!mlflowCode) {
      const hint = response.status === 404 ? `; is ${this.baseUrl} an MLflow server (MLFLOW_TRACKING_URI)?` : '';
      return new SpotmlError('STORE', `MLflow ${label} failed with HTTP ${response.status}${serverMessage ? `: ${serverMessage}` : ''}${hint}`, details);
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
    return err.name === 'TimeoutError' ? 'timed out' : err.message;
  }
  return String(err);
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
