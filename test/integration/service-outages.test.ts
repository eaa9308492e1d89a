// The service through an outage, over real HTTP: a PIN changed on the token then the device gone
// once (one C_Login; 503 ERR_LOGIN_REFUSED; back after the operator's act), and the token deleted
// under load and re-created (503 ERR_TOKEN_UNAVAILABLE, never 404; signing again within 5 s).
// Readiness follows the token's state without scanning keys.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadConfig } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { startService, type Service } from '../../lib/server/serve';
import { fetch } from '../helpers/recording-fetch';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const FAULT = path.join(__dirname, '..', '..', 'build', 'fault-module', 'libfault_pkcs11.so');
const ADMIN = 'an-admin-token-of-the-outage-tests';
const control = (text: string) => fs.writeFileSync(process.env.FAULT_CONTROL!, text);
const logins = () =>
  fs.existsSync(process.env.FAULT_LOG!)
    ? fs
        .readFileSync(process.env.FAULT_LOG!, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('C_Login'))
    : [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir: string;

beforeAll(() => {
  if (!fs.existsSync(FAULT)) throw new Error(`${FAULT} is missing: run npm run build:test-tools (npm test does)`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-outages-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeEach(() => control(''));

async function start(label: string, env: Record<string, string>): Promise<Service> {
  softHsm().initToken(label);
  const config = loadConfig({
    HSM_ENABLED: 'true',
    HSM_TOKEN_LABEL: label,
    DSN: `sqlite://${path.join(dir, `${label}.sqlite`)}`,
    SECRETS_SYSTEM: 'the-outage-test-secret',
    ADMIN_TOKEN: ADMIN,
    PUBLIC_PORT: '0',
    ADMIN_PORT: '0',
    JWKS_PUBLIC_SETS: 'jwt.es',
    JWKS_DEFAULT_ALG: 'ES256',
    ...env,
  });
  return startService(config, { logger: silentLogger, schedule: false });
}

async function post(svc: Service, p: string, body: unknown = {}): Promise<{ status: number; code?: string }> {
  const r = await fetch(`${svc.adminUrl}/admin${p}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await r.json()) as { error_code?: string };
  return { status: r.status, ...(answer.error_code ? { code: answer.error_code } : {}) };
}
const signJwt = (svc: Service) => post(svc, '/jwt/jwt.es', { claims: { sub: 'outage' } });
async function ready(svc: Service, base = svc.publicUrl): Promise<{ status: number; token?: string }> {
  const r = await fetch(`${base}/health/ready`);
  const { token } = (await r.json()) as { token?: string };
  return { status: r.status, ...(token ? { token } : {}) };
}

/** `n` clients posting JWT requests for `ms`; the statuses and error codes they got. */
async function load(svc: Service, ms: number, n = 4): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (Date.now() < until) {
        const r = await signJwt(svc);
        const k = `${r.status}${r.code ? ` ${r.code}` : ''}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    }),
  );
  return seen;
}

test('PIN changed, device gone once: one C_Login, 503 ERR_LOGIN_REFUSED and not ready; POST /admin/hsm/login after the fix', async () => {
  const svc = await start('svc-pin', { HSM_LIBRARY: FAULT, HSM_PIN: USER_PIN });
  try {
    expect(await signJwt(svc)).toEqual({ status: 200 });
    expect(await ready(svc)).toMatchObject({ status: 200, token: 'ready' });
    softHsm().pkcs11Tool([
      '--token-label',
      'svc-pin',
      '--login',
      '--pin',
      USER_PIN,
      '--change-pin',
      '--new-pin',
      '24680',
    ]);
    fs.rmSync(process.env.FAULT_LOG!, { force: true });
    control('device_gone\n');
    await signJwt(svc);
    control('');
    const seen = await load(svc, 2000);
    expect([...seen.keys()]).toContain('503 ERR_LOGIN_REFUSED');
    expect([...seen.keys()].every((k) => k.startsWith('503 '))).toBe(true);
    expect(logins()).toEqual(['C_Login 0xa0']);
    expect(await ready(svc)).toMatchObject({ status: 503, token: 'login-refused' });

    // An operator asking before fixing anything costs one more try, no more.
    expect(await post(svc, '/hsm/login')).toEqual({ status: 503, code: 'ERR_LOGIN_REFUSED' });
    expect(logins()).toHaveLength(2);
    softHsm().pkcs11Tool([
      '--token-label',
      'svc-pin',
      '--login',
      '--pin',
      '24680',
      '--change-pin',
      '--new-pin',
      USER_PIN,
    ]);
    expect(await post(svc, '/hsm/login')).toEqual({ status: 200 });
    expect(await signJwt(svc)).toEqual({ status: 200 });
    expect(await ready(svc)).toMatchObject({ status: 200, token: 'ready' });
    expect(logins()).toHaveLength(3);
  } finally {
    control('');
    await svc.close();
  }
});

test('a new PIN written to HSM_PIN_FILE is the operator act: one login with it', async () => {
  const pinFile = path.join(dir, 'pin');
  fs.writeFileSync(pinFile, `${USER_PIN}\n`);
  const svc = await start('svc-pinfile', { HSM_LIBRARY: FAULT, HSM_PIN_FILE: pinFile });
  try {
    softHsm().pkcs11Tool([
      '--token-label',
      'svc-pinfile',
      '--login',
      '--pin',
      USER_PIN,
      '--change-pin',
      '--new-pin',
      '13579',
    ]);
    fs.rmSync(process.env.FAULT_LOG!, { force: true });
    control('device_gone\n');
    await signJwt(svc);
    control('');
    await load(svc, 1500, 2);
    expect(logins()).toEqual(['C_Login 0xa0']);
    // The refused PIN written again (an agent re-rendering the file, a touch) is no act: nothing is sent.
    fs.writeFileSync(pinFile, `${USER_PIN}\n`);
    await sleep(4500); // two of the watch's 2 s polls
    expect(logins()).toEqual(['C_Login 0xa0']);
    fs.writeFileSync(pinFile, '13579\n');
    let r = await signJwt(svc);
    for (const until = Date.now() + 8000; r.status !== 200 && Date.now() < until; r = await signJwt(svc))
      await sleep(100);
    expect(r).toEqual({ status: 200 });
    expect(logins()).toEqual(['C_Login 0xa0', 'C_Login 0x0']);
    // A confused operator removes the file and asks for a login: told why (503, the file named), no login tried.
    fs.rmSync(pinFile);
    expect(await post(svc, '/hsm/login')).toEqual({ status: 503, code: 'ERR_CONFIG' });
    expect(logins()).toHaveLength(2);
  } finally {
    control('');
    await svc.close();
  }
});

test('the token deleted under load: 503 ERR_TOKEN_UNAVAILABLE (never 404) and not ready; re-created with a key, signing within 5 s', async () => {
  const svc = await start('svc-gone', {
    HSM_LIBRARY: SOFTHSM_MODULE,
    HSM_PIN: USER_PIN,
    HEALTH_PORT: '0',
    JWKS_CACHE_SECONDS: '1',
  });
  try {
    expect(await signJwt(svc)).toEqual({ status: 200 });
    const jwksBefore = await (await fetch(`${svc.publicUrl}/.well-known/jwks.json`)).text();
    expect(svc.healthUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(svc.healthUrl).not.toBe(svc.publicUrl);
    expect(await ready(svc, svc.healthUrl)).toMatchObject({ status: 200, token: 'ready' });
    // Its paths follow the other ports' rules: query and trailing slash ignored, the one error shape.
    expect((await fetch(`${svc.healthUrl}/health/alive/?probe=1`)).status).toBe(200);
    for (const [method, p] of [
      ['GET', '/nope'],
      ['POST', '/health/alive'],
    ] as const) {
      const r = await fetch(`${svc.healthUrl}${p}`, { method });
      expect({ status: r.status, body: await r.json() }).toEqual({
        status: 404,
        body: {
          error: 'not_found',
          error_description: expect.any(String),
          status_code: 404,
          error_code: 'ERR_ROUTE_NOT_FOUND',
        },
      });
    }
    const running = load(svc, 1500);
    await sleep(300);
    execFileSync('softhsm2-util', ['--delete-token', '--token', 'svc-gone'], { env: process.env, stdio: 'ignore' });
    const seen = await running;
    expect(seen.get('503 ERR_TOKEN_UNAVAILABLE')).toBeGreaterThan(0);
    for (const k of seen.keys()) expect(['200', '503 ERR_TOKEN_UNAVAILABLE']).toContain(k);
    expect(await ready(svc)).toMatchObject({ status: 503, token: 'unavailable' });
    // The readiness listener of its own (HEALTH_PORT, a worker thread) says the same within its 200 ms publishing period.
    await sleep(400);
    expect(await ready(svc, svc.healthUrl)).toMatchObject({ status: 503, token: 'unavailable' });
    expect(await post(svc, '/keys/jwt.es', { alg: 'ES256' })).toMatchObject({
      status: 503,
      code: 'ERR_TOKEN_UNAVAILABLE',
    });
    // 503s say when to come back.
    const refused = await fetch(`${svc.adminUrl}/admin/jwt/jwt.es`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ claims: {} }),
    });
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([503, '5']);
    await refused.text();
    // The JWKS past its cache time (1 s) during the outage: the last good set, with its age, never a 503.
    await sleep(1100);
    const stale = await fetch(`${svc.publicUrl}/.well-known/jwks.json`);
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe(jwksBefore);
    expect(stale.headers.get('age')).toMatch(/^[1-9]\d*$/);
    expect(stale.headers.get('warning')).toBe('110 hsm-jwks "Response is Stale"');

    // Re-created by an operator with the same label and a key labelled with the set's name.
    softHsm().initToken('svc-gone');
    softHsm().pkcs11Tool([
      '--token-label',
      'svc-gone',
      '--login',
      '--pin',
      USER_PIN,
      '--keypairgen',
      '--key-type',
      'EC:prime256v1',
      '--id',
      '0102',
      '--label',
      'jwt.es',
    ]);
    const back = Date.now();
    let r = await signJwt(svc);
    while (r.status !== 200 && Date.now() - back < 5000) {
      await sleep(50);
      r = await signJwt(svc);
    }
    expect(r).toEqual({ status: 200 });
    expect(Date.now() - back).toBeLessThan(5000);
    expect(await ready(svc)).toMatchObject({ status: 200, token: 'ready' });
    await sleep(400);
    expect(await ready(svc, svc.healthUrl)).toMatchObject({ status: 200, token: 'ready' });
  } finally {
    await svc.close();
  }
});
