// The key managers end to end on SoftHSM and SQLite, through createKeyManager and the same
// environment variables as the service: Hydra's guide flow, every alg on both sides, routing,
// ordering, caching and the deliberate differences from Hydra.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createLocalJWKSet, importJWK, jwtVerify } from 'jose';

import { loadConfig } from '../../lib/config';
import { ALGORITHMS, KEY_PAIR_ALGS } from '../../lib/jose/algorithms';
import { createKeyManager } from '../../lib/keys/create';
import { ensureKeySet } from '../../lib/keys/ensure';
import type { JwkSet, KeyManager } from '../../lib/keys/key-manager';
import { hsmEnv, softHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm';
import { warningLogger } from '../helpers/warning-logger';

const SECRET = 'a-system-secret-of-32-characters';
let hsm: SoftHsm;
let dir: string;
let km: KeyManager;
const { logger, warnings } = warningLogger();

function env(extra: Record<string, string> = {}) {
  return {
    ...hsmEnv('hydra', `sqlite://${path.join(dir, 'keys.sqlite')}`, SECRET),
    ...extra,
  };
}

const tool = (args: string[]) => hsm.pkcs11Tool(['--token-label', 'hydra', '--login', '--pin', USER_PIN, ...args]);
const keygen = (keyType: string, label: string, kid: string) =>
  tool([
    '--keypairgen',
    '--key-type',
    keyType,
    '--usage-sign',
    '--label',
    label,
    '--id',
    Buffer.from(kid).toString('hex'),
  ]);

async function verifies(jwt: string, jwks: JwkSet): Promise<string | undefined> {
  const { protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(jwks as never));
  return protectedHeader.kid;
}

beforeAll(async () => {
  hsm = softHsm();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-keys-'));
  hsm.pkcs11Tool([
    '--slot',
    '0',
    '--init-token',
    '--label',
    'hydra',
    '--so-pin',
    '0000',
    '--pin',
    USER_PIN,
    '--init-pin',
  ]);
  keygen('rsa:4096', 'hydra.openid.id-token', 'test-key-id');
  keygen('EC:secp256r1', 'hydra.jwt.access-token', 'p256-key');
  keygen('EC:secp521r1', 'p521.set', 'p521-key');
  km = await createKeyManager(loadConfig(env()), { logger });
});

afterAll(async () => {
  await km?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("Hydra's guide, end to end", () => {
  test('the RSA-4096 key made by pkcs11-tool is one JWK: kid test-key-id, RS256, sig, the n/e of the key', async () => {
    const jwks = await km.getKeySet('hydra.openid.id-token');
    expect(jwks.keys).toHaveLength(1);
    const der = path.join(dir, 'rsa.der');
    tool(['--read-object', '--type', 'pubkey', '--id', Buffer.from('test-key-id').toString('hex'), '-o', der]);
    const fromTool = createPublicKey({ key: fs.readFileSync(der), format: 'der', type: 'spki' }).export({
      format: 'jwk',
    });
    expect(jwks.keys[0]).toEqual({
      kty: 'RSA',
      kid: 'test-key-id',
      alg: 'RS256',
      use: 'sig',
      n: fromTool.n,
      e: fromTool.e,
    });
    const jwt = await km.signJwt('hydra.openid.id-token', { sub: 'alice' });
    expect(await verifies(jwt, jwks)).toBe('test-key-id');
  });

  test.each([
    ['hydra.jwt.access-token', 'p256-key', 'ES256'],
    ['p521.set', 'p521-key', 'ES512'],
  ])('%s: the EC key made by pkcs11-tool publishes as %s and its JWTs verify', async (set, kid, alg) => {
    const jwks = await km.getKeySet(set);
    expect(jwks.keys).toEqual([expect.objectContaining({ kid, alg, use: 'sig', kty: 'EC' })]);
    expect(await verifies(await km.signJwt(set, { sub: 'bob' }), jwks)).toBe(kid);
  });

  test('a key generated with use enc reads back as enc and is refused for signing', async () => {
    const made = await km.generateAndPersistKeySet('enc.set', 'enc-1', 'RSA-OAEP-256', 'enc');
    expect(made.keys[0]).toMatchObject({ kid: 'enc-1', alg: 'RSA-OAEP-256', use: 'enc', kty: 'RSA' });
    expect((await km.getKeySet('enc.set')).keys).toEqual([expect.objectContaining({ kid: 'enc-1', use: 'enc' })]);
    await expect(km.signJwt('enc.set', {})).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
    await expect(km.signJwt('enc.set', {}, { kid: 'enc-1' })).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
  });
});

describe.each(['hsm', 'software'] as const)('every alg, %s', (where) => {
  let manager: KeyManager;
  beforeAll(async () => {
    manager =
      where === 'hsm'
        ? km
        : await createKeyManager(
            loadConfig({ DSN: `sqlite://${path.join(dir, 'software-only.sqlite')}`, SECRETS_SYSTEM: SECRET }),
            { logger },
          );
  });
  afterAll(async () => {
    if (where === 'software') await manager.close();
  });

  // HMAC algs (symmetric, software only, never published): test/integration/key-kinds.test.ts.
  test.each([...KEY_PAIR_ALGS])('%s: generate → getKeySet → importJWK → signJwt → jwtVerify', async (alg) => {
    const set = `every.${alg}`;
    const made = await manager.generateAndPersistKeySet(set, undefined, alg, 'sig');
    const jwks = await manager.getKeySet(set);
    expect(jwks.keys).toEqual(made.keys);
    expect(jwks.keys[0]).toMatchObject({ alg, use: 'sig', kty: ALGORITHMS[alg].kty });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    await expect(importJWK(jwks.keys[0] as never, alg)).resolves.toBeDefined();
    expect(await verifies(await manager.signJwt(set, { alg }), jwks)).toBe(jwks.keys[0]!.kid);
  });
});

test('generation validates alg and use first: an unsupported alg leaves the existing keys untouched', async () => {
  const before = await km.getKeySet('hydra.openid.id-token');
  await expect(km.generateAndPersistKeySet('hydra.openid.id-token', undefined, 'HS257', 'sig')).rejects.toMatchObject({
    code: 'ERR_JOSE_ALG_UNSUPPORTED',
  });
  await expect(km.generateAndPersistKeySet('hydra.openid.id-token', undefined, 'HS256', 'sig')).rejects.toMatchObject({
    code: 'ERR_HSM_SYMMETRIC_UNSUPPORTED',
  });
  await expect(
    km.generateAndPersistKeySet('hydra.openid.id-token', undefined, 'ES256', 'foo' as never),
  ).rejects.toMatchObject({ code: 'ERR_KEY_USE_INVALID' });
  await expect(km.generateAndPersistKeySet('hydra.openid.id-token', undefined, 'ES256', 'enc')).rejects.toMatchObject({
    code: 'ERR_KEY_USE_INVALID',
  });
  expect(await km.getKeySet('hydra.openid.id-token')).toEqual(before);
});

test('generation adds a key next to the existing ones: published at once, signing after the publish-ahead time', async () => {
  await km.generateAndPersistKeySet('rotating', 'first', 'ES256');
  await km.generateAndPersistKeySet('rotating', 'second', 'ES384');
  const jwks = await km.getKeySet('rotating');
  expect(jwks.keys.map((k) => k.kid)).toEqual(['second', 'first']);
  expect(await verifies(await km.signJwt('rotating', {}), jwks)).toBe('first');
  await expect(km.signJwt('rotating', {}, { kid: 'second' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_ACTIVE' });
  expect((await km.list()).find((k) => k.kid === 'second')).toMatchObject({ state: 'next' });
  await km.generateAndPersistKeySet('rotating', 'third', 'ES256', 'sig', { activateNow: true });
  expect(await verifies(await km.signJwt('rotating', {}), await km.getKeySet('rotating'))).toBe('third');
  await expect(km.generateAndPersistKeySet('rotating', 'first', 'ES256')).rejects.toMatchObject({
    code: 'ERR_KEY_EXISTS',
  });
});

test('a foreign key that cannot be published is skipped with a warning naming it; the set still works', async () => {
  keygen('rsa:1024', 'mixed', 'short-rsa');
  warnings.length = 0;
  await km.generateAndPersistKeySet('mixed', 'good', 'EdDSA');
  const jwks = await km.getKeySet('mixed');
  expect(jwks.keys.map((k) => k.kid)).toEqual(['good']);
  expect(warnings).toEqual([
    expect.objectContaining({ fields: expect.objectContaining({ set: 'mixed', kid: 'short-rsa' }) }),
  ]);
});

test('imports go to the software store, and are keys of their set like any other; deleting what exists nowhere is not found', async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'imported', alg: 'ES256', use: 'sig' };
  await km.addKey('imports', jwk);
  await expect(km.addKey('imports', jwk)).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
  expect((await km.getKeySet('imports')).keys).toEqual([expect.not.objectContaining({ d: expect.anything() })]);
  expect((await km.getKey('imports', 'imported', { includePrivate: true })).keys[0]).toMatchObject({ d: jwk.d });
  expect(await verifies(await km.signJwt('imports', {}), await km.getKeySet('imports'))).toBe('imported');
  // An import into a set with HSM keys goes to the software store too, and is published with them.
  await km.addKey('hydra.openid.id-token', { ...jwk, kid: 'also-published' });
  expect((await km.getKeySet('hydra.openid.id-token')).keys.map((k) => k.kid).sort()).toEqual([
    'also-published',
    'test-key-id',
  ]);
  await km.deleteKey('hydra.openid.id-token', 'also-published');
  await km.deleteKey('imports', 'imported');
  await expect(km.getKeySet('imports')).rejects.toMatchObject({ code: 'ERR_KEY_SET_NOT_FOUND' });
  await expect(km.deleteKey('nowhere', 'nothing')).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
  await expect(km.deleteKeySet('nowhere')).rejects.toMatchObject({ code: 'ERR_KEY_SET_NOT_FOUND' });
});

test("a key replaced behind the manager's back under the same id: ERR_KEY_GONE once (never the other key), then the set is read again", async () => {
  keygen('EC:secp256r1', 'stale', 'k'); // made by another tool: re-created by it below
  km.invalidate('stale');
  await km.signJwt('stale', {});
  // Behind the manager's back: the key is destroyed and re-created with the same id.
  tool(['--delete-object', '--type', 'privkey', '--id', Buffer.from('k').toString('hex')]);
  tool(['--delete-object', '--type', 'pubkey', '--id', Buffer.from('k').toString('hex')]);
  keygen('EC:secp256r1', 'stale', 'k');
  // The token layer finds a key under the id, but not the key the cached view published: it refuses
  // to sign with it (no retry layer above it), and the view is dropped.
  await expect(km.signJwt('stale', {})).rejects.toMatchObject({ code: 'ERR_KEY_GONE' });
  const jwt = await km.signJwt('stale', {});
  expect(await verifies(jwt, await km.getKeySet('stale'))).toBe('k');
});

test('ensureKeySet: concurrent callers on a missing set get one key, logged as Hydra does', async () => {
  warnings.length = 0;
  const results = await Promise.all(Array.from({ length: 5 }, () => ensureKeySet(km, 'lazy', 'ES256', logger)));
  expect(new Set(results.map((r) => r.keys.map((k) => k.kid).join()))).toEqual(new Set([results[0]!.keys[0]!.kid]));
  expect((await km.getKeySet('lazy')).keys).toHaveLength(1);
  expect(warnings.map((w) => w.message)).toEqual([
    'JSON Web Key Set "lazy" does not exist yet, generating new key pair...',
  ]);
  expect((await ensureKeySet(km, 'lazy', 'ES256', logger)).keys).toHaveLength(1);
});

test('HSM_KEY_SET_PREFIX prefixes labels only', async () => {
  const prefixed = await createKeyManager(
    loadConfig(env({ HSM_KEY_SET_PREFIX: 'app1.', DSN: `sqlite://${path.join(dir, 'prefixed.sqlite')}` })),
  );
  try {
    const made = await prefixed.generateAndPersistKeySet('sessions', 'pk', 'ES256');
    expect(made.keys[0]).toMatchObject({ kid: 'pk' });
    expect(tool(['--list-objects', '--type', 'privkey'])).toContain('app1.sessions');
    expect((await prefixed.getKeySet('sessions')).keys.map((k) => k.kid)).toEqual(['pk']);
    expect((await prefixed.list()).filter((k) => k.where === 'hsm').map((k) => k.set)).toEqual(['sessions']);
    await expect(km.getKeySet('sessions')).rejects.toMatchObject({ code: 'ERR_KEY_SET_NOT_FOUND' });
  } finally {
    await prefixed.close();
  }
});

test('an HSM that cannot be configured fails fast, naming library and token, never the PIN', async () => {
  // (A wrong PIN is tested through the CLI, in a process of its own: PKCS#11 login belongs to the
  // application, so in this process, where `km` is logged in, C_Login answers ALREADY_LOGGED_IN.)
  const cases: Array<[Record<string, string>, string, string]> = [
    [{ HSM_LIBRARY: '/nonexistent/libpkcs11.so' }, '/nonexistent/libpkcs11.so', 'ERR_MODULE_NOT_FOUND'],
    [{ HSM_TOKEN_LABEL: 'no-such-token' }, 'no-such-token', 'ERR_TOKEN_NOT_FOUND'],
  ];
  for (const [vars, named, code] of cases) {
    const err = await createKeyManager(
      loadConfig(env({ ...vars, HSM_PIN: '55555555', DSN: `sqlite://${path.join(dir, 'x.sqlite')}` })),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_HSM_UNAVAILABLE', cause: expect.objectContaining({ code }) });
    expect((err as Error).message).toContain(named);
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err)) + String((err as Error).stack)).not.toContain(
      '55555555',
    );
  }
});

test('a key of ours re-created under its kid by another tool is not published as ours until the kid is deleted', async () => {
  await km.generateAndPersistKeySet('recreated', 'rk', 'ES384');
  tool(['--delete-object', '--type', 'privkey', '--id', Buffer.from('rk').toString('hex')]);
  tool(['--delete-object', '--type', 'pubkey', '--id', Buffer.from('rk').toString('hex')]);
  keygen('EC:secp384r1', 'recreated', 'rk');
  km.invalidate('recreated');
  await expect(km.getKeySet('recreated')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  expect(await km.problems()).toContainEqual(
    expect.objectContaining({ kind: 'metadata-invalid', set: 'recreated', kid: 'rk' }),
  );
  await km.deleteKey('recreated', 'rk');
  await expect(km.getKeySet('recreated')).rejects.toMatchObject({ code: 'ERR_KEY_SET_NOT_FOUND' });
  expect(tool(['--list-objects'])).not.toContain('recreated');
});
