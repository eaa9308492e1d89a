// Exactly what the native addon (native/addon.cc) exports: nothing more, nothing `any`.
// test/native/binding-surface.test.ts checks the loaded addon against this declaration.
// Handles (slots, sessions, objects) are bigint; CK_ULONG values are numbers; every call that can
// reach the token returns a Promise and runs off the JS thread.

/** A PKCS#11 version. */
export interface NativeVersion {
  major: number;
  minor: number;
}

/** C_GetInfo, blank padding removed. */
export interface NativeModuleInfo {
  cryptokiVersion: NativeVersion;
  manufacturerID: string;
  flags: number;
  libraryDescription: string;
  libraryVersion: NativeVersion;
}

/** C_GetTokenInfo, blank padding removed. Counts may be CK_UNAVAILABLE_INFORMATION (2^64-1). */
export interface NativeTokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: number;
  maxSessionCount: number;
  sessionCount: number;
  maxRwSessionCount: number;
  rwSessionCount: number;
  maxPinLen: number;
  minPinLen: number;
  hardwareVersion: NativeVersion;
  firmwareVersion: NativeVersion;
}

/** One slot from C_GetSlotList + C_GetSlotInfo (+ C_GetTokenInfo when a token is readable). */
export interface NativeSlot {
  slot: bigint;
  description: string;
  manufacturerID: string;
  flags: number;
  token: NativeTokenInfo | null;
}

/** C_GetMechanismList + C_GetMechanismInfo. */
export interface NativeMechanismInfo {
  type: number;
  minKeySize: number;
  maxKeySize: number;
  flags: number;
}

/** C_GetSessionInfo. */
export interface NativeSessionInfo {
  slot: bigint;
  state: number;
  flags: number;
  deviceError: number;
}

/** What the module registry knows about a loaded module. */
export interface NativeModuleDescription {
  /** Real path the module was loaded from (the registry key). */
  path: string;
  functionListVersion: NativeVersion;
  /** The function list came from C_GetInterface (PKCS#11 3.0) rather than C_GetFunctionList. */
  viaGetInterface: boolean;
  /** False when someone else in the process had initialised the module: we never finalize it. */
  ownsInitialization: boolean;
  deepBind: boolean;
  /** CKF_OS_LOCKING_OK was accepted; when false every call into the module is serialised. */
  osLocking: boolean;
  /** References held on the registry entry, across all JS environments of the process. */
  references: number;
  /**
   * The module generation this object was made in (0 at load, +1 per re-initialisation), for its
   * whole life: once the module has been re-initialised, its calls that use session or object
   * handles are refused with ModuleReinitializedError (share() makes an object of the new generation).
   */
  generation: number;
}

/** A value in an attribute template; its kind must match the attribute's entry in CKA_KIND. */
export type NativeAttributeValue = boolean | number | bigint | string | Uint8Array | readonly number[];
export type NativeTemplate = ReadonlyArray<readonly [type: number, value: NativeAttributeValue]>;

/** One attribute read by C_GetAttributeValue: a value, or why there is none. */
export type NativeAttributeReading =
  | { type: number; value: boolean | number | string | Buffer | number[] }
  | { type: number; absent: 'sensitive' | 'invalid' | 'unavailable' };

export type NativeMechanismParameter =
  | { kind: 'pss'; hashAlg: number; mgf: number; saltLength: number }
  | { kind: 'oaep'; hashAlg: number; mgf: number; label?: Uint8Array }
  | { kind: 'raw'; data: Uint8Array };

export interface NativeMechanism {
  type: number;
  parameter?: NativeMechanismParameter;
}
/** Where a mechanism is taken: a plain number is a mechanism without parameter (the fast path). */
export type NativeMechanismArg = NativeMechanism | number;

export interface NativeLoadOptions {
  /** dlopen with RTLD_DEEPBIND (glibc only; default true). */
  deepBind?: boolean;
  /** Pass CKF_OS_LOCKING_OK to C_Initialize (default true; retried without on CKR_CANT_LOCK). */
  osLocking?: boolean;
  /** CK_C_INITIALIZE_ARGS.pReserved, e.g. NSS softokn's configuration string. */
  initArgs?: string;
}

