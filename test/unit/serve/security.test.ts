/**
 * `spotml serve` attacked as an adversary on the network would: forged JWTs (alg none, HS256 keyed with the
 * RSA public key, unknown crit headers), a JWKS rotated without kids, static tokens that could never match,
 * every route with and without credentials over a real socket, request smuggling and limit evasion.
 */
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type AuthOptions } from '../../../src/serve/auth.js';
import { loopbackHostCheck, startServer, type RunningServer } from '../../../src/serve/server.js';
import { forestPackage } from './fixtures.js';

const STATIC_TOKEN = 'static-token-0123456789';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const body = JSON.stringify({ inputs: [[1, 2, 3, 4]] });

let root: string;
let pemFile: string;
let server: RunningServer;

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS built by hand, so headers jose would refuse to sign (crit, none) can be sent too. */
function handSigned(header: Record<string, unknown>, payload: Record<string, unknown>, sign: (input: string) => string): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${sign(input)}`;
}

const rs256 = (input: string): string => createSign('RSA-SHA256').update(input).sign(rsa.privateKey).toString('base64url');
const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600;

function signed(claims: Record<string, unknown>, key = rsa.privateKey, kid?: string): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', ...(kid ? { kid } : {}) })
    .setExpirationTime('1h')
    .sign(key);
}

/** Writes `text` on a fresh socket and returns everything the server answers before closing (or 2 s). */
function rawExchange(text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', () => undefined);
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'serve-security-'));
  await forestPackage({ dir: join(root, 'model'), trees: 3 });
  pemFile = join(root, 'jwt.pem');
  await writeFile(pemFile, publicPem);
  server = await startServer({
    model: join(root, 'model'),
    host: '127.0.0.1',
    port: 0,
    pollSeconds: 0,
    logSink: null,
    tenant: 'acme',
    limits: { maxBodyBytes: 4096 },
    auth: { token: STATIC_TOKEN, jwtPublicKeyFile: pemFile },
  });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

async function invoke(authorization: string | undefined, path = '/invocations'): Promise<{ status: number; challenge: string | null; text: string }> {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body,
  });
  return { status: response.status, challenge: response.headers.get('www-authenticate'), text: await response.text() };
}

describe('forged JWTs are refused over the fast path', () => {
  it('accepts a genuine RS256 token for the model’s tenant (the baseline the forgeries are measured against)', async () => {
    expect((await invoke(`Bearer ${await signed({ tenant: 'acme' })}`)).status).toBe(200);
  });

  it.each([
    ['alg none', (): string => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ tenant: 'acme', exp: inAnHour() })}.`],
    [
      'HS256 keyed with the RSA public key (algorithm confusion)',
      (): string => handSigned({ alg: 'HS256', typ: 'JWT' }, { tenant: 'acme', exp: inAnHour() }, (input) => createHmac('sha256', publicPem).update(input).digest('base64url')),
    ],
    ['an unknown critical header', (): string => handSigned({ alg: 'RS256', crit: ['x-spotml-never'], 'x-spotml-never': 1 }, { tenant: 'acme', exp: inAnHour() }, rs256)],
    ['b64: false (unencoded payload) in crit', (): string => handSigned({ alg: 'RS256', crit: ['b64'], b64: false }, { tenant: 'acme', exp: inAnHour() }, rs256)],
    ['a string exp', (): string => handSigned({ alg: 'RS256' }, { tenant: 'acme', exp: String(inAnHour()) }, rs256)],
    ['an nbf in the future', (): string => handSigned({ alg: 'RS256' }, { tenant: 'acme', exp: inAnHour(), nbf: inAnHour() }, rs256)],
    ['a signature by another key', (): string => handSigned({ alg: 'RS256' }, { tenant: 'acme', exp: inAnHour() }, (input) => createSign('RSA-SHA256').update(input).sign(rotated.privateKey).toString('base64url'))],
  ])('%s → 401 with a Bearer challenge', async (_name, forge) => {
    const answer = await invoke(`Bearer ${forge()}`);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe('Bearer');
  });

  it('a genuine token of another tenant → 403 without a challenge, and the answer does not name the model’s tenant', async () => {
    const answer = await invoke(`Bearer ${await signed({ tenant: 'globex' })}`);
    expect(answer.status).toBe(403);
    expect(answer.challenge).toBeNull();
    expect(answer.text).not.toContain('acme');
  });

  it.each([
    ['a number', 7],
    ['an object', { id: 'acme' }],
    ['null', null],
  ])('a tenant claim that is %s → 403', async (_name, claim) => {
    expect((await invoke(`Bearer ${await signed({ tenant: claim })}`)).status).toBe(403);
  });
});

