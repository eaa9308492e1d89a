// Recovery policy and key-handle bookkeeping, without a token.
import { ClosedError, KeyPair, ModuleReinitializedError, Pkcs11Error } from '../../lib';
import { KeyHandles, sameKey } from '../../lib/pkcs11/key-handles';
import { checkRecoveryOptions, remedyFor, worthRetrying } from '../../lib/pkcs11/recovery';

const point = (b: number) => Buffer.concat([Buffer.from([4]), Buffer.alloc(64, b)]);
const ecPair = (privateKey: bigint, b = 1) =>
  new KeyPair({
    id: Buffer.from('k'),
    label: 'k',
    keyType: 'ec',
    curve: 'P-256',
    privateKey,
    publicKey: privateKey + 1n,
    canSign: true,
    canDecrypt: false,
    publicKeyData: { kty: 'EC', crv: 'P-256', point: point(b) },
    problems: [],
  });

test.each([
  [0xb3, false, 'retry-only'],
  [0xb3, true, 'new-engine'],
  [0xb0, true, 'new-engine'],
  [0x101, false, 'relogin'],
  [0x30, false, 'reinitialize'],
  [0x32, true, 'reinitialize'],
  [0xe0, false, 'reinitialize'],
  [0x190, false, 'reinitialize'], // CKR_CRYPTOKI_NOT_INITIALIZED
  [0x82, true, 'find-key-again'],
  [0x60, false, 'find-key-again'],
  [0xa0, false, undefined], // CKR_PIN_INCORRECT: never retried
  [0x70, false, undefined], // CKR_MECHANISM_INVALID
  [0x05, false, undefined], // CKR_GENERAL_ERROR
])('rv 0x%s (engine %s): remedy %s', (rv, onEngine, remedy) => {
  expect(remedyFor(new Pkcs11Error(rv, 'C_Sign'), onEngine)).toBe(remedy);
});

test('another Token re-initialised the module: adopt it; other errors have no remedy', () => {
  expect(remedyFor(new ModuleReinitializedError(), false)).toBe('reinitialize');
  expect(remedyFor(new ClosedError('x'), true)).toBeUndefined();
  expect(remedyFor(new TypeError('x'), true)).toBeUndefined();
});

test('a failed re-initialisation attempt is tried again for device trouble, never for a wrong PIN or a close', () => {
  expect(worthRetrying(new Pkcs11Error(0x32, 'C_OpenSession'))).toBe(true);
  expect(worthRetrying(new Pkcs11Error(0x30, 'C_Initialize'))).toBe(true);
  expect(worthRetrying(new Pkcs11Error(0xa0, 'C_Login'))).toBe(false);
  expect(worthRetrying(new Pkcs11Error(0xa4, 'C_Login'))).toBe(false); // CKR_PIN_LOCKED
  expect(worthRetrying(new ClosedError('the token'))).toBe(false);
});

test('recovery options: defaults, and typed errors for bad values', () => {
  expect(checkRecoveryOptions(undefined)).toEqual({
    attempts: 5,
    backoffMs: 100,
    maxBackoffMs: 2000,
    drainTimeoutMs: 10_000,
    reconnectMs: 1000,
  });
  expect(checkRecoveryOptions({ reinitAttempts: 2, backoffMs: 0 })).toEqual({
    attempts: 2,
    backoffMs: 0,
    maxBackoffMs: 2000,
    drainTimeoutMs: 10_000,
    reconnectMs: 1000,
  });
  for (const bad of [
    { reinitAttempts: 0 },
    { reinitAttempts: 1.5 },
    { backoffMs: -1 },
    { maxBackoffMs: Number.NaN },
    { backoffMs: 1e9 },
  ]) {
    expect(() => checkRecoveryOptions(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  }
  expect(() => checkRecoveryOptions({ onEvent: 'log' as never })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  );
  expect(() => checkRecoveryOptions(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
});

describe('KeyHandles', () => {
  test('generation 0 and nothing moved: the KeyPair’s own handles', () => {
    const h = new KeyHandles();
    const k = ecPair(10n);
    expect(h.current(k, 0)).toMatchObject({ privateKey: 10n, publicKey: 11n });
  });

  test('after a re-initialisation, old KeyPairs need a lookup; new ones do not', async () => {
    const h = new KeyHandles();
    const old = ecPair(10n);
    const fresh = h.note(ecPair(20n), 1);
    expect(h.current(old, 1)).toBeUndefined();
    expect(h.current(fresh, 1)).toMatchObject({ privateKey: 20n });
    expect(h.current(fresh, 2)).toBeUndefined();
    const lookUp = jest.fn(async () => ({ privateKey: 30n, publicKey: 31n }));
    await Promise.all([h.refresh(old, 1, lookUp), h.refresh(old, 1, lookUp)]);
    expect(lookUp).toHaveBeenCalledTimes(1); // concurrent refreshes share one lookup
    expect(h.current(old, 1)).toEqual({ privateKey: 30n, publicKey: 31n, generation: 1 });
    expect(h.current(old, 2)).toBeUndefined();
  });

  test('a lookup for a later generation never reuses one still running for an earlier generation', async () => {
    const h = new KeyHandles();
    const k = ecPair(10n);
    let finishFirst: (v: { privateKey: bigint; publicKey: bigint | null }) => void = () => undefined;
    const first = h.refresh(k, 1, () => new Promise((resolve) => (finishFirst = resolve)));
    const second = h.refresh(k, 2, async () => ({ privateKey: 50n, publicKey: null }));
    expect(await second).toMatchObject({ privateKey: 50n });
    finishFirst({ privateKey: 30n, publicKey: null });
    expect(await first).toMatchObject({ privateKey: 30n });
    expect(h.current(k, 2)).toMatchObject({ privateKey: 50n }); // the late generation-1 answer does not overwrite it
    expect(h.current(k, 1)).toBeUndefined();
  });

  test('a stale handle in the same generation is replaced by the one found again; a key gone stays unresolved', async () => {
    const h = new KeyHandles();
    const k = ecPair(10n);
    await h.refresh(k, 0, async () => ({ privateKey: 12n, publicKey: null }));
    expect(h.current(k, 0)).toMatchObject({ privateKey: 12n, publicKey: null });
    const gone = ecPair(40n);
    expect(await h.refresh(gone, 1, async () => undefined)).toBeUndefined();
    expect(h.current(gone, 1)).toBeUndefined();
  });

  test('sameKey: same type and public part only', () => {
    expect(sameKey(ecPair(1n, 7), ecPair(2n, 7))).toBe(true);
    expect(sameKey(ecPair(1n, 7), ecPair(2n, 8))).toBe(false); // a new key under the old CKA_ID
  });
});
