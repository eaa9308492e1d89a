// What a TokenConnection knows about its token between calls, so that requests can fail at once
// (without a call to the token) and a readiness probe can answer without scanning anything:
//   ready          the token answered its last call or probe
//   unavailable    the device or token went away; reconnection runs in the background
//   login-refused  a login was refused for its PIN; no login is tried until an operator acts
//   closed         the Token was closed
import { LoginRefusedError, Pkcs11Error, type PinMismatchError, TokenUnavailableError } from './errors';

export type TokenStateName = 'ready' | 'unavailable' | 'login-refused' | 'closed';

/** The token's state as the token layer last saw it (no call is made to read it). */
export interface TokenHealth {
  state: TokenStateName;
  /** When the state began (ms since the epoch); undefined while ready since open. */
  since?: number;
  /** The code that caused an unavailable or login-refused state. */
  cause?: string;
  /** When the token last answered a probe or a recovery step (ms since the epoch). */
  lastAnswerAt: number;
  /** C_Login calls made since the Token was opened (the first at open included). */
  logins: number;
}

const PIN_FAILURES = new Set([
  'CKR_PIN_INCORRECT',
  'CKR_PIN_LOCKED',
  'CKR_PIN_EXPIRED',
  'CKR_PIN_LEN_RANGE',
  'CKR_PIN_INVALID',
]);

/** Whether a login failed because of the PIN itself: trying it again would only count another failure. */
export function isPinFailure(e: unknown): e is Pkcs11Error {
  return e instanceof Pkcs11Error && PIN_FAILURES.has(e.ckr);
}

export class TokenState {
  #refused: { ckr: string; since: number } | undefined;
  #down: { cause: string | undefined; since: number } | undefined;
  #closed = false;
  lastAnswerAt = Date.now();
  logins = 0;

  /** Throws the typed error for a state in which nothing may reach the token; cheap (the hot path calls it). */
  check(): void {
    const f = this.failure();
    if (f) throw f;
  }

  /** The error to answer with instead of a failure seen while refused or unavailable; undefined when ready. */
  failure(): LoginRefusedError | TokenUnavailableError | undefined {
    if (this.#refused) return new LoginRefusedError(this.#refused.ckr);
    if (this.#down) return new TokenUnavailableError(this.#down.cause, this.#down.since);
    return undefined;
  }

  get refused(): boolean {
    return this.#refused !== undefined;
  }

  get down(): boolean {
    return this.#down !== undefined;
  }

  refuse(e: Pkcs11Error | PinMismatchError): LoginRefusedError {
    const ckr = e instanceof Pkcs11Error ? e.ckr : e.code; // ERR_PIN_MISMATCH: refused here, before the token
    this.#refused ??= { ckr, since: Date.now() };
    return new LoginRefusedError(ckr);
  }

  /** An operator acted: the next login may be tried (once). */
  allowLogin(): void {
    this.#refused = undefined;
  }

  /** Marks the token unavailable; returns false when it already was. */
  goDown(cause: string | undefined): boolean {
    if (this.#down) return false;
    this.#down = { cause, since: Date.now() };
    return true;
  }

  answered(): void {
    this.lastAnswerAt = Date.now();
  }

  /** The token is back (sessions and login replaced). */
  up(): void {
    this.#down = undefined;
    this.answered();
  }

  close(): void {
    this.#closed = true;
  }

  health(): TokenHealth {
    const base = { lastAnswerAt: this.lastAnswerAt, logins: this.logins };
    if (this.#closed) return { state: 'closed', ...base };
    if (this.#refused) return { state: 'login-refused', since: this.#refused.since, cause: this.#refused.ckr, ...base };
    if (this.#down)
      return {
        state: 'unavailable',
        since: this.#down.since,
        ...(this.#down.cause ? { cause: this.#down.cause } : {}),
        ...base,
      };
    return { state: 'ready', ...base };
  }
}
