// KeyRing: the key manager. A set is one set: the union of its keys on the token and in the
// software store, read through one view (set-view.ts) for get, publish and sign. Generation goes
// to the token when there is one (else the store); imports go to the store. A kid is unique
// across every set and both places. A new key in a set that already has a signing key is
// published for `publishAheadMs` before it signs. Views are cached per set and dropped on every
// write here, on a change announced by the store (other processes and instances, within its
// freshness bound), and refreshed in the background after `viewTtlMs` (changes on the token made
// by other tools).
import { randomUUID } from 'node:crypto';

import type { ValidatedKey } from '../jose/import';
import { signJwt as signCompactJwt } from '../jose/jws';
import { checkKid, idFromKid } from '../jose/kid';
import type { Signer } from '../jose/signer';
import { invalidArgValue } from '../errors';
import { silentLogger, type Logger } from '../logger';
import type { KeyUse } from '../pkcs11/key-spec';
import type { Lifecycle } from '../store/key-store';
import { KeyManagerError, keyNotFound } from './errors';
import { chainForKey, importSummary, parseCertificateFile, type CertificateImport } from './certificates';
import { checkGeneration, notPublishable, symmetricOnHsm } from './generation';
import { isStaleKeyError, type HsmKeySource } from './hsm-source';
import { importRows, validateImport, validateImportSet } from './imports';
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
import { certificatePlace } from './key-certificates';
import type { KeySource } from './key-source';
import { jwkOf, setViewOf } from './key-views';
import { stateAt } from './lifecycle';
import { checkKidFormat, checkSet } from './names';
import { SetCache } from './set-cache';
import {
  LEFTOVERS,
  maySign,
  missing,
  nextTransition,
  published,
  readSetView,
  signingKey,
  stateOf,
  type SetView,
} from './set-view';
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

interface CachedView {
  view: SetView;
  /**
   * Signers made from this view, by kid ('' for the set's signing key), until the view's next
   * lifecycle transition: signJwt reuses one (and its header cache) instead of building one per JWT.
   */
  signers: Map<string, { signer: Signer; validUntil: number }>;
}

export class KeyRing implements KeyManager {
  readonly #software: SoftwareKeySource;
  readonly #hsm: HsmKeySource | undefined;
  readonly #sources: KeySource[];
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #publishAheadMs: number;
  readonly #maxLifetimeMs: number | undefined;
  readonly #published: ReadonlySet<string>;
  readonly #kidFormat: KidFormat;
  readonly #views: SetCache<CachedView>;
  readonly #unwatch: () => void;
  readonly #reported = new Set<string>();
  /** Problems found by the latest read of each set, for the gauge. */
  readonly #problemCounts = new Map<string, number>();
  readonly #listeners = new Set<(set: string) => void>();

