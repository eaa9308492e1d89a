// The software key store's contract: rows of sealed private JWKs, one per (set, kid); sealed
// records of HSM key metadata for tokens that cannot hold it themselves (and rows written by
// earlier versions, kept only to be migrated to the token); a lock shared by every process and
// instance using the store; and change notifications across them. One SQL store over two
// dialects: SQLite (one host) and PostgreSQL (instances that share keys).
import type { PrivateJwk } from '../jose/import';
import type { KeyUse } from '../pkcs11/key-spec';

/**
 * A key's lifecycle, as the instants of its transitions (absent: not scheduled). Its state at
 * time t: `next` before activateAt (published, does not sign), `active` from activateAt
 * (creation when absent) until retireAt (signs), `retired` from retireAt until removeAt
 * (published, does not sign), removed from removeAt (not published).
 */
export interface Lifecycle {
  activateAt?: Date;
  retireAt?: Date;
  removeAt?: Date;
}

/** A software key as the managers see it: opened, never sealed. Every field is under the row's seal. */
export interface StoredKey {
  set: string;
  kid: string;
  /** A JWS alg, or RSA-OAEP-256 for enc keys. */
  alg: string;
  use: KeyUse;
  createdAt: Date;
  lifecycle: Lifecycle;
  privateJwk: PrivateJwk;
}

/** A row that exists but cannot be opened (wrong or missing secret, tampering, swapped rows). */
export interface RowFailure {
  set: string;
  kid: string;
  /** The StoreError code, e.g. ERR_SEAL_TAMPERED. */
  code: string;
  message: string;
}

/** Metadata of a row as its columns say, readable without opening it (not verified: for listings only). */
export interface KeyRowInfo {
  set: string;
  kid: string;
  alg: string;
  use: KeyUse;
  createdAt: Date;
}

/** What is recorded about an HSM key we generated, when the token cannot hold it itself. */
export interface HsmKeyRecord {
  set: string;
  kid: string;
  alg: string;
  use: KeyUse;
  createdAt: Date;
  lifecycle: Lifecycle;
}

/**
 * A record read back: `sealed` false for rows written by versions before the seal covered HSM
 * records (alg and created_at only, lifecycle empty, use 'sig'): to be migrated, never trusted
 * beyond that.
 */
export interface HsmKeyRecordRead extends HsmKeyRecord {
  sealed: boolean;
}

export interface KeyStore {
  /** Inserts the keys in one transaction; any (set, kid) already present fails all (ERR_KEY_EXISTS). */
  add(keys: readonly StoredKey[]): Promise<void>;
  /** Inserts or replaces each (set, kid), in one transaction. */
  upsert(keys: readonly StoredKey[]): Promise<void>;
  /** Replaces the whole set with `keys` in one transaction. */
  replaceSet(set: string, keys: readonly StoredKey[]): Promise<void>;
  /** One key; undefined when absent; a row that cannot be opened throws its StoreError. */
  get(set: string, kid: string): Promise<StoredKey | undefined>;
  /** Every key of a set, newest first; rows that cannot be opened are reported, not thrown. */
  getSet(set: string): Promise<{ keys: StoredKey[]; failures: RowFailure[] }>;
  /** Seals the row again with a new lifecycle (ERR_KEY_NOT_FOUND when absent; the row must open). */
  setLifecycle(set: string, kid: string, lifecycle: Lifecycle): Promise<void>;
  /** Whether a row was deleted. */
  deleteKey(set: string, kid: string): Promise<boolean>;
  /** How many rows were deleted. */
  deleteSet(set: string): Promise<number>;
  /** Metadata of every row, by set then newest first. */
  list(): Promise<KeyRowInfo[]>;
  /** Names of the sets that have a software row or an HSM record with this kid (no row is opened). */
  setsWithKid(kid: string): Promise<string[]>;
  /**
   * Re-seals every row (keys, sealed HSM records, certificate chains) under the first secret, key rows of earlier
   * versions as v2 too, in one transaction; returns how many changed. Any row that does not open
   * aborts it (nothing changes). Legacy (unsealed) HSM records stay as they are: sealing them would
   * vouch for columns nothing authenticated.
   */
  rotateSecrets(): Promise<number>;
  /**
   * Re-seals key rows written by earlier versions (envelope v1: only set and kid under the seal) as
   * v2 (every field under the seal), in one transaction. Reads never write: this (or
   * rotateSecrets) is the migration step, run by whoever opens the store for writing (the managers
   * at start, under a lock). Rows that do not open are reported and left as they are.
   */
  resealLegacyRows(): Promise<{ resealed: number; failures: RowFailure[] }>;

  /** Inserts or replaces the sealed record of an HSM key. */
  recordHsmKey(record: HsmKeyRecord): Promise<void>;
  /** The HSM records of a set (sealed and legacy), and the sealed ones that cannot be opened. */
  hsmKeys(set: string): Promise<{ records: HsmKeyRecordRead[]; failures: RowFailure[] }>;
  /** Every set that has HSM records (for migration). */
  hsmRecordSets(): Promise<string[]>;
  forgetHsmKey(set: string, kid: string): Promise<void>;

  /**
   * Seals `pem` (a certificate chain, the key's certificate first) as the chain of a software key,
   * replacing the one it had; undefined removes it. ERR_KEY_NOT_FOUND when the store has no such
   * key. Returns whether the key had a chain. A chain is deleted with its key.
   */
  setCertificateChain(set: string, kid: string, pem: string | undefined): Promise<boolean>;
  /** The chains of a set's software keys, by kid (PEM); rows that cannot be opened are reported, not thrown. */
  certificateChains(set: string): Promise<{ chains: Map<string, string>; failures: RowFailure[] }>;

  /**
   * Runs `fn` holding the lock `name` across every process and instance sharing this store
   * (PostgreSQL: an advisory lock; SQLite: a lease row in the file, so processes on one host
   * exclude each other, and a lease whose holder died expires).
   */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;

  /**
   * Calls `listener(set)` when rows of `set` were changed (by another process or instance, or by
   * this one: own writes are reported too) or touched, at most `freshnessMs` after the change
   * commits; changes since the store was opened count. At least once per change, possibly
   * coalesced with the next or reported more than once. Nothing it starts keeps the process alive;
   * close() stops it. Returns a function that stops this listener.
   */
  watch(listener: (set: string) => void): () => void;
  /** Tells the watchers of every process that `set` changed (for writes the store does not see: keys on the token). */
  touch(set: string): Promise<void>;
  /** The bound, in ms, within which watch() reports a committed change (1000 by default, SQLite and PostgreSQL). */
  readonly freshnessMs: number;

  close(): Promise<void>;
}
