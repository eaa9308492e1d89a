// How a Token is opened: its options, their checks, the login on the anchor session and the
// signing engine's sessions.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';

import { CKF_SESSION, CKU } from './constants';
import { call, invalidArgType, invalidArgValue, Pkcs11Error, PinMismatchError } from './errors';
import type { RecoveryOptions } from './recovery';
import type { NativeModule, NativeSignEngine, NativeTokenInfo } from '../../binding';

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
   * The signing engine: `workers` sessions of its own, one native thread each, taking queued
   * signatures up to `batchSize` at a time (defaults: one worker per CPU core up to poolSize,
   * batches of 16; raise `workers` for a network HSM). `maxPending` (default 65536) bounds the
   * signatures queued or running: beyond it sign() rejects at once with ERR_QUEUE_FULL. `false`
   * signs through the session pool instead, one libuv work item per signature.
   */
  engine?: false | { workers?: number; batchSize?: number; maxPending?: number };
  /** Re-initialisation backoff and a hook for recovery events (see recovery.ts). */
  recovery?: RecoveryOptions;
  /**
   * Open a session for signSync (default false): synchronous signing on the JS thread, for a lone
   * caller on a local module. It blocks the event loop; services should not use it.
   */
  signSync?: boolean;
}

export const DEFAULT_POOL_SIZE = 4;
export const DEFAULT_WAIT_MS = 30_000;
export const RW_SERIAL = CKF_SESSION.RW_SESSION | CKF_SESSION.SERIAL_SESSION;

export interface Engine {
  native: NativeSignEngine;
  sessions: bigint[];
}

/** Opens the engine's sessions and starts it; closes what it opened if anything fails. */
export async function openEngine(
  native: NativeModule,
  slot: bigint,
  options: TokenOptions['engine'],
  poolSize: number,
): Promise<Engine | undefined> {
  if (options === false) return undefined;
  // Default: one worker per core (measured best for a CPU-bound module such as SoftHSM; a network
  // HSM, bound by latency, wants more: set engine.workers), never more than poolSize.
  const workers = options?.workers ?? Math.max(1, Math.min(poolSize, availableParallelism()));
  const batchSize = options?.batchSize ?? 16;
  const maxPending = options?.maxPending ?? 65536;
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > 256) throw invalidArgValue('options.engine.workers', 'an integer from 1 to 256', workers);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 1024) throw invalidArgValue('options.engine.batchSize', 'an integer from 1 to 1024', batchSize);
  if (!Number.isSafeInteger(maxPending) || maxPending < 1 || maxPending > 1 << 24) throw invalidArgValue('options.engine.maxPending', 'an integer from 1 to 16777216', maxPending);
  const sessions: bigint[] = [];
  try {
    for (let i = 0; i < workers; i++) sessions.push(await call(() => native.openSession(slot, RW_SERIAL)));
    return { native: native.createSignEngine(sessions, { batchSize, maxPending }), sessions };
  } catch (e) {
    await Promise.all(sessions.map((s) => call(() => native.closeSession(s)).catch(() => undefined)));
    throw e;
  }
}

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
    await call(() => native.login(session, CKU.USER, pin));
    witnesses.set(where, witness);
  } catch (e) {
    if (!(e instanceof Pkcs11Error && e.ckr === 'CKR_USER_ALREADY_LOGGED_IN')) throw e;
    // Logged in by another Token of this process: with the same PIN, or refused. A login made
    // outside this JS environment (another component, a worker thread) leaves no witness here.
    const known = witnesses.get(where);
    if (known && !timingSafeEqual(known, witness)) throw new PinMismatchError();
  }
}

/** Checks the options; returns the pool size, capped by the token's R/W session limit. */
export function checkTokenOptions(options: TokenOptions, info: NativeTokenInfo): number {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const { pin, poolSize: requested = DEFAULT_POOL_SIZE, poolWaitTimeoutMs: wait = DEFAULT_WAIT_MS } = options;
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
      throw invalidArgValue('options.pin', `a PIN of ${sane(min) ? min : 1} to ${sane(max) ? max : 'any number of'} bytes (the token's limits), by length`, length);
    }
  }
  if (typeof requested !== 'number') throw invalidArgType('options.poolSize', 'a number', requested);
  if (!Number.isSafeInteger(requested) || requested < 1) {
    throw invalidArgValue('options.poolSize', 'a positive integer', requested);
  }
  if (typeof wait !== 'number' || !(wait > 0)) throw invalidArgValue('options.poolWaitTimeoutMs', 'a positive number', wait);
  const maxWaiting = options.poolMaxWaiting;
  if (maxWaiting !== undefined && (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0)) {
    throw invalidArgValue('options.poolMaxWaiting', 'a non-negative integer', maxWaiting);
  }
  // One session is the anchor; 0 means effectively infinite, ~0 unknown.
  const max = info.maxRwSessionCount;
  const limited = max > 1 && max < Number.MAX_SAFE_INTEGER; // 0 = effectively infinite, ~0 = unknown
  return limited ? Math.max(1, Math.min(requested, max - 1)) : requested;
}
