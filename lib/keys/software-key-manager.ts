// SoftwareKeyManager: keys generated with node:crypto (or imported), kept as sealed private JWKs
// in a KeyStore. Reads return public JWKs unless private ones are asked for.
import { createPrivateKey, generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

import { algInfo, ENC_ALG, type JwsAlg } from '../jose/algorithms';
import { validatePrivateJwk, type PrivateJwk, type ValidatedKey } from '../jose/import';
import type { PublicJwk } from '../jose/jwk';
import { signJwt as signCompactJwt } from '../jose/jws';
import type { Signer } from '../jose/signer';
import { softwareSigner } from '../jose/software-signer';
import { silentLogger, type Logger } from '../logger';
import type { KeySpec, KeyUse } from '../pkcs11/key-spec';
import type { KeyStore, StoredKey } from '../store/key-store';
import { KeyManagerError, keyNotFound, setNotFound } from './errors';
import type { GetOptions, Jwk, JwkSet, KeyInfo, KeyManager, SignJwtOptions } from './key-manager';
import { checkKid, checkSet, keysOf } from './names';
import { checkGeneration } from './generation';
import { SetCache } from './set-cache';

const generate = promisify(generateKeyPair);
const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'n', 'e', 'crv', 'x', 'y'] as const;

export function publicPart(jwk: PrivateJwk): PublicJwk {
  const out: Record<string, unknown> = {};
  for (const m of PUBLIC_MEMBERS) if (jwk[m] !== undefined) out[m] = jwk[m];
  return out as unknown as PublicJwk;
}

async function newKey(spec: KeySpec): Promise<KeyObject> {
  if (spec.type === 'rsa') return (await generate('rsa', { modulusLength: spec.bits })).privateKey;
  if (spec.type === 'ec') return (await generate('ec', { namedCurve: spec.curve })).privateKey;
  return (await generate('ed25519')).privateKey;
}

export class SoftwareKeyManager implements KeyManager {
  readonly #store: KeyStore;
  readonly #log: Logger;
  /** Opened keys and their KeyObjects, by set; dropped on every write to the set. */
  readonly #sets = new SetCache<StoredKey[]>((set) => this.#readSet(set));
  readonly #keyObjects = new Map<string, Map<string, KeyObject>>();

  constructor(store: KeyStore, options: { logger?: Logger } = {}) {
    this.#store = store;
    this.#log = options.logger ?? silentLogger;
  }

