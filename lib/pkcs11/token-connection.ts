// A Token's live connection to its token: the anchor session that holds the login, the session
// pool, the signing engine and the signSync session, all of one module generation (`epoch`), and
// the recovery that replaces them (see recovery.ts for the policy). The Token decides what an
// operation is; this decides what to do when the token fails under it.
import { setTimeout as sleep } from 'node:timers/promises';

import { call, ClosedError, fromNative, ModuleNotOwnedError, Pkcs11Error } from './errors';
import {
  checkRecoveryOptions,
  codeOf,
  emit,
  remedyFor,
  worthRetrying,
  type Backoff,
  type RecoveryCounters,
  type RecoveryEvent,
  type RecoveryOptions,
} from './recovery';
import { SessionPool } from './session-pool';
import { DEFAULT_WAIT_MS, login, openEngine, RW_SERIAL, type Engine, type TokenOptions } from './token-setup';
import type { NativeModule } from '../../binding';

/**
 * One module generation's worth of connection: a NativeModule of that generation (its handles are
 * refused once the module is re-initialised) and the sessions opened through it. An operation takes
 * the current one and uses only it, so it never mixes handles of two generations.
 */
export interface Sessions {
  native: NativeModule;
  /** +1 each time the sessions are replaced after a re-initialisation. */
  epoch: number;
  anchor: bigint;
  pool: SessionPool;
  engine: Engine | undefined;
  syncSession: bigint | undefined;
}

/** Where a failed operation ran, so recovery knows what it used. */
export interface Attempt {
  /** The connection epoch the operation started in. */
  epoch: number;
  /** The engine it was queued on, when it ran there. */
  engine?: Engine;
  /** Re-resolves the operation's key (remedy for a stale object handle); false when it is gone. */
  findKeyAgain?: () => Promise<boolean>;
}

export class TokenConnection {
  readonly slot: bigint;
  #sessions: Sessions;
  #pin: Buffer | undefined;
  /** Old generations being dropped in the background; close() waits for them. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #options: TokenOptions;
  readonly #poolSize: number;
  readonly #backoff: Backoff;
  readonly #onEvent: RecoveryOptions['onEvent'];
  readonly counters: RecoveryCounters = { relogins: 0, engineReplacements: 0, reinitializations: 0, keyLookups: 0, retries: 0 };
  #relogging: Promise<void> | undefined;
  #replacing: Promise<void> | undefined;
  #resyncing: Promise<void> | undefined;
  #closed = false;

  /** Opens the sessions on `native` (a NativeModule of the Token's own, closed with it) and logs in. */
  static async open(native: NativeModule, slot: bigint, pin: Buffer | undefined, options: TokenOptions, poolSize: number): Promise<TokenConnection> {
    const backoff = checkRecoveryOptions(options.recovery);
    const sessions = await openSessions(native, 0, slot, pin, options, poolSize);
    return new TokenConnection(slot, pin, options, poolSize, backoff, sessions);
  }

  private constructor(slot: bigint, pin: Buffer | undefined, options: TokenOptions, poolSize: number, backoff: Backoff, sessions: Sessions) {
    this.slot = slot;
    this.#pin = pin;
    this.#options = options;
    this.#poolSize = poolSize;
    this.#backoff = backoff;
    this.#onEvent = options.recovery?.onEvent;
    this.#sessions = sessions;
  }

  /** The current generation's module and sessions: take it once per operation attempt. */
  get current(): Readonly<Sessions> {
    return this.#sessions;
  }

