// Errors as HTTP answers: `{ error, error_description, error_code }` with the status the error's
// stable code calls for. Unknown failures are 500 without detail (logged, not shown).
import type { ErrorCode } from '../errors';

const STATUS: Array<[RegExp, number]> = [
  [/^ERR_KEY_(SET_)?NOT_FOUND$/, 404],
  [/^ERR_(KEY_EXISTS|KEY_NOT_ACTIVE)$/, 409],
  [
    /^ERR_(HSM_NOT_CONFIGURED|KEY_USE_INVALID|KEY_NAME_INVALID|KID_INVALID|TOKEN_LIFETIME|NO_SIGNING_KEY|HSM_PREGENERATED_KEYS|JOSE_ALG_UNSUPPORTED|MECHANISM_UNSUPPORTED|INVALID_ARG_TYPE|INVALID_ARG_VALUE)$/,
    400,
  ],
  [/^ERR_JWK_/, 400],
  [
    /^ERR_(CLOSED|POOL_TIMEOUT|QUEUE_FULL|HSM_UNAVAILABLE|KEY_SET_UNREADABLE|TOKEN_UNAVAILABLE|LOGIN_REFUSED|KEY_GONE|CONFIG)$/,
    503,
  ],
];

const REASON: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  500: 'internal_error',
  503: 'service_unavailable',
};

export interface HttpError {
  status: number;
  body: { error: string; error_description: string; error_code?: string };
}

export function httpError(status: number, description: string, code?: string): HttpError {
  return {
    status,
    body: { error: REASON[status] ?? 'error', error_description: description, ...(code ? { error_code: code } : {}) },
  };
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
  if (err.validation) return httpError(400, message, 'ERR_REQUEST_INVALID' satisfies ErrorCode);
  if (code?.startsWith('FST_')) {
    // fastify's own: malformed JSON, body too large, wrong content type
    const status = typeof err.statusCode === 'number' ? err.statusCode : 400;
    return httpError(status, message, code);
  }
  if (code?.startsWith('ERR_PKCS11_')) {
    const unavailable =
      err.category === 'device-gone' || err.category === 'session-lost' || err.category === 'login-needed';
    return httpError(unavailable ? 503 : 500, message, code);
  }
  const status = code ? STATUS.find(([re]) => re.test(code))?.[1] : undefined;
  if (status) return httpError(status, message, code);
  return httpError(500, 'internal error', code);
}
