// The key service over real HTTP on loopback: every route, auth, errors with their statuses,
// ETag/304, and a real client (jose createRemoteJWKSet) verifying tokens the service signed.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createRemoteJWKSet, jwtVerify } from 'jose';

import { loadConfig } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { startService, type Service } from '../../lib/server/serve';
import { fetch } from '../helpers/recording-fetch';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const ADMIN = 'an-admin-token-of-the-tests';
let dir: string;
let svc: Service;

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return {
    status: r.status,
    headers: r.headers,
    json: json as Record<string, unknown> & { keys?: Array<Record<string, unknown>> },
  };
}
const admin = (p: string) => `${svc.adminUrl}/admin${p}`;

beforeAll(async () => {
  softHsm().initToken('svc');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-svc-'));
  const config = loadConfig({
    HSM_ENABLED: 'true',
    HSM_LIBRARY: SOFTHSM_MODULE,
    HSM_TOKEN_LABEL: 'svc',
    HSM_PIN: USER_PIN,
    DSN: `sqlite://${path.join(dir, 'svc.sqlite')}`,
    SECRETS_SYSTEM: 'the-service-test-secret',
    ADMIN_TOKEN: ADMIN,
    PUBLIC_PORT: '0',
    ADMIN_PORT: '0',
    JWKS_PUBLIC_SETS: 'jwt.rs,jwt.es,jwt.ed',
    JWKS_DEFAULT_ALG: 'ES256',
  });
  svc = await startService(config, { logger: silentLogger });
});

afterAll(async () => {
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the public sets exist from the start; the JWKS has an ETag and answers 304 to it', async () => {
  const r = await fetch(`${svc.publicUrl}/.well-known/jwks.json`);
  expect(r.status).toBe(200);
  expect(r.headers.get('cache-control')).toBe('public, max-age=30');
  const jwks = (await r.json()) as { keys: Array<{ kid: string; alg: string; d?: string }> };
  expect(jwks.keys).toHaveLength(3);
  expect(jwks.keys.every((k) => k.alg === 'ES256' && k.d === undefined)).toBe(true);
  const again = await fetch(`${svc.publicUrl}/.well-known/jwks.json`, {
    headers: { 'if-none-match': r.headers.get('etag')! },
  });
  expect(again.status).toBe(304);
});

test('admin routes need the Bearer token', async () => {
  for (const headers of [
    { authorization: '' },
    { authorization: 'Bearer wrong-token-wrong-token' },
    { authorization: 'Basic abc' },
  ]) {
    const r = await call('GET', admin('/keys/jwt.es'), undefined, headers);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(r.json).toMatchObject({ error: 'unauthorized', error_code: 'ERR_UNAUTHORIZED' });
  }
  expect((await fetch(`${svc.publicUrl}/admin/keys/jwt.es`)).status).toBe(404); // not on the public port
});