  constructor(software: SoftwareKeySource, hsm: HsmKeySource | undefined, options: KeyRingOptions = {}) {
    this.#software = software;
    this.#hsm = hsm;
    this.#sources = hsm ? [hsm, software] : [software];
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock ?? Date.now;
    this.#publishAheadMs = options.publishAheadMs ?? DEFAULT_PUBLISH_AHEAD_MS;
    this.#maxLifetimeMs = options.maxTokenLifetimeMs;
    this.#published = new Set(options.publishedSets ?? []);
    this.#kidFormat = checkKidFormat('options.kidFormat', options.kidFormat) ?? 'uuid';
    this.#views = new SetCache((set) => this.#load(set), options.viewTtlMs ?? 30_000, this.#clock);
    this.#unwatch = software.store.watch((set) => {
      this.#views.drop(set);
      for (const l of this.#listeners) l(set);
    });
  }

  /** Where generated keys go. */
  get generatesOn(): 'hsm' | 'software' {
    return this.#hsm ? 'hsm' : 'software';
  }

  async generateAndPersistKeySet(
    set: string,
    kid: string | undefined,
    alg: string,
    use: KeyUse = 'sig',
    options: GenerateOptions = {},
  ): Promise<JwkSet> {
    checkSet(set);
    // Symmetric keys live in the software store only; generation goes to the token when there is one.
    const asked = checkKidFormat('options.kid', options.kid);
    const secret = checkGeneration(alg, use).kind === 'secret';
    if (secret) {
      if (this.#hsm) throw symmetricOnHsm(alg);
      if (this.#published.has(set)) throw notPublishable(set, alg);
      if (asked === 'thumbprint' && kid === undefined) {
        throw invalidArgValue(
          'options.kid',
          '"uuid" for a symmetric key (a thumbprint would publish a hash of the secret)',
          asked,
        );
      }
    }
    // A thumbprint kid is known once the key exists: the key is made under a provisional UUID and renamed.
    const thumbprintKid = kid === undefined && !secret && (asked ?? this.#kidFormat) === 'thumbprint';
    const id = kid === undefined ? randomUUID() : checkKid(kid);
    const source: KeySource = this.#hsm ?? this.#software;
    return this.#write(
      set,
      async (view) => {
        // An interrupted generation of this kid in this set is cleared by the generation itself.
        const interrupted = view.problems.some(
          (p) => p.kid === id && p.where === 'hsm' && p.kind === 'incomplete-generation',
        );
        await this.#checkKidsFree([id], interrupted && source.where === 'hsm' ? { set, where: 'hsm' } : undefined);
        const now = this.#clock();
        const entry = await source.generate(
          {
            set,
            kid: id,
            alg,
            use,
            createdAt: new Date(now),
            lifecycle: this.#initialLifecycle(view, now, options.activateNow),
            ...(thumbprintKid ? { thumbprintKid } : {}),
          },
          options.onProgress,
        );
        return { keys: [jwkOf(entry, options.includePrivate)] };
      },
      { newKids: true },
    );
  }

  addKey(set: string, jwk: unknown): Promise<void> {
    return this.#import(checkSet(set), () => validateImport(jwk).then((v) => [v]), 'add');
  }
  addKeySet(set: string, jwks: unknown): Promise<void> {
    return this.#import(checkSet(set), () => validateImportSet(jwks), 'add');
  }
  updateKey(set: string, jwk: unknown): Promise<void> {
    return this.#import(checkSet(set), () => validateImport(jwk).then((v) => [v]), 'upsert');
  }
  updateKeySet(set: string, jwks: unknown): Promise<void> {
    return this.#import(checkSet(set), () => validateImportSet(jwks), 'replace');
  }

  async getKey(set: string, kid: string, options: GetOptions = {}): Promise<JwkSet> {
    checkSet(set);
    checkKid(kid);
    const entry = published(await this.#view(set), this.#clock()).find((e) => e.kid === kid);
    if (!entry) throw keyNotFound(set, kid);
    return { keys: [jwkOf(entry, options.includePrivate)] };
  }

  async getKeySet(set: string, options: GetOptions = {}): Promise<JwkSet> {
    checkSet(set);
    const view = await this.#view(set);
    const keys = published(view, this.#clock());
    if (keys.length === 0) throw missing(view);
    return { keys: setViewOf(keys, options.includePrivate) }; // a set of symmetric keys only: none in its public view
  }

  async deleteKey(set: string, kid: string): Promise<void> {
    checkSet(set);
    checkKid(kid);
    await this.#write(set, async (view) => {
      const entry = view.entries.find((e) => e.kid === kid);
      if (entry) return this.#sourceOf(entry).delete(entry);
      // Not a key of the set: what an interrupted generation, a lost key or a replaced key left (the doctor's repair).
      const left = view.problems.find((p) => p.kid === kid && p.where === 'hsm' && LEFTOVERS.has(p.kind));
      if (left && this.#hsm && (await this.#hsm.clearLeftovers(set, kid))) return;
      const other = view.problems.find((p) => p.kid === kid && p.kind === 'kid-conflict');
      if (other) {
        const reading = await this.#sourceByWhere(other.where).read(set);
        const shadowed = reading.entries.find((e) => e.kid === kid);
        if (shadowed) return this.#sourceOf(shadowed).delete(shadowed);
      }
      throw keyNotFound(set, kid);
    });
  }

  async deleteKeySet(set: string): Promise<void> {
    checkSet(set);
    await this.#write(set, async (view) => {
      // What the token holds under the set's kids that is not a usable key goes too (a set with only that is not "missing").
      const leftovers = this.#hsm
        ? [
            ...new Set(
              view.problems.filter((p) => p.where === 'hsm' && p.kid !== '' && LEFTOVERS.has(p.kind)).map((p) => p.kid),
            ),
          ]
        : [];
      for (const kid of leftovers) await this.#hsm!.clearLeftovers(set, kid);
      if (view.entries.length === 0) {
        if (leftovers.length > 0) return;
        throw missing(view);
      }
      // Every key is attempted; the first failure is reported after the others were tried.
      const results = await Promise.allSettled(view.entries.map((e) => this.#sourceOf(e).delete(e)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
  }

  /**
   * Publishes a certificate chain (PEM, any order) with a key, replacing any it had: certificate
   * objects under its CKA_ID on the token, or sealed in the store (key-certificates.ts); refused
   * unless one certificate is the key's and the others certify it in turn (certificates.ts).
   */
  async importCertificate(set: string, kid: string, pem: string): Promise<CertificateImport> {
    checkSet(set);
    checkKid(kid);
    const offered = parseCertificateFile(pem); // ERR_CERT_INVALID before any lock
    return this.#write(set, async (view) => {
      const entry = view.entries.find((e) => e.kid === kid);
      if (!entry) throw keyNotFound(set, kid);
      const chain = chainForKey(entry, offered);
      await certificatePlace(entry, { token: this.#hsm?.token, store: this.#software.store }).write(chain);
      return importSummary(entry, chain);
    });
  }

  /** Removes a key's certificates (it is published without x5c); how many there were. */
  async removeCertificate(set: string, kid: string): Promise<number> {
    checkSet(set);
    checkKid(kid);
    return this.#write(set, async (view) => {
      const entry = view.entries.find((e) => e.kid === kid);
      if (!entry) throw keyNotFound(set, kid);
      return certificatePlace(entry, { token: this.#hsm?.token, store: this.#software.store }).remove();
    });
  }

  /** Changes the lifecycle of one key (rotation, retirement by hand). */
  async setLifecycle(set: string, kid: string, lifecycle: Lifecycle): Promise<void> {
    checkSet(set);
    checkKid(kid);
    await this.#write(set, async (view) => {
      const entry = view.entries.find((e) => e.kid === kid);
      if (!entry) throw keyNotFound(set, kid);
      await this.#sourceOf(entry).setLifecycle(entry, lifecycle);
    });
  }

  async signer(set: string, kid?: string): Promise<Signer> {
    checkSet(set);
    const now = this.#clock();
    const cached = await this.#views.get(set);
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

  async signJwt(set: string, claims: Record<string, unknown>, options: SignJwtOptions = {}): Promise<string> {
    return signCompactJwt(await this.signer(set, options.kid), this.#bounded(claims), options.header);
  }

  /** The claims with an `exp` no later than the longest token lifetime allows. */
  #bounded(claims: Record<string, unknown>): Record<string, unknown> {
    if (this.#maxLifetimeMs === undefined) return claims;
    const latest = Math.floor((this.#clock() + this.#maxLifetimeMs) / 1000);
    if (claims.exp === undefined) return { ...claims, exp: latest };
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp))
      throw new KeyManagerError('ERR_TOKEN_LIFETIME', '"exp" must be a NumericDate (seconds since the epoch)');
    if (claims.exp > latest) {
      throw new KeyManagerError(
        'ERR_TOKEN_LIFETIME',
        `"exp" is more than TOKEN_MAX_LIFETIME (${this.#maxLifetimeMs / 1000} s) ahead: retired keys are unpublished on that promise`,
      );
    }
    return claims;
  }

  async list(): Promise<KeyInfo[]> {
    const now = this.#clock();
    const out: KeyInfo[] = [];
    for (const set of await this.sets()) {
      for (const e of (await this.#view(set)).entries) {
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
    const hsm = this.#hsm;
    try {
      return hsm ? { uri: hsm.token.uri({ label: hsm.label(set), id: idFromKid(kid), type: 'private' }) } : {};
    } catch {
      return {}; // a kid no CKA_ID maps to (an empty CKA_ID): no URI
    }
  }

  /** Every set on the token (with the prefix) or in the store. */
  async sets(): Promise<string[]> {
    const all = await Promise.all(this.#sources.map((s) => s.sets()));
    return [...new Set(all.flat())].sort();
  }

  /** What cannot be published or used, in every set (for doctor, logs and metrics). */
  async problems(): Promise<KeyProblem[]> {
    const out: KeyProblem[] = [];
    for (const set of await this.sets()) out.push(...(await this.#view(set)).problems);
    return out;
  }

  /** The state of every key of a set at this ring's clock (for the rotator). */
  async keys(set: string): Promise<Array<KeyEntry & { state: ReturnType<typeof stateAt> }>> {
    const now = this.#clock();
    return (await this.#view(checkSet(set))).entries.map((e) => ({ ...e, state: stateOf(e, now) }));
  }

  now(): number {
    return this.#clock();
  }

  stats(): Record<string, number> {
    let problems = 0;
    for (const n of this.#problemCounts.values()) problems += n;
    return { ...this.#software.stats(), ...(this.#hsm?.stats() ?? {}), hsm_jwks_key_problems: problems };
  }

  /** Calls `listener(set)` when another process or instance changed the set (the store's freshness bound). */
  onChange(listener: (set: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  invalidate(set?: string): void {
    if (set === undefined) this.#views.clear();
    else this.#views.drop(set);
  }

  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#software.store.withLock(name, fn);
  }

  async close(): Promise<void> {
    this.#unwatch();
    this.#views.clear();
    await Promise.all([this.#hsm?.close(), this.#software.close()]);
  }

  async #view(set: string): Promise<SetView> {
    return (await this.#views.get(set)).view;
  }

  async #load(set: string): Promise<CachedView> {
    const view = await readSetView(set, this.#sources);
    this.#problemCounts.set(set, view.problems.length);
    for (const p of view.problems) {
      const key = `${p.set}\u0000${p.kid}\u0000${p.kind}\u0000${p.where}`;
      if (this.#reported.has(key)) continue;
      this.#reported.add(key);
      this.#log.warn(`${p.kind.startsWith('certificate-') ? 'a certificate' : 'a key'} is not published: ${p.kind}`, {
        set: p.set,
        kid: p.kid,
        where: p.where,
        detail: p.detail,
        ...(p.repair ? { repair: p.repair } : {}),
      });
    }
    return { view, signers: new Map() };
  }

  /**
   * A write: under the set's lock (every process and instance), on a fresh view; then the view is
   * dropped here and announced elsewhere. A write that introduces kids also holds the kid lock,
   * so that "is this kid free?" and making the key are one step across sets and processes.
   */
  async #write<T>(set: string, fn: (view: SetView) => Promise<T>, options: { newKids?: boolean } = {}): Promise<T> {
    return this.withLock(`set:${set}`, async () => {
      this.#views.drop(set);
      try {
        const run = async () => fn(await this.#view(set));
        return await (options.newKids ? this.withLock('kids', run) : run());
      } finally {
        this.#views.drop(set);
        await this.#software.store
          .touch(set)
          .catch((e: unknown) =>
            this.#log.warn('a key change could not be announced', { set, code: (e as { code?: string }).code }),
          );
      }
    });
  }

  async #import(
    set: string,
    validate: () => Promise<ValidatedKey[]>,
    mode: 'add' | 'upsert' | 'replace',
  ): Promise<void> {
    const keys = await validate();
    const secret = keys.find((k) => k.publicJwk === undefined);
    if (secret && this.#published.has(set)) throw notPublishable(set, secret.alg);
    await this.#write(
      set,
      async (view) => {
        const now = this.#clock();
        // Keys being replaced do not count as the set's signing key; any other key that signs does.
        const replaced = new Set(
          mode === 'replace'
            ? view.entries.filter((e) => e.where === 'software').map((e) => e.kid)
            : keys.map((k) => k.kid),
        );
        const staying: SetView = {
          ...view,
          entries: view.entries.filter((e) => !(e.where === 'software' && replaced.has(e.kid))),
        };
        await this.#checkKidsFree(
          keys.map((k) => k.kid),
          mode === 'add' ? undefined : { set, where: 'software' },
        );
        const rows = importRows(set, keys, view, mode, new Date(now), this.#initialLifecycle(staying, now, false));
        await this.#software.write(set, rows, mode);
      },
      { newKids: true },
    );
  }

  /** ERR_KEY_EXISTS when any set, on the token or in the store, has one of these kids (except what the write replaces: `replacing`). */
  async #checkKidsFree(kids: readonly string[], replacing?: { set: string; where: KeyEntry['where'] }): Promise<void> {
    for (const s of this.#sources) {
      for (const [kid, held] of await s.setsWithKids(kids)) {
        const sets = held.filter((set) => !(s.where === replacing?.where && set === replacing.set));
        if (sets.length > 0) {
          throw new KeyManagerError(
            'ERR_KEY_EXISTS',
            `kid ${JSON.stringify(kid)} is already used by a key ${s.where === 'hsm' ? 'on the token' : 'in the software store'} in JSON Web Key Set ${JSON.stringify(sets[0])}: a kid names one key`,
          );
        }
      }
    }
  }

  /** Active at once in a set that has no signing key; else published for publishAheadMs first. */
  #initialLifecycle(view: SetView, now: number, activateNow: boolean | undefined): Lifecycle {
    if (activateNow || !signingKey(view, now)) return {};
    return { activateAt: new Date(now + this.#publishAheadMs) };
  }

  #sourceOf(e: KeyEntry): KeySource {
    return this.#sourceByWhere(e.where);
  }

  #sourceByWhere(where: KeyEntry['where']): KeySource {
    if (where === 'hsm') {
      if (!this.#hsm) throw new Error('an HSM key without an HSM source');
      return this.#hsm;
    }
    return this.#software;
  }

  /**
   * The entry's signer; when the token says its key is gone (destroyed, or a token re-created
   * without it), the set's view is dropped so the next request reads the token again. No retry
   * here: the token layer has already recovered and retried what can be (one executor, one policy).
   */
  #dropViewWhenGone(set: string, entry: KeyEntry): Signer {
    const inner = this.#sourceOf(entry).signer(entry);
    if (entry.where !== 'hsm') return inner;
    const dropped = (e: unknown): never => {
      if (isStaleKeyError(e)) this.#views.drop(set);
      throw e;
    };
    return {
      kid: inner.kid,
      alg: inner.alg,
      publicJwk: inner.publicJwk,
      sign: (data: Uint8Array) => inner.sign(data).catch(dropped),
    };
  }

  /**
   * Whether the token layer can serve, from the state it keeps (at most one C_GetTokenInfo a
   * second, never a key scan): not ready while the token is unavailable or refuses logins.
   */
  async ready(): Promise<Readiness> {
    if (!this.#hsm) return { ready: true };
    const hsm = await this.#hsm.probe();
    return { ready: hsm.state === 'ready', hsm };
  }

  /**
   * An operator's act after ERR_LOGIN_REFUSED: one more login, with `pin` when given (a new PIN
   * from HSM_PIN_FILE). Throws ERR_LOGIN_REFUSED when the token refuses it again.
   */
  async resumeLogins(pin?: string): Promise<void> {
    if (!this.#hsm)
      throw new KeyManagerError('ERR_HSM_NOT_CONFIGURED', 'there is no Hardware Security Module to log in to');
    await this.#hsm.resumeLogins(pin);
  }
}
