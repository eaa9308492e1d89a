// The service's HTTP edges over raw HTTP on loopback: every error (fastify's own included) in the
// one shape, Hydra's paths (/keys without /admin, trailing slashes, Location), names of 255
// characters, deep JSON, ETag lists and weak validators, the Bearer scheme in any case, the Host
// check without ADMIN_TOKEN, and /admin/jwt's time claims.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { decodeJwt } from 'jose';

import { loadConfig } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { startService, type Service } from '../../lib/server/serve';
import { record, registerEnvSecrets } from '../helpers/secret-leak-recorder';

const ADMIN = 'an-admin-token-of-the-http-tests';
let dir: string;
let svc: Service;
let open: Service;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

/** One request as written: the path is sent as given (no normalisation), and any Host header. */
function raw(
  base: string,
  method: string,
  p: string,
  options: { headers?: Record<string, string>; body?: string; host?: string | null } = {},
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: p,
        setHost: false,
        headers: {
          ...(options.host === null ? {} : { host: options.host ?? url.host }),
          ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}),
          ...options.headers,
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          record('http', `${method} ${base}${p.slice(0, 200)}`, `${JSON.stringify(res.headers)}\n${text}`);
          let json: Record<string, unknown> = {};
          try {
            json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

const json = { 'content-type': 'application/json' };
const auth = { authorization: `Bearer ${ADMIN}` };
const send = (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) =>
  raw(svc.adminUrl, method, p, {
    headers: { ...auth, ...(body === undefined ? {} : json), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });

/** The one error shape: Hydra's errorOAuth2 members, and our code. */
function expectError(r: Answer, status: number, code: string): void {
  expect({ status: r.status, code: r.json.error_code, status_code: r.json.status_code }).toEqual({
    status,
    code,
    status_code: status,
  });
  expect(typeof r.json.error).toBe('string');
  expect(typeof r.json.error_description).toBe('string');
  expect(r.headers['content-type']).toMatch(/^application\/json/);
}

async function start(name: string, env: Record<string, string>): Promise<Service> {
  const vars = {
    DSN: `sqlite://${path.join(dir, `${name}.sqlite`)}`,
    SECRETS_SYSTEM: 'the-http-test-secret-of-the-store',
    PUBLIC_PORT: '0',
    ADMIN_PORT: '0',
    JWKS_PUBLIC_SETS: 'jwt.x',
    JWKS_DEFAULT_ALG: 'ES256',
    ...env,
  };
  registerEnvSecrets(vars, 'service-http');
  const config = loadConfig(vars);
  return startService(config, { logger: silentLogger, schedule: false });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-http-'));
  svc = await start('svc', { ADMIN_TOKEN: ADMIN });
  open = await start('open', {});
});

afterAll(async () => {
  await svc?.close();
  await open?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("fastify's own errors answer in the one shape", async () => {
  expectError(await raw(svc.publicUrl, 'GET', '/nowhere'), 404, 'ERR_ROUTE_NOT_FOUND');
  expectError(await send('GET', '/admin/keys/%E0%A4%A'), 400, 'FST_ERR_BAD_URL');
  expectError(await send('GET', `/admin/keys/${'a'.repeat(3000)}`), 414, 'FST_ERR_MAX_PARAM_LENGTH');
  expectError(await send('POST', '/admin/keys/x', '{"alg":'), 400, 'FST_ERR_CTP_INVALID_JSON_BODY');
  expectError(await send('POST', '/admin/keys/x', ''), 400, 'FST_ERR_CTP_EMPTY_JSON_BODY');
  expectError(await send('POST', '/admin/keys/x', { alg: 'x'.repeat(70_000) }), 413, 'FST_ERR_CTP_BODY_TOO_LARGE');
  expectError(
    await send('POST', '/admin/keys/x', 'alg=ES256', { 'content-type': 'application/x-www-form-urlencoded' }),
    415,
    'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  );
  expectError(await send('GET', '/admin/keys/x', undefined, { authorization: 'Basic eDp5' }), 401, 'ERR_UNAUTHORIZED');
});

test("Hydra's paths: /keys without /admin, trailing slashes, Location on create", async () => {
  const made = await send('POST', '/keys/hydra.paths', { alg: 'ES256', kid: '', use: 'sig' });
  expect(made.status).toBe(201);
  expect(made.headers.location).toBe('/admin/keys/hydra.paths');
  const kid = (made.json.keys as Array<{ kid: string }>)[0]!.kid;
  const got = await send('GET', '/keys/hydra.paths/');
  expect([got.status, got.headers['cache-control']]).toEqual([200, 'private, no-cache, no-store, must-revalidate']);
  expect((await send('GET', '/admin/keys/hydra.paths/')).status).toBe(200);
  expect((await send('GET', `/keys/hydra.paths/${kid}/`)).status).toBe(200);
  expect((await send('DELETE', '/keys/hydra.paths')).status).toBe(204);
  expectError(await send('GET', '/admin/keys/hydra.paths'), 404, 'ERR_KEY_SET_NOT_FOUND');
  // The public port has no key routes, with or without the prefix.
  expect((await raw(svc.publicUrl, 'GET', '/keys/jwt.x')).status).toBe(404);
});

test('a set name of 255 characters (any characters) works over HTTP; 256 is refused with 400', async () => {
  const longest = '€'.repeat(255); // 2,295 characters percent-encoded
  const p = `/admin/keys/${encodeURIComponent(longest)}`;
  expect((await send('POST', p, { alg: 'ES256' })).status).toBe(201);
  expect((await send('GET', p)).json).toMatchObject({ keys: [expect.objectContaining({ alg: 'ES256' })] });
  expect((await send('DELETE', p)).status).toBe(204);
  expect((await send('GET', p)).status).toBe(404);
  // Reserved characters stay percent-encoded in the path: 765 characters, still within the limit.
  const slashes = `${'a/'.repeat(127)}a`;
  expect((await send('POST', `/admin/keys/${encodeURIComponent(slashes)}`, { alg: 'ES256' })).status).toBe(201);
  expect((await send('GET', `/keys/${encodeURIComponent(slashes)}/`)).status).toBe(200);
  expectError(
    await send('POST', `/admin/keys/${encodeURIComponent('€'.repeat(256))}`, { alg: 'ES256' }),
    400,
    'ERR_KEY_NAME_INVALID',
  );
  expectError(await send('POST', `/admin/keys/${'a'.repeat(256)}`, { alg: 'ES256' }), 400, 'ERR_KEY_NAME_INVALID');
  // Far longer than any name can be: fastify's 414, in the one shape.
  expectError(await send('GET', `/admin/keys/${'a'.repeat(2296)}`), 414, 'FST_ERR_MAX_PARAM_LENGTH');
});

test('deep JSON is refused with 400 before it is parsed, quickly', async () => {
  const deep = `{"claims":{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`;
  const started = Date.now();
  expectError(await send('POST', '/admin/jwt/jwt.x', deep), 400, 'ERR_JSON_TOO_DEEP');
  expect(Date.now() - started).toBeLessThan(10_000);
  expectError(
    await send('PUT', '/admin/keys/jwt.x/k', `{"kty":${'['.repeat(40)}${']'.repeat(40)}}`),
    400,
    'ERR_JSON_TOO_DEEP',
  );
  // Brackets inside strings do not count; a modest nesting is fine.
  const fine = await send('POST', '/admin/jwt/jwt.x', { claims: { s: '[[[['.repeat(100), n: [[[{ a: [1] }]]] } });
  expect(fine.status).toBe(200);
});

test('If-None-Match: weak validators, lists and * answer 304 (RFC 9110); another tag 200', async () => {
  const first = await raw(svc.publicUrl, 'GET', '/.well-known/jwks.json');
  const etag = first.headers.etag!;
  expect(etag).toMatch(/^"[^"]+"$/);
  for (const header of [etag, `W/${etag}`, `"nope", ${etag}`, `"a",W/${etag} , "b"`, '*']) {
    const again = await raw(svc.publicUrl, 'GET', '/.well-known/jwks.json', { headers: { 'if-none-match': header } });
    expect([header, again.status]).toEqual([header, 304]);
  }
  const other = await raw(svc.publicUrl, 'GET', '/.well-known/jwks.json', { headers: { 'if-none-match': '"nope"' } });
  expect(other.status).toBe(200);
});

test('the Bearer scheme in any case (RFC 9110 §11.1)', async () => {
  for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR']) {
    const r = await send('GET', '/admin/keys/jwt.x', undefined, { authorization: `${scheme} ${ADMIN}` });
    expect([scheme, r.status]).toEqual([scheme, 200]);
  }
  expectError(
    await send('GET', '/admin/keys/jwt.x', undefined, { authorization: `Bearer${ADMIN}` }),
    401,
    'ERR_UNAUTHORIZED',
  );
});

test('without ADMIN_TOKEN, admin requests must name this machine in Host (DNS rebinding)', async () => {
  const port = new URL(open.adminUrl).port;
  for (const host of [
    `localhost:${port}`,
    `127.0.0.1:${port}`,
    'localhost',
    `app.localhost:${port}`,
    `LOCALHOST:${port}`,
  ]) {
    const r = await raw(open.adminUrl, 'GET', '/admin/keys/jwt.x', { host });
    expect([host, r.status]).toEqual([host, 200]);
  }
  for (const host of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, 'localhost.evil.example', '']) {
    const r = await raw(open.adminUrl, 'GET', '/admin/keys/jwt.x', { host });
    expect([host, r.status]).toEqual([host, 403]);
    expectError(r, 403, 'ERR_HOST_NOT_ALLOWED');
  }
  // An absolute-form target names the host (RFC 9112 §3.2.2); two Host headers are refused.
  const wire = (head: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(`${head}Connection: close\r\n\r\n`));
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
      });
      socket.on('end', () => resolve(text.split(' ')[1] ?? ''));
      socket.on('error', reject);
    });
  expect(await wire(`GET http://evil.example/admin/keys/jwt.x HTTP/1.1\r\nHost: localhost:${port}\r\n`)).toBe('403');
  expect(await wire(`GET http://localhost:${port}/admin/keys/jwt.x HTTP/1.1\r\nHost: localhost:${port}\r\n`)).toBe(
    '200',
  );
  expect(await wire(`GET /admin/keys/jwt.x HTTP/1.1\r\nHost: localhost:${port}\r\nHost: evil.example\r\n`)).toBe('403');
  // The public port answers any name; with ADMIN_TOKEN the token decides, not the Host.
  expect((await raw(open.publicUrl, 'GET', '/.well-known/jwks.json', { host: 'evil.example' })).status).toBe(200);
  expect((await send('GET', '/admin/keys/jwt.x', undefined, { host: 'keys.example.com' })).status).toBe(200);
});

