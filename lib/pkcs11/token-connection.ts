// A Token's live connection to its token: the anchor session that holds the login, the session
// pool, the signing engine and the signSync session, all of one module generation (`generation`), and
// the recovery that replaces them (see recovery.ts for the policy). The Token decides what an
// operation is; this decides what to do when the token fails under it.
import { setTimeout as sleep } from 'node:timers/promises';

import {
  ClosedError,
  KeyGoneError,
  type LoginRefusedError,
  ModuleNotOwnedError,
  Pkcs11Error,
  PinMismatchError,
  TokenNotFoundError,
  type TokenUnavailableError,
  quietly,
} from './errors';
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
import { closeSessions, openSessions, type Generation, type LogIn, type Sizes } from './generation';
import { Engine } from './sign-engine';
import { PROBE_INTERVAL_MS, TokenProbe } from './token-probe';
import { login, RW_SERIAL, type TokenOptions } from './token-setup';
import { isPinFailure, TokenState, type TokenHealth } from './token-state';
import type { NativeModule, NativeTokenInfo } from '../../binding';

export type { Generation, Sizes };

/** Finds the token again by the selector it was opened with (after a re-initialisation it may sit in another slot). */
export type TokenResolver = (native: NativeModule) => Promise<{ slot: bigint; info: NativeTokenInfo }>;

/** Where a failed operation ran, so recovery knows what it used. */
export interface Attempt {
  /** The connection generation the operation started in. */
  generation: number;
  /** The engine it was queued on, when it ran there. */
  engine?: Engine;
  /** Re-resolves the operation's key (remedy for a stale object handle); false when it is gone. */
  findKeyAgain?: () => Promise<boolean>;
  /** The key's CKA_ID, for ERR_KEY_GONE when it cannot be found again. */
  keyId?: Buffer;
}

