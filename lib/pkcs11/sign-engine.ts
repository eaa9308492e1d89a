// The signing engine as a Token uses it: the native engine (worker threads, one session each) and
// the governor that sizes it. By default the concurrency limit adapts (concurrency-limit.ts): every
// 100 ms the engine's figures are read, the limit is set, sessions are opened when the limit
// outgrows the workers, and workers the limit has not needed for 30 s are retired and their
// sessions closed. `engine: { workers: n }` fixes the engine at n workers instead.
import { availableParallelism } from 'node:os';

import { ConcurrencyLimit, type LimitState } from './concurrency-limit';
import { DEFAULTS } from './defaults';
import { invalidArgType, invalidArgValue, quietly } from './errors';
import type { NativeModule, NativeSignEngine, NativeSignEngineStats } from '../../binding';

export interface EngineOptions {
  /** A fixed number of workers (no adaptation). Default: adaptive. */
  workers?: number;
  /** The most workers (and sessions) the adaptive engine may use (default 256, within the token's session limit). */
  maxWorkers?: number;
  /** Signatures a worker takes from the queue at once (default 16). */
  batchSize?: number;
  /** Signatures queued or running at most; beyond it sign() rejects with ERR_QUEUE_FULL (default 65536). */
  maxPending?: number;
}

export interface EngineSettings {
  fixed: boolean;
  /** Workers at start. */
  initial: number;
  /** Most workers. */
  max: number;
  batchSize: number;
  maxPending: number;
}

export interface EngineStats extends NativeSignEngineStats {
  /** The adaptive limit's view (absent for a fixed engine). */
  adaptive?: LimitState;
}

const WINDOW_MS = 100;
/** Windows the limit must stay below the worker count before the spare workers are retired (30 s). */
const RELEASE_WINDOWS = 300;
/** Sessions opened at once when growing (a network HSM answers each C_OpenSession in a round trip). */
const OPEN_PARALLEL = 16;

/**
 * Checks the engine options (before any login) against the sessions the token leaves for the
 * engine (`budget`); undefined when the engine is off.
 */
export function checkEngineOptions(
  options: false | EngineOptions | undefined,
  budget: number,
): EngineSettings | undefined {
  if (options === false) return undefined;
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw invalidArgType('options.engine', 'false or an object', options);
  const o = options ?? {};
  const int = (name: keyof EngineOptions, lo: number, hi: number, fallback: number): number => {
    const v = o[name] ?? fallback;
    if (typeof v !== 'number') throw invalidArgType(`options.engine.${name}`, 'a number', v);
    if (!Number.isSafeInteger(v) || v < lo || v > hi)
      throw invalidArgValue(`options.engine.${name}`, `an integer from ${lo} to ${hi}`, v);
    return v;
  };
  const batchSize = int('batchSize', 1, 1024, DEFAULTS.engine.batchSize);
  const maxPending = int('maxPending', 1, 1 << 24, DEFAULTS.engine.maxPending);
  const cap = Math.max(1, budget);
  if (o.workers !== undefined) {
    const workers = int('workers', 1, 1024, 1);
    return { fixed: true, initial: Math.min(workers, cap), max: Math.min(workers, cap), batchSize, maxPending };
  }
  const max = Math.min(int('maxWorkers', 1, 1024, DEFAULTS.engine.maxWorkers), cap);
  return { fixed: false, initial: Math.min(availableParallelism(), max), max, batchSize, maxPending };
}

export class Engine {
  readonly native: NativeSignEngine;
  readonly #module: NativeModule;
  readonly #slot: bigint;
  readonly #openFlags: number;
  readonly #sessions: bigint[];
  readonly #limit: ConcurrencyLimit | undefined;
  readonly #initial: number;
  #timer: NodeJS.Timeout | undefined;
  #changing: Promise<void> | undefined;
  #belowWindows = 0;
  #closed = false;

  /** Opens the engine's first sessions and starts it; closes what it opened if anything fails. */
  static async open(module: NativeModule, slot: bigint, flags: number, s: EngineSettings): Promise<Engine> {
    const sessions = await openSessions(module, slot, flags, s.initial);
    try {
      const native = module.createSignEngine(sessions, { batchSize: s.batchSize, maxPending: s.maxPending });
      return new Engine(native, module, slot, flags, sessions, s);
    } catch (e) {
      await closeAll(module, sessions);
      throw e;
    }
  }

