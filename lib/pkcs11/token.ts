// Token: a logged-in view of one token. Its TokenConnection holds the sessions (an anchor session
// that holds the login, a bounded SessionPool that lends one session per operation, the signing
// engine) and recovers them when the token fails; the Token checks arguments, resolves key handles
// for the current module generation, and says which operations may be retried.
import {
  checkDataObject,
  checkDataObjectQuery,
  checkDataObjectSpec,
  DataObject,
  DataObjectHandles,
  DataObjectReader,
} from './data-objects';
import type { DataObjectQuery, DataObjectSpec } from './data-objects';
import {
  CertificateReader,
  checkCertificateQuery,
  checkCertificatesSpec,
  type CertificateObject,
  type CertificateQuery,
  type CertificatesSpec,
} from './certificates';
import {
  ClosedError,
  HsmJwksError,
  invalidArgType,
  invalidArgValue,
  KeyDestroyedError,
  KeyExistsError,
  KeyForeignError,
  KeyGoneError,
  MechanismUnsupportedError,
  ModuleReinitializedError,
  Pkcs11Error,
  quietly,
} from './errors';
import { CKA } from './constants';
import { Executor } from './executor';
import { handlesAtBirth, type KeyPair } from './key-pair';
import { checkKeyPairQuery, KeyReader, type KeyPairQuery, type OrphanPublicKey } from './key-reader';
import { generateKeyPairOn } from './keygen';
import { checkKeyPairOptions, checkKeySpec, keyPairTemplates, type KeyPairOptions, type KeySpec } from './key-spec';
import { prepareDecryption, prepareSignature, type DecryptMechanism, type SignMechanism } from './mechanisms';
import type { RecoveryCounters } from './recovery';
import type { SessionPoolStats } from './session-pool';
import type { EngineStats } from './sign-engine';
import { TokenConnection, type TokenResolver } from './token-connection';
import { checkTokenOptions, type TokenOptions } from './token-setup';
import { formatPkcs11Uri, toPkcs11Uri, type Pkcs11Uri, type UriObjectType } from './uri';
import { keyPairQueryAt, tokenUriFields } from './uri-match';
import type { TokenHealth } from './token-state';
import type { NativeMechanismInfo, NativeModule, NativeTokenInfo } from '../../binding';

export type { TokenHealth, TokenOptions };

export interface MechanismInfo extends NativeMechanismInfo {
  /** CKM_ name without its prefix when we know it, e.g. `ECDSA`. */
  name?: string;
}

/**
 * The token each KeyPair was found or generated on (module path and the token's serial when its
 * Token was opened): Token objects of the same token share KeyPairs, another token's are refused.
 */
const homes = new WeakMap<KeyPair, string>();

export class Token {
  readonly #c: TokenConnection;
  /** Where this Token's KeyPairs come from (see `homes`). */
  readonly #home: string;
  readonly #x: Executor;
  readonly #data = new DataObjectHandles();
  readonly #mechanisms: MechanismInfo[];
  readonly #available: ReadonlySet<number>;
  readonly #onClose: (t: Token) => void;
  #closing: Promise<void> | undefined;
  /** Key generation runs one at a time per Token: the id check and the generation stay atomic,
   *  and SoftHSM is not reliably safe with concurrent generation on one token (Hydra's finding). */
  #keygen: Promise<unknown> = Promise.resolve();

  /** @internal Use Pkcs11Module.openToken. */
  static async open(
    moduleNative: NativeModule,
    found: { slot: bigint; info: NativeTokenInfo },
    resolve: TokenResolver,
    options: TokenOptions,
    mechanismNames: ReadonlyMap<number, string>,
    onClose: (t: Token) => void,
  ): Promise<Token> {
    const sizes = checkTokenOptions(options, found.info);
    // A NativeModule of the Token's own: its handles form one generation, so that a re-initialisation
    // (by this Token or another) invalidates exactly the handles made before it.
    const native = await moduleNative.share();
    const pin = options.pin === undefined ? undefined : Buffer.from(options.pin);
    try {
      const connection = await TokenConnection.open(native, found, resolve, pin, options, sizes);
      const slot = found.slot;
      try {
        const mechanisms = (await native.getMechanisms(slot)).map((m) => {
          const name = mechanismNames.get(m.type);
          return name ? { ...m, name } : m;
        });
        return new Token(connection, `${native.describe().path}\0${found.info.serialNumber}`, mechanisms, onClose);
      } catch (e) {
        await connection.close();
        throw e;
      }
    } catch (e) {
      pin?.fill(0);
      await quietly(() => native.close());
      throw e;
    }
  }

