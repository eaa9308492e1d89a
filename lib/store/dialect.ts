// What SqlKeyStore needs from a database, so one store holds all the SQL and logic and each
// dialect (sqlite-dialect.ts, pg-dialect.ts) only says how its driver runs it. SQL is written
// with `?` placeholders; a dialect rewrites them when its driver wants `$1`. Statements use only
// what SQLite (3.24+) and PostgreSQL share (INSERT … ON CONFLICT … DO UPDATE, "use" quoted).

export type SqlValue = string | number | Buffer | null;

export interface SqlRunner {
  /** Rows of a query. */
  all<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]>;
  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** A connection inside a transaction (committed when the function given to transaction() returns). */
export interface Tx extends SqlRunner {
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Announces, when the transaction commits, that `set` changed (PostgreSQL: NOTIFY; SQLite: nothing, it is polled). */
  notify(set: string): Promise<void>;
}

/** Per-dialect names of the column types the migrations use. */
export interface ColumnTypes {
  /** A 64-bit integer (ms since the epoch, versions). */
  int64: string;
  /** Bytes (sealed envelopes). */
  blob: string;
}

/** Tunables of a store; the defaults suit production, tests shorten them. */
export interface StoreOptions {
  /** SQLite lock lease: a holder that dies keeps the lock at most this long (default 15 s). */
  lockTtlMs?: number;
  /** How long withLock waits for another holder before ERR_STORE_LOCK_TIMEOUT (default 60 s). */
  lockTimeoutMs?: number;
  /** How often watch() polls for changes (default 500 ms); freshnessMs is twice this. */
  pollMs?: number;
  /**
   * How long a call waits for a lock another connection holds (SQLite: the file's write lock, in
   * short waits and asynchronous retries, never blocking the event loop; PostgreSQL: lock_timeout)
   * before it fails with ERR_STORE_BUSY (default 5 s), counted from the call.
   */
  busyTimeoutMs?: number;
}

export const DEFAULT_LOCK_TTL_MS = 15_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
export const DEFAULT_POLL_MS = 500;
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface Dialect extends SqlRunner {
  readonly kind: 'sqlite' | 'postgres';
  readonly types: ColumnTypes;
  /** Appended to a SELECT that reads rows it will update in the same transaction (' FOR UPDATE', or '' where the transaction already excludes writers). */
  readonly forUpdate: string;
  /** The bound, in ms, within which a watcher started by startWatching() polls after a commit. */
  readonly freshnessMs: number;
  /** Runs `fn` in one transaction that excludes other writers as soon as it starts where the dialect can (SQLite IMMEDIATE). */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Inside a transaction: waits until no other process is migrating, until the transaction ends. */
  lockMigrations(tx: Tx): Promise<void>;
  isUniqueViolation(e: unknown): boolean;
  /** Runs `fn` holding the named lock across every process and connection sharing the database. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Calls `poll` whenever the database may have changed (by any connection), at least once every
   * freshnessMs while something changed. Nothing it starts keeps the process alive. Returns stop().
   */
  startWatching(poll: () => Promise<void>): () => void;
  /** Waits for queued work, then releases the connections. */
  close(): Promise<void>;
}
