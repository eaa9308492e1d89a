// Typed errors of the software key store. Every error has a stable `code`; row-level errors also
// carry the row's `set` and `kid`. No message or property ever holds a secret or key material.
import { type Codes, HsmJwksError } from '../errors';

export type StoreErrorCode = Codes<
  /** No sealing secret is configured. */
  | 'ERR_SECRET_MISSING'
  /** A configured secret is shorter than 16 characters. */
  | 'ERR_SECRET_TOO_SHORT'
  /** A row was sealed with a secret that is not configured. */
  | 'ERR_SEAL_UNKNOWN_SECRET'
  /**
   * AES-GCM authentication failed (tampered ciphertext, a row moved to another (set, kid), or a
   * column under the seal edited), or a legacy row's columns disagree with its sealed key.
   */
  | 'ERR_SEAL_TAMPERED'
  /** The sealed envelope is too short or has an unknown version. */
  | 'ERR_SEAL_FORMAT'
  /** An insert of a (set, kid) that already exists. */
  | 'ERR_KEY_EXISTS'
  /** An update of a (set, kid) that does not exist (setLifecycle). */
  | 'ERR_KEY_NOT_FOUND'
  /** A store DSN that cannot be parsed, or whose scheme is not supported. */
  | 'ERR_STORE_DSN'
  /** withLock waited longer than its timeout for another holder of the lock. */
  | 'ERR_STORE_LOCK_TIMEOUT'
>;

/** The row an error is about. */
export interface RowRef {
  set: string;
  kid: string;
}

export class StoreError extends HsmJwksError {
  declare readonly code: StoreErrorCode;
  readonly set?: string;
  readonly kid?: string;
  constructor(code: StoreErrorCode, message: string, row?: RowRef, options?: { cause?: unknown }) {
    super(
      code,
      row ? `key ${JSON.stringify(row.kid)} of set ${JSON.stringify(row.set)}: ${message}` : message,
      options,
    );
    if (row) {
      this.set = row.set;
      this.kid = row.kid;
    }
  }
}

/** Whether `e` is a StoreError (duck-typed on the class name and code: jest may load it twice). */
export function isStoreError(e: unknown): e is StoreError {
  return (
    e instanceof StoreError ||
    (e instanceof Error && e.name === 'StoreError' && typeof (e as { code?: unknown }).code === 'string')
  );
}
