// Waiting for SQLite's locks without blocking the event loop. better-sqlite3 is synchronous: while
// SQLite's busy handler waits for another connection's lock, the whole JS thread waits with it. So
// the handler waits only a few ms (BUSY_SLICE_MS) and a call that still meets the lock pauses
// asynchronously (a growing, jittered backoff) and tries again, until its deadline; then it fails
// with ERR_STORE_BUSY. Between attempts the connection is free for others (the caller takes a turn
// of the file's queue per attempt, not for the whole wait).
import { setTimeout as sleep } from 'node:timers/promises';

import { storeBusy } from './errors';

/** SQLite's own busy wait per attempt: the longest the event loop can stall on a lock. */
export const BUSY_SLICE_MS = 5;
const FIRST_PAUSE_MS = 5;
const MAX_PAUSE_MS = 100;

/** Whether `e` is SQLite's "database is locked" (SQLITE_BUSY and its extended codes). */
export function isSqliteBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_BUSY(_|$)/.test(code);
}

/**
 * Runs `attempt` (at least once); while it fails with SQLITE_BUSY, pauses and runs it again.
 * Past `deadline` (ms since the epoch) the busy failure becomes ERR_STORE_BUSY, saying it waited
 * `boundMs`. Any other failure is thrown as it is.
 */
export async function whileBusy<T>(deadline: number, boundMs: number, attempt: () => Promise<T>): Promise<T> {
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(2 * pause, MAX_PAUSE_MS)) {
    try {
      return await attempt();
    } catch (e) {
      if (!isSqliteBusy(e)) throw e;
      const left = deadline - Date.now();
      if (left <= 0) throw storeBusy(boundMs, (e as { code?: unknown }).code);
      await sleep(Math.min(left, pause / 2 + Math.random() * pause));
    }
  }
}
