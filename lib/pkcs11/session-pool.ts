// A bounded pool of PKCS#11 sessions. Each session is lent to exactly one operation at a time, so
// no two operations ever share a session (no CKR_OPERATION_ACTIVE). Sessions open lazily up to
// `size`; callers beyond that wait in FIFO order, up to `waitTimeoutMs`, at most `maxWaiting` of
// them. A session whose operation failed with a session-level error (lost session, device gone) is
// closed and replaced instead of being lent again.
import { DEFAULTS } from './defaults';
import { ClosedError, Pkcs11Error, PoolTimeoutError, QueueFullError } from './errors';

export interface SessionPoolOptions {
  size: number;
  waitTimeoutMs: number;
  /** Callers that may wait at once; one more is refused with ERR_QUEUE_FULL (default: defaults.ts). */
  maxWaiting?: number;
  open(): Promise<bigint>;
  /** Best effort: failures are ignored (the session may already be gone). */
  close(session: bigint): Promise<void>;
}

export interface SessionPoolStats {
  size: number;
  /** Sessions currently open (idle + in use). */
  open: number;
  idle: number;
  inUse: number;
  /** Callers waiting for a session. */
  waiting: number;
  /** Sessions closed because an operation reported them broken. */
  evicted: number;
}

interface Waiter {
  resolve(session: bigint): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

function breaksSession(error: unknown): boolean {
  return error instanceof Pkcs11Error && (error.category === 'session-lost' || error.category === 'device-gone');
}

export class SessionPool {
  readonly #opts: SessionPoolOptions;
  readonly #idle: bigint[] = [];
  readonly #waiters: Waiter[] = [];
  #open = 0; // includes sessions being opened
  #inUse = 0;
  #evicted = 0;
  #closed = false;
  #drained: (() => void) | undefined;

  constructor(options: SessionPoolOptions) {
    this.#opts = options;
  }

  /** Runs `fn` with a session of its own; the session returns to the pool when `fn` settles. */
  async use<T>(fn: (session: bigint) => Promise<T>): Promise<T> {
    const session = await this.#acquire();
    let failure: unknown;
    try {
      return await fn(session);
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      this.#release(session, breaksSession(failure));
    }
  }

  stats(): SessionPoolStats {
    return {
      size: this.#opts.size,
      open: this.#open,
      idle: this.#idle.length,
      inUse: this.#inUse,
      waiting: this.#waiters.length,
      evicted: this.#evicted,
    };
  }

  /** Refuses new work, fails the waiters, waits for operations in flight, closes every session. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new ClosedError('the session pool'));
    }
    if (this.#inUse > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    const sessions = this.#idle.splice(0);
    this.#open -= sessions.length;
    await Promise.all(sessions.map((s) => this.#opts.close(s).catch(() => undefined)));
  }

  async #acquire(): Promise<bigint> {
    if (this.#closed) throw new ClosedError('the session pool');
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#inUse++;
      return idle;
    }
    if (this.#open < this.#opts.size) return this.#openOne();
    if (this.#waiters.length >= (this.#opts.maxWaiting ?? DEFAULTS.pool.maxWaiting))
      throw new QueueFullError('the session pool wait list');
    return new Promise<bigint>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new PoolTimeoutError(this.#opts.waitTimeoutMs, this.#opts.size));
        }, this.#opts.waitTimeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  async #openOne(): Promise<bigint> {
    this.#open++;
    this.#inUse++;
    try {
      return await this.#opts.open();
    } catch (e) {
      this.#open--;
      this.#inUse--;
      this.#settleIfDrained();
      throw e;
    }
  }

  #release(session: bigint, broken: boolean): void {
    this.#inUse--;
    if (broken) {
      this.#evicted++;
      this.#open--;
      void this.#opts.close(session).catch(() => undefined);
      const next = this.#closed ? undefined : this.#waiters.shift();
      if (next) {
        clearTimeout(next.timer);
        this.#openOne().then(next.resolve, next.reject);
      }
    } else {
      const next = this.#closed ? undefined : this.#waiters.shift();
      if (next) {
        clearTimeout(next.timer);
        this.#inUse++;
        next.resolve(session);
      } else {
        this.#idle.push(session);
      }
    }
    this.#settleIfDrained();
  }

  #settleIfDrained(): void {
    if (this.#closed && this.#inUse === 0 && this.#drained) {
      const done = this.#drained;
      this.#drained = undefined;
      done();
    }
  }
}
