// `hsm-jwks/store`: the sealed software key store (docs/keys.md#key-sets): a DSN (SQLite or
// PostgreSQL) and the secrets to a KeyStore, its records, and the layer's errors.
export { openKeyStore, DEFAULT_DSN } from './open-store';
export type { StoreOptions } from './open-store';
export type { KeyStore, StoredKey, RowFailure, KeyRowInfo, Lifecycle, HsmKeyRecord } from './key-store';
export { HsmJwksError } from '../errors';
export type { ErrorCode } from '../errors';
export { StoreError } from './errors';
export type { StoreErrorCode } from './errors';