test('/admin/jwt adds iat, takes expires_in for exp, and refuses time claims that are not NumericDates', async () => {
  const now = Math.floor(Date.now() / 1000);
  const plain = await send('POST', '/admin/jwt/jwt.x', { claims: { sub: 'a' } });
  expect(plain.status).toBe(200);
  const p1 = decodeJwt(plain.json.token as string);
  expect(Math.abs(p1.iat! - now)).toBeLessThanOrEqual(5);
  const short = await send('POST', '/admin/jwt/jwt.x', { claims: { sub: 'a' }, expires_in: 60 });
  const p2 = decodeJwt(short.json.token as string);
  expect(p2.exp! - p2.iat!).toBe(60);
  expect(decodeJwt((await send('POST', '/admin/jwt/jwt.x', { claims: { iat: 1000 } })).json.token as string).iat).toBe(
    1000,
  );
  expectError(await send('POST', '/admin/jwt/jwt.x', { claims: {}, expires_in: 2 * 3600 }), 400, 'ERR_TOKEN_LIFETIME');
  for (const claims of [{ exp: 'tomorrow' }, { nbf: '0' }, { iat: null }, { exp: -1 }, { iat: [1] }]) {
    expectError(await send('POST', '/admin/jwt/jwt.x', { claims }), 400, 'ERR_JWT_CLAIM_INVALID');
  }
  expectError(
    await send('POST', '/admin/jwt/jwt.x', { claims: { exp: now + 60 }, expires_in: 60 }),
    400,
    'ERR_JWT_CLAIM_INVALID',
  );
  expectError(await send('POST', '/admin/jwt/jwt.x', { claims: {}, expires_in: 0 }), 400, 'ERR_REQUEST_INVALID');
  // Wrong types are refused, never converted (fastify's default would make `true` 1 and "60" 60).
  for (const expires_in of [true, '60', [60]])
    expectError(await send('POST', '/admin/jwt/jwt.x', { claims: {}, expires_in }), 400, 'ERR_REQUEST_INVALID');
  expectError(await send('POST', '/admin/keys/jwt.y', { alg: ['ES256'] }), 400, 'ERR_REQUEST_INVALID');
  expectError(await send('POST', '/admin/jwt/jwt.x', { claims: {}, expires_in: 'soon' }), 400, 'ERR_REQUEST_INVALID');
});
