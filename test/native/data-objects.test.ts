// Data objects (CKO_DATA) on SoftHSM2: made, found by application and label, destroyed; what
// SoftHSM claims for them in the capability pass; a handle gone stale. Re-initialisation is in
// data-object-recovery.test.ts (the fault module must own SoftHSM's initialisation there).
import { DataObject, Pkcs11Module, type Token } from '../../lib';
import { CKA, CKO } from '../../lib/pkcs11/constants';
import { KeyReader } from '../../lib/pkcs11/key-reader';
import { dataObjectPass, SOFTHSM2_OBJECTS } from '../helpers/conformance';
import { rawSession, valuesOf, type RawSession } from '../helpers/raw';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const APP = 'hsm-jwks/test';
const bytes = (s: string) => Buffer.from(s);

let mod: Pkcs11Module;
let token: Token;
let raw: RawSession;

/** Handles of the data objects of `application` (and `label`), found under the facade. */
const handlesOf = (application: string, label?: string) =>
  raw.native.findObjects(
    raw.session,
    [[CKA.CLASS, CKO.DATA], [CKA.APPLICATION, application], ...(label ? ([[CKA.LABEL, label]] as const) : [])],
    100,
  );

beforeAll(async () => {
  softHsm().initToken('data');
  mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  token = await mod.openToken({ tokenLabel: 'data' }, { pin: USER_PIN, poolSize: 2 });
  raw = await rawSession(token.slot);
});

afterAll(async () => {
  await raw?.close();
  await mod?.close();
});

test('createDataObject makes a CKO_DATA token object, private and modifiable unless asked otherwise', async () => {
  const secret = await token.createDataObject({ label: 'made', application: APP, value: bytes('{"alg":"ES256"}') });
  const open = await token.createDataObject({
    label: 'made-public',
    application: APP,
    value: new Uint8Array([0, 1, 2]),
    private: false,
  });
  expect(secret).toBeInstanceOf(DataObject);
  expect({ ...open }).toEqual({ label: 'made-public', application: APP, value: Buffer.from([0, 1, 2]) });
  const types = [CKA.CLASS, CKA.TOKEN, CKA.PRIVATE, CKA.MODIFIABLE, CKA.LABEL, CKA.APPLICATION, CKA.VALUE];
  const [h1] = await handlesOf(APP, 'made');
  const [h2] = await handlesOf(APP, 'made-public');
  expect([...valuesOf(await raw.native.getAttributes(raw.session, h1!, types)).values()]).toEqual([
    CKO.DATA,
    true,
    true,
    true,
    'made',
    APP,
    bytes('{"alg":"ES256"}'),
  ]);
  expect(valuesOf(await raw.native.getAttributes(raw.session, h2!, [CKA.PRIVATE])).get(CKA.PRIVATE)).toBe(false);
  await token.destroyDataObject(secret);
  await token.destroyDataObject(open);
  expect(await handlesOf(APP)).toEqual([]);
});

test('findDataObjects finds by application, and label; values are read; destroying one leaves the others', async () => {
  const made = [];
  for (const [label, value] of [
    ['set-a', 'a1'],
    ['set-a', 'a2'],
    ['set-b', 'b1'],
  ] as const) {
    made.push(await token.createDataObject({ label, application: APP, value: bytes(value) }));
  }
  await token.createDataObject({ label: 'set-a', application: `${APP}-other`, value: bytes('x') });
  const view = (list: DataObject[]) => list.map((o) => `${o.label}:${o.value.toString()}`).sort();
  expect(view(await token.findDataObjects({ application: APP }))).toEqual(['set-a:a1', 'set-a:a2', 'set-b:b1']);
  expect(view(await token.findDataObjects({ application: APP, label: 'set-a' }))).toEqual(['set-a:a1', 'set-a:a2']);
  expect(view(await token.findDataObjects({ application: APP, label: 'set-c' }))).toEqual([]);
  expect(view(await token.findDataObjects({ application: `${APP}-other` }))).toEqual(['set-a:x']);
  await token.destroyDataObject(made[0]!);
  expect(view(await token.findDataObjects({ application: APP }))).toEqual(['set-a:a2', 'set-b:b1']);
  // a found object is destroyed by its own handle: the one found, not an equal one
  for (const o of await token.findDataObjects({ application: APP })) await token.destroyDataObject(o);
  for (const o of await token.findDataObjects({ application: `${APP}-other` })) await token.destroyDataObject(o);
  expect(await handlesOf(APP)).toEqual([]);
});

