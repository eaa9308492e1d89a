// The one code → HTTP status table (lib/server/http-errors.ts): every code has a status (the
// typecheck enforces it; this says so at run time too), 503s carry Retry-After, and 5xx bodies
// of failures that are not the caller's say nothing more than "internal error".
import { ERROR_CODES, HsmJwksError } from '../../lib/errors';
import { hostAllowed, hostOf } from '../../lib/server/auth';
import { STATUS_BY_CODE, toHttp } from '../../lib/server/http-errors';
import { jsonDepth } from '../../lib/server/json-body';

test('every code of ERROR_CODES has a status, and the table has no other', () => {
  expect(Object.keys(STATUS_BY_CODE).sort()).toEqual([...ERROR_CODES].sort());
  for (const status of Object.values(STATUS_BY_CODE))
    expect([400, 401, 403, 404, 408, 409, 500, 503]).toContain(status);
});

test.each([
  ['ERR_QUEUE_FULL', 503, '1'],
  ['ERR_POOL_TIMEOUT', 503, '1'],
  ['ERR_KEY_GONE', 503, '1'],
  ['ERR_TOKEN_UNAVAILABLE', 503, '5'],
  ['ERR_HSM_UNAVAILABLE', 503, '5'],
  ['ERR_LOGIN_REFUSED', 503, '30'],
  ['ERR_KEY_SET_UNREADABLE', 503, '5'],
  ['ERR_KEY_NOT_FOUND', 404, undefined],
  ['ERR_KEY_EXISTS', 409, undefined],
  ['ERR_KID_INVALID', 400, undefined],
  ['ERR_SEAL_TAMPERED', 500, undefined],
  ['ERR_SEAL_UNKNOWN_SECRET', 500, undefined],
  ['ERR_SECRET_MISSING', 500, undefined],
] as const)('%s → %i', (code, status, retryAfter) => {
  const answer = toHttp(new HsmJwksError(code, `the message of ${code}`));
  expect(answer.status).toBe(status);
  expect(answer.body).toMatchObject({ status_code: status, error_code: code });
  expect(answer.headers['retry-after']).toBe(retryAfter);
  if (status === 500) expect(answer.body.error_description).toBe('internal error');
  else expect(answer.body.error_description).toBe(`the message of ${code}`);
});

test('PKCS#11 failures: a refused PIN and a lost device are 503, the rest 500 without detail', () => {
  const pkcs11 = (code: string, category: string) =>
    toHttp(Object.assign(new Error('C_Sign failed'), { code, category }));
  expect(pkcs11('ERR_PKCS11_PIN_INCORRECT', 'bad-input').status).toBe(503);
  expect(pkcs11('ERR_PKCS11_PIN_LOCKED', 'bad-input').status).toBe(503);
  expect(pkcs11('ERR_PKCS11_DEVICE_REMOVED', 'device-gone').status).toBe(503);
  expect(pkcs11('ERR_PKCS11_SESSION_HANDLE_INVALID', 'session-lost').status).toBe(503);
  const other = pkcs11('ERR_PKCS11_GENERAL_ERROR', 'fatal');
  expect([other.status, other.body.error_description]).toEqual([500, 'internal error']);
  expect(toHttp(new Error('boom')).body).toEqual({
    error: 'internal_error',
    error_description: 'internal error',
    status_code: 500,
  });
});

test('Host names that reach the admin API without ADMIN_TOKEN', () => {
  expect(['localhost:4445', '[::1]:4445', '127.0.0.2', 'a.localhost', 'LocalHost.'].map(hostOf)).toEqual([
    'localhost',
    '::1',
    '127.0.0.2',
    'a.localhost',
    'localhost',
  ]);
  expect(hostOf('a:b:c')).toBeUndefined();
  const ok = (h: string, local?: string, admin?: string) => hostAllowed(hostOf(h), local, admin);
  expect(ok('localhost:1')).toBe(true);
  expect(ok('127.9.9.9')).toBe(true);
  expect(ok('[::1]:1')).toBe(true);
  expect(ok('10.0.0.5:1', '10.0.0.5')).toBe(true); // the address the connection came in on
  expect(ok('10.0.0.5:1', '127.0.0.1')).toBe(false);
  expect(ok('keys.internal:4445', '127.0.0.1', 'keys.internal')).toBe(true); // the configured admin host
  expect(ok('evil.example', '127.0.0.1', 'keys.internal')).toBe(false);
  expect(ok('evil.example', '127.0.0.1', '0.0.0.0')).toBe(false);
  expect(ok('127.0.0.1.nip.io')).toBe(false);
  expect(ok('')).toBe(false);
});

test('JSON depth counts brackets outside strings only', () => {
  expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4);
  expect(jsonDepth('{"a":"[[[[{{{{\\"[["}')).toBe(1);
  expect(jsonDepth('['.repeat(100_000), 32)).toBe(33);
});
