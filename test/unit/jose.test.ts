// The JOSE layer in software: known answers from the RFCs, signature encodings, import rules, and
// JWTs from every alg verified by the jose package.
import { generateKeyPairSync, createPrivateKey, type KeyObject } from 'node:crypto';

import { createLocalJWKSet, jwtVerify, importJWK, compactVerify } from 'jose';

import { ALGORITHMS, KEY_PAIR_ALGS, type KeyPairAlg } from '../../lib/jose/algorithms';
import { validatePrivateJwk } from '../../lib/jose/import';
import { signCompact, signJwt } from '../../lib/jose/jws';
import { ecdsaToJws } from '../../lib/jose/signer';
import { softwareSigner } from '../../lib/jose/software-signer';

// RFC 8037 Appendix A.1
const ED25519 = {
  kty: 'OKP',
  crv: 'Ed25519',
  d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
  x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
};

function keyFor(alg: KeyPairAlg): KeyObject {
  const info = ALGORITHMS[alg];
  if (info.kty === 'RSA') return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  if (info.kty === 'OKP') return generateKeyPairSync('ed25519').privateKey;
  return generateKeyPairSync('ec', { namedCurve: info.crv! }).privateKey;
}

test('RFC 8037 §A.4: the Ed25519 signature of the example signing input', async () => {
  const signer = softwareSigner(createPrivateKey({ key: ED25519, format: 'jwk' }), 'a', 'EdDSA');
  const sig = await signer.sign(Buffer.from('eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc'));
  expect(Buffer.from(sig).toString('base64url')).toBe(
    'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg',
  );
});

test('RFC 8037 §A.3: an import without kid gets the RFC 7638 thumbprint', async () => {
  const v = await validatePrivateJwk({ ...ED25519, alg: 'EdDSA' });
  expect(v.kid).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  expect(v.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: ED25519.x, kid: v.kid, alg: 'EdDSA', use: 'sig' });
  expect(v.publicJwk).not.toHaveProperty('d');
});

test.each([...KEY_PAIR_ALGS])('%s: a JWT from a software signer verifies with jose against the JWKS', async (alg) => {
  const signer = softwareSigner(keyFor(alg), `kid-${alg}`, alg);
  const jwt = await signJwt(signer, { sub: 'alice', iat: 1700000000 }, { cty: 'x' });
  const jwks = createLocalJWKSet({ keys: [signer.publicJwk as never] });
  const { payload, protectedHeader } = await jwtVerify(jwt, jwks);
  expect(payload).toEqual({ sub: 'alice', iat: 1700000000 });
  expect(protectedHeader).toEqual({ alg, kid: `kid-${alg}`, typ: 'JWT', cty: 'x' });
  await expect(importJWK(signer.publicJwk as never, alg)).resolves.toBeDefined();
});

