// The software store as a key source: keys generated with node:crypto or imported, kept as sealed
// private JWKs whose alg, use, creation time and lifecycle are under the row's seal.
import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

import { algInfo, ENC_ALG, type JwsAlg } from '../jose/algorithms';
import type { PrivateJwk } from '../jose/import';
import type { PublicJwk } from '../jose/jwk';
import type { Signer } from '../jose/signer';
import { softwareSigner } from '../jose/software-signer';
import type { KeySpec } from '../pkcs11/key-spec';
import type { KeyStore, Lifecycle, StoredKey } from '../store/key-store';
import { KeyManagerError } from './errors';
import { checkGeneration } from './generation';
import type { KeyEntry, KeyProblem } from './key-entry';
import type { KeySource, NewKey, SetReading } from './key-source';

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

/** A software entry keeps its opened row (private JWK included) for signing and private reads. */
export interface SoftwareEntry extends KeyEntry {
  where: 'software';
  stored: StoredKey;
}

export const isSoftwareEntry = (e: KeyEntry): e is SoftwareEntry => e.where === 'software';

export function entryOf(stored: StoredKey): SoftwareEntry {
  // What the seal covers decides; the JWK's own members are published as the row says.
  const publicJwk = {
    ...publicPart(stored.privateJwk),
    kid: stored.kid,
    alg: stored.alg,
    use: stored.use,
  } as PublicJwk;
  return {
    set: stored.set,
    kid: stored.kid,
    where: 'software',
    alg: stored.alg as KeyEntry['alg'],
    use: stored.use,
    createdAt: stored.createdAt,
    lifecycle: stored.lifecycle,
    origin: 'ours',
    publicJwk,
    stored,
  };
}

export class SoftwareKeySource implements KeySource {
  readonly where = 'software' as const;
  /** KeyObjects by opened row: a row read again (or replaced) gets a new object. */
  readonly #keyObjects = new WeakMap<StoredKey, KeyObject>();

  constructor(readonly store: KeyStore) {}

  async read(set: string): Promise<SetReading> {
    const { keys, failures } = await this.store.getSet(set);
    const problems: KeyProblem[] = failures.map((f) => ({
      kind: 'unreadable',
      set: f.set,
      kid: f.kid,
      where: 'software',
      detail: `${f.code}: ${f.message}`,
    }));
    return { entries: keys.map(entryOf), problems };
  }

  async sets(): Promise<string[]> {
    return [...new Set((await this.store.list()).map((r) => r.set))];
  }

  async setsWithKids(kids: readonly string[]): Promise<Map<string, string[]>> {
    const wanted = new Set(kids);
    const out = new Map<string, string[]>();
    for (const r of await this.store.list()) {
      // one read of the rows' metadata for all the kids
      if (!wanted.has(r.kid)) continue;
      const sets = out.get(r.kid) ?? [];
      if (!sets.includes(r.set)) out.set(r.kid, [...sets, r.set]);
    }
    return out;
  }

  async generate(key: NewKey): Promise<KeyEntry> {
    const { spec } = checkGeneration(key.alg, key.use);
    const privateKey = await newKey(spec);
    const privateJwk = {
      ...privateKey.export({ format: 'jwk' }),
      kid: key.kid,
      alg: key.alg,
      use: key.use,
    } as PrivateJwk;
    const stored: StoredKey = { ...key, privateJwk };
    await this.store.add([stored]);
    return entryOf(stored);
  }

  /** Imports: `mode` add (a kid already in the set fails all), upsert, or replace the set's software keys. */
  async write(set: string, keys: StoredKey[], mode: 'add' | 'upsert' | 'replace'): Promise<void> {
    if (mode === 'add') await this.store.add(keys);
    else if (mode === 'upsert') await this.store.upsert(keys);
    else await this.store.replaceSet(set, keys);
  }

  async delete(entry: KeyEntry): Promise<void> {
    if (!(await this.store.deleteKey(entry.set, entry.kid))) {
      throw new KeyManagerError(
        'ERR_KEY_NOT_FOUND',
        `no key ${JSON.stringify(entry.kid)} in JSON Web Key Set ${JSON.stringify(entry.set)}`,
      );
    }
  }

  async setLifecycle(entry: KeyEntry, lifecycle: Lifecycle): Promise<void> {
    await this.store.setLifecycle(entry.set, entry.kid, lifecycle);
  }

  signer(entry: KeyEntry): Signer {
    if (!isSoftwareEntry(entry)) throw new TypeError('not a software key');
    if (entry.use !== 'sig' || entry.alg === ENC_ALG) {
      throw new KeyManagerError(
        'ERR_NO_SIGNING_KEY',
        `key ${JSON.stringify(entry.kid)} of JSON Web Key Set ${JSON.stringify(entry.set)} is for ${entry.use}`,
      );
    }
    let object = this.#keyObjects.get(entry.stored);
    if (!object) {
      object = createPrivateKey({ key: entry.stored.privateJwk as never, format: 'jwk' });
      this.#keyObjects.set(entry.stored, object);
    }
    return softwareSigner(object, entry.kid, algInfo(entry.alg).alg as JwsAlg);
  }

  stats(): Record<string, number> {
    return {};
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
