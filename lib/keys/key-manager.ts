// The key manager contract, in three parts: the key-set operations (Hydra's, camelCase, with
// listing, lifecycle and certificates: KeySets), signing (KeySigner) and the running manager's
// side (KeyManagerOps). KeyManager is all three.
import type { JwsHeaderExtras } from '../jose/jws';
import type { PrivateJwk } from '../jose/import';
import type { PublicJwk } from '../jose/jwk';
import type { Signer } from '../jose/signer';
import type { KeyUse } from '../pkcs11/key-spec';
import type { TokenHealth } from '../pkcs11/token';
import type { Lifecycle } from '../store/key-store';
import type { CertificateImport } from './certificates';
import type { KeyProblem } from './key-entry';
import type { SecretKeyDescription } from './key-views';
import type { KeyState } from './lifecycle';

/**
 * A key as the manager hands it out: a public JWK, a private JWK (asked for), or a symmetric key's
 * description without its secret.
 */
export type Jwk = PublicJwk | PrivateJwk | SecretKeyDescription;
export type { SecretKeyDescription };
export interface JwkSet {
  keys: Jwk[];
}

export interface GetOptions {
  /**
   * Return private members of software keys (HSM keys never have any), symmetric keys' secrets
   * included. Default false: the public view, in which a set leaves symmetric keys out and a key
   * asked for by kid is only named (kty, kid, alg, use).
   */
  includePrivate?: boolean;
}

export interface GenerateOptions {
  /** Return the new key's private members (software keys: a symmetric key's secret). Default false. */
  includePrivate?: boolean;
  /** Sign at once even when the set has a signing key (verifiers with a cached JWKS will reject its tokens until they refresh). */
  activateNow?: boolean;
  /** Progress of long work (RSA-4096 on a token takes seconds). */
  onProgress?: (message: string) => void;
  /**
   * The kid of a key generated without one: a random UUID (as Hydra) or the key's RFC 7638
   * thumbprint (as node-oidc-provider and Dex). Default: the key manager's (KID_FORMAT, uuid).
   * Symmetric keys always get a UUID: the thumbprint of a secret would publish a hash of it.
   */
  kid?: KidFormat;
}

export type KidFormat = 'uuid' | 'thumbprint';
export const KID_FORMATS: readonly KidFormat[] = ['uuid', 'thumbprint'];

export interface SignJwtOptions {
  /** Sign with this key instead of the set's newest active key. */
  kid?: string;
  /** More protected-header members (alg, kid and typ are set by us). */
  header?: JwsHeaderExtras;
  /** `exp` = now + this many seconds (a positive integer); not together with an `exp` in the claims. */
  expiresIn?: number;
  /** Add `iat` (now) unless the claims carry one. Default false. */
  issuedAt?: boolean;
}

/** One key as `keys list` shows it. */
export interface KeyInfo {
  set: string;
  kid: string;
  alg: string;
  use: KeyUse;
  where: 'hsm' | 'software';
  state: KeyState;
  /** `foreign`: found on the token, made by another tool. */
  origin: 'ours' | 'foreign' | 'migrated';
  createdAt?: Date;
  /** An HSM key's PKCS#11 URI (RFC 7512): token, serial, object (its label), id (its CKA_ID), type=private. */
  uri?: string;
}

/** Whether the token layer can serve now; `hsm` is undefined without an HSM. */
export interface Readiness {
  ready: boolean;
  hsm?: TokenHealth;
}

/**
 * Hydra's key-set operations (camelCase): generate, import, read and delete keys and sets; a key's
 * lifecycle and certificates; what every set holds and what is wrong with it. What the admin routes,
 * the `keys` commands and `ensureKeySet` use.
 */
export interface KeySets {
  /**
   * Generates a key in `set` (kid: given or a random UUID; unique across every set) and returns
   * its public JWK (a symmetric key: its description, or its secret with `includePrivate`). HMAC
   * algs are made in the software store, and refused (ERR_HSM_SYMMETRIC_UNSUPPORTED) when
   * generation goes to an HSM. Never removes keys. In a set that already has a signing key, the new key is
   * published for the publish-ahead time before it signs (unless `activateNow`).
   */
  generateAndPersistKeySet(
    set: string,
    kid: string | undefined,
    alg: string,
    use?: KeyUse,
    options?: GenerateOptions,
  ): Promise<JwkSet>;
  addKey(set: string, jwk: unknown): Promise<void>;
  addKeySet(set: string, jwks: unknown): Promise<void>;
  updateKey(set: string, jwk: unknown): Promise<void>;
  updateKeySet(set: string, jwks: unknown): Promise<void>;
  getKey(set: string, kid: string, options?: GetOptions): Promise<JwkSet>;
  /** The set's published keys (next, active, retired), newest first. */
  getKeySet(set: string, options?: GetOptions): Promise<JwkSet>;
  deleteKey(set: string, kid: string): Promise<void>;
  deleteKeySet(set: string): Promise<void>;
  /** Changes a key's lifecycle (retire by hand, rotation). */
  setLifecycle(set: string, kid: string, lifecycle: Lifecycle): Promise<void>;
  /**
   * Publishes a certificate chain (PEM) with a key as x5c and x5t#S256, replacing any it had: on the
   * token next to an HSM key, sealed in the store for a software key. ERR_CERT_INVALID,
   * ERR_CERT_KEY_MISMATCH, ERR_CERT_CHAIN_INVALID, ERR_KEY_NOT_FOUND.
   */
  importCertificate(set: string, kid: string, pem: string): Promise<CertificateImport>;
  /** Removes a key's certificates; how many there were. */
  removeCertificate(set: string, kid: string): Promise<number>;
  list(): Promise<KeyInfo[]>;
  /** Every set name on the token (with the prefix) or in the store. */
  sets(): Promise<string[]>;
  /** Keys and objects that are not published, and why, in every set. */
  problems(): Promise<KeyProblem[]>;
}

/** Signing with a set's active keys: a `Signer` for any JWS library, or a compact JWT. */
export interface KeySigner {
  /** A signer for `kid` (which must be active), or for the set's newest active signing key. */
  signer(set: string, kid?: string): Promise<Signer>;
  /**
   * A compact JWT signed by signer(set, options.kid). `exp`, `nbf` and `iat` must be NumericDates
   * (ERR_JWT_CLAIM_INVALID); `exp` is added TOKEN_MAX_LIFETIME ahead when absent, and a later one
   * is refused (ERR_TOKEN_LIFETIME).
   */
  signJwt(set: string, claims: Record<string, unknown>, options?: SignJwtOptions): Promise<string>;
}

/**
 * The manager as a running thing: changes made elsewhere, its caches, the token's readiness and
 * logins, its gauges, the store's lock, and closing.
 */
export interface KeyManagerOps {
  /** Calls `listener(set)` when another process or instance changed the set; returns a function that stops it. */
  onChange(listener: (set: string) => void): () => void;
  /** Drops what is cached about `set` (all sets when omitted): the next read goes to the source. */
  invalidate(set?: string): void;
  /** Whether the token layer can serve, from its kept state (never a key scan): for readiness probes. */
  ready(): Promise<Readiness>;
  /** An operator's act after ERR_LOGIN_REFUSED: one more login, with a new PIN when given. */
  resumeLogins(pin?: string): Promise<void>;
  /** Gauges for monitoring (session pool, signing engine), by metric name. */
  stats(): Record<string, number>;
  /** Runs `fn` holding a lock shared by every process and instance that uses the same store. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Everything a key manager does (what `createKeyManager` returns): the three interfaces above. */
export interface KeyManager extends KeySets, KeySigner, KeyManagerOps {}
