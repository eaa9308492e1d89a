// Change notification across processes and instances. Every write records, in its own
// transaction, a new version of each set it touched (store_changes) and announces it (the
// dialect's notify). A watching store reads the versions whenever its dialect says the database
// may have changed, and calls its listeners for each set whose version differs from what it saw
// last. The baseline is read when the store opens, so a change committed between open and
// watch() is reported too. Own writes are reported like any other (at most once per poll; a
// change may coalesce with the next one, and spurious reports are possible, never missed ones).
import type { SqlRunner, Tx } from './dialect';
import { int } from './row-fields';

/** Inside a write transaction: a new version of `set`, announced on commit. */
export async function recordChange(tx: Tx, set: string): Promise<void> {
  await tx.run(
    `INSERT INTO store_changes (set_name, version) VALUES (?, 1)
     ON CONFLICT (set_name) DO UPDATE SET version = store_changes.version + 1`,
    [set],
  );
  await tx.notify(set);
}

export async function recordChanges(tx: Tx, sets: Iterable<string>): Promise<void> {
  for (const set of new Set(sets)) await recordChange(tx, set);
}

async function readVersions(db: SqlRunner): Promise<Map<string, number>> {
  const rows = await db.all<{ set_name: string; version: unknown }>('SELECT set_name, version FROM store_changes');
  return new Map(rows.map((r) => [r.set_name, int(r.version)]));
}

export class ChangeFeed {
  readonly #db: SqlRunner;
  readonly #start: (poll: () => Promise<void>) => () => void;
  readonly #listeners = new Set<(set: string) => void>();
  #seen: Promise<Map<string, number>> = Promise.resolve(new Map());
  #stop: (() => void) | undefined;
  #polling: Promise<void> | undefined;
  #again = false;

  /** `start(poll)` begins calling poll when the database may have changed, and returns stop(). */
  constructor(db: SqlRunner, start: (poll: () => Promise<void>) => () => void) {
    this.#db = db;
    this.#start = start;
  }

  /** Reads the versions the next poll compares with (call once the schema exists). */
  async baseline(): Promise<void> {
    this.#seen = readVersions(this.#db);
    await this.#seen;
  }

  watch(listener: (set: string) => void): () => void {
    const entry = (set: string) => listener(set); // one entry per call, even for the same listener
    this.#listeners.add(entry);
    this.#stop ??= this.#start(() => this.poll());
    return () => {
      this.#listeners.delete(entry);
      if (this.#listeners.size === 0) this.#halt();
    };
  }

  /** Reads the versions and reports what changed; concurrent calls coalesce into one more read. */
  poll(): Promise<void> {
    if (this.#polling) {
      this.#again = true;
      return this.#polling;
    }
    this.#polling = (async () => {
      do {
        this.#again = false;
        await this.#pollOnce().catch(() => undefined); // closed or disconnected: the next poll tries again
      } while (this.#again && this.#listeners.size > 0);
    })().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  close(): void {
    this.#listeners.clear();
    this.#halt();
  }

  async #pollOnce(): Promise<void> {
    const seen = await this.#seen.catch(() => new Map<string, number>()); // no baseline: report every set once
    const now = await readVersions(this.#db);
    this.#seen = Promise.resolve(now);
    for (const [set, version] of now) {
      if (seen.get(set) === version) continue;
      for (const listener of [...this.#listeners]) {
        try {
          listener(set);
        } catch {
          // A listener's failure is its own; the others and later changes are still reported.
        }
      }
    }
  }

  #halt(): void {
    this.#stop?.();
    this.#stop = undefined;
  }
}
