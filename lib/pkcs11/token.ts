// Token: a logged-in view of one token. One long-lived *anchor* session holds the login (login
// state belongs to the application, and lives while any session is open: the anchor is never
// reaped), and a bounded SessionPool lends one session per operation.
import { CKA, CKO } from './constants';
import { call, ClosedError, fromNative, HsmJwksError, invalidArgType, invalidArgValue, KeyDestroyedError, KeyExistsError, MechanismUnsupportedError, Pkcs11Error } from './errors';
import type { KeyPair } from './key-pair';
import { KeyReader, type KeyPairQuery } from './key-reader';
import { checkKeyPairOptions, checkKeySpec, keyPairTemplates, type KeyPairOptions, type KeySpec } from './key-spec';
import {
  prepareDecryption,
  prepareSignature,
  type DecryptMechanism,
  type SignMechanism,
} from './mechanisms';
import { SessionPool, type SessionPoolStats } from './session-pool';
import { checkTokenOptions, DEFAULT_WAIT_MS, login, openEngine, RW_SERIAL, type Engine, type TokenOptions } from './token-setup';
import type { NativeMechanismArg, NativeMechanismInfo, NativeModule, NativeSignEngineStats, NativeTokenInfo } from '../../binding';

export type { TokenOptions };

export interface MechanismInfo extends NativeMechanismInfo {
  /** CKM_ name without its prefix when we know it, e.g. `ECDSA`. */
  name?: string;
}

/** KeyPair objects handed to destroyKeyPair: operations on them stop before the token. */
const destroyed = new WeakSet<KeyPair>();


export class Token {
  readonly slot: bigint;
  readonly label: string;
  readonly serialNumber: string;
  readonly manufacturerID: string;
  readonly model: string;
  readonly #native: NativeModule;
  readonly #anchor: bigint;
  readonly #pool: SessionPool;
  readonly #mechanisms: MechanismInfo[];
  readonly #available: ReadonlySet<number>;
  readonly #onClose: (t: Token) => void;
  #engine: Engine | undefined;
  readonly #engineOptions: TokenOptions['engine'];
  readonly #poolSize: number;
  #relogging: Promise<void> | undefined;
  #replacing: Promise<void> | undefined;
  readonly #recoveries = { relogins: 0, engineReplacements: 0, retries: 0 };
  readonly #syncSession: bigint | undefined;
  #pin: Buffer | undefined;
  #closing: Promise<void> | undefined;
  /** Key generation runs one at a time per Token: the id check and the generation stay atomic,
   *  and SoftHSM is not reliably safe with concurrent generation on one token (Hydra's finding). */
  #keygen: Promise<unknown> = Promise.resolve();

  /** @internal Use Pkcs11Module.openToken. */
  static async open(
    native: NativeModule,
    slot: bigint,
    info: NativeTokenInfo,
    options: TokenOptions,
    mechanismNames: ReadonlyMap<number, string>,
    onClose: (t: Token) => void,
  ): Promise<Token> {
    const poolSize = checkTokenOptions(options, info);
    const pin = options.pin === undefined ? undefined : Buffer.from(options.pin);
    const anchor = await call(() => native.openSession(slot, RW_SERIAL));
    try {
      if (pin) await login(native, anchor, pin);
      const mechanisms = (await call(() => native.getMechanisms(slot))).map((m) => {
        const name = mechanismNames.get(m.type);
        return name ? { ...m, name } : m;
      });
      const engine = await openEngine(native, slot, options.engine, poolSize);
      const syncSession = options.signSync ? await call(() => native.openSession(slot, RW_SERIAL)) : undefined;
      return new Token(native, slot, info, anchor, pin, mechanisms, poolSize, options, onClose, engine, syncSession);
    } catch (e) {
      pin?.fill(0);
      await call(() => native.closeSession(anchor)).catch(() => undefined);
      throw e;
    }
  }

