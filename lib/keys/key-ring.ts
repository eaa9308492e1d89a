// KeyRing: the key manager. A set is one set: the union of its keys on the token and in the
// software store, read through one view (set-view.ts) for get, publish and sign. Views are cached
// per set and dropped on every write here, on a change announced by the store (other processes and
// instances, within its freshness bound), and refreshed in the background after `viewTtlMs`
// (changes on the token made by other tools). The parts: ring-state.ts (sources, views, the write
// path), ring-writes.ts and ring-reads.ts (KeySets), ring-signing.ts (KeySigner); this file joins
// them and is the running manager's side (KeyManagerOps).
import type { Signer } from '../jose/signer';
import { silentLogger, type Logger } from '../logger';
import type { KeyUse } from '../pkcs11/key-spec';
import type { Lifecycle } from '../store/key-store';
import type { CertificateImport } from './certificates';
import { KeyManagerError } from './errors';
import type { HsmKeySource } from './hsm-source';
import type { KeyEntry, KeyProblem } from './key-entry';
import type {
  GenerateOptions,
  GetOptions,
  JwkSet,
  KeyInfo,
  KeyManager,
  KidFormat,
  Readiness,
  SignJwtOptions,
} from './key-manager';
import type { KeyState } from './lifecycle';
import { checkKidFormat } from './names';
import { RingReads } from './ring-reads';
import { RingSigning } from './ring-signing';
import { RingState } from './ring-state';
import { RingWrites } from './ring-writes';
import type { SoftwareKeySource } from './software-source';

export interface KeyRingOptions {
  logger?: Logger;
  /** ms since the epoch; tests move it. */
  clock?: () => number;
  /** How long a new key is published before it signs, when its set already has a signing key (default 90 s). */
  publishAheadMs?: number;
  /**
   * The sets whose JWKS is published (JWKS_PUBLIC_SETS). A symmetric key is never published, so it
   * is refused in them (ERR_KEY_NOT_PUBLISHABLE): it would sign tokens no verifier can check.
   */
  publishedSets?: readonly string[];
  /** Bound on how stale a set's view gets for changes no one announces (keys made on the token by other tools); default 30 s. */
  viewTtlMs?: number;
  /**
   * The longest lifetime of a JWT signJwt makes (TOKEN_MAX_LIFETIME): a token without `exp` gets
   * one this far ahead, and a later `exp` is refused (retired keys are removed on that promise).
   * Undefined: no limit.
   */
  maxTokenLifetimeMs?: number;
  /** The kid of a key generated without one (KID_FORMAT): `uuid` (default) or `thumbprint`. */
  kidFormat?: KidFormat;
}

export const DEFAULT_PUBLISH_AHEAD_MS = 90_000;

export class KeyRing implements KeyManager {
  readonly #ring: RingState;
  readonly #writes: RingWrites;
  readonly #reads: RingReads;
  readonly #signing: RingSigning;
  readonly #unwatch: () => void;
  readonly #listeners = new Set<(set: string) => void>();