describe('the Authorization header', () => {
  it.each([
    ['empty Bearer', 'Bearer '],
    ['scheme only', 'Bearer'],
    ['Basic', `Basic ${Buffer.from(`x:${STATIC_TOKEN}`).toString('base64')}`],
    ['a prefix of the token', `Bearer ${STATIC_TOKEN.slice(0, -1)}`],
    ['the token plus a byte', `Bearer ${STATIC_TOKEN}x`],
    ['two tokens', `Bearer ${STATIC_TOKEN} ${STATIC_TOKEN}`],
  ])('%s → 401, and the answer never echoes what was sent', async (_name, header) => {
    const answer = await invoke(header);
    expect(answer.status).toBe(401);
    expect(answer.text).not.toContain(STATIC_TOKEN.slice(0, 8));
  });

  it('a token larger than the header limit gets 431 and the server keeps answering', async () => {
    const huge = handSigned({ alg: 'RS256' }, { tenant: 'acme', exp: inAnHour(), pad: 'x'.repeat(20_000) }, rs256);
    expect(await rawExchange(`GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${huge}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect((await invoke(`Bearer ${STATIC_TOKEN}`)).status).toBe(200);
  });

  it('the scheme is case-insensitive and extra spaces are tolerated (RFC 7235)', async () => {
    expect((await invoke(`bearer ${STATIC_TOKEN}`)).status).toBe(200);
    expect((await invoke(`Bearer   ${STATIC_TOKEN}`)).status).toBe(200);
  });

  it('a second Authorization header cannot turn a refused request into an accepted one on either front end', async () => {
    for (const request of [
      `POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\nAuthorization: Bearer ${STATIC_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      `GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\nAuthorization: Bearer ${STATIC_TOKEN}\r\nConnection: close\r\n\r\n`,
    ]) {
      expect(await rawExchange(request)).toMatch(/^HTTP\/1\.1 401 /);
    }
  });
});

describe('which routes need credentials', () => {
  it.each([
    ['POST', '/invocations'],
    ['POST', '/invocations?proba=true'],
    ['POST', '/predict/audio'],
    ['GET', '/version'],
    ['HEAD', '/version'],
    ['GET', '/metrics'],
  ])('%s %s without credentials → 401', async (method, path) => {
    const response = await fetch(`${server.url}${path}`, { method, ...(method === 'POST' ? { body, headers: { 'content-type': 'audio/wav' } } : {}) });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('/openapi.json names the model, its features and classes only to callers who may use it', async () => {
    const open = await (await fetch(`${server.url}/openapi.json`)).text();
    const wrongTenant = await (await fetch(`${server.url}/openapi.json`, { headers: { authorization: 'Bearer not-the-token' } })).text();
    const allowed = await (await fetch(`${server.url}/openapi.json`, { headers: { authorization: `Bearer ${STATIC_TOKEN}` } })).text();
    for (const text of [open, wrongTenant]) {
      expect(JSON.parse(text)).toMatchObject({ openapi: '3.1.0' });
      expect(text).not.toContain('"f0"');
      expect(text).not.toContain('"cat"');
    }
    expect(allowed).toContain('"f0"');
    expect(allowed).toContain('"cat"');
  });

  it.each(['/ping', '/health', '/health/live', '/health/ready'])('GET %s stays open for probes', async (path) => {
    expect((await fetch(`${server.url}${path}`)).status).toBe(200);
  });

  it('sends no CORS headers, so browsers on other origins cannot read answers (a preflight is refused)', async () => {
    const preflight = await fetch(`${server.url}/invocations`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(405);
    const answer = await fetch(`${server.url}/invocations`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'text/csv', authorization: `Bearer ${STATIC_TOKEN}` }, body: 'f0,f1,f2,f3\n1,2,3,4\n' });
    expect(answer.status).toBe(200);
    for (const response of [preflight, answer]) expect([...response.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });
});

describe('request framing and limits', () => {
  it('refuses Content-Length together with Transfer-Encoding (request smuggling) with 400', async () => {
    const answer = await rawExchange(
      `POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${STATIC_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.match(/HTTP\/1\.1/g)).toHaveLength(1);
  });

  it('answers a declared Content-Length over the limit with 413 before the body arrives', async () => {
    const answer = await rawExchange(`POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${STATIC_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('answers a chunked body that grows past the limit with 413 and closes the connection', async () => {
    const chunk = 'x'.repeat(3000);
    const answer = await rawExchange(
      `POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${STATIC_TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.toLowerCase()).toContain('connection: close');
  });

  it('does not read the body of an unauthenticated request (401 before any byte of it)', async () => {
    const answer = await rawExchange(`POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
  });

  it('replaces an X-Request-Id that could forge log lines; a header with a raw newline is refused by the parser', async () => {
    const forged = await fetch(`${server.url}/ping`, { headers: { 'x-request-id': 'a","level":"error","msg":"forged' } });
    expect(forged.headers.get('x-request-id')).not.toContain('"');
    expect(await rawExchange('GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: a\rb\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe('authenticator setup', () => {
  it.each([
    ['a trailing newline', `${STATIC_TOKEN}\n`],
    ['a space', 'two words'],
    ['a tab', 'a\tb'],
  ])('refuses a static token with %s (no client could ever send it) without echoing it', async (_name, token) => {
    const refused = createAuthenticator({ token });
    await expect(refused).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('white space or control characters') });
    await expect(refused).rejects.toSatisfy((err: Error) => !err.message.includes(token.trim()));
  });

  it('a JWKS rotated without kids: a token signed by any of its keys verifies; a bad claim is still named', async () => {
    const jwksFile = join(root, 'rotated-jwks.json');
    const keys = [await exportJWK(rsa.publicKey), await exportJWK(rotated.publicKey)].map((jwk) => ({ ...jwk, alg: 'RS256', use: 'sig' }));
    await writeFile(jwksFile, JSON.stringify({ keys }));
    const options: AuthOptions = { jwksFile, jwtIssuer: 'idp' };
    const auth = await createAuthenticator(options);
    for (const key of [rsa.privateKey, rotated.privateKey]) {
      const token = await new SignJWT({ tenant: 'acme', iss: 'idp' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(key);
      await expect(auth.authenticate(`Bearer ${token}`, 'acme')).resolves.toMatchObject({ kind: 'jwt', tenant: 'acme' });
    }
    const wrongIssuer = await new SignJWT({ iss: 'other' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(rotated.privateKey);
    await expect(auth.authenticate(`Bearer ${wrongIssuer}`, null)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'the token\'s "iss" claim is not accepted' });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = await new SignJWT({ iss: 'idp' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(stranger.privateKey);
    await expect(auth.authenticate(`Bearer ${foreign}`, null)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'the bearer token is not valid' });
  });

  it('a JWKS with kids: an unknown kid is refused', async () => {
    const jwksFile = join(root, 'kid-jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(rsa.publicKey)), alg: 'RS256', kid: 'current' }] }));
    const auth = await createAuthenticator({ jwksFile });
    await expect(auth.authenticate(`Bearer ${await signed({}, rsa.privateKey, 'current')}`, null)).resolves.toMatchObject({ kind: 'jwt' });
    await expect(auth.authenticate(`Bearer ${await signed({}, rsa.privateKey, 'retired')}`, null)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('DNS rebinding', () => {
  it('a loopback server answers 421 to a request naming another host, and any loopback spelling as usual', async () => {
    const send = (host: string): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const request = httpRequest(`${server.url}/ping`, { headers: { host } }, (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        });
        request.on('error', reject);
        request.end();
      });
    const port = new URL(server.url).port;
    const foreign = await send(`attacker.example:${port}`);
    expect(foreign.status).toBe(421);
    expect(JSON.parse(foreign.text)).toEqual({ error_code: 'BAD_REQUEST', message: `Host "attacker.example:${port}" is not this server; use http://127.0.0.1:${port}` });
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, 'localhost']) expect((await send(host)).status, host).toBe(200);
    expect(loopbackHostCheck('0.0.0.0')('attacker.example')).toBe(true);
    expect(loopbackHostCheck('127.0.0.1')('127.0.0.2:80')).toBe(true);
    expect(loopbackHostCheck('::1')('evil.example')).toBe(false);
  });
});