  private constructor(
    connection: TokenConnection,
    home: string,
    mechanisms: MechanismInfo[],
    onClose: (t: Token) => void,
  ) {
    this.#c = connection;
    this.#x = new Executor(connection);
    this.#home = home;
    this.#mechanisms = mechanisms;
    this.#available = new Set(mechanisms.map((m) => m.type));
    this.#onClose = onClose;
  }

  /** The slot the token is in (it may change when the token comes back after it went away). */
  get slot(): bigint {
    return this.#c.slot;
  }

  get label(): string {
    return this.#c.info.label;
  }

  /** The serial of the token connected now (a token re-created under the selector has a new one). */
  get serialNumber(): string {
    return this.#c.info.serialNumber;
  }

  get manufacturerID(): string {
    return this.#c.info.manufacturerID;
  }

  get model(): string {
    return this.#c.info.model;
  }

  /**
   * The token's PKCS#11 URI (model, manufacturer, serial, token: as p11tool prints it), or with
   * `object`, an object's on it (id, object, type): `token.uri({ ...keyPair, type: 'private' })`.
   */
  uri(object?: { label?: string; id?: Uint8Array; type?: UriObjectType }): string {
    return formatPkcs11Uri(tokenUriFields(this.#c.info, object));
  }

  /**
   * The token's state as the token layer knows it, without a call: ready, unavailable (gone,
   * reconnecting), login-refused (no login until resumeLogins) or closed.
   */
  health(): TokenHealth {
    return this.#c.state.health();
  }

  /**
   * Like health(), and asks the token whether it is there (C_GetTokenInfo on its slot, at most once
   * a second however often it is called) in the background: the answer shows in the next probe.
   * For readiness probes: it never waits for the token and never scans keys.
   */
  probe(): Promise<TokenHealth> {
    return this.#c.probe();
  }

  /**
   * An operator's act after ERR_LOGIN_REFUSED: with `pin`, the PIN to use from now on. The module
   * is initialised again and one login is tried; throws ERR_LOGIN_REFUSED if the token refuses it
   * again. Without a refused login it only keeps the new PIN for the next login.
   */
  async resumeLogins(pin?: string | Uint8Array): Promise<void> {
    this.#checkOpen();
    if (pin !== undefined && typeof pin !== 'string' && !(pin instanceof Uint8Array))
      throw invalidArgType('pin', 'a string or Uint8Array', typeof pin);
    await this.#c.resumeLogins(pin === undefined ? undefined : Buffer.from(pin));
  }

  /** The token's mechanisms with their key sizes and flags (read once, at open). */
  async mechanisms(): Promise<MechanismInfo[]> {
    this.#checkOpen();
    return this.#mechanisms.map((m) => ({ ...m }));
  }

  /** Session-pool figures, for monitoring. */
  poolStats(): SessionPoolStats {
    return this.#c.current.pool.stats();
  }

  /**
   * Generates a key pair on the token with hardened templates (token objects, private, sensitive,
   * not extractable; the same CKA_ID and CKA_LABEL on both halves; CKA_ALLOWED_MECHANISMS when
   * asked, unless the token refuses them). RSA-4096 takes seconds.
   * Refuses an id that a private key on the token already has (ERR_KEY_EXISTS). Never retried.
   */
  async generateKeyPair(spec: KeySpec, options: KeyPairOptions): Promise<KeyPair> {
    this.#checkOpen();
    const s = checkKeySpec(spec);
    const o = checkKeyPairOptions(options, s);
    if (!this.#available.has(keyPairTemplates(s, o).mechanism.type))
      throw new MechanismUnsupportedError(`${s.type} key generation`);
    const generate = () =>
      this.#x.onPool(undefined, false, async (session, _h, { native, generation }) =>
        this.#own(await generateKeyPairOn(native, session, s, o), generation),
      );
    const result = this.#keygen.then(generate, generate);
    this.#keygen = result.catch(() => undefined);
    return result;
  }

  /**
   * Key pairs whose private object matches `label` and/or `id`, paired by CKA_ID. `{ uri }`: those a
   * PKCS#11 URI names (object: the label, id: CKA_ID); none when it names another token (uri-match.ts).
   */
  async findKeyPairs(query: KeyPairQuery | { uri: string | Pkcs11Uri } = {}): Promise<KeyPair[]> {
    this.#checkOpen();
    const q =
      typeof query === 'object' && query !== null && 'uri' in query
        ? await this.#uriQuery(query.uri)
        : checkKeyPairQuery(query);
    if (q === undefined) return [];
    const found = await this.#x.onPool(undefined, true, async (session, _h, { native, generation }) =>
      (await new KeyReader(native, session).findKeyPairs(q)).map((k) => this.#own(k, generation)),
    );
    return found.length > 0 ? found : this.#noneUnlessGone(found);
  }

  /** The findKeyPairs query of a URI on this token; undefined when it names none here. */
  async #uriQuery(uri: string | Pkcs11Uri): Promise<KeyPairQuery | undefined> {
    const u = toPkcs11Uri(uri, 'query.uri');
    const { native } = this.#c.current;
    return keyPairQueryAt(u, {
      slot: this.slot,
      token: this.#c.info,
      slotInfo: async () => (await native.getSlots(false)).find((s) => s.slot === this.slot),
      moduleInfo: () => native.getInfo(),
    });
  }

  #own(keyPair: KeyPair, generation: number): KeyPair {
    homes.set(keyPair, this.#home);
    return this.#x.note(keyPair, generation);
  }

  /** An empty answer is checked against the token's presence: a token that went away is an outage, not "none". */
  async #noneUnlessGone<T>(none: T[]): Promise<T[]> {
    const gone = await this.#c.unlessGone(undefined);
    if (gone) throw gone;
    return none;
  }

