// The package's one error model: every error thrown on purpose, in every layer (PKCS#11, JOSE, key
// managers, store, configuration, service), has a `code` from ERROR_CODES (or ERR_PKCS11_<CKR name>
// for a failed PKCS#11 call): match on it, never on the message. Layer classes (Pkcs11Error,
// JoseError, KeyManagerError, StoreError, ConfigError, …) extend HsmJwksError and take their codes
// from ErrorCode. Each code is documented in an error table of its layer's page: docs/pkcs11.md
// ("## Errors"), docs/keys.md ("## Error codes"), docs/configuration.md ("## Error codes") and
// docs/service.md ("## Errors", with the HTTP status of every code); test/unit/error-codes.test.ts
// keeps this list and the docs in step.
// No message, property or cause ever holds a PIN, a secret or key material.

/** Every code the package throws, but those of failed PKCS#11 calls (`ERR_PKCS11_<CKR name>`). */
export const ERROR_CODES = [
  // Arguments (all layers): a TypeError or a RangeError, as Node.js's own.
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  // Use after close() (token, module, signing engine, pool, key store).
  'ERR_CLOSED',

  // PKCS#11 layer (lib/pkcs11/errors.ts).
  'ERR_ADDON_LOAD',
  'ERR_ADDON_FAILURE',
  'ERR_MODULE_NOT_FOUND',
  'ERR_MODULE_NOT_PKCS11',
  'ERR_MODULE_LOAD_FAILED',
  'ERR_MODULE_INIT_FAILED',
  'ERR_MODULE_REINITIALIZED',
  'ERR_MODULE_NOT_OWNER',
  'ERR_MODULE_BUSY',
  'ERR_TOKEN_NOT_FOUND',
  'ERR_TOKEN_AMBIGUOUS',
  'ERR_TOKEN_UNAVAILABLE',
  'ERR_POOL_TIMEOUT',
  'ERR_QUEUE_FULL',
  'ERR_SESSION_BUSY',
  'ERR_KEY_DESTROYED',
  'ERR_KEY_GONE',
  'ERR_KEY_EXISTS',
  'ERR_KEY_FOREIGN',
  'ERR_DATA_OBJECT_GONE',
  'ERR_DATA_OBJECT_AMBIGUOUS',
  'ERR_LOGIN_REQUIRED',
  'ERR_LOGIN_REFUSED',
  'ERR_PIN_MISMATCH',
  'ERR_MECHANISM_UNSUPPORTED',
  'ERR_SIGN_SYNC_DISABLED',
  // PKCS#11 URIs (lib/pkcs11/uri.ts, RFC 7512).
  'ERR_URI_INVALID',
  'ERR_URI_PIN_SOURCE',
  'ERR_URI_UNSUPPORTED',

  // JOSE (lib/jose/errors.ts).
  'ERR_JOSE_ALG_UNSUPPORTED',
  'ERR_JWK_INVALID',
  'ERR_JWK_CURVE_UNSUPPORTED',
  'ERR_JWK_RSA_TOO_SHORT',
  'ERR_JWK_SECRET_TOO_SHORT',
  'ERR_JWK_PRIVATE_MISSING',
  'ERR_JWK_UNMAPPABLE',
  'ERR_JWK_USE_MISMATCH',
  'ERR_KID_INVALID',
  'ERR_JWS_SIGNATURE_MALFORMED',

  // Key managers (lib/keys/errors.ts); ERR_KEY_EXISTS above too.
  'ERR_KEY_NOT_FOUND',
  'ERR_KEY_SET_NOT_FOUND',
  'ERR_KEY_SET_UNREADABLE',
  'ERR_KEY_NOT_ACTIVE',
  'ERR_KEY_USE_INVALID',
  'ERR_KEY_NAME_INVALID',
  'ERR_NO_SIGNING_KEY',
  'ERR_HSM_PREGENERATED_KEYS',
  'ERR_HSM_SYMMETRIC_UNSUPPORTED',
  'ERR_KEY_NOT_PUBLISHABLE',
  'ERR_HSM_UNAVAILABLE',
  'ERR_HSM_NOT_CONFIGURED',
  'ERR_GENERATION_ROLLBACK_FAILED',
  'ERR_TOKEN_LIFETIME',
  'ERR_JWT_CLAIM_INVALID',
  'ERR_CERT_INVALID',
  'ERR_CERT_KEY_MISMATCH',
  'ERR_CERT_CHAIN_INVALID',

  // Software key store (lib/store/errors.ts); ERR_KEY_EXISTS and ERR_KEY_NOT_FOUND above too.
  'ERR_SECRET_MISSING',
  'ERR_SECRET_TOO_SHORT',
  'ERR_SEAL_UNKNOWN_SECRET',
  'ERR_SEAL_TAMPERED',
  'ERR_SEAL_FORMAT',
  'ERR_STORE_DSN',
  'ERR_STORE_LOCK_TIMEOUT',
  'ERR_STORE_BUSY',

  // Configuration (lib/config.ts).
  'ERR_CONFIG',

  // The key service's own answers (lib/server): `error_code` of an HTTP error body.
  'ERR_UNAUTHORIZED',
  'ERR_REQUEST_INVALID',
  'ERR_JSON_TOO_DEEP',
  'ERR_HOST_NOT_ALLOWED',
  'ERR_ROUTE_NOT_FOUND',
  'ERR_REQUEST_TIMEOUT',
] as const;

