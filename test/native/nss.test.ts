// A second PKCS#11 implementation: NSS softokn. It exports C_GetInterface (PKCS#11 3.0), refuses
// C_Initialize without its configuration string in pReserved, and names its token "NSS Certificate
// DB". Runs when libsoftokn3 and certutil are installed (scripts/install-system-deps.sh does that).
import { execFileSync } from 'node:child_process';
import { verify, constants as C } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createLocalJWKSet, jwtVerify } from 'jose';
import Database from 'better-sqlite3';

import { HsmKeySource, KeyRing, Pkcs11Module, SoftwareKeySource, openKeyStore } from '../../lib';
import { allowedMechanismsPass, dataObjectPass, type ObjectCapabilities } from '../helpers/conformance';
import { publicKeyObject } from '../helpers/keys';
import { rawSession } from '../helpers/raw';

const NSS = [
  '/usr/lib/x86_64-linux-gnu/libsoftokn3.so',
  '/usr/lib/aarch64-linux-gnu/libsoftokn3.so',
  '/usr/lib64/libsoftokn3.so',
].find((p) => fs.existsSync(p));
const CERTUTIL = ['/usr/bin/certutil'].find((p) => fs.existsSync(p));
const absent = !NSS
  ? 'NSS softokn (libsoftokn3.so) is not installed'
  : !CERTUTIL
    ? 'certutil (libnss3-tools) is not installed'
    : '';
if (absent) console.warn(`skipping the NSS softokn tests: ${absent}; apt-get install libnss3 libnss3-tools`);
const describeNss = absent ? describe.skip : describe;
/** Measured on NSS 3.87 (docs/vendors.md): no CKO_DATA token objects, no CKA_ALLOWED_MECHANISMS on token keys. */
const NSS_OBJECTS: ObjectCapabilities = {
  dataObjects: { refused: 'CKR_ATTRIBUTE_VALUE_INVALID' },
  allowedMechanisms: { refused: 'CKR_GENERAL_ERROR' },
};