test('a real client verifies tokens the service signs, for RS256, ES256 and EdDSA', async () => {
  expect((await call('POST', admin('/keys/jwt.rs'), { alg: 'RS256', kid: 'rs-1', activate_now: true })).status).toBe(
    201,
  );
  expect((await call('POST', admin('/keys/jwt.ed'), { alg: 'EdDSA', kid: 'ed-1', activate_now: true })).status).toBe(
    201,
  );
  const jwks = createRemoteJWKSet(new URL(`${svc.publicUrl}/.well-known/jwks.json`));
  for (const [set, alg] of [
    ['jwt.rs', 'RS256'],
    ['jwt.es', 'ES256'],
    ['jwt.ed', 'EdDSA'],
  ]) {
    const r = await call('POST', admin(`/jwt/${set}`), { claims: { sub: 'app', aud: 'api' } });
    expect(r.status).toBe(200);
    const { payload, protectedHeader } = await jwtVerify(r.json.token as string, jwks, { audience: 'api' });
    expect([payload.sub, protectedHeader.alg]).toEqual(['app', alg]);
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000 + 3500);
  }
  // TOKEN_MAX_LIFETIME (1 h by default): an exp is added when absent, and a later one is refused.
  const far = await call('POST', admin('/jwt/jwt.es'), {
    claims: { sub: 'app', exp: Math.floor(Date.now() / 1000) + 2 * 3600 },
  });
  expect([far.status, far.json.error_code]).toEqual([400, 'ERR_TOKEN_LIFETIME']);
  // Metrics are on the admin port, at Hydra's path, behind the admin guard.
  const metrics = await (
    await fetch(`${svc.adminUrl}/admin/metrics/prometheus`, { headers: { authorization: `Bearer ${ADMIN}` } })
  ).text();
  expect(metrics).toMatch(/hsm_jwks_signatures_total\{set="jwt.rs"\} 1/);
  expect(metrics).toMatch(/hsm_jwks_sign_duration_seconds_count 3/);
  expect(metrics).toMatch(/hsm_jwks_pool_waiting 0/);
  expect(metrics).toMatch(/hsm_jwks_pool_sessions_evicted_total 0/);
  expect(metrics).toMatch(/# TYPE hsm_jwks_reinitializations_total counter\nhsm_jwks_reinitializations_total 0/);
  expect(metrics).toMatch(/# TYPE hsm_jwks_pool_waiting gauge/);
  expect(metrics).toMatch(/hsm_jwks_engine_signatures_total [1-9]/);
});

test("Hydra's key routes: create, read, import, delete, with the right statuses", async () => {
  const made = await call('POST', admin('/keys/ops'), { alg: 'ES384', kid: 'k1' });
  expect(made.status).toBe(201);
  expect(made.json.keys![0]).toMatchObject({ kid: 'k1', alg: 'ES384', use: 'sig' });
  expect((await call('POST', admin('/keys/ops'), { alg: 'ES384', kid: 'k1' })).status).toBe(409);
  expect((await call('GET', admin('/keys/ops'))).json.keys!.map((k) => k.kid)).toEqual(['k1']);
  expect((await call('GET', admin('/keys/ops/k1'))).status).toBe(200);
  const priv = {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    alg: 'ES256',
  };
  const put = await call('PUT', admin('/keys/imported/i1'), priv);
  expect(put.status).toBe(200);
  // One JWK, as Hydra answers PUT /admin/keys/{set}/{kid}; its public form.
  expect(put.json).toMatchObject({ kid: 'i1', alg: 'ES256', kty: 'EC' });
  expect(put.json).not.toHaveProperty('d');
  // The same key again is fine; other material (or alg) under a published kid would fail cached verifiers: 409.
  expect((await call('PUT', admin('/keys/imported/i1'), priv)).status).toBe(200);
  const other = {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    alg: 'ES256',
  };
  expect((await call('PUT', admin('/keys/imported/i1'), other)).json).toMatchObject({ error_code: 'ERR_KEY_EXISTS' });
  const setPut = await call('PUT', admin('/keys/imported'), { keys: [{ ...other, kid: 'i2' }] });
  expect(setPut.status).toBe(200);
  expect(setPut.json.keys!.map((k) => k.kid)).toEqual(['i2']);
  expect((await call('DELETE', admin('/keys/ops/k1'))).status).toBe(204);
  // Deleting what is not there is done already: 204, as Hydra.
  expect((await call('DELETE', admin('/keys/ops/k1'))).status).toBe(204);
  expect((await call('GET', admin('/keys/ops/k1'))).status).toBe(404);
  expect((await call('DELETE', admin('/keys/imported'))).status).toBe(204);
  expect((await call('GET', admin('/keys/imported'))).status).toBe(404);
});

test.each([
  ['an unknown alg', 'POST', '/keys/x', { alg: 'XX999' }, 400, 'ERR_JOSE_ALG_UNSUPPORTED'],
  ['a bad use', 'POST', '/keys/x', { alg: 'ES256', use: 'both' }, 400, 'ERR_REQUEST_INVALID'],
  ['an unknown member', 'POST', '/keys/x', { alg: 'ES256', extra: 1 }, 400, 'ERR_REQUEST_INVALID'],
  ['malformed JSON', 'POST', '/keys/x', '{"alg":', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
  ['a body over the limit', 'POST', '/keys/x', { alg: 'x'.repeat(70_000) }, 413, 'FST_ERR_CTP_BODY_TOO_LARGE'],
  [
    'a JWK without its private part',
    'PUT',
    '/keys/x/k',
    { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', alg: 'ES256' },
    400,
    'ERR_JWK_PRIVATE_MISSING',
  ],
  ['a kid that differs from the path', 'PUT', '/keys/x/k', { kty: 'EC', kid: 'other' }, 400, 'ERR_KEY_NAME_INVALID'],
  ['a missing set', 'GET', '/keys/nothing-here', undefined, 404, 'ERR_KEY_SET_NOT_FOUND'],
  ['a missing kid', 'GET', '/keys/jwt.es/nope', undefined, 404, 'ERR_KEY_NOT_FOUND'],
  ['claims that are not an object', 'POST', '/jwt/jwt.es', { claims: [1] }, 400, 'ERR_REQUEST_INVALID'],
  ['signing with a missing set', 'POST', '/jwt/nothing-here', { claims: {} }, 404, 'ERR_KEY_SET_NOT_FOUND'],
])('%s', async (_what, method, p, body, status, code) => {
  const r = await call(method, admin(p), body);
  expect({ status: r.status, code: r.json?.error_code, status_code: r.json?.status_code }).toEqual({
    status,
    code,
    status_code: status,
  });
  expect(typeof r.json?.error_description).toBe('string');
  expect(typeof r.json?.error).toBe('string');
});

test('health: alive and ready; unknown routes are JSON 404s', async () => {
  expect(await (await fetch(`${svc.publicUrl}/health/alive`)).json()).toEqual({ status: 'ok' });
  expect(await (await fetch(`${svc.publicUrl}/health/ready`)).json()).toEqual({ status: 'ok', token: 'ready' });
  const r = await fetch(`${svc.publicUrl}/nowhere`);
  expect(r.status).toBe(404);
  expect(await r.json()).toMatchObject({ error: 'not_found' });
});
