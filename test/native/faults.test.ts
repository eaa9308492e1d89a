// Faults on demand, through the fault-injecting module (test/fault-module) in front of SoftHSM2:
// every injected failure ends in a typed error or a recovery, the next operation succeeds, and
// nothing crashes or hangs.
import { verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type KeyPair, Pkcs11Module, type RecoveryEvent, type Token } from '../../lib';
import { HsmKeySource } from '../../lib/keys/hsm-source';
import { KeyRing } from '../../lib/keys/key-ring';
import { SoftwareKeySource } from '../../lib/keys/software-source';
import { openKeyStore } from '../../lib/store/open-store';
import { publicKeyObject } from '../helpers/keys';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';
import { handlesOf } from '../helpers/handles';

const FAULT = path.join(__dirname, '..', '..', 'build', 'fault-module', 'libfault_pkcs11.so');
const control = (text: string) => fs.writeFileSync(process.env.FAULT_CONTROL!, text);
const ES256 = { type: 'ECDSA', hash: 'SHA-256' } as const;
const data = Buffer.from('faulty');
/** An ES256 signature of `data` by the key pair, checked in software. */
const verifies = (pair: KeyPair, sig: Buffer) =>
  verify('sha256', data, { key: publicKeyObject(pair), dsaEncoding: 'ieee-p1363' }, sig);

beforeAll(() => {
  if (!fs.existsSync(FAULT)) throw new Error(`${FAULT} is missing: run npm run build:test-tools (npm test does)`);
  softHsm().initToken('faults');
});
beforeEach(() => control(''));

/** Waits (up to 5 s) for the background reconnection to bring the token back. */
async function untilReady(token: Token): Promise<void> {
  for (const until = Date.now() + 5000; token.health().state !== 'ready' && Date.now() < until; )
    await new Promise((r) => setTimeout(r, 20));
  expect(token.health().state).toBe('ready');
}

async function open(
  options: Parameters<Pkcs11Module['openToken']>[1] = {},
): Promise<{ mod: Pkcs11Module; token: Token }> {
  const mod = await Pkcs11Module.load(FAULT);
  const token = await mod.openToken({ tokenLabel: 'faults' }, { pin: USER_PIN, ...options });
  return { mod, token };
}

/** Runs `body` on a fresh token twice: through the sign engine, then through the session pool alone. */
async function withEachSignPath(
  body: (token: Token, pair: KeyPair, engine: boolean) => Promise<void>,
  options: Parameters<Pkcs11Module['openToken']>[1] = {},
): Promise<void> {
  for (const engine of [true, false]) {
    const { mod, token } = await open(engine ? options : { ...options, engine: false, poolSize: 1 });
    try {
      const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
      await body(token, pair!, engine);
    } finally {
      control(''); // the next iteration loads the fault module afresh: it would take "once" lines as new
      await mod.close();
    }
  }
}

test('64-bit handles and raw EC points: found, decoded and used like any others', async () => {
  control('handles64\nraw_ec_point\n');
  const { mod, token } = await open();
  try {
    const made = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'f', id: Buffer.from('wide') });
    expect(handlesOf(made).privateKey).toBeGreaterThan(1n << 40n);
    const [found] = await token.findKeyPairs({ id: Buffer.from('wide') });
    expect(handlesOf(found!).privateKey).toBeGreaterThan(1n << 40n);
    expect(found!.publicKeyData).toEqual(made.publicKeyData);
    expect(found!.problems).toEqual([]);
    expect(verifies(found!, await token.sign(found!, ES256, data))).toBe(true);
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
    for (const sig of sigs) expect(verifies(pair!, sig)).toBe(true);
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
    expect(verifies(pair, sig)).toBe(true);
    const { pool, recoveries } = token.stats();
    expect(recoveries.retries).toBe(1);
    if (counter === 'relogins') expect(recoveries.relogins).toBe(1);
    else if (!engine) expect(pool.evicted).toBe(1);
    else expect(recoveries.engineReplacements).toBe(1);
    expect(await token.sign(pair, ES256, data)).toHaveLength(64);
  });
});