describeNss('NSS softokn', () => {
  const PIN = '1234';
  let dir: string;
  let initArgs: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-nss-'));
    const pwfile = path.join(dir, 'pw');
    fs.writeFileSync(pwfile, `${PIN}\n`);
    execFileSync(CERTUTIL!, ['-N', '-d', `sql:${dir}`, '-f', pwfile], { stdio: 'ignore' });
    initArgs = `configdir='sql:${dir}' certPrefix='' keyPrefix='' secmod='secmod.db' flags=`;
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('without its init args, C_Initialize fails with a typed error', async () => {
    await expect(Pkcs11Module.load(NSS!)).rejects.toMatchObject({ code: 'ERR_MODULE_INIT_FAILED' });
  });

  test('with init args: loaded through C_GetInterface, keys generated, signatures verify', async () => {
    const mod = await Pkcs11Module.load(NSS!, { initArgs });
    try {
      expect(mod.describe()).toMatchObject({ viaGetInterface: true, ownsInitialization: true });
      expect(mod.describe().functionListVersion.major).toBeGreaterThanOrEqual(3);
      const token = await mod.openToken({ tokenLabel: 'NSS Certificate DB' }, { pin: PIN });
      const data = Buffer.from('signed by NSS');
      const ec = await token.generateKeyPair(
        { type: 'ec', curve: 'P-384' },
        { label: 'nss', id: Buffer.from('nss-ec') },
      );
      expect(ec.publicKeyData).toMatchObject({ kty: 'EC', crv: 'P-384' });
      const esig = await token.sign(ec, { type: 'ECDSA', hash: 'SHA-384' }, data);
      expect(verify('sha384', data, { key: publicKeyObject(ec), dsaEncoding: 'ieee-p1363' }, esig)).toBe(true);
      const rsa = await token.generateKeyPair(
        { type: 'rsa', bits: 2048 },
        { label: 'nss', id: Buffer.from('nss-rsa') },
      );
      const psig = await token.sign(rsa, { type: 'RSA-PSS', hash: 'SHA-256' }, data);
      expect(
        verify('sha256', data, { key: publicKeyObject(rsa), padding: C.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, psig),
      ).toBe(true);
      const found = await token.findKeyPairs({ label: 'nss' });
      expect(found.map((p) => p.id.toString()).sort()).toEqual(['nss-ec', 'nss-rsa']);
      await token.destroyKeyPair(ec);
      await expect(token.sign(ec, { type: 'EdDSA' }, data)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      // NSS 3.87 has no EdDSA: refused from the mechanism list, before the token is asked.
      await expect(
        token.generateKeyPair({ type: 'ed25519' }, { label: 'nss', id: Buffer.from('nss-ed') }),
      ).rejects.toMatchObject({
        code: 'ERR_MECHANISM_UNSUPPORTED',
      });
    } finally {
      await mod.close();
    }
  });

  test('object capabilities: CKO_DATA token objects refused (CKR_ATTRIBUTE_VALUE_INVALID), CKA_ALLOWED_MECHANISMS refused (CKR_GENERAL_ERROR)', async () => {
    const mod = await Pkcs11Module.load(NSS!, { initArgs });
    try {
      const token = await mod.openToken({ tokenLabel: 'NSS Certificate DB' }, { pin: PIN });
      const mechs = new Map((await token.mechanisms()).map((m) => [m.type, m]));
      const raw = await rawSession(token.slot, { module: NSS!, pin: PIN, initArgs });
      try {
        const target = { vendor: 'NSS softokn', label: 'nss', idPrefix: 'nss-' };
        await dataObjectPass(token, raw, NSS_OBJECTS, target);
        await allowedMechanismsPass(token, raw, mechs, NSS_OBJECTS, target);
      } finally {
        await raw.close();
      }
    } finally {
      await mod.close();
    }
  });

  test('a token without CKO_DATA objects: key metadata is kept sealed in the store; an edited record is refused, never guessed', async () => {
    const mod = await Pkcs11Module.load(NSS!, { initArgs });
    const file = path.join(dir, 'fallback.sqlite');
    const ring = async () => {
      const token = await mod.openToken({ tokenLabel: 'NSS Certificate DB' }, { pin: PIN });
      const store = openKeyStore(`sqlite://${file}`, ['nss-fallback-secret-0123456789']);
      return new KeyRing(
        new SoftwareKeySource(store),
        new HsmKeySource(token, { store, closeWith: () => token.close() }),
      );
    };
    try {
      const km = await ring();
      try {
        await km.generateAndPersistKeySet('nss.meta', 'nss-es384', 'ES384');
        await km.generateAndPersistKeySet('nss.meta', 'nss-ps256', 'PS256', 'sig', { activateNow: true });
      } finally {
        await km.close();
      }
      const again = await ring(); // another ring, the same token and store: the same keys the same way
      try {
        const jwks = await again.getKeySet('nss.meta');
        expect(jwks.keys.map((k) => [k.kid, k.alg])).toEqual([
          ['nss-ps256', 'PS256'],
          ['nss-es384', 'ES384'],
        ]);
        const jwt = await again.signJwt('nss.meta', { sub: 'nss' });
        expect((await jwtVerify(jwt, createLocalJWKSet(jwks as never))).protectedHeader).toMatchObject({
          kid: 'nss-ps256',
          alg: 'PS256',
        });
      } finally {
        await again.close();
      }
      const db = new Database(file); // edit the alg outside the seal
      db.prepare(`UPDATE hsm_keys SET alg = 'RS256' WHERE kid = 'nss-ps256'`).run();
      db.close();
      const edited = await ring();
      try {
        expect((await edited.getKeySet('nss.meta')).keys.map((k) => k.kid)).toEqual(['nss-es384']);
        expect(await edited.problems()).toContainEqual(
          expect.objectContaining({ kind: 'metadata-invalid', kid: 'nss-ps256' }),
        );
      } finally {
        await edited.close();
      }
    } finally {
      await mod.close();
    }
  });
});
