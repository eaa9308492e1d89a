// JWKs and JWTs from keys that stay on the token: the Hydra guide's pkcs11-tool keys publish with
// the kid, alg and use Hydra users expect, and JWTs signed through the token verify with jose.
import { createLocalJWKSet, importJWK, jwtVerify } from 'jose';

import { Pkcs11Module, type KeyPair, type Token } from '../../lib';
import { ALGORITHMS, KEY_PAIR_ALGS, type KeyPairAlg } from '../../lib/jose/algorithms';
import { hsmSigner } from '../../lib/jose/hsm-signer';
import { publicJwkFromKeyPair } from '../../lib/jose/jwk';
import { signJwt } from '../../lib/jose/jws';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

let mod: Pkcs11Module;
let token: Token;

beforeAll(async () => {
  const hsm = softHsm();
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
  const gen = (keyType: string, id: string) =>
    hsm.pkcs11Tool([
      '--token-label',
      'hydra',
      '--login',
      '--pin',
      USER_PIN,
      '--keypairgen',
      '--key-type',
      keyType,
      '--usage-sign',
      '--label',
      'hydra.openid.id-token',
      '--id',
      Buffer.from(id).toString('hex'),
    ]);
  gen('rsa:4096', 'test-key-id');
  gen('EC:secp256r1', 'p256-key');
  gen('EC:secp521r1', 'p521-key');
  mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  token = await mod.openToken({ tokenLabel: 'hydra' }, { pin: USER_PIN });
});

afterAll(async () => {
  await mod?.close();
});

test("the guide's keys publish as Hydra's: kid from CKA_ID, alg from the key, use sig; their JWTs verify", async () => {
  const pairs = await token.findKeyPairs({ label: 'hydra.openid.id-token' });
  const jwks = { keys: pairs.map((p) => publicJwkFromKeyPair(p)) };
  const byKid = new Map(jwks.keys.map((k) => [k.kid, k]));
  expect([...byKid.keys()].sort()).toEqual(['p256-key', 'p521-key', 'test-key-id']);
  const rsa = pairs.find((p) => p.keyType === 'rsa')!;
  expect(byKid.get('test-key-id')).toEqual({
    kty: 'RSA',
    kid: 'test-key-id',
    alg: 'RS256',
    use: 'sig', // CKA_DECRYPT is also true on these keys: Hydra's rule would publish them as enc
    n: (rsa.publicKeyData as { n: Buffer }).n.toString('base64url'),
    e: 'AQAB',
  });
  expect(byKid.get('p256-key')).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
  expect(byKid.get('p521-key')).toMatchObject({ kty: 'EC', crv: 'P-521', alg: 'ES512', use: 'sig' });
  const keySet = createLocalJWKSet(jwks as never);
  for (const pair of pairs) {
    const jwt = await signJwt(hsmSigner(token, pair), { sub: 'hydra-user', aud: 'client' });
    const { payload, protectedHeader } = await jwtVerify(jwt, keySet, { audience: 'client' });
    expect(payload.sub).toBe('hydra-user');
    expect(protectedHeader.kid).toBe(publicJwkFromKeyPair(pair).kid);
  }
});

describe('every alg, with the key kept on the token', () => {
  const keys = new Map<string, KeyPair>();
  const keyFor = async (alg: KeyPairAlg): Promise<KeyPair> => {
    const spec = ALGORITHMS[alg].generate;
    const name = JSON.stringify(spec);
    if (!keys.has(name))
      keys.set(name, await token.generateKeyPair(spec, { label: 'all-algs', id: Buffer.from(`k-${keys.size}`) }));
    return keys.get(name)!;
  };

  test.each([...KEY_PAIR_ALGS])('%s: generate → JWK → jose importJWK → signJwt → jwtVerify', async (alg) => {
    const pair = await keyFor(alg);
    const signer = hsmSigner(token, pair, { alg });
    expect(signer.publicJwk).toMatchObject({ alg, use: 'sig', kty: ALGORITHMS[alg].kty });
    await expect(importJWK(signer.publicJwk as never, alg)).resolves.toBeDefined();
    const jwt = await signJwt(signer, { n: 1 });
    const { protectedHeader } = await jwtVerify(jwt, createLocalJWKSet({ keys: [signer.publicJwk as never] }));
    expect(protectedHeader).toEqual({ alg, kid: signer.kid, typ: 'JWT' });
  });
});

test('a key made for enc publishes as RSA-OAEP-256 / enc and refuses to sign', async () => {
  const pair = await token.generateKeyPair(
    { type: 'rsa', bits: 2048 },
    { label: 'enc', id: Buffer.from('enc-key'), use: 'enc' },
  );
  expect(publicJwkFromKeyPair(pair)).toMatchObject({ kid: 'enc-key', alg: 'RSA-OAEP-256', use: 'enc' });
  expect(() => hsmSigner(token, pair)).toThrow(expect.objectContaining({ code: 'ERR_JWK_USE_MISMATCH' }));
  expect(() => publicJwkFromKeyPair(pair, { use: 'sig' })).toThrow(
    expect.objectContaining({ code: 'ERR_JWK_USE_MISMATCH' }),
  );
  const sig = await token.findKeyPairs({ label: 'all-algs' });
  expect(() => publicJwkFromKeyPair(sig.find((p) => p.keyType === 'ec')!, { alg: 'RS256' })).toThrow(
    expect.objectContaining({ code: 'ERR_JOSE_ALG_UNSUPPORTED' }),
  );
});
