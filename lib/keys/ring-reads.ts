// The key ring's reads (KeySets' half that looks): a key or a set as published, every key as
// `keys list` shows it, every set, every problem, and each key's state for the rotator. All from
// the cached views (ring-state.ts).
import { checkKid, idFromKid } from '../jose/kid';
import { keyNotFound } from './errors';
import type { KeyEntry, KeyProblem } from './key-entry';
import type { GetOptions, JwkSet, KeyInfo } from './key-manager';
import { jwkOf, setViewOf } from './key-views';
import { stateAt, type KeyState } from './lifecycle';
import { checkSet } from './names';
import type { RingState } from './ring-state';
import { missing, published, stateOf } from './set-view';

export class RingReads {
  readonly #ring: RingState;

  constructor(ring: RingState) {
    this.#ring = ring;
  }

  async getKey(set: string, kid: string, options: GetOptions): Promise<JwkSet> {
    checkSet(set);
    checkKid(kid);
    const entry = published(await this.#ring.view(set), this.#ring.clock()).find((e) => e.kid === kid);
    if (!entry) throw keyNotFound(set, kid);
    return { keys: [jwkOf(entry, options.includePrivate)] };
  }

  async getKeySet(set: string, options: GetOptions): Promise<JwkSet> {
    checkSet(set);
    const view = await this.#ring.view(set);
    const keys = published(view, this.#ring.clock());
    if (keys.length === 0) throw missing(view);
    return { keys: setViewOf(keys, options.includePrivate) }; // a set of symmetric keys only: none in its public view
  }

  async list(): Promise<KeyInfo[]> {
    const now = this.#ring.clock();
    const out: KeyInfo[] = [];
    for (const set of await this.sets()) {
      for (const e of (await this.#ring.view(set)).entries) {
        out.push({
          set,
          kid: e.kid,
          alg: e.alg,
          use: e.use,
          where: e.where,
          state: stateAt(e.lifecycle, now),
          origin: e.origin,
          ...(e.createdAt ? { createdAt: e.createdAt } : {}),
          ...(e.where === 'hsm' ? this.#hsmUri(set, e.kid) : {}),
        });
      }
    }
    return out;
  }

  /** An HSM key's PKCS#11 URI (RFC 7512): its token, CKA_LABEL (prefix + set), CKA_ID (the kid's bytes), type=private. */
  #hsmUri(set: string, kid: string): { uri?: string } {
    const hsm = this.#ring.hsm;
    try {
      return hsm ? { uri: hsm.token.uri({ label: hsm.label(set), id: idFromKid(kid), type: 'private' }) } : {};
    } catch {
      return {}; // a kid no CKA_ID maps to (an empty CKA_ID): no URI
    }
  }

  /** Every set on the token (with the prefix) or in the store. */
  async sets(): Promise<string[]> {
    const all = await Promise.all(this.#ring.sources.map((s) => s.sets()));
    return [...new Set(all.flat())].sort();
  }

  /** What cannot be published or used, in every set (for doctor, logs and metrics). */
  async problems(): Promise<KeyProblem[]> {
    const out: KeyProblem[] = [];
    for (const set of await this.sets()) out.push(...(await this.#ring.view(set)).problems);
    return out;
  }

  /** The state of every key of a set at the ring's clock (for the rotator). */
  async keys(set: string): Promise<Array<KeyEntry & { state: KeyState }>> {
    const now = this.#ring.clock();
    return (await this.#ring.view(checkSet(set))).entries.map((e) => ({ ...e, state: stateOf(e, now) }));
  }
}