  private constructor(
    native: NativeModule,
    slot: bigint,
    info: NativeTokenInfo,
    anchor: bigint,
    pin: Buffer | undefined,
    mechanisms: MechanismInfo[],
    poolSize: number,
    options: TokenOptions,
    onClose: (t: Token) => void,
    engine: Engine | undefined,
    syncSession: bigint | undefined,
  ) {
    this.#native = native;
    this.#engine = engine;
    this.#engineOptions = options.engine;
    this.#poolSize = poolSize;
    this.#syncSession = syncSession;
    this.slot = slot;
    this.label = info.label;
    this.serialNumber = info.serialNumber;
    this.manufacturerID = info.manufacturerID;
    this.model = info.model;
    this.#anchor = anchor;
    this.#pin = pin;
    this.#mechanisms = mechanisms;
    this.#available = new Set(mechanisms.map((m) => m.type));
    this.#onClose = onClose;
    this.#pool = new SessionPool({
      size: poolSize,
      waitTimeoutMs: options.poolWaitTimeoutMs ?? DEFAULT_WAIT_MS,
      open: () => call(() => native.openSession(slot, RW_SERIAL)),
      close: (s) => call(() => native.closeSession(s)),
    });
  }

  /** The token's mechanisms with their key sizes and flags (read once, at open). */
  async mechanisms(): Promise<MechanismInfo[]> {
    this.#checkOpen();
    return this.#mechanisms.map((m) => ({ ...m }));
  }

  /** Session-pool figures, for monitoring. */
  poolStats(): SessionPoolStats {
    return this.#pool.stats();
  }

  /**
   * Generates a key pair on the token with hardened templates (token objects, private, sensitive,
   * not extractable; the same CKA_ID and CKA_LABEL on both halves). RSA-4096 takes seconds.
   * Refuses an id that a private key on the token already has (ERR_KEY_EXISTS).
   */
  async generateKeyPair(spec: KeySpec, options: KeyPairOptions): Promise<KeyPair> {
    this.#checkOpen();
    const s = checkKeySpec(spec);
    const o = checkKeyPairOptions(options, s);
    const { mechanism, publicTemplate, privateTemplate } = keyPairTemplates(s, o);
    if (!this.#available.has(mechanism.type)) throw new MechanismUnsupportedError(`${s.type} key generation`);
    const generate = () =>
      this.#withSession(async (session) => {
        const reader = new KeyReader(this.#native, session);
        if ((await reader.find([[CKA.CLASS, CKO.PRIVATE_KEY], [CKA.ID, o.id]], 1)).length > 0) {
          throw new KeyExistsError(Buffer.from(o.id).toString('hex'));
        }
        const handles = await call(() => this.#native.generateKeyPair(session, mechanism, publicTemplate, privateTemplate));
        return (await reader.readKeyPair(handles.privateKey, handles.publicKey))!;
      });
    const result = this.#keygen.then(generate, generate);
    this.#keygen = result.catch(() => undefined);
    return result;
  }

  /** Key pairs whose private object matches `label` and/or `id`, paired by CKA_ID. */
  async findKeyPairs(query: KeyPairQuery = {}): Promise<KeyPair[]> {
    this.#checkOpen();
    if (typeof query !== 'object' || query === null) throw invalidArgType('query', 'an object', query);
    if (query.label !== undefined && typeof query.label !== 'string') throw invalidArgType('query.label', 'a string', query.label);
    if (query.id !== undefined && !(query.id instanceof Uint8Array)) throw invalidArgType('query.id', 'a Uint8Array', query.id);
    return this.#withSession((session) => new KeyReader(this.#native, session).findKeyPairs(query));
  }

  /** Signs `data` with the private key; see SignMechanism for what is hashed where. */
  async sign(keyPair: KeyPair, mechanism: SignMechanism, data: Uint8Array): Promise<Buffer> {
    this.#checkOpen();
    checkKeyPair(keyPair);
    if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'a Buffer or Uint8Array', data);
    const prepared = prepareSignature(mechanism, keyPair, this.#available, data);
    if (this.#engine) {
      if (destroyed.has(keyPair)) throw new KeyDestroyedError();
      // The hot path: a bare mechanism type when there is no parameter, and no extra async frame.
      const m = prepared.mechanism.parameter ? prepared.mechanism : prepared.mechanism.type;
      return this.#signOnEngine(keyPair, m, prepared.data, 0);
    }
    const viaPool = (): Promise<Buffer> =>
      this.#withSession((session) => {
        if (destroyed.has(keyPair)) throw new KeyDestroyedError();
        return call(() =>
          this.#native.sign(session, keyPair.privateKey, prepared.mechanism, prepared.data, keyPair.signatureLength),
        );
      });
    // A session the pool lent that turned out lost was evicted already: recover, then retry once.
    return viaPool().catch((e: unknown) => this.#recover(e, undefined, viaPool));
  }

  #signOnEngine(keyPair: KeyPair, m: NativeMechanismArg, data: Uint8Array, attempt: number): Promise<Buffer> {
    const engine = this.#engine!;
    let pending: Promise<Buffer>;
    try {
      pending = engine.native.sign(keyPair.privateKey, m, data, keyPair.signatureLength);
    } catch (e) {
      pending = Promise.reject(e); // refused at once (the engine is closing or being replaced)
    }
    if (attempt > 0) return pending.catch(rethrowTyped);
    return pending.catch((e: unknown) => this.#recover(e, engine, () => this.#signOnEngine(keyPair, m, data, 1)));
  }

  /**
   * After a failed idempotent operation: log in again when the login was lost, replace the
   * signing engine's sessions when one was lost (the pool evicts its own), then retry once. Key
   * generation never comes here. Anything else, or a second failure, is the caller's typed error.
   */
  async #recover<T>(error: unknown, engine: Engine | undefined, retry: () => Promise<T>): Promise<T> {
    const e = fromNative(error);
    if (this.#closing) throw e;
    if (e instanceof ClosedError && engine && this.#engine !== engine) {
      this.#recoveries.retries++;
      return retry(); // refused by an engine that was replaced meanwhile
    }
    if (!(e instanceof Pkcs11Error)) throw e;
    if (e.category === 'login-needed' && this.#pin) {
      await this.#relogin();
    } else if (e.category === 'session-lost') {
      if (engine) await this.#replaceEngine(engine);
    } else {
      throw e;
    }
    this.#recoveries.retries++;
    return retry();
  }

  #relogin(): Promise<void> {
    this.#relogging ??= login(this.#native, this.#anchor, this.#pin!)
      .then(() => void this.#recoveries.relogins++)
      .finally(() => (this.#relogging = undefined));
    return this.#relogging;
  }

  /** New sessions and threads for the engine; the old one's queued requests are retried on it. */
  #replaceEngine(broken: Engine): Promise<void> {
    if (this.#engine !== broken) return Promise.resolve(); // replaced already
    this.#replacing ??= (async () => {
      const fresh = await openEngine(this.#native, this.slot, this.#engineOptions, this.#poolSize);
      this.#engine = fresh;
      this.#recoveries.engineReplacements++;
      await call(() => broken.native.close()).catch(() => undefined);
      await Promise.all(broken.sessions.map((s) => call(() => this.#native.closeSession(s)).catch(() => undefined)));
    })().finally(() => (this.#replacing = undefined));
    return this.#replacing;
  }

  /** Pool, signing engine and recovery figures, for monitoring. */
  stats(): { pool: SessionPoolStats; engine: NativeSignEngineStats | undefined; recoveries: { relogins: number; engineReplacements: number; retries: number } } {
    return { pool: this.#pool.stats(), engine: this.#engine?.native.stats(), recoveries: { ...this.#recoveries } };
  }

  /**
   * Signs on the JS thread, blocking the event loop for the whole signature (tens of µs on
   * SoftHSM, milliseconds for RSA-4096 or a network HSM). For a lone caller that awaits each
   * signature on a local module; needs `signSync: true` at openToken.
   */
  signSync(keyPair: KeyPair, mechanism: SignMechanism, data: Uint8Array): Buffer {
    this.#checkOpen();
    checkKeyPair(keyPair);
    if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'a Buffer or Uint8Array', data);
    if (this.#syncSession === undefined) throw new HsmJwksError('ERR_SIGN_SYNC_DISABLED', 'open the token with { signSync: true } to use signSync');
    if (destroyed.has(keyPair)) throw new KeyDestroyedError();
    const prepared = prepareSignature(mechanism, keyPair, this.#available, data);
    try {
      return this.#native.signSync(this.#syncSession, keyPair.privateKey, prepared.mechanism, prepared.data, keyPair.signatureLength);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Signing-engine figures (undefined when the token signs through the pool). */
  engineStats(): NativeSignEngineStats | undefined {
    return this.#engine?.native.stats();
  }

  /** Verifies on the token with the public object (for diagnostics; callers normally verify in software). */
  async verify(keyPair: KeyPair, mechanism: SignMechanism, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    this.#checkOpen();
    checkKeyPair(keyPair);
    if (keyPair.publicKey === null) throw invalidArgType('keyPair.publicKey', 'a public key handle', null);
    if (!(signature instanceof Uint8Array)) throw invalidArgType('signature', 'a Buffer or Uint8Array', signature);
    const prepared = prepareSignature(mechanism, keyPair, this.#available, data);
    return this.#withSession((session) =>
      call(() => this.#native.verify(session, keyPair.publicKey!, prepared.mechanism, prepared.data, signature)),
    );
  }

  /** Decrypts with an RSA private key. */
  async decrypt(keyPair: KeyPair, mechanism: DecryptMechanism, data: Uint8Array): Promise<Buffer> {
    this.#checkOpen();
    checkKeyPair(keyPair);
    if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'a Buffer or Uint8Array', data);
    const m = prepareDecryption(mechanism, keyPair, this.#available);
    return this.#withSession((session) => {
      if (destroyed.has(keyPair)) throw new KeyDestroyedError();
      return call(() => this.#native.decrypt(session, keyPair.privateKey, m, data));
    });
  }

  /**
   * Destroys both halves. From this call on, operations on this KeyPair object that have not
   * reached the token fail with ERR_KEY_DESTROYED (find the key again if destruction fails).
   */
  async destroyKeyPair(keyPair: KeyPair): Promise<void> {
    this.#checkOpen();
    checkKeyPair(keyPair);
    destroyed.add(keyPair);
    await this.#withSession(async (session) => {
      await call(() => this.#native.destroyObject(session, keyPair.privateKey));
      if (keyPair.publicKey !== null) {
        await call(() => this.#native.destroyObject(session, keyPair.publicKey!)).catch((e: unknown) => {
          if (!(e instanceof Pkcs11Error && e.category === 'object-stale')) throw e;
        });
      }
    });
  }

  /** Random bytes from the token's generator. */
  async random(length: number): Promise<Buffer> {
    this.#checkOpen();
    if (typeof length !== 'number') throw invalidArgType('length', 'a number', length);
    if (!Number.isSafeInteger(length) || length < 0 || length > 1 << 20) {
      throw invalidArgValue('length', 'an integer from 0 to 1048576', length);
    }
    return this.#withSession((session) => call(() => this.#native.generateRandom(session, length)));
  }

  /** Waits for operations in flight, closes every session (which ends the login) and forgets the PIN. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = (async () => {
        try {
          if (this.#engine) {
            // Queued signatures are rejected (ERR_CLOSED); running batches finish; threads end.
            await call(() => this.#engine!.native.close());
            await Promise.all(this.#engine.sessions.map((s) => call(() => this.#native.closeSession(s)).catch(() => undefined)));
          }
          if (this.#syncSession !== undefined) await call(() => this.#native.closeSession(this.#syncSession!)).catch(() => undefined);
          await this.#pool.close();
          await call(() => this.#native.closeSession(this.#anchor)).catch(() => undefined);
        } finally {
          this.#pin?.fill(0);
          this.#pin = undefined;
          this.#onClose(this);
        }
      })();
    }
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError('the token');
  }

  #withSession<T>(fn: (session: bigint) => Promise<T>): Promise<T> {
    return this.#pool.use(fn);
  }
}

function rethrowTyped(e: unknown): never {
  throw fromNative(e);
}

function checkKeyPair(keyPair: unknown): asserts keyPair is KeyPair {
  if (typeof keyPair !== 'object' || keyPair === null || typeof (keyPair as KeyPair).privateKey !== 'bigint') {
    throw invalidArgType('keyPair', 'a KeyPair from findKeyPairs or generateKeyPair', keyPair);
  }
}

