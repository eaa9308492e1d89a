// Faults on demand, through the fault-injecting module (test/fault-module) in front of SoftHSM2:
// every injected failure ends in a typed error or a recovery, the next operation succeeds, and
// nothing crashes or hangs.
import { verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type KeyPair, Pkcs11Module, type Token } from '../../lib';
import { HsmKeyManager } from '../../lib/keys/hsm-key-manager';
import { publicKeyObject } from '../helpers/keys';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const FAULT = path.join(__dirname, '..', '..', 'build', 'fault-module', 'libfault_pkcs11.so');
const control = (text: string) => fs.writeFileSync(process.env.FAULT_CONTROL!, text);
const ES256 = { type: 'ECDSA', hash: 'SHA-256' } as const;
const data = Buffer.from('faulty');

beforeAll(() => {
  if (!fs.existsSync(FAULT)) throw new Error(`${FAULT} is missing: run npm run build:test-tools (npm test does)`);
  softHsm().initToken('faults');
});
beforeEach(() => control(''));

async function open(options: Parameters<Pkcs11Module['openToken']>[1] = {}): Promise<{ mod: Pkcs11Module; token: Token }> {
  const mod = await Pkcs11Module.load(FAULT);
  const token = await mod.openToken({ tokenLabel: 'faults' }, { pin: USER_PIN, ...options });
  return { mod, token };
}

/** Runs `body` on a fresh token twice: through the sign engine, then through the session pool alone. */
async function withEachSignPath(body: (token: Token, pair: KeyPair, engine: boolean) => Promise<void>): Promise<void> {
  for (const engine of [true, false]) {
    const { mod, token } = await open(engine ? {} : { engine: false, poolSize: 1 });
    try {
      const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
      await body(token, pair!, engine);
    } finally {
      await mod.close();
    }
  }
}

test('64-bit handles and raw EC points: found, decoded and used like any others', async () => {
  control('handles64\nraw_ec_point\n');
  const { mod, token } = await open();
  try {
    const made = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'f', id: Buffer.from('wide') });
    expect(made.privateKey).toBeGreaterThan(1n << 40n);
    const [found] = await token.findKeyPairs({ id: Buffer.from('wide') });
    expect(found!.privateKey).toBeGreaterThan(1n << 40n);
    expect(found!.publicKeyData).toEqual(made.publicKeyData);
    expect(found!.problems).toEqual([]);
    expect(verify('sha256', data, { key: publicKeyObject(found!), dsaEncoding: 'ieee-p1363' }, await token.sign(found!, ES256, data))).toBe(true);
  } finally {
    await mod.close();
  }
});

