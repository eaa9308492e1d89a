// Symmetric keys (kty oct) for the HMAC algs in the JOSE layer: one table with the key-pair algs,
// secrets made and checked by their hash size, JWTs verified by the jose package, and no secret
// in any error.
import { createSecretKey, randomBytes } from 'node:crypto';

import { jwtVerify } from 'jose';

import {
  ALGORITHMS,
  algInfo,
  HMAC_ALGS,
  type HmacAlg,
  isHmac,
  KEY_PAIR_ALGS,
  keyPairAlgInfo,
} from '../../lib/jose/algorithms';
import { verifyHmac } from '../../lib/jose/hmac-signer';
import { validatePrivateJwk } from '../../lib/jose/import';
import { signJwt } from '../../lib/jose/jws';
import { newOctJwk, sameSecret, validateOctJwk } from '../../lib/jose/oct';
import { softwareSigner } from '../../lib/jose/software-signer';

const HASH_BYTES: Record<HmacAlg, number> = { HS256: 32, HS384: 48, HS512: 64 };

test('one table: every alg is a key-pair alg or an HMAC alg, and the HMAC ones are kty oct', () => {
  expect([...KEY_PAIR_ALGS, ...HMAC_ALGS].sort()).toEqual(Object.keys(ALGORITHMS).sort());
  expect(HMAC_ALGS).toEqual(['HS256', 'HS384', 'HS512']);
  for (const alg of HMAC_ALGS) expect(algInfo(alg)).toMatchObject({ kty: 'oct', secretBytes: HASH_BYTES[alg] });
  for (const alg of KEY_PAIR_ALGS) expect(isHmac(algInfo(alg))).toBe(false);
  expect(() => keyPairAlgInfo('HS256')).toThrow(expect.objectContaining({ code: 'ERR_JOSE_ALG_UNSUPPORTED' }));
  expect(() => algInfo('toString')).toThrow(expect.objectContaining({ code: 'ERR_JOSE_ALG_UNSUPPORTED' }));
});

