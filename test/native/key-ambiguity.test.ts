// What findKeyPairs makes of a token where CKA_IDs do not pair cleanly (SoftHSM2; the odd objects
// are made under the facade with C_CreateObject and C_SetAttributeValue): several public objects for
// one private key, a public object of another key under its id, two private keys with one id, and
// public keys whose private key is gone. Nothing is picked silently.
import { type KeyPair, Pkcs11Module, type SignMechanism, type Token } from '../../lib';
import { CKA, CKK, CKO } from '../../lib/pkcs11/constants';
import { softwareVerify } from '../helpers/conformance';
import { rawSession, type RawSession } from '../helpers/raw';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';
import { handlesOf } from '../helpers/handles';

let mod: Pkcs11Module;
let token: Token;
let raw: RawSession;
const data = Buffer.from('eyJhbGciOiJ0ZXN0In0.ambiguous');
const RS256: SignMechanism = { type: 'RSA-PKCS1', hash: 'SHA-256' };
const id = (s: string) => Buffer.from(s);
const rsa = (name: string) => token.generateKeyPair({ type: 'rsa', bits: 2048 }, { label: 'amb', id: id(name) });
const p256 = (name: string) => token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'amb', id: id(name) });
const only = async (name: string): Promise<KeyPair> => {
  const found = await token.findKeyPairs({ id: id(name) });
  expect(found).toHaveLength(1);
  return found[0]!;
};

/** A token copy of `pair`'s public object, under `newId` (and another label, when given). */
async function copyPublic(pair: KeyPair, newId: string, label = 'copy'): Promise<bigint> {
  const ec = pair.keyType !== 'rsa';
  const types = ec ? [CKA.EC_PARAMS, CKA.EC_POINT] : [CKA.MODULUS, CKA.PUBLIC_EXPONENT];
  const values = (await raw.native.getAttributes(raw.session, handlesOf(pair).publicKey!, types)).map(
    (r) => ('value' in r ? r.value : undefined) as Buffer,
  );
  return raw.native.createObject(raw.session, [
    [CKA.CLASS, CKO.PUBLIC_KEY],
    [CKA.KEY_TYPE, ec ? CKK.EC : CKK.RSA],
    [CKA.TOKEN, true],
    [CKA.ID, id(newId)],
    [CKA.LABEL, label],
    [CKA.VERIFY, true],
    ...types.map((t, i) => [t, values[i]!] as const),
  ]);
}

beforeAll(async () => {
  softHsm().initToken('ambiguity');
  softHsm().initToken('nobody'); // never logged in
  mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  token = await mod.openToken({ tokenLabel: 'ambiguity' }, { pin: USER_PIN, poolSize: 2 });
  raw = await rawSession(token.slot);
});

afterAll(async () => {
  await raw?.close();
  await mod?.close();
});

describe('RSA: the private object carries the modulus, so candidates are told apart', () => {
  test('two public objects, one of another key: ambiguous, and the one that matches is used', async () => {
    const own = await rsa('rsa-two');
    await copyPublic(await rsa('rsa-stranger'), 'rsa-two');
    const found = await only('rsa-two');
    expect(found.problems).toEqual(['public-key-ambiguous']);
    expect([handlesOf(found).publicKey, found.publicKeyData]).toEqual([handlesOf(own).publicKey, own.publicKeyData]);
    expect(softwareVerify(found, RS256, data, await token.sign(found, RS256, data))).toBe(true);
  });

  test('two public objects that both match: ambiguous, and neither is used', async () => {
    const own = await rsa('rsa-twice');
    await copyPublic(own, 'rsa-twice');
    const found = await only('rsa-twice');
    expect([found.problems, handlesOf(found).publicKey, found.publicKeyData, found.bits]).toEqual([
      ['public-key-ambiguous'],
      null,
      null,
      2048,
    ]);
  });

  test('the only public object is of another key: mismatch; the public part comes from the private object', async () => {
    const own = await rsa('rsa-wrong');
    await raw.native.destroyObject(raw.session, handlesOf(own).publicKey!);
    await copyPublic(await only('rsa-stranger'), 'rsa-wrong');
    const found = await only('rsa-wrong');
    expect([found.problems, handlesOf(found).publicKey, found.publicKeyData]).toEqual([
      ['public-key-mismatch'],
      null,
      own.publicKeyData,
    ]);
    expect(softwareVerify(found, RS256, data, await token.sign(found, RS256, data))).toBe(true);
  });

  test('several public objects and none matches: ambiguous and mismatch, no public part', async () => {
    const own = await rsa('rsa-none');
    await raw.native.destroyObject(raw.session, handlesOf(own).publicKey!);
    await copyPublic(await only('rsa-stranger'), 'rsa-none');
    await copyPublic(await only('rsa-two'), 'rsa-none');
    const found = await only('rsa-none');
    expect([found.problems, handlesOf(found).publicKey, found.publicKeyData, found.bits]).toEqual([
      ['public-key-ambiguous', 'public-key-mismatch'],
      null,
      null,
      2048,
    ]);
  });
});

