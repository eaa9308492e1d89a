// HsmKeyManager: key sets kept on a PKCS#11 token. CKA_LABEL = prefix + set name, CKA_ID = kid
// (UTF-8 bytes; read back as text when printable, else hex: see kidFromId). Keys are generated on
// the token and never imported: add/update are refused. Public JWKs and key handles are cached per
// set; writes and stale handles refresh the cache.
import { randomUUID } from 'node:crypto';

import type { JwsAlg } from '../jose/algorithms';
import { hsmSigner } from '../jose/hsm-signer';
import { idsForKid, kidFromId, publicJwkFromKeyPair, type PublicJwk } from '../jose/jwk';
import { signJwt as signCompactJwt } from '../jose/jws';
import type { Signer } from '../jose/signer';
import { silentLogger, type Logger } from '../logger';
import { CKM } from '../pkcs11/constants';
import { KeyDestroyedError, KeyGoneError, MechanismUnsupportedError, Pkcs11Error } from '../pkcs11/errors';
import type { KeyPair } from '../pkcs11/key-pair';
import type { KeyUse } from '../pkcs11/key-spec';
import type { Token } from '../pkcs11/token';
import type { HsmKeyMeta, KeyStore } from '../store/key-store';
import { KeyManagerError, keyNotFound, setNotFound } from './errors';
import { checkGeneration } from './generation';
import type { GetOptions, JwkSet, KeyInfo, KeyManager, SignJwtOptions } from './key-manager';
import { checkKid, checkSet } from './names';
import { SetCache } from './set-cache';

export interface HsmKeyManagerOptions {
  /** Prepended to set names to form CKA_LABEL (HSM_KEY_SET_PREFIX); labels only. */
  prefix?: string;
  /** Where the creation time and alg of the keys we generate are kept (the newest key signs). */
  store?: KeyStore;
  logger?: Logger;
  /** Called by close(), e.g. to close the module this manager's token came from. */
  closeWith?: () => Promise<void>;
}

interface Entry {
  kid: string;
  pair: KeyPair;
  jwk: PublicJwk;
  createdAt?: Date;
}

/** The cached KeyPair no longer names the key: destroyed here, gone after a re-initialisation, or a stale handle. */
const isStale = (e: unknown) =>
  e instanceof KeyDestroyedError || e instanceof KeyGoneError || (e instanceof Pkcs11Error && e.category === 'object-stale');

export class HsmKeyManager implements KeyManager {
  readonly #token: Token;
  readonly #prefix: string;
  readonly #store: KeyStore | undefined;
  readonly #log: Logger;
  readonly #closeWith: (() => Promise<void>) | undefined;
  readonly #sets = new SetCache<Entry[]>((set) => this.#load(set));
  #localLock: Promise<unknown> = Promise.resolve();

  constructor(token: Token, options: HsmKeyManagerOptions = {}) {
    this.#token = token;
    this.#prefix = options.prefix ?? '';
    this.#store = options.store;
    this.#log = options.logger ?? silentLogger;
    this.#closeWith = options.closeWith;
  }

