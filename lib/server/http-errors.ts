// Errors as HTTP answers, in the shape Hydra's spec/api.json gives its key routes (`errorOAuth2`:
// `error`, `error_description`, `status_code`; the schema allows more members, so our stable
// `error_code` rides along). The status comes from one exhaustive table: a code added to
// ERROR_CODES without a status here fails the typecheck. Unknown failures are 500 without detail
// (logged, not shown). 503 answers carry `Retry-After`.
import type { ERROR_CODES } from '../errors';

type KnownCode = (typeof ERROR_CODES)[number];

/** The HTTP status of every code the package throws (ERR_PKCS11_* aside: see pkcs11Status). */
export const STATUS_BY_CODE: Readonly<Record<KnownCode, number>> = {
  // Arguments: what a caller gave.
  ERR_INVALID_ARG_TYPE: 400,
  ERR_INVALID_ARG_VALUE: 400,
  ERR_CLOSED: 503, // the service is shutting down
  // The PKCS#11 library and token: the operator's to fix, or passing.
  ERR_ADDON_LOAD: 500,
  ERR_ADDON_FAILURE: 500,
  ERR_MODULE_NOT_FOUND: 500,
  ERR_MODULE_NOT_PKCS11: 500,
  ERR_MODULE_LOAD_FAILED: 500,
  ERR_MODULE_INIT_FAILED: 503,
  ERR_MODULE_REINITIALIZED: 503,
  ERR_MODULE_NOT_OWNER: 500,
  ERR_MODULE_BUSY: 503,
  ERR_TOKEN_NOT_FOUND: 503,
  ERR_TOKEN_AMBIGUOUS: 500,
  ERR_TOKEN_UNAVAILABLE: 503,
  ERR_POOL_TIMEOUT: 503,
  ERR_QUEUE_FULL: 503,
  ERR_SESSION_BUSY: 503,
  ERR_KEY_DESTROYED: 404, // the key was deleted while the request ran
  ERR_KEY_GONE: 503, // the token lost the key after a re-initialisation: the set's view is dropped, retry
  ERR_KEY_EXISTS: 409,
  ERR_KEY_FOREIGN: 500,
  ERR_DATA_OBJECT_GONE: 503,
  ERR_DATA_OBJECT_AMBIGUOUS: 500,
  ERR_LOGIN_REQUIRED: 503,
  ERR_LOGIN_REFUSED: 503, // the PIN is the operator's to fix (POST /admin/hsm/login), not the client's
  ERR_PIN_MISMATCH: 503,
  ERR_MECHANISM_UNSUPPORTED: 400,
  ERR_SIGN_SYNC_DISABLED: 500,
  ERR_URI_INVALID: 500, // no route takes a URI: one comes from the operator's configuration
  ERR_URI_PIN_SOURCE: 503, // the operator's PIN file, like an unreadable HSM_PIN_FILE
  ERR_URI_UNSUPPORTED: 500,
  // JOSE: what a caller asked or imported.
  ERR_JOSE_ALG_UNSUPPORTED: 400,
  ERR_JWK_INVALID: 400,
  ERR_JWK_CURVE_UNSUPPORTED: 400,
  ERR_JWK_RSA_TOO_SHORT: 400,
  ERR_JWK_SECRET_TOO_SHORT: 400,
  ERR_JWK_PRIVATE_MISSING: 400,
  ERR_JWK_UNMAPPABLE: 500, // a token key without a public part: not the caller's doing
  ERR_JWK_USE_MISMATCH: 400,
  ERR_KID_INVALID: 400,
  ERR_JWS_SIGNATURE_MALFORMED: 500,
  // Key managers.
  ERR_KEY_NOT_FOUND: 404,
  ERR_KEY_SET_NOT_FOUND: 404,
  ERR_KEY_SET_UNREADABLE: 503,
  ERR_KEY_NOT_ACTIVE: 409,
  ERR_KEY_USE_INVALID: 400,
  ERR_KEY_NAME_INVALID: 400,
  ERR_NO_SIGNING_KEY: 400, // the set (or the kid asked) has no key that may sign
  ERR_HSM_PREGENERATED_KEYS: 400,
  ERR_HSM_SYMMETRIC_UNSUPPORTED: 400, // HS* keys live in the software store only
  ERR_KEY_NOT_PUBLISHABLE: 400, // a symmetric key in a published set: its verifiers could never check it
  ERR_HSM_UNAVAILABLE: 503,
  ERR_HSM_NOT_CONFIGURED: 400,
  ERR_GENERATION_ROLLBACK_FAILED: 500,
  ERR_TOKEN_LIFETIME: 400,
  ERR_CERT_INVALID: 400, // a certificate file offered for a key that is not X.509 PEM
  ERR_CERT_KEY_MISMATCH: 400, // a certificate of another key
  ERR_CERT_CHAIN_INVALID: 400, // certificates that do not certify one another
  // Software key store: the operator's secrets and rows, never the caller's.
  ERR_SECRET_MISSING: 500,
  ERR_SECRET_TOO_SHORT: 500,
  ERR_SEAL_UNKNOWN_SECRET: 500,
  ERR_SEAL_TAMPERED: 500,
  ERR_SEAL_FORMAT: 500,
  ERR_STORE_DSN: 500,
  ERR_STORE_LOCK_TIMEOUT: 503,
  ERR_STORE_BUSY: 503, // another process holds the store's write lock: passing
  ERR_CONFIG: 503, // e.g. an unreadable HSM_PIN_FILE at POST /admin/hsm/login
  // The service's own answers.
  ERR_UNAUTHORIZED: 401,
  ERR_REQUEST_INVALID: 400,
  ERR_JSON_TOO_DEEP: 400,
  ERR_HOST_NOT_ALLOWED: 403,
  ERR_JWT_CLAIM_INVALID: 400,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_REQUEST_TIMEOUT: 408, // the request did not arrive whole within SERVE_REQUEST_TIMEOUT
};