  constructor(software: SoftwareKeySource, hsm: HsmKeySource | undefined, options: KeyRingOptions = {}) {
    const kidFormat = checkKidFormat('options.kidFormat', options.kidFormat) ?? 'uuid';
    this.#ring = new RingState(software, hsm, {
      logger: options.logger ?? silentLogger,
      clock: options.clock ?? Date.now,
      viewTtlMs: options.viewTtlMs ?? 30_000,
    });
    this.#writes = new RingWrites(this.#ring, {
      publishAheadMs: options.publishAheadMs ?? DEFAULT_PUBLISH_AHEAD_MS,
      published: new Set(options.publishedSets ?? []),
      kidFormat,
    });
    this.#reads = new RingReads(this.#ring);
    this.#signing = new RingSigning(this.#ring, options.maxTokenLifetimeMs);
    this.#unwatch = software.store.watch((set) => {
      this.#ring.views.drop(set);
      for (const l of this.#listeners) l(set);
    });
  }

  /** Where generated keys go. */
  get generatesOn(): 'hsm' | 'software' {
    return this.#ring.hsm ? 'hsm' : 'software';
  }

  // KeySets: writes (ring-writes.ts).

  generateAndPersistKeySet(
    set: string,
    kid: string | undefined,
    alg: string,
    use: KeyUse = 'sig',
    options: GenerateOptions = {},
  ): Promise<JwkSet> {
    return this.#writes.generate(set, kid, alg, use, options);
  }
  addKey(set: string, jwk: unknown): Promise<void> {
    return this.#writes.addKey(set, jwk);
  }
  addKeySet(set: string, jwks: unknown): Promise<void> {
    return this.#writes.addKeySet(set, jwks);
  }
  updateKey(set: string, jwk: unknown): Promise<void> {
    return this.#writes.updateKey(set, jwk);
  }
  updateKeySet(set: string, jwks: unknown): Promise<void> {
    return this.#writes.updateKeySet(set, jwks);
  }
  deleteKey(set: string, kid: string): Promise<void> {
    return this.#writes.deleteKey(set, kid);
  }
  deleteKeySet(set: string): Promise<void> {
    return this.#writes.deleteKeySet(set);
  }
  importCertificate(set: string, kid: string, pem: string): Promise<CertificateImport> {
    return this.#writes.importCertificate(set, kid, pem);
  }
  removeCertificate(set: string, kid: string): Promise<number> {
    return this.#writes.removeCertificate(set, kid);
  }
  setLifecycle(set: string, kid: string, lifecycle: Lifecycle): Promise<void> {
    return this.#writes.setLifecycle(set, kid, lifecycle);
  }

  // KeySets: reads (ring-reads.ts).

  getKey(set: string, kid: string, options: GetOptions = {}): Promise<JwkSet> {
    return this.#reads.getKey(set, kid, options);
  }
  getKeySet(set: string, options: GetOptions = {}): Promise<JwkSet> {
    return this.#reads.getKeySet(set, options);
  }
  list(): Promise<KeyInfo[]> {
    return this.#reads.list();
  }
  sets(): Promise<string[]> {
    return this.#reads.sets();
  }
  problems(): Promise<KeyProblem[]> {
    return this.#reads.problems();
  }
  /** The state of every key of a set at this ring's clock (for the rotator). */
  keys(set: string): Promise<Array<KeyEntry & { state: KeyState }>> {
    return this.#reads.keys(set);
  }

  // KeySigner (ring-signing.ts).

  signer(set: string, kid?: string): Promise<Signer> {
    return this.#signing.signer(set, kid);
  }
  signJwt(set: string, claims: Record<string, unknown>, options: SignJwtOptions = {}): Promise<string> {
    return this.#signing.signJwt(set, claims, options);
  }

  // KeyManagerOps.

  now(): number {
    return this.#ring.clock();
  }

  stats(): Record<string, number> {
    let problems = 0;
    for (const n of this.#ring.problemCounts.values()) problems += n;
    return {
      ...this.#ring.software.stats(),
      ...(this.#ring.hsm?.stats() ?? {}),
      hsm_jwks_key_problems: problems,
    };
  }

  /** Calls `listener(set)` when another process or instance changed the set (the store's freshness bound). */
  onChange(listener: (set: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  invalidate(set?: string): void {
    if (set === undefined) this.#ring.views.clear();
    else this.#ring.views.drop(set);
  }

  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#ring.withLock(name, fn);
  }

  async close(): Promise<void> {
    this.#unwatch();
    this.#ring.views.clear();
    await Promise.all([this.#ring.hsm?.close(), this.#ring.software.close()]);
  }

  /**
   * Whether the token layer can serve, from the state it keeps (at most one C_GetTokenInfo a
   * second, never a key scan): not ready while the token is unavailable or refuses logins.
   */
  async ready(): Promise<Readiness> {
    const hsm = this.#ring.hsm;
    if (!hsm) return { ready: true };
    const health = await hsm.probe();
    return { ready: health.state === 'ready', hsm: health };
  }

  /**
   * An operator's act after ERR_LOGIN_REFUSED: one more login, with `pin` when given (a new PIN
   * from HSM_PIN_FILE). Throws ERR_LOGIN_REFUSED when the token refuses it again.
   */
  async resumeLogins(pin?: string): Promise<void> {
    if (!this.#ring.hsm)
      throw new KeyManagerError('ERR_HSM_NOT_CONFIGURED', 'there is no Hardware Security Module to log in to');
    await this.#ring.hsm.resumeLogins(pin);
  }
}