  async generateAndPersistKeySet(set: string, kid: string | undefined, alg: string, use: KeyUse = 'sig'): Promise<JwkSet> {
    checkSet(set);
    const { spec } = checkGeneration(alg, use);
    const id = kid === undefined ? randomUUID() : checkKid(kid);
    const privateKey = await newKey(spec);
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: id, alg, use } as PrivateJwk;
    await this.#store.add([{ set, kid: id, alg, use, createdAt: new Date(), privateJwk: jwk }]);
    this.#forget(set);
    return { keys: [publicPart(jwk)] };
  }

  async addKey(set: string, jwk: unknown): Promise<void> {
    checkSet(set);
    await this.#store.add([toStored(set, await validatePrivateJwk(jwk))]);
    this.#forget(set);
  }

  async addKeySet(set: string, jwks: unknown): Promise<void> {
    checkSet(set);
    const validated = await validateAll(keysOf(jwks));
    await this.#store.add(validated.map((v) => toStored(set, v)));
    this.#forget(set);
  }

  async updateKey(set: string, jwk: unknown): Promise<void> {
    checkSet(set);
    await this.#store.upsert([toStored(set, await validatePrivateJwk(jwk))]);
    this.#forget(set);
  }

  async updateKeySet(set: string, jwks: unknown): Promise<void> {
    checkSet(set);
    const validated = await validateAll(keysOf(jwks));
    await this.#store.replaceSet(set, validated.map((v) => toStored(set, v)));
    this.#forget(set);
  }

  async getKey(set: string, kid: string, options: GetOptions = {}): Promise<JwkSet> {
    return { keys: [present(await this.#key(checkSet(set), checkKid(kid)), options)] };
  }

  async getKeySet(set: string, options: GetOptions = {}): Promise<JwkSet> {
    const keys = await this.#openSet(checkSet(set));
    return { keys: keys.map((k) => present(k, options)) };
  }

  async deleteKey(set: string, kid: string): Promise<void> {
    if (!(await this.#store.deleteKey(checkSet(set), checkKid(kid)))) throw keyNotFound(set, kid);
    this.#forget(set);
  }

  async deleteKeySet(set: string): Promise<void> {
    if ((await this.#store.deleteSet(checkSet(set))) === 0) throw setNotFound(set);
    this.#forget(set);
  }

  async signer(set: string, kid?: string): Promise<Signer> {
    checkSet(set);
    const key = kid !== undefined ? await this.#key(set, checkKid(kid)) : (await this.#openSet(set)).find((k) => k.use === 'sig');
    if (!key || key.use !== 'sig' || key.alg === ENC_ALG) {
      throw new KeyManagerError('ERR_NO_SIGNING_KEY', `JSON Web Key Set ${JSON.stringify(set)} has no signing key${kid ? ` ${JSON.stringify(kid)}` : ''}`);
    }
    const alg = algInfo(key.alg).alg as JwsAlg;
    return softwareSigner(this.#keyObject(key), key.kid, alg);
  }

  async signJwt(set: string, claims: Record<string, unknown>, options: SignJwtOptions = {}): Promise<string> {
    return signCompactJwt(await this.signer(set, options.kid), claims, options.header);
  }

  async list(): Promise<KeyInfo[]> {
    return (await this.#store.list()).map((r) => ({ ...r, where: 'software' as const }));
  }

  stats(): Record<string, number> {
    return {};
  }

  invalidate(set?: string): void {
    if (set === undefined) {
      this.#sets.clear();
      this.#keyObjects.clear();
    } else {
      this.#forget(set);
    }
  }

  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#store.withLock(name, fn);
  }

  async close(): Promise<void> {
    this.#sets.clear();
    this.#keyObjects.clear();
    await this.#store.close();
  }

  #forget(set: string): void {
    this.#sets.drop(set);
    this.#keyObjects.delete(set);
  }

  /** One key of the set; a row that cannot be opened throws its own error. */
  async #key(set: string, kid: string): Promise<StoredKey> {
    const cached = (await this.#openSet(set).catch(() => [] as StoredKey[])).find((k) => k.kid === kid);
    const key = cached ?? (await this.#store.get(set, kid));
    if (!key) throw keyNotFound(set, kid);
    return key;
  }

  /** The set's keys, newest first (cached); rows that cannot be opened are logged and skipped. */
  #openSet(set: string): Promise<StoredKey[]> {
    return this.#sets.get(set);
  }

  async #readSet(set: string): Promise<StoredKey[]> {
    const { keys, failures } = await this.#store.getSet(set);
    for (const f of failures) this.#log.warn('a software key cannot be opened and is skipped', { set: f.set, kid: f.kid, code: f.code });
    if (keys.length === 0) {
      if (failures[0]) throw new KeyManagerError('ERR_KEY_SET_NOT_FOUND', `no key of JSON Web Key Set ${JSON.stringify(set)} can be opened: ${failures[0].message}`);
      throw setNotFound(set);
    }
    return keys;
  }

  #keyObject(key: StoredKey): KeyObject {
    let bySet = this.#keyObjects.get(key.set);
    if (!bySet) this.#keyObjects.set(key.set, (bySet = new Map()));
    let object = bySet.get(key.kid);
    if (!object) bySet.set(key.kid, (object = createPrivateKey({ key: key.privateJwk as never, format: 'jwk' })));
    return object;
  }
}

function toStored(set: string, v: ValidatedKey): StoredKey {
  return { set, kid: v.kid, alg: v.alg, use: v.use, createdAt: new Date(), privateJwk: v.privateJwk };
}

/** Validates every key before anything is written; duplicate kids in one set are refused. */
async function validateAll(keys: unknown[]): Promise<ValidatedKey[]> {
  const validated = await Promise.all(keys.map((k) => validatePrivateJwk(k)));
  const kids = new Set<string>();
  for (const v of validated) {
    if (kids.has(v.kid)) throw new KeyManagerError('ERR_KEY_NAME_INVALID', `kid ${JSON.stringify(v.kid)} appears twice in the JWK Set`);
    kids.add(v.kid);
  }
  return validated;
}

function present(key: StoredKey, options: GetOptions): Jwk {
  return options.includePrivate ? { ...key.privateJwk } : publicPart(key.privateJwk);
}
