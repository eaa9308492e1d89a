// CKA_ALLOWED_MECHANISMS on generated key pairs, on SoftHSM2 (through the fault-injecting module,
// which passes everything through unless told otherwise): kept on both halves, read back, enforced
// by the token; and, where a token refuses the attribute, the pair generated again without it.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Pkcs11Module, type MechanismInfo, type SignMechanism, type Token } from '../../lib';
import { CKA, CKM } from '../../lib/pkcs11/constants';
import { allowedMechanismsPass, SOFTHSM2_OBJECTS, softwareVerify } from '../helpers/conformance';
import { rawSession, valuesOf, type RawSession } from '../helpers/raw';
import { softHsm, USER_PIN } from '../helpers/softhsm';
import { handlesOf } from '../helpers/handles';

const FAULT = path.join(__dirname, '..', '..', 'build', 'fault-module', 'libfault_pkcs11.so');
const control = (text: string) => fs.writeFileSync(process.env.FAULT_CONTROL!, text);
const data = Buffer.from('eyJhbGciOiJ0ZXN0In0.pinned');
const RS256: SignMechanism = { type: 'RSA-PKCS1', hash: 'SHA-256' };
const RS384: SignMechanism = { type: 'RSA-PKCS1', hash: 'SHA-384' };
const PS256: SignMechanism = { type: 'RSA-PSS', hash: 'SHA-256' };
const ES256: SignMechanism = { type: 'ECDSA', hash: 'SHA-256' };

let mod: Pkcs11Module;
let token: Token;
let raw: RawSession;
let mechs: Map<number, MechanismInfo>;

beforeAll(async () => {
  if (!fs.existsSync(FAULT)) throw new Error(`${FAULT} is missing: run npm run build:test-tools (npm test does)`);
  softHsm().initToken('pinned');
  control('');
  mod = await Pkcs11Module.load(FAULT);
  token = await mod.openToken({ tokenLabel: 'pinned' }, { pin: USER_PIN, poolSize: 2 });
  raw = await rawSession(token.slot, { module: FAULT });
  mechs = new Map((await token.mechanisms()).map((m) => [m.type, m]));
});
afterEach(() => control(''));
afterAll(async () => {
  await raw?.close();
  await mod?.close();
});

const allowedOf = async (handle: bigint) =>
  valuesOf(await raw.native.getAttributes(raw.session, handle, [CKA.ALLOWED_MECHANISMS])).get(CKA.ALLOWED_MECHANISMS);

test('kept on both halves and read back; SoftHSM refuses every other mechanism at C_SignInit (CKR_MECHANISM_INVALID)', async () => {
  const pair = await token.generateKeyPair(
    { type: 'rsa', bits: 2048 },
    { label: 'p', id: Buffer.from('rsa-pinned'), allowedMechanisms: [CKM.SHA256_RSA_PKCS] },
  );
  expect([pair.allowedMechanisms, pair.problems]).toEqual([[CKM.SHA256_RSA_PKCS], []]);
  expect([await allowedOf(handlesOf(pair).privateKey), await allowedOf(handlesOf(pair).publicKey!)]).toEqual([
    [CKM.SHA256_RSA_PKCS],
    [CKM.SHA256_RSA_PKCS],
  ]);
  const [found] = await token.findKeyPairs({ id: Buffer.from('rsa-pinned') });
  expect(found!.allowedMechanisms).toEqual([CKM.SHA256_RSA_PKCS]);
  expect(softwareVerify(pair, RS256, data, await token.sign(found!, RS256, data))).toBe(true);
  for (const other of [PS256, RS384]) {
    // through the signing engine and through the pool alike
    await expect(token.sign(found!, other, data)).rejects.toMatchObject({
      code: 'ERR_PKCS11_MECHANISM_INVALID',
      fn: 'C_SignInit',
      category: 'bad-input',
    });
  }
  expect(token.stats().recoveries.retries).toBe(0); // a refused mechanism is not a fault
  const pool = await mod.openToken({ tokenLabel: 'pinned' }, { pin: USER_PIN, engine: false });
  try {
    await expect(pool.sign(found!, PS256, data)).rejects.toMatchObject({
      code: 'ERR_PKCS11_MECHANISM_INVALID',
      fn: 'C_SignInit',
    });
    expect(softwareVerify(pair, RS256, data, await pool.sign(found!, RS256, data))).toBe(true);
  } finally {
    await pool.close();
  }
  await token.destroyKeyPair(pair);
});

test('EC and Ed25519 keys pinned to CKM_ECDSA / CKM_EDDSA sign as before', async () => {
  const ec = await token.generateKeyPair(
    { type: 'ec', curve: 'P-256' },
    { label: 'p', id: Buffer.from('ec-pinned'), allowedMechanisms: [CKM.ECDSA] },
  );
  const ed = await token.generateKeyPair(
    { type: 'ed25519' },
    { label: 'p', id: Buffer.from('ed-pinned'), allowedMechanisms: [CKM.EDDSA] },
  );
  expect([ec.allowedMechanisms, ed.allowedMechanisms]).toEqual([[CKM.ECDSA], [CKM.EDDSA]]);
  expect(softwareVerify(ec, ES256, data, await token.sign(ec, ES256, data))).toBe(true);
  expect(softwareVerify(ed, { type: 'EdDSA' }, data, await token.sign(ed, { type: 'EdDSA' }, data))).toBe(true);
  await token.destroyKeyPair(ec);
  await token.destroyKeyPair(ed);
});

