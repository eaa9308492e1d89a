// A per-set cache of loads in flight or done: one load per set at a time, a failed load is not
// kept, a write drops the set (the next get waits for a fresh load), and a value older than
// `ttlMs` is served while a fresh load runs in the background (so readers never wait for it).
export class SetCache<T> {
  readonly #loads = new Map<string, { value: Promise<T>; loadedAt: number; refreshing?: boolean }>();
  constructor(
    private readonly load: (set: string) => Promise<T>,
    private readonly ttlMs = Infinity,
    private readonly clock: () => number = Date.now,
  ) {}

  get(set: string): Promise<T> {
    const entry = this.#loads.get(set);
    if (!entry) return this.#start(set);
    if (!entry.refreshing && this.clock() - entry.loadedAt >= this.ttlMs) {
      entry.refreshing = true;
      const next = this.load(set);
      next.then(
        () => {
          if (this.#loads.get(set) === entry) this.#loads.set(set, { value: next, loadedAt: this.clock() });
        },
        () => {
          if (this.#loads.get(set) === entry) entry.refreshing = false; // keep serving the old value; try again later
        },
      );
    }
    return entry.value;
  }

  drop(set: string): void {
    this.#loads.delete(set);
  }

  clear(): void {
    this.#loads.clear();
  }

  #start(set: string): Promise<T> {
    const value = this.load(set);
    const entry = { value, loadedAt: this.clock() };
    this.#loads.set(set, entry);
    value.catch(() => {
      if (this.#loads.get(set) === entry) this.#loads.delete(set);
    });
    return value;
  }
}
