// The key ring's signing (KeySigner): a set's active key as a Signer, reused from the set's cached
// view until its next lifecycle transition, and the one signJwt of the package (the library, `jwt
// sign` and POST /admin/jwt all come here): the claims by jwt-claims.ts, compact JWS by jose/jws.ts.
import { signJwt as signCompactJwt } from '../jose/jws';
import { checkKid } from '../jose/kid';
import type { Signer } from '../jose/signer';
import { KeyManagerError, keyNotFound } from './errors';
import { isStaleKeyError } from './hsm-entry';
import { claimsToSign } from './jwt-claims';
import type { KeyEntry } from './key-entry';
import type { KeySigner, SignJwtOptions } from './key-manager';
import { checkSet } from './names';
import type { RingState } from './ring-state';
import { maySign, missing, nextTransition, published, signingKey, stateOf } from './set-view';

export class RingSigning implements KeySigner {
  readonly #ring: RingState;
  readonly #maxLifetimeMs: number | undefined;

  /** `maxLifetimeMs`: TOKEN_MAX_LIFETIME (undefined: no limit). */
  constructor(ring: RingState, maxLifetimeMs: number | undefined) {
    this.#ring = ring;
    this.#maxLifetimeMs = maxLifetimeMs;
  }

  async signer(set: string, kid?: string): Promise<Signer> {
    checkSet(set);
    const ring = this.#ring;
    const now = ring.clock();
    const cached = await ring.views.get(set);
    const hit = cached.signers.get(kid ?? '');
    if (hit && now < hit.validUntil) return hit.signer;
    const view = cached.view;
    let entry: KeyEntry | undefined;
    if (kid === undefined) {
      entry = signingKey(view, now);
      if (!entry) {
        if (published(view, now).length === 0) throw missing(view);
        throw new KeyManagerError(
          'ERR_NO_SIGNING_KEY',
          `JSON Web Key Set ${JSON.stringify(set)} has no active signing key`,
        );
      }
    } else {
      checkKid(kid);
      entry = published(view, now).find((e) => e.kid === kid);
      if (!entry) throw keyNotFound(set, kid);
      if (!maySign(entry, now)) {
        if (entry.use !== 'sig')
          throw new KeyManagerError(
            'ERR_NO_SIGNING_KEY',
            `key ${JSON.stringify(kid)} of JSON Web Key Set ${JSON.stringify(set)} is for ${entry.use}`,
          );
        throw new KeyManagerError(
          'ERR_KEY_NOT_ACTIVE',
          `key ${JSON.stringify(kid)} of JSON Web Key Set ${JSON.stringify(set)} is ${stateOf(entry, now)}, not active`,
        );
      }
    }
    const signer = this.#dropViewWhenGone(set, entry);
    cached.signers.set(kid ?? '', { signer, validUntil: nextTransition(view, now) }); // a dropped view takes it along
    return signer;
  }

  /** The claims are checked (and `iat`/`exp` added) before any key is looked up. */
  async signJwt(set: string, claims: Record<string, unknown>, options: SignJwtOptions = {}): Promise<string> {
    const signed = claimsToSign(claims, {
      now: this.#ring.clock(),
      maxLifetimeMs: this.#maxLifetimeMs,
      expiresIn: options.expiresIn,
      issuedAt: options.issuedAt,
    });
    return signCompactJwt(await this.signer(set, options.kid), signed, options.header);
  }

  /**
   * The entry's signer; when the token says its key is gone (destroyed, or a token re-created
   * without it), the set's view is dropped so the next request reads the token again. No retry
   * here: the token layer has already recovered and retried what can be (one executor, one policy).
   */
  #dropViewWhenGone(set: string, entry: KeyEntry): Signer {
    const inner = this.#ring.sourceOf(entry).signer(entry);
    if (entry.where !== 'hsm') return inner;
    const dropped = (e: unknown): never => {
      if (isStaleKeyError(e)) this.#ring.views.drop(set);
      throw e;
    };
    return {
      kid: inner.kid,
      alg: inner.alg,
      publicJwk: inner.publicJwk,
      sign: (data: Uint8Array) => inner.sign(data).catch(dropped),
    };
  }
}