test('login lost, and the anchor session that held it is gone too: new sessions, a new login, the sign verifies', async () => {
  await withEachSignPath(async (token, pair) => {
    control('C_SignInit=0x101 once\nC_Login=0xB3 once\n');
    const sig = await token.sign(pair, ES256, data);
    expect(verifies(pair, sig)).toBe(true);
    expect(token.stats().recoveries).toMatchObject({ relogins: 0, reinitializations: 1, retries: 1 });
  });
});

test('a fault that persists: one retry, then the typed error; the token works once it clears', async () => {
  const { mod, token } = await open();
  try {
    const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
    control('C_Sign=0xB3\n');
    await expect(token.sign(pair!, ES256, data)).rejects.toMatchObject({
      code: 'ERR_PKCS11_SESSION_HANDLE_INVALID',
      category: 'session-lost',
    });
    expect(token.stats().recoveries.retries).toBe(1);
    control('');
    expect(await token.sign(pair!, ES256, data)).toHaveLength(64);
  } finally {
    await mod.close();
  }
});

test.each([
  ['C_Sign=0x30', 'device error'],
  ['C_SignInit=0x32', 'device removed'],
  ['C_SignInit=0xE0', 'token not present'],
])(
  '%s once (%s): the module is finalized and initialized again, the sign is retried and verifies',
  async (directive) => {
    await withEachSignPath(async (token, pair) => {
      control(`${directive} once\n`);
      const sig = await token.sign(pair, ES256, data);
      expect(verifies(pair, sig)).toBe(true);
      expect(token.stats().recoveries).toMatchObject({ reinitializations: 1, retries: 1 });
      expect(await token.sign(pair, ES256, data)).toHaveLength(64);
    });
  },
);

test('C_SignInit=0x82 once (stale object handle): the key is looked up again by CKA_ID, the sign retried', async () => {
  await withEachSignPath(async (token, pair) => {
    control('C_SignInit=0x82 once\n');
    const sig = await token.sign(pair, ES256, data);
    expect(verifies(pair, sig)).toBe(true);
    expect(token.stats().recoveries).toMatchObject({ keyLookups: 1, retries: 1, reinitializations: 0 });
  });
});

