// The key store contract on PostgreSQL (the backend for instances that share keys). CI installs
// and starts PostgreSQL and sets PG_TEST_DSN; elsewhere the suite runs when a server answers at
// that DSN and is skipped, saying why, when none does.
import { generateKeyPairSync } from 'node:crypto';

import { Client } from 'pg';

import type { PrivateJwk } from '../../lib/jose/import';
import type { StoredKey } from '../../lib/store/key-store';
import { openKeyStore } from '../../lib/store/open-store';
import { postgresSchema } from '../helpers/postgres';

const SECRET = 'postgres-store-secret-1';
const SECRET_NEW = 'postgres-store-secret-2';
let DSN = '';
let why: string | undefined;

beforeAll(async () => {
  ({ dsn: DSN = '', why } = await postgresSchema('store_contract_test', 'the PostgreSQL store tests'));
});

const key = (set: string, kid: string, at: number): StoredKey => ({
  set,
  kid,
  alg: 'ES256',
  use: 'sig',
  createdAt: new Date(at),
  privateJwk: { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } as PrivateJwk,
});

async function raw(sql: string, values: unknown[] = []) {
  const c = new Client({ connectionString: DSN });
  await c.connect();
  try {
    return await c.query(sql, values);
  } finally {
    await c.end();
  }
}

test('the store contract on PostgreSQL', async () => {
  if (why !== undefined) return console.warn(`skipped: ${why}`);
  // Two instances opening at once apply the migrations once.
  const [a, b] = [openKeyStore(DSN, [SECRET]), openKeyStore(DSN, [SECRET])];
  await Promise.all([a.list(), b.list()]);
  expect((await raw('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBe(1);

  const k1 = key('s', 'k1', 1000);
  const k2 = key('s', 'k2', 2000);
  await a.add([k1, k2]);
  expect(await b.get('s', 'k1')).toEqual(k1);
  expect((await b.getSet('s')).keys.map((k) => k.kid)).toEqual(['k2', 'k1']);
  await expect(a.add([key('s', 'k3', 3000), key('s', 'k1', 4000)])).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS', set: 's', kid: 'k1' });
  expect(await a.get('s', 'k3')).toBeUndefined(); // all or nothing
  const k1b = key('s', 'k1', 5000);
  await a.upsert([k1b]);
  expect(await b.get('s', 'k1')).toEqual(k1b);
  await a.replaceSet('t', [key('t', 'x', 1)]);
  expect((await a.list()).map((r) => `${r.set}/${r.kid}`)).toEqual(['s/k1', 's/k2', 't/x']);

  // A tampered row and two swapped rows fail on their own; the rest of the set still opens.
  await a.add([key('u', 'u1', 1), key('u', 'u2', 2), key('u', 'u3', 3)]);
  await raw("UPDATE jwk_keys SET sealed = set_byte(sealed, 30, get_byte(sealed, 30) # 1) WHERE set_name = 'u' AND kid = 'u1'");
  await raw(`UPDATE jwk_keys AS x SET sealed = y.sealed FROM jwk_keys AS y
             WHERE x.set_name = 's' AND y.set_name = 's' AND ((x.kid = 'k1' AND y.kid = 'k2') OR (x.kid = 'k2' AND y.kid = 'k1'))`);
  const u = await a.getSet('u');
  expect(u.keys.map((k) => k.kid)).toEqual(['u3', 'u2']);
  expect(u.failures).toEqual([expect.objectContaining({ set: 'u', kid: 'u1', code: 'ERR_SEAL_TAMPERED' })]);
  expect((await a.getSet('s')).failures.map((f) => f.code)).toEqual(['ERR_SEAL_TAMPERED', 'ERR_SEAL_TAMPERED']);
  await a.deleteSet('s');
  await a.deleteKey('u', 'u1');

  // Rotation: new secret first, old kept; re-seal; then the old secret can go.
  const rotated = openKeyStore(DSN, [SECRET_NEW, SECRET]);
  expect(await rotated.rotateSecrets()).toBe(3);
  const only = openKeyStore(DSN, [SECRET_NEW]);
  expect((await only.getSet('u')).failures).toEqual([]);
  expect((await only.getSet('t')).keys).toHaveLength(1);

  // HSM key metadata; deletes report what they did.
  await only.recordHsmKey('h', 'k', { createdAt: new Date(7), alg: 'PS256' });
  expect(await b.hsmKeys('h')).toEqual(new Map([['k', { createdAt: new Date(7), alg: 'PS256' }]]));
  await only.forgetHsmKey('h', 'k');
  expect(await only.hsmKeys('h')).toEqual(new Map());
  expect(await only.deleteKey('t', 'x')).toBe(true);
  expect(await only.deleteKey('t', 'x')).toBe(false);
  expect(await only.deleteSet('u')).toBe(2);
  await Promise.all([a.close(), b.close(), rotated.close(), only.close()]);
  await expect(a.list()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
});