describe.each([...HMAC_ALGS])('%s', (alg) => {
  test('a new secret has the hash size, from the CSPRNG (two are never equal)', () => {
    const a = newOctJwk(ALGORITHMS[alg], 'a');
    const b = newOctJwk(ALGORITHMS[alg], 'b');
    expect(a).toEqual({ kty: 'oct', kid: 'a', alg, use: 'sig', k: expect.any(String) });
    expect(Buffer.from(a.k, 'base64url')).toHaveLength(HASH_BYTES[alg]);
    expect(a.k).not.toBe(b.k);
  });

  test('a JWT signed with the secret verifies with jose; the signer exposes no JWK', async () => {
    const jwk = newOctJwk(ALGORITHMS[alg], `kid-${alg}`);
    const secret = createSecretKey(Buffer.from(jwk.k, 'base64url'));
    const signer = softwareSigner(secret, jwk.kid, alg);
    expect(signer.publicJwk).toBeUndefined();
    const jwt = await signJwt(signer, { sub: 'alice', iat: 1700000000 });
    const { payload, protectedHeader } = await jwtVerify(jwt, secret, { algorithms: [alg] });
    expect(payload).toEqual({ sub: 'alice', iat: 1700000000 });
    expect(protectedHeader).toEqual({ alg, kid: jwk.kid, typ: 'JWT' });
    // Another secret of the same size does not verify it.
    await expect(jwtVerify(jwt, createSecretKey(randomBytes(HASH_BYTES[alg])))).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  test('verifyHmac: the right MAC passes; a flipped bit or another length fails', async () => {
    const secret = createSecretKey(randomBytes(HASH_BYTES[alg]));
    const data = Buffer.from('header.payload');
    const mac = Buffer.from(await softwareSigner(secret, 'k', alg).sign(data));
    expect(mac).toHaveLength(HASH_BYTES[alg]);
    expect(verifyHmac(secret, ALGORITHMS[alg], data, mac)).toBe(true);
    const flipped = Buffer.from(mac);
    flipped[0]! ^= 1;
    expect(verifyHmac(secret, ALGORITHMS[alg], data, flipped)).toBe(false);
    expect(verifyHmac(secret, ALGORITHMS[alg], data, mac.subarray(1))).toBe(false);
  });

  test('a secret shorter than the hash is refused, for signing and for import (no secret in the error)', async () => {
    const short = randomBytes(HASH_BYTES[alg] - 1);
    expect(() => softwareSigner(createSecretKey(short), 'k', alg)).toThrow(
      expect.objectContaining({ code: 'ERR_JOSE_ALG_UNSUPPORTED' }),
    );
    const k = short.toString('base64url');
    const e = await validatePrivateJwk({ kty: 'oct', k, alg, kid: 'short' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_JWK_SECRET_TOO_SHORT' });
    expect(JSON.stringify({ message: (e as Error).message, ...(e as object) })).not.toContain(k);
  });
});

describe('oct imports are validated, each rule with its code', () => {
  const k = randomBytes(32).toString('base64url');

  test('a valid oct JWK passes: kid kept, use sig, no public JWK', async () => {
    const v = await validatePrivateJwk({ kty: 'oct', k, alg: 'HS256', kid: 'shared-1' });
    expect(v).toEqual({
      kid: 'shared-1',
      alg: 'HS256',
      use: 'sig',
      privateJwk: { kty: 'oct', kid: 'shared-1', alg: 'HS256', use: 'sig', k },
      publicJwk: undefined,
    });
    // A longer secret is fine (HS256 with 64 bytes); unknown members are not kept.
    const long = randomBytes(64).toString('base64url');
    expect(validateOctJwk({ kty: 'oct', k: long, alg: 'HS256', kid: 'x', use: 'sig', ext: true })).toEqual({
      kty: 'oct',
      kid: 'x',
      alg: 'HS256',
      use: 'sig',
      k: long,
    });
  });

  test.each([
    ['no kid (a thumbprint would publish a hash of the secret)', { kty: 'oct', k, alg: 'HS256' }, 'ERR_JWK_INVALID'],
    ['an empty kid', { kty: 'oct', k, alg: 'HS256', kid: '' }, 'ERR_JWK_INVALID'],
    ['no k', { kty: 'oct', alg: 'HS256', kid: 'a' }, 'ERR_JWK_PRIVATE_MISSING'],
    ['a k that is not base64url', { kty: 'oct', k: `${k.slice(0, -1)}+`, alg: 'HS256', kid: 'a' }, 'ERR_JWK_INVALID'],
    ['no alg', { kty: 'oct', k, kid: 'a' }, 'ERR_JWK_INVALID'],
    ['a key-pair alg', { kty: 'oct', k, alg: 'RS256', kid: 'a' }, 'ERR_JOSE_ALG_UNSUPPORTED'],
    ['an unknown alg', { kty: 'oct', k, alg: 'HS1', kid: 'a' }, 'ERR_JOSE_ALG_UNSUPPORTED'],
    ['use enc', { kty: 'oct', k, alg: 'HS256', kid: 'a', use: 'enc' }, 'ERR_JOSE_ALG_UNSUPPORTED'],
    ['a 32-byte secret for HS512', { kty: 'oct', k, alg: 'HS512', kid: 'a' }, 'ERR_JWK_SECRET_TOO_SHORT'],
  ])('%s', async (_name, jwk, code) => {
    const e = await validatePrivateJwk(jwk).catch((x: unknown) => x);
    expect(e).toMatchObject({ code });
    expect((e as Error).message).not.toContain(k);
  });

  test('sameSecret compares the secrets', () => {
    const other = randomBytes(32).toString('base64url');
    expect(sameSecret({ k }, { k })).toBe(true);
    expect(sameSecret({ k }, { k: other })).toBe(false);
    expect(sameSecret({ k }, { k: randomBytes(48).toString('base64url') })).toBe(false);
  });
});
