// PostgreSQL (pg) as a Dialect, for instances that share keys. `pg` is loaded only when a
// postgres:// DSN is used. Locks are session advisory locks (the same keys as earlier versions,
// so old and new instances exclude each other during an upgrade); changes are announced with
// NOTIFY inside the writing transaction and heard on a dedicated LISTEN connection
// (pg-listener.ts), with a periodic poll of the per-set versions behind it for lost connections.
// Waits never block the event loop (pg is asynchronous); a statement waiting for a lock another
// session holds (rows being written, a migration's DDL) gives up after busyTimeoutMs (the pool's
// lock_timeout) with ERR_STORE_BUSY, instead of holding its caller indefinitely.
import { ClosedError } from '../errors';
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_POLL_MS,
  type Dialect,
  type SqlValue,
  type StoreOptions,
  type Tx,
} from './dialect';
import { StoreError, storeBusy } from './errors';
import { CHANGE_CHANNEL, PgListener, type PgListenClient } from './pg-listener';

/** The part of pg's Pool, clients and results used here (no type dependency on pg at runtime). */
interface PgResult<R> {
  rows: R[];
  rowCount: number | null;
}
interface PgQueryable {
  query<R = unknown>(text: string, values?: readonly SqlValue[]): Promise<PgResult<R>>;
}
interface PgPoolClient extends PgQueryable {
  /** true: the connection is broken or holds session state, close it instead of reusing it. */
  release(destroy?: boolean): void;
}
interface PgPool extends PgQueryable {
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (e: Error) => void): unknown;
}
interface PgModule {
  Pool: new (o: {
    connectionString: string;
    max: number;
    allowExitOnIdle: boolean;
    /** Sent as the session's lock_timeout (ms) on every connection of the pool. */
    lock_timeout: number;
  }) => PgPool;
  Client: new (o: { connectionString: string; keepAlive: boolean; connectionTimeoutMillis: number }) => PgListenClient;
}

/** pg_advisory_xact_lock key of migrations ("hsmj"): never change it, older versions use it too. */
const MIGRATION_LOCK = 0x68736d6a;
const LISTEN_CONNECT_TIMEOUT_MS = 10_000;
/** NOTIFY payloads are limited to 8000 bytes; the payload is informative only (watchers poll). */
const MAX_PAYLOAD_BYTES = 7999;
const LOCK_NOT_AVAILABLE = '55P03';

const placeholders = new Map<string, string>();
/** `?` → `$1`, `$2`, … (the store's SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let out = placeholders.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    placeholders.set(sql, out);
  }
  return out;
}

function loadPg(): PgModule {
  try {
    return require('pg') as PgModule; // loaded only for postgres:// DSNs
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    throw new StoreError('ERR_STORE_DSN', 'a postgres:// DSN needs the "pg" package (npm install pg)');
  }
}

export class PgDialect implements Dialect {
  readonly kind = 'postgres';
  readonly types = { int64: 'BIGINT', blob: 'BYTEA' };
  readonly forUpdate = ' FOR UPDATE';
  readonly freshnessMs: number;
  readonly #pg: PgModule;
  readonly #dsn: string;
  readonly #pool: PgPool;
  readonly #lockTimeoutMs: number;
  readonly #busyTimeoutMs: number;
  readonly #pollMs: number;
  #closed = false;

  /** Connects lazily. */
  constructor(dsn: string, options: StoreOptions = {}) {
    this.#pg = loadPg();
    this.#dsn = dsn;
    // Not 0: PostgreSQL's 0 means "wait forever".
    this.#busyTimeoutMs = Math.max(1, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS));
    // allowExitOnIdle: idle connections (left by watcher polls, say) never keep the process alive.
    this.#pool = new this.#pg.Pool({
      connectionString: dsn,
      max: 8,
      allowExitOnIdle: true,
      lock_timeout: this.#busyTimeoutMs,
    });
    // An idle connection that fails (server restart) is dropped by the pool; without a listener
    // its 'error' event would crash the process.
    this.#pool.on('error', () => undefined);
    this.#lockTimeoutMs = Math.max(1, Math.floor(options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS));
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.freshnessMs = 2 * this.#pollMs;
  }

  async all<R>(sql: string, params: readonly SqlValue[] = []): Promise<R[]> {
    this.#check();
    return (await this.#pool.query<R>(numbered(sql), params).catch(this.#busy)).rows;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    this.#check();
    return (await this.#pool.query(numbered(sql), params).catch(this.#busy)).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.#check();
    const c = await this.#pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      const result = await fn(txOf(c));
      await c.query('COMMIT');
      return result;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => (broken = true));
      throw busyOr(e, this.#busyTimeoutMs);
    } finally {
      c.release(broken);
    }
  }

  async lockMigrations(tx: Tx): Promise<void> {
    await tx.all('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
  }

  isUniqueViolation(e: unknown): boolean {
    return (e as { code?: unknown } | null)?.code === '23505';
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.#check();
    const key = `hsm-jwks:${name}`; // the key earlier versions used
    const c = await this.#pool.connect();
    let broken = true; // until the lock is known released, the session may hold it
    try {
      await c.query(`SET lock_timeout = ${this.#lockTimeoutMs}`); // a number of ms: no injection; RESET: back to busyTimeoutMs
      try {
        await c.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
      } catch (e) {
        if ((e as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) throw e;
        broken = false;
        throw new StoreError(
          'ERR_STORE_LOCK_TIMEOUT',
          `waited ${this.#lockTimeoutMs} ms for the store lock ${JSON.stringify(name)}`,
        );
      } finally {
        await c.query('RESET lock_timeout').catch(() => undefined);
      }
      try {
        return await fn();
      } finally {
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).then(
          () => (broken = false),
          () => undefined,
        );
      }
    } finally {
      c.release(broken);
    }
  }

  startWatching(poll: () => Promise<void>): () => void {
    const signal = () => void poll().catch(() => undefined); // a failed poll is retried by the next signal or tick
    const listener = new PgListener(
      () =>
        new this.#pg.Client({
          connectionString: this.#dsn,
          keepAlive: true,
          connectionTimeoutMillis: LISTEN_CONNECT_TIMEOUT_MS,
        }),
      signal,
    );
    listener.ensure();
    const timer = setInterval(() => {
      if (this.#closed) return;
      listener.ensure();
      signal();
    }, this.#pollMs);
    timer.unref();
    return () => {
      clearInterval(timer);
      listener.stop();
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError('the key store');
  }

  /** Rethrows `e`, as ERR_STORE_BUSY when it is PostgreSQL's lock timeout. */
  readonly #busy = (e: unknown): never => {
    throw busyOr(e, this.#busyTimeoutMs);
  };
}

/** `e`, or ERR_STORE_BUSY when it is PostgreSQL's lock timeout (55P03). */
function busyOr(e: unknown, waitedMs: number): unknown {
  return (e as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE ? storeBusy(waitedMs, 'SQLSTATE_55P03') : e;
}

function txOf(c: PgPoolClient): Tx {
  return {
    all: async <R>(sql: string, params: readonly SqlValue[] = []) => (await c.query<R>(numbered(sql), params)).rows,
    run: async (sql: string, params: readonly SqlValue[] = []) => (await c.query(numbered(sql), params)).rowCount ?? 0,
    exec: async (script: string) => void (await c.query(script)),
    notify: async (set: string) => {
      const payload = Buffer.byteLength(set, 'utf8') <= MAX_PAYLOAD_BYTES ? set : '';
      await c.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, payload]);
    },
  };
}
