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
  /** Private KeyObjects by set and kid; dropped on every write to the set. */
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
    this.#keyObjects.delete(set);
    return { keys: [publicPart(jwk)] };
  }

  async addKey(set: string, jwk: unknown): Promise<void> {
    checkSet(set);
    await this.#store.add([toStored(set, await validatePrivateJwk(jwk))]);
    this.#keyObjects.delete(set);
  }

  async addKeySet(set: string, jwks: unknown): Promise<void> {
    checkSet(set);
    const validated = await validateAll(keysOf(jwks));
    await this.#store.add(validated.map((v) => toStored(set, v)));
    this.#keyObjects.delete(set);
  }

  async updateKey(set: string, jwk: unknown): Promise<void> {
    checkSet(set);
    await this.#store.upsert([toStored(set, await validatePrivateJwk(jwk))]);
    this.#keyObjects.delete(set);
  }

  async updateKeySet(set: string, jwks: unknown): Promise<void> {
    checkSet(set);
    const validated = await validateAll(keysOf(jwks));
    await this.#store.replaceSet(set, validated.map((v) => toStored(set, v)));
    this.#keyObjects.delete(set);
  }

  async getKey(set: string, kid: string, options: GetOptions = {}): Promise<JwkSet> {
    const key = await this.#store.get(checkSet(set), checkKid(kid));
    if (!key) throw keyNotFound(set, kid);
    return { keys: [present(key, options)] };
  }

  async getKeySet(set: string, options: GetOptions = {}): Promise<JwkSet> {
    const keys = await this.#openSet(checkSet(set));
    return { keys: keys.map((k) => present(k, options)) };
  }

  async deleteKey(set: string, kid: string): Promise<void> {
    if (!(await this.#store.deleteKey(checkSet(set), checkKid(kid)))) throw keyNotFound(set, kid);
    this.#keyObjects.delete(set);
  }

  async deleteKeySet(set: string): Promise<void> {
    if ((await this.#store.deleteSet(checkSet(set))) === 0) throw setNotFound(set);
    this.#keyObjects.delete(set);
  }

  async signer(set: string, kid?: string): Promise<Signer> {
    checkSet(set);
    let key: StoredKey | undefined;
    if (kid !== undefined) {
      key = await this.#store.get(set, checkKid(kid));
      if (!key) throw keyNotFound(set, kid);
    } else {
      key = (await this.#openSet(set)).find((k) => k.use === 'sig');
    }
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

  async close(): Promise<void> {
    this.#keyObjects.clear();
    await this.#store.close();
  }

  /** The set's keys, newest first; rows that cannot be opened are logged and skipped. */
  async #openSet(set: string): Promise<StoredKey[]> {
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
