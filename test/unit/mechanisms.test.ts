// Mechanism choice and host-side preparation, against mechanism lists of tokens that differ.
import { createHash } from 'node:crypto';

import { CKG, CKK, CKM, CKA, CKR, ckrName } from '../../lib/pkcs11/constants';
import { KeyPair } from '../../lib/pkcs11/key-pair';
import { prepareDecryption, prepareSignature } from '../../lib/pkcs11/mechanisms';

const pair = (keyType: KeyPair['keyType'], extra: Partial<ConstructorParameters<typeof KeyPair>[0]> = {}) =>
  new KeyPair({
    id: Buffer.from('k'),
    label: 'l',
    keyType,
    privateKey: 1n,
    publicKey: 2n,
    canSign: true,
    canDecrypt: false,
    publicKeyData: null,
    problems: [],
    ...extra,
  });
const all = new Set<number>(Object.values(CKM));
const data = Buffer.from('signing input');

test('constants match the PKCS#11 3.0 values', () => {
  expect([CKM.EDDSA, CKM.EC_EDWARDS_KEY_PAIR_GEN, CKK.EC_EDWARDS, CKM.ECDSA, CKM.SHA256_RSA_PKCS_PSS]).toEqual([
    0x1057, 0x1055, 0x40, 0x1041, 0x43,
  ]);
  expect([CKA.EC_POINT, CKA.ALLOWED_MECHANISMS, CKG.MGF1_SHA384]).toEqual([0x181, 0x40000600, 3]);
  expect(ckrName(CKR.PIN_INCORRECT)).toBe('CKR_PIN_INCORRECT');
  expect(ckrName(0x80000123)).toBe('CKR_VENDOR_DEFINED');
  expect(ckrName(0x4)).toBe('CKR_UNKNOWN_0x00000004');
});

test('ECDSA hashes on the host and uses CKM_ECDSA', () => {
  const p = prepareSignature({ type: 'ECDSA', hash: 'SHA-384' }, pair('ec', { curve: 'P-384' }), all, data);
  expect(p.mechanism).toEqual({ type: CKM.ECDSA });
  expect(p.data).toEqual(createHash('sha384').update(data).digest());
});

test('RSA PKCS#1 v1.5: CKM_SHA256_RSA_PKCS when listed, else CKM_RSA_PKCS over a DigestInfo (RFC 8017 §9.2)', () => {
  const rsa = pair('rsa', { bits: 2048 });
  expect(prepareSignature({ type: 'RSA-PKCS1', hash: 'SHA-256' }, rsa, all, data)).toEqual({
    mechanism: { type: CKM.SHA256_RSA_PKCS },
    data,
  });
  const p = prepareSignature({ type: 'RSA-PKCS1', hash: 'SHA-512' }, rsa, new Set([CKM.RSA_PKCS]), data);
  expect(p.mechanism).toEqual({ type: CKM.RSA_PKCS });
  expect(Buffer.from(p.data).toString('hex')).toBe(
    `3051300d060960864801650304020305000440${createHash('sha512').update(data).digest('hex')}`,
  );
});

test('RSA-PSS carries explicit parameters; salt defaults to the hash length', () => {
  const rsa = pair('rsa', { bits: 2048 });
  expect(prepareSignature({ type: 'RSA-PSS', hash: 'SHA-384' }, rsa, all, data).mechanism).toEqual({
    type: CKM.SHA384_RSA_PKCS_PSS,
    parameter: { kind: 'pss', hashAlg: CKM.SHA384, mgf: CKG.MGF1_SHA384, saltLength: 48 },
  });
  const raw = prepareSignature(
    { type: 'RSA-PSS', hash: 'SHA-256', saltLength: 0 },
    rsa,
    new Set([CKM.RSA_PKCS_PSS]),
    data,
  );
  expect(raw.mechanism.type).toBe(CKM.RSA_PKCS_PSS);
  expect(raw.data).toEqual(createHash('sha256').update(data).digest());
  expect(() => prepareSignature({ type: 'RSA-PSS', hash: 'SHA-256', saltLength: -1 }, rsa, all, data)).toThrow(
    RangeError,
  );
});

test('EdDSA signs the whole message with CKM_EDDSA', () => {
  expect(prepareSignature({ type: 'EdDSA' }, pair('ed25519', { curve: 'Ed25519' }), all, data)).toEqual({
    mechanism: { type: CKM.EDDSA },
    data,
  });
});

test('a token without the mechanism, or a mechanism for another key type, is refused before the token', () => {
  expect(() => prepareSignature({ type: 'EdDSA' }, pair('ed25519'), new Set([CKM.ECDSA]), data)).toThrow(
    expect.objectContaining({ code: 'ERR_MECHANISM_UNSUPPORTED' }),
  );
  expect(() => prepareSignature({ type: 'RSA-PKCS1', hash: 'SHA-256' }, pair('rsa'), new Set(), data)).toThrow(
    expect.objectContaining({ code: 'ERR_MECHANISM_UNSUPPORTED' }),
  );
  expect(() => prepareSignature({ type: 'ECDSA', hash: 'SHA-256' }, pair('rsa'), all, data)).toThrow(RangeError);
  expect(() => prepareSignature({ type: 'HS256' } as never, pair('rsa'), all, data)).toThrow(RangeError);
  expect(() => prepareSignature(null as never, pair('rsa'), all, data)).toThrow(TypeError);
});

test('decryption mechanisms: OAEP parameters and PKCS#1', () => {
  const rsa = pair('rsa');
  expect(prepareDecryption({ type: 'RSA-OAEP', hash: 'SHA-1' }, rsa, all)).toEqual({
    type: CKM.RSA_PKCS_OAEP,
    parameter: { kind: 'oaep', hashAlg: CKM.SHA_1, mgf: CKG.MGF1_SHA1 },
  });
  expect(prepareDecryption({ type: 'RSA-PKCS1' }, rsa, all)).toEqual({ type: CKM.RSA_PKCS });
  expect(() => prepareDecryption({ type: 'RSA-PKCS1' }, pair('ec'), all)).toThrow(RangeError);
});