  async generateAndPersistKeySet(set: string, kid: string | undefined, alg: string, use: KeyUse = 'sig'): Promise<JwkSet> {
    checkSet(set);
    const { spec } = checkGeneration(alg, use);
    if (alg === 'EdDSA' && !(await this.#token.mechanisms()).some((m) => m.type === CKM.EDDSA)) {
      throw new MechanismUnsupportedError('EdDSA signatures (CKM_EDDSA)');
    }
    const id = kid === undefined ? randomUUID() : checkKid(kid);
    // A new key is added next to the existing ones: nothing is destroyed, before or after.
    const pair = await this.#token.generateKeyPair(spec, { label: this.#prefix + set, id: Buffer.from(id, 'utf8'), use });
    this.#sets.drop(set);
    await this.#store?.recordHsmKey(set, id, { createdAt: new Date(), alg });
    return { keys: [publicJwkFromKeyPair(pair, use === 'sig' ? { kid: id, alg: alg as JwsAlg } : { kid: id })] };
  }

  async addKey(): Promise<void> {
    throw preGenerated();
  }
  async addKeySet(): Promise<void> {
    throw preGenerated();
  }
  async updateKey(): Promise<void> {
    throw preGenerated();
  }
  async updateKeySet(): Promise<void> {
    throw preGenerated();
  }

  async getKey(set: string, kid: string, _options?: GetOptions): Promise<JwkSet> {
    const entry = await this.#entry(checkSet(set), checkKid(kid));
    return { keys: [{ ...entry.jwk }] };
  }

  async getKeySet(set: string, _options?: GetOptions): Promise<JwkSet> {
    const entries = await this.#entries(checkSet(set));
    if (entries.length === 0) throw setNotFound(set);
    return { keys: entries.map((e) => ({ ...e.jwk })) };
  }

  async deleteKey(set: string, kid: string): Promise<void> {
    const entry = await this.#entry(checkSet(set), checkKid(kid));
    try {
      await this.#token.destroyKeyPair(entry.pair);
    } finally {
      this.#sets.drop(set);
    }
    await this.#store?.forgetHsmKey(set, entry.kid);
  }

  async deleteKeySet(set: string): Promise<void> {
    const pairs = await this.#token.findKeyPairs({ label: this.#prefix + checkSet(set) });
    if (pairs.length === 0) throw setNotFound(set);
    // Every pair is attempted; the first failure is reported after the others were tried.
    const results = await Promise.allSettled(pairs.map((p) => this.#token.destroyKeyPair(p)));
    this.#sets.drop(set);
    for (const [i, r] of results.entries()) if (r.status === 'fulfilled') await this.#store?.forgetHsmKey(set, kidFromId(pairs[i]!.id));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async signer(set: string, kid?: string): Promise<Signer> {
    checkSet(set);
    const entries = kid === undefined ? await this.#entries(set) : [];
    if (kid === undefined && entries.length === 0) throw setNotFound(set);
    const entry = kid === undefined ? entries.find((e) => e.jwk.use === 'sig') : await this.#entry(set, checkKid(kid));
    if (!entry || entry.jwk.use !== 'sig') {
      throw new KeyManagerError('ERR_NO_SIGNING_KEY', `JSON Web Key Set ${JSON.stringify(set)} has no signing key${kid ? ` ${JSON.stringify(kid)}` : ''}`);
    }
    const inner = hsmSigner(this.#token, entry.pair, { kid: entry.kid, alg: entry.jwk.alg as JwsAlg });
    return {
      kid: inner.kid,
      alg: inner.alg,
      publicJwk: inner.publicJwk,
      sign: async (data: Uint8Array) => {
        try {
          return await inner.sign(data);
        } catch (e) {
          if (!isStale(e)) throw e;
          // The Token finds a key again by itself when only its handle changed; what reaches here
          // is a key it could not: re-created under the same kid, or gone. Refresh the set once.
          this.#sets.drop(set);
          const again = await this.#entry(set, entry.kid);
          return hsmSigner(this.#token, again.pair, { kid: again.kid, alg: inner.alg }).sign(data);
        }
      },
    };
  }

  async signJwt(set: string, claims: Record<string, unknown>, options: SignJwtOptions = {}): Promise<string> {
    return signCompactJwt(await this.signer(set, options.kid), claims, options.header);
  }

  async list(): Promise<KeyInfo[]> {
    const pairs = await this.#token.findKeyPairs();
    const sets = [...new Set(pairs.map((p) => p.label).filter((l) => l.startsWith(this.#prefix)))].map((l) => l.slice(this.#prefix.length));
    const out: KeyInfo[] = [];
    for (const set of sets.sort()) {
      for (const e of await this.#entries(set)) {
        out.push({ set, kid: e.kid, alg: e.jwk.alg, use: e.jwk.use, where: 'hsm', ...(e.createdAt ? { createdAt: e.createdAt } : {}) });
      }
    }
    return out;
  }

  stats(): Record<string, number> {
    const { pool, engine, recoveries } = this.#token.stats();
    return {
      hsm_jwks_pool_sessions_open: pool.open,
      hsm_jwks_pool_sessions_in_use: pool.inUse,
      hsm_jwks_pool_waiting: pool.waiting,
      hsm_jwks_pool_sessions_evicted_total: pool.evicted,
      hsm_jwks_relogins_total: recoveries.relogins,
      hsm_jwks_engine_replacements_total: recoveries.engineReplacements,
      hsm_jwks_retries_total: recoveries.retries,
      hsm_jwks_reinitializations_total: recoveries.reinitializations,
      hsm_jwks_key_lookups_total: recoveries.keyLookups,
      ...(engine ? { hsm_jwks_engine_queued: engine.queued, hsm_jwks_engine_outstanding: engine.outstanding, hsm_jwks_engine_signatures_total: engine.completed } : {}),
    };
  }

  invalidate(set?: string): void {
    if (set === undefined) this.#sets.clear();
    else this.#sets.drop(set);
  }

  /** With a store, its lock (shared by every instance using it); without one, this process only. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.#store) return this.#store.withLock(name, fn);
    const run = this.#localLock.then(fn, fn);
    this.#localLock = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.#sets.clear();
    await this.#closeWith?.();
  }

  async #entry(set: string, kid: string): Promise<Entry> {
    const cached = (await this.#entries(set)).find((e) => e.kid === kid);
    if (cached) return cached;
    // Not published (unmappable) or not there: look for the exact key, to say which.
    for (const id of idsForKid(kid)) {
      const [pair] = await this.#token.findKeyPairs({ label: this.#prefix + set, id });
      if (pair) return { kid, pair, jwk: publicJwkFromKeyPair(pair, { kid }) };
    }
    throw keyNotFound(set, kid);
  }

  /** The set's publishable keys, newest first (cached). */
  #entries(set: string): Promise<Entry[]> {
    return this.#sets.get(set);
  }

  async #load(set: string): Promise<Entry[]> {
    const [pairs, recorded] = await Promise.all([
      this.#token.findKeyPairs({ label: this.#prefix + set }),
      this.#store ? this.#store.hsmKeys(set) : Promise.resolve(new Map<string, HsmKeyMeta>()),
    ]);
    const entries: Entry[] = [];
    for (const pair of pairs) {
      const kid = kidFromId(pair.id);
      try {
        // The alg the key was generated for, when we made it; else the key's default (RS256, ES*).
        const meta = recorded.get(kid);
        const alg = meta && pair.canSign ? (meta.alg as JwsAlg) : undefined;
        const jwk = publicJwkFromKeyPair(pair, alg ? { kid, alg } : { kid });
        entries.push({ kid, pair, jwk, ...(meta ? { createdAt: meta.createdAt } : {}) });
      } catch (e) {
        // One foreign key that cannot be published does not take the set down with it.
        this.#log.warn('an HSM key cannot be published as a JWK and is skipped', {
          set,
          kid,
          label: pair.label,
          reason: (e as { code?: string }).code ?? String(e),
        });
      }
    }
    return entries.sort(newestFirst);
  }
}

/** Keys we generated (with a recorded time) first, newest first; then the others by kid, descending. */
function newestFirst(a: Entry, b: Entry): number {
  const ta = a.createdAt?.getTime() ?? -1;
  const tb = b.createdAt?.getTime() ?? -1;
  if (ta !== tb) return tb - ta;
  return a.kid < b.kid ? 1 : a.kid > b.kid ? -1 : 0;
}

function preGenerated(): KeyManagerError {
  return new KeyManagerError(
    'ERR_HSM_PREGENERATED_KEYS',
    'keys cannot be added to or updated on the Hardware Security Module; imports go to the software store',
  );
}