test('SoftHSM2 capabilities: data objects accepted, CKA_VALUE read-only once made', async () => {
  await dataObjectPass(token, raw, SOFTHSM2_OBJECTS, {
    vendor: 'SoftHSM2',
    label: 'conformance',
    idPrefix: 'softhsm-',
  });
});

test('arguments are checked before the token is asked', async () => {
  const good = { label: 'l', application: APP, value: bytes('v') };
  const cases: Array<[unknown, string]> = [
    [null, 'ERR_INVALID_ARG_TYPE'],
    [{ ...good, label: 1 }, 'ERR_INVALID_ARG_TYPE'],
    [{ ...good, label: '' }, 'ERR_INVALID_ARG_VALUE'],
    [{ ...good, application: '' }, 'ERR_INVALID_ARG_VALUE'],
    [{ ...good, value: 'v' }, 'ERR_INVALID_ARG_TYPE'],
    [{ ...good, value: Buffer.alloc((1 << 20) + 1) }, 'ERR_INVALID_ARG_VALUE'],
    [{ ...good, private: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
  ];
  for (const [spec, code] of cases) {
    await expect(token.createDataObject(spec as never)).rejects.toMatchObject({ code });
  }
  await expect(token.findDataObjects({} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  await expect(token.findDataObjects({ application: APP, label: 3 } as never)).rejects.toMatchObject({
    code: 'ERR_INVALID_ARG_TYPE',
  });
  await expect(token.destroyDataObject({ ...good } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  expect(await handlesOf(APP)).toEqual([]);
});

test('a handle gone stale: the object is found again by what it is, or ERR_DATA_OBJECT_GONE', async () => {
  const moved = await token.createDataObject({ label: 'stale', application: APP, value: bytes('same') });
  const [old] = await handlesOf(APP, 'stale');
  await raw.native.destroyObject(raw.session, old!); // destroyed elsewhere, then made again: another handle
  const again = await raw.native.createObject(raw.session, [
    [CKA.CLASS, CKO.DATA],
    [CKA.TOKEN, true],
    [CKA.PRIVATE, true],
    [CKA.LABEL, 'stale'],
    [CKA.APPLICATION, APP],
    [CKA.VALUE, bytes('same')],
  ]);
  expect(again).not.toBe(old);
  await token.destroyDataObject(moved);
  expect(await handlesOf(APP)).toEqual([]);

  const gone = await token.createDataObject({ label: 'stale', application: APP, value: bytes('once') });
  await raw.native.destroyObject(raw.session, (await handlesOf(APP, 'stale'))[0]!);
  await expect(token.destroyDataObject(gone)).rejects.toMatchObject({ code: 'ERR_DATA_OBJECT_GONE' });
});

test('a DataObject is destroyed once: a second destroy is ERR_DATA_OBJECT_GONE even when an equal object remains', async () => {
  const a = await token.createDataObject({ label: 'twin', application: APP, value: bytes('t') });
  await token.createDataObject({ label: 'twin', application: APP, value: bytes('t') });
  await token.destroyDataObject(a);
  await expect(token.destroyDataObject(a)).rejects.toMatchObject({ code: 'ERR_DATA_OBJECT_GONE' });
  expect(await handlesOf(APP, 'twin')).toHaveLength(1);
  for (const o of await token.findDataObjects({ application: APP })) await token.destroyDataObject(o);
});

test('an object destroyed between a search and its read is skipped, not an error (another process cleared it)', async () => {
  await token.createDataObject({ label: 'vanishing', application: APP, value: bytes('v') });
  const [handle] = await handlesOf(APP, 'vanishing');
  const reader = new KeyReader(raw.native, raw.session);
  expect((await reader.attributesIfPresent(handle!, [CKA.VALUE]))?.bytes(CKA.VALUE)).toEqual(bytes('v'));
  await raw.native.destroyObject(raw.session, handle!);
  expect(await reader.attributesIfPresent(handle!, [CKA.VALUE])).toBeUndefined();
  await expect(reader.attributes(handle!, [CKA.VALUE])).rejects.toMatchObject({
    code: 'ERR_PKCS11_OBJECT_HANDLE_INVALID',
  });
});
