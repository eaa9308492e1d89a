// The one path every Token operation takes to the token:
//   resolve  the key's handles for the current module generation (looked up again by CKA_ID after
//            a re-initialisation; a KeyPair never carries a handle a caller could hold stale)
//   lane     run on the signing engine or on a session lent by the pool
//   classify the failure (recovery.ts), and let the connection remedy it
//   retry    once, when the operation is idempotent
// Nothing above this layer retries (the key manager has no retry layer of its own).
import { ClosedError, KeyDestroyedError, KeyGoneError } from './errors';
import { KeyHandles, sameKey, type Handles } from './key-handles';
import { handlesAtBirth, type KeyPair } from './key-pair';
import { KeyReader } from './key-reader';
import type { Generation, TokenConnection } from './token-connection';

/** What an operation does once it has a generation and, for a key operation, the key's handles in it. */
export type Lane<T> = (g: Generation, handles: Handles | undefined) => Promise<T>;

export class Executor {
  readonly #c: TokenConnection;
  readonly #handles = new KeyHandles();
  /** KeyPairs handed to destroyKeyPair: operations on them stop before the token. */
  readonly #destroyed = new WeakSet<KeyPair>();

  constructor(connection: TokenConnection) {
    this.#c = connection;
  }

  /** Records that `keyPair` was found or made in `generation` (its handles are valid there). */
  note(keyPair: KeyPair, generation: number): KeyPair {
    return this.#handles.note(keyPair, generation);
  }

  /** Operations on `keyPair` that have not reached the token fail with ERR_KEY_DESTROYED from now on. */
  markDestroyed(keyPair: KeyPair): void {
    this.#destroyed.add(keyPair);
  }

  isDestroyed(keyPair: KeyPair): boolean {
    return this.#destroyed.has(keyPair);
  }

  /** The handles of `keyPair` valid in the current generation, or undefined when they must be looked up. */
  currentHandles(keyPair: KeyPair): Handles | undefined {
    return this.#handles.current(keyPair, this.#c.current.generation);
  }

  /** Runs `lane` on a session lent by the pool (see the file's comment for the steps). */
  onPool<T>(
    keyPair: KeyPair | undefined,
    idempotent: boolean,
    lane: (session: bigint, handles: Handles | undefined, g: Generation) => Promise<T>,
  ): Promise<T> {
    return this.run(keyPair, idempotent, false, (g, h) => g.pool.use((session) => lane(session, h, g)));
  }

  /** Runs `lane` on the signing engine (idempotent: a signature). */
  onEngine<T>(keyPair: KeyPair, lane: Lane<T>): Promise<T> {
    return this.run(keyPair, true, true, lane);
  }

  run<T>(
    keyPair: KeyPair | undefined,
    idempotent: boolean,
    onEngine: boolean,
    lane: Lane<T>,
    first = true,
  ): Promise<T> {
    const c = this.#c;
    const stop = c.state.failure(); // unavailable or login-refused: fail at once, touch nothing
    if (stop) return Promise.reject(stop);
    const g = c.current;
    if (onEngine && !g.engine) return Promise.reject(new ClosedError('the signing engine'));
    // (A pool lane checks this itself: destroyKeyPair's own operation runs on a destroyed KeyPair.)
    if (onEngine && keyPair !== undefined && this.#destroyed.has(keyPair))
      return Promise.reject(new KeyDestroyedError());
    const retry = idempotent && first ? () => this.run(keyPair, idempotent, onEngine, lane, false) : undefined;
    let h: Handles | undefined;
    if (keyPair !== undefined) {
      h = this.#handles.current(keyPair, g.generation);
      if (h === undefined) {
        // Handles from before a re-initialisation: find the key again first. A failed lookup is a
        // pool failure and recovered as one; the operation after it recovers on its own.
        return this.#lookUpOrThrow(keyPair, g).then(
          () => this.run(keyPair, idempotent, onEngine, lane, first),
          (e: unknown) => (first ? c.recover(e, { generation: g.generation }, retry) : Promise.reject(e)),
        );
      }
    }
    let attempt: Promise<T>;
    try {
      attempt = lane(g, h);
    } catch (e) {
      attempt = Promise.reject(e); // refused at once (the engine is closing or full)
    }
    if (!first) return attempt;
    return attempt.catch((e: unknown) =>
      c.recover(
        e,
        {
          generation: g.generation,
          ...(onEngine && g.engine ? { engine: g.engine } : {}),
          ...(keyPair ? { findKeyAgain: () => this.#findAgain(keyPair, g), keyId: keyPair.id } : {}),
        },
        retry,
      ),
    );
  }

  /** The key's handles in that generation, looked up again by CKA_ID; ERR_KEY_GONE when it is not there (and the token is). */
  async #lookUpOrThrow(keyPair: KeyPair, g: Generation): Promise<Handles> {
    const h = await this.#handles.refresh(keyPair, g.generation, (k) => this.#lookUp(k, g));
    if (!h) throw await this.#c.unlessGone(new KeyGoneError(keyPair.id.toString('hex')));
    return h;
  }

  /** After a stale handle: whether the same key is still on the token under another handle. */
  async #findAgain(keyPair: KeyPair, g: Generation): Promise<boolean> {
    if (this.#destroyed.has(keyPair)) return false; // destroyed by this Token meanwhile: keep the token's answer
    return (await this.#handles.refresh(keyPair, g.generation, (k) => this.#lookUp(k, g))) !== undefined;
  }

  async #lookUp(keyPair: KeyPair, { native, pool }: Generation): Promise<Handles | undefined> {
    const found = await pool.use((s) => new KeyReader(native, s).findKeyPairs({ id: keyPair.id }));
    const same = found.filter((f) => sameKey(f, keyPair));
    this.#c.counters.keyLookups++;
    if (same.length !== 1) return undefined; // gone, or ambiguous: never sign with a key we cannot tell apart
    this.#c.event({ kind: 'key-found-again' });
    return handlesAtBirth(same[0]);
  }
}
