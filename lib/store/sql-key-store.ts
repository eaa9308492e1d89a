// The software key store over any Dialect: all of its SQL and logic, once. Rows are sealed before
// a transaction starts (a sealing failure writes nothing); every write records a change of each
// set it touched in the same transaction (change-feed.ts); reads open rows one by one, so one bad
// row never hides the others of its set. Opening migrates in the background; when that met a
// store busy with another process (ERR_STORE_BUSY), the next call tries again.
import { ClosedError, invalidArgValue } from '../errors';
import { CHAIN_SQL, type ChainDbRow, openChains, resealedChain, sealChain, toChainRow } from './cert-codec';
import { ChangeFeed, recordChange, recordChanges } from './change-feed';
import type { Dialect, Tx } from './dialect';
import { isStoreBusy, type RowRef, StoreError } from './errors';
import { openRecords, resealedRecord, sealRecord } from './hsm-codec';
import type {
  HsmKeyRecord,
  HsmKeyRecordRead,
  KeyRowInfo,
  KeyStore,
  Lifecycle,
  RowFailure,
  StoredKey,
} from './key-store';
import { migrate } from './migrations';
import { failureOf, isLegacyKeyRow, type KeyRow, openKey, openKeys, resealedKey, sealKey } from './row-codec';
import { lifecycleColumns } from './row-fields';
import type { Sealer } from './sealing';
import { type DbRow, rowParams, SQL, toHsmRow, toInfo, toKeyRow } from './sql-rows';

export class SqlKeyStore implements KeyStore {
  readonly freshnessMs: number;
  readonly #db: Dialect;
  readonly #sealer: Sealer;
  readonly #feed: ChangeFeed;
  #ready: Promise<void>;
  #closed = false;

  /** Starts the migrations; the first call waits for them (and reports their failure). */
  constructor(dialect: Dialect, sealer: Sealer) {
    this.#db = dialect;
    this.#sealer = sealer;
    this.freshnessMs = dialect.freshnessMs;
    // Polls wait for the migrations and the baseline (a failed open polls nothing).
    this.#feed = new ChangeFeed(dialect, (poll) =>
      dialect.startWatching(() => this.#ready.then(poll, () => undefined)),
    );
    this.#ready = this.#migrate();
  }

