// Queues of work per SQLite file in this process. better-sqlite3 is synchronous, and a transaction
// whose function awaits between statements holds the connection across those awaits: no other
// caller's statement may run inside it. So every use of a connection to one file in a process
// takes its turn in one queue (`turns`), shared by every connection to the file: a connection that
// met the write lock of another connection of this process, mid-transaction between two awaits,
// could only wait in vain. Transactions also keep their order among themselves (`writes`) across
// their busy waits (sqlite-busy.ts), while reads take turns in between.

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

export interface FileQueues {
  /** One use of the connection at a time: a statement, or a transaction from BEGIN to its end. */
  turns: SerialQueue;
  /** Transactions in the order they were asked for, each until it ends (its busy waits included). */
  writes: SerialQueue;
  /** Called once when the connection is closed. */
  release: () => void;
}

const shared = new Map<string, { turns: SerialQueue; writes: SerialQueue; users: number }>();

/** The queues of the file at `path` (resolved), or queues of its own for an in-memory database. */
export function queueFor(path: string | undefined): FileQueues {
  if (path === undefined) return { turns: new SerialQueue(), writes: new SerialQueue(), release: () => undefined };
  let entry = shared.get(path);
  if (!entry) {
    entry = { turns: new SerialQueue(), writes: new SerialQueue(), users: 0 };
    shared.set(path, entry);
  }
  entry.users++;
  let released = false;
  const { turns, writes } = entry;
  return {
    turns,
    writes,
    release: () => {
      if (released) return;
      released = true;
      if (--entry.users === 0) shared.delete(path);
    },
  };
}
