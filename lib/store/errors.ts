// Typed errors of the software key store. Every error has a stable `code`; row-level errors also
// carry the row's `set` and `kid`. No message or property ever holds a secret or key material.
import { type Codes, HsmJwksError } from '../errors';

export type StoreErrorCode = Codes<
  /** No sealing secret is configured. */
  | 'ERR_SECRET_MISSING'
  /** A configured secret is shorter than MIN_SECRET_LENGTH (sealing.ts) characters. */
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
  /**
   * Another connection (another process, the CLI, a backup tool) held the database's write lock
   * (SQLite) or a lock on the rows or tables (PostgreSQL) for longer than the store waits
   * (busyTimeoutMs, 5 s by default): nothing was written; the same call may succeed later.
   */
  | 'ERR_STORE_BUSY'
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

/** The store waited `waitedMs` for a lock another connection held; `driverCode` is the driver's own code (no SQL, no values). */
export function storeBusy(waitedMs: number, driverCode: unknown): StoreError {
  const why = typeof driverCode === 'string' && /^\w{1,40}$/.test(driverCode) ? ` (${driverCode})` : '';
  return new StoreError(
    'ERR_STORE_BUSY',
    `the key store is busy: another connection held a lock it needs for more than ${waitedMs} ms${why}; nothing was written, try again later`,
  );
}

/** Whether `e` is the StoreError ERR_STORE_BUSY (a call that may succeed when tried again). */
export function isStoreBusy(e: unknown): boolean {
  return isStoreError(e) && e.code === 'ERR_STORE_BUSY';
}

/** Whether `e` is a StoreError (duck-typed on the class name and code: jest may load it twice). */
export function isStoreError(e: unknown): e is StoreError {
  return (
    e instanceof StoreError ||
    (e instanceof Error && e.name === 'StoreError' && typeof (e as { code?: unknown }).code === 'string')
  );
}
