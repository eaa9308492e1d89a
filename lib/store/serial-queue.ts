// One queue of work per SQLite file in this process. better-sqlite3 is synchronous: a connection
// that meets another connection's write lock waits (busy_timeout) on the JS thread itself. When
// that other connection is in this process, mid-transaction between two awaits, it can never
// commit while we wait: the wait would always end in SQLITE_BUSY. So every connection to one file
// in a process takes its turn in the same queue; other processes are waited for as usual.

export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after everything queued before it; a failure does not stop what follows. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once everything queued so far has finished. */
  async drain(): Promise<void> {
    await this.#tail;
  }
}

const shared = new Map<string, { queue: SerialQueue; users: number }>();

/** The queue of the file at `path` (resolved), or a queue of its own for an in-memory database. */
export function queueFor(path: string | undefined): { queue: SerialQueue; release: () => void } {
  if (path === undefined) return { queue: new SerialQueue(), release: () => undefined };
  let entry = shared.get(path);
  if (!entry) {
    entry = { queue: new SerialQueue(), users: 0 };
    shared.set(path, entry);
  }
  entry.users++;
  let released = false;
  return {
    queue: entry.queue,
    release: () => {
      if (released) return;
      released = true;
      if (--entry.users === 0) shared.delete(path);
    },
  };
}
