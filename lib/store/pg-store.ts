// The PostgreSQL backend of the software key store, for instances that share keys: the same rows
// and sealing as SQLite, migrations applied under an advisory lock, and a lock for
// "generate if missing" across instances. `pg` is loaded only when a postgres:// DSN is used.
import { ClosedError, invalidArgValue } from '../pkcs11/errors';
import type { KeyUse } from '../pkcs11/key-spec';
import { StoreError } from './errors';
import type { HsmKeyMeta, KeyRowInfo, KeyStore, RowFailure, StoredKey } from './key-store';
import { millis, openRow, openRows, resealed, sealAll, type SealedRow } from './row-codec';
import type { Sealer } from './sealing';

/** The subset of pg's Pool and client this store uses (no type dependency on pg at runtime). */
interface PgResult<R> {
  rows: R[];
  rowCount: number | null;
}
interface PgClient {
  query<R = unknown>(text: string, values?: unknown[]): Promise<PgResult<R>>;
  release(): void;
}
interface PgPool {
  query<R = unknown>(text: string, values?: unknown[]): Promise<PgResult<R>>;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}

const MIGRATIONS: readonly string[] = [
  // 1: the same tables as SQLite (sqlite-schema.ts), with PostgreSQL types.
  `CREATE TABLE jwk_keys (
     set_name TEXT NOT NULL, kid TEXT NOT NULL, alg TEXT NOT NULL, "use" TEXT NOT NULL,
     created_at BIGINT NOT NULL, sealed BYTEA NOT NULL, PRIMARY KEY (set_name, kid));
   CREATE INDEX jwk_keys_set_created ON jwk_keys (set_name, created_at);
   CREATE TABLE hsm_keys (
     set_name TEXT NOT NULL, kid TEXT NOT NULL, created_at BIGINT NOT NULL, alg TEXT NOT NULL,
     PRIMARY KEY (set_name, kid));`,
];
const MIGRATION_LOCK = 0x68736d6a; // pg_advisory_xact_lock key for migrations ("hsmj")

interface Row {
  set_name: string;
  kid: string;
  alg: string;
  use: KeyUse;
  created_at: string; // BIGINT comes back as text
  sealed: Buffer;
}
const COLUMNS = 'set_name, kid, alg, "use", created_at, sealed';
const NEWEST_FIRST = 'created_at DESC, kid DESC';

const toSealed = (r: Row): SealedRow => ({ set: r.set_name, kid: r.kid, alg: r.alg, use: r.use, createdAt: Number(r.created_at), sealed: r.sealed });

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === '23505';
}

export class PgKeyStore implements KeyStore {
  readonly #pool: PgPool;
  readonly #sealer: Sealer;
  readonly #ready: Promise<void>;
  #closed = false;

