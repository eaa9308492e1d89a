// The SQLite backend of the software key store (better-sqlite3). Private JWKs are stored sealed
// (sealing.ts), bound to their (set, kid); metadata stays readable without any secret. The
// driver is synchronous; the methods return Promises so that a PostgreSQL backend fits the same
// contract.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import Database from 'better-sqlite3';

import { ClosedError, invalidArgValue } from '../pkcs11/errors';
import { millis, openRow, openRows, resealed, sealAll, type SealedRow } from './row-codec';
import type { KeyUse } from '../pkcs11/key-spec';
import { StoreError } from './errors';
import type { HsmKeyMeta, KeyRowInfo, KeyStore, RowFailure, StoredKey } from './key-store';
import type { Sealer } from './sealing';
import { migrate } from './sqlite-schema';

interface MetaRow {
  set_name: string;
  kid: string;
  alg: string;
  use: KeyUse;
  created_at: number;
}
interface KeyRow extends MetaRow {
  sealed: Buffer;
}
type InsertParams = [string, string, string, string, number, Buffer];

const COLUMNS = 'set_name, kid, alg, "use", created_at, sealed';
const INSERT = `INSERT INTO jwk_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`;
const NEWEST_FIRST = 'created_at DESC, kid DESC';

function isPrimaryKeyViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export class SqliteKeyStore implements KeyStore {
  readonly #db: Database.Database;
  readonly #sealer: Sealer;
  #closed = false;
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #stmt;

  private constructor(db: Database.Database, sealer: Sealer) {
    this.#db = db;
    this.#sealer = sealer;
    this.#stmt = {
      insert: db.prepare<InsertParams>(INSERT),
      upsert: db.prepare<InsertParams>(
        `${INSERT} ON CONFLICT (set_name, kid) DO UPDATE SET
           alg = excluded.alg, "use" = excluded."use", created_at = excluded.created_at, sealed = excluded.sealed`,
      ),
      get: db.prepare<[string, string], KeyRow>(`SELECT ${COLUMNS} FROM jwk_keys WHERE set_name = ? AND kid = ?`),
      getSet: db.prepare<[string], KeyRow>(`SELECT ${COLUMNS} FROM jwk_keys WHERE set_name = ? ORDER BY ${NEWEST_FIRST}`),
      list: db.prepare<[], MetaRow>(
        `SELECT set_name, kid, alg, "use", created_at FROM jwk_keys ORDER BY set_name, ${NEWEST_FIRST}`,
      ),
      all: db.prepare<[], KeyRow>(`SELECT ${COLUMNS} FROM jwk_keys`),
      reseal: db.prepare<[Buffer, string, string]>('UPDATE jwk_keys SET sealed = ? WHERE set_name = ? AND kid = ?'),
      deleteKey: db.prepare<[string, string]>('DELETE FROM jwk_keys WHERE set_name = ? AND kid = ?'),
      deleteSet: db.prepare<[string]>('DELETE FROM jwk_keys WHERE set_name = ?'),
      recordHsm: db.prepare<[string, string, number, string]>(
        `INSERT INTO hsm_keys (set_name, kid, created_at, alg) VALUES (?, ?, ?, ?)
         ON CONFLICT (set_name, kid) DO UPDATE SET created_at = excluded.created_at, alg = excluded.alg`,
      ),
      hsmKeys: db.prepare<[string], { kid: string; created_at: number; alg: string }>(
        'SELECT kid, created_at, alg FROM hsm_keys WHERE set_name = ?',
      ),
      forgetHsm: db.prepare<[string, string]>('DELETE FROM hsm_keys WHERE set_name = ? AND kid = ?'),
    };
  }

  /**
   * Opens (creating when needed, with its parent directories) the SQLite file at `path`, or an
   * in-memory database for ':memory:', and applies pending migrations.
   */
  static open(path: string, sealer: Sealer): SqliteKeyStore {
    const memory = path === ':memory:';
    if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
    const db = new Database(path, { timeout: 5000 });
    try {
      db.pragma('busy_timeout = 5000');
      if (!memory) db.pragma('journal_mode = WAL');
      migrate(db);
      return new SqliteKeyStore(db, sealer);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  async add(keys: readonly StoredKey[]): Promise<void> {
    this.#check();
    const rows = this.#sealAll(keys);
    this.#db.transaction(() => this.#insertRows(rows, 'the key already exists; nothing was added')).immediate();
  }

  async upsert(keys: readonly StoredKey[]): Promise<void> {
    this.#check();
    const rows = this.#sealAll(keys);
    this.#db.transaction(() => {
      for (const row of rows) this.#stmt.upsert.run(...row);
    }).immediate();
  }

  async replaceSet(set: string, keys: readonly StoredKey[]): Promise<void> {
    this.#check();
    for (const k of keys) if (k.set !== set) throw invalidArgValue('every key of replaceSet', `in set ${JSON.stringify(set)}`, k.set);
    const rows = this.#sealAll(keys);
    this.#db.transaction(() => {
      this.#stmt.deleteSet.run(set);
      this.#insertRows(rows, 'the kid appears twice in the new set; nothing was replaced');
    }).immediate();
  }

  async get(set: string, kid: string): Promise<StoredKey | undefined> {
    this.#check();
    const row = this.#stmt.get.get(set, kid);
    return row ? openRow(this.#sealer, toSealed(row)) : undefined;
  }

  async getSet(set: string): Promise<{ keys: StoredKey[]; failures: RowFailure[] }> {
    this.#check();
    return openRows(this.#sealer, this.#stmt.getSet.all(set).map(toSealed));
  }

  async deleteKey(set: string, kid: string): Promise<boolean> {
    this.#check();
    return this.#stmt.deleteKey.run(set, kid).changes > 0;
  }

  async deleteSet(set: string): Promise<number> {
    this.#check();
    return this.#stmt.deleteSet.run(set).changes;
  }

  async list(): Promise<KeyRowInfo[]> {
    this.#check();
    return this.#stmt.list.all().map((r) => ({
      set: r.set_name,
      kid: r.kid,
      alg: r.alg,
      use: r.use,
      createdAt: new Date(r.created_at),
    }));
  }

  async rotateSecrets(): Promise<number> {
    this.#check();
    return this.#db.transaction(() => {
      let count = 0;
      for (const row of this.#stmt.all.all()) {
        const sealed = resealed(this.#sealer, { set: row.set_name, kid: row.kid }, row.sealed); // a failure aborts the rotation
        if (!sealed) continue;
        this.#stmt.reseal.run(sealed, row.set_name, row.kid);
        count++;
      }
      return count;
    }).immediate();
  }

  async recordHsmKey(set: string, kid: string, meta: HsmKeyMeta): Promise<void> {
    this.#check();
    this.#stmt.recordHsm.run(set, kid, millis(meta.createdAt, { set, kid }), meta.alg);
  }

  async hsmKeys(set: string): Promise<Map<string, HsmKeyMeta>> {
    this.#check();
    return new Map(this.#stmt.hsmKeys.all(set).map((r) => [r.kid, { createdAt: new Date(r.created_at), alg: r.alg }]));
  }

  async forgetHsmKey(set: string, kid: string): Promise<void> {
    this.#check();
    this.#stmt.forgetHsm.run(set, kid);
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.#check();
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(name, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError('the key store');
  }

  /** Inside a transaction: inserts every row; a (set, kid) already present aborts it with ERR_KEY_EXISTS. */
  #insertRows(rows: readonly InsertParams[], why: string): void {
    for (const row of rows) {
      try {
        this.#stmt.insert.run(...row);
      } catch (e) {
        if (!isPrimaryKeyViolation(e)) throw e;
        throw new StoreError('ERR_KEY_EXISTS', why, { set: row[0], kid: row[1] });
      }
    }
  }

  #sealAll(keys: readonly StoredKey[]): InsertParams[] {
    return sealAll(this.#sealer, keys).map((r) => [r.set, r.kid, r.alg, r.use, r.createdAt, r.sealed]);
  }
}

function toSealed(row: KeyRow): SealedRow {
  return { set: row.set_name, kid: row.kid, alg: row.alg, use: row.use, createdAt: row.created_at, sealed: row.sealed };
}