/**
 * The error classes the addon constructs its failures as, handed over once per JS environment by
 * setErrorClasses (lib/pkcs11/native.ts does it when it loads the binding: every failure then
 * reaches JS typed, with a code of lib/errors.ts). Without them (the binding used raw) failures are
 * plain Errors: see NativePkcs11Failure, NativeLoadFailure, NativeBindingErrorCode.
 */
export interface NativeErrorClasses {
  /** A PKCS#11 function returned something other than CKR_OK (`code` ERR_PKCS11_<CKR name>). */
  Pkcs11Error: new (
    rv: number,
    fn: string,
    ckr: string,
  ) => Error;
  /** A closed module or signing engine (raw: ERR_HSM_CLOSED); `what` names it. */
  ClosedError: new (
    what: string,
  ) => Error;
  /** Handles from before a re-initialisation (raw: ERR_HSM_REINITIALIZED). */
  ModuleReinitializedError: new () => Error;
  /** The signing engine has maxPending requests unsettled (raw: ERR_HSM_QUEUE_FULL). */
  QueueFullError: new (
    what: string,
  ) => Error;
  /** reinitialize() of a module another component initialised (raw: ERR_HSM_NOT_OWNER). */
  ModuleNotOwnedError: new () => Error;
  /** reinitialize() gave up: calls in flight outlasted drainTimeoutMs (raw: ERR_HSM_BUSY). */
  ModuleBusyError: new () => Error;
  /** A second operation on a session that carries one (raw: ERR_HSM_SESSION_BUSY). */
  SessionBusyError: new () => Error;
  /** load() failed; `cause` is the Pkcs11Error of C_Initialize for ERR_MODULE_INIT_FAILED (raw: NativeLoadFailure). */
  ModuleLoadError: new (
    code: NativeLoadErrorCode,
    path: string,
    detail: string,
    cause?: unknown,
  ) => Error;
  /** The addon's own failure: out of memory, no thread could be started (raw: a plain Error). */
  AddonFailureError: new (
    detail: string,
  ) => Error;
  /** Makes the TypeError (code ERR_INVALID_ARG_TYPE) of an argument of the wrong type. */
  invalidArgType: (message: string) => TypeError;
  /** Makes the RangeError (code ERR_INVALID_ARG_VALUE) of an argument of a wrong value. */
  invalidArgValue: (message: string) => RangeError;
}

/** The code of the ModuleLoadError a failed load() rejects with. */
export type NativeLoadErrorCode =
  | 'ERR_MODULE_NOT_FOUND'
  | 'ERR_MODULE_NOT_PKCS11'
  | 'ERR_MODULE_LOAD_FAILED'
  | 'ERR_MODULE_INIT_FAILED';

/** Raw binding: properties set on errors from PKCS#11 calls (the promise rejects with an Error carrying them). */
export interface NativePkcs11Failure {
  rv: number;
  ckr: string;
  fn: string;
}

/** Raw binding: properties set on load() failures. `init` failures also carry NativePkcs11Failure fields. */
export interface NativeLoadFailure {
  reason: 'not-found' | 'not-pkcs11' | 'dlopen' | 'init';
  path: string;
  detail: string;
}

/**
 * Codes of the argument errors every method throws synchronously, before any call is queued: a
 * TypeError with ERR_INVALID_ARG_TYPE (wrong type) or a RangeError with ERR_INVALID_ARG_VALUE
 * (wrong value or range), as lib/errors.ts invalidArgType/invalidArgValue make them (with the
 * classes set, they are made by those very factories).
 */
export type NativeArgumentErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE';

/** Raw binding: codes of the plain errors thrown for misuse (NativeErrorClasses says what each becomes). */
export type NativeBindingErrorCode =
  | 'ERR_HSM_CLOSED'
  | 'ERR_HSM_SESSION_BUSY'
  | 'ERR_HSM_REINITIALIZED'
  | 'ERR_HSM_QUEUE_FULL'
  | 'ERR_HSM_NOT_OWNER'
  | 'ERR_HSM_BUSY';

