// One module generation's worth of connection: the sessions a Token opens through a NativeModule
// of that generation (the anchor that holds the login, the pool, the signing engine, signSync's
// session), and how they are opened and closed together.
import { quietly } from './errors';
import { SessionPool } from './session-pool';
import { Engine, type EngineSettings } from './sign-engine';
import { DEFAULTS } from './defaults';
import { RW_SERIAL, type TokenOptions } from './token-setup';
import type { NativeModule } from '../../binding';

/** The pool's size and the engine's settings, checked at open (checkTokenOptions). */
export interface Sizes {
  poolSize: number;
  engine: EngineSettings | undefined;
}

/** Logs in on a fresh anchor session (or does nothing without a PIN). */
export type LogIn = (native: NativeModule, slot: bigint, anchor: bigint) => Promise<void>;

/**
 * One module generation's worth of connection: a NativeModule of that generation (its handles are
 * refused once the module is re-initialised) and the sessions opened through it. An operation takes
 * the current one and uses only it, so it never mixes handles of two generations.
 */
export interface Generation {
  native: NativeModule;
  /** +1 each time the sessions are replaced after a re-initialisation. */
  generation: number;
  anchor: bigint;
  pool: SessionPool;
  engine: Engine | undefined;
  syncSession: bigint | undefined;
}

export async function openSessions(
  native: NativeModule,
  generation: number,
  slot: bigint,
  logIn: LogIn | undefined,
  options: TokenOptions,
  { poolSize, engine: engineSettings }: Sizes,
): Promise<Generation> {
  const anchor = await native.openSession(slot, RW_SERIAL);
  let engine: Engine | undefined;
  try {
    if (logIn) await logIn(native, slot, anchor);
    engine = engineSettings && (await Engine.open(native, slot, RW_SERIAL, engineSettings));
    const syncSession = options.signSync ? await native.openSession(slot, RW_SERIAL) : undefined;
    const pool = new SessionPool({
      size: poolSize,
      waitTimeoutMs: options.poolWaitTimeoutMs ?? DEFAULTS.pool.waitTimeoutMs,
      ...(options.poolMaxWaiting === undefined ? {} : { maxWaiting: options.poolMaxWaiting }),
      open: async () => native.openSession(slot, RW_SERIAL),
      close: async (s) => native.closeSession(s),
    });
    return { native, generation, anchor, pool, engine, syncSession };
  } catch (e) {
    if (engine) await engine.close();
    await quietly(() => native.closeSession(anchor));
    throw e;
  }
}

export async function closeSessions(s: Generation): Promise<void> {
  if (s.engine) await s.engine.close();
  if (s.syncSession !== undefined) await quietly(() => s.native.closeSession(s.syncSession!));
  await s.pool.close();
  await quietly(() => s.native.closeSession(s.anchor));
}