  /**
   * `{ id, label }` of every private key on the token (any key type), without reading the keys:
   * one search, for callers that only need to know which ids are where. Needs a login to see them.
   */
  async privateKeyIds(): Promise<Array<{ id: Buffer; label: string }>> {
    this.#checkOpen();
    const found = await this.#x.onPool(undefined, true, (session, _h, { native }) =>
      new KeyReader(native, session).privateKeyIds(),
    );
    return found.length > 0 ? found : this.#noneUnlessGone(found);
  }

  /**
   * Public key objects (with `label`, when given) whose CKA_ID no private key has: left by a crash
   * or a half-deleted pair. Needs a login (ERR_LOGIN_REQUIRED): private keys are invisible without.
   */
  async findOrphanPublicKeys(query: { label?: string } = {}): Promise<OrphanPublicKey[]> {
    this.#checkOpen();
    const q = checkKeyPairQuery(query, false);
    return this.#x.onPool(undefined, true, (session, _h, { native }) =>
      new KeyReader(native, session).findOrphanPublicKeys(q),
    );
  }

  /**
   * Creates a CKO_DATA token object (CKA_PRIVATE unless `private: false`, CKA_MODIFIABLE). Never
   * retried: after a failure, find out with findDataObjects whether it was made.
   */
  async createDataObject(spec: DataObjectSpec): Promise<DataObject> {
    this.#checkOpen();
    const s = checkDataObjectSpec(spec);
    return this.#x.onPool(undefined, false, async (session, _h, { native, generation }) =>
      this.#data.note(
        new DataObject(s.label, s.application, s.value),
        await new DataObjectReader(native, session).create(s),
        generation,
      ),
    );
  }

  /** The token's data objects of `application` (and `label`), with their values. */
  async findDataObjects(query: DataObjectQuery): Promise<DataObject[]> {
    this.#checkOpen();
    const q = checkDataObjectQuery(query);
    const found = await this.#x.onPool(undefined, true, async (session, _h, { native, generation }) =>
      (await new DataObjectReader(native, session).find(q)).map((f) => this.#data.note(f.object, f.handle, generation)),
    );
    return found.length > 0 ? found : this.#noneUnlessGone(found);
  }

  /**
   * Destroys the data object. One made before a re-initialisation is found again by class,
   * application, label and value first: ERR_DATA_OBJECT_GONE when none has them any more,
   * ERR_DATA_OBJECT_AMBIGUOUS when several do. Never retried.
   */
  async destroyDataObject(object: DataObject): Promise<void> {
    this.#checkOpen();
    checkDataObject(object);
    await this.#x.onPool(undefined, false, (session, _h, { native, generation }) =>
      this.#data.destroy(object, new DataObjectReader(native, session), generation),
    );
  }

  /**
   * X.509 certificate objects (CKO_CERTIFICATE, CKC_X_509) with one of `ids` as CKA_ID (every one
   * without `ids`), with their DER: found by CKA_ID only, whatever their label.
   */
  async findCertificates(query: CertificateQuery = {}): Promise<CertificateObject[]> {
    this.#checkOpen();
    const q = checkCertificateQuery(query);
    const found = await this.#x.onPool(undefined, true, (session, _h, { native }) =>
      new CertificateReader(native, session).find(q.ids),
    );
    return found.length > 0 || q.ids?.length === 0 ? found : this.#noneUnlessGone(found);
  }

  /**
   * Makes `values` (X.509 DER) the certificates of CKA_ID `id`: public token objects with `label`
   * and CKA_SUBJECT/ISSUER/SERIAL_NUMBER from each DER, written before the id's previous
   * certificates are destroyed (none: they are only destroyed). Never retried.
   */
  async replaceCertificates(spec: CertificatesSpec): Promise<{ written: number; removed: number }> {
    this.#checkOpen();
    const s = checkCertificatesSpec(spec);
    return this.#x.onPool(undefined, false, (session, _h, { native }) =>
      new CertificateReader(native, session).replace(s),
    );
  }

  /** Signs `data` with the private key; see SignMechanism for what is hashed where. */
  async sign(keyPair: KeyPair, mechanism: SignMechanism, data: Uint8Array): Promise<Buffer> {
    this.#checkOpen();
    this.#checkKeyPair(keyPair);
    if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'a Buffer or Uint8Array', data);
    const prepared = prepareSignature(mechanism, keyPair, this.#available, data);
    if (this.#c.current.engine) {
      if (this.#x.isDestroyed(keyPair)) throw new KeyDestroyedError();
      // The hot path: a bare mechanism type when there is no parameter, and no extra async frame.
      const m = prepared.mechanism.parameter ? prepared.mechanism : prepared.mechanism.type;
      return this.#x.onEngine(keyPair, (g, h) =>
        g.engine!.native.sign(h!.privateKey, m, prepared.data, keyPair.signatureLength),
      );
    }
    return this.#x.onPool(keyPair, true, (session, h, { native }) => {
      if (this.#x.isDestroyed(keyPair)) throw new KeyDestroyedError();
      return native.sign(session, h!.privateKey, prepared.mechanism, prepared.data, keyPair.signatureLength);
    });
  }

  /** Pool, signing engine and recovery figures, for monitoring. */
  stats(): { pool: SessionPoolStats; engine: EngineStats | undefined; recoveries: RecoveryCounters } {
    const { pool, engine } = this.#c.current;
    return { pool: pool.stats(), engine: engine?.stats(), recoveries: { ...this.#c.counters } };
  }

  /**
   * Signs on the JS thread, blocking the event loop for the whole signature (tens of µs on
   * SoftHSM, milliseconds for RSA-4096 or a network HSM). For a lone caller that awaits each
   * signature on a local module; needs `signSync: true` at openToken. No recovery: a failure
   * throws its typed error (after a re-initialisation, ERR_MODULE_REINITIALIZED until sign() or
   * findKeyPairs() has found the key again).
   */
  signSync(keyPair: KeyPair, mechanism: SignMechanism, data: Uint8Array): Buffer {
    this.#checkOpen();
    this.#checkKeyPair(keyPair);
    if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'a Buffer or Uint8Array', data);
    this.#c.state.check();
    const { native, syncSession } = this.#c.current;
    if (syncSession === undefined)
      throw new HsmJwksError('ERR_SIGN_SYNC_DISABLED', 'open the token with { signSync: true } to use signSync');
    if (this.#x.isDestroyed(keyPair)) throw new KeyDestroyedError();
    const h = this.#x.currentHandles(keyPair);
    if (h === undefined) throw new ModuleReinitializedError();
    const prepared = prepareSignature(mechanism, keyPair, this.#available, data);
    return native.signSync(syncSession, h.privateKey, prepared.mechanism, prepared.data, keyPair.signatureLength);
  }

  /** Signing-engine figures (undefined when the token signs through the pool). */
  engineStats(): EngineStats | undefined {
    return this.#c.current.engine?.stats();
  }

  /** Verifies on the token with the public object (for diagnostics; callers normally verify in software). */
  async verify(keyPair: KeyPair, mechanism: SignMechanism, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    this.#checkOpen();
    this.#checkKeyPair(keyPair);
    if (!keyPair.hasPublicObject) throw invalidArgType('keyPair', 'a key pair with a public key object', 'one without');
    if (!(signature instanceof Uint8Array)) throw invalidArgType('signature', 'a Buffer or Uint8Array', signature);
    const prepared = prepareSignature(mechanism, keyPair, this.#available, data);
    return this.#x.onPool(keyPair, true, (session, h, { native }) => {
      if (h!.publicKey === null) throw new KeyGoneError(keyPair.id.toString('hex'));
      return native.verify(session, h!.publicKey!, prepared.mechanism, prepared.data, signature);
    });
  }

  /** Decrypts with an RSA private key. */
  async decrypt(keyPair: KeyPair, mechanism: DecryptMechanism, data: Uint8Array): Promise<Buffer> {
    this.#checkOpen();
    this.#checkKeyPair(keyPair);
    if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'a Buffer or Uint8Array', data);
    const m = prepareDecryption(mechanism, keyPair, this.#available);
    return this.#x.onPool(keyPair, true, (session, h, { native }) => {
      if (this.#x.isDestroyed(keyPair)) throw new KeyDestroyedError();
      return native.decrypt(session, h!.privateKey, m, data);
    });
  }

  /**
   * Destroys both halves. From this call on, operations on this KeyPair object that have not
   * reached the token fail with ERR_KEY_DESTROYED (find the key again if destruction fails).
   * Never retried.
   */
  async destroyKeyPair(keyPair: KeyPair): Promise<void> {
    this.#checkOpen();
    this.#checkKeyPair(keyPair);
    this.#x.markDestroyed(keyPair);
    await this.#x.onPool(keyPair, false, async (session, h, { native }) => {
      await native.destroyObject(session, h!.privateKey);
      if (h!.publicKey !== null) {
        await Promise.resolve(h!.publicKey!)
          .then((handle) => native.destroyObject(session, handle))
          .catch((e: unknown) => {
            if (!(e instanceof Pkcs11Error && e.category === 'object-stale')) throw e;
          });
      }
    });
  }

  /**
   * Gives both halves of `keyPair` the CKA_ID `id` (a kid made from the key itself, such as its
   * thumbprint) and returns the pair as found under it; `keyPair` must not be used afterwards.
   * Refuses an id that a private key on the token already has (ERR_KEY_EXISTS). Never retried.
   */
  async setKeyPairId(keyPair: KeyPair, id: Uint8Array): Promise<KeyPair> {
    this.#checkOpen();
    this.#checkKeyPair(keyPair);
    const newId = Buffer.from(id);
    if ((await this.findKeyPairs({ id: newId })).length > 0) throw new KeyExistsError(newId.toString('hex'));
    await this.#x.onPool(keyPair, false, async (session, h, { native }) => {
      await native.setAttributes(session, h!.privateKey, [[CKA.ID, newId]]);
      if (h!.publicKey !== null) await native.setAttributes(session, await h!.publicKey!, [[CKA.ID, newId]]);
    });
    const [renamed] = await this.findKeyPairs({ id: newId });
    if (!renamed) throw new KeyGoneError(newId.toString('hex'));
    return renamed;
  }

  /** Random bytes from the token's generator. */
  async random(length: number): Promise<Buffer> {
    this.#checkOpen();
    if (typeof length !== 'number') throw invalidArgType('length', 'a number', length);
    if (!Number.isSafeInteger(length) || length < 0 || length > 1 << 20) {
      throw invalidArgValue('length', 'an integer from 0 to 1048576', length);
    }
    return this.#x.onPool(undefined, true, async (session, _h, { native }) => native.generateRandom(session, length));
  }

  /** Waits for operations in flight, closes every session (which ends the login) and forgets the PIN. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = (async () => {
        try {
          await this.#c.close();
        } finally {
          this.#onClose(this);
        }
      })();
    }
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError('the token');
  }

  #checkKeyPair(keyPair: unknown): asserts keyPair is KeyPair {
    checkKeyPair(keyPair);
    if (homes.get(keyPair) !== this.#home) throw new KeyForeignError();
  }
}

function checkKeyPair(keyPair: unknown): asserts keyPair is KeyPair {
  if (handlesAtBirth(keyPair) === undefined) {
    throw invalidArgType('keyPair', 'a KeyPair from findKeyPairs or generateKeyPair', keyPair);
  }
}