export class TokenConnection {
  #slot: bigint;
  #info: NativeTokenInfo;
  readonly #resolve: TokenResolver;
  #sessions: Generation;
  #pin: Buffer | undefined;
  /** Old generations being dropped in the background; close() waits for them. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #options: TokenOptions;
  readonly #sizes: Sizes;
  readonly #backoff: Backoff;
  readonly #onEvent: RecoveryOptions['onEvent'];
  readonly counters: RecoveryCounters = {
    relogins: 0,
    engineReplacements: 0,
    reinitializations: 0,
    keyLookups: 0,
    retries: 0,
  };
  #relogging: Promise<void> | undefined;
  #replacing: Promise<void> | undefined;
  #resyncing: Promise<void> | undefined;
  #closed = false;
  /** Refused logins, an unavailable token, the last answer: what requests and probes read without a call. */
  readonly state = new TokenState();
  #reconnectTimer: NodeJS.Timeout | undefined;
  readonly #probe = new TokenProbe({
    ask: () => this.#sessions.native.getTokenInfo(this.#slot),
    serial: () => this.#info.serialNumber,
    mayAsk: () => !this.#closed && !this.state.down && !this.state.refused && !this.#resyncing,
    answered: () => this.state.answered(),
    gone: (cause) => void this.#goDown(cause),
  });
  /** A NativeModule made by a failed reconnection attempt: the basis of the next one. */
  #spare: NativeModule | undefined;

  /** Opens the sessions on `native` (a NativeModule of the Token's own, closed with it) and logs in. */
  static async open(
    native: NativeModule,
    found: { slot: bigint; info: NativeTokenInfo },
    resolve: TokenResolver,
    pin: Buffer | undefined,
    options: TokenOptions,
    sizes: Sizes,
  ): Promise<TokenConnection> {
    const backoff = checkRecoveryOptions(options.recovery);
    // The first login answers with the token's own error (a wrong PIN at start is the operator's to fix).
    const logIn: LogIn | undefined = pin && ((n, slot, anchor) => login(n, slot, anchor, pin));
    const sessions = await openSessions(native, 0, found.slot, logIn, options, sizes);
    const c = new TokenConnection(found, resolve, pin, options, sizes, backoff, sessions);
    if (pin) c.state.logins++;
    return c;
  }

  private constructor(
    found: { slot: bigint; info: NativeTokenInfo },
    resolve: TokenResolver,
    pin: Buffer | undefined,
    options: TokenOptions,
    sizes: Sizes,
    backoff: Backoff,
    sessions: Generation,
  ) {
    this.#slot = found.slot;
    this.#info = found.info;
    this.#resolve = resolve;
    this.#pin = pin;
    this.#options = options;
    this.#sizes = sizes;
    this.#backoff = backoff;
    this.#onEvent = options.recovery?.onEvent;
    this.#sessions = sessions;
  }

  /** The slot the token is in now (it may move when the token comes back). */
  get slot(): bigint {
    return this.#slot;
  }

  /** The token's info as read when it was (re)connected. */
  get info(): Readonly<NativeTokenInfo> {
    return this.#info;
  }

  /** The current generation's module and sessions: take it once per operation attempt. */
  get current(): Readonly<Generation> {
    return this.#sessions;
  }

  /**
   * After `error` failed an operation: makes the connection usable again, then runs `retry` once
   * (no retry: recovers, then throws `error`). What cannot be recovered throws the typed error.
   */
  async recover<T>(error: unknown, attempt: Attempt, retry?: () => Promise<T>): Promise<T> {
    const e = error;
    if (this.#closed) throw e;
    const stop = this.state.failure(); // refused or unavailable meanwhile: say so, touch nothing
    if (stop) throw stop;
    if (attempt.generation !== this.#sessions.generation) return this.#retry(e, retry); // recovered meanwhile: its handles were old
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
        // Not the same key any more (destroyed, or another key under its id): say so, typed.
        if (!attempt.findKeyAgain || !(await attempt.findKeyAgain()))
          throw await this.unlessGone(attempt.keyId ? new KeyGoneError(attempt.keyId.toString('hex')) : e);
        break;
      default:
        throw e instanceof Pkcs11Error && e.category === 'fatal' ? await this.unlessGone(e) : e;
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

  /**
   * A login for recovery: never with a PIN the token refused (no C_Login at all until an operator
   * acts), and a PIN failure puts the connection in the login-refused state.
   */
  #logIn: LogIn = async (native, slot, anchor) => {
    if (!this.#pin) return;
    if (this.state.refused) throw this.state.failure()!; // refused answers before unavailable
    this.state.logins++;
    try {
      await login(native, slot, anchor, this.#pin);
    } catch (e) {
      if (isPinFailure(e) || e instanceof PinMismatchError) {
        const refused = this.state.refuse(e);
        this.event({ kind: 'login-refused', cause: codeOf(e) });
        throw refused;
      }
      throw e;
    }
  };

  #relogin(cause: unknown): Promise<void> {
    const { native, anchor } = this.#sessions;
    this.#relogging ??= this.#logIn(native, this.slot, anchor)
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
      const fresh = await Engine.open(sessions.native, this.slot, RW_SERIAL, this.#sizes.engine!);
      if (this.#closed || this.#sessions !== sessions) {
        await fresh.close(); // the token closed or moved on meanwhile
        return;
      }
      sessions.engine = fresh;
      this.counters.engineReplacements++;
      this.event({ kind: 'engine-replaced', cause: codeOf(cause) });
      await broken.close();
    })().finally(() => (this.#replacing = undefined));
    return this.#replacing;
  }

  /**
   * The device went away (or another Token re-initialised the module): re-initialise it, find the
   * token again by its selector, replace every session and log in again, with bounded exponential
   * backoff. One at a time: concurrent failures wait for the same attempt. When every attempt
   * failed because the token is not there, the connection is unavailable (requests fail at once
   * with ERR_TOKEN_UNAVAILABLE) and reconnects in the background. A refused PIN is never tried twice.
   */
  #resync(cause: unknown): Promise<void> {
    this.#resyncing ??= this.#resyncWithBackoff(cause).finally(() => (this.#resyncing = undefined));
    return this.#resyncing;
  }

  async #resyncWithBackoff(cause: unknown): Promise<void> {
    const { attempts, backoffMs, maxBackoffMs } = this.#backoff;
    let delay = backoffMs;
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw cause;
      try {
        await this.#reconnect(cause, attempt);
        return;
      } catch (e) {
        if (e instanceof ModuleNotOwnedError) throw cause;
        if (!worthRetrying(e) && !(e instanceof TokenNotFoundError)) throw e;
        if (attempt >= attempts) throw this.#goDown(cause instanceof Pkcs11Error ? cause : e);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, maxBackoffMs);
    }
  }

  /**
   * One attempt: re-initialise the module (unless it moved past the generation in use), find the
   * token by its selector, open a complete set of sessions on it and log in, then swap them in.
   */
  async #reconnect(cause: unknown, attempt: number): Promise<void> {
    // The NativeModule of the newest generation: the current sessions' one, or the one the last
    // failed attempt made. Re-initialising it re-initialises the module unless someone else has
    // moved it on meanwhile (then we adopt that generation).
    const basis = this.#spare ?? this.#sessions.native;
    let fresh: NativeModule;
    try {
      await basis.reinitialize({ drainTimeoutMs: this.#backoff.drainTimeoutMs });
      fresh = await basis.share();
    } catch (e) {
      this.event({ kind: 'reinitialize-failed', cause: codeOf(e), attempt });
      throw e;
    }
    if (basis === this.#spare) void quietly(() => basis.close());
    this.#spare = undefined;
    try {
      const found = await this.#resolve(fresh);
      await this.#replaceSessions(fresh, found.slot);
      this.#slot = found.slot;
      this.#info = found.info;
    } catch (e) {
      this.event({ kind: 'reinitialize-failed', cause: codeOf(e), attempt });
      this.#spare = fresh; // the next attempt re-initialises from here (a token that is not there yet may appear then)
      throw e;
    }
    this.counters.reinitializations++;
    this.state.up();
    this.#probe.answered();
    this.event({ kind: 'reinitialized', cause: codeOf(cause), attempt });
  }

  /** Marks the token unavailable and starts reconnecting in the background; returns the error to answer with. */
  #goDown(cause: unknown): TokenUnavailableError | LoginRefusedError {
    if (this.state.goDown(codeOf(cause))) {
      this.event({ kind: 'token-unavailable', cause: codeOf(cause) });
      this.#scheduleReconnect();
    }
    return this.state.failure()!;
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closed || !this.state.down || this.state.refused) return;
      this.#resyncing ??= this.#reconnect(undefined, 0).finally(() => (this.#resyncing = undefined));
      this.#resyncing.then(
        () => this.event({ kind: 'token-back' }),
        () => this.#scheduleReconnect(), // still gone (a refused login stops here: the state says so)
      );
    }, this.#backoff.reconnectMs);
    this.#reconnectTimer.unref();
  }

  /**
   * After a failure that may mean the token is gone (a key or object not found, a general error):
   * asks the token (C_GetTokenInfo). Returns `e` when the token is there; the unavailable error
   * (and reconnection) when it is not or is another token now.
   */
  async unlessGone(e: unknown): Promise<unknown> {
    await this.probe(0, true);
    return this.state.failure() ?? e;
  }

  /**
   * Asks the token whether it is still there, at most once per `maxAgeMs` (token-probe.ts). With
   * `wait`, returns the health after the answer; without, the health known now, the question
   * running in the background (a readiness probe never waits for the token).
   */
  async probe(maxAgeMs = PROBE_INTERVAL_MS, wait = false): Promise<TokenHealth> {
    await this.#probe.run(maxAgeMs, wait);
    return this.state.health();
  }

  /**
   * An operator's act after a refused login: with `pin`, the PIN to use from now on. When logins
   * were refused, the module is initialised again and one login is tried; it resolves when the
   * token is usable, or throws ERR_LOGIN_REFUSED again. Without a refusal it only keeps the PIN.
   */
  async resumeLogins(pin?: Buffer): Promise<void> {
    if (this.#closed) throw new ClosedError('the token');
    if (pin) {
      this.#pin?.fill(0);
      this.#pin = pin;
    }
    await this.#resyncing?.catch(() => undefined);
    if (!this.state.refused) return;
    this.state.allowLogin();
    this.event({ kind: 'login-resumed' });
    this.#resyncing ??= this.#reconnect('ERR_LOGIN_REFUSED', 0).finally(() => (this.#resyncing = undefined));
    try {
      await this.#resyncing;
    } catch (e) {
      if (!this.state.refused) throw this.#goDown(e); // the PIN was not the problem this time: reconnect in the background
      throw e;
    }
  }

  /** Opens a complete set of sessions on `native`, then swaps it in; the old set is dropped in the background. */
  async #replaceSessions(native: NativeModule, slot: bigint): Promise<void> {
    const old = this.#sessions;
    const fresh = await openSessions(native, old.generation + 1, slot, this.#logIn, this.#options, this.#sizes);
    if (this.#closed) {
      await closeSessions(fresh);
      throw new ClosedError('the token');
    }
    this.#sessions = fresh;
    // The old handles belong to the previous generation: its NativeModule refuses them, so closing
    // them is bookkeeping (the pool waits for its operations, which fail at once).
    const retired = closeSessions(old).then(() => quietly(() => old.native.close()));
    this.#retiring.add(retired);
    void retired.finally(() => this.#retiring.delete(retired));
  }

  /**
   * Waits for operations in flight, closes every session (which ends the login), forgets the PIN
   * and closes the Token's NativeModules.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.state.close();
    clearTimeout(this.#reconnectTimer);
    try {
      await this.#resyncing?.catch(() => undefined);
      const last = this.#sessions;
      await closeSessions(last);
      await Promise.all(this.#retiring);
      await quietly(() => last.native.close());
      if (this.#spare) await quietly(() => this.#spare!.close());
    } finally {
      this.#pin?.fill(0);
      this.#pin = undefined;
    }
  }
}