test('a stale handle under the key manager: looked up again by CKA_ID, and the JWT is signed', async () => {
  const { mod, token } = await open();
  const km = ringOver(token, () => mod.close());
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

describe('the device goes away', () => {
  const events: RecoveryEvent[] = [];
  const recovery = {
    reinitAttempts: 6,
    backoffMs: 50,
    maxBackoffMs: 200,
    onEvent: (e: RecoveryEvent) => void events.push(e),
  };
  beforeEach(() => {
    events.length = 0;
  });

  test('for 300 ms under 50 signs in flight: one re-initialisation with backoff, every sign verifies', async () => {
    await withEachSignPath(
      async (token, pair) => {
        events.length = 0;
        control('device_gone\n');
        setTimeout(() => control(''), 300);
        const sigs = await Promise.all(Array.from({ length: 50 }, () => token.sign(pair, ES256, data)));
        for (const sig of sigs) expect(verifies(pair, sig)).toBe(true);
        expect(token.stats().recoveries.reinitializations).toBe(1);
        expect(events.filter((e) => e.kind === 'reinitialize-failed').length).toBeGreaterThan(0);
        expect(events.find((e) => e.kind === 'reinitialized')).toMatchObject({ cause: 'ERR_PKCS11_DEVICE_REMOVED' });
        // Handles from before the re-initialisation were resolved again, not reused.
        expect(token.stats().recoveries.keyLookups).toBeGreaterThanOrEqual(1);
      },
      { recovery },
    );
  });

  test('for good: the sign fails typed within the backoff budget; once it is back, the next sign works', async () => {
    await withEachSignPath(
      async (token, pair) => {
        events.length = 0;
        control('device_gone\n');
        const started = Date.now();
        await expect(token.sign(pair, ES256, data)).rejects.toMatchObject({
          code: 'ERR_TOKEN_UNAVAILABLE',
          causeCode: 'ERR_PKCS11_DEVICE_REMOVED',
        });
        expect(Date.now() - started).toBeLessThan(5000); // 50+100+200+200+200 ms of backoff, plus the calls
        expect(events.filter((e) => e.kind === 'reinitialize-failed')).toHaveLength(6);
        // Unavailable now: requests fail at once, without a call, while it reconnects in the background.
        expect(token.health().state).toBe('unavailable');
        await expect(token.sign(pair, ES256, data)).rejects.toMatchObject({ code: 'ERR_TOKEN_UNAVAILABLE' });
        control('');
        await untilReady(token);
        const sig = await token.sign(pair, ES256, data);
        expect(verifies(pair, sig)).toBe(true);
        expect(token.stats().recoveries.reinitializations).toBe(1);
      },
      { recovery },
    );
  });

  test('find and read attributes: retried once after the re-initialisation', async () => {
    const { mod, token } = await open({ recovery });
    try {
      control('C_FindObjectsInit=0x32 once\n');
      expect(await token.findKeyPairs({ id: Buffer.from('wide') })).toHaveLength(1);
      control('C_GetAttributeValue=0x30 once\n');
      const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
      expect(pair!.problems).toEqual([]);
      expect(token.stats().recoveries).toMatchObject({ reinitializations: 2, retries: 2 });
    } finally {
      await mod.close();
    }
  });

  test('key generation is never retried: a typed error, no key made, and the token works afterwards', async () => {
    const { mod, token } = await open({ recovery });
    try {
      control('C_GenerateKeyPair=0x30 once\n');
      await expect(
        token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'g', id: Buffer.from('never') }),
      ).rejects.toMatchObject({
        code: 'ERR_PKCS11_DEVICE_ERROR',
      });
      expect(token.stats().recoveries).toMatchObject({ reinitializations: 1, retries: 0 });
      expect(await token.findKeyPairs({ id: Buffer.from('never') })).toEqual([]);
    } finally {
      await mod.close();
    }
  });

  test('a wrong PIN at the new login is not tried again (tokens lock after a few tries)', async () => {
    await withEachSignPath(
      async (token, pair) => {
        events.length = 0;
        control('C_SignInit=0x32 once\nC_Login=0xA0\n');
        await expect(token.sign(pair, ES256, data)).rejects.toMatchObject({
          code: 'ERR_LOGIN_REFUSED',
          ckr: 'CKR_PIN_INCORRECT',
        });
        expect(events.filter((e) => e.kind === 'login-refused')).toEqual([
          { kind: 'login-refused', cause: 'ERR_PKCS11_PIN_INCORRECT' },
        ]);
        control('');
        // No login until an operator acts, even once the token would take the PIN.
        await expect(token.sign(pair, ES256, data)).rejects.toMatchObject({ code: 'ERR_LOGIN_REFUSED' });
        await token.resumeLogins();
        expect(await token.sign(pair, ES256, data)).toHaveLength(64);
      },
      { recovery },
    );
  });

  test('a call that hangs: re-initialisation gives up after its drain timeout (nothing finalized under it), typed error', async () => {
    const { mod, token } = await open({
      engine: false,
      poolSize: 2,
      recovery: { ...recovery, reinitAttempts: 3, drainTimeoutMs: 100 },
    });
    try {
      const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
      events.length = 0;
      control('C_GenerateRandom delay_ms=2500\nC_SignInit=0x32 once\n');
      const hung = token.random(8);
      await new Promise((r) => setTimeout(r, 50)); // the random call is inside the module now
      const started = Date.now();
      await expect(token.sign(pair!, ES256, data)).rejects.toMatchObject({
        code: 'ERR_TOKEN_UNAVAILABLE',
        causeCode: 'ERR_PKCS11_DEVICE_REMOVED',
      });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(events.filter((e) => e.kind === 'reinitialize-failed').map((e) => e.cause)).toEqual(
        Array(3).fill('ERR_MODULE_BUSY'),
      );
      expect(await hung).toHaveLength(8); // the hung call was left alone and finished
      control('');
      await untilReady(token);
      expect(await token.sign(pair!, ES256, data)).toHaveLength(64);
    } finally {
      await mod.close();
    }
  });

  /** Two Tokens of one Pkcs11Module on the fault module: they share one module initialisation. */
  async function withTwoTokens(body: (a: Token, b: Token) => Promise<void>): Promise<void> {
    const mod = await Pkcs11Module.load(FAULT);
    try {
      const a = await mod.openToken({ tokenLabel: 'faults' }, { pin: USER_PIN, recovery });
      const b = await mod.openToken({ tokenLabel: 'faults' }, { pin: USER_PIN, recovery });
      await body(a, b);
    } finally {
      await mod.close();
    }
  }

  test('a key destroyed elsewhere while the device was away: ERR_KEY_GONE, never another key', async () => {
    await withTwoTokens(async (a, b) => {
      const doomed = await a.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'd', id: Buffer.from('doomed') });
      const [other] = await b.findKeyPairs({ id: Buffer.from('doomed') });
      await b.destroyKeyPair(other!);
      control('C_SignInit=0x32 once\n');
      await expect(a.sign(doomed, ES256, data)).rejects.toMatchObject({ code: 'ERR_KEY_GONE' });
      expect(a.stats().recoveries).toMatchObject({ reinitializations: 1, keyLookups: 1 });
    });
  });

  test('under the key manager: the JWT is signed through an unplugged device, and /metrics counts it', async () => {
    const { mod, token } = await open({ recovery });
    const km = ringOver(token, () => mod.close());
    try {
      await km.generateAndPersistKeySet('unplugged', 'unplugged-k', 'ES256');
      control('device_gone\n');
      setTimeout(() => control(''), 150);
      expect(typeof (await km.signJwt('unplugged', { n: 1 }))).toBe('string');
      // Reading the set is three token reads at once (findKeyPairs, findDataObjects,
      // findOrphanPublicKeys): one re-initialisation for all, then each is retried once.
      expect(km.stats()).toMatchObject({ hsm_jwks_reinitializations_total: 1, hsm_jwks_retries_total: 3 });
    } finally {
      await km.close();
    }
  });

  test('two tokens on one module: the second adopts the first one’s re-initialisation and finds its keys again', async () => {
    await withTwoTokens(async (a, b) => {
      const made = await b.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'b', id: Buffer.from('second') });
      const [pairA] = await a.findKeyPairs({ id: Buffer.from('wide') });
      control('C_SignInit=0x32 once\n');
      expect(await a.sign(pairA!, ES256, data)).toHaveLength(64);
      expect(a.stats().recoveries.reinitializations).toBe(1);
      // b's handles are from the old generation: refused before the token, re-resolved, signed.
      const sig = await b.sign(made, ES256, data);
      expect(verifies(made, sig)).toBe(true);
      expect(b.stats().recoveries).toMatchObject({ reinitializations: 1, keyLookups: 1 });
      await b.destroyKeyPair(made);
    });
  });
});