test('CKR_CANT_LOCK with OS locking: initialised without it, every call serialised, signing works', async () => {
  control('C_Initialize=cant_lock\n');
  const { mod, token } = await open();
  try {
    expect(mod.describe()).toMatchObject({ osLocking: false, ownsInitialization: true });
    const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
    const sigs = await Promise.all(Array.from({ length: 50 }, () => token.sign(pair!, ES256, data)));
    for (const sig of sigs) expect(verify('sha256', data, { key: publicKeyObject(pair!), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  } finally {
    await mod.close();
  }
});

test('a module someone else initialised (CKR_CRYPTOKI_ALREADY_INITIALIZED) is used and never finalized by us', async () => {
  const direct = await Pkcs11Module.load(SOFTHSM_MODULE); // initialises SoftHSM itself
  const { mod, token } = await open(); // the fault module's C_Initialize reaches the same SoftHSM
  expect(mod.describe().ownsInitialization).toBe(false);
  expect(await token.random(8)).toHaveLength(8);
  await mod.close();
  // SoftHSM was not finalized under the first user.
  const t = await direct.openToken({ tokenLabel: 'faults' }, { pin: USER_PIN });
  expect(await t.random(8)).toHaveLength(8);
  await direct.close();
});

test.each([
  ['C_Sign=0xB3', 'session lost: the engine gets new sessions, the pool evicts its own', 'engineReplacements'],
  ['C_Sign=0xB0', 'session closed: the same', 'engineReplacements'],
  ['C_SignInit=0x101', 'login lost: logged in again on the anchor session', 'relogins'],
])('%s once (%s): recovered, retried once, the signature verifies', async (directive, _what, counter) => {
  await withEachSignPath(async (token, pair, engine) => {
    control(`${directive} once\n`);
    const sig = await token.sign(pair, ES256, data);
    expect(verify('sha256', data, { key: publicKeyObject(pair), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    const { pool, recoveries } = token.stats();
    expect(recoveries.retries).toBe(1);
    if (counter === 'relogins') expect(recoveries.relogins).toBe(1);
    else if (!engine) expect(pool.evicted).toBe(1);
    else expect(recoveries.engineReplacements).toBe(1);
    expect(await token.sign(pair, ES256, data)).toHaveLength(64);
  });
});

test('a fault that persists: one retry, then the typed error; the token works once it clears', async () => {
  const { mod, token } = await open();
  try {
    const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
    control('C_Sign=0xB3\n');
    await expect(token.sign(pair!, ES256, data)).rejects.toMatchObject({ code: 'ERR_PKCS11_SESSION_HANDLE_INVALID', category: 'session-lost' });
    expect(token.stats().recoveries.retries).toBe(1);
    control('');
    expect(await token.sign(pair!, ES256, data)).toHaveLength(64);
  } finally {
    await mod.close();
  }
});

test.each([
  ['C_Sign=0x30', 'ERR_PKCS11_DEVICE_ERROR', 'device-gone'],
  ['C_SignInit=0x32', 'ERR_PKCS11_DEVICE_REMOVED', 'device-gone'],
  ['C_SignInit=0xE0', 'ERR_PKCS11_TOKEN_NOT_PRESENT', 'device-gone'],
  ['C_SignInit=0x82', 'ERR_PKCS11_OBJECT_HANDLE_INVALID', 'object-stale'],
])('%s once: a typed error (%s, %s), then the next signature works', async (directive, code, category) => {
  await withEachSignPath(async (token, pair) => {
    control(`${directive} once\n`);
    await expect(token.sign(pair, ES256, data)).rejects.toMatchObject({ code, category });
    const sig = await token.sign(pair, ES256, data);
    expect(verify('sha256', data, { key: publicKeyObject(pair), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  });
});

test('a stale handle under the key manager: looked up again by CKA_ID, and the JWT is signed', async () => {
  const { mod, token } = await open();
  const km = new HsmKeyManager(token, { closeWith: () => mod.close() });
  try {
    await km.generateAndPersistKeySet('stale', 'k', 'ES256');
    await km.signJwt('stale', {});
    control('C_SignInit=0x82 once\n');
    expect(typeof (await km.signJwt('stale', { n: 1 }))).toBe('string');
  } finally {
    await km.close();
  }
});

test('CKR_ATTRIBUTE_TYPE_INVALID for one attribute: the key is still listed, the attribute absent', async () => {
  const { mod, token } = await open();
  try {
    control('invalid_attr=0x105\n'); // CKA_DECRYPT
    const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
    expect(pair).toMatchObject({ canSign: true, canDecrypt: false, problems: [] });
  } finally {
    await mod.close();
  }
});

test('a slow token: the event loop keeps running, and a full pool refuses after its wait timeout', async () => {
  const { mod, token } = await open({ engine: false, poolSize: 1, poolWaitTimeoutMs: 50 });
  try {
    const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
    control('C_Sign delay_ms=300\n');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const slow = token.sign(pair!, ES256, data);
    await expect(token.sign(pair!, ES256, data)).rejects.toMatchObject({ code: 'ERR_POOL_TIMEOUT' });
    expect(await slow).toHaveLength(64);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(10);
  } finally {
    await mod.close();
  }
});
