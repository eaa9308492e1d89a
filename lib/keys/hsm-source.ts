// The token as a key source. CKA_LABEL = prefix + set, CKA_ID = the kid's bytes (kid.ts, a
// bijection), and what the token does not say by itself (alg, use, creation time, lifecycle) in
// a companion record on the token (hsm-metadata.ts). Generation is all or nothing: a pending
// record, the pair (its mechanism pinned by CKA_ALLOWED_MECHANISMS where the token takes it),
// then the complete record; any failure destroys what was made, and a pending record left by a
// crash is cleaned up by the next generation with that kid.
import { setTimeout as sleep } from 'node:timers/promises';

import { ENC_ALG, keyPairAlgInfo, type EncKeyAlg, type KeyPairAlg } from '../jose/algorithms';
import { publicJwkFromKeyPair, thumbprintOf, type PublicJwk } from '../jose/jwk';
import { hsmSigner } from '../jose/hsm-signer';
import { idFromKid, kidFromId } from '../jose/kid';
import type { Signer } from '../jose/signer';
import { silentLogger, type Logger } from '../logger';
import { CKM } from '../pkcs11/constants';
import { KeyDestroyedError, KeyGoneError, MechanismUnsupportedError, Pkcs11Error } from '../pkcs11/errors';
import type { KeyPair } from '../pkcs11/key-pair';
import type { KeyUse } from '../pkcs11/key-spec';
import type { Token, TokenHealth } from '../pkcs11/token';
import { KeyManagerError } from './errors';
import { checkGeneration, symmetricOnHsm } from './generation';
import type { KeyEntry, KeyProblem } from './key-entry';
import type { KeySource, NewKey, SetReading } from './key-source';
import { currentRecord, METADATA_APPLICATION, type KeyMetadata } from './hsm-metadata';
import { HsmRecords, type MetaRecord } from './hsm-records';
import { dropTokenCertificates, withTokenCertificates } from './key-certificates';
import type { Lifecycle } from './lifecycle';
import type { HsmKeyRecordRead, KeyStore } from '../store/key-store';
import { cliCommand } from './names';

/** The pause before a reading that found metadata without its key is taken again. */
const TORN_READ_PAUSE_MS = 100;

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

const HASHED: Record<string, { pkcs: number; pss: number }> = {
  'SHA-256': { pkcs: CKM.SHA256_RSA_PKCS, pss: CKM.SHA256_RSA_PKCS_PSS },
  'SHA-384': { pkcs: CKM.SHA384_RSA_PKCS, pss: CKM.SHA384_RSA_PKCS_PSS },
  'SHA-512': { pkcs: CKM.SHA512_RSA_PKCS, pss: CKM.SHA512_RSA_PKCS_PSS },
};

/** The one mechanism this key will sign (or decrypt) with on this token: CKA_ALLOWED_MECHANISMS. */
export function allowedMechanismsFor(alg: string, use: KeyUse, available: ReadonlySet<number>): number[] {
  if (use === 'enc') return [CKM.RSA_PKCS_OAEP];
  const m = keyPairAlgInfo(alg).mechanism;
  if (m.type === 'ECDSA') return [CKM.ECDSA];
  if (m.type === 'EdDSA') return [CKM.EDDSA];
  const hashed = HASHED[m.hash]!;
  if (m.type === 'RSA-PKCS1') return [available.has(hashed.pkcs) ? hashed.pkcs : CKM.RSA_PKCS];
  return [available.has(hashed.pss) ? hashed.pss : CKM.RSA_PKCS_PSS];
}

const hex = (id: Uint8Array) => Buffer.from(id).toString('hex');
const REPAIR_DAMAGED = `pkcs11-tool --login --list-objects --type data --application-label ${METADATA_APPLICATION}, then --delete-object the one that is not a JSON record, and generate or delete the key again`;

/** The thumbprint of the pair's public part (its default JWK: the thumbprint ignores alg and use). */
function pairThumbprint(pair: KeyPair): string | undefined {
  try {
    return thumbprintOf(publicJwkFromKeyPair(pair, pair.canSign ? { kid: 'x' } : { kid: 'x', use: 'enc' }));
  } catch {
    return undefined;
  }
}