  private constructor(
    native: NativeSignEngine,
    module: NativeModule,
    slot: bigint,
    flags: number,
    sessions: bigint[],
    s: EngineSettings,
  ) {
    this.native = native;
    this.#module = module;
    this.#slot = slot;
    this.#openFlags = flags;
    this.#sessions = sessions;
    this.#initial = s.initial;
    if (!s.fixed) {
      this.#limit = new ConcurrencyLimit({ cores: availableParallelism(), max: s.max, initial: s.initial });
      this.#timer = setInterval(() => this.#tick(), WINDOW_MS);
      this.#timer.unref(); // an idle engine does not keep the process alive
    }
  }

  /** The engine's sessions now (they change as it grows and shrinks). */
  get sessions(): readonly bigint[] {
    return this.#sessions;
  }

  stats(): EngineStats {
    const st = this.native.stats();
    return this.#limit ? { ...st, adaptive: this.#limit.state() } : st;
  }

  /** One window: the limit from the figures, then sessions opened or workers retired to follow it. */
  #tick(): void {
    if (this.#closed || !this.#limit) return;
    const st = this.native.stats();
    const want = this.#limit.update(
      { latencyCount: st.signLatencyCount, latencyUsSum: st.signLatencyUsSum, queued: st.queued, running: st.running },
      st.queued + st.running,
    );
    const workers = this.#sessions.length;
    this.#applyLimit(Math.min(want, workers), st.limit);
    this.#belowWindows = want < workers ? this.#belowWindows + 1 : 0;
    if (this.#changing) return;
    if (want > workers) this.#changing = this.#grow(want - workers).finally(() => (this.#changing = undefined));
    else if (this.#belowWindows >= RELEASE_WINDOWS && workers > this.#initial) {
      this.#belowWindows = 0;
      this.#changing = this.#release(workers - Math.max(want, this.#initial)).finally(
        () => (this.#changing = undefined),
      );
    }
  }

  /** setLimit takes the engine's lock and wakes every parked worker: only when the limit moves. */
  #applyLimit(limit: number, current = this.native.stats().limit): void {
    if (limit !== current) this.native.setLimit(limit);
  }

  async #grow(n: number): Promise<void> {
    let fresh: bigint[] = [];
    try {
      fresh = await openSessions(this.#module, this.#slot, this.#openFlags, n);
      if (this.#closed) throw new Error('closed');
      this.native.addSessions(fresh);
      this.#sessions.push(...fresh);
      this.#applyLimit(Math.min(this.#limit!.limit, this.#sessions.length));
    } catch {
      // The token would not give more sessions (CKR_SESSION_COUNT, a full device): stay at what works.
      await closeAll(this.#module, fresh);
      this.#limit!.cap(this.#sessions.length);
    }
  }

  async #release(n: number): Promise<void> {
    if (n < 1) return;
    const freed = await this.native.retireWorkers(n).catch(() => [] as bigint[]);
    for (const s of freed) this.#sessions.splice(this.#sessions.indexOf(s), 1);
    await closeAll(this.#module, freed);
  }

  /** Queued signatures are rejected (ERR_CLOSED), running batches finish, threads end, sessions close. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#changing?.catch(() => undefined);
    await quietly(() => this.native.close());
    await closeAll(this.#module, this.#sessions);
  }
}

async function openSessions(module: NativeModule, slot: bigint, flags: number, n: number): Promise<bigint[]> {
  const opened: bigint[] = [];
  try {
    while (opened.length < n) {
      const batch = Math.min(OPEN_PARALLEL, n - opened.length);
      const settled = await Promise.allSettled(
        Array.from({ length: batch }, async () => module.openSession(slot, flags)),
      );
      for (const r of settled) if (r.status === 'fulfilled') opened.push(r.value);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    return opened;
  } catch (e) {
    await closeAll(module, opened);
    throw e;
  }
}

async function closeAll(module: NativeModule, sessions: readonly bigint[]): Promise<void> {
  await Promise.all(sessions.map((s) => quietly(() => module.closeSession(s))));
}
