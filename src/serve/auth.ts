/**
 * Bearer authentication for the scoring routes: a static token (`--auth-token` / SPOTML_SERVE_TOKEN), JWTs
 * verified with `jose` against a public key (PEM or JWK file) or a JWKS file, or both (either is accepted).
 *
 * Tenancy: when the served model belongs to a tenant, a JWT must carry that tenant in its tenant claim
 * (default `tenant`), otherwise 403. The static token is the operator's and is not tenant-bound.
 * No credentials or a bad one → 401 UNAUTHENTICATED; a valid one for another tenant → 403 FORBIDDEN.
 *
 * Verified tokens are cached (until their `exp`, at most 60 s when they have none) so a client reusing one
 * token pays the signature check once, not per request.
 */
import { createHash, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { SpotmlError } from '../errors.js';

export interface AuthOptions {
  /** Static bearer token. */
  token?: string;
  /** PEM (SPKI or certificate) or JWK (.json) public key file for JWTs. */
  jwtPublicKeyFile?: string;
  /** JWKS file ({"keys": [...]}) for JWTs. */
  jwksFile?: string;
  /** Accepted JWS algorithms (default: any the key supports). */
  jwtAlgorithms?: string[];
  jwtIssuer?: string;
  jwtAudience?: string;
  /** The claim naming the caller's tenant (default "tenant"). */
  tenantClaim?: string;
}

export interface Principal {
  kind: 'token' | 'jwt';
  subject: string | null;
  tenant: string | null;
  /** A JWT whose tenant claim is present but not a string (e.g. an array): refused by name rather than as missing. */
  tenantClaimType?: string;
}

export interface Authenticator {
  readonly enabled: boolean;
  /** Checks an Authorization header against the model's tenant; throws UNAUTHENTICATED or FORBIDDEN. */
  authenticate(header: string | undefined, modelTenant: string | null): Promise<Principal>;
}

const CACHE_LIMIT = 10_000;
const CACHE_NO_EXP_MS = 60_000;

type JwtKey = KeyObject | JWTVerifyGetKey;

async function loadJwtKey(options: AuthOptions): Promise<JwtKey | null> {
  if (options.jwksFile) {
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(await readFile(options.jwksFile, 'utf8')) as JSONWebKeySet;
    } catch (err) {
      throw new SpotmlError('INVALID_INPUT', `--jwks ${options.jwksFile} cannot be read as JSON (${(err as Error).message})`, { file: options.jwksFile });
    }
    if (!jwks || !Array.isArray(jwks.keys)) throw new SpotmlError('INVALID_INPUT', `--jwks ${options.jwksFile} has no "keys" array`, { file: options.jwksFile });
    return createLocalJWKSet(jwks);
  }
  if (options.jwtPublicKeyFile) {
    const file = options.jwtPublicKeyFile;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new SpotmlError('NOT_FOUND', `--jwt-public-key ${file} cannot be read (${(err as Error).message})`, { file });
    }
    try {
      const trimmed = text.trim();
      if (trimmed.startsWith('{')) return createPublicKey({ key: JSON.parse(trimmed) as Record<string, string>, format: 'jwk' });
      return createPublicKey(trimmed);
    } catch (err) {
      throw new SpotmlError('INVALID_INPUT', `--jwt-public-key ${file} is not a PEM or JWK public key (${(err as Error).message})`, { file });
    }
  }
  return null;
}

function unauthenticated(message: string): SpotmlError {
  return new SpotmlError('UNAUTHENTICATED', message);
}

