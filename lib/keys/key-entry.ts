// One model of a key, whatever holds it: what a source (the token, the store) read about it,
// and what is wrong with the keys a source could not make into entries.
import type { EncKeyAlg, JwsAlg } from '../jose/algorithms';
import type { PublicJwk } from '../jose/jwk';
import type { KeyUse } from '../pkcs11/key-spec';
import type { Lifecycle } from './lifecycle';

export type KeyLocation = 'hsm' | 'software';

export interface KeyEntry {
  set: string;
  kid: string;
  where: KeyLocation;
  alg: JwsAlg | EncKeyAlg;
  use: KeyUse;
  /** Undefined for keys made by other tools (the token records no time for them). */
  createdAt: Date | undefined;
  lifecycle: Lifecycle;
  /**
   * `ours`: made or imported through hsm-jwks, its metadata recorded; `foreign`: found on the
   * token, made by another tool; `migrated`: its metadata came from an earlier version's unsealed
   * store row (trusted once, so never destroyed by rotation).
   */
  origin: 'ours' | 'foreign' | 'migrated';
  /** What the key publishes; undefined for a symmetric (oct) key, which has no public form and is never published. */
  publicJwk: PublicJwk | undefined;
}

/** Why a key (or an object that looks like part of one) is not published; reported, never hidden. */
export type KeyProblemKind =
  /** A software row that does not open (wrong or missing secret, edited outside the seal). */
  | 'unreadable'
  /** Several private keys on the token share one CKA_ID: none of them can be told apart. */
  | 'duplicate-id'
  /** Several public objects share the key's CKA_ID, or its public object does not match it. */
  | 'public-key-ambiguous'
  /** The key has no usable public part (missing, or parameters we cannot publish). */
  | 'public-key-missing'
  /** The key is published (its public part is certain), but another public object has its CKA_ID. */
  | 'extra-public-object'
  /** A public key object without its private key. */
  | 'orphan-public-key'
  /** A generation that did not finish (a crash between the token's steps): the pair is not ours to publish. */
  | 'incomplete-generation'
  /** Metadata recorded for a key that is not on the token. */
  | 'metadata-without-key'
  /** A key made by another tool that cannot be published (a short RSA key, an odd curve). */
  | 'unsupported-key'
  /** The recorded metadata does not fit the key (alg for another key type, use the token does not allow, another public key). */
  | 'metadata-invalid'
  /** The kid is also another key's: this one is not published and does not sign. */
  | 'kid-conflict'
  /** The key is published without x5c: its certificate is another key's (certificates.ts). */
  | 'certificate-mismatch'
  /** The key is published, but a certificate of its chain is not: it does not parse, open or link (certificates.ts). */
  | 'certificate-invalid';

export interface KeyProblem {
  kind: KeyProblemKind;
  set: string;
  kid: string;
  where: KeyLocation;
  detail: string;
  /** A command that repairs it, when one is safe to suggest. */
  repair?: string;
}

/** Signing order: the latest activation first (activateAt, else creation); keys without a time last, by kid descending. */
export function newestFirst(a: KeyEntry, b: KeyEntry): number {
  const ta = (a.lifecycle.activateAt ?? a.createdAt)?.getTime() ?? -Infinity;
  const tb = (b.lifecycle.activateAt ?? b.createdAt)?.getTime() ?? -Infinity;
  if (ta !== tb) return tb > ta ? 1 : -1;
  return a.kid < b.kid ? 1 : a.kid > b.kid ? -1 : 0;
}
