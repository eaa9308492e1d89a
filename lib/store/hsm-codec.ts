// HSM key records: what is recorded about an HSM key we generated, for tokens that cannot hold it.
// A record is sealed as an envelope with an empty plaintext: nothing in it is secret, the seal only
// authenticates its columns (aad.ts, label hsm-jwks/hsm-record/v2). Rows written before records
// were sealed (sealed IS NULL) are read as legacy: alg and created_at as the columns say, use
// 'sig', no lifecycle, whatever the newer columns hold; they are for migration, never trusted.
import type { KeyUse } from '../pkcs11/key-spec';
import { type BoundColumns, hsmRecordAad } from './aad';
import { StoreError } from './errors';
import type { HsmKeyRecord, HsmKeyRecordRead, RowFailure } from './key-store';
import { failureOf } from './row-codec';
import { lifecycleColumns, lifecycleOf, millis } from './row-fields';
import { ENVELOPE_V2, type Sealer } from './sealing';

/** An hsm_keys row as stored; `use` and `sealed` are NULL in legacy rows. */
export interface HsmRow extends Omit<BoundColumns, 'use'> {
  use: string | null;
  sealed: Buffer | null;
}

const EMPTY = Buffer.alloc(0);

export function sealRecord(sealer: Sealer, record: HsmKeyRecord): HsmRow & { use: string; sealed: Buffer } {
  const ref = { set: record.set, kid: record.kid };
  const columns: BoundColumns = {
    set: record.set,
    kid: record.kid,
    alg: record.alg,
    use: record.use,
    createdAt: millis(record.createdAt, 'createdAt', ref),
    ...lifecycleColumns(record.lifecycle, ref),
  };
  return { ...columns, sealed: sealer.seal(EMPTY, ENVELOPE_V2, hsmRecordAad(columns)) };
}

/** A sealed row verified, or a legacy row as it is; throws the row's StoreError when a sealed row does not open. */
export function openRecord(sealer: Sealer, row: HsmRow): HsmKeyRecordRead {
  const base = { set: row.set, kid: row.kid, alg: row.alg, createdAt: new Date(row.createdAt) };
  if (row.sealed === null) return { ...base, use: 'sig', lifecycle: {}, sealed: false };
  const ref = { set: row.set, kid: row.kid };
  const use = row.use ?? '';
  const aadFor = (v: number) => {
    if (v !== ENVELOPE_V2)
      throw new StoreError('ERR_SEAL_FORMAT', `an HSM key record cannot have envelope version ${v}`, ref);
    return hsmRecordAad({ ...row, use });
  };
  const { plaintext } = sealer.open(row.sealed, aadFor, ref);
  if (plaintext.length !== 0)
    throw new StoreError('ERR_SEAL_FORMAT', 'a sealed HSM key record has a non-empty plaintext', ref);
  return { ...base, use: use as KeyUse, lifecycle: lifecycleOf(row), sealed: true };
}

export function openRecords(
  sealer: Sealer,
  rows: Iterable<HsmRow>,
): { records: HsmKeyRecordRead[]; failures: RowFailure[] } {
  const records: HsmKeyRecordRead[] = [];
  const failures: RowFailure[] = [];
  for (const row of rows) {
    try {
      records.push(openRecord(sealer, row));
    } catch (e) {
      failures.push(failureOf(row, e));
    }
  }
  return { records, failures };
}

/**
 * For rotation: a sealed record's envelope sealed again under the current secret, or undefined when
 * it already is or the row is legacy (sealing it would vouch for columns nothing authenticated).
 */
export function resealedRecord(sealer: Sealer, row: HsmRow): Buffer | undefined {
  if (row.sealed === null || sealer.sealedWithCurrent(row.sealed)) return undefined;
  const { sealed: _, ...record } = openRecord(sealer, row);
  return sealRecord(sealer, record).sealed;
}
