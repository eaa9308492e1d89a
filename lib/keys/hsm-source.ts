// The token as a key source. CKA_LABEL = prefix + set, CKA_ID = the kid's bytes (kid.ts, a
// bijection), and what the token does not say by itself (alg, use, creation time, lifecycle) in
// a companion record on the token (hsm-metadata.ts). Reading a set is hsm-reading.ts (with the
// migration of records from the store, hsm-migration.ts), generation hsm-generation.ts (all or
// nothing); here: the sets, deletes and leftovers, lifecycle, signing, the token's state and gauges.
import { ENC_ALG, type KeyPairAlg } from '../jose/algorithms';
import { thumbprintOf } from '../jose/jwk';
import { hsmSigner } from '../jose/hsm-signer';
import { idFromKid } from '../jose/kid';
import type { Signer } from '../jose/signer';
import { silentLogger, type Logger } from '../logger';
import type { Token, TokenHealth } from '../pkcs11/token';
import type { KeyStore } from '../store/key-store';
import { KeyManagerError } from './errors';
import { hex, isHsmEntry, type HsmContext } from './hsm-entry';
import { generateOnToken } from './hsm-generation';
import { currentRecord, METADATA_APPLICATION, type KeyMetadata } from './hsm-metadata';
import { HsmRecords } from './hsm-records';
import { readHsmSet } from './hsm-reading';
import { dropTokenCertificates } from './key-certificates';
import type { KeyEntry } from './key-entry';
import type { KeySource, NewKey, SetReading } from './key-source';
import type { Lifecycle } from './lifecycle';

export { type HsmEntry, isHsmEntry, isStaleKeyError } from './hsm-entry';
export { allowedMechanismsFor } from './hsm-generation';

export class HsmKeySource implements KeySource {
  readonly where = 'hsm' as const;
  readonly #ctx: HsmContext;
  readonly #prefix: string;
  readonly #closeWith: (() => Promise<void>) | undefined;

