// Key rows: from StoredKey to a sealed row and back, the same for every dialect. New rows are
// sealed as v2 (aad.ts: every column under the seal). Rows of earlier versions (v1: only set and
// kid bound) still open, provided the alg and use sealed inside their private JWK equal the
// columns and no lifecycle column is set (v1 had none); rotation and resealLegacyRows() turn them
// into v2. Their created_at cannot be checked: it is trusted as it is when they are resealed.
import type { PrivateJwk } from '../jose/import';
import type { KeyUse } from '../pkcs11/key-spec';
import { type BoundColumns, keyRowAadV1, keyRowAadV2 } from './aad';
import { isStoreError, type RowRef, StoreError } from './errors';
import type { RowFailure, StoredKey } from './key-store';
import { hasLifecycle, lifecycleColumns, lifecycleOf, millis } from './row-fields';
import { ENVELOPE_V1, ENVELOPE_V2, type EnvelopeVersion, envelopeVersion, type Sealer } from './sealing';

/** A key row as stored: its columns (not verified until opened) and its envelope. */
export interface KeyRow extends BoundColumns {
  sealed: Buffer;
}

const refOf = (r: { set: string; kid: string }): RowRef => ({ set: r.set, kid: r.kid });

/** The columns of a key, as they are stored and bound. */
export function columnsOf(key: StoredKey): BoundColumns {
  const ref = refOf(key);
  return {
    set: key.set,
    kid: key.kid,
    alg: key.alg,
    use: key.use,
    createdAt: millis(key.createdAt, 'createdAt', ref),
    ...lifecycleColumns(key.lifecycle, ref),
  };
}

/** Seals a key as a v2 row. */
export function sealKey(sealer: Sealer, key: StoredKey): KeyRow {
  const columns = columnsOf(key);
  const plaintext = Buffer.from(JSON.stringify(key.privateJwk), 'utf8');
  try {
    return { ...columns, sealed: sealer.seal(plaintext, ENVELOPE_V2, keyRowAadV2(columns)) };
  } finally {
    plaintext.fill(0);
  }
}

/** Opens a row (v1 or v2); throws the row's StoreError when it cannot be opened or its columns were edited. */
export function openKey(sealer: Sealer, row: KeyRow): { key: StoredKey; version: EnvelopeVersion } {
  const ref = refOf(row);
  const aadFor = (v: EnvelopeVersion) => (v === ENVELOPE_V1 ? keyRowAadV1(ref) : keyRowAadV2(row));
  const { version, plaintext } = sealer.open(row.sealed, aadFor, ref);
  try {
    let jwk: PrivateJwk;
    try {
      jwk = JSON.parse(plaintext.toString('utf8')) as PrivateJwk;
    } catch {
      throw new StoreError('ERR_SEAL_FORMAT', 'the sealed key is not JSON', ref);
    }
    if (version === ENVELOPE_V1) checkLegacyColumns(row, jwk);
    const key: StoredKey = {
      set: row.set,
      kid: row.kid,
      alg: row.alg,
      use: row.use as KeyUse, // authenticated: sealed from a KeyUse (v2), or equal to the sealed JWK's (v1)
      createdAt: new Date(row.createdAt),
      lifecycle: lifecycleOf(row),
      privateJwk: jwk,
    };
    return { key, version };
  } finally {
    plaintext.fill(0);
  }
}

/** A v1 seal covers only set and kid: alg and use are checked against the sealed JWK instead. */
function checkLegacyColumns(row: KeyRow, jwk: PrivateJwk): void {
  const fits =
    typeof jwk === 'object' && jwk !== null && jwk.alg === row.alg && jwk.use === row.use && !hasLifecycle(row);
  if (!fits) {
    throw new StoreError(
      'ERR_SEAL_TAMPERED',
      "the row's columns disagree with its sealed key (edited outside the seal)",
      refOf(row),
    );
  }
}

/** Opens every row; a row that cannot be opened is reported alone. */
export function openKeys(sealer: Sealer, rows: Iterable<KeyRow>): { keys: StoredKey[]; failures: RowFailure[] } {
  const keys: StoredKey[] = [];
  const failures: RowFailure[] = [];
  for (const row of rows) {
    try {
      keys.push(openKey(sealer, row).key);
    } catch (e) {
      failures.push(failureOf(row, e));
    }
  }
  return { keys, failures };
}

/** A row's StoreError as a RowFailure; anything else is rethrown. */
export function failureOf(row: RowRef, e: unknown): RowFailure {
  if (!isStoreError(e)) throw e;
  return { set: row.set, kid: row.kid, code: e.code, message: e.message };
}

export function isLegacyKeyRow(row: KeyRow): boolean {
  return envelopeVersion(row.sealed) === ENVELOPE_V1;
}

/**
 * For rotation: the row's envelope sealed again (v2, current secret), or undefined when it already
 * is. A row that does not open throws (the caller's transaction then aborts).
 */
export function resealedKey(sealer: Sealer, row: KeyRow): Buffer | undefined {
  if (!isLegacyKeyRow(row) && sealer.sealedWithCurrent(row.sealed)) return undefined;
  return sealKey(sealer, openKey(sealer, row).key).sealed;
}