describe('EC: the private object names only the curve', () => {
  test('two public objects on its curve with its label: ambiguous, and neither is used', async () => {
    const own = await p256('ec-two');
    await copyPublic(await p256('ec-stranger'), 'ec-two', 'amb');
    const found = await only('ec-two');
    expect([found.problems, handlesOf(found).publicKey, found.publicKeyData, found.curve]).toEqual([
      ['public-key-ambiguous'],
      null,
      null,
      'P-256',
    ]);
    expect(own.publicKeyData).not.toBeNull();
  });

  test('two public objects on its curve, one with its label (one CKA_ID in two key sets): that one, still reported', async () => {
    const own = await p256('ec-labelled');
    await copyPublic(await p256('ec-elsewhere'), 'ec-labelled', 'another-set');
    const found = await only('ec-labelled');
    expect([found.problems, handlesOf(found).publicKey, found.publicKeyData]).toEqual([
      ['public-key-ambiguous'],
      handlesOf(own).publicKey,
      own.publicKeyData,
    ]);
  });

  test('the only public object is on another curve: mismatch, no public part', async () => {
    const own = await p256('ec-wrong');
    await raw.native.destroyObject(raw.session, handlesOf(own).publicKey!);
    await copyPublic(
      await token.generateKeyPair({ type: 'ec', curve: 'P-384' }, { label: 'amb', id: id('ec-384') }),
      'ec-wrong',
    );
    const found = await only('ec-wrong');
    expect([found.problems, handlesOf(found).publicKey, found.publicKeyData, found.curve]).toEqual([
      ['public-key-mismatch'],
      null,
      null,
      'P-256',
    ]);
  });

  test('one public object on its curve and one on another, with its label: ambiguous, and neither is used (the first is not proven)', async () => {
    await p256('ec-mixed');
    await copyPublic(await only('ec-384'), 'ec-mixed', 'amb');
    await copyPublic(await only('ec-stranger'), 'ec-mixed', 'amb');
    const found = await only('ec-mixed');
    expect([found.problems, found.publicKeyData]).toEqual([['public-key-ambiguous'], null]);
  });
});

test('two private keys with one CKA_ID: two KeyPairs with equal ids, each with its own public part', async () => {
  const first = await rsa('twin');
  const second = await rsa('twin-to-be');
  for (const h of [handlesOf(second).privateKey, handlesOf(second).publicKey!])
    await raw.native.setAttributes(raw.session, h, [[CKA.ID, id('twin')]]);
  const found = await token.findKeyPairs({ id: id('twin') });
  expect(found.map((p) => p.id.toString())).toEqual(['twin', 'twin']);
  const byHandle = new Map(found.map((p) => [handlesOf(p).privateKey, p]));
  expect(byHandle.get(handlesOf(first).privateKey)!.publicKeyData).toEqual(first.publicKeyData);
  expect(byHandle.get(handlesOf(second).privateKey)!.publicKeyData).toEqual(second.publicKeyData);
  expect(found.map((p) => p.problems)).toEqual([['public-key-ambiguous'], ['public-key-ambiguous']]);
  await expect(
    token.generateKeyPair({ type: 'rsa', bits: 2048 }, { label: 'amb', id: id('twin') }),
  ).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
});

test('findOrphanPublicKeys: public objects whose CKA_ID no private key has', async () => {
  const gone = await p256('orphan');
  await raw.native.destroyObject(raw.session, handlesOf(gone).privateKey); // a half-deleted pair
  await copyPublic(await only('ec-stranger'), 'no-such-key', 'strays');
  expect(await token.findOrphanPublicKeys({ label: 'amb' })).toEqual([
    { id: id('orphan'), label: 'amb', keyType: 'ec' },
  ]);
  expect(await token.findOrphanPublicKeys({ label: 'strays' })).toEqual([
    { id: id('no-such-key'), label: 'strays', keyType: 'ec' },
  ]);
  expect(await token.findOrphanPublicKeys({ label: 'nothing here' })).toEqual([]);
  // the copies above share ids with private keys: not orphans
  expect((await token.findOrphanPublicKeys()).map((o) => o.id.toString()).sort()).toEqual(['no-such-key', 'orphan']);
  await expect(token.findOrphanPublicKeys({ label: 1 } as never)).rejects.toMatchObject({
    code: 'ERR_INVALID_ARG_TYPE',
  });
});

test('findOrphanPublicKeys without a login: ERR_LOGIN_REQUIRED (every public key would look orphaned)', async () => {
  const nobody = await mod.openToken({ tokenLabel: 'nobody' });
  try {
    await expect(nobody.findOrphanPublicKeys()).rejects.toMatchObject({ code: 'ERR_LOGIN_REQUIRED' });
  } finally {
    await nobody.close();
  }
});

test('listing many keys at once (one index of the public objects) reads every pair as a search per key does', async () => {
  const all = await token.findKeyPairs({}); // more than two private keys: the indexed path
  expect(all.length).toBeGreaterThan(2);
  const view = (p: KeyPair) => ({
    id: p.id.toString('hex'),
    priv: handlesOf(p).privateKey,
    pub: handlesOf(p).publicKey,
    problems: p.problems,
    data: p.publicKeyData,
  });
  const oneByOne: ReturnType<typeof view>[] = [];
  for (const idHex of [...new Set(all.map((p) => p.id.toString('hex')))]) {
    const found = await token.findKeyPairs({ id: Buffer.from(idHex, 'hex') });
    if (found.length <= 2) oneByOne.push(...found.map(view)); // at most two: the per-key search path
  }
  const byHandle = new Map(all.map((p) => [handlesOf(p).privateKey, view(p)]));
  expect(oneByOne.length).toBeGreaterThan(2);
  for (const v of oneByOne) expect(byHandle.get(v.priv)).toEqual(v);
});
