// Error codes and categories are stable; the PKCS#11 layer's classes are those of the one error model.
import * as root from '../../lib/errors';
import {
  ClosedError,
  HsmJwksError,
  invalidArgType,
  invalidArgValue,
  Pkcs11Error,
  quietly,
} from '../../lib/pkcs11/errors';

test.each([
  [0xb3, 'session-lost'],
  [0xb0, 'session-lost'],
  [0x101, 'login-needed'],
  [0x82, 'object-stale'],
  [0x60, 'object-stale'],
  [0x32, 'device-gone'],
  [0xe0, 'device-gone'],
  [0x30, 'device-gone'],
  [0x190, 'device-gone'],
  [0x70, 'bad-input'],
  [0xa0, 'bad-input'],
  [0x5, 'fatal'],
  [0xa4, 'bad-input'], // CKR_PIN_LOCKED: logging in again cannot help
  [0x80000001, 'fatal'],
])('rv 0x%s is %s', (rv, category) => {
  expect(new Pkcs11Error(rv, 'C_Sign').category).toBe(category);
});

test('codes are ERR_PKCS11_ + the CKR name', () => {
  const e = new Pkcs11Error(0xa0, 'C_Login');
  expect([e.code, e.ckr, e.fn, e.rv, e.name]).toEqual([
    'ERR_PKCS11_PIN_INCORRECT',
    'CKR_PIN_INCORRECT',
    'C_Login',
    0xa0,
    'Pkcs11Error',
  ]);
  expect(e).toBeInstanceOf(HsmJwksError);
  expect(new Pkcs11Error(0x80000042, 'C_Sign').code).toBe('ERR_PKCS11_VENDOR_DEFINED');
});

test('the PKCS#11 layer re-exports the root vocabulary (one class, not a copy)', () => {
  expect([HsmJwksError, ClosedError, invalidArgType, invalidArgValue]).toEqual([
    root.HsmJwksError,
    root.ClosedError,
    root.invalidArgType,
    root.invalidArgValue,
  ]);
  const closed = new ClosedError('the key store');
  expect(closed).toBeInstanceOf(root.HsmJwksError);
  expect([closed.code, closed.name, closed.message]).toEqual(['ERR_CLOSED', 'ClosedError', 'the key store is closed']);
});

test('argument errors are a TypeError or RangeError with their code', () => {
  expect(invalidArgType('x', 'a string', 42)).toMatchObject({
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'x must be a string, received 42',
  });
  expect(invalidArgValue('n', 'positive', -1)).toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
  expect(root.argTypeError('claims must be a JSON object')).toBeInstanceOf(TypeError);
  expect(root.argValueError('limit out of range')).toBeInstanceOf(RangeError);
});

test('quietly: a failure, synchronous or not, is ignored (closing what may be gone)', async () => {
  const typed = new Pkcs11Error(0x60, 'C_SignInit');
  await expect(quietly(() => Promise.reject(typed))).resolves.toBeUndefined();
  await expect(
    quietly(() => {
      throw typed;
    }),
  ).resolves.toBeUndefined();
  let ran = false;
  await quietly(async () => {
    ran = true;
  });
  expect(ran).toBe(true);
});
