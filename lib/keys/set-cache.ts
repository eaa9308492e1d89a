// A per-set cache of loads in flight or done: one load per set at a time, a failed load is not
// kept, and a write drops the set.
export class SetCache<T> {
  readonly #loads = new Map<string, Promise<T>>();
  constructor(private readonly load: (set: string) => Promise<T>) {}

  get(set: string): Promise<T> {
    let value = this.#loads.get(set);
    if (!value) {
      value = this.load(set);
      this.#loads.set(set, value);
      value.catch(() => {
        if (this.#loads.get(set) === value) this.#loads.delete(set);
      });
    }
    return value;
  }

  drop(set: string): void {
    this.#loads.delete(set);
  }

  clear(): void {
    this.#loads.clear();
  }
}
