// From StoredKey to a sealed row and back, the same for every backend.
import type { PrivateJwk } from '../jose/import';
import { invalidArgValue } from '../pkcs11/errors';
import type { KeyUse } from '../pkcs11/key-spec';
import { isStoreError, type RowRef } from './errors';
import type { RowFailure, StoredKey } from './key-store';
import type { Sealer } from './sealing';

export interface SealedRow {
  set: string;
  kid: string;
  alg: string;
  use: KeyUse;
  createdAt: number; // ms since the epoch
  sealed: Buffer;
}

export function millis(date: Date, row: RowRef): number {
  const ms = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(ms)) throw invalidArgValue(`createdAt of ${JSON.stringify(row.kid)} in ${JSON.stringify(row.set)}`, 'a valid Date', date);
  return ms;
}

/** Seals every key before any transaction starts (so a failure writes nothing). */
export function sealAll(sealer: Sealer, keys: readonly StoredKey[]): SealedRow[] {
  return keys.map((k) => {
    const ref = { set: k.set, kid: k.kid };
    const createdAt = millis(k.createdAt, ref);
    const plaintext = Buffer.from(JSON.stringify(k.privateJwk), 'utf8');
    try {
      return { set: k.set, kid: k.kid, alg: k.alg, use: k.use, createdAt, sealed: sealer.seal(plaintext, ref) };
    } finally {
      plaintext.fill(0);
    }
  });
}

export function openRow(sealer: Sealer, row: SealedRow): StoredKey {
  const plaintext = sealer.open(row.sealed, { set: row.set, kid: row.kid });
  try {
    return {
      set: row.set,
      kid: row.kid,
      alg: row.alg,
      use: row.use,
      createdAt: new Date(row.createdAt),
      privateJwk: JSON.parse(plaintext.toString('utf8')) as PrivateJwk,
    };
  } finally {
    plaintext.fill(0);
  }
}

/** Opens every row of a set; a row that fails to open (tampered, unknown secret) is reported alone. */
export function openRows(sealer: Sealer, rows: Iterable<SealedRow>): { keys: StoredKey[]; failures: RowFailure[] } {
  const keys: StoredKey[] = [];
  const failures: RowFailure[] = [];
  for (const row of rows) {
    try {
      keys.push(openRow(sealer, row));
    } catch (e) {
      if (!isStoreError(e)) throw e;
      failures.push({ set: row.set, kid: row.kid, code: e.code, message: e.message });
    }
  }
  return { keys, failures };
}

/**
 * For secret rotation: the row's blob sealed again under the current secret, or undefined when it
 * already is. A blob that does not open throws (the caller's transaction then aborts).
 */
export function resealed(sealer: Sealer, ref: RowRef, sealed: Buffer): Buffer | undefined {
  if (sealer.sealedWithCurrent(sealed)) return undefined;
  const plaintext = sealer.open(sealed, ref);
  try {
    return sealer.seal(plaintext, ref);
  } finally {
    plaintext.fill(0);
  }
}
