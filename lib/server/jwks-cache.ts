// The published JWKS, kept ready: /.well-known/jwks.json never reaches the token per request.
// It is rebuilt after a write through this service, and at most `maxAgeMs` after a write made
// elsewhere (another instance, the CLI). While the token or the store is out, the last set built
// is served, marked stale with its age, instead of an error.
import { createHash } from 'node:crypto';

import { isNotFound } from '../keys/errors';
import type { Jwk, KeySets } from '../keys/key-manager';

export interface PublishedJwks {
  body: string;
  etag: string;
  builtAt: number;
  /** Served from the last good set because a rebuild failed (token or store out). */
  stale?: boolean;
  /** Seconds since the set was built, when stale (the `Age` header). */
  ageSeconds?: number;
}

/** After a failed rebuild, the last good set is served without trying again for this long. */
const RETRY_AFTER_FAILURE_MS = 2000;
/** How long a request waits for a rebuild before it gets the last good set (marked stale). */
const STALE_WAIT_MS = 2000;

export class JwksCache {
  /** The last set built without error; served, marked stale, while rebuilds fail. */
  #good: PublishedJwks | undefined;
  /** Whether #good is current: no write announced since it was built. */
  #fresh = false;
  #generation = 0;
  #goodGeneration = 0;
  #building: { promise: Promise<PublishedJwks>; generation: number } | undefined;
  #failedAt: number | undefined;
  /** The keys each set last published. A set whose keys vanish unannounced keeps them (see #build). */
  readonly #lastGood = new Map<string, Jwk[]>();

  constructor(
    private readonly km: Pick<KeySets, 'getKeySet'>,
    private readonly sets: readonly string[],
    readonly maxAgeMs = 30_000,
    private readonly onVanished: (set: string) => void = () => undefined,
    private readonly onStale: (error: unknown) => void = () => undefined,
  ) {}

  /**
   * The published JWKS: the cached one while fresh; else a rebuild. When the rebuild fails (or
   * takes more than STALE_WAIT_MS) and a set was built before, that set, marked stale, instead of
   * an error: verifiers keep verifying through an outage of the token or the store.
   */
  async get(): Promise<PublishedJwks> {
    const good = this.#good;
    const now = Date.now();
    if (good && this.#fresh && now - good.builtAt < this.maxAgeMs) return good;
    if (good && this.#failedAt !== undefined && now - this.#failedAt < RETRY_AFTER_FAILURE_MS) return this.#stale(good);
    const building = this.#rebuild();
    if (!good) return building;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), STALE_WAIT_MS);
      timer.unref();
    });
    try {
      return (await Promise.race([building, waited])) ?? this.#stale(good);
    } catch (e) {
      this.onStale(e);
      return this.#stale(good);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Rebuild at the next request. `set`: it was written (through this service, or announced by the store), so its keys may be gone for good. */
  invalidate(set?: string): void {
    this.#fresh = false;
    this.#generation++;
    this.#failedAt = undefined;
    if (set !== undefined) this.#lastGood.delete(set);
  }

  #stale(good: PublishedJwks): PublishedJwks {
    return { ...good, stale: true, ageSeconds: Math.max(0, Math.floor((Date.now() - good.builtAt) / 1000)) };
  }

  /** One rebuild at a time; its result becomes the good set (fresh unless a write was announced meanwhile). */
  #rebuild(): Promise<PublishedJwks> {
    const generation = this.#generation;
    if (this.#building?.generation === generation) return this.#building.promise;
    const building = this.#build().then(
      (built) => {
        if (generation < this.#goodGeneration) return built; // a newer build already finished
        this.#good = built;
        this.#goodGeneration = generation;
        this.#fresh = generation === this.#generation;
        this.#failedAt = undefined;
        return built;
      },
      (e: unknown) => {
        this.#failedAt = Date.now();
        throw e;
      },
    );
    this.#building = { promise: building, generation };
    void building.then(
      () => this.#clear(building),
      () => this.#clear(building),
    );
    return building;
  }

  #clear(building: Promise<PublishedJwks>): void {
    if (this.#building?.promise === building) this.#building = undefined;
  }

  async #build(): Promise<PublishedJwks> {
    const keys: Jwk[] = [];
    // The key manager's views are fresh within the store's freshness bound (and 30 s for changes on
    // the token no one announces): no reread here, which would also drop the cached signers.
    for (const set of this.sets) {
      try {
        const found = (await this.km.getKeySet(set)).keys;
        this.#lastGood.set(set, found);
        keys.push(...found);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        // Keys that vanished without a delete anyone announced (a token that lost its objects, a
        // device that answers empty) stay published: tokens they signed must keep verifying.
        const last = this.#lastGood.get(set);
        if (last) {
          this.onVanished(set);
          keys.push(...last);
        }
      }
    }
    const body = JSON.stringify({ keys });
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    return { body, etag, builtAt: Date.now() };
  }
}
