// Data objects through the fault-injecting module in front of SoftHSM2 (which it alone initialises
// in this file, so that it may re-initialise it): a DataObject made before a re-initialisation is
// found again by class, application, label and value, or refused with a typed error; creation is
// never retried, a search is.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Pkcs11Module, type DataObject, type Token } from '../../lib';
import { softHsm, USER_PIN } from '../helpers/softhsm';

const FAULT = path.join(__dirname, '..', '..', 'build', 'fault-module', 'libfault_pkcs11.so');
const control = (text: string) => fs.writeFileSync(process.env.FAULT_CONTROL!, text);
const APP = 'hsm-jwks/test';
const bytes = (s: string) => Buffer.from(s);
const values = async (t: Token, label?: string) =>
  (await t.findDataObjects({ application: APP, ...(label ? { label } : {}) })).map((o) => o.value.toString()).sort();
const recovery = { backoffMs: 5, maxBackoffMs: 20 };

beforeAll(() => {
  if (!fs.existsSync(FAULT)) throw new Error(`${FAULT} is missing: run npm run build:test-tools (npm test does)`);
  softHsm().initToken('data');
});
beforeEach(() => control(''));

/** Two tokens on one module (the fault module); `reinitialise` makes `a` re-initialise it (a failed random()). */
async function withTokens(
  body: (a: Token, b: Token, reinitialise: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const mod = await Pkcs11Module.load(FAULT);
  try {
    const a = await mod.openToken({ tokenLabel: 'data' }, { pin: USER_PIN, recovery, poolSize: 2 });
    const b = await mod.openToken({ tokenLabel: 'data' }, { pin: USER_PIN, recovery, poolSize: 2 });
    const reinitialise = async () => {
      const before = a.stats().recoveries.reinitializations;
      control('C_GenerateRandom=0x32 once\n'); // CKR_DEVICE_REMOVED: re-initialised, then retried
      expect(await a.random(4)).toHaveLength(4);
      expect(a.stats().recoveries.reinitializations).toBe(before + 1);
      control('');
    };
    await body(a, b, reinitialise);
    for (const o of await a.findDataObjects({ application: APP })) await a.destroyDataObject(o);
  } finally {
    control('');
    await mod.close();
  }
}

test('after a re-initialisation, an old DataObject is found again by class, application, label and value', async () => {
  await withTokens(async (a, _b, reinitialise) => {
    const keep = await a.createDataObject({ label: 'r', application: APP, value: bytes('keep') });
    const drop = await a.createDataObject({ label: 'r', application: APP, value: bytes('drop') });
    await reinitialise();
    await a.destroyDataObject(drop);
    expect(await values(a)).toEqual(['keep']);
    await a.destroyDataObject(keep);
    expect(await values(a)).toEqual([]);
  });
});

test('another Token re-initialised the module: its old DataObjects are found again too', async () => {
  await withTokens(async (a, b, reinitialise) => {
    const made = await b.createDataObject({ label: 'other', application: APP, value: bytes('b') });
    await reinitialise(); // by a
    // b's call is refused before the module (its sessions are of the old generation); b adopts the
    // new one, and, as for every call that is never retried, says so instead of retrying.
    await expect(b.destroyDataObject(made)).rejects.toMatchObject({ code: 'ERR_MODULE_REINITIALIZED' });
    expect(b.stats().recoveries.reinitializations).toBe(1);
    expect(await values(a)).toEqual(['b']);
    await b.destroyDataObject(made);
    expect(await values(a)).toEqual([]);
  });
});

test('after a re-initialisation: ERR_DATA_OBJECT_AMBIGUOUS when several objects are equal, ERR_DATA_OBJECT_GONE when none is', async () => {
  await withTokens(async (a, b, reinitialise) => {
    const twin = await a.createDataObject({ label: 'r2', application: APP, value: bytes('same') });
    await a.createDataObject({ label: 'r2', application: APP, value: bytes('same') });
    const lost = await a.createDataObject({ label: 'r2', application: APP, value: bytes('lost') });
    const [elsewhere] = (await b.findDataObjects({ application: APP, label: 'r2' })).filter(
      (o: DataObject) => o.value.toString() === 'lost',
    );
    await b.destroyDataObject(elsewhere!);
    await reinitialise();
    await expect(a.destroyDataObject(twin)).rejects.toMatchObject({ code: 'ERR_DATA_OBJECT_AMBIGUOUS', matches: 2 });
    await expect(a.destroyDataObject(lost)).rejects.toMatchObject({ code: 'ERR_DATA_OBJECT_GONE' });
    expect(await values(a, 'r2')).toEqual(['same', 'same']); // nothing was destroyed on a guess
  });
});

test('createDataObject is not retried after the device went away; findDataObjects is', async () => {
  await withTokens(async (a) => {
    control('C_CreateObject=0x32 once\n');
    await expect(a.createDataObject({ label: 'c', application: APP, value: bytes('v') })).rejects.toMatchObject({
      code: 'ERR_PKCS11_DEVICE_REMOVED',
      fn: 'C_CreateObject',
    });
    expect(a.stats().recoveries).toMatchObject({ reinitializations: 1, retries: 0 });
    control('');
    expect(await values(a)).toEqual([]); // nothing was made, and nothing made twice
    const made = await a.createDataObject({ label: 'c', application: APP, value: bytes('v') });
    control('C_FindObjectsInit=0x32 once\n');
    expect((await a.findDataObjects({ application: APP })).map((o) => ({ ...o }))).toEqual([{ ...made }]);
    expect(a.stats().recoveries).toMatchObject({ reinitializations: 2, retries: 1 });
  });
});

test('destroyDataObject after the device went away: not retried; the next call finds the object again and destroys it', async () => {
  await withTokens(async (a) => {
    const made = await a.createDataObject({ label: 'd', application: APP, value: bytes('v') });
    control('C_DestroyObject=0x32 once\n');
    await expect(a.destroyDataObject(made)).rejects.toMatchObject({
      code: 'ERR_PKCS11_DEVICE_REMOVED',
      fn: 'C_DestroyObject',
    });
    expect(a.stats().recoveries).toMatchObject({ reinitializations: 1, retries: 0 });
    control('');
    await a.destroyDataObject(made);
    expect(await values(a)).toEqual([]);
  });
});

test('64-bit handles: made, found and destroyed like any others', async () => {
  control('handles64\n');
  const mod = await Pkcs11Module.load(FAULT);
  try {
    const t = await mod.openToken({ tokenLabel: 'data' }, { pin: USER_PIN });
    const made = await t.createDataObject({ label: 'wide', application: APP, value: bytes('w') });
    const [found] = await t.findDataObjects({ application: APP });
    expect(found!.value.toString()).toBe('w');
    await t.destroyDataObject(made);
    expect(await t.findDataObjects({ application: APP })).toEqual([]);
  } finally {
    control('');
    await mod.close();
  }
});