export class HsmKeySource implements KeySource {
  readonly where = 'hsm' as const;
  readonly #token: Token;
  readonly #prefix: string;
  readonly #store: KeyStore | undefined;
  readonly #log: Logger;
  readonly #closeWith: (() => Promise<void>) | undefined;
  readonly #records: HsmRecords;

  constructor(
    token: Token,
    options: { prefix?: string; store?: KeyStore; logger?: Logger; closeWith?: () => Promise<void> } = {},
  ) {
    this.#token = token;
    this.#prefix = options.prefix ?? '';
    this.#store = options.store;
    this.#log = options.logger ?? silentLogger;
    this.#closeWith = options.closeWith;
    this.#records = new HsmRecords(token, options.store, this.#log);
  }

  get token(): Token {
    return this.#token;
  }

  label(set: string): string {
    return this.#prefix + set;
  }

  /**
   * The set's keys on the token. Key objects and metadata records are found concurrently, so a key
   * another process makes between the two finds shows as metadata without its key: such a reading
   * is taken again once before it counts (a key really gone stays gone). Seen with two instances
   * starting on one SoftHSM token.
   */
  async read(set: string): Promise<SetReading> {
    let reading = await this.#readOnce(set);
    if (reading.problems.some((p) => p.kind === 'metadata-without-key')) {
      await sleep(TORN_READ_PAUSE_MS);
      reading = await this.#readOnce(set);
    }
    return withTokenCertificates(this.#token, reading); // x5c: read with the set, cached with its view
  }

  async #readOnce(set: string): Promise<SetReading> {
    const label = this.label(set);
    const [pairs, { byId: records, unreadable, damaged, legacy }, orphans] = await Promise.all([
      this.#token.findKeyPairs({ label }),
      this.#records.read(set, label),
      this.#token.findOrphanPublicKeys({ label }),
    ]);
    await this.#migrateLegacy(set, label, pairs, records, legacy);
    const entries: HsmEntry[] = [];
    const problems: KeyProblem[] = [];
    const problem = (kind: KeyProblem['kind'], kid: string, detail: string, repair?: string) =>
      problems.push({ kind, set, kid, where: 'hsm', detail, ...(repair ? { repair } : {}) });
    const byId = new Map<string, KeyPair[]>();
    for (const p of pairs) byId.set(hex(p.id), [...(byId.get(hex(p.id)) ?? []), p]);
    for (const [idHex, same] of byId) {
      const kid = kidFromId(same[0]!.id);
      const record = currentRecord(records.get(idHex) ?? []);
      if (same.length > 1) {
        problem(
          'duplicate-id',
          kid,
          `${same.length} private keys have CKA_ID ${idHex}: none is published`,
          `pkcs11-tool --login --list-objects --type privkey --id ${idHex}, then --delete-object the one that does not belong`,
        );
        continue;
      }
      const pair = same[0]!;
      const sealFailure = record ? undefined : unreadable.get(idHex);
      if (sealFailure) {
        problem(
          'metadata-invalid',
          kid,
          `its metadata record in the store does not open: ${sealFailure}`,
          'check SECRETS_SYSTEM; a record edited outside the seal stays refused',
        );
        continue;
      }
      if (!record && damaged > 0) {
        problem(
          'metadata-invalid',
          kid,
          `${damaged} metadata object(s) of this set on the token cannot be read (edited, or of another version), and this key has no readable one: it may be theirs`,
          REPAIR_DAMAGED,
        );
        continue;
      }
      const meta = record?.meta;
      if (meta && !meta.pending && meta.thumbprint !== undefined && meta.thumbprint !== pairThumbprint(pair)) {
        // Not the key we made under this id: re-created by another tool, or its public object replaced. Never published as ours.
        problem(
          'metadata-invalid',
          kid,
          'the key on the token is not the one recorded for this kid (its public key differs): re-created by another tool, or its public object replaced',
          `${cliCommand('keys delete', [set, kid])}   (destroys what the token holds under this kid)`,
        );
        continue;
      }
      if (meta?.pending) {
        problem(
          'incomplete-generation',
          kid,
          'its generation did not finish; generating the same kid again replaces it',
          cliCommand('keys delete', [set, kid]),
        );
        continue;
      }
      const extra = pair.problems.includes('public-key-ambiguous') || pair.problems.includes('public-key-mismatch');
      const repairPublic = `pkcs11-tool --login --list-objects --type pubkey --id ${idHex}, then --delete-object --type pubkey the one that does not belong`;
      if (extra && !pair.publicKeyData) {
        problem(
          'public-key-ambiguous',
          kid,
          `several public objects have CKA_ID ${idHex}, or its public object belongs to another key: none is used`,
          repairPublic,
        );
        continue;
      }
      if (extra)
        problem(
          'extra-public-object',
          kid,
          `published with its own public part; another public object has CKA_ID ${idHex}`,
          repairPublic,
        );
      try {
        entries.push(this.#entry(set, kid, pair, meta));
      } catch (e) {
        const code = (e as { code?: string }).code ?? 'error';
        if (!pair.publicKeyData) problem('public-key-missing', kid, `${code}: ${(e as Error).message}`);
        else if (!meta) problem('unsupported-key', kid, `${code}: ${(e as Error).message}`);
        else problem('metadata-invalid', kid, `${code}: ${(e as Error).message}`);
      }
    }
    for (const [idHex, list] of records) {
      if (byId.has(idHex)) continue;
      const kid = kidFromId(Buffer.from(idHex, 'hex'));
      const pending = list.every((r) => r.meta.pending);
      problem(
        pending ? 'incomplete-generation' : 'metadata-without-key',
        kid,
        pending
          ? 'a generation stopped before the key pair existed'
          : 'metadata of a key that is no longer on the token',
        cliCommand('keys delete', [set, kid]),
      );
    }
    if (damaged > 0)
      problem(
        'metadata-invalid',
        '',
        `${damaged} metadata object(s) of this set on the token cannot be read (edited, or of another version)`,
        REPAIR_DAMAGED,
      );
    for (const o of orphans) {
      // The reads are not one snapshot: a public object seen before its private key existed is
      // not an orphan when the pair (or a generation's record) is there now.
      if (byId.has(hex(o.id)) || records.has(hex(o.id))) continue;
      problem(
        'orphan-public-key',
        kidFromId(o.id),
        `a public key object without its private key (CKA_ID ${hex(o.id)})`,
        `pkcs11-tool --login --delete-object --type pubkey --id ${hex(o.id)}`,
      );
    }
    return { entries, problems };
  }

  #entry(set: string, kid: string, pair: KeyPair, meta: KeyMetadata | undefined): HsmEntry {
    if (!meta) {
      // Made by another tool: the key's own default alg, no time, active.
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

  /**
   * Keys generated by earlier versions had their alg and creation time in the store's hsm_keys
   * table: written to the token once, then forgotten by the store.
   */
  async #migrateLegacy(
    set: string,
    label: string,
    pairs: KeyPair[],
    records: Map<string, MetaRecord[]>,
    legacy: readonly HsmKeyRecordRead[],
  ): Promise<void> {
    if (!this.#store) return;
    const missing = pairs.filter((p) => !records.has(hex(p.id)));
    if (missing.length === 0 || legacy.length === 0) return;
    for (const pair of missing) {
      const kid = kidFromId(pair.id);
      const old = legacy.find(
        (r) => r.kid === kid || Buffer.from(r.kid, 'utf8').equals(pair.id) || r.kid === hex(pair.id),
      );
      if (!old) continue;
      const use: KeyUse = pair.canSign ? 'sig' : 'enc';
      const alg = use === 'enc' ? ENC_ALG : (old.alg as KeyPairAlg);
      try {
        const jwk = publicJwkFromKeyPair(pair, use === 'sig' ? { kid, alg } : { kid }); // the recorded alg must fit the key
        const meta: KeyMetadata = {
          id: hex(pair.id),
          alg,
          use,
          createdAt: old.createdAt,
          lifecycle: old.lifecycle,
          rev: 1,
          pending: false,
          thumbprint: thumbprintOf(jwk),
          migrated: true,
        };
        const written = await this.#records.write(set, label, kid, meta);
        records.set(meta.id, [written]);
        if (written.on === 'token' || old.kid !== kid) await this.#store.forgetHsmKey(set, old.kid); // in the store, the row was sealed in place
        this.#log.info('HSM key metadata moved from the store to the token', { set, kid });
      } catch (e) {
        this.#log.warn('HSM key metadata could not be moved to the token', {
          set,
          kid,
          code: (e as { code?: string }).code,
        });
      }
    }
  }

