// SQLite (better-sqlite3, synchronous) as a Dialect. One connection per store; the store's
// methods are async, so every use of the connection goes through one queue, shared by every
// connection to the file in this process (serial-queue.ts): a transaction whose function awaits
// must not see another caller's statement run inside it, nor wait for a lock held by a
// transaction of this process that cannot go on while the thread waits. Transactions are
// IMMEDIATE (the write lock is taken at BEGIN), which also serializes migrations across processes.
// Watching polls `PRAGMA data_version` (changed by commits of other connections, in this process
// or another) and this connection's own commits, and only then reads the per-set versions.
import { mkdirSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import Database from 'better-sqlite3';

import { ClosedError } from '../errors';
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_LOCK_TTL_MS,
  DEFAULT_POLL_MS,
  type Dialect,
  type SqlValue,
  type StoreOptions,
  type Tx,
} from './dialect';
import { queueFor, type SerialQueue } from './serial-queue';
import { withLease } from './sqlite-lease-lock';

const BUSY_TIMEOUT_MS = 5000;

export class SqliteDialect implements Dialect {
  readonly kind = 'sqlite';
  readonly types = { int64: 'INTEGER', blob: 'BLOB' };
  readonly forUpdate = ''; // BEGIN IMMEDIATE already holds the write lock
  readonly freshnessMs: number;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement<SqlValue[]>>();
  readonly #lockTtlMs: number;
  readonly #lockTimeoutMs: number;
  readonly #pollMs: number;
  readonly #queue: SerialQueue;
  readonly #releaseQueue: () => void;
  #closed = false;
  /** Commits made through this connection (data_version does not count them). */
  #commits = 0;

  readonly #tx: Tx = {
    all: async <R>(sql: string, params: readonly SqlValue[] = []) => this.#statement(sql).all(...params) as R[],
    run: async (sql: string, params: readonly SqlValue[] = []) => this.#statement(sql).run(...params).changes,
    exec: async (script: string) => void this.#db.exec(script),
    notify: async () => undefined, // watchers poll data_version instead
  };

  private constructor(db: Database.Database, file: string | undefined, options: StoreOptions) {
    this.#db = db;
    ({ queue: this.#queue, release: this.#releaseQueue } = queueFor(file));
    this.#lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.freshnessMs = 2 * this.#pollMs;
  }

  /** Opens (creating when needed, with its parent directories) the file at `path`, or ':memory:'. */
  static open(path: string, options: StoreOptions = {}): SqliteDialect {
    const memory = path === ':memory:';
    if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
    const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    try {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (!memory) useWal(db);
      return new SqliteDialect(db, memory ? undefined : realpathSync(path), options);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  all<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]> {
    return this.#enqueue(() => this.#tx.all<R>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.#enqueue(() => this.#tx.run(sql, params));
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#enqueue(async () => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#tx);
        this.#db.exec('COMMIT');
        this.#commits++;
        return result;
      } catch (e) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw e;
      }
    });
  }

  async lockMigrations(): Promise<void> {
    // The IMMEDIATE transaction holds the file's write lock: no other process migrates meanwhile.
  }

  isUniqueViolation(e: unknown): boolean {
    const code = (e as { code?: unknown } | null)?.code;
    return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
  }

  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return withLease(this, name, fn, { ttlMs: this.#lockTtlMs, timeoutMs: this.#lockTimeoutMs });
  }

  startWatching(poll: () => Promise<void>): () => void {
    let seenVersion: unknown;
    let seenCommits = -1;
    let busy = false;
    const tick = async () => {
      const version = await this.#enqueue(() => this.#db.pragma('data_version', { simple: true }));
      const commits = this.#commits;
      if (version === seenVersion && commits === seenCommits) return;
      [seenVersion, seenCommits] = [version, commits];
      await poll();
    };
    const timer = setInterval(() => {
      if (busy || this.#closed) return;
      busy = true;
      tick()
        .catch(() => undefined) // closed meanwhile, or busy beyond the timeout: the next tick tries again
        .finally(() => (busy = false));
    }, this.#pollMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.drain();
    this.#db.close();
    this.#releaseQueue();
  }

  #enqueue<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError('the key store'));
    return this.#queue.run(fn);
  }

  #statement(sql: string): Database.Statement<SqlValue[]> {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare<SqlValue[]>(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }
}

/**
 * Switches the file to WAL. Switching needs the file to itself, and SQLite answers SQLITE_BUSY at
 * once (no busy handler) while another process has it open, as when two processes open a new file
 * together: try again for up to the busy timeout. Once the file is WAL, nothing is asked.
 */
function useWal(db: Database.Database): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let wait = 5; ; wait = Math.min(2 * wait, 200)) {
    try {
      if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal') return;
      db.pragma('journal_mode = WAL');
      return;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait); // opening is synchronous
    }
  }
}
