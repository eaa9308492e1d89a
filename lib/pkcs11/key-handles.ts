// Which object handles a KeyPair stands for now. Handles are valid in one module generation only:
// after a re-initialisation the module may hand the same numbers out for other objects, so a
// KeyPair made before it is resolved again by CKA_ID (and checked to be the same key) before it is
// used. A handle that went stale without a re-initialisation (CKR_OBJECT_HANDLE_INVALID) is
// resolved the same way.
import { handlesAtBirth, type KeyPair, type PublicKeyData } from './key-pair';

export interface Handles {
  privateKey: bigint;
  publicKey: bigint | null;
}

/** Looks the key up again (by CKA_ID) and returns its handles now, or undefined when it is gone. */
export type LookUp = (keyPair: KeyPair) => Promise<Handles | undefined>;

export class KeyHandles {
  /** The generation a KeyPair was made in, when not 0. */
  readonly #born = new WeakMap<KeyPair, number>();
  readonly #resolved = new WeakMap<KeyPair, Handles & { generation: number }>();
  readonly #pending = new WeakMap<KeyPair, { generation: number; lookup: Promise<Handles | undefined> }>();
  #anyResolved = false;

  /** Records that `keyPair` was made by the Token in `generation`. */
  note<T extends KeyPair>(keyPair: T, generation: number): T {
    if (generation !== 0) this.#born.set(keyPair, generation);
    return keyPair;
  }

  /** The handles valid in `generation`, or undefined when they must be looked up first. */
  current(keyPair: KeyPair, generation: number): Handles | undefined {
    if (!this.#anyResolved && generation === 0) return handlesAtBirth(keyPair); // the common case: nothing ever moved
    const r = this.#resolved.get(keyPair);
    if (r !== undefined && r.generation === generation) return r;
    return (this.#born.get(keyPair) ?? 0) === generation && r === undefined ? handlesAtBirth(keyPair) : undefined;
  }

  /**
   * Looks the key up again with `lookUp`, which must use a session of `generation` (one lookup per
   * KeyPair and generation at a time); undefined when the key is no longer on the token.
   */
  refresh(keyPair: KeyPair, generation: number, lookUp: LookUp): Promise<Handles | undefined> {
    const pending = this.#pending.get(keyPair);
    if (pending !== undefined && pending.generation === generation) return pending.lookup;
    const entry = {
      generation,
      lookup: lookUp(keyPair)
        .then((h) => {
          if (h !== undefined) {
            const known = this.#resolved.get(keyPair);
            if (known === undefined || known.generation <= generation)
              this.#resolved.set(keyPair, { ...h, generation });
            this.#anyResolved = true;
          }
          return h;
        })
        .finally(() => {
          if (this.#pending.get(keyPair) === entry) this.#pending.delete(keyPair);
        }),
    };
    this.#pending.set(keyPair, entry);
    return entry.lookup;
  }
}

/** Whether a key pair found again is the same key: same type, size and public part. */
export function sameKey(a: KeyPair, b: KeyPair): boolean {
  if (a.keyType !== b.keyType || a.curve !== b.curve || a.bits !== b.bits) return false;
  return a.publicKeyData === null || b.publicKeyData === null || samePublic(a.publicKeyData, b.publicKeyData);
}

function samePublic(a: PublicKeyData, b: PublicKeyData): boolean {
  if (a.kty === 'RSA' && b.kty === 'RSA') return a.n.equals(b.n) && a.e.equals(b.e);
  if (a.kty === 'EC' && b.kty === 'EC') return a.crv === b.crv && a.point.equals(b.point);
  if (a.kty === 'OKP' && b.kty === 'OKP') return a.x.equals(b.x);
  return false;
}
