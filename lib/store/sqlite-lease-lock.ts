// A lock shared by every process using one SQLite file: a lease row in store_locks (name, owner,
// expires_at). It is taken in an IMMEDIATE transaction when absent or expired, renewed every
// ttl/3 while the holder runs, and deleted after. A holder killed with SIGKILL cannot release it:
// its lease expires after the ttl and a waiter takes it. Waiters poll with a growing backoff,
// reading first (no write lock) and writing only when the lease looks free. Taking the lease meets
// a store busy with another process's write like any write does: ERR_STORE_BUSY after busyTimeoutMs
// (not after the lock's timeout: the caller is told at once that the store, not the lock, is busy).
// Clocks: expiry compares Date.now() of the processes, which share one host's clock.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import type { SqlRunner, Tx } from './dialect';
import { StoreError } from './errors';
import { int } from './row-fields';

export interface LeaseDb extends SqlRunner {
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

export interface LeaseOptions {
  ttlMs: number;
  timeoutMs: number;
}

const FIRST_WAIT_MS = 5;
const MAX_WAIT_MS = 200;

/**
 * Runs `fn` holding the lease `name`. A holder whose event loop stalls for longer than the ttl
 * may lose the lease to a waiter; fn is not interrupted (nothing can stop it safely), and the
 * release then deletes nothing.
 */
export async function withLease<T>(db: LeaseDb, name: string, fn: () => Promise<T>, options: LeaseOptions): Promise<T> {
  const owner = randomUUID();
  await acquire(db, name, owner, options);
  let renewing = false;
  const renew = setInterval(
    () => {
      if (renewing) return;
      renewing = true;
      db.run('UPDATE store_locks SET expires_at = ? WHERE name = ? AND owner = ?', [
        Date.now() + options.ttlMs,
        name,
        owner,
      ])
        .catch(() => 0) // busy or closed: the next renewal tries again, well before expiry
        .finally(() => (renewing = false));
    },
    Math.max(1, Math.floor(options.ttlMs / 3)),
  );
  renew.unref(); // fn's own work keeps the process alive, not the lease
  try {
    return await fn();
  } finally {
    clearInterval(renew);
    // When this fails (store closed meanwhile), the lease expires after the ttl.
    await db.run('DELETE FROM store_locks WHERE name = ? AND owner = ?', [name, owner]).catch(() => 0);
  }
}

async function acquire(db: LeaseDb, name: string, owner: string, { ttlMs, timeoutMs }: LeaseOptions): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wait = FIRST_WAIT_MS;
  for (;;) {
    const [held] = await db.all<{ expires_at: unknown }>('SELECT expires_at FROM store_locks WHERE name = ?', [name]);
    if (!held || int(held.expires_at) <= Date.now()) {
      const taken = await db.transaction(async (tx) => {
        const now = Date.now();
        // Inserts a free lease, or takes over an expired one; a live lease of another owner stays.
        const changed = await tx.run(
          `INSERT INTO store_locks (name, owner, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE store_locks.expires_at <= ?`,
          [name, owner, now + ttlMs, now],
        );
        return changed > 0;
      });
      if (taken) return;
    }
    const left = deadline - Date.now();
    if (left <= 0)
      throw new StoreError(
        'ERR_STORE_LOCK_TIMEOUT',
        `waited ${timeoutMs} ms for the store lock ${JSON.stringify(name)}`,
      );
    await sleep(Math.min(left, wait + Math.random() * wait));
    wait = Math.min(2 * wait, MAX_WAIT_MS);
  }
}
