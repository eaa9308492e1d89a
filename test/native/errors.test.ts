// Bad input of every kind ends in a typed error with a stable code: never a crash, and never a PIN
// in a message.
import * as fs from 'node:fs';

import { KeyPair, Pkcs11Module, type Token } from '../../lib';
import { CKA, CKM } from '../../lib/pkcs11/constants';
import { defaultDeepBind, nativeBinding } from '../../lib/pkcs11/native';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

let mod: Pkcs11Module;
let token: Token;
let ec: KeyPair;

const LIBC = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', '/usr/lib/libc.so.6'].find((p) =>
  fs.existsSync(p),
);

beforeAll(async () => {
  const hsm = softHsm();
  hsm.initToken('errors');
  hsm.initToken('twin');
  hsm.initToken('twin');
  mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  token = await mod.openToken({ tokenLabel: 'errors' }, { pin: USER_PIN });
  ec = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'e', id: Buffer.from('ec') });
});

afterAll(async () => {
  await mod?.close();
});

describe('loading a module', () => {
  test('a path that does not exist', async () => {
    await expect(Pkcs11Module.load('/nonexistent/libpkcs11.so')).rejects.toMatchObject({
      code: 'ERR_MODULE_NOT_FOUND',
      path: '/nonexistent/libpkcs11.so',
    });
  });

  test('a shared library that is not a PKCS#11 module (libc)', async () => {
    expect(LIBC).toBeDefined();
    await expect(Pkcs11Module.load(LIBC!)).rejects.toMatchObject({ code: 'ERR_MODULE_NOT_PKCS11' });
  });

  test('a file that is not a shared library', async () => {
    await expect(Pkcs11Module.load(__filename)).rejects.toMatchObject({ code: 'ERR_MODULE_LOAD_FAILED' });
  });

  test('wrong argument types fail before any native call', async () => {
    await expect(Pkcs11Module.load(42 as unknown as string)).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(Pkcs11Module.load('')).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
    await expect(Pkcs11Module.load(SOFTHSM_MODULE, { deepBind: 'yes' } as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
  });
});

describe('opening a token', () => {
  test('a wrong PIN is ERR_PKCS11_PIN_INCORRECT, and the PIN appears nowhere in the error', async () => {
    const other = await Pkcs11Module.load(SOFTHSM_MODULE);
    try {
      const err = await other
        .openToken({ tokenLabel: 'twin', onAmbiguous: 'first' }, { pin: '987654' })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'ERR_PKCS11_PIN_INCORRECT',
        ckr: 'CKR_PIN_INCORRECT',
        fn: 'C_Login',
        category: 'bad-input',
      });
      const seen = JSON.stringify(err, Object.getOwnPropertyNames(err)) + String((err as Error).stack);
      expect(seen).not.toContain('987654');
    } finally {
      await other.close();
    }
  });

  test('a wrong PIN while this process is logged in (C_Login says ALREADY_LOGGED_IN unchecked): ERR_PIN_MISMATCH', async () => {
    // `token` is logged in to 'errors'; C_Login on another session answers USER_ALREADY_LOGGED_IN
    // whatever the PIN, so the token cannot tell: the witness of the first login does.
    const err = await mod.openToken({ tokenLabel: 'errors' }, { pin: '86420864' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PIN_MISMATCH' });
    expect(String((err as Error).message) + String((err as Error).stack)).not.toContain('86420864');
    const same = await mod.openToken({ tokenLabel: 'errors' }, { pin: USER_PIN });
    expect(await same.random(4)).toHaveLength(4);
    await same.close();
  });

  test('a PIN outside the token’s length limits is refused before C_Login (no try used), naming only its length', async () => {
    const err = await mod
      .openToken({ tokenLabel: 'twin', onAmbiguous: 'first' }, { pin: '12' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect((err as Error).message).toMatch(/by length, received 2$/);
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain('"12"');
  });

  test('an unknown label lists the labels present', async () => {
    await expect(mod.openToken({ tokenLabel: 'nope' }, { pin: USER_PIN })).rejects.toMatchObject({
      code: 'ERR_TOKEN_NOT_FOUND',
      labels: expect.arrayContaining(['errors', 'twin']),
    });
  });

  test('an ambiguous label lists the serials; a serial or onAmbiguous: first selects one', async () => {
    const err = (await mod.openToken({ tokenLabel: 'twin' }, { pin: USER_PIN }).catch((e: unknown) => e)) as {
      code: string;
      serials: string[];
    };
    expect(err.code).toBe('ERR_TOKEN_AMBIGUOUS');
    expect(err.serials).toHaveLength(2);
    const bySerial = await mod.openToken({ serial: err.serials[1]! }, { pin: USER_PIN });
    expect(bySerial.serialNumber).toBe(err.serials[1]);
    const first = await mod.openToken({ tokenLabel: 'twin', onAmbiguous: 'first' }, { pin: USER_PIN });
    expect(err.serials).toContain(first.serialNumber);
    const bySlot = await mod.openToken({ slot: first.slot }, { pin: USER_PIN });
    expect(bySlot.serialNumber).toBe(first.serialNumber);
    await Promise.all([bySerial.close(), first.close(), bySlot.close()]);
    await expect(mod.openToken({ serial: 'no-such-serial' })).rejects.toMatchObject({ code: 'ERR_TOKEN_NOT_FOUND' });
  });

  test('malformed selectors and options', async () => {
    await expect(mod.openToken({} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(mod.openToken({ tokenLabel: 'errors', serial: 'x' } as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(mod.openToken({ slot: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(mod.openToken({ tokenLabel: 'errors' }, { poolSize: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(mod.openToken({ tokenLabel: 'errors' }, { pin: 1234 as never })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
  });
});

describe('operations', () => {
  test('wrong argument types and values are TypeError/RangeError with codes', async () => {
    const data = Buffer.from('x');
    await expect(token.sign('key' as never, { type: 'ECDSA', hash: 'SHA-256' }, data)).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(token.sign(ec, { type: 'ECDSA', hash: 'SHA-1' } as never, data)).rejects.toMatchObject({
      name: 'RangeError',
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(token.sign(ec, { type: 'RSA-PKCS1', hash: 'SHA-256' }, data)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(token.sign(ec, { type: 'ECDSA', hash: 'SHA-256' }, 'text' as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(
      token.generateKeyPair({ type: 'rsa', bits: 1024 as never }, { label: 'l', id: Buffer.from('i') }),
    ).rejects.toMatchObject({ name: 'RangeError' });
    await expect(
      token.generateKeyPair({ type: 'ec', curve: 'P-224' as never }, { label: 'l', id: Buffer.from('i') }),
    ).rejects.toMatchObject({ name: 'RangeError' });
    await expect(
      token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'l', id: Buffer.from('i'), use: 'enc' }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(
      token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'l', id: 'i' as never }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(token.findKeyPairs({ id: 'abc' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(token.random(-1)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });

  test('the addon itself rejects wrong types with TypeError instead of crashing', async () => {
    const native = await nativeBinding().load(SOFTHSM_MODULE, { deepBind: defaultDeepBind() });
    try {
      // The addon's errors come from the main realm, not jest's: compare names, not classes.
      const thrown = (fn: () => unknown) => {
        try {
          fn();
        } catch (e) {
          return `${(e as Error).name}: ${(e as Error).message}`;
        }
        return 'nothing thrown';
      };
      expect(thrown(() => native.sign(1 as never, 1n, { type: 0x1041 }, Buffer.alloc(32), 0))).toMatch(
        /^TypeError: session must be a bigint/,
      );
      expect(thrown(() => native.sign(1n, 1n, { type: -1 }, Buffer.alloc(32), 0))).toMatch(
        /^RangeError: mechanism.type/,
      );
      expect(
        thrown(() => native.sign(1n, 1n, { type: 1, parameter: { kind: 'pss' } as never }, Buffer.alloc(1), 0)),
      ).toMatch(/^TypeError: pss.hashAlg/);
      expect(() => native.findObjects(1n, [[0x7fff_fff0, true]], 1)).toThrow(/not in the codec table/);
      expect(() => native.findObjects(1n, [[0x3, 42]], 1)).toThrow(/must be a string/);
      expect(thrown(() => native.getAttributes(1n, 1n, 'x' as never))).toMatch(/^TypeError/);
      expect(thrown(() => native.login(1n, 1, 'pin' as never))).toMatch(/^TypeError: pin must be a Buffer/);
      expect(thrown(() => new (nativeBinding().NativeModule as unknown as new () => unknown)())).toMatch(
        /^TypeError: NativeModule is created by load/,
      );
      await expect(native.getTokenInfo(0xdeadn)).rejects.toMatchObject({
        ckr: 'CKR_SLOT_ID_INVALID',
        fn: 'C_GetTokenInfo',
      });
    } finally {
      await native.close();
    }
  });

  test('every argument error of the addon carries its code: ERR_INVALID_ARG_TYPE (TypeError) or ERR_INVALID_ARG_VALUE (RangeError)', async () => {
    // Through the library, a hand-made KeyPair with a handle that does not fit a CK_ULONG never
    // reaches the addon: it is not this token's (a KeyPair carries no handle a caller could alter).
    const [ec] = await token.findKeyPairs({ id: Buffer.from('ec') });
    const forged = new KeyPair({ ...ec!, privateKey: 1n << 70n, publicKey: null, problems: [...ec!.problems] });
    await expect(token.sign(forged, { type: 'ECDSA', hash: 'SHA-256' }, Buffer.from('x'))).rejects.toMatchObject({
      code: 'ERR_KEY_FOREIGN',
    });
    expect(Object.keys(ec!)).not.toContain('privateKey');

    const native = await nativeBinding().load(SOFTHSM_MODULE, { deepBind: defaultDeepBind() });
    try {
      // The addon's errors come from the main realm, not jest's: compare name and code, not classes.
      const code = (fn: () => unknown) => {
        try {
          fn();
        } catch (e) {
          return `${(e as Error).name} ${(e as { code?: string }).code}`;
        }
        return 'nothing thrown';
      };
      const TYPE = 'TypeError ERR_INVALID_ARG_TYPE';
      const VALUE = 'RangeError ERR_INVALID_ARG_VALUE';
      const rsa = { type: CKM.RSA_PKCS_KEY_PAIR_GEN };
      const cases: Array<[string, () => unknown, string]> = [
        [
          'a handle beyond CK_ULONG',
          () => native.sign(1n, 1n << 70n, { type: CKM.ECDSA }, Buffer.alloc(32), 64),
          VALUE,
        ],
        ['bits: NaN', () => native.generateKeyPair(1n, rsa, [[CKA.MODULUS_BITS, NaN]], []), VALUE],
        ['bits: -1', () => native.generateKeyPair(1n, rsa, [[CKA.MODULUS_BITS, -1]], []), VALUE],
        ['bits: "2048"', () => native.generateKeyPair(1n, rsa, [[CKA.MODULUS_BITS, '2048' as never]], []), TYPE],
        ['a session that is a number', () => native.getSessionInfo(1 as never), TYPE],
        ['an attribute not in the codec table', () => native.findObjects(1n, [[0x7fff_fff0, true]], 1), VALUE],
        ['a label that is a number', () => native.findObjects(1n, [[CKA.LABEL, 42 as never]], 1), TYPE],
        ['a template that is not an array', () => native.createObject(1n, 'x' as never), TYPE],
        [
          'an unknown mechanism parameter kind',
          () => native.sign(1n, 1n, { type: 1, parameter: { kind: 'nope' } as never }, Buffer.alloc(1), 0),
          VALUE,
        ],
        [
          'a mechanism parameter kind that is not a string',
          () => native.sign(1n, 1n, { type: 1, parameter: { kind: 1 } as never }, Buffer.alloc(1), 0),
          TYPE,
        ],
        ['a signatureLength too large', () => native.sign(1n, 1n, CKM.ECDSA as never, Buffer.alloc(1), 2 ** 21), VALUE],
        ['signSync without signatureLength', () => native.signSync(1n, 1n, CKM.ECDSA, Buffer.alloc(1), 0), VALUE],
        ['a random length of 1.5', () => native.generateRandom(1n, 1.5), VALUE],
        ['getSlots("yes")', () => native.getSlots('yes' as never), TYPE],
        ['drainTimeoutMs beyond 10 minutes', () => native.reinitialize({ drainTimeoutMs: 600_001 }), VALUE],
        ['load(42)', () => nativeBinding().load(42 as never), TYPE],
        ['load("")', () => nativeBinding().load(''), VALUE],
        ['load options.osLocking: 1', () => nativeBinding().load(SOFTHSM_MODULE, { osLocking: 1 as never }), TYPE],
        ['new NativeModule()', () => new (nativeBinding().NativeModule as unknown as new () => unknown)(), TYPE],
        ['createSignEngine([])', () => native.createSignEngine([]), VALUE],
      ];
      expect(cases.map(([what, fn]) => [what, code(fn)])).toEqual(cases.map(([what, , expected]) => [what, expected]));
    } finally {
      await native.close();
    }
  });

  test('an existing CKA_ID is not generated over, even by concurrent calls', async () => {
    await expect(
      token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'again', id: Buffer.from('ec') }),
    ).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
    expect(await token.findKeyPairs({ id: Buffer.from('ec') })).toHaveLength(1);
    const race = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'race', id: Buffer.from('race') }),
      ),
    );
    expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(race.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(
      Array(4).fill('ERR_KEY_EXISTS'),
    );
    expect(await token.findKeyPairs({ id: Buffer.from('race') })).toHaveLength(1);
  });
});

describe('use after close', () => {
  test('a closed token, a closed module, and the module that closes its tokens', async () => {
    const m = await Pkcs11Module.load(SOFTHSM_MODULE);
    const t1 = await m.openToken({ tokenLabel: 'errors' }, { pin: USER_PIN });
    const t2 = await m.openToken({ tokenLabel: 'errors' }, { pin: USER_PIN });
    const [key] = await t1.findKeyPairs({ id: Buffer.from('ec') });
    await t1.close();
    await expect(t1.sign(key!, { type: 'ECDSA', hash: 'SHA-256' }, Buffer.from('x'))).rejects.toMatchObject({
      code: 'ERR_CLOSED',
    });
    await expect(t1.findKeyPairs()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await t1.close(); // idempotent
    const inflight = t2.sign(key!, { type: 'ECDSA', hash: 'SHA-256' }, Buffer.from('x')).then(
      (sig) => sig.length,
      (e: { code?: string }) => e.code,
    );
    await m.close(); // closes t2: a signature already running completes, one still queued is refused
    expect([64, 'ERR_CLOSED']).toContain(await inflight);
    await expect(t2.random(4)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(m.info()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(m.openToken({ tokenLabel: 'errors' })).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    // Other users of the same library are unaffected.
    expect(await token.random(4)).toHaveLength(4);
  });
});