test('a key without the attribute: allowedMechanisms is undefined (SoftHSM reports an empty list)', async () => {
  const pair = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'p', id: Buffer.from('unpinned') });
  expect(await allowedOf(handlesOf(pair).privateKey)).toEqual([]);
  expect([pair.allowedMechanisms, pair.problems]).toEqual([undefined, []]);
  await token.destroyKeyPair(pair);
});

test('SoftHSM2 capabilities: CKA_ALLOWED_MECHANISMS kept and enforced', async () => {
  await allowedMechanismsPass(token, raw, mechs, SOFTHSM2_OBJECTS, {
    vendor: 'SoftHSM2',
    label: 'conformance',
    idPrefix: 'softhsm-',
  });
});

test.each([
  ['0x12', 'CKR_ATTRIBUTE_TYPE_INVALID'],
  ['0x13', 'CKR_ATTRIBUTE_VALUE_INVALID'],
  ['0xD1', 'CKR_TEMPLATE_INCONSISTENT'],
])('refused with %s (%s): generated again without it, and the KeyPair says so', async (rv) => {
  const id = Buffer.from(`refused-${rv}`);
  control(`C_GenerateKeyPair=${rv} once\n`);
  const pair = await token.generateKeyPair(
    { type: 'rsa', bits: 2048 },
    { label: 'p', id, allowedMechanisms: [CKM.SHA256_RSA_PKCS] },
  );
  expect([pair.allowedMechanisms, pair.problems]).toEqual([undefined, ['allowed-mechanisms-not-set']]);
  expect(await allowedOf(handlesOf(pair).privateKey)).toEqual([]); // the second call had no CKA_ALLOWED_MECHANISMS
  expect((await token.findKeyPairs({ id })).map((p) => handlesOf(p).privateKey)).toEqual([handlesOf(pair).privateKey]);
  expect(softwareVerify(pair, PS256, data, await token.sign(pair, PS256, data))).toBe(true);
  await token.destroyKeyPair(pair);
});

test('CKR_GENERAL_ERROR (how NSS softokn refuses it): generated again only when the failed call made nothing', async () => {
  const id = Buffer.from('general');
  control('C_GenerateKeyPair=0x5 once\n');
  const pair = await token.generateKeyPair(
    { type: 'ec', curve: 'P-256' },
    { label: 'p', id, allowedMechanisms: [CKM.ECDSA] },
  );
  expect(pair.problems).toEqual(['allowed-mechanisms-not-set']);
  await token.destroyKeyPair(pair);
  // A token that made the pair and still failed: nothing is generated a second time.
  control('C_GenerateKeyPair=0x5 once after\n');
  await expect(
    token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'p', id, allowedMechanisms: [CKM.ECDSA] }),
  ).rejects.toMatchObject({
    code: 'ERR_PKCS11_GENERAL_ERROR',
  });
  const left = await token.findKeyPairs({ id });
  expect(left.map((p) => p.allowedMechanisms)).toEqual([[CKM.ECDSA]]); // the one the failed call made
  await token.destroyKeyPair(left[0]!);
});

test('no fallback when the pin was not asked for, or for other failures', async () => {
  control('C_GenerateKeyPair=0x12 once\n');
  await expect(
    token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'p', id: Buffer.from('plain') }),
  ).rejects.toMatchObject({
    code: 'ERR_PKCS11_ATTRIBUTE_TYPE_INVALID',
  });
  control('C_GenerateKeyPair=0x31 once\n'); // CKR_DEVICE_MEMORY
  await expect(
    token.generateKeyPair(
      { type: 'ec', curve: 'P-256' },
      { label: 'p', id: Buffer.from('plain'), allowedMechanisms: [CKM.ECDSA] },
    ),
  ).rejects.toMatchObject({ code: 'ERR_PKCS11_DEVICE_MEMORY' });
  expect(await token.findKeyPairs({ id: Buffer.from('plain') })).toEqual([]);
});

test('allowedMechanisms is checked before the token is asked', async () => {
  const gen = (allowedMechanisms: unknown) =>
    token.generateKeyPair({ type: 'ec', curve: 'P-256' }, {
      label: 'p',
      id: Buffer.from('bad'),
      allowedMechanisms,
    } as never);
  await expect(gen('CKM_ECDSA')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(gen([])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  await expect(gen(['0x1041'])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(gen([-1])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  await expect(gen([1.5])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  await expect(gen(Array(65).fill(CKM.ECDSA))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  expect(await token.findKeyPairs({ id: Buffer.from('bad') })).toEqual([]);
});