  async add(keys: readonly StoredKey[]): Promise<void> {
    const rows = this.#sealAll(keys);
    await this.#write(async (tx) => {
      for (const row of rows) await this.#insert(tx, row, 'the key already exists; nothing was added');
      await recordChanges(
        tx,
        rows.map((r) => r.set),
      );
    });
  }

  async upsert(keys: readonly StoredKey[]): Promise<void> {
    const rows = this.#sealAll(keys);
    await this.#write(async (tx) => {
      for (const row of rows) await tx.run(SQL.upsertKey, rowParams(row));
      await recordChanges(
        tx,
        rows.map((r) => r.set),
      );
    });
  }

  async replaceSet(set: string, keys: readonly StoredKey[]): Promise<void> {
    for (const k of keys)
      if (k.set !== set) throw invalidArgValue('every key of replaceSet', `in set ${JSON.stringify(set)}`, k.set);
    const rows = this.#sealAll(keys);
    await this.#write(async (tx) => {
      await tx.run(SQL.deleteSet, [set]);
      for (const row of rows) await this.#insert(tx, row, 'the kid appears twice in the new set; nothing was replaced');
      await tx.run(CHAIN_SQL.prune, [set, set]); // keys sent again keep their chains
      await recordChange(tx, set);
    });
  }

  async get(set: string, kid: string): Promise<StoredKey | undefined> {
    const [row] = await this.#all(SQL.key, [set, kid]);
    return row ? openKey(this.#sealer, toKeyRow(row)).key : undefined;
  }

  async getSet(set: string): Promise<{ keys: StoredKey[]; failures: RowFailure[] }> {
    return openKeys(this.#sealer, (await this.#all(SQL.keysOfSet, [set])).map(toKeyRow));
  }

  async setLifecycle(set: string, kid: string, lifecycle: Lifecycle): Promise<void> {
    const ref = { set, kid };
    const columns = lifecycleColumns(lifecycle, ref); // checked before anything is read
    await this.#write(async (tx) => {
      const [row] = await tx.all<DbRow>(SQL.key + this.#db.forUpdate, [set, kid]);
      if (!row) throw new StoreError('ERR_KEY_NOT_FOUND', 'no such key', ref);
      const { key } = openKey(this.#sealer, toKeyRow(row)); // a row that does not open is not vouched for again
      const sealed = sealKey(this.#sealer, { ...key, lifecycle }).sealed;
      await tx.run(SQL.setLifecycle, [columns.activateAt, columns.retireAt, columns.removeAt, sealed, set, kid]);
      await recordChange(tx, set);
    });
  }

  async deleteKey(set: string, kid: string): Promise<boolean> {
    return (await this.#delete(set, SQL.deleteKey, [set, kid], true)) > 0;
  }

  async deleteSet(set: string): Promise<number> {
    return this.#delete(set, SQL.deleteSet, [set], true);
  }

  async list(): Promise<KeyRowInfo[]> {
    return (await this.#all(SQL.list)).map(toInfo);
  }

  async setsWithKid(kid: string): Promise<string[]> {
    return (await this.#all(SQL.setsWithKid, [kid, kid])).map((r) => r.set_name);
  }

  async rotateSecrets(): Promise<number> {
    return this.#write(async (tx) => {
      const changed: string[] = [];
      for (const row of (await tx.all<DbRow>(SQL.allKeys + this.#db.forUpdate)).map(toKeyRow)) {
        const sealed = resealedKey(this.#sealer, row); // a row that does not open aborts the rotation
        if (sealed) changed.push(await this.#reseal(tx, SQL.resealKey, row, sealed));
      }
      for (const row of (await tx.all<DbRow>(SQL.sealedRecords + this.#db.forUpdate)).map(toHsmRow)) {
        const sealed = resealedRecord(this.#sealer, row);
        if (sealed) changed.push(await this.#reseal(tx, SQL.resealRecord, row, sealed));
      }
      for (const row of (await tx.all<ChainDbRow>(CHAIN_SQL.all + this.#db.forUpdate)).map(toChainRow)) {
        const sealed = resealedChain(this.#sealer, row);
        if (sealed) changed.push(await this.#reseal(tx, CHAIN_SQL.reseal, row, sealed));
      }
      await recordChanges(tx, changed);
      return changed.length;
    });
  }

  async resealLegacyRows(): Promise<{ resealed: number; failures: RowFailure[] }> {
    return this.#write(async (tx) => {
      const changed: string[] = [];
      const failures: RowFailure[] = [];
      for (const row of (await tx.all<DbRow>(SQL.allKeys + this.#db.forUpdate)).map(toKeyRow)) {
        if (!isLegacyKeyRow(row)) continue;
        let sealed: Buffer;
        try {
          sealed = sealKey(this.#sealer, openKey(this.#sealer, row).key).sealed;
        } catch (e) {
          failures.push(failureOf(row, e)); // left as it is: still fails alone
          continue;
        }
        changed.push(await this.#reseal(tx, SQL.resealKey, row, sealed));
      }
      await recordChanges(tx, changed);
      return { resealed: changed.length, failures };
    });
  }

  async recordHsmKey(record: HsmKeyRecord): Promise<void> {
    const row = sealRecord(this.#sealer, record);
    await this.#write(async (tx) => {
      await tx.run(SQL.upsertRecord, rowParams(row));
      await recordChange(tx, row.set);
    });
  }

  async hsmKeys(set: string): Promise<{ records: HsmKeyRecordRead[]; failures: RowFailure[] }> {
    return openRecords(this.#sealer, (await this.#all(SQL.recordsOfSet, [set])).map(toHsmRow));
  }

  async hsmRecordSets(): Promise<string[]> {
    return (await this.#all(SQL.recordSets)).map((r) => r.set_name);
  }

  async forgetHsmKey(set: string, kid: string): Promise<void> {
    await this.#delete(set, SQL.forgetRecord, [set, kid]);
  }

  async setCertificateChain(set: string, kid: string, pem: string | undefined): Promise<boolean> {
    this.#check();
    const row = pem === undefined ? undefined : sealChain(this.#sealer, set, kid, pem); // sealed before the transaction
    return this.#write(async (tx) => {
      if ((await tx.all(CHAIN_SQL.keyExists + this.#db.forUpdate, [set, kid])).length === 0)
        throw new StoreError('ERR_KEY_NOT_FOUND', 'no such key', { set, kid });
      const had = (await tx.run(CHAIN_SQL.delete, [set, kid])) > 0;
      if (row) await tx.run(CHAIN_SQL.insert, [row.set, row.kid, row.sealed]);
      await recordChange(tx, set);
      return had;
    });
  }

  async certificateChains(set: string): Promise<{ chains: Map<string, string>; failures: RowFailure[] }> {
    await this.#open();
    return openChains(this.#sealer, (await this.#db.all<ChainDbRow>(CHAIN_SQL.ofSet, [set])).map(toChainRow));
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    await this.#open();
    return this.#db.withLock(name, fn);
  }

  watch(listener: (set: string) => void): () => void {
    this.#check();
    return this.#feed.watch(listener);
  }

  async touch(set: string): Promise<void> {
    await this.#write((tx) => recordChange(tx, set));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#feed.close();
    await this.#ready.catch(() => undefined);
    await this.#db.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError('the key store');
  }

  async #open(): Promise<void> {
    this.#check();
    const ready = this.#ready;
    try {
      await ready;
    } catch (e) {
      if (!isStoreBusy(e)) throw e;
      if (this.#ready === ready) this.#ready = this.#migrate(); // once per failure, however many callers saw it
      await this.#ready;
    }
  }

  /** Applies pending migrations, then reads the change feed's baseline. */
  #migrate(): Promise<void> {
    const ready = migrate(this.#db).then(() => this.#feed.baseline());
    ready.catch(() => undefined); // reported by the first call
    return ready;
  }

  async #all(sql: string, params: readonly (string | number)[] = []): Promise<DbRow[]> {
    await this.#open();
    return this.#db.all<DbRow>(sql, params);
  }

  async #write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    await this.#open();
    return this.#db.transaction(fn);
  }

  /** Deletes rows of `set`; `keys`: key rows, whose certificate chains go with them. */
  async #delete(set: string, sql: string, params: readonly string[], keys = false): Promise<number> {
    return this.#write(async (tx) => {
      const n = await tx.run(sql, params);
      if (n > 0 && keys) await tx.run(CHAIN_SQL.prune, [set, set]);
      if (n > 0) await recordChange(tx, set);
      return n;
    });
  }

  /** Inside a transaction: replaces a row's envelope; returns its set. */
  async #reseal(tx: Tx, sql: string, row: RowRef, sealed: Buffer): Promise<string> {
    await tx.run(sql, [sealed, row.set, row.kid]);
    return row.set;
  }

  /** Inside a transaction: inserts a row; a (set, kid) already present aborts it with ERR_KEY_EXISTS. */
  async #insert(tx: Tx, row: KeyRow, why: string): Promise<void> {
    try {
      await tx.run(SQL.insertKey, rowParams(row));
    } catch (e) {
      if (!this.#db.isUniqueViolation(e)) throw e;
      throw new StoreError('ERR_KEY_EXISTS', why, { set: row.set, kid: row.kid });
    }
  }

  #sealAll(keys: readonly StoredKey[]): KeyRow[] {
    this.#check();
    return keys.map((k) => sealKey(this.#sealer, k));
  }
}
