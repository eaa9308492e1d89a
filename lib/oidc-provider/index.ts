// hsm-jwks/oidc-provider: a key set of a key manager as node-oidc-provider's external signing keys
// (`features.externalSigningSupport`, oidc-provider >= 9). The provider keeps its keys from the
// moment it is constructed; `watchProviderKeys` says when the set's keys changed, so that the
// application builds a provider with the new ones (see docs/oidc-provider.md).
import { createPublicKey, type KeyObject } from 'node:crypto';

import { invalidArgValue } from '../errors';
import type { PublicJwk } from '../jose/jwk';
import { KeyManagerError } from '../keys/errors';
import type { KeyManagerOps, KeySets, KeySigner } from '../keys/key-manager';

/** What `providerKeys` needs of a key manager: the set's published keys, and a signer for its active ones. */
export type ProviderKeySource = Pick<KeySets, 'getKeySet'> & Pick<KeySigner, 'signer'>;

/** What `watchProviderKeys` needs besides: the changes announced by other processes and instances. */
export type WatchedKeySource = ProviderKeySource & Pick<KeyManagerOps, 'onChange'>;

/** What oidc-provider's `ExternalSigningKey` class is to us: a base class with a settable kid and alg. */
export type ExternalSigningKeyClass = abstract new () => { kid: string | undefined; alg: string | undefined };

/** One key of the set, as the provider uses it: `sign` runs on the token (or the software store). */
export interface ProviderSigningKey {
  readonly kid: string | undefined;
  readonly alg: string | undefined;
  readonly use: 'sig';
  keyObject(): KeyObject;
  sign(data: Uint8Array): Promise<Buffer>;
}

export interface ProviderKeysOptions {
  /**
   * The provider's `ExternalSigningKey` (`import { ExternalSigningKey } from 'oidc-provider'`).
   * Default: the one `import('oidc-provider')` finds from here. Pass it when the application's
   * oidc-provider is another copy than the one this package resolves: the provider checks keys
   * with `instanceof`.
   */
  ExternalSigningKey?: ExternalSigningKeyClass;
}

const SIGNING_KTY = new Set(['RSA', 'EC', 'OKP']);

/**
 * The set's published signing keys as external signing keys, the active one first: the provider
 * signs with the first key of an alg, so the active key signs and the others (published ahead of
 * their activation, or retired and still published) are offered for verification. A key signs
 * only while the key manager says it is active (`km.signer(set, kid)`); symmetric keys and keys
 * with `use: "enc"` are left out. Fails with ERR_NO_SIGNING_KEY when the set has no active key.
 */
export async function providerKeys(
  km: ProviderKeySource,
  set: string,
  options: ProviderKeysOptions = {},
): Promise<ProviderSigningKey[]> {
  const Base = options.ExternalSigningKey ?? (await loadExternalSigningKey());
  const Key = signingKeyClass(Base);
  return (await signingJwks(km, set)).map((jwk) => new Key(km, set, jwk));
}

/** The set's published key pairs that sign, the active one first; ERR_NO_SIGNING_KEY when none is active. */
async function signingJwks(km: ProviderKeySource, set: string): Promise<PublicJwk[]> {
  const active = await km.signer(set);
  if (!active.publicJwk) {
    // An HMAC key signs this set: the provider could publish nothing that verifies it.
    throw new KeyManagerError(
      'ERR_NO_SIGNING_KEY',
      `the active key of ${JSON.stringify(set)} is symmetric (${active.alg}): node-oidc-provider needs a key pair`,
    );
  }
  const { keys } = await km.getKeySet(set);
  const signing = (keys as PublicJwk[]).filter((k) => SIGNING_KTY.has(k.kty) && k.use !== 'enc');
  return signing.sort((a, b) => Number(b.kid === active.kid) - Number(a.kid === active.kid)); // stable: the rest keep the set's order
}

const orderOf = (keys: ReadonlyArray<{ kid: string | undefined }>) => JSON.stringify(keys.map((k) => k.kid));

