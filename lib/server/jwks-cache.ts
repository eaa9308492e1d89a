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

  constructor(
    private readonly km: KeyManager,
    private readonly sets: readonly string[],
    readonly maxAgeMs = 30_000,
  ) {}

  async get(): Promise<PublishedJwks> {
    const current = this.#current ? await this.#current.catch(() => undefined) : undefined;
    if (current && Date.now() - current.builtAt < this.maxAgeMs) return current;
    const next = this.#build();
    this.#current = next;
    return next;
  }

  invalidate(): void {
    this.#current = undefined;
  }

  async #build(): Promise<PublishedJwks> {
    const keys: Jwk[] = [];
    for (const set of this.sets) {
      this.km.invalidate(set); // read the token and the store again: another instance may have written
      try {
        keys.push(...(await this.km.getKeySet(set)).keys);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    const body = JSON.stringify({ keys });
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    return { body, etag, builtAt: Date.now() };
  }
}