/** Compares digests, not the strings: equal-length inputs, so neither the bytes nor the token's length leak through timing. */
function constantTimeEqual(a: string, b: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** A token with white space or control characters could never arrive in `Bearer <token>` (Node trims header values). */
function checkStaticToken(token: string): void {
  if (/[\s\u0000-\u001f\u007f]/.test(token)) {
    throw new SpotmlError('USAGE', '--auth-token / SPOTML_SERVE_TOKEN holds white space or control characters, so no client could send it: trim it (e.g. a trailing newline from a file)', {
      flag: '--auth-token',
    });
  }
}

/**
 * Verifies against a JWKS whose keys carry no `kid` (or share one) too: jose then reports several candidate
 * keys, and each is tried in turn, so rotating keys without kids does not lock every client out.
 */
async function verifyWithKey(jwt: string, key: JwtKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  if (typeof key !== 'function') return (await jwtVerify(jwt, key, options)).payload;
  try {
    return (await jwtVerify(jwt, key, options)).payload;
  } catch (err) {
    if (!(err instanceof joseErrors.JWKSMultipleMatchingKeys)) throw err;
    for await (const candidate of err) {
      try {
        return (await jwtVerify(jwt, candidate, options)).payload;
      } catch (inner) {
        // Only a signature made with another key moves on; a signed token with a bad claim is refused as such.
        if (!(inner instanceof joseErrors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw err;
  }
}

export async function createAuthenticator(options: AuthOptions): Promise<Authenticator> {
  const token = options.token && options.token !== '' ? options.token : undefined;
  if (token !== undefined) checkStaticToken(token);
  const jwtKey = await loadJwtKey(options);
  const tenantClaim = options.tenantClaim ?? 'tenant';
  const enabled = token !== undefined || jwtKey !== null;
  const cache = new Map<string, { until: number; principal: Principal }>();

  const verifyJwt = async (jwt: string): Promise<Principal> => {
    const hit = cache.get(jwt);
    const now = Date.now();
    if (hit && hit.until > now) return hit.principal;
    if (jwtKey === null) throw unauthenticated('the bearer token is not valid');
    let payload: JWTPayload;
    try {
      payload = await verifyWithKey(jwt, jwtKey, { algorithms: options.jwtAlgorithms, issuer: options.jwtIssuer, audience: options.jwtAudience });
    } catch (err) {
      const reason =
        err instanceof joseErrors.JWTExpired
          ? 'the token has expired'
          : err instanceof joseErrors.JWTClaimValidationFailed
            ? `the token's "${err.claim}" claim is not accepted`
            : 'the bearer token is not valid';
      throw unauthenticated(reason);
    }
    const claim = payload[tenantClaim];
    const principal: Principal = { kind: 'jwt', subject: typeof payload.sub === 'string' ? payload.sub : null, tenant: typeof claim === 'string' ? claim : null };
    if (claim !== undefined && typeof claim !== 'string') principal.tenantClaimType = Array.isArray(claim) ? 'an array' : claim === null ? 'null' : `a ${typeof claim}`;
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(jwt, { until: typeof payload.exp === 'number' ? payload.exp * 1000 : now + CACHE_NO_EXP_MS, principal });
    return principal;
  };

  return {
    enabled,
    async authenticate(header, modelTenant): Promise<Principal> {
      if (!enabled) return { kind: 'token', subject: null, tenant: null };
      if (header === undefined || header === '') throw unauthenticated('authentication required: send "Authorization: Bearer <token>"');
      const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
      if (!match) throw unauthenticated('the Authorization header must be "Bearer <token>"');
      const presented = match[1];
      if (token !== undefined && constantTimeEqual(presented, token)) return { kind: 'token', subject: null, tenant: null };
      // A compact JWS has three dot-separated parts; anything else is just a wrong static token.
      if (jwtKey === null || presented.split('.').length !== 3) throw unauthenticated('the bearer token is not valid');
      const principal = await verifyJwt(presented);
      if (modelTenant !== null && principal.tenant !== modelTenant) {
        throw new SpotmlError(
          'FORBIDDEN',
          principal.tenantClaimType !== undefined
            ? `this model belongs to a tenant; the token's "${tenantClaim}" claim must be a string naming one tenant, got ${principal.tenantClaimType}`
            : principal.tenant === null
              ? `this model belongs to a tenant; the token has no "${tenantClaim}" claim`
              : `the token's tenant "${principal.tenant}" may not use this model`,
        );
      }
      return principal;
    },
  };
}