  /** Connects lazily; the first call waits for the migrations. */
  constructor(dsn: string, sealer: Sealer) {
    let pg: { Pool: new (o: { connectionString: string; max: number }) => PgPool };
    try {
      pg = require('pg'); // loaded only for postgres:// DSNs
    } catch (e) {
      if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
      throw new StoreError('ERR_STORE_DSN', 'a postgres:// DSN needs the "pg" package (npm install pg)');
    }
    this.#pool = new pg.Pool({ connectionString: dsn, max: 8 });
    this.#sealer = sealer;
    this.#ready = this.#transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT)');
      const done = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const [i, sql] of MIGRATIONS.entries()) {
        if (done.has(i + 1)) continue;
        await c.query(sql);
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [i + 1, Date.now()]);
      }
    }, false);
    this.#ready.catch(() => undefined); // reported by the first call
  }

  async add(keys: readonly StoredKey[]): Promise<void> {
    const rows = sealAll(this.#sealer, keys);
    await this.#transaction(async (c) => {
      for (const r of rows) await this.#insert(c, r, 'the key already exists; nothing was added');
    });
  }

  async upsert(keys: readonly StoredKey[]): Promise<void> {
    const rows = sealAll(this.#sealer, keys);
    await this.#transaction(async (c) => {
      for (const r of rows) {
        await c.query(
          `INSERT INTO jwk_keys (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (set_name, kid) DO UPDATE SET alg = EXCLUDED.alg, "use" = EXCLUDED."use",
             created_at = EXCLUDED.created_at, sealed = EXCLUDED.sealed`,
          [r.set, r.kid, r.alg, r.use, r.createdAt, r.sealed],
        );
      }
    });
  }

  async replaceSet(set: string, keys: readonly StoredKey[]): Promise<void> {
    for (const k of keys) if (k.set !== set) throw invalidArgValue('every key of replaceSet', `in set ${JSON.stringify(set)}`, k.set);
    const rows = sealAll(this.#sealer, keys);
    await this.#transaction(async (c) => {
      await c.query('DELETE FROM jwk_keys WHERE set_name = $1', [set]);
      for (const r of rows) await this.#insert(c, r, 'the kid appears twice in the new set; nothing was replaced');
    });
  }

  async get(set: string, kid: string): Promise<StoredKey | undefined> {
    const { rows } = await this.#query<Row>(`SELECT ${COLUMNS} FROM jwk_keys WHERE set_name = $1 AND kid = $2`, [set, kid]);
    return rows[0] ? openRow(this.#sealer, toSealed(rows[0])) : undefined;
  }

  async getSet(set: string): Promise<{ keys: StoredKey[]; failures: RowFailure[] }> {
    const { rows } = await this.#query<Row>(`SELECT ${COLUMNS} FROM jwk_keys WHERE set_name = $1 ORDER BY ${NEWEST_FIRST}`, [set]);
    return openRows(this.#sealer, rows.map(toSealed));
  }

  async deleteKey(set: string, kid: string): Promise<boolean> {
    return ((await this.#query('DELETE FROM jwk_keys WHERE set_name = $1 AND kid = $2', [set, kid])).rowCount ?? 0) > 0;
  }

  async deleteSet(set: string): Promise<number> {
    return (await this.#query('DELETE FROM jwk_keys WHERE set_name = $1', [set])).rowCount ?? 0;
  }

  async list(): Promise<KeyRowInfo[]> {
    const { rows } = await this.#query<Omit<Row, 'sealed'>>(`SELECT set_name, kid, alg, "use", created_at FROM jwk_keys ORDER BY set_name, ${NEWEST_FIRST}`);
    return rows.map((r) => ({ set: r.set_name, kid: r.kid, alg: r.alg, use: r.use, createdAt: new Date(Number(r.created_at)) }));
  }

  async rotateSecrets(): Promise<number> {
    return this.#transaction(async (c) => {
      const { rows } = await c.query<Row>(`SELECT ${COLUMNS} FROM jwk_keys FOR UPDATE`);
      let count = 0;
      for (const row of rows) {
        const sealed = resealed(this.#sealer, { set: row.set_name, kid: row.kid }, row.sealed); // a failure aborts the rotation
        if (!sealed) continue;
        await c.query('UPDATE jwk_keys SET sealed = $1 WHERE set_name = $2 AND kid = $3', [sealed, row.set_name, row.kid]);
        count++;
      }
      return count;
    });
  }

  async recordHsmKey(set: string, kid: string, meta: HsmKeyMeta): Promise<void> {
    await this.#query(
      `INSERT INTO hsm_keys (set_name, kid, created_at, alg) VALUES ($1, $2, $3, $4)
       ON CONFLICT (set_name, kid) DO UPDATE SET created_at = EXCLUDED.created_at, alg = EXCLUDED.alg`,
      [set, kid, millis(meta.createdAt, { set, kid }), meta.alg],
    );
  }

  async hsmKeys(set: string): Promise<Map<string, HsmKeyMeta>> {
    const { rows } = await this.#query<{ kid: string; created_at: string; alg: string }>('SELECT kid, created_at, alg FROM hsm_keys WHERE set_name = $1', [set]);
    return new Map(rows.map((r) => [r.kid, { createdAt: new Date(Number(r.created_at)), alg: r.alg }]));
  }

  async forgetHsmKey(set: string, kid: string): Promise<void> {
    await this.#query('DELETE FROM hsm_keys WHERE set_name = $1 AND kid = $2', [set, kid]);
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new ClosedError('the key store');
    await this.#ready;
    const c = await this.#pool.connect();
    try {
      // A session-level advisory lock, keyed by a hash of the name, held while fn runs.
      await c.query('SELECT pg_advisory_lock(hashtext($1))', [`hsm-jwks:${name}`]);
      try {
        return await fn();
      } finally {
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [`hsm-jwks:${name}`]);
      }
    } finally {
      c.release();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ready.catch(() => undefined);
    await this.#pool.end();
  }

  async #insert(c: PgClient, r: SealedRow, why: string): Promise<void> {
    try {
      await c.query(`INSERT INTO jwk_keys (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`, [r.set, r.kid, r.alg, r.use, r.createdAt, r.sealed]);
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      throw new StoreError('ERR_KEY_EXISTS', why, { set: r.set, kid: r.kid });
    }
  }

  async #query<R>(text: string, values?: unknown[]): Promise<PgResult<R>> {
    if (this.#closed) throw new ClosedError('the key store');
    await this.#ready;
    return this.#pool.query<R>(text, values);
  }

  async #transaction<T>(fn: (c: PgClient) => Promise<T>, afterReady = true): Promise<T> {
    if (this.#closed) throw new ClosedError('the key store');
    if (afterReady) await this.#ready;
    const c = await this.#pool.connect();
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }
}
