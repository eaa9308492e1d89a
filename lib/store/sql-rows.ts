// The store's tables as the drivers return them, and the statements shared by every dialect
// (`?` placeholders; see dialect.ts for the SQL both dialects accept).
import type { HsmRow } from './hsm-codec';
import type { KeyRowInfo } from './key-store';
import type { KeyUse } from '../pkcs11/key-spec';
import type { KeyRow } from './row-codec';
import { int, intOrNull } from './row-fields';
import type { SqlValue } from './dialect';

const LIFECYCLE = 'activate_at, retire_at, remove_at';
const NEWEST_FIRST = 'created_at DESC, kid DESC';

export const KEY_COLUMNS = `set_name, kid, alg, "use", created_at, ${LIFECYCLE}, sealed`;
const UPDATE_KEY = `alg = excluded.alg, "use" = excluded."use", created_at = excluded.created_at,
  activate_at = excluded.activate_at, retire_at = excluded.retire_at, remove_at = excluded.remove_at, sealed = excluded.sealed`;

export const SQL = {
  insertKey: `INSERT INTO jwk_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  upsertKey: `INSERT INTO jwk_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (set_name, kid) DO UPDATE SET ${UPDATE_KEY}`,
  key: `SELECT ${KEY_COLUMNS} FROM jwk_keys WHERE set_name = ? AND kid = ?`,
  keysOfSet: `SELECT ${KEY_COLUMNS} FROM jwk_keys WHERE set_name = ? ORDER BY ${NEWEST_FIRST}`,
  allKeys: `SELECT ${KEY_COLUMNS} FROM jwk_keys ORDER BY set_name, ${NEWEST_FIRST}`,
  list: `SELECT set_name, kid, alg, "use", created_at FROM jwk_keys ORDER BY set_name, ${NEWEST_FIRST}`,
  resealKey: 'UPDATE jwk_keys SET sealed = ? WHERE set_name = ? AND kid = ?',
  setLifecycle: `UPDATE jwk_keys SET activate_at = ?, retire_at = ?, remove_at = ?, sealed = ? WHERE set_name = ? AND kid = ?`,
  deleteKey: 'DELETE FROM jwk_keys WHERE set_name = ? AND kid = ?',
  deleteSet: 'DELETE FROM jwk_keys WHERE set_name = ?',
  setsWithKid:
    'SELECT set_name FROM jwk_keys WHERE kid = ? UNION SELECT set_name FROM hsm_keys WHERE kid = ? ORDER BY set_name',

  upsertRecord: `INSERT INTO hsm_keys (set_name, kid, alg, "use", created_at, ${LIFECYCLE}, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (set_name, kid) DO UPDATE SET ${UPDATE_KEY}`,
  recordsOfSet: `SELECT set_name, kid, alg, "use", created_at, ${LIFECYCLE}, sealed FROM hsm_keys WHERE set_name = ? ORDER BY ${NEWEST_FIRST}`,
  sealedRecords: `SELECT set_name, kid, alg, "use", created_at, ${LIFECYCLE}, sealed FROM hsm_keys WHERE sealed IS NOT NULL ORDER BY set_name, kid`,
  resealRecord: 'UPDATE hsm_keys SET sealed = ? WHERE set_name = ? AND kid = ?',
  recordSets: 'SELECT DISTINCT set_name FROM hsm_keys ORDER BY set_name',
  forgetRecord: 'DELETE FROM hsm_keys WHERE set_name = ? AND kid = ?',
} as const;

/** A row of jwk_keys or hsm_keys as a driver returns it (64-bit integers as numbers or text). */
export interface DbRow {
  set_name: string;
  kid: string;
  alg: string;
  use: string | null;
  created_at: unknown;
  activate_at: unknown;
  retire_at: unknown;
  remove_at: unknown;
  sealed: Buffer | null;
}

function columns(r: DbRow) {
  return {
    set: r.set_name,
    kid: r.kid,
    alg: r.alg,
    createdAt: int(r.created_at),
    activateAt: intOrNull(r.activate_at),
    retireAt: intOrNull(r.retire_at),
    removeAt: intOrNull(r.remove_at),
  };
}

export const toKeyRow = (r: DbRow): KeyRow => ({
  ...columns(r),
  use: r.use ?? '',
  sealed: r.sealed ?? Buffer.alloc(0),
});
export const toHsmRow = (r: DbRow): HsmRow => ({ ...columns(r), use: r.use, sealed: r.sealed });

export const toInfo = (r: DbRow): KeyRowInfo => ({
  set: r.set_name,
  kid: r.kid,
  alg: r.alg,
  use: r.use as KeyUse, // as the column says: listings are not verified
  createdAt: new Date(int(r.created_at)),
});

/** Parameters of insertKey / upsertKey / upsertRecord, in KEY_COLUMNS order. */
export function rowParams(r: KeyRow | (HsmRow & { sealed: Buffer })): SqlValue[] {
  return [r.set, r.kid, r.alg, r.use, r.createdAt, r.activateAt, r.retireAt, r.removeAt, r.sealed];
}
