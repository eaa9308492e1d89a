// The published JWKS, kept ready: /.well-known/jwks.json never reaches the token per request.
// It is rebuilt after a write through this service, and at most `maxAgeMs` after a write made
// elsewhere (another instance, the CLI).
import { createHash } from 'node:crypto';

import { isNotFound } from '../keys/errors';
import type { Jwk, KeyManager } from '../keys/key-manager';

export interface PublishedJwks {
  body: string;
  etag: string;
  builtAt: number;
}

export class JwksCache {
  #current: Promise<PublishedJwks> | undefined;
  /** The keys each set last published. A set whose keys vanish unannounced keeps them (see #build). */
  readonly #lastGood = new Map<string, Jwk[]>();

  constructor(
    private readonly km: KeyManager,
    private readonly sets: readonly string[],
    readonly maxAgeMs = 30_000,
    private readonly onVanished: (set: string) => void = () => undefined,
  ) {}

  async get(): Promise<PublishedJwks> {
    const current = this.#current ? await this.#current.catch(() => undefined) : undefined;
    if (current && Date.now() - current.builtAt < this.maxAgeMs) return current;
    const next = this.#build();
    this.#current = next;
    return next;
  }

  /** Rebuild at the next request. `set`: it was written (through this service, or announced by the store), so its keys may be gone for good. */
  invalidate(set?: string): void {
    this.#current = undefined;
    if (set !== undefined) this.#lastGood.delete(set);
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
