// Errors of the key managers, with stable codes.
import { type Codes, HsmJwksError } from '../errors';

export type KeyManagerErrorCode = Codes<
  /** No key with that kid in the set (anywhere the manager looks). */
  | 'ERR_KEY_NOT_FOUND'
  /** The kid is already used by a key (in any set, on the token or in the store): a kid names one key. */
  | 'ERR_KEY_EXISTS'
  /** No such key set, or none of its keys can be published. */
  | 'ERR_KEY_SET_NOT_FOUND'
  /** Keys cannot be added to or updated in an HSM: imports go to the software store. */
  | 'ERR_HSM_PREGENERATED_KEYS'
  /** Symmetric (HS*) keys are not made on the HSM: they live in the software store only (import an oct JWK). */
  | 'ERR_HSM_SYMMETRIC_UNSUPPORTED'
  | 'ERR_KEY_NOT_PUBLISHABLE'
  /** `use` is neither sig nor enc, or does not fit the alg. */
  | 'ERR_KEY_USE_INVALID'
  /** The set has no key that may sign. */
  | 'ERR_NO_SIGNING_KEY'
  /** The HSM could not be configured (library, token, login). */
  | 'ERR_HSM_UNAVAILABLE'
  /** A key set or kid that is not a usable name. */
  | 'ERR_KEY_NAME_INVALID'
  /** The set has keys, but none can be read or used (wrong secret, no login, damaged objects): nothing is made over them. */
  | 'ERR_KEY_SET_UNREADABLE'
  /** The key exists but is not active (next: not yet published long enough; retired). */
  | 'ERR_KEY_NOT_ACTIVE'
  /** A generation failed after the token made something, and removing it failed too (a retry removes it). */
  | 'ERR_GENERATION_ROLLBACK_FAILED'
  /** A JWT whose `exp` lies beyond the longest token lifetime. */
  | 'ERR_TOKEN_LIFETIME'
  /** A JWT's `exp`, `nbf` or `iat` that is not a NumericDate, or `exp` in the claims together with `expiresIn`. */
  | 'ERR_JWT_CLAIM_INVALID'
  /** An HSM operation (a login) was asked of a key manager without an HSM. */
  | 'ERR_HSM_NOT_CONFIGURED'
  /** A certificate file offered for a key holds no X.509 certificate, or one that does not parse. */
  | 'ERR_CERT_INVALID'
  /** No certificate offered is for the key (its public key is another's), or the key has no public key. */
  | 'ERR_CERT_KEY_MISMATCH'
  /** Certificates offered with the key's that do not certify it in turn (each signed by the next). */
  | 'ERR_CERT_CHAIN_INVALID'
>;

export class KeyManagerError extends HsmJwksError {
  declare readonly code: KeyManagerErrorCode;
  constructor(code: KeyManagerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export const keyNotFound = (set: string, kid: string) =>
  new KeyManagerError('ERR_KEY_NOT_FOUND', `no key ${JSON.stringify(kid)} in JSON Web Key Set ${JSON.stringify(set)}`);
export const setNotFound = (set: string) =>
  new KeyManagerError('ERR_KEY_SET_NOT_FOUND', `JSON Web Key Set ${JSON.stringify(set)} does not exist`);

export function isNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_KEY_NOT_FOUND' || code === 'ERR_KEY_SET_NOT_FOUND';
}
