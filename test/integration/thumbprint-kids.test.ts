// Thumbprint kids (KID_FORMAT=thumbprint, or `kid: 'thumbprint'` per generation): a generated key's
// kid is its RFC 7638 thumbprint, on the token (CKA_ID) as in the software store; RFC 7638 §3.1's
// example fixes the thumbprint itself.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createLocalJWKSet, jwtVerify } from 'jose';

import { loadConfig } from '../../lib/config';
import { thumbprintOf, type PublicJwk } from '../../lib/jose/jwk';
import { createKeyManager } from '../../lib/keys/create';
import { HsmKeySource } from '../../lib/keys/hsm-source';
import type { KeyRing } from '../../lib/keys/key-ring';
import { Pkcs11Module } from '../../lib/pkcs11/module';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

test('RFC 7638 §3.1: the example RSA key has the thumbprint the RFC gives', () => {
  const jwk = {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  } as PublicJwk;
  expect(thumbprintOf(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
});

describe.each([
  ['hsm', true],
  ['software', false],
])('generated keys with thumbprint kids (%s)', (where, hsm) => {
  let dir: string;
  let km: KeyRing;
  beforeAll(async () => {
    if (hsm) softHsm().initToken('thumbprints');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-thumbprint-'));
    const env: Record<string, string> = {
      DSN: `sqlite://${path.join(dir, 'k.sqlite')}`,
      SECRETS_SYSTEM: 'thumbprint-kids-suite-secret',
      KID_FORMAT: 'thumbprint',
      ...(hsm
        ? { HSM_ENABLED: 'true', HSM_LIBRARY: SOFTHSM_MODULE, HSM_TOKEN_LABEL: 'thumbprints', HSM_PIN: USER_PIN }
        : {}),
    };
    km = await createKeyManager(loadConfig(env), { logger: undefined });
  });
  afterAll(async () => {
    await km?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each(['ES256', 'RS256', 'EdDSA'])('%s: the kid is the published key’s thumbprint, and it signs', async (alg) => {
    const set = `tp-${alg}`;
    const [made] = (await km.generateAndPersistKeySet(set, undefined, alg, 'sig')).keys as PublicJwk[];
    expect(made.kid).toBe(thumbprintOf(made));
    const jwks = await km.getKeySet(set);
    expect(jwks.keys.map((k) => k.kid)).toEqual([made.kid]);
    expect((await km.list()).find((k) => k.kid === made.kid)).toMatchObject({ set, where, origin: 'ours' });
    const jwt = await km.signJwt(set, { sub: 'alice' });
    const { protectedHeader } = await jwtVerify(jwt, createLocalJWKSet(jwks as never));
    expect(protectedHeader.kid).toBe(made.kid);
  });

  test('an explicit kid and `kid: "uuid"` still win; a symmetric key refuses a thumbprint', async () => {
    const named = (await km.generateAndPersistKeySet('tp-named', 'named-1', 'ES256', 'sig')).keys[0];
    expect(named.kid).toBe('named-1');
    const uuid = (await km.generateAndPersistKeySet('tp-uuid', undefined, 'ES256', 'sig', { kid: 'uuid' })).keys[0];
    expect(uuid.kid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await expect(
      km.generateAndPersistKeySet('tp-bad', undefined, 'ES256', 'sig', { kid: 'sha1' as never }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    if (!hsm) {
      await expect(
        km.generateAndPersistKeySet('tp-mac', undefined, 'HS256', 'sig', { kid: 'thumbprint' }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      const mac = (await km.generateAndPersistKeySet('tp-mac', undefined, 'HS256', 'sig')).keys[0];
      expect(mac.kid).toMatch(/^[0-9a-f-]{36}$/); // KID_FORMAT=thumbprint: symmetric keys keep UUIDs
    }
  });

  if (hsm) {
    test('on the token, the pair’s CKA_ID is the thumbprint and nothing is left under the provisional kid', async () => {
      const [made] = (await km.generateAndPersistKeySet('tp-token', undefined, 'ES384', 'sig')).keys as PublicJwk[];
      expect(await km.problems()).toEqual([]);
      const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
      try {
        const token = await mod.openToken({ tokenLabel: 'thumbprints' }, { pin: USER_PIN });
        const pairs = await token.findKeyPairs({ id: Buffer.from(made.kid) });
        expect(pairs).toHaveLength(1);
        const data = pairs[0].publicKeyData as { kty: string; crv: string; point: Buffer };
        expect(data).toMatchObject({ kty: 'EC', crv: 'P-384' });
        expect(data.point.subarray(1, 49).toString('base64url')).toBe(made.x); // the pair the kid names
        const ids = (await token.privateKeyIds()).map((k) => k.id.toString());
        const kids = (await km.list()).filter((k) => k.where === 'hsm').map((k) => k.kid);
        expect(ids.sort()).toEqual(kids.sort()); // every pair is a listed key: none kept its provisional id
      } finally {
        await mod.close();
      }
    });

    test('a rename that fails is rolled back: no pair, no record, no problem left', async () => {
      const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
      try {
        const token = await mod.openToken({ tokenLabel: 'thumbprints' }, { pin: USER_PIN });
        const before = (await token.privateKeyIds()).length;
        token.setKeyPairId = async () => {
          throw Object.assign(new Error('the token refused CKA_ID'), { code: 'ERR_PKCS11' });
        };
        const source = new HsmKeySource(token);
        const key = { set: 'tp-fail', kid: 'provisional-1', alg: 'ES256', use: 'sig' as const };
        await expect(
          source.generate({ ...key, createdAt: new Date(), lifecycle: {}, thumbprintKid: true }),
        ).rejects.toMatchObject({ code: 'ERR_PKCS11' });
        expect(await source.read('tp-fail')).toEqual({ entries: [], problems: [] });
        expect(await token.privateKeyIds()).toHaveLength(before);
      } finally {
        await mod.close();
      }
    });
  }
});
