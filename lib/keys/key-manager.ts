// The key manager contract: Hydra's operations (camelCase), plus signing and listing.
import type { JwsHeaderExtras } from '../jose/jws';
import type { PrivateJwk } from '../jose/import';
import type { PublicJwk } from '../jose/jwk';
import type { Signer } from '../jose/signer';
import type { KeyUse } from '../pkcs11/key-spec';

export type Jwk = PublicJwk | PrivateJwk;
export interface JwkSet {
  keys: Jwk[];
}

export interface GetOptions {
  /** Return private members of software keys (HSM keys never have any). Default false. */
  includePrivate?: boolean;
}

export interface SignJwtOptions {
  /** Sign with this key instead of the set's newest. */
  kid?: string;
  /** More protected-header members (alg, kid and typ are set by us). */
  header?: JwsHeaderExtras;
}

/** One key as `keys list` shows it. */
export interface KeyInfo {
  set: string;
  kid: string;
  alg: string;
  use: KeyUse;
  where: 'hsm' | 'software';
  createdAt?: Date;
}

export interface KeyManager {
  /** Generates a key in `set` (kid: given or a random UUID) and returns its public JWK. Never removes keys. */
  generateAndPersistKeySet(set: string, kid: string | undefined, alg: string, use?: KeyUse): Promise<JwkSet>;
  addKey(set: string, jwk: unknown): Promise<void>;
  addKeySet(set: string, jwks: unknown): Promise<void>;
  updateKey(set: string, jwk: unknown): Promise<void>;
  updateKeySet(set: string, jwks: unknown): Promise<void>;
  getKey(set: string, kid: string, options?: GetOptions): Promise<JwkSet>;
  /** Keys of the set, newest first. */
  getKeySet(set: string, options?: GetOptions): Promise<JwkSet>;
  deleteKey(set: string, kid: string): Promise<void>;
  deleteKeySet(set: string): Promise<void>;
  /** A signer for `kid`, or for the set's newest signing key. */
  signer(set: string, kid?: string): Promise<Signer>;
  /** A compact JWT signed by signer(set, options.kid). */
  signJwt(set: string, claims: Record<string, unknown>, options?: SignJwtOptions): Promise<string>;
  list(): Promise<KeyInfo[]>;
  /** Drops what is cached about `set` (all sets when omitted): the next read goes to the source. */
  invalidate(set?: string): void;
  /** Gauges for monitoring (session pool, signing engine), by metric name. */
  stats(): Record<string, number>;
  /** Runs `fn` holding a lock shared by every instance that uses the same store. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