test('signCompact keeps alg and kid from the signer whatever the extras say', async () => {
  const signer = softwareSigner(keyFor('ES256'), 'k', 'ES256');
  const jws = await signCompact(signer, Buffer.from('payload'), { alg: 'none', kid: 'evil' });
  const { protectedHeader, payload } = await compactVerify(jws, await importJWK(signer.publicJwk as never, 'ES256'));
  expect(protectedHeader).toEqual({ alg: 'ES256', kid: 'k' });
  expect(Buffer.from(payload).toString()).toBe('payload');
  await expect(signJwt(signer, [] as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
});

test('ECDSA signatures: raw r‖s passes, short halves are left-padded, DER is converted (RFC 7518 §3.4)', () => {
  const r = Buffer.alloc(32, 1);
  const s = Buffer.alloc(32, 2);
  expect(ecdsaToJws(Buffer.concat([r, s]), 'ES256')).toEqual(Buffer.concat([r, s]));
  const shortR = Buffer.alloc(31, 1);
  const shortS = Buffer.alloc(31, 2);
  expect(ecdsaToJws(Buffer.concat([shortR, shortS]), 'ES256')).toEqual(
    Buffer.concat([Buffer.from([0]), shortR, Buffer.from([0]), shortS]),
  );
  const highR = Buffer.concat([Buffer.from([0x80]), Buffer.alloc(31, 1)]);
  const der = Buffer.concat([Buffer.from([0x30, 2 + 33 + 2 + 32, 0x02, 33, 0x00]), highR, Buffer.from([0x02, 32]), s]);
  expect(ecdsaToJws(der, 'ES256')).toEqual(Buffer.concat([highR, s]));
  expect(() => ecdsaToJws(Buffer.alloc(65), 'ES256')).toThrow(
    expect.objectContaining({ code: 'ERR_JWS_SIGNATURE_MALFORMED' }),
  );
  expect(() => ecdsaToJws(Buffer.from([0x30, 9, 2, 1, 1, 2, 1, 1, 0, 0, 0]), 'ES256')).toThrow(
    expect.objectContaining({ code: 'ERR_JWS_SIGNATURE_MALFORMED' }),
  );
});

// kid <-> CKA_ID: test/unit/kid.test.ts.

describe('imports are validated, each rule with its code', () => {
  const ec = () => ({
    ...(keyFor('ES256').export({ format: 'jwk' }) as Record<string, unknown>),
    alg: 'ES256',
    kid: 'e1',
  });
  const rsaMixed = () => {
    const a = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as Record<
      string,
      unknown
    >;
    const b = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as Record<
      string,
      unknown
    >;
    return { ...a, d: b.d, p: b.p, q: b.q, dp: b.dp, dq: b.dq, qi: b.qi, alg: 'RS256' };
  };
  const rsa1024 = () => ({
    ...(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' }) as Record<
      string,
      unknown
    >),
    alg: 'RS256',
  });

  test.each([
    ['not an object', 'x', 'ERR_JWK_INVALID'],
    ['an unknown kty', { kty: 'foo', k: 'AA', alg: 'HS256' }, 'ERR_JWK_INVALID'],
    ['an unknown curve', { ...ec(), crv: 'P-224' }, 'ERR_JWK_CURVE_UNSUPPORTED'],
    ['an X25519 OKP key', { ...ED25519, crv: 'X25519', alg: 'EdDSA' }, 'ERR_JWK_CURVE_UNSUPPORTED'],
    ['no private part', { ...ec(), d: undefined }, 'ERR_JWK_PRIVATE_MISSING'],
    ['no alg', { ...ec(), alg: undefined }, 'ERR_JWK_INVALID'],
    ['an alg for another curve', { ...ec(), alg: 'ES384' }, 'ERR_JOSE_ALG_UNSUPPORTED'],
    ['an HMAC alg', { ...ec(), alg: 'HS256' }, 'ERR_JOSE_ALG_UNSUPPORTED'],
    ['a bad use', { ...ec(), use: 'both' }, 'ERR_JWK_INVALID'],
    ['an empty kid', { ...ec(), kid: '' }, 'ERR_JWK_INVALID'],
    [
      'a public part that is not the private key’s',
      { ...ec(), x: (keyFor('ES256').export({ format: 'jwk' }) as { x: string }).x },
      'ERR_JWK_INVALID',
    ],
    ['RSA under 2048 bits', rsa1024(), 'ERR_JWK_RSA_TOO_SHORT'],
    [
      'an EC "d" of another key (it would sign what the JWKS does not verify)',
      { ...ec(), d: (keyFor('ES256').export({ format: 'jwk' }) as { d: string }).d },
      'ERR_JWK_INVALID',
    ],
    ['RSA private members of another key', rsaMixed(), 'ERR_JWK_INVALID'],
    [
      'an Ed25519 "d" of another key',
      {
        ...ED25519,
        d: (generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as { d: string }).d,
        alg: 'EdDSA',
      },
      'ERR_JWK_INVALID',
    ],
    [
      'a "d" that is not base64url',
      { ...ec(), d: `${(ec() as unknown as { d: string }).d.slice(0, -2)}!!` },
      'ERR_JWK_INVALID',
    ],
    ['an EC key for enc', { ...ec(), use: 'enc', alg: 'RSA-OAEP-256' }, 'ERR_JOSE_ALG_UNSUPPORTED'],
    ['an EC key for enc labelled ES256', { ...ec(), use: 'enc' }, 'ERR_JOSE_ALG_UNSUPPORTED'],
    ['an RSA key for enc labelled PS256', { ...rsa1024(), alg: 'PS256', use: 'enc' }, 'ERR_JOSE_ALG_UNSUPPORTED'],
  ])('%s', async (_name, jwk, code) => {
    await expect(validatePrivateJwk(jwk)).rejects.toMatchObject({ code });
  });

  test('a valid RSA enc key and a valid EC key pass', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    await expect(validatePrivateJwk({ ...rsa, alg: 'RSA-OAEP-256' })).resolves.toMatchObject({
      use: 'enc',
      alg: 'RSA-OAEP-256',
    });
    await expect(validatePrivateJwk(ec())).resolves.toMatchObject({ kid: 'e1', use: 'sig', alg: 'ES256' });
  });

  test("an RSA enc key labelled RS256 (Hydra's `--use enc`) passes and publishes alg RS256, use enc", async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const v = await validatePrivateJwk({ ...rsa, alg: 'RS256', use: 'enc', kid: 'hydra-enc' });
    expect(v).toMatchObject({ kid: 'hydra-enc', use: 'enc', alg: 'RS256' });
    expect(v.publicJwk).toEqual({ kty: 'RSA', n: rsa.n, e: rsa.e, kid: 'hydra-enc', alg: 'RS256', use: 'enc' });
  });
});
