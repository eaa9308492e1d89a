// Every key spec is generated on SoftHSM with hardened templates, every mechanism signs, and every
// signature is verified in software (node:crypto) with the public key read back from the token.
import { constants as C, publicEncrypt } from 'node:crypto';

import { Pkcs11Module, type KeyPair, type SignMechanism, type Token } from '../../lib';
import { CKA, CKM } from '../../lib/pkcs11/constants';
import { prepareSignature } from '../../lib/pkcs11/mechanisms';
import { mechanismsFor as joseMechanisms, softwareVerify, SPECS } from '../helpers/conformance';
import { publicKeyObject } from '../helpers/keys';
import { rawSession, valuesOf, type RawSession } from '../helpers/raw';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';
import { handlesOf } from '../helpers/handles';

let mod: Pkcs11Module;
let token: Token;
let raw: RawSession;
const pairs = new Map<string, KeyPair>();

/** Every JOSE mechanism of the key type, and for RSA also PSS with an explicit salt length of 0. */
function mechanismsFor(pair: KeyPair): SignMechanism[] {
  return [
    ...joseMechanisms({ type: pair.keyType }),
    ...(pair.keyType === 'rsa' ? [{ type: 'RSA-PSS', hash: 'SHA-256', saltLength: 0 } as const] : []),
  ];
}

beforeAll(async () => {
  softHsm().initToken('keys');
  mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  token = await mod.openToken({ tokenLabel: 'keys' }, { pin: USER_PIN, poolSize: 2 });
  raw = await rawSession(token.slot);
  for (const [name, spec] of SPECS) {
    pairs.set(
      name,
      await token.generateKeyPair(spec, { label: `set.${name}`, id: Buffer.from(`kid-${name}`), use: 'sig' }),
    );
  }
});

afterAll(async () => {
  await raw?.close();
  await mod?.close();
});

describe.each(SPECS)('%s', (name, spec) => {
  test('is generated with hardened, explicit templates', async () => {
    const pair = pairs.get(name)!;
    expect(pair.keyType).toBe(spec.type);
    expect(pair.id.toString()).toBe(`kid-${name}`);
    expect(pair.label).toBe(`set.${name}`);
    expect(pair.problems).toEqual([]);
    expect([pair.canSign, pair.canDecrypt]).toEqual([true, false]);
    if (spec.type === 'rsa') expect(pair.bits).toBe(spec.bits);
    if (spec.type === 'ec') expect(pair.curve).toBe(spec.curve);
    const priv = valuesOf(
      await raw.native.getAttributes(raw.session, handlesOf(pair).privateKey, [
        CKA.TOKEN,
        CKA.PRIVATE,
        CKA.SENSITIVE,
        CKA.EXTRACTABLE,
        CKA.SIGN,
        CKA.DECRYPT,
        CKA.LABEL,
        CKA.ID,
        CKA.NEVER_EXTRACTABLE,
      ]),
    );
    expect(priv.get(CKA.TOKEN)).toBe(true);
    expect(priv.get(CKA.PRIVATE)).toBe(true);
    expect(priv.get(CKA.SENSITIVE)).toBe(true);
    expect(priv.get(CKA.EXTRACTABLE)).toBe(false);
    expect(priv.get(CKA.NEVER_EXTRACTABLE)).toBe(true);
    expect(priv.get(CKA.SIGN)).toBe(true);
    expect(priv.get(CKA.DECRYPT)).toBe(false);
    const pub = valuesOf(
      await raw.native.getAttributes(raw.session, handlesOf(pair).publicKey!, [
        CKA.TOKEN,
        CKA.VERIFY,
        CKA.LABEL,
        CKA.ID,
      ]),
    );
    expect(pub.get(CKA.TOKEN)).toBe(true);
    expect(pub.get(CKA.VERIFY)).toBe(true);
    expect(pub.get(CKA.LABEL)).toBe(priv.get(CKA.LABEL));
    expect(Buffer.compare(pub.get(CKA.ID) as Buffer, priv.get(CKA.ID) as Buffer)).toBe(0);
  });

  test('signs with every mechanism, verified by node:crypto', async () => {
    const pair = pairs.get(name)!;
    const data = Buffer.from(`eyJhbGciOiJ0ZXN0In0.${name}`);
    for (const m of mechanismsFor(pair)) {
      const sig = await token.sign(pair, m, data);
      expect(sig).toHaveLength(pair.signatureLength);
      expect({ m, ok: softwareVerify(pair, m, data, sig) }).toEqual({ m, ok: true });
      expect(softwareVerify(pair, m, Buffer.concat([data, Buffer.from('x')]), sig)).toBe(false);
    }
  });

  test('is found again by label and id', async () => {
    const [found] = await token.findKeyPairs({ label: `set.${name}`, id: Buffer.from(`kid-${name}`) });
    expect(handlesOf(found!).privateKey).toBe(handlesOf(pairs.get(name)!).privateKey);
    expect(found?.publicKeyData).toEqual(pairs.get(name)!.publicKeyData);
  });
});

