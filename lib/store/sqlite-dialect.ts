// SQLite (better-sqlite3, synchronous) as a Dialect. One connection per store; the store's
// methods are async, so every use of the connection takes a turn of one queue, shared by every
// connection to the file in this process (serial-queue.ts): a transaction whose function awaits
// must not see another caller's statement run inside it, nor wait for a lock held by a
// transaction of this process that cannot go on while the thread waits. Transactions are
// IMMEDIATE (the write lock is taken at BEGIN), which also serializes migrations across processes.
// The event loop never waits for another process's lock: SQLite's busy handler waits a few ms,
// then the call pauses asynchronously and tries again until busyTimeoutMs (sqlite-busy.ts), and
// fails with ERR_STORE_BUSY; a transaction that meets the lock gives its turn up while it pauses.
// Watching polls `PRAGMA data_version` (changed by commits of other connections, in this process
// or another) and this connection's own commits, and only then reads the per-set versions.
import { mkdirSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import Database from 'better-sqlite3';

import { ClosedError } from '../errors';
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_LOCK_TTL_MS,
  DEFAULT_POLL_MS,
  type Dialect,
  type SqlValue,
  type StoreOptions,
  type Tx,
} from './dialect';
import { storeBusy } from './errors';
import { queueFor, type SerialQueue } from './serial-queue';
import { BUSY_SLICE_MS, isSqliteBusy, whileBusy } from './sqlite-busy';
import { withLease } from './sqlite-lease-lock';

export class SqliteDialect implements Dialect {
  readonly kind = 'sqlite';
  readonly types = { int64: 'INTEGER', blob: 'BLOB' };
  readonly forUpdate = ''; // BEGIN IMMEDIATE already holds the write lock
  readonly freshnessMs: number;
  readonly #db: Database.Database;
  readonly #memory: boolean;
  readonly #statements = new Map<string, Database.Statement<SqlValue[]>>();
  readonly #lockTtlMs: number;
  readonly #lockTimeoutMs: number;
  readonly #pollMs: number;
  readonly #busyTimeoutMs: number;
  readonly #turns: SerialQueue;
  readonly #writes: SerialQueue;
  readonly #releaseQueues: () => void;
  /** Calls accepted and not yet settled: close() lets them finish. */
  readonly #inFlight = new Set<Promise<unknown>>();
  /** The switch to WAL, once it succeeded; undefined until then (a busy failure is tried again by the next call). */
  #wal: Promise<void> | undefined;
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
    this.#memory = file === undefined;
    ({ turns: this.#turns, writes: this.#writes, release: this.#releaseQueues } = queueFor(file));
    this.#lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.#busyTimeoutMs = Math.max(0, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
    this.freshnessMs = 2 * this.#pollMs;
  }

  /**
   * Opens (creating when needed, with its parent directories) the file at `path`, or ':memory:'.
   * The switch to WAL is made by the first call (it may have to wait for other processes).
   */
  static open(path: string, options: StoreOptions = {}): SqliteDialect {
    const memory = path === ':memory:';
    if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
    const db = new Database(path, { timeout: BUSY_SLICE_MS }); // sets busy_timeout
    try {
      return new SqliteDialect(db, memory ? undefined : realpathSync(path), options);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  all<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]> {
    return this.#call((deadline) => this.#inTurn(deadline, () => this.#tx.all<R>(sql, params)));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.#call((deadline) => this.#inTurn(deadline, () => this.#tx.run(sql, params)));
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#call((deadline) => this.#writes.run(() => this.#inTurn(deadline, () => this.#transactionOnce(fn))));
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
      const version = await this.#call((deadline) =>
        this.#inTurn(deadline, () => this.#db.pragma('data_version', { simple: true })),
      );
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
    await Promise.allSettled([...this.#inFlight]); // calls in a busy wait end by their deadline
    await this.#turns.drain();
    this.#db.close();
    this.#releaseQueues();
  }

  /** Accepts a call (ERR_CLOSED once closed); its deadline for busy waits starts now. */
  #call<T>(start: (deadline: number) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError('the key store'));
    const p = start(Date.now() + this.#busyTimeoutMs);
    this.#inFlight.add(p);
    void p.then(
      () => this.#inFlight.delete(p),
      () => this.#inFlight.delete(p),
    );
    return p;
  }

  /** Runs `attempt` in a turn of the connection, once the file is WAL; while SQLite is busy, pauses outside the queue and tries again. */
  async #inTurn<T>(deadline: number, attempt: () => T | Promise<T>): Promise<T> {
    await this.#useWal(deadline);
    return whileBusy(deadline, this.#busyTimeoutMs, () => this.#turns.run(attempt));
  }

  /**
   * One try at a transaction. SQLITE_BUSY at BEGIN (nothing began) is thrown as it is, for the
   * caller to try again; inside the transaction, `fn` is not run twice: busy there is ERR_STORE_BUSY.
   */
  async #transactionOnce<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(this.#tx);
      // WAL commits need no other lock; in rollback journal mode COMMIT may wait for readers.
      await whileBusy(Date.now() + this.#busyTimeoutMs, this.#busyTimeoutMs, async () => this.#db.exec('COMMIT'));
      this.#commits++;
      return result;
    } catch (e) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      throw isSqliteBusy(e) ? storeBusy(this.#busyTimeoutMs, (e as { code?: unknown }).code) : e;
    }
  }

  /**
   * Switches the file to WAL. Switching needs the file to itself, and SQLite answers SQLITE_BUSY at
   * once (no busy handler) while another process has it open, as when two processes open a new
   * file together: tried again until the deadline. Once the file is WAL, nothing is asked.
   */
  #useWal(deadline: number): Promise<void> {
    if (this.#memory) return Promise.resolve();
    this.#wal ??= whileBusy(deadline, this.#busyTimeoutMs, () =>
      this.#turns.run(() => {
        if (String(this.#db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal')
          this.#db.pragma('journal_mode = WAL');
      }),
    ).catch((e) => {
      this.#wal = undefined; // the next call tries again
      throw e;
    });
    return this.#wal;
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