test('a full signing queue rejects at once with ERR_QUEUE_FULL; what was queued completes', async () => {
  const { mod, token } = await open({ engine: { workers: 1, batchSize: 1, maxPending: 8 } });
  try {
    const [pair] = await token.findKeyPairs({ id: Buffer.from('wide') });
    control('C_Sign delay_ms=20\n');
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => token.sign(pair!, ES256, data)));
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
    expect(codes).toEqual([...Array(8).fill('ok'), ...Array(4).fill('ERR_QUEUE_FULL')]);
    expect(token.stats().engine).toMatchObject({ maxPending: 8, outstanding: 0 });
  } finally {
    await mod.close();
  }
});

test('a full session-pool wait list rejects at once with ERR_QUEUE_FULL', async () => {
  const { mod, token } = await open({ engine: false, poolSize: 1, poolMaxWaiting: 2 });
  try {
    control('C_GenerateRandom delay_ms=50\n');
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => token.random(8)));
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
    expect(codes).toEqual(['ok', 'ok', 'ok', 'ERR_QUEUE_FULL', 'ERR_QUEUE_FULL']);
  } finally {
    await mod.close();
  }
});

/** A key ring whose keys are on `token`, with an in-memory store. */
function ringOver(token: Token, closeWith: () => Promise<void>): KeyRing {
  return new KeyRing(
    new SoftwareKeySource(openKeyStore('sqlite://:memory:', ['faults-test-secret-0123456789'])),
    new HsmKeySource(token, { closeWith }),
  );
}