test('without CKM_SHAxxx_RSA_PKCS(_PSS), RSA signs over a host DigestInfo / host hash', async () => {
  const pair = pairs.get('rsa-2048')!;
  const data = Buffer.from('fallback');
  const onlyRaw = new Set<number>([CKM.RSA_PKCS, CKM.RSA_PKCS_PSS]);
  for (const m of [
    { type: 'RSA-PKCS1', hash: 'SHA-384' },
    { type: 'RSA-PSS', hash: 'SHA-512' },
  ] as const) {
    const prepared = prepareSignature(m, pair, onlyRaw, data);
    expect([CKM.RSA_PKCS, CKM.RSA_PKCS_PSS]).toContain(prepared.mechanism.type);
    const sig = await raw.native.sign(raw.session, handlesOf(pair).privateKey, prepared.mechanism, prepared.data, 0);
    expect(softwareVerify(pair, m, data, sig)).toBe(true);
  }
});

test('the token verifies its own signatures and rejects a bad one', async () => {
  const pair = pairs.get('p-256')!;
  const data = Buffer.from('verify me');
  const m = { type: 'ECDSA', hash: 'SHA-256' } as const;
  const sig = await token.sign(pair, m, data);
  expect(await token.verify(pair, m, data, sig)).toBe(true);
  sig[5] = (sig[5]! + 1) & 0xff;
  expect(await token.verify(pair, m, data, sig)).toBe(false);
});

test('an RSA key made for enc decrypts (OAEP and PKCS#1) and cannot sign', async () => {
  const pair = await token.generateKeyPair(
    { type: 'rsa', bits: 2048 },
    { label: 'enc', id: Buffer.from('enc-1'), use: 'enc' },
  );
  expect([pair.canSign, pair.canDecrypt]).toEqual([false, true]);
  const secret = Buffer.from('a content key');
  const oaep = publicEncrypt(
    { key: publicKeyObject(pair), padding: C.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    secret,
  );
  expect(await token.decrypt(pair, { type: 'RSA-OAEP', hash: 'SHA-1' }, oaep)).toEqual(secret);
  const pkcs1 = publicEncrypt({ key: publicKeyObject(pair), padding: C.RSA_PKCS1_PADDING }, secret);
  expect(await token.decrypt(pair, { type: 'RSA-PKCS1' }, pkcs1)).toEqual(secret);
  await expect(token.sign(pair, { type: 'RSA-PKCS1', hash: 'SHA-256' }, secret)).rejects.toMatchObject({
    code: 'ERR_PKCS11_KEY_FUNCTION_NOT_PERMITTED',
    category: 'bad-input',
  });
});

test('random bytes come from the token', async () => {
  const a = await token.random(32);
  const b = await token.random(32);
  expect(a).toHaveLength(32);
  expect(a.equals(b)).toBe(false);
  expect(await token.random(0)).toHaveLength(0);
});