/** Seconds a client should wait before trying again, for the 503s that pass by themselves sooner than the default. */
const RETRY_AFTER: Partial<Record<KnownCode, number>> = {
  ERR_QUEUE_FULL: 1,
  ERR_POOL_TIMEOUT: 1,
  ERR_SESSION_BUSY: 1,
  ERR_KEY_GONE: 1,
  ERR_STORE_LOCK_TIMEOUT: 1,
  ERR_STORE_BUSY: 1,
  ERR_LOGIN_REFUSED: 30,
  ERR_CONFIG: 30,
};
const DEFAULT_RETRY_AFTER = 5;

/** `error` of the body: a stable snake_case name of the status. */
const REASON: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'request_header_fields_too_large',
  500: 'internal_error',
  503: 'service_unavailable',
};

export interface ErrorBody {
  error: string;
  error_description: string;
  status_code: number;
  error_code?: string;
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  /** Response headers the answer needs (Retry-After on 503). */
  headers: Record<string, string>;
}

export function httpError(status: number, description: string, code?: string): HttpError {
  const retry = status === 503 ? ((code && RETRY_AFTER[code as KnownCode]) ?? DEFAULT_RETRY_AFTER) : undefined;
  return {
    status,
    body: {
      error: REASON[status] ?? (status >= 500 ? 'internal_error' : 'bad_request'),
      error_description: description,
      status_code: status,
      ...(code ? { error_code: code } : {}),
    },
    headers: retry === undefined ? {} : { 'retry-after': String(retry) },
  };
}

/** ERR_PKCS11_<CKR>: by the failure's category; a PIN the token refuses is the operator's, never the caller's. */
function pkcs11Status(code: string, category: unknown): number {
  if (code.startsWith('ERR_PKCS11_PIN_')) return 503;
  return category === 'device-gone' ||
    category === 'session-lost' ||
    category === 'login-needed' ||
    category === 'object-stale'
    ? 503
    : 500;
}

export function statusOf(code: string): number | undefined {
  return Object.hasOwn(STATUS_BY_CODE, code) ? STATUS_BY_CODE[code as KnownCode] : undefined;
}

/** What a connection that broke HTTP before routing is told (node:http's clientError): status and code. */
export function clientErrorHttp(nodeCode: string | undefined): HttpError {
  if (nodeCode === 'ERR_HTTP_REQUEST_TIMEOUT')
    return httpError(408, 'the request did not arrive whole in time', 'ERR_REQUEST_TIMEOUT');
  if (nodeCode === 'HPE_HEADER_OVERFLOW')
    return httpError(431, 'the request headers are too large', 'ERR_REQUEST_INVALID');
  return httpError(400, 'the request is not valid HTTP', 'ERR_REQUEST_INVALID');
}

/** The HTTP answer for a thrown error. */
export function toHttp(e: unknown): HttpError {
  const err = e as {
    code?: unknown;
    message?: unknown;
    statusCode?: unknown;
    validation?: unknown;
    category?: unknown;
  };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const message = typeof err.message === 'string' ? err.message : 'error';
  if (err.validation) return httpError(400, message, 'ERR_REQUEST_INVALID');
  if (code?.startsWith('FST_')) {
    // fastify's own: malformed JSON, body too large, wrong content type, bad URL, too long a path parameter
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 400;
    return httpError(status, message, code);
  }
  if (code?.startsWith('ERR_PKCS11_')) {
    const status = pkcs11Status(code, err.category);
    return httpError(status, status === 500 ? 'internal error' : message, code);
  }
  const status = code ? statusOf(code) : undefined;
  if (status !== undefined && status < 500) return httpError(status, message, code);
  // 5xx: 503s say what is unavailable (our messages never hold secrets); 500s say nothing more.
  if (status === 503) return httpError(503, message, code);
  return httpError(500, 'internal error', code);
}
