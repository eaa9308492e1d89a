// Hydra's other key kinds, end to end on SoftHSM and SQLite through createKeyManager: RSA keys for
// `use: enc` labelled RS256 (what `hydra create jwks <set> --use enc` asks for), on the token and
// in software; symmetric HS256/HS384/HS512 keys (software store only, sealed, never published);
// imports of oct JWKs; and the refusals, each with its code.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';

import { createLocalJWKSet, jwtVerify } from 'jose';

import { loadConfig } from '../../lib/config';
import { HMAC_ALGS } from '../../lib/jose/algorithms';
import { createKeyManager } from '../../lib/keys/create';
import type { HsmEntry } from '../../lib/keys/hsm-source';
import type { KeyRing } from '../../lib/keys/key-ring';
import { JwksCache } from '../../lib/server/jwks-cache';
import { hsmEnv, softHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm';

const SECRET = 'a-system-secret-of-32-characters';
let hsm: SoftHsm;
let dir: string;
let km: KeyRing; // HSM and software store
let sw: KeyRing; // software store only

const env = (extra: Record<string, string> = {}) => ({
  ...hsmEnv('hydra', `sqlite://${path.join(dir, 'keys.sqlite')}`, SECRET),
  ...extra,
});
const tool = (args: string[]) => hsm.pkcs11Tool(['--token-label', 'hydra', '--login', '--pin', USER_PIN, ...args]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Every byte of the software store's files (SQLite file, WAL and journal). */
function storeBytes(prefix: string): Buffer {
  return Buffer.concat(
    fs
      .readdirSync(dir)
      .filter((f) => f.startsWith(prefix))
      .map((f) => fs.readFileSync(path.join(dir, f))),
  );
}

beforeAll(async () => {
  hsm = softHsm();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-kinds-'));
  hsm.initToken('hydra');
  km = await createKeyManager(loadConfig(env()));
  sw = await createKeyManager(
    loadConfig({ DSN: `sqlite://${path.join(dir, 'software.sqlite')}`, SECRETS_SYSTEM: SECRET }),
  );
});

afterAll(async () => {
  await km?.close();
  await sw?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("RS256 with use enc (Hydra's `create jwks --use enc`)", () => {
  test('on SoftHSM: an RSA-4096 pair that decrypts and cannot sign, published as alg RS256, use enc, and never signing', async () => {
    const made = await km.generateAndPersistKeySet('enc.hydra', undefined, 'RS256', 'enc');
    expect(made.keys).toEqual([
      { kty: 'RSA', kid: expect.stringMatching(UUID), alg: 'RS256', use: 'enc', n: expect.any(String), e: 'AQAB' },
    ]);
    const kid = made.keys[0]!.kid;
    const [entry] = (await km.keys('enc.hydra')) as unknown as HsmEntry[];
    expect(entry).toMatchObject({ where: 'hsm', kid, alg: 'RS256', use: 'enc' });
    expect(entry!.pair).toMatchObject({ canSign: false, canDecrypt: true, bits: 4096 });
    // The token's own record keeps the alg: a manager that reads the token afresh publishes the same JWK.
    const other = await createKeyManager(loadConfig(env({ DSN: `sqlite://${path.join(dir, 'other.sqlite')}` })));
    try {
      expect(await other.getKeySet('enc.hydra')).toEqual(made);
    } finally {
      await other.close();
    }
    await expect(km.signJwt('enc.hydra', {})).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
    await expect(km.signJwt('enc.hydra', {}, { kid })).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
    // Our own label for enc keys stays: RSA-OAEP-256 is published as asked.
    await km.generateAndPersistKeySet('enc.hydra', 'oaep', 'RSA-OAEP-256', 'enc');
    expect((await km.getKey('enc.hydra', 'oaep')).keys[0]).toMatchObject({ alg: 'RSA-OAEP-256', use: 'enc' });
    // enc is for RSA: another alg with use enc is refused before anything is made.
    await expect(km.generateAndPersistKeySet('enc.hydra', 'x', 'ES256', 'enc')).rejects.toMatchObject({
      code: 'ERR_KEY_USE_INVALID',
    });
    expect((await km.getKeySet('enc.hydra')).keys).toHaveLength(2);
  });

  test('in software: the same key and JWK; its private part only when asked for; it never signs', async () => {
    const made = await sw.generateAndPersistKeySet('enc.sw', 'enc-sw', 'RS256', 'enc');
    expect(made.keys[0]).toEqual({
      kty: 'RSA',
      kid: 'enc-sw',
      alg: 'RS256',
      use: 'enc',
      n: expect.any(String),
      e: 'AQAB',
    });
    expect(Buffer.from((made.keys[0] as { n: string }).n, 'base64url')).toHaveLength(512); // 4096 bits
    expect((await sw.getKey('enc.sw', 'enc-sw', { includePrivate: true })).keys[0]).toMatchObject({
      alg: 'RS256',
      use: 'enc',
      d: expect.any(String),
    });
    await expect(sw.signJwt('enc.sw', {})).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
    await expect(sw.signJwt('enc.sw', {}, { kid: 'enc-sw' })).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
  });

  test('an imported RSA JWK with alg RS256 and use enc is kept as it is (software store), and never signs', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    await km.addKey('enc.imported', { ...rsa, kid: 'imported-enc', alg: 'RS256', use: 'enc' });
    expect(await km.getKeySet('enc.imported')).toEqual({
      keys: [{ kty: 'RSA', kid: 'imported-enc', alg: 'RS256', use: 'enc', n: rsa.n, e: rsa.e }],
    });
    expect((await km.list()).find((k) => k.kid === 'imported-enc')).toMatchObject({ where: 'software', use: 'enc' });
    await expect(km.signJwt('enc.imported', {})).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
  });
});

describe('symmetric keys (HS256, HS384, HS512)', () => {
  test.each([...HMAC_ALGS])(
    '%s in software: generated, sealed, signs a JWT that jose verifies with the secret; never in the public view',
    async (alg) => {
      const set = `hs.${alg}`;
      const kid = `hs-${alg}`;
      const made = await sw.generateAndPersistKeySet(set, kid, alg);
      expect(made).toEqual({ keys: [{ kty: 'oct', kid, alg, use: 'sig' }] }); // named, no secret
      const { k } = (await sw.getKey(set, kid, { includePrivate: true })).keys[0] as { k: string };
      const secret = Buffer.from(k, 'base64url');
      expect(secret).toHaveLength({ HS256: 32, HS384: 48, HS512: 64 }[alg]);
      const jwt = await sw.signJwt(set, { sub: 'alice' });
      const { protectedHeader, payload } = await jwtVerify(jwt, createSecretKey(secret), { algorithms: [alg] });
      expect(protectedHeader).toEqual({ alg, kid, typ: 'JWT' });
      expect(payload).toMatchObject({ sub: 'alice' });
      expect(await sw.getKeySet(set)).toEqual({ keys: [] });
      expect(await sw.getKey(set, kid)).toEqual({ keys: [{ kty: 'oct', kid, alg, use: 'sig' }] });
      // Sealed like every private key: the secret is nowhere in the store's files, in any encoding.
      const stored = storeBytes('software.sqlite');
      expect(stored.includes(Buffer.from(kid))).toBe(true); // the files were read: the kid is a column
      expect(stored.includes(secret)).toBe(false);
      expect(stored.includes(Buffer.from(k))).toBe(false);
      // includePrivate on generation hands the secret back at once.
      const again = await sw.generateAndPersistKeySet(set, undefined, alg, 'sig', { includePrivate: true });
      expect(again.keys[0]).toEqual({
        kty: 'oct',
        kid: expect.stringMatching(UUID),
        alg,
        use: 'sig',
        k: expect.any(String),
      });
    },
  );

  test('with an HSM, generation is refused with its code and nothing reaches the token', async () => {
    for (const alg of HMAC_ALGS) {
      await expect(km.generateAndPersistKeySet('hs.on.hsm', 'never', alg)).rejects.toMatchObject({
        code: 'ERR_HSM_SYMMETRIC_UNSUPPORTED',
      });
    }
    expect(tool(['--list-objects'])).not.toContain('hs.on.hsm');
    await expect(km.getKeySet('hs.on.hsm')).rejects.toMatchObject({ code: 'ERR_KEY_SET_NOT_FOUND' });
  });

  test('an imported oct JWK (HSM configured: imports go to the software store) signs, and the public JWKS never has it', async () => {
    const k = randomBytes(32).toString('base64url');
    const oct = { kty: 'oct', kid: 'shared-hs', alg: 'HS256', use: 'sig', k };
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await km.addKey('mixed.public', { ...privateKey.export({ format: 'jwk' }), kid: 'ec-pub', alg: 'ES256' });
    await km.addKey('mixed.public', oct);
    expect((await km.list()).find((x) => x.kid === 'shared-hs')).toMatchObject({ where: 'software', alg: 'HS256' });

    // The public JWKS, as the service builds it: the EC key only; neither the secret nor the oct kid.
    const jwks = await new JwksCache(km, ['mixed.public']).get();
    expect(JSON.parse(jwks.body)).toEqual({ keys: [expect.objectContaining({ kid: 'ec-pub', kty: 'EC' })] });
    expect(jwks.body).not.toContain(k);
    expect(jwks.body).not.toContain('shared-hs');
    expect((await km.getKeySet('mixed.public')).keys.map((x) => x.kid)).toEqual(['ec-pub']);
    // Private views show it as Hydra's admin API does (with its secret).
    expect((await km.getKeySet('mixed.public', { includePrivate: true })).keys).toContainEqual(oct);

    // A key added to a set that has a signing key waits the publish-ahead time, oct keys too; the
    // EC key signs meanwhile, and its JWTs verify against the public JWKS.
    await expect(km.signJwt('mixed.public', {}, { kid: 'shared-hs' })).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_ACTIVE',
    });
    const jwt = await km.signJwt('mixed.public', { n: 1 });
    expect((await jwtVerify(jwt, createLocalJWKSet(JSON.parse(jwks.body)))).protectedHeader.kid).toBe('ec-pub');
    await km.setLifecycle('mixed.public', 'shared-hs', {}); // active now
    const hs = await km.signJwt('mixed.public', { n: 2 }, { kid: 'shared-hs' });
    expect((await jwtVerify(hs, createSecretKey(Buffer.from(k, 'base64url')))).protectedHeader).toEqual({
      alg: 'HS256',
      kid: 'shared-hs',
      typ: 'JWT',
    });

    // Sent again: the same key; another secret under its kid is refused; a short one too. No secret in errors.
    await km.updateKey('mixed.public', oct);
    const other = randomBytes(32).toString('base64url');
    const e1 = await km.updateKey('mixed.public', { ...oct, k: other }).catch((x: unknown) => x);
    expect(e1).toMatchObject({ code: 'ERR_KEY_EXISTS' });
    const short = randomBytes(16).toString('base64url');
    const e2 = await km.addKey('mixed.public', { ...oct, kid: 'short-hs', k: short }).catch((x: unknown) => x);
    expect(e2).toMatchObject({ code: 'ERR_JWK_SECRET_TOO_SHORT' });
    for (const e of [e1, e2]) {
      const text = JSON.stringify({ m: (e as Error).message, s: (e as Error).stack, ...(e as object) });
      for (const secret of [k, other, short]) expect(text).not.toContain(secret);
    }
    await km.deleteKey('mixed.public', 'shared-hs');
    expect((await km.getKeySet('mixed.public', { includePrivate: true })).keys.map((x) => x.kid)).toEqual(['ec-pub']);
  });
});

test('an empty kid on create is refused by the keys layer (the HTTP layer maps Hydra\'s kid "" to none)', async () => {
  await expect(sw.generateAndPersistKeySet('empty.kid', '', 'ES256')).rejects.toMatchObject({
    code: 'ERR_KID_INVALID',
  });
  await expect(sw.getKeySet('empty.kid')).rejects.toMatchObject({ code: 'ERR_KEY_SET_NOT_FOUND' });
  const made = await sw.generateAndPersistKeySet('empty.kid', undefined, 'ES256');
  expect(made.keys[0]!.kid).toMatch(UUID);
});