  async sets(): Promise<string[]> {
    const [pairs, records, stored] = await Promise.all([
      this.#token.findKeyPairs(),
      this.#token.findDataObjects({ application: METADATA_APPLICATION }),
      this.#store ? this.#store.hsmRecordSets() : Promise.resolve([]),
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
    for (const { id, label } of await this.#token.privateKeyIds()) {
      const kid = wanted.get(id.toString('hex'));
      if (kid === undefined || !label.startsWith(this.#prefix)) continue;
      const sets = out.get(kid) ?? [];
      const set = label.slice(this.#prefix.length);
      if (!sets.includes(set)) sets.push(set);
      out.set(kid, sets);
    }
    return out;
  }

  async generate(key: NewKey, onProgress?: (message: string) => void): Promise<KeyEntry> {
    const generation = checkGeneration(key.alg, key.use);
    if (generation.kind === 'secret') throw symmetricOnHsm(key.alg); // the key ring refuses it first; never on the token
    const { spec, use } = generation;
    const available = new Set((await this.#token.mechanisms()).map((m) => m.type));
    if (key.alg === 'EdDSA' && !available.has(CKM.EDDSA))
      throw new MechanismUnsupportedError('EdDSA signatures (CKM_EDDSA)');
    const id = idFromKid(key.kid);
    const label = this.label(key.set);
    await this.#clearInterrupted(key.set, label, id);
    // A public object left with this id (a crash, a half-deleted pair) would make the new pair ambiguous.
    if ((await this.#token.findOrphanPublicKeys()).some((o) => o.id.equals(id))) {
      throw new KeyManagerError(
        'ERR_KEY_EXISTS',
        `a public key object with CKA_ID ${hex(id)} (kid ${JSON.stringify(key.kid)}) is on the token without its private key; remove it first: pkcs11-tool --login --delete-object --type pubkey --id ${hex(id)}`,
      );
    }
    const meta: KeyMetadata = {
      id: hex(id),
      alg: key.alg as KeyMetadata['alg'],
      use,
      createdAt: key.createdAt,
      lifecycle: key.lifecycle,
      rev: 0,
      pending: true,
    };
    const pending = [await this.#records.write(key.set, label, key.kid, meta)];
    let pair: KeyPair | undefined;
    try {
      if (spec.type === 'rsa')
        onProgress?.(`generating an RSA-${spec.bits} key pair on the token (this takes seconds)...`);
      pair = await this.#token.generateKeyPair(spec, {
        label,
        id,
        use,
        allowedMechanisms: allowedMechanismsFor(key.alg, use, available),
      });
      let kid = key.kid;
      let entry = this.#entry(key.set, kid, pair, { ...meta, pending: false }); // the alg must fit what the token made
      const thumbprint = thumbprintOf(entry.publicJwk);
      if (key.thumbprintKid) {
        // Renamed under a pending record of its new kid: whenever it stops, an interrupted
        // generation is left (never published, cleared by doctor or a retry), not a key without metadata.
        kid = thumbprint;
        pending.push(await this.#records.write(key.set, label, kid, { ...meta, id: hex(idFromKid(kid)) }));
        pair = await this.#token.setKeyPairId(pair, idFromKid(kid));
        entry = this.#entry(key.set, kid, pair, { ...meta, id: hex(idFromKid(kid)), pending: false });
      }
      const complete: KeyMetadata = { ...meta, id: hex(idFromKid(kid)), rev: 1, pending: false, thumbprint };
      await this.#records.replace(key.set, label, kid, pending, complete);
      return entry;
    } catch (e) {
      await this.#rollBack(key, pair, pending, e);
      throw e;
    }
  }

  /** Undoes a failed generation; when that fails too, says what is left (doctor reports it, and a retry clears it). */
  async #rollBack(key: NewKey, pair: KeyPair | undefined, pending: MetaRecord[], cause: unknown): Promise<void> {
    const left: string[] = [];
    if (pair) await this.#token.destroyKeyPair(pair).catch(() => left.push('the key pair'));
    for (const r of pending) await this.#records.remove(r).catch(() => left.push('a pending metadata record'));
    if (left.length > 0) {
      throw new KeyManagerError(
        'ERR_GENERATION_ROLLBACK_FAILED',
        `generating ${JSON.stringify(key.kid)} in ${JSON.stringify(key.set)} failed (${(cause as { code?: string }).code ?? 'error'}), and ${left.join(' and ')} could not be removed; it is not published, and generating the same kid again removes it`,
        { cause },
      );
    }
  }

  /** What an interrupted generation of this id left (a pending record, and maybe its pair) is removed. */
  async #clearInterrupted(set: string, label: string, id: Buffer): Promise<void> {
    const list = (await this.#records.read(set, label)).byId.get(hex(id)) ?? [];
    if (list.length === 0 || list.some((r) => !r.meta.pending)) return; // nothing, or a complete key: the token refuses the id
    for (const pair of await this.#token.findKeyPairs({ label, id })) await this.#token.destroyKeyPair(pair);
    for (const r of list) await this.#records.remove(r);
    this.#log.info('removed what an interrupted generation left on the token', { label, id: hex(id) });
  }

  async delete(entry: KeyEntry): Promise<void> {
    if (!isHsmEntry(entry)) throw new TypeError('not an HSM key');
    await this.#token.destroyKeyPair(entry.pair);
    await dropTokenCertificates(this.#token, entry.pair, { set: entry.set, kid: entry.kid }, this.#log);
    await this.forgetMetadata(entry.set, entry.kid).catch((e: unknown) => {
      // The key is gone; records left behind are reported as metadata-without-key and cleared by a delete.
      this.#log.warn('key metadata could not be removed after its key', {
        set: entry.set,
        kid: entry.kid,
        code: (e as { code?: string }).code,
      });
    });
  }

  /** Removes the metadata records of a kid whose pair is gone. */
  async forgetMetadata(set: string, kid: string): Promise<number> {
    const list = (await this.#records.read(set, this.label(set))).byId.get(hex(idFromKid(kid))) ?? [];
    for (const r of list) await this.#records.remove(r);
    return list.length;
  }

  /**
   * Everything the token holds in this set under this kid that is not a usable key: an interrupted
   * generation (pending record, maybe its pair), records of a lost key, or a pair that is not the
   * one recorded. For `keys delete`, which names exactly this (set, kid).
   */
  async clearLeftovers(set: string, kid: string): Promise<boolean> {
    const label = this.label(set);
    const id = idFromKid(kid);
    const list = (await this.#records.read(set, label)).byId.get(hex(id)) ?? [];
    const pairs = await this.#token.findKeyPairs({ label, id });
    if (list.length === 0 && pairs.length === 0) return false;
    for (const pair of pairs) await this.#token.destroyKeyPair(pair);
    if (pairs.length > 0) await dropTokenCertificates(this.#token, pairs[0]!, { set, kid }, this.#log);
    for (const r of list) await this.#records.remove(r);
    this.#log.info('removed what the token held under a kid that was not a usable key', {
      set,
      kid,
      pairs: pairs.length,
      records: list.length,
    });
    return true;
  }

  async setLifecycle(entry: KeyEntry, lifecycle: Lifecycle): Promise<void> {
    if (!isHsmEntry(entry)) throw new TypeError('not an HSM key');
    const label = this.label(entry.set);
    const list = (await this.#records.read(entry.set, label)).byId.get(hex(entry.pair.id)) ?? [];
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
    await this.#records.replace(entry.set, label, entry.kid, list, meta);
  }

  signer(entry: KeyEntry): Signer {
    if (!isHsmEntry(entry)) throw new TypeError('not an HSM key');
    if (entry.use !== 'sig' || entry.alg === ENC_ALG) {
      throw new KeyManagerError(
        'ERR_NO_SIGNING_KEY',
        `key ${JSON.stringify(entry.kid)} of JSON Web Key Set ${JSON.stringify(entry.set)} is for ${entry.use}`,
      );
    }
    return hsmSigner(this.#token, entry.pair, { kid: entry.kid, alg: entry.alg as KeyPairAlg });
  }

  /** The token's state (no call), after at most one C_GetTokenInfo a second: for readiness probes. */
  probe(): Promise<TokenHealth> {
    return this.#token.probe();
  }

  /** An operator's act after a refused login (see Token.resumeLogins). */
  resumeLogins(pin?: string): Promise<void> {
    return this.#token.resumeLogins(pin);
  }

  stats(): Record<string, number> {
    const { pool, engine, recoveries } = this.#token.stats();
    const health = this.#token.health();
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