  /**
   * After `error` failed an operation: makes the connection usable again, then runs `retry` once
   * (no retry: recovers, then throws `error`). What cannot be recovered throws the typed error.
   */
  async recover<T>(error: unknown, attempt: Attempt, retry?: () => Promise<T>): Promise<T> {
    const e = fromNative(error);
    if (this.#closed) throw e;
    if (attempt.epoch !== this.#sessions.epoch) return this.#retry(e, retry); // recovered meanwhile: its handles were old
    if (e instanceof ClosedError) {
      // Refused by an engine that was replaced (recovery elsewhere) while the request was queued.
      if (attempt.engine && this.#sessions.engine !== attempt.engine) return this.#retry(e, retry);
      throw e;
    }
    switch (remedyFor(e, attempt.engine !== undefined)) {
      case 'relogin':
        if (!this.#pin) throw e;
        await this.#relogin(e).catch((loginError: unknown) => {
          // The anchor session itself is gone (or the device): start over with new sessions.
          const r = remedyFor(loginError, false);
          if (r !== 'retry-only' && r !== 'reinitialize') throw loginError;
          return this.#resync(loginError);
        });
        break;
      case 'new-engine':
        await this.#replaceEngine(attempt.engine!, e);
        break;
      case 'retry-only':
        break;
      case 'reinitialize':
        await this.#resync(e);
        break;
      case 'find-key-again':
        if (!attempt.findKeyAgain || !(await attempt.findKeyAgain())) throw e;
        break;
      default:
        throw e;
    }
    return this.#retry(e, retry);
  }

  #retry<T>(cause: unknown, retry: (() => Promise<T>) | undefined): Promise<T> {
    if (!retry) throw cause;
    this.counters.retries++;
    this.event({ kind: 'retry', cause: codeOf(cause) });
    return retry();
  }

  /** Reports a recovery step to the `recovery.onEvent` hook. */
  event(event: RecoveryEvent): void {
    emit(this.#onEvent, event);
  }

  #relogin(cause: unknown): Promise<void> {
    const { native, anchor } = this.#sessions;
    this.#relogging ??= login(native, this.slot, anchor, this.#pin!)
      .then(() => {
        this.counters.relogins++;
        this.event({ kind: 'relogin', cause: codeOf(cause) });
      })
      .finally(() => (this.#relogging = undefined));
    return this.#relogging;
  }

  /** New sessions and threads for the engine; the old one's queued requests are retried on it. */
  #replaceEngine(broken: Engine, cause: unknown): Promise<void> {
    if (this.#sessions.engine !== broken) return Promise.resolve(); // replaced already
    const sessions = this.#sessions;
    this.#replacing ??= (async () => {
      const fresh = (await openEngine(sessions.native, this.slot, this.#options.engine, this.#poolSize))!;
      if (this.#closed || this.#sessions !== sessions) {
        await closeEngine(sessions.native, fresh); // the token closed or moved on meanwhile
        return;
      }
      sessions.engine = fresh;
      this.counters.engineReplacements++;
      this.event({ kind: 'engine-replaced', cause: codeOf(cause) });
      await closeEngine(sessions.native, broken);
    })().finally(() => (this.#replacing = undefined));
    return this.#replacing;
  }

  /**
   * The device went away (or another Token re-initialised the module): re-initialise it, with
   * bounded exponential backoff, then replace every session and log in again. One at a time:
   * concurrent failures wait for the same attempt. Throws when every attempt failed (the last
   * failure if it says more than `cause`, e.g. a wrong PIN, which is never tried twice).
   */
  #resync(cause: unknown): Promise<void> {
    this.#resyncing ??= this.#resyncWithBackoff(cause).finally(() => (this.#resyncing = undefined));
    return this.#resyncing;
  }

  async #resyncWithBackoff(cause: unknown): Promise<void> {
    const { attempts, backoffMs, maxBackoffMs, drainTimeoutMs } = this.#backoff;
    const started = this.#sessions;
    // The NativeModule whose generation is known dead: the next attempt re-initialises unless the
    // module has moved past it. Each failed attempt's own NativeModule is closed.
    let basis = started.native;
    let delay = backoffMs;
    try {
      for (let attempt = 1; ; attempt++) {
        if (this.#closed) throw cause;
        try {
          await call(() => basis.reinitialize({ drainTimeoutMs }));
          const fresh = await call(() => basis.share());
          if (basis !== started.native) void basis.close().catch(() => undefined);
          basis = fresh;
          await this.#replaceSessions(fresh);
          this.counters.reinitializations++;
          this.event({ kind: 'reinitialized', cause: codeOf(cause), attempt });
          return;
        } catch (e) {
          this.event({ kind: 'reinitialize-failed', cause: codeOf(e), attempt });
          if (e instanceof ModuleNotOwnedError) throw cause;
          if (!worthRetrying(e)) throw e;
          if (attempt >= attempts) throw cause instanceof Pkcs11Error ? cause : e;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, maxBackoffMs);
      }
    } catch (e) {
      if (basis !== started.native && basis !== this.#sessions.native) void basis.close().catch(() => undefined);
      throw e;
    }
  }

  /** Opens a complete set of sessions on `native`, then swaps it in; the old set is dropped in the background. */
  async #replaceSessions(native: NativeModule): Promise<void> {
    const old = this.#sessions;
    const fresh = await openSessions(native, old.epoch + 1, this.slot, this.#pin, this.#options, this.#poolSize);
    if (this.#closed) {
      await closeSessions(fresh);
      throw new ClosedError('the token');
    }
    this.#sessions = fresh;
    // The old handles belong to the previous generation: its NativeModule refuses them, so closing
    // them is bookkeeping (the pool waits for its operations, which fail at once).
    const retired = closeSessions(old).then(() => call(() => old.native.close()).catch(() => undefined));
    this.#retiring.add(retired);
    void retired.finally(() => this.#retiring.delete(retired));
  }

  /**
   * Waits for operations in flight, closes every session (which ends the login), forgets the PIN
   * and closes the Token's NativeModules.
   */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      await this.#resyncing?.catch(() => undefined);
      const last = this.#sessions;
      await closeSessions(last);
      await Promise.all(this.#retiring);
      await call(() => last.native.close()).catch(() => undefined);
    } finally {
      this.#pin?.fill(0);
      this.#pin = undefined;
    }
  }
}

async function openSessions(
  native: NativeModule,
  epoch: number,
  slot: bigint,
  pin: Buffer | undefined,
  options: TokenOptions,
  poolSize: number,
): Promise<Sessions> {
  const anchor = await call(() => native.openSession(slot, RW_SERIAL));
  let engine: Engine | undefined;
  try {
    if (pin) await login(native, slot, anchor, pin);
    engine = await openEngine(native, slot, options.engine, poolSize);
    const syncSession = options.signSync ? await call(() => native.openSession(slot, RW_SERIAL)) : undefined;
    const pool = new SessionPool({
      size: poolSize,
      waitTimeoutMs: options.poolWaitTimeoutMs ?? DEFAULT_WAIT_MS,
      ...(options.poolMaxWaiting === undefined ? {} : { maxWaiting: options.poolMaxWaiting }),
      open: () => call(() => native.openSession(slot, RW_SERIAL)),
      close: (s) => call(() => native.closeSession(s)),
    });
    return { native, epoch, anchor, pool, engine, syncSession };
  } catch (e) {
    if (engine) await closeEngine(native, engine);
    await call(() => native.closeSession(anchor)).catch(() => undefined);
    throw e;
  }
}

/** Queued signatures are rejected (ERR_CLOSED), running batches finish, threads end, sessions close. */
async function closeEngine(native: NativeModule, engine: Engine): Promise<void> {
  await call(() => engine.native.close()).catch(() => undefined);
  await Promise.all(engine.sessions.map((s) => call(() => native.closeSession(s)).catch(() => undefined)));
}

async function closeSessions(s: Sessions): Promise<void> {
  if (s.engine) await closeEngine(s.native, s.engine);
  if (s.syncSession !== undefined) await call(() => s.native.closeSession(s.syncSession!)).catch(() => undefined);
  await s.pool.close();
  await call(() => s.native.closeSession(s.anchor)).catch(() => undefined);
}
