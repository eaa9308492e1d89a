// A key on the token as the HSM source hands it out (HsmEntry: the KeyPair with its JWK, alg, use
// and lifecycle from its metadata record, or a foreign key's defaults), and what the source's files
// (hsm-source, hsm-reading, hsm-generation, hsm-migration) share: the token, the records, the store.
import type { EncKeyAlg, KeyPairAlg } from '../jose/algorithms';
import { publicJwkFromKeyPair, thumbprintOf, type PublicJwk } from '../jose/jwk';
import type { Logger } from '../logger';
import { KeyDestroyedError, KeyGoneError, Pkcs11Error } from '../pkcs11/errors';
import type { KeyPair } from '../pkcs11/key-pair';
import type { Token } from '../pkcs11/token';
import type { KeyStore } from '../store/key-store';
import type { KeyMetadata } from './hsm-metadata';
import type { HsmRecords } from './hsm-records';
import type { KeyEntry } from './key-entry';

export interface HsmEntry extends KeyEntry {
  where: 'hsm';
  pair: KeyPair;
  /** A key pair on the token always has one. */
  publicJwk: PublicJwk;
}

export const isHsmEntry = (e: KeyEntry): e is HsmEntry => e.where === 'hsm';

/** The KeyPair no longer names the key: destroyed here, gone after a re-initialisation, or a stale handle. */
export const isStaleKeyError = (e: unknown) =>
  e instanceof KeyDestroyedError ||
  e instanceof KeyGoneError ||
  (e instanceof Pkcs11Error && e.category === 'object-stale');

/** What the HSM source's parts work with. */
export interface HsmContext {
  readonly token: Token;
  /** The store of legacy records and the metadata fallback; undefined: none. */
  readonly store: KeyStore | undefined;
  readonly log: Logger;
  readonly records: HsmRecords;
  /** CKA_LABEL of a set's objects: the prefix + the set. */
  label(set: string): string;
}

export const hex = (id: Uint8Array) => Buffer.from(id).toString('hex');

/** The thumbprint of the pair's public part (its default JWK: the thumbprint ignores alg and use). */
export function pairThumbprint(pair: KeyPair): string | undefined {
  try {
    return thumbprintOf(publicJwkFromKeyPair(pair, pair.canSign ? { kid: 'x' } : { kid: 'x', use: 'enc' }));
  } catch {
    return undefined;
  }
}

/** The entry of a pair: as its metadata says, or (no metadata: made by another tool) the key's own default alg, no time, active. */
export function hsmEntry(set: string, kid: string, pair: KeyPair, meta: KeyMetadata | undefined): HsmEntry {
  if (!meta) {
    const publicJwk = publicJwkFromKeyPair(pair, { kid });
    return {
      set,
      kid,
      where: 'hsm',
      alg: publicJwk.alg,
      use: publicJwk.use,
      createdAt: undefined,
      lifecycle: {},
      origin: 'foreign',
      publicJwk,
      pair,
    };
  }
  const publicJwk = publicJwkFromKeyPair(
    pair,
    meta.use === 'sig'
      ? { kid, alg: meta.alg as KeyPairAlg, use: 'sig' }
      : { kid, alg: meta.alg as EncKeyAlg, use: 'enc' },
  );
  return {
    set,
    kid,
    where: 'hsm',
    alg: publicJwk.alg,
    use: meta.use,
    createdAt: meta.createdAt,
    lifecycle: meta.lifecycle,
    origin: meta.migrated ? 'migrated' : 'ours',
    publicJwk,
    pair,
  };
}