/** One loaded PKCS#11 module (a reference on the process-wide registry entry). */
export declare class NativeModule {
  private constructor();
  describe(): NativeModuleDescription;
  getInfo(): Promise<NativeModuleInfo>;
  getSlots(tokenPresent: boolean): Promise<NativeSlot[]>;
  getTokenInfo(slot: bigint): Promise<NativeTokenInfo>;
  getMechanisms(slot: bigint): Promise<NativeMechanismInfo[]>;
  /**
   * C_InitToken: (re)initialises the token in `slot` (every object on it is destroyed) with this SO
   * PIN and `label` (at most 32 bytes of UTF-8, blank-padded). No session may be open on the slot.
   * The SO PIN buffer is used in place (pinned, not copied); zero it after the promise settles.
   */
  initToken(slot: bigint, soPin: Uint8Array, label: string): Promise<void>;
  /** CKF_SERIAL_SESSION is always added to `flags`. */
  openSession(slot: bigint, flags: number): Promise<bigint>;
  closeSession(session: bigint): Promise<void>;
  getSessionInfo(session: bigint): Promise<NativeSessionInfo>;
  /** The PIN buffer is used in place (pinned, not copied); zero it after the promise settles. */
  login(session: bigint, userType: number, pin: Uint8Array): Promise<void>;
  logout(session: bigint): Promise<void>;
  /**
   * C_InitPIN: sets the user PIN, in a read/write session logged in as the SO (login with CKU.SO).
   * The PIN buffer is used in place (pinned, not copied); zero it after the promise settles.
   */
  initPin(session: bigint, pin: Uint8Array): Promise<void>;
  /** C_FindObjectsInit + C_FindObjects (up to maxObjects) + C_FindObjectsFinal. */
  findObjects(session: bigint, template: NativeTemplate, maxObjects: number): Promise<bigint[]>;
  getAttributes(session: bigint, object: bigint, types: readonly number[]): Promise<NativeAttributeReading[]>;
  /**
   * The same attributes of many objects (at most 100000) in one call off the JS thread: null for an
   * object that is gone (CKR_OBJECT_HANDLE_INVALID); any other failure rejects the whole call.
   */
  getAttributesMany(
    session: bigint,
    objects: readonly bigint[],
    types: readonly number[],
  ): Promise<Array<NativeAttributeReading[] | null>>;
  /** C_SetAttributeValue with the whole template in one call. */
  setAttributes(session: bigint, object: bigint, template: NativeTemplate): Promise<void>;
  /** C_CreateObject: the new object's handle. */
  createObject(session: bigint, template: NativeTemplate): Promise<bigint>;
  generateKeyPair(
    session: bigint,
    mechanism: NativeMechanism,
    publicTemplate: NativeTemplate,
    privateTemplate: NativeTemplate,
  ): Promise<{ publicKey: bigint; privateKey: bigint }>;
  destroyObject(session: bigint, object: bigint): Promise<void>;
  /**
   * C_SignInit + C_Sign. `signatureLength` > 0 sizes the output from key metadata (one C_Sign);
   * 0 uses the length query. `data` is pinned and used in place.
   */
  sign(
    session: bigint,
    key: bigint,
    mechanism: NativeMechanism,
    data: Uint8Array,
    signatureLength: number,
  ): Promise<Buffer>;
  /**
   * C_SignInit + C_Sign on the JS thread: blocks the event loop for the whole signature. For a
   * lone caller on a local module (the token layer's signSync); `signatureLength` must be > 0.
   */
  signSync(
    session: bigint,
    key: bigint,
    mechanism: NativeMechanismArg,
    data: Uint8Array,
    signatureLength: number,
  ): Buffer;
  /** C_VerifyInit + C_Verify; an invalid signature resolves false. */
  verify(
    session: bigint,
    key: bigint,
    mechanism: NativeMechanism,
    data: Uint8Array,
    signature: Uint8Array,
  ): Promise<boolean>;
  /** C_DecryptInit + C_Decrypt (length query). */
  decrypt(session: bigint, key: bigint, mechanism: NativeMechanism, data: Uint8Array): Promise<Buffer>;
  generateRandom(session: bigint, length: number): Promise<Buffer>;
  /**
   * A signing engine that owns `sessions` (1 to 1024, logged in, unused elsewhere: the addon
   * refuses them to other calls until the engine releases them), one worker thread each.
   * `batchSize` (default 16): requests a worker takes at once. `limit` (default: one per session):
   * workers allowed to sign at once (see NativeSignEngine.setLimit).
   */
  createSignEngine(
    sessions: readonly bigint[],
    options?: { batchSize?: number; maxPending?: number; limit?: number },
  ): NativeSignEngine;
  /** Another NativeModule on the same loaded module (one more registry reference), with its own generation and close. */
  share(): Promise<NativeModule>;
  /**
   * After the device went away: unless the module was re-initialised since this object's
   * generation, C_Finalize + C_Initialize (with the load's arguments), waiting for every call in
   * flight first and holding new ones back; if an earlier attempt left it uninitialised, only
   * C_Initialize. This object keeps its generation (use share() for the new one). Resolves with
   * the module's generation; rejects with the C_Initialize failure, or ModuleNotOwnedError when
   * another component of the process initialised the module. Calls in flight that do not end
   * within `drainTimeoutMs` (default 10000) make it give up at once, doing nothing: ModuleBusyError.
   */
  reinitialize(options?: { drainTimeoutMs?: number }): Promise<number>;
  /** Refuses new calls at once, waits for those in flight, then drops the registry reference. */
  close(): Promise<void>;
}

