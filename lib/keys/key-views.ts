// What the key manager hands out for a key: its public JWK; its private JWK when the caller asks
// for private material (software keys: HSM keys never have any); and, for a symmetric (oct) key,
// which has no public form, only its name without the secret (or nothing, in a set's public view).
import type { HmacAlg } from '../jose/algorithms';
import type { KeyEntry } from './key-entry';
import type { Jwk } from './key-manager';
import { isSoftwareEntry } from './software-source';

/** A symmetric key named without its secret: kty, kid, alg and use only. Never a verification key. */
export interface SecretKeyDescription {
  kty: 'oct';
  kid: string;
  alg: HmacAlg;
  use: 'sig';
}

/** The key as one JWK: private members when asked for; a symmetric key's description otherwise. */
export function jwkOf(entry: KeyEntry, includePrivate: boolean | undefined): Jwk {
  if (includePrivate && isSoftwareEntry(entry)) return { ...entry.stored.privateJwk };
  if (entry.publicJwk) return { ...entry.publicJwk };
  return { kty: 'oct', kid: entry.kid, alg: entry.alg as HmacAlg, use: 'sig' };
}

/**
 * A set's keys as a view. Without private material it is what a public JWKS may hold: symmetric
 * keys are left out (not even their names: a verifier could only fail on them).
 */
export function setViewOf(entries: readonly KeyEntry[], includePrivate: boolean | undefined): Jwk[] {
  return entries.filter((e) => includePrivate || e.publicJwk !== undefined).map((e) => jwkOf(e, includePrivate));
}
