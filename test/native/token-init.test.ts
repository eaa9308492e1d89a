// Token initialisation through the addon (C_InitToken, C_Login as the SO, C_InitPIN, each queued off
// the JS thread), the way `serve --dev` and `hsm-jwks token init` make a token without a PIN on any
// command line; and the errors that say which tokens, slots and module files there are.
import { Pkcs11Module } from '../../lib';
import { defaultDeepBind, nativeBinding } from '../../lib/pkcs11/native';
import { SOFTHSM_MODULE, softHsm } from '../helpers/softhsm';

const SO = 'so-pin-of-the-init-test';
const USER = 'user-pin-of-the-init-test';

beforeAll(() => {
  softHsm(); // checks the per-file token directory
});

test('initToken makes a token the user PIN opens; the SO PIN resets it; a wrong SO PIN is refused', async () => {
  const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  try {
    const made = await mod.initToken({ label: 'made-here', soPin: SO, userPin: USER });
    expect(made).toMatchObject({ label: 'made-here', slot: expect.any(BigInt), serialNumber: expect.any(String) });
    const token = await mod.openToken({ tokenLabel: 'made-here' }, { pin: USER, poolSize: 1 });
    expect(token.serialNumber).toBe(made.serialNumber);
    await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'k', id: Buffer.from('k') });
    expect(await token.findKeyPairs()).toHaveLength(1);
    await token.close();
    // Another token in the next free slot: SoftHSM2 always keeps one.
    const second = await mod.initToken({ label: 'second', soPin: Buffer.from(SO), userPin: Buffer.from(USER) });
    expect(second.serialNumber).not.toBe(made.serialNumber);
    // Reset with the SO PIN: the same slot, the objects gone, a new user PIN.
    const wrong = await mod
      .initToken({ slot: made.slot, label: 'made-here', soPin: 'not-the-so-pin', userPin: USER })
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: 'ERR_PKCS11_PIN_INCORRECT' });
    const reset = await mod.initToken({ slot: made.slot, label: 'made-here', soPin: SO, userPin: 'new-user-pin' });
    expect(reset.serialNumber).toBe(made.serialNumber);
    const again = await mod.openToken({ tokenLabel: 'made-here' }, { pin: 'new-user-pin', poolSize: 1 });
    expect(await again.findKeyPairs()).toHaveLength(0);
    await again.close();
  } finally {
    await mod.close();
  }
});

test('argument errors are thrown before anything is queued', async () => {
  const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  try {
    await expect(mod.initToken({ label: 'x'.repeat(33), soPin: SO, userPin: USER })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(mod.initToken({ label: 'ok', soPin: '', userPin: USER })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    await expect(mod.initToken({ label: 'ok', soPin: 1234 as never, userPin: USER })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
    await expect(mod.initToken({ slot: 987654321n, label: 'ok', soPin: SO, userPin: USER })).rejects.toMatchObject({
      code: 'ERR_TOKEN_NOT_FOUND',
    });
    // The raw binding checks its own arguments.
    const native = await nativeBinding().load(SOFTHSM_MODULE, { deepBind: defaultDeepBind() }); // not under ASan
    try {
      expect(() => native.initToken(0n, Buffer.from(SO), 'é'.repeat(17))).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
      );
      expect(() => native.initToken(0n, SO as never, 'ok')).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
      );
      expect(() => native.initPin(1n, 'pin' as never)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
      );
      // C_InitPIN outside an SO session is the module's refusal, typed.
      const free = (await native.getSlots(true)).find((s) => s.token !== null)!;
      const session = await native.openSession(free.slot, 0);
      await expect(native.initPin(session, Buffer.from(USER))).rejects.toMatchObject({
        code: 'ERR_PKCS11_USER_NOT_LOGGED_IN',
      });
      await native.closeSession(session);
    } finally {
      await native.close();
    }
  } finally {
    await mod.close();
  }
});

test('a token that is not there: the error lists the tokens (label, serial, slot) and the slot ids', async () => {
  const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  try {
    const made = await mod.initToken({ label: 'listed', soPin: SO, userPin: USER });
    const byLabel = await mod.openToken({ tokenLabel: 'liste' }, { pin: USER }).catch((e: unknown) => e);
    expect(byLabel).toMatchObject({ code: 'ERR_TOKEN_NOT_FOUND' });
    const e = byLabel as { tokens: unknown[]; slots: string[]; message: string };
    expect(e.tokens).toEqual(
      expect.arrayContaining([{ label: 'listed', serialNumber: made.serialNumber, slot: made.slot.toString() }]),
    );
    expect(e.slots).toContain(made.slot.toString());
    expect(e.message).toContain(`"listed" (serial ${made.serialNumber}, slot ${made.slot.toString()})`);
    const bySlot = (await mod.openToken({ slot: 987654321 }, { pin: USER }).catch((x: unknown) => x)) as {
      code: string;
      slots: string[];
    };
    expect(bySlot.code).toBe('ERR_TOKEN_NOT_FOUND');
    expect(bySlot.slots).toContain(made.slot.toString());
  } finally {
    await mod.close();
  }
});

test('a directory or a file that is no module: the reason, with the dlerror text as the cause', async () => {
  const dir = await Pkcs11Module.load('/usr/lib/softhsm/').catch((e: unknown) => e);
  expect(dir).toMatchObject({ code: 'ERR_MODULE_LOAD_FAILED' });
  expect((dir as Error).message).toContain('is a directory');
  expect((dir as Error).message).toContain(SOFTHSM_MODULE);
  expect(((dir as Error).cause as Error).message).toMatch(/Is a directory/);
  const notElf = await Pkcs11Module.load('/etc/hostname').catch((e: unknown) => e);
  expect(notElf).toMatchObject({ code: 'ERR_MODULE_LOAD_FAILED' });
  expect((notElf as Error).message).toMatch(/invalid ELF header|file too short/);
  const missing = await Pkcs11Module.load('/nonexistent/libpkcs11.so').catch((e: unknown) => e);
  expect(missing).toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' });
  expect((missing as Error).message).toContain('No such file or directory');
});
