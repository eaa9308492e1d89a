// The software store as a key source: keys generated with node:crypto or imported, kept as sealed
// private JWKs whose alg, use, creation time and lifecycle are under the row's seal. Key pairs of
// every alg, and symmetric (oct) keys for the HMAC algs, which only this source holds: they sign
// like the others but have no public form, so they are never published.
import { createPrivateKey, createSecretKey, generateKeyPair, type KeyObject } from 'node:crypto';

import { algInfo, ENC_ALG, isHmac } from '../jose/algorithms';
import type { KeyPairPrivateJwk, PrivateJwk } from '../jose/import';
import { thumbprintOf, type PublicJwk } from '../jose/jwk';
import { newOctJwk } from '../jose/oct';
import type { Signer } from '../jose/signer';
import { softwareSigner } from '../jose/software-signer';
import type { KeySpec } from '../pkcs11/key-spec';
import type { KeyStore, Lifecycle, StoredKey } from '../store/key-store';
import { KeyManagerError } from './errors';
import { checkGeneration } from './generation';
import type { KeyEntry, KeyProblem } from './key-entry';
import { withStoredCertificates } from './key-certificates';
import type { KeySource, NewKey, SetReading } from './key-source';

const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'n', 'e', 'crv', 'x', 'y'] as const;

/** The public members of a key pair's JWK; undefined for a symmetric key (it has none). */
export function publicPart(jwk: PrivateJwk): PublicJwk | undefined {
  if (jwk.kty === 'oct') return undefined;
  const out: Record<string, unknown> = {};
  for (const m of PUBLIC_MEMBERS) if (jwk[m] !== undefined) out[m] = jwk[m];
  return out as unknown as PublicJwk;
}

/** A KeyObject over a base64url secret; the decoded copy is wiped once the KeyObject holds its own. */
function secretKeyOf(k: string): KeyObject {
  const bytes = Buffer.from(k, 'base64url');
  try {
    return createSecretKey(bytes);
  } finally {
    bytes.fill(0);
  }
}

/**
 * A new key pair's private JWK, exported by the generation itself: exporting a freshly generated
 * KeyObject as JWK can deadlock Node 20 (a garbage collection during the export finalises the
 * generation job, which waits for the lock the export holds).
 */
function newPrivateJwk(spec: KeySpec): Promise<Record<string, unknown>> {
  const jwk = { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } };
  const [type, options] =
    spec.type === 'rsa'
      ? ['rsa', { modulusLength: spec.bits }]
      : spec.type === 'ec'
        ? ['ec', { namedCurve: spec.curve }]
        : ['ed25519', {}];
  return new Promise((resolve, reject) =>
    (
      generateKeyPair as unknown as (
        t: string,
        o: object,
        cb: (e: Error | null, pub: unknown, priv: unknown) => void,
      ) => void
    )(type, { ...options, ...jwk }, (e, _pub, priv) => (e ? reject(e) : resolve(priv as Record<string, unknown>))),
  );
}

/** A software entry keeps its opened row (private JWK included) for signing and private reads. */
export interface SoftwareEntry extends KeyEntry {
  where: 'software';
  stored: StoredKey;
}

export const isSoftwareEntry = (e: KeyEntry): e is SoftwareEntry => e.where === 'software';

export function entryOf(stored: StoredKey): SoftwareEntry {
  // What the seal covers decides; the JWK's own members are published as the row says.
  const members = publicPart(stored.privateJwk);
  const publicJwk = members && ({ ...members, kid: stored.kid, alg: stored.alg, use: stored.use } as PublicJwk);
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
    const [{ keys, failures }, chains] = await Promise.all([this.store.getSet(set), this.store.certificateChains(set)]);
    const problems: KeyProblem[] = failures.map((f) => ({
      kind: 'unreadable',
      set: f.set,
      kid: f.kid,
      where: 'software',
      detail: `${f.code}: ${f.message}`,
    }));
    return withStoredCertificates({ entries: keys.map(entryOf), problems }, chains); // x5c: cached with the set's view
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
    const generation = checkGeneration(key.alg, key.use);
    const privateJwk: PrivateJwk =
      generation.kind === 'secret'
        ? newOctJwk(generation.info, key.kid)
        : ({
            ...(await newPrivateJwk(generation.spec)),
            kid: key.kid,
            alg: key.alg,
            use: key.use,
          } as KeyPairPrivateJwk);
    if (key.thumbprintKid && generation.kind !== 'secret') privateJwk.kid = thumbprintOf(privateJwk as PublicJwk);
    const { thumbprintKid: _, ...fields } = key;
    const stored: StoredKey = { ...fields, kid: privateJwk.kid as string, privateJwk };
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
    const info = algInfo(entry.alg);
    const jwk = entry.stored.privateJwk;
    if (isHmac(info) !== (jwk.kty === 'oct')) {
      throw new KeyManagerError(
        'ERR_NO_SIGNING_KEY',
        `key ${JSON.stringify(entry.kid)} of JSON Web Key Set ${JSON.stringify(entry.set)} is a ${jwk.kty} key, which cannot sign ${info.alg}`,
      );
    }
    let object = this.#keyObjects.get(entry.stored);
    if (!object) {
      object = jwk.kty === 'oct' ? secretKeyOf(jwk.k) : createPrivateKey({ key: jwk as never, format: 'jwk' });
      this.#keyObjects.set(entry.stored, object);
    }
    return softwareSigner(object, entry.kid, info.alg);
  }

  stats(): Record<string, number> {
    return {};
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