  constructor(
    token: Token,
    options: { prefix?: string; store?: KeyStore; logger?: Logger; closeWith?: () => Promise<void> } = {},
  ) {
    const prefix = options.prefix ?? '';
    const log = options.logger ?? silentLogger;
    this.#prefix = prefix;
    this.#closeWith = options.closeWith;
    this.#ctx = {
      token,
      store: options.store,
      log,
      records: new HsmRecords(token, options.store, log),
      label: (set) => prefix + set,
    };
  }

  get token(): Token {
    return this.#ctx.token;
  }

  label(set: string): string {
    return this.#ctx.label(set);
  }

  /** The set's keys on the token (hsm-reading.ts). */
  read(set: string): Promise<SetReading> {
    return readHsmSet(this.#ctx, set);
  }

  async sets(): Promise<string[]> {
    const [pairs, records, stored] = await Promise.all([
      this.#ctx.token.findKeyPairs(),
      this.#ctx.token.findDataObjects({ application: METADATA_APPLICATION }),
      this.#ctx.store ? this.#ctx.store.hsmRecordSets() : Promise.resolve([]),
    ]);
    const labels = [...pairs.map((p) => p.label), ...records.map((r) => r.label)];
    const sets = labels.filter((l) => l.startsWith(this.#prefix)).map((l) => l.slice(this.#prefix.length));
    return [...new Set([...sets, ...stored])].filter((s) => s.length > 0);
  }

  /**
   * The sets that hold each kid on the token: one listing of the private keys' ids and labels (a
   * search per kid would scan every object on the token once per kid: 10 s for a set of 50 kids
   * with 1,000 keys on SoftHSM).
   */
  async setsWithKids(kids: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (kids.length === 0) return out;
    const wanted = new Map(kids.map((kid) => [idFromKid(kid).toString('hex'), kid]));
    for (const { id, label } of await this.#ctx.token.privateKeyIds()) {
      const kid = wanted.get(id.toString('hex'));
      if (kid === undefined || !label.startsWith(this.#prefix)) continue;
      const sets = out.get(kid) ?? [];
      const set = label.slice(this.#prefix.length);
      if (!sets.includes(set)) sets.push(set);
      out.set(kid, sets);
    }
    return out;
  }

  /** All or nothing (hsm-generation.ts). */
  generate(key: NewKey, onProgress?: (message: string) => void): Promise<KeyEntry> {
    return generateOnToken(this.#ctx, key, onProgress);
  }

  async delete(entry: KeyEntry): Promise<void> {
    if (!isHsmEntry(entry)) throw new TypeError('not an HSM key');
    await this.#ctx.token.destroyKeyPair(entry.pair);
    await dropTokenCertificates(this.#ctx.token, entry.pair, { set: entry.set, kid: entry.kid }, this.#ctx.log);
    await this.forgetMetadata(entry.set, entry.kid).catch((e: unknown) => {
      // The key is gone; records left behind are reported as metadata-without-key and cleared by a delete.
      this.#ctx.log.warn('key metadata could not be removed after its key', {
        set: entry.set,
        kid: entry.kid,
        code: (e as { code?: string }).code,
      });
    });
  }

  /** Removes the metadata records of a kid whose pair is gone. */
  async forgetMetadata(set: string, kid: string): Promise<number> {
    const list = (await this.#ctx.records.read(set, this.#ctx.label(set))).byId.get(hex(idFromKid(kid))) ?? [];
    for (const r of list) await this.#ctx.records.remove(r);
    return list.length;
  }

  /**
   * Everything the token holds in this set under this kid that is not a usable key: an interrupted
   * generation (pending record, maybe its pair), records of a lost key, or a pair that is not the
   * one recorded. For `keys delete`, which names exactly this (set, kid).
   */
  async clearLeftovers(set: string, kid: string): Promise<boolean> {
    const label = this.#ctx.label(set);
    const id = idFromKid(kid);
    const list = (await this.#ctx.records.read(set, label)).byId.get(hex(id)) ?? [];
    const pairs = await this.#ctx.token.findKeyPairs({ label, id });
    if (list.length === 0 && pairs.length === 0) return false;
    for (const pair of pairs) await this.#ctx.token.destroyKeyPair(pair);
    if (pairs.length > 0) await dropTokenCertificates(this.#ctx.token, pairs[0]!, { set, kid }, this.#ctx.log);
    for (const r of list) await this.#ctx.records.remove(r);
    this.#ctx.log.info('removed what the token held under a kid that was not a usable key', {
      set,
      kid,
      pairs: pairs.length,
      records: list.length,
    });
    return true;
  }

  async setLifecycle(entry: KeyEntry, lifecycle: Lifecycle): Promise<void> {
    if (!isHsmEntry(entry)) throw new TypeError('not an HSM key');
    const label = this.#ctx.label(entry.set);
    const list = (await this.#ctx.records.read(entry.set, label)).byId.get(hex(entry.pair.id)) ?? [];
    const current = currentRecord(list);
    const meta: KeyMetadata = current
      ? { ...current.meta, lifecycle, rev: current.meta.rev + 1, pending: false }
      : {
          id: hex(entry.pair.id),
          alg: entry.alg as KeyMetadata['alg'], // a key pair's: never an HMAC alg
          use: entry.use,
          createdAt: undefined,
          lifecycle,
          rev: 1,
          pending: false,
          thumbprint: thumbprintOf(entry.publicJwk),
        }; // a foreign key adopted
    await this.#ctx.records.replace(entry.set, label, entry.kid, list, meta);
  }

  signer(entry: KeyEntry): Signer {
    if (!isHsmEntry(entry)) throw new TypeError('not an HSM key');
    if (entry.use !== 'sig' || entry.alg === ENC_ALG) {
      throw new KeyManagerError(
        'ERR_NO_SIGNING_KEY',
        `key ${JSON.stringify(entry.kid)} of JSON Web Key Set ${JSON.stringify(entry.set)} is for ${entry.use}`,
      );
    }
    return hsmSigner(this.#ctx.token, entry.pair, { kid: entry.kid, alg: entry.alg as KeyPairAlg });
  }

  /** The token's state (no call), after at most one C_GetTokenInfo a second: for readiness probes. */
  probe(): Promise<TokenHealth> {
    return this.#ctx.token.probe();
  }

  /** An operator's act after a refused login (see Token.resumeLogins). */
  resumeLogins(pin?: string): Promise<void> {
    return this.#ctx.token.resumeLogins(pin);
  }

  stats(): Record<string, number> {
    const { pool, engine, recoveries } = this.#ctx.token.stats();
    const health = this.#ctx.token.health();
    return {
      hsm_jwks_token_ready: health.state === 'ready' ? 1 : 0,
      hsm_jwks_token_unavailable: health.state === 'unavailable' ? 1 : 0,
      hsm_jwks_token_login_refused: health.state === 'login-refused' ? 1 : 0,
      hsm_jwks_token_logins_total: health.logins,
      hsm_jwks_pool_sessions_open: pool.open,
      hsm_jwks_pool_sessions_in_use: pool.inUse,
      hsm_jwks_pool_waiting: pool.waiting,
      hsm_jwks_pool_sessions_evicted_total: pool.evicted,
      hsm_jwks_relogins_total: recoveries.relogins,
      hsm_jwks_engine_replacements_total: recoveries.engineReplacements,
      hsm_jwks_retries_total: recoveries.retries,
      hsm_jwks_reinitializations_total: recoveries.reinitializations,
      hsm_jwks_key_lookups_total: recoveries.keyLookups,
      ...(engine
        ? {
            hsm_jwks_engine_queued: engine.queued,
            hsm_jwks_engine_outstanding: engine.outstanding,
            hsm_jwks_engine_signatures_total: engine.completed,
            hsm_jwks_engine_workers: engine.workers,
            hsm_jwks_engine_limit: engine.limit,
            hsm_jwks_engine_in_flight: engine.running,
            hsm_jwks_engine_sign_latency_seconds_total: engine.signLatencyUsSum / 1e6,
            hsm_jwks_engine_sign_latency_count: engine.signLatencyCount,
            ...(engine.adaptive
              ? {
                  hsm_jwks_engine_latency_ms: engine.adaptive.latencyMs,
                  hsm_jwks_engine_min_latency_ms: engine.adaptive.minLatencyMs,
                }
              : {}),
          }
        : {}),
    };
  }

  async close(): Promise<void> {
    await this.#closeWith?.();
  }
}
