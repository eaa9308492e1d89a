// What a Token does when the token misbehaves, and how it reports it. The policy:
//   session lost      -> the pool evicts the session; the signing engine gets new sessions
//   login lost        -> log in again on the anchor session (never after a wrong PIN)
//   stale object      -> look the key up again by CKA_ID
//   device gone       -> C_Finalize + C_Initialize with bounded exponential backoff, then new
//                        sessions, a new login, and every key looked up again
// then an idempotent operation (sign, find, read attributes, verify, decrypt, random) is retried
// once. Key generation and destruction are never retried.
import { DEFAULTS } from './defaults';
import {
  ClosedError,
  invalidArgType,
  invalidArgValue,
  ModuleBusyError,
  ModuleReinitializedError,
  Pkcs11Error,
} from './errors';

export type RecoveryEventKind =
  | 'relogin'
  | 'engine-replaced'
  | 'reinitialized'
  | 'reinitialize-failed'
  | 'key-found-again'
  | 'retry'
  /** A login was refused for its PIN: no login is tried until resumeLogins(). */
  | 'login-refused'
  /** An operator asked for a login again (resumeLogins). */
  | 'login-resumed'
  /** Reconnection failed: the token is unavailable and reconnects in the background. */
  | 'token-unavailable'
  /** The background reconnection succeeded. */
  | 'token-back';

/** One recovery step, for logs and metrics. Never holds a PIN or key material. */
export interface RecoveryEvent {
  kind: RecoveryEventKind;
  /** The code of the error that caused it, e.g. `ERR_PKCS11_DEVICE_REMOVED`. */
  cause?: string;
  /** Re-initialisation attempt, from 1. */
  attempt?: number;
}

export interface RecoveryOptions {
  /** Re-initialisation attempts after the device went away before giving up (default 5). */
  reinitAttempts?: number;
  /** Wait before the second attempt, doubled for each next one (default 100 ms)... */
  backoffMs?: number;
  /** ...up to this (default 2000 ms). */
  maxBackoffMs?: number;
  /**
   * How long a re-initialisation waits for the calls in flight to end (default 10000 ms): past
   * it (a hung device) the attempt fails with ERR_MODULE_BUSY and nothing is finalized under them.
   */
  drainTimeoutMs?: number;
  /**
   * While the token is unavailable (every re-initialisation attempt failed), how often the
   * background reconnection tries again (default 1000 ms).
   */
  reconnectMs?: number;
  /** Called for every recovery step (from the event loop; exceptions are ignored). */
  onEvent?: (event: RecoveryEvent) => void;
}

export interface RecoveryCounters {
  relogins: number;
  engineReplacements: number;
  reinitializations: number;
  /** Keys looked up again by CKA_ID (after a re-initialisation or a stale handle). */
  keyLookups: number;
  retries: number;
}

export interface Backoff {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  drainTimeoutMs: number;
  reconnectMs: number;
}

export function checkRecoveryOptions(options: RecoveryOptions | undefined): Backoff {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw invalidArgType('options.recovery', 'an object', options);
  const d = DEFAULTS.recovery;
  const {
    reinitAttempts = d.reinitAttempts,
    backoffMs = d.backoffMs,
    maxBackoffMs = d.maxBackoffMs,
    drainTimeoutMs = d.drainTimeoutMs,
    reconnectMs = d.reconnectMs,
    onEvent,
  } = options ?? {};
  if (!Number.isSafeInteger(reinitAttempts) || reinitAttempts < 1 || reinitAttempts > 100) {
    throw invalidArgValue('options.recovery.reinitAttempts', 'an integer from 1 to 100', reinitAttempts);
  }
  for (const [name, v] of [
    ['backoffMs', backoffMs],
    ['maxBackoffMs', maxBackoffMs],
    ['drainTimeoutMs', drainTimeoutMs],
    ['reconnectMs', reconnectMs],
  ] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 60_000))
      throw invalidArgValue(`options.recovery.${name}`, 'a number from 0 to 60000', v);
  }
  if (onEvent !== undefined && typeof onEvent !== 'function')
    throw invalidArgType('options.recovery.onEvent', 'a function', onEvent);
  if (!(reconnectMs >= 10))
    throw invalidArgValue('options.recovery.reconnectMs', 'a number from 10 to 60000', reconnectMs);
  return { attempts: reinitAttempts, backoffMs, maxBackoffMs, drainTimeoutMs: Math.round(drainTimeoutMs), reconnectMs };
}

/** What a failed operation needs before it can be tried again, or undefined when nothing helps. */
export type Remedy = 'relogin' | 'new-engine' | 'retry-only' | 'reinitialize' | 'find-key-again';

export function remedyFor(error: unknown, onEngine: boolean): Remedy | undefined {
  if (error instanceof ModuleReinitializedError) return 'reinitialize'; // another Token did it: adopt
  if (!(error instanceof Pkcs11Error)) return undefined;
  switch (error.category) {
    case 'login-needed':
      return 'relogin';
    case 'session-lost':
      return onEngine ? 'new-engine' : 'retry-only'; // the pool has evicted the session already
    case 'device-gone':
      return 'reinitialize';
    case 'object-stale':
      return 'find-key-again';
    default:
      return undefined;
  }
}

/** Whether a failed re-initialisation attempt is worth another try (never after a wrong PIN). */
export function worthRetrying(e: unknown): boolean {
  if (e instanceof ClosedError) return false;
  if (e instanceof ModuleReinitializedError || e instanceof ModuleBusyError) return true;
  return (
    e instanceof Pkcs11Error &&
    (e.category === 'device-gone' || e.category === 'session-lost' || e.category === 'fatal')
  );
}

export function emit(onEvent: RecoveryOptions['onEvent'], event: RecoveryEvent): void {
  if (!onEvent) return;
  try {
    onEvent(event);
  } catch {
    // a logging hook must not break recovery
  }
}

export function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}