/**
 * dlopen(RTLD_NOW|RTLD_LOCAL[|RTLD_DEEPBIND]) + C_GetInterface/C_GetFunctionList + C_Initialize.
 * Rejects with a ModuleLoadError (raw binding: an Error with NativeLoadFailure's properties).
 */
export declare function load(path: string, options?: NativeLoadOptions): Promise<NativeModule>;

/**
 * The error classes of this JS environment (every member required; a TypeError otherwise, and the
 * classes in place stay). A later call replaces them. Each environment (main thread, worker)
 * has its own: nothing of one is ever constructed in another.
 */
export declare function setErrorClasses(classes: NativeErrorClasses): void;

/** Figures of a signing engine. */
export interface NativeSignEngineStats {
  /** Worker threads (one session each) taking requests; retired ones no longer count. */
  workers: number;
  /** Workers allowed inside a batch at once (1 to `workers`; see setLimit). */
  limit: number;
  /** Workers inside a batch now (at most `limit`, except just after the limit was lowered). */
  running: number;
  batchSize: number;
  /** Requests waiting for a worker. */
  queued: number;
  /** Requests submitted and not yet settled. */
  outstanding: number;
  batches: number;
  completed: number;
  /** Total time workers waited for requests. */
  idleMs: number;
  /** Times finished requests were delivered to the JS thread (each delivery settles many). */
  drains: number;
  /** Unsettled requests beyond which sign() throws QueueFullError (default 65536). */
  maxPending: number;
  /**
   * Cumulative time, in microseconds (fractional), of each request's C_SignInit+C_Sign, measured
   * on its worker (steady clock): every request that reached the module, failed or not.
   */
  signLatencyUsSum: number;
  /** Requests counted in signLatencyUsSum (one per request, not per batch). */
  signLatencyCount: number;
}

/**
 * Queued C_SignInit+C_Sign on worker threads of its own, one session each, settled in bulk. At
 * most `limit` workers run C_SignInit+C_Sign at once; the others wait and take no work.
 */
export declare class NativeSignEngine {
  private constructor();
  /**
   * Output sized by `signatureLength` (from the key); `data` is pinned and read in place. Throws
   * QueueFullError when maxPending requests are unsettled.
   */
  sign(key: bigint, mechanism: NativeMechanismArg, data: Uint8Array, signatureLength: number): Promise<Buffer>;
  stats(): NativeSignEngineStats;
  /**
   * At most `limit` workers inside a batch at once, 1 to stats().workers (ERR_INVALID_ARG_VALUE
   * otherwise). Raised: waiting workers start at once. Lowered: running batches finish first.
   */
  setLimit(limit: number): void;
  /**
   * One more worker thread per session (logged in, unused elsewhere: claimed like those given to
   * createSignEngine), up to 1024 workers in all. The limit is left as it is: raise it to use them.
   */
  addSessions(sessions: readonly bigint[]): void;
  /**
   * Up to `count` workers (1 to 1024) finish their current batch and exit; idle ones go first.
   * It never leaves fewer workers than the limit (so never fewer than one): lower the limit first
   * to retire more. Resolves, once their threads are joined (off the JS thread), with their
   * sessions, released from the engine's claim, for the caller to close ([] when none could go).
   */
  retireWorkers(count: number): Promise<bigint[]>;
  /** Rejects queued requests (ClosedError), lets running batches finish, joins the threads. */
  close(): Promise<void>;
}