/** A failed PKCS#11 call: `ERR_PKCS11_` + the CKR name without its prefix, e.g. `ERR_PKCS11_PIN_INCORRECT`. */
export type Pkcs11ErrorCode = `ERR_PKCS11_${string}`;

/** Every code of the package: one union for all layers. */
export type ErrorCode = (typeof ERROR_CODES)[number] | Pkcs11ErrorCode;

/** A layer's narrower union: `Codes<'ERR_A' | 'ERR_B'>` fails to compile unless each is an ErrorCode. */
export type Codes<T extends ErrorCode> = T;

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `code` is one of the package's codes (ERR_PKCS11_<CKR name> included, CKR_UNKNOWN_0x… too). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (KNOWN.has(code) || /^ERR_PKCS11_\w+$/.test(code));
}

/** Base of every error this package throws on purpose (argument errors aside: TypeError, RangeError). */
export class HsmJwksError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The module, token, signing engine, pool or key store was closed before (or while) this call was made. */
export class ClosedError extends HsmJwksError {
  declare readonly code: 'ERR_CLOSED';
  constructor(what: string) {
    super('ERR_CLOSED', `${what} is closed`);
  }
}

/** An argument error: a TypeError (ERR_INVALID_ARG_TYPE) or a RangeError (ERR_INVALID_ARG_VALUE). */
export type InvalidArgTypeError = TypeError & { code: 'ERR_INVALID_ARG_TYPE' };
export type InvalidArgValueError = RangeError & { code: 'ERR_INVALID_ARG_VALUE' };

/** A TypeError with code ERR_INVALID_ARG_TYPE and this message (the addon's messages are complete). */
export function argTypeError(message: string): InvalidArgTypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' as const });
}

/** A RangeError with code ERR_INVALID_ARG_VALUE and this message. */
export function argValueError(message: string): InvalidArgValueError {
  return Object.assign(new RangeError(message), { code: 'ERR_INVALID_ARG_VALUE' as const });
}

/** An argument of the wrong type: thrown before any native call. */
export function invalidArgType(name: string, expected: string, actual: unknown): InvalidArgTypeError {
  return argTypeError(`${name} must be ${expected}, received ${describe(actual)}`);
}

/** An argument of the right type and the wrong value: thrown before any native call. */
export function invalidArgValue(name: string, expected: string, actual: unknown): InvalidArgValueError {
  return argValueError(`${name} must be ${expected}, received ${describe(actual)}`);
}

/** The values of a table as an expected value reads: `'a', 'b' or 'c'` (numbers bare: `1, 2 or 3`). */
export function oneOf(values: readonly (string | number)[]): string {
  const shown = values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v)));
  return shown.length < 2 ? shown.join('') : `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length > 40 ? `a string of length ${v.length}` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) return `a byte array of length ${v.length}`;
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}
