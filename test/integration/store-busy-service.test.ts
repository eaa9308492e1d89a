// The key service while another process holds its SQLite store's write lock (issue 12: three PUTs
// froze the event loop, GET /.well-known/jwks.json took 15 s, the PUTs answered 500 SQLITE_BUSY).
// Now each write answers 503 ERR_STORE_BUSY with Retry-After by its own deadline (the store's
// default busyTimeoutMs, 5 s, from the request; not 5 s after the one before), the JWKS answers
// from memory meanwhile and the event loop never stalls; once the lock is free, writes succeed.
// A real HTTP client on loopback; the lock holder is a child process (store-child/lock-holder.js).
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { loadConfig } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { startService, type Service } from '../../lib/server/serve';
import { fetch } from '../helpers/recording-fetch';
import { holdWriteLock, type LockHolder, watchEventLoop } from './store-lock-holder';

const ADMIN = 'an-admin-token-of-the-busy-store-test';
const SET = 'busy.es';
/** The store's default busyTimeoutMs. */
const BUSY_MS = 5000;
let dir: string;
let file: string;
let svc: Service;
let holder: LockHolder | undefined;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-busy-svc-'));
  file = path.join(dir, 'busy.sqlite');
  const config = loadConfig({
    DSN: `sqlite://${file}`,
    SECRETS_SYSTEM: 'the-busy-store-test-secret',
    ADMIN_TOKEN: ADMIN,
    PUBLIC_PORT: '0',
    ADMIN_PORT: '0',
    JWKS_PUBLIC_SETS: SET,
    JWKS_DEFAULT_ALG: 'ES256',
  });
  svc = await startService(config, { logger: silentLogger, schedule: false });
});

afterAll(async () => {
  await holder?.release().catch(() => undefined);
  await svc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function privateJwk(kid: string): Record<string, unknown> {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return { ...jwk, kid, alg: 'ES256', use: 'sig' };
}

async function put(kid: string) {
  const r = await fetch(`${svc.adminUrl}/admin/keys/${SET}/${kid}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(privateJwk(kid)),
  });
  return {
    status: r.status,
    retryAfter: r.headers.get('retry-after'),
    json: (await r.json()) as Record<string, unknown>,
  };
}

async function jwksKids(): Promise<string[]> {
  const r = await fetch(`${svc.publicUrl}/.well-known/jwks.json`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();
}

test('writes answer 503 ERR_STORE_BUSY with Retry-After by their deadline, the JWKS answers meanwhile, the event loop never stalls; then writes succeed', async () => {
  const published = await jwksKids();
  expect(published).toHaveLength(1);
  holder = await holdWriteLock(file, 60_000);

  const loop = await watchEventLoop();
  const t0 = Date.now();
  const writes = ['imp-1', 'imp-2', 'imp-3'].map(async (kid) => ({ ...(await put(kid)), ms: Date.now() - t0 }));
  let settled = false;
  const all = Promise.all(writes).finally(() => (settled = true));
  let answeredWhileWaiting = 0;
  while (!settled) {
    expect(await jwksKids()).toEqual(published); // from memory: the store is not asked
    if (!settled) answeredWhileWaiting++;
    await sleep(100);
  }
  const results = await all;
  const maxDelayMs = await loop.stop();

  expect(maxDelayMs).toBeLessThan(1000); // the old synchronous busy wait stalled it 5 s per write
  expect(answeredWhileWaiting).toBeGreaterThan(0);
  for (const r of results) {
    expect(r.status).toBe(503);
    expect(r.json.error_code).toBe('ERR_STORE_BUSY');
    expect(r.retryAfter).toMatch(/^\d+$/);
    expect(r.ms).toBeGreaterThanOrEqual(BUSY_MS - 50);
    expect(r.ms).toBeLessThan(2 * BUSY_MS); // each by its own deadline: one after another took 3 × 5 s
  }

  await holder.release();
  holder = undefined;
  const after = await put('imp-4');
  expect(after.status).toBe(200);
  expect(after.json.kid).toBe('imp-4');
  expect(await jwksKids()).toEqual([...published, 'imp-4'].sort());
});
