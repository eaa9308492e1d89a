// How a Token is opened: its options, their checks, the login on the anchor session and the
// signing engine's sessions.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { CKF_SESSION, CKU } from './constants';
import { DEFAULTS } from './defaults';
import { invalidArgType, invalidArgValue } from '../errors';
import { Pkcs11Error, PinMismatchError } from './errors';
import type { RecoveryOptions } from './recovery';
import { checkEngineOptions, type EngineOptions, type EngineSettings } from './sign-engine';
import type { NativeModule, NativeTokenInfo } from '../../binding';

export interface TokenOptions {
  /** The user PIN. Kept in a Buffer owned by the Token (zeroed on close), never logged. */
  pin?: string | Uint8Array;
  /** Sessions lent to operations at most at once (default 4), capped by the token's limit. */
  poolSize?: number;
  /** How long an operation may wait for a free session (default 30 s). */
  poolWaitTimeoutMs?: number;
  /** Operations that may wait for a session at once; one more is refused with ERR_QUEUE_FULL (default 10000). */
  poolMaxWaiting?: number;
  /**
   * The signing engine: sessions of its own, one native thread each, taking queued signatures up to
   * `batchSize` at a time. By default it finds the device's capacity itself (an adaptive limit on
   * signatures in flight, from the cores for a local module up to the token's session limit or
   * `maxWorkers` for a network HSM); `workers` fixes it instead. `maxPending` bounds the signatures
   * queued or running: beyond it sign() rejects at once with ERR_QUEUE_FULL. `false`
   * signs through the session pool instead, one libuv work item per signature.
   */
  engine?: false | EngineOptions;
  /** Re-initialisation backoff and a hook for recovery events (see recovery.ts). */
  recovery?: RecoveryOptions;
  /**
   * Open a session for signSync (default false): synchronous signing on the JS thread, for a lone
   * caller on a local module. It blocks the event loop; services should not use it.
   */
  signSync?: boolean;
}

export const RW_SERIAL = CKF_SESSION.RW_SESSION | CKF_SESSION.SERIAL_SESSION;

// Login state belongs to the application (the process), per token: once one Token has logged in,
// C_Login answers CKR_USER_ALREADY_LOGGED_IN without looking at the PIN. So that a wrong PIN is not
// taken for a right one then, each successful login leaves a witness of its PIN (an HMAC under a
// key made for this process; never the PIN) and a later login is checked against it.
const witnessKey = randomBytes(32);
const witnesses = new Map<string, Buffer>();

export async function login(native: NativeModule, slot: bigint, session: bigint, pin: Buffer): Promise<void> {
  const where = `${native.describe().path}\0${slot}`;
  const witness = createHmac('sha256', witnessKey).update(pin).digest();
  try {
    await native.login(session, CKU.USER, pin);
    witnesses.set(where, witness);
  } catch (e) {
    if (!(e instanceof Pkcs11Error && e.ckr === 'CKR_USER_ALREADY_LOGGED_IN')) throw e;
    // Logged in by another Token of this process: with the same PIN, or refused. A login made
    // outside this JS environment (another component, a worker thread) leaves no witness here.
    const known = witnesses.get(where);
    if (known && !timingSafeEqual(known, witness)) throw new PinMismatchError();
  }
}

/**
 * Checks the options (all of them before any login); returns the pool size and the engine's
 * settings, within the token's R/W session limit: one anchor session, the pool, the signSync
 * session and the engine's sessions together.
 */
export function checkTokenOptions(
  options: TokenOptions,
  info: NativeTokenInfo,
): { poolSize: number; engine: EngineSettings | undefined } {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const {
    pin,
    poolSize: requested = DEFAULTS.pool.size,
    poolWaitTimeoutMs: wait = DEFAULTS.pool.waitTimeoutMs,
  } = options;
  if (pin !== undefined && typeof pin !== 'string' && !(pin instanceof Uint8Array)) {
    throw invalidArgType('options.pin', 'a string or Uint8Array', typeof pin);
  }
  if (pin !== undefined) {
    // Outside the token's limits the token would count a failed try (openCryptoki locks after 3).
    // The message names the length only, never the PIN.
    const length = typeof pin === 'string' ? Buffer.byteLength(pin) : pin.length;
    const { minPinLen: min, maxPinLen: max } = info;
    const sane = (n: number) => n > 0 && n < 1 << 16;
    if ((sane(min) && length < min) || (sane(max) && length > max)) {
      throw invalidArgValue(
        'options.pin',
        `a PIN of ${sane(min) ? min : 1} to ${sane(max) ? max : 'any number of'} bytes (the token's limits), by length`,
        length,
      );
    }
  }
  if (typeof requested !== 'number') throw invalidArgType('options.poolSize', 'a number', requested);
  if (!Number.isSafeInteger(requested) || requested < 1) {
    throw invalidArgValue('options.poolSize', 'a positive integer', requested);
  }
  if (typeof wait !== 'number' || !(wait > 0))
    throw invalidArgValue('options.poolWaitTimeoutMs', 'a positive number', wait);
  const maxWaiting = options.poolMaxWaiting;
  if (maxWaiting !== undefined && (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0)) {
    throw invalidArgValue('options.poolMaxWaiting', 'a non-negative integer', maxWaiting);
  }
  if (options.signSync !== undefined && typeof options.signSync !== 'boolean')
    throw invalidArgType('options.signSync', 'a boolean', options.signSync);
  const max = info.maxRwSessionCount;
  const limited = max > 1 && max < Number.MAX_SAFE_INTEGER; // 0 = effectively infinite, ~0 = unknown
  const engineOn = options.engine !== false;
  if (!limited) return { poolSize: requested, engine: checkEngineOptions(options.engine, Infinity) };
  // The anchor and the signSync session first; the engine needs at least one; the pool gets the rest (at most what was asked).
  const left = max - 1 - (options.signSync ? 1 : 0);
  const poolSize = Math.max(1, Math.min(requested, left - (engineOn ? 1 : 0)));
  return { poolSize, engine: checkEngineOptions(options.engine, left - poolSize) };
}