export interface WatchOptions extends ProviderKeysOptions {
  /**
   * The keys the application's provider has now (what `providerKeys` gave it): the first look
   * compares with them. Without it, the first look only records the order, unless it fails: then
   * the first look that succeeds calls back.
   */
  current?: readonly ProviderSigningKey[];
  /** How often the set is looked at (ms, default 1000; reads come from the key manager's cache). */
  intervalMs?: number;
  /** A look that failed (the token away, no active key); the watch goes on. Default: ignored. */
  onError?: (error: unknown) => void;
}

/**
 * Calls `onChange(keys)` with the new `providerKeys(km, set)` whenever their order changes: a key
 * generated, activated (rotation), retired, removed or deleted, here or in another process
 * (`km.onChange`). The first look compares with `options.current` (see there). Returns a function
 * that stops the watch.
 */
export function watchProviderKeys(
  km: WatchedKeySource,
  set: string,
  onChange: (keys: ProviderSigningKey[]) => void,
  options: WatchOptions = {},
): () => void {
  const intervalMs = options.intervalMs ?? 1000;
  if (!Number.isInteger(intervalMs) || intervalMs < 10) {
    throw invalidArgValue('options.intervalMs', 'an integer number of milliseconds, at least 10', intervalMs);
  }
  let last = options.current ? orderOf(options.current) : undefined;
  let failed = false;
  let looking = false;
  let stopped = false;
  const look = async () => {
    if (looking || stopped) return;
    looking = true;
    try {
      const order = orderOf(await signingJwks(km, set));
      if (last === undefined ? failed : order !== last) {
        const keys = await providerKeys(km, set, options);
        if (!stopped) onChange(keys);
      }
      last = order;
      failed = false;
    } catch (e) {
      failed = true;
      options.onError?.(e);
    } finally {
      looking = false;
    }
  };
  void look();
  const timer = setInterval(() => void look(), intervalMs);
  timer.unref();
  const unsubscribe = km.onChange((changed) => {
    if (changed === set) void look();
  });
  return () => {
    stopped = true;
    clearInterval(timer);
    unsubscribe();
  };
}

let imported: Promise<ExternalSigningKeyClass> | undefined;

function loadExternalSigningKey(): Promise<ExternalSigningKeyClass> {
  const specifier = 'oidc-provider'; // an optional peer: resolved where the application installed it
  imported ??= import(specifier).then(
    (m: { ExternalSigningKey?: unknown }) => {
      if (typeof m.ExternalSigningKey !== 'function') {
        throw invalidArgValue(
          'options.ExternalSigningKey',
          'given, or oidc-provider 9 or later installed (external signing keys came in 9.0)',
          undefined,
        );
      }
      return m.ExternalSigningKey as ExternalSigningKeyClass;
    },
    (e: unknown) => {
      imported = undefined;
      throw e;
    },
  );
  return imported;
}

type SigningKeyConstructor = new (km: ProviderKeySource, set: string, jwk: PublicJwk) => ProviderSigningKey;
const classes = new WeakMap<ExternalSigningKeyClass, SigningKeyConstructor>();

/** One subclass per base class (the provider checks `instanceof` its own ExternalSigningKey). */
function signingKeyClass(Base: ExternalSigningKeyClass): SigningKeyConstructor {
  let Key = classes.get(Base);
  if (Key) return Key;
  class HsmJwksSigningKey extends Base implements ProviderSigningKey {
    readonly #km: ProviderKeySource;
    readonly #set: string;
    readonly #jwk: PublicJwk;
    #key: KeyObject | undefined;

    constructor(km: ProviderKeySource, set: string, jwk: PublicJwk) {
      super();
      this.#km = km;
      this.#set = set;
      this.#jwk = jwk;
      this.kid = jwk.kid;
      this.alg = jwk.alg;
    }

    get use(): 'sig' {
      return 'sig';
    }

    /** The certificate chain published with the key, when it has one. */
    get x5c(): string[] | undefined {
      return (this.#jwk as { x5c?: string[] }).x5c;
    }

    keyObject(): KeyObject {
      this.#key ??= createPublicKey({ key: this.#jwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
      return this.#key;
    }

    async sign(data: Uint8Array): Promise<Buffer> {
      const signer = await this.#km.signer(this.#set, this.#jwk.kid);
      return Buffer.from(await signer.sign(data));
    }
  }
  Key = HsmJwksSigningKey as unknown as SigningKeyConstructor;
  classes.set(Base, Key);
  return Key;
}
