// Error codes and categories are stable; native failures become typed errors.
import { ClosedError, fromNative, HsmJwksError, Pkcs11Error } from '../../lib/pkcs11/errors';

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
  expect([e.code, e.ckr, e.fn, e.rv, e.name]).toEqual(['ERR_PKCS11_PIN_INCORRECT', 'CKR_PIN_INCORRECT', 'C_Login', 0xa0, 'Pkcs11Error']);
  expect(e).toBeInstanceOf(HsmJwksError);
  expect(new Pkcs11Error(0x80000042, 'C_Sign').code).toBe('ERR_PKCS11_VENDOR_DEFINED');
});

test('fromNative maps addon failures and leaves other errors alone', () => {
  const native = Object.assign(new Error('C_Sign failed'), { rv: 0x60, ckr: 'CKR_KEY_HANDLE_INVALID', fn: 'C_SignInit' });
  expect(fromNative(native)).toMatchObject({ code: 'ERR_PKCS11_KEY_HANDLE_INVALID', fn: 'C_SignInit', category: 'object-stale' });
  expect(fromNative(Object.assign(new Error('closed'), { code: 'ERR_HSM_CLOSED' }))).toBeInstanceOf(ClosedError);
  const plain = new TypeError('x');
  expect(fromNative(plain)).toBe(plain);
});

test.each([
  ['ERR_HSM_REINITIALIZED', 'ERR_MODULE_REINITIALIZED'],
  ['ERR_HSM_QUEUE_FULL', 'ERR_QUEUE_FULL'],
  ['ERR_HSM_NOT_OWNER', 'ERR_MODULE_NOT_OWNER'],
  ['ERR_HSM_CLOSED', 'ERR_CLOSED'],
  ['ERR_HSM_BUSY', 'ERR_MODULE_BUSY'],
])('the binding’s %s becomes a typed %s', (native, code) => {
  const e = fromNative(Object.assign(new Error('x'), { code: native }));
  expect(e).toBeInstanceOf(HsmJwksError);
  expect(e).toMatchObject({ code });
});
