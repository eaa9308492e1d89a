// Operating the key service, over real HTTP on loopback: /version and health on both ports,
// metrics on the admin port only (Hydra's path, behind the admin token) with HELP and TYPE on every
// family and requests counted by route pattern and status, CORS on the public port, an audit line
// for every admin action and every refused request (never a secret), and timeouts that cut a
// trickled request on both ports.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadConfig } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { STAT_HELP } from '../../lib/server/metrics';
import { startService, type Service } from '../../lib/server/serve';
import { fetch } from '../helpers/recording-fetch';
import { record } from '../helpers/secret-leak-recorder';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const ADMIN = 'the-ops-test-admin-token';
const SECRET = 'the-ops-test-seal-secret';
const VERSION = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

let dir: string;
let hsm: Service; // HSM-backed, CORS on
let soft: Service; // software keys only, CORS off, 1 s request timeout
const lines: string[] = [];

/** A logger writing JSON lines into `lines` (and to the leak check's collection). */
function capturingLogger() {
  return createLogger('debug', {
    format: 'json',
    stream: {
      write: (line: string) => {
        lines.push(line);
        record('log', 'service-ops', line);
      },
    },
  });
}
const auditLines = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'audit');

async function call(method: string, url: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  const r = await fetch(url, {
    method,
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text };
}
const bearer = { authorization: `Bearer ${ADMIN}` };

beforeAll(async () => {
  softHsm().initToken('ops');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-ops-'));
  const logger = capturingLogger();
  hsm = await startService(
    loadConfig({
      HSM_ENABLED: 'true',
      HSM_LIBRARY: SOFTHSM_MODULE,
      HSM_TOKEN_LABEL: 'ops',
      HSM_PIN: USER_PIN,
      DSN: `sqlite://${path.join(dir, 'hsm.sqlite')}`,
      SECRETS_SYSTEM: SECRET,
      ADMIN_TOKEN: ADMIN,
      SERVE_PUBLIC_PORT: '0',
      SERVE_ADMIN_PORT: '0',
      WEBFINGER_JWKS_BROADCAST_KEYS: 'ops.es',
      JWKS_DEFAULT_ALG: 'ES256',
      SERVE_PUBLIC_CORS_ENABLED: 'true',
      SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: 'https://app.example.com,https://*.example.org',
      SERVE_PUBLIC_CORS_MAX_AGE: '600',
    }),
    { logger, schedule: false },
  );
  soft = await startService(
    loadConfig({
      DSN: `sqlite://${path.join(dir, 'soft.sqlite')}`,
      SECRETS_SYSTEM: SECRET,
      PUBLIC_PORT: '0',
      ADMIN_PORT: '0',
      JWKS_PUBLIC_SETS: 'ops.soft',
      JWKS_DEFAULT_ALG: 'ES256',
      SERVE_REQUEST_TIMEOUT: '1s',
      HEALTH_PORT: '0',
    }),
    { logger, schedule: false },
  );
});

afterAll(async () => {
  await hsm?.close();
  await soft?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("Hydra's published sets: the broadcast set and Hydra's two", async () => {
  const r = await call('GET', `${hsm.publicUrl}/.well-known/jwks.json`);
  expect(r.status).toBe(200);
  expect((JSON.parse(r.text) as { keys: unknown[] }).keys).toHaveLength(3);
});

test('/version, /health/alive and /health/ready on both ports, without authentication', async () => {
  for (const base of [hsm.publicUrl, hsm.adminUrl, soft.publicUrl, soft.adminUrl]) {
    const v = await call('GET', `${base}/version`);
    expect([v.status, JSON.parse(v.text)]).toEqual([200, { version: VERSION }]);
    const alive = await call('GET', `${base}/health/alive`);
    expect([alive.status, JSON.parse(alive.text)]).toEqual([200, { status: 'ok' }]);
    const ready = await call('GET', `${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ status: 'ok' });
  }
  expect(JSON.parse((await call('GET', `${hsm.adminUrl}/health/ready`)).text)).toEqual({
    status: 'ok',
    token: 'ready',
  });
});

/** Every family's name, from its `# TYPE` line; each must have a `# HELP` line and only its own samples. */
function families(text: string): Map<string, { help?: string; type?: string }> {
  const out = new Map<string, { help?: string; type?: string }>();
  for (const line of text.split('\n')) {
    const m = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (!m) continue;
    const f = out.get(m[2]!) ?? {};
    if (m[1] === 'HELP') f.help = m[3];
    else f.type = m[3];
    out.set(m[2]!, f);
  }
  return out;
}

test("metrics: on the admin port only, at Hydra's path, behind the admin token; HELP and TYPE on every family", async () => {
  // Set names and error counts are not for anyone who can reach the public port.
  expect((await call('GET', `${hsm.publicUrl}/metrics`)).status).toBe(404);
  expect((await call('GET', `${hsm.publicUrl}/admin/metrics/prometheus`)).status).toBe(404);
  expect((await call('GET', `${hsm.adminUrl}/admin/metrics/prometheus`)).status).toBe(401);
  expect((await call('GET', `${hsm.adminUrl}/metrics`)).status).toBe(404);

  expect(
    (await call('POST', `${hsm.adminUrl}/admin/jwt/ops.es`, { body: { claims: { sub: 'a' } }, headers: bearer }))
      .status,
  ).toBe(200);
  const r = await call('GET', `${hsm.adminUrl}/admin/metrics/prometheus`, { headers: bearer });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const fams = families(r.text);
  expect(fams.size).toBeGreaterThanOrEqual(20);
  for (const [name, f] of fams) {
    expect({ name, help: typeof f.help, type: f.type }).toEqual({
      name,
      help: 'string',
      type: expect.stringMatching(/^(counter|gauge|histogram)$/),
    });
    // No figure of the key manager goes out with the generic fallback text: each is described in STAT_HELP.
    expect({ name, help: f.help }).not.toEqual({
      name,
      help: expect.stringContaining('(a figure of the key manager)'),
    });
  }
  // Every sample belongs to a family that has both lines.
  for (const line of r.text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)![1]!;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    expect([line, fams.has(name) || fams.get(family)?.type === 'histogram']).toEqual([line, true]);
  }
  for (const name of ['hsm_jwks_token_ready', 'hsm_jwks_pool_waiting', 'hsm_jwks_engine_signatures_total'])
    expect(fams.get(name)?.help).toBe(STAT_HELP[name]![1]);
  expect(r.text).toMatch(/hsm_jwks_signatures_total\{set="ops.es"\} 1/);
  expect(r.text).toMatch(/hsm_jwks_sign_duration_seconds_count 1/);
});

test('requests are counted, and timed, by route pattern and status (never the raw URL)', async () => {
  for (let i = 0; i < 2; i++)
    expect((await call('GET', `${hsm.adminUrl}/admin/keys/ops.es`, { headers: bearer })).status).toBe(200);
  expect((await call('GET', `${hsm.adminUrl}/admin/keys/ops.es`)).status).toBe(401);
  expect((await call('GET', `${hsm.publicUrl}/no/such/path-7f3a9c`)).status).toBe(404);
  const text = (await call('GET', `${hsm.adminUrl}/admin/metrics/prometheus`, { headers: bearer })).text;
  expect(text).toMatch(
    /hsm_jwks_http_requests_total\{port="admin",method="GET",route="\/admin\/keys\/:set",status="200"\} 2\n/,
  );
  expect(text).toMatch(
    /hsm_jwks_http_requests_total\{port="admin",method="GET",route="\/admin\/keys\/:set",status="401"\} 1\n/,
  );
  expect(text).toMatch(
    /hsm_jwks_http_requests_total\{port="public",method="GET",route="unmatched",status="404"\} [1-9]\d*\n/,
  );
  expect(text).toMatch(
    /hsm_jwks_http_request_duration_seconds_count\{port="admin",method="GET",route="\/admin\/keys\/:set",status="200"\} 2\n/,
  );
  expect(text).toMatch(
    /hsm_jwks_http_request_duration_seconds_bucket\{port="admin",method="GET",route="\/admin\/keys\/:set",status="200",le="\+Inf"\} 2\n/,
  );
  expect(text).not.toContain('7f3a9c');
  expect(text).not.toContain('ops.es"} 2'); // no set name in the request series: the pattern only
});

describe('CORS on the public port', () => {
  const jwks = () => `${hsm.publicUrl}/.well-known/jwks.json`;

  test('an allowed origin is echoed, with credentials and the exposed headers; others get nothing', async () => {
    for (const origin of ['https://app.example.com', 'https://a.example.org', 'https://b.c.example.org']) {
      const r = await call('GET', jwks(), { headers: { origin } });
      expect(r.status).toBe(200);
      expect(r.headers.get('access-control-allow-origin')).toBe(origin);
      expect(r.headers.get('access-control-allow-credentials')).toBe('true');
      expect(r.headers.get('access-control-expose-headers')).toContain('Cache-Control');
      expect(r.headers.get('vary')).toContain('Origin');
    }
    for (const origin of ['https://evil.example', 'https://example.org', 'http://app.example.com']) {
      const r = await call('GET', jwks(), { headers: { origin } });
      expect(r.status).toBe(200);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  test('a preflight is answered 204, with the CORS headers only when origin, method and headers are allowed', async () => {
    const ok = await call('OPTIONS', jwks(), {
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(ok.headers.get('access-control-allow-methods')).toBe('GET');
    expect(ok.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(ok.headers.get('access-control-max-age')).toBe('600');
    expect(ok.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    for (const headers of <Array<Record<string, string>>>[
      { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      {
        origin: 'https://app.example.com',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'x-secret',
      },
    ]) {
      const r = await call('OPTIONS', jwks(), { headers });
      expect(r.status).toBe(204);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
    // Unknown paths stay 404; the admin routes get no CORS, on either port.
    expect(
      (await call('OPTIONS', `${hsm.publicUrl}/nowhere`, { headers: { origin: 'https://app.example.com' } })).status,
    ).toBe(404);
    const admin = await call('OPTIONS', `${hsm.adminUrl}/admin/keys/ops.es`, {
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    expect(admin.headers.get('access-control-allow-origin')).toBeNull();
    const adminGet = await call('GET', `${hsm.adminUrl}/admin/keys/ops.es`, {
      headers: { ...bearer, origin: 'https://app.example.com' },
    });
    expect([adminGet.status, adminGet.headers.get('access-control-allow-origin')]).toEqual([200, null]);
  });

  test('CORS off (the default): OPTIONS is still answered, without CORS headers', async () => {
    const r = await call('OPTIONS', `${soft.publicUrl}/.well-known/jwks.json`, {
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    expect([r.status, r.headers.get('allow'), r.headers.get('access-control-allow-origin')]).toEqual([
      204,
      'GET, HEAD, OPTIONS',
      null,
    ]);
    const get = await call('GET', `${soft.publicUrl}/.well-known/jwks.json`, { headers: { origin: 'https://a.b' } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });
});

test('audit: a line for every admin action and every refused request, with who, what, set, kid, result; no secret', async () => {
  lines.length = 0;
  const created = await call('POST', `${hsm.adminUrl}/admin/keys/ops.audit`, {
    body: { alg: 'ES256', kid: 'audit-1', use: 'sig' },
    headers: bearer,
  });
  expect(created.status).toBe(201);
  const generated = await call('POST', `${hsm.adminUrl}/admin/keys/ops.audit`, {
    body: { alg: 'ES256' },
    headers: bearer,
  });
  expect(generated.status).toBe(201);
  const kid = (JSON.parse(generated.text) as { keys: Array<{ kid: string }> }).keys[0]!.kid;
  expect((await call('DELETE', `${hsm.adminUrl}/admin/keys/ops.audit/audit-1`, { headers: bearer })).status).toBe(204);
  // Reads and signatures: audited at debug (the data path: thousands a second at info would drown the log).
  expect((await call('GET', `${hsm.adminUrl}/admin/keys/ops.audit`, { headers: bearer })).status).toBe(200);
  expect(
    (await call('POST', `${hsm.adminUrl}/admin/jwt/ops.es`, { headers: bearer, body: { claims: { sub: 'a' } } }))
      .status,
  ).toBe(200);
  expect(
    (
      await call('GET', `${hsm.adminUrl}/admin/keys/ops.audit`, {
        headers: { authorization: 'Bearer not-the-token-at-all' },
      })
    ).status,
  ).toBe(401);
  expect((await call('GET', `${hsm.adminUrl}/admin/keys/ops.none`, { headers: bearer })).status).toBe(404);
  expect((await call('GET', `${hsm.publicUrl}/.env?token=abc`)).status).toBe(404);
  // A successful public read is not an admin action: no line.
  expect((await call('GET', `${hsm.publicUrl}/.well-known/jwks.json`)).status).toBe(200);

  const audit = auditLines();
  const common = { remote: expect.stringMatching(/127\.0\.0\.1$/), ms: expect.any(Number) };
  expect(audit).toEqual([
    expect.objectContaining({
      ...common,
      level: 'info',
      outcome: 'done',
      method: 'POST',
      route: '/admin/keys/:set',
      set: 'ops.audit',
      kid: 'audit-1',
      status: 201,
    }),
    expect.objectContaining({ ...common, method: 'POST', set: 'ops.audit', kid, status: 201 }),
    expect.objectContaining({
      ...common,
      method: 'DELETE',
      route: '/admin/keys/:set/:kid',
      set: 'ops.audit',
      kid: 'audit-1',
      status: 204,
    }),
    expect.objectContaining({ ...common, level: 'debug', method: 'GET', route: '/admin/keys/:set', status: 200 }),
    expect.objectContaining({ ...common, level: 'debug', method: 'POST', route: '/admin/jwt/:set', status: 200 }),
    expect.objectContaining({
      ...common,
      level: 'warn',
      outcome: 'refused',
      method: 'GET',
      route: '/admin/keys/:set',
      set: 'ops.audit',
      status: 401,
      code: 'ERR_UNAUTHORIZED',
    }),
    expect.objectContaining({
      ...common,
      outcome: 'refused',
      set: 'ops.none',
      status: 404,
      code: 'ERR_KEY_SET_NOT_FOUND',
    }),
    expect.objectContaining({ ...common, outcome: 'refused', route: 'unmatched', path: '/.env', status: 404 }),
  ]);
  // JSON lines: the level by name, the time in ISO 8601.
  expect(audit[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const all = lines.join('\n');
  // (the PIN is looked for by the secret-leak check, test/reporters/secret-leak-reporter.js, which these lines go to)
  for (const secret of [ADMIN, 'not-the-token-at-all', SECRET, 'token=abc']) expect(all).not.toContain(secret);
  expect(all).not.toMatch(/"d":|authorization/i);
});

/**
 * Sends `head` then one byte of `trickle` a second; resolves with how long the server kept the
 * connection open and what it answered. Gives up (resolves) after `giveUpMs`.
 */
function trickle(base: string, head: string, body: string, giveUpMs: number) {
  const { hostname, port } = new URL(base);
  return new Promise<{ ms: number; answer: string; cut: boolean }>((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(port), hostname);
    let answer = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (cut: boolean) => {
      clearInterval(timer);
      clearTimeout(stop);
      socket.destroy();
      resolve({ ms: Date.now() - started, answer, cut });
    };
    const stop = setTimeout(() => finish(false), giveUpMs);
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (i < body.length && !socket.destroyed) socket.write(body[i++]!);
      }, 1000);
    });
  });
}

test('a trickled request is cut within the bound on both ports, unauthenticated (SERVE_REQUEST_TIMEOUT=1s)', async () => {
  const host = (base: string) => new URL(base).host;
  const post = (base: string, p: string, auth = '') =>
    `POST ${p} HTTP/1.1\r\nHost: ${host(base)}\r\n${auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n`;
  const slowHeaders = (base: string) => `GET /.well-known/jwks.json HTTP/1.1\r\nHost: ${host(base)}\r\n`;
  const body = '{"claims":{"sub":"slow"}}'.padEnd(1000, ' ');
  const GIVE_UP = 15_000;
  // Without the timeouts each would stay open until GIVE_UP (the body needs 1000 s at this pace).
  const results = await Promise.all([
    trickle(soft.publicUrl, post(soft.publicUrl, '/.well-known/jwks.json'), body, GIVE_UP),
    trickle(soft.adminUrl, post(soft.adminUrl, '/admin/jwt/ops.soft'), body, GIVE_UP),
    // Headers trickled (no end of headers): the headers timeout, which SERVE_REQUEST_TIMEOUT bounds.
    trickle(soft.publicUrl, slowHeaders(soft.publicUrl), 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaa', GIVE_UP),
    trickle(soft.adminUrl, slowHeaders(soft.adminUrl), 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaa', GIVE_UP),
    // The HSM service's admin port refuses the missing token at once and closes the connection.
    trickle(hsm.adminUrl, post(hsm.adminUrl, '/admin/jwt/ops.es'), body, GIVE_UP),
    // HEALTH_PORT's listener (a worker thread) has the same bounds.
    trickle(soft.healthUrl!, slowHeaders(soft.healthUrl!), 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaa', GIVE_UP),
  ]);
  for (const r of results) {
    // 1 s timeout, swept every 250 ms: well under the bound (a bound, not a performance figure).
    expect({ cut: r.cut, within: r.ms < 8000 }).toEqual({ cut: true, within: true });
  }
  expect(results[0]!.answer).toMatch(/^HTTP\/1\.1 (404|408)/);
  expect(results[1]!.answer).toMatch(/^HTTP\/1\.1 408/);
  expect(results[2]!.answer).toMatch(/^HTTP\/1\.1 408/);
  // In the service's one error shape, not fastify's default client-error body.
  expect(JSON.parse(results[2]!.answer.split('\r\n\r\n')[1]!)).toEqual({
    error: 'request_timeout',
    error_description: expect.any(String),
    status_code: 408,
    error_code: 'ERR_REQUEST_TIMEOUT',
  });
  expect(results[4]!.answer).toMatch(/^HTTP\/1\.1 401/);
  expect(results[4]!.answer).toMatch(/\r\nconnection: close\r\n/i);
  expect(results[5]!.answer).toMatch(/^HTTP\/1\.1 408/);
  // The cut requests are audited (connection-level refusals), and counted.
  expect(auditLines()).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ outcome: 'refused', status: 408, code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
    ]),
  );
}, 30_000);

test('the cut requests are counted by port and cause', async () => {
  const text = (await call('GET', `${soft.adminUrl}/admin/metrics/prometheus`)).text;
  expect(text).toMatch(/hsm_jwks_connection_errors_total\{port="public",cause="ERR_HTTP_REQUEST_TIMEOUT"\} [1-9]/);
  expect(text).toMatch(/hsm_jwks_connection_errors_total\{port="admin",cause="ERR_HTTP_REQUEST_TIMEOUT"\} [1-9]/);
});

test('separate hosts (SERVE_PUBLIC_HOST, SERVE_ADMIN_HOST); SERVE_MAX_CONNECTIONS: connections over the limit are closed at once, and audited', async () => {
  const small = await startService(
    loadConfig({
      DSN: `sqlite://${path.join(dir, 'small.sqlite')}`,
      SECRETS_SYSTEM: SECRET,
      PUBLIC_PORT: '0',
      ADMIN_PORT: '0',
      JWKS_PUBLIC_SETS: 'ops.small',
      JWKS_DEFAULT_ALG: 'ES256',
      SERVE_MAX_CONNECTIONS: '2',
      SERVE_PUBLIC_HOST: '127.0.0.2',
      SERVE_ADMIN_HOST: '127.0.0.1',
    }),
    { logger: capturingLogger(), schedule: false },
  );
  expect(small.publicUrl).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
  expect(small.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const { port, hostname } = new URL(small.publicUrl);
  const open = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(Number(port), hostname, () => resolve(s));
      s.on('error', reject);
    });
  const held = [await open(), await open()];
  try {
    const third = await open();
    const closed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      third.on('close', () => {
        clearTimeout(t);
        resolve(true);
      });
      third.on('error', () => undefined);
    });
    expect(closed).toBe(true);
    expect(auditLines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ outcome: 'refused', cause: 'max-connections', port: 'public' }),
      ]),
    );
  } finally {
    for (const s of held) s.destroy();
    await small.close();
  }
});

test('one port for both (SERVE_PUBLIC_PORT = SERVE_ADMIN_PORT): health, version, metrics and CORS once each', async () => {
  const free = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
  const one = await startService(
    loadConfig({
      DSN: `sqlite://${path.join(dir, 'one.sqlite')}`,
      SECRETS_SYSTEM: SECRET,
      SERVE_PUBLIC_PORT: String(free),
      SERVE_ADMIN_PORT: String(free),
      JWKS_PUBLIC_SETS: 'ops.one',
      JWKS_DEFAULT_ALG: 'ES256',
      SERVE_PUBLIC_CORS_ENABLED: 'true',
    }),
    { logger: capturingLogger(), schedule: false },
  );
  try {
    expect(one.publicUrl).toBe(one.adminUrl);
    expect(JSON.parse((await call('GET', `${one.publicUrl}/version`)).text)).toEqual({ version: VERSION });
    expect((await call('GET', `${one.publicUrl}/health/ready`)).status).toBe(200);
    expect((await call('GET', `${one.publicUrl}/admin/metrics/prometheus`)).status).toBe(200);
    // Every origin when the list is empty (Hydra's rule); never on admin routes.
    const jwks = await call('GET', `${one.publicUrl}/.well-known/jwks.json`, { headers: { origin: 'https://x.test' } });
    expect(jwks.headers.get('access-control-allow-origin')).toBe('https://x.test');
    const admin = await call('GET', `${one.publicUrl}/admin/keys/ops.one`, { headers: { origin: 'https://x.test' } });
    expect([admin.status, admin.headers.get('access-control-allow-origin')]).toEqual([200, null]);
    expect((await call('OPTIONS', `${one.publicUrl}/admin/keys/ops.one`)).status).toBe(404);
  } finally {
    await one.close();
  }
});
