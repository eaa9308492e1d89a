// Typed errors of the PKCS#11 layer. Every error has a stable `code` from ErrorCode (../errors.ts):
// match on it, never on the message. No message, property or cause ever holds a PIN or key material.
// The addon throws these classes itself (native.ts hands them over at load: setErrorClasses).
import { ckrName } from './constants';
import { HsmJwksError, type Codes, type Pkcs11ErrorCode } from '../errors';

// The shared vocabulary, re-exported for the files of this layer that import it from here.
export { ClosedError, HsmJwksError, invalidArgType, invalidArgValue } from '../errors';

/** What a caller (or the recovery logic) can do about a PKCS#11 failure. */
export type Pkcs11ErrorCategory =
  /** The session is gone (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED): open another. */
  | 'session-lost'
  /** The token forgot the login (CKR_USER_NOT_LOGGED_IN): log in again. */
  | 'login-needed'
  /** An object handle no longer names an object: find the key again by CKA_ID. */
  | 'object-stale'
  /** The device, token or library went away: re-initialise. */
  | 'device-gone'
  /** The request itself is wrong (mechanism, template, data, PIN): retrying will not help. */
  | 'bad-input'
  /** Anything else. */
  | 'fatal';

const CATEGORY_BY_CKR: Readonly<Record<string, Pkcs11ErrorCategory>> = {
  CKR_SESSION_HANDLE_INVALID: 'session-lost',
  CKR_SESSION_CLOSED: 'session-lost',
  CKR_USER_NOT_LOGGED_IN: 'login-needed',
  CKR_OBJECT_HANDLE_INVALID: 'object-stale',
  CKR_KEY_HANDLE_INVALID: 'object-stale',
  CKR_DEVICE_REMOVED: 'device-gone',
  CKR_DEVICE_ERROR: 'device-gone',
  CKR_TOKEN_NOT_PRESENT: 'device-gone',
  CKR_TOKEN_NOT_RECOGNIZED: 'device-gone',
  CKR_CRYPTOKI_NOT_INITIALIZED: 'device-gone',
  CKR_ARGUMENTS_BAD: 'bad-input',
  CKR_ATTRIBUTE_READ_ONLY: 'bad-input',
  CKR_ATTRIBUTE_TYPE_INVALID: 'bad-input',
  CKR_ATTRIBUTE_VALUE_INVALID: 'bad-input',
  CKR_CURVE_NOT_SUPPORTED: 'bad-input',
  CKR_DATA_INVALID: 'bad-input',
  CKR_DATA_LEN_RANGE: 'bad-input',
  CKR_DOMAIN_PARAMS_INVALID: 'bad-input',
  CKR_ENCRYPTED_DATA_INVALID: 'bad-input',
  CKR_ENCRYPTED_DATA_LEN_RANGE: 'bad-input',
  CKR_FUNCTION_NOT_SUPPORTED: 'bad-input',
  CKR_KEY_FUNCTION_NOT_PERMITTED: 'bad-input',
  CKR_KEY_SIZE_RANGE: 'bad-input',
  CKR_KEY_TYPE_INCONSISTENT: 'bad-input',
  CKR_MECHANISM_INVALID: 'bad-input',
  CKR_MECHANISM_PARAM_INVALID: 'bad-input',
  CKR_PIN_INCORRECT: 'bad-input',
  CKR_PIN_INVALID: 'bad-input',
  CKR_PIN_LEN_RANGE: 'bad-input',
  CKR_PIN_LOCKED: 'bad-input',
  CKR_PIN_EXPIRED: 'bad-input',
  CKR_SIGNATURE_INVALID: 'bad-input',
  CKR_SIGNATURE_LEN_RANGE: 'bad-input',
  CKR_TEMPLATE_INCOMPLETE: 'bad-input',
  CKR_TEMPLATE_INCONSISTENT: 'bad-input',
  CKR_USER_TYPE_INVALID: 'bad-input',
};

/**
 * A PKCS#11 function returned something other than CKR_OK.
 * `code` is `ERR_PKCS11_` + the CKR name without its prefix, e.g. `ERR_PKCS11_PIN_INCORRECT`.
 */
export class Pkcs11Error extends HsmJwksError {
  declare readonly code: Pkcs11ErrorCode;
  /** The CK_RV as a number (vendor codes >= 0x80000000 pass through). */
  readonly rv: number;
  /** The CKR_ name, e.g. `CKR_PIN_INCORRECT`. */
  readonly ckr: string;
  /** The PKCS#11 function that failed, e.g. `C_Login`. */
  readonly fn: string;
  readonly category: Pkcs11ErrorCategory;
  constructor(rv: number, fn: string, ckr: string = ckrName(rv)) {
    super(
      `ERR_PKCS11_${ckr.replace(/^CKR_/, '')}` as Pkcs11ErrorCode,
      `${fn} failed: ${ckr} (0x${rv.toString(16).padStart(8, '0')})`,
    );
    this.rv = rv;
    this.ckr = ckr;
    this.fn = fn;
    this.category = CATEGORY_BY_CKR[ckr] ?? 'fatal';
  }
}

export type ModuleLoadErrorCode = Codes<
  'ERR_MODULE_NOT_FOUND' | 'ERR_MODULE_NOT_PKCS11' | 'ERR_MODULE_LOAD_FAILED' | 'ERR_MODULE_INIT_FAILED'
>;

/** The PKCS#11 library could not be loaded; `code` says why. */
export class ModuleLoadError extends HsmJwksError {
  declare readonly code: ModuleLoadErrorCode;
  readonly path: string;
  constructor(code: ModuleLoadErrorCode, path: string, detail: string, cause?: unknown) {
    const why: Record<ModuleLoadErrorCode, string> = {
      ERR_MODULE_NOT_FOUND: 'no such file',
      ERR_MODULE_NOT_PKCS11: 'not a PKCS#11 module',
      ERR_MODULE_LOAD_FAILED: 'the dynamic loader refused it',
      ERR_MODULE_INIT_FAILED: 'C_Initialize failed',
    };
    super(code, `cannot load PKCS#11 module ${JSON.stringify(path)}: ${why[code]} (${detail})`, { cause });
    this.path = path;
  }
}

/** A token seen while selecting one: its label, serial number and slot id. */
export interface TokenSeen {
  label: string;
  serialNumber: string;
  slot: string;
}

/**
 * No initialised token matches the selector; `labels` lists the tokens that are present, `tokens`
 * each with its serial and slot, `slots` the ids of every slot with a token present (initialised or not).
 */
export class TokenNotFoundError extends HsmJwksError {
  readonly labels: string[];
  readonly tokens: TokenSeen[];
  readonly slots: string[];
  constructor(selector: string, labels: string[], tokens: TokenSeen[] = [], slots: string[] = []) {
    const present = tokens.length
      ? tokens.map((t) => `${JSON.stringify(t.label)} (serial ${t.serialNumber}, slot ${t.slot})`).join(', ')
      : labels.length
        ? labels.map((l) => JSON.stringify(l)).join(', ')
        : 'none';
    super(
      'ERR_TOKEN_NOT_FOUND',
      `no token matches ${selector}; tokens present: ${present}${slots.length ? `; slot ids: ${slots.join(', ')}` : ''}`,
    );
    this.labels = labels;
    this.tokens = tokens;
    this.slots = slots;
  }
}

/** Several tokens carry the requested label; `serials` lists them so one can be chosen. */
export class TokenAmbiguousError extends HsmJwksError {
  readonly serials: string[];
  /** `uri`: the tokens matched this PKCS#11 URI (shown without its query), not a label. */
  constructor(label: string, serials: string[], uri?: string) {
    super(
      'ERR_TOKEN_AMBIGUOUS',
      uri === undefined
        ? `${serials.length} tokens are labelled ${JSON.stringify(label)} (serials ${serials.join(', ')}); select one by serial`
        : `${serials.length} tokens match the URI ${uri} (serials ${serials.join(', ')}); add serial= to it`,
    );
    this.serials = serials;
  }
}

/** No session became free within the pool's wait timeout. */
export class PoolTimeoutError extends HsmJwksError {
  constructor(timeoutMs: number, size: number) {
    super('ERR_POOL_TIMEOUT', `no session of ${size} became free within ${timeoutMs} ms`);
  }
}

/** The key pair was destroyed (by this token object) before the operation reached the token. */
export class KeyDestroyedError extends HsmJwksError {
  constructor() {
    super('ERR_KEY_DESTROYED', 'the key pair has been destroyed');
  }
}

/** A key pair looked up again by CKA_ID (after a re-initialisation) is no longer on the token. */
export class KeyGoneError extends HsmJwksError {
  constructor(idHex: string) {
    super('ERR_KEY_GONE', `the key pair with CKA_ID ${idHex} is no longer on the token`);
  }
}

/** A key pair with this CKA_ID already exists on the token. */
export class KeyExistsError extends HsmJwksError {
  constructor(idHex: string) {
    super('ERR_KEY_EXISTS', `a private key with CKA_ID ${idHex} already exists on the token`);
  }
}

/**
 * A data object made before a re-initialisation (or whose handle went stale) is no longer on the
 * token: no object has its class, CKA_APPLICATION, CKA_LABEL and CKA_VALUE any more.
 */
export class DataObjectGoneError extends HsmJwksError {
  constructor(application: string, label: string) {
    super(
      'ERR_DATA_OBJECT_GONE',
      `the data object ${JSON.stringify(label)} of application ${JSON.stringify(application)} is no longer on the token`,
    );
  }
}

/**
 * A data object had to be found again (after a re-initialisation, or a stale handle) and several
 * objects have its class, CKA_APPLICATION, CKA_LABEL and CKA_VALUE: none is used. `matches` says how many.
 */
export class DataObjectAmbiguousError extends HsmJwksError {
  readonly matches: number;
  constructor(application: string, label: string, matches: number) {
    super(
      'ERR_DATA_OBJECT_AMBIGUOUS',
      `${matches} data objects ${JSON.stringify(label)} of application ${JSON.stringify(application)} have the same value: none is used (find them again with findDataObjects)`,
    );
    this.matches = matches;
  }
}

/** The operation needs the token's private objects, which are invisible without a login (open the token with a PIN). */
export class LoginRequiredError extends HsmJwksError {
  constructor(what: string) {
    super(
      'ERR_LOGIN_REQUIRED',
      `${what} needs a logged-in token (open it with a PIN): private objects are invisible without a login`,
    );
  }
}

/** The token offers no mechanism that can do what was asked. */
export class MechanismUnsupportedError extends HsmJwksError {
  constructor(what: string) {
    super('ERR_MECHANISM_UNSUPPORTED', `the token has no mechanism for ${what}`);
  }
}

/** A call made with session or object handles from before the module was re-initialised (by this Token or another). */
export class ModuleReinitializedError extends HsmJwksError {
  constructor() {
    super('ERR_MODULE_REINITIALIZED', 'the PKCS#11 module was re-initialised after these handles were made');
  }
}

/** The module was initialised by another component of this process: it is not ours to re-initialise. */
export class ModuleNotOwnedError extends HsmJwksError {
  constructor() {
    super(
      'ERR_MODULE_NOT_OWNER',
      'the PKCS#11 module was initialised by another component of this process and cannot be re-initialised here',
    );
  }
}

/**
 * The token is already logged in by this process with another PIN (C_Login does not check the PIN
 * then): this PIN was not accepted.
 */
export class PinMismatchError extends HsmJwksError {
  constructor() {
    super(
      'ERR_PIN_MISMATCH',
      'the token is already logged in by this process with a different PIN; this PIN was not accepted',
    );
  }
}

/**
 * The token refused the PIN at a login made to recover (CKR_PIN_INCORRECT, _LOCKED, _EXPIRED,
 * _LEN_RANGE, _INVALID). No login is tried again until an operator acts (Token.resumeLogins: a new
 * PIN, or the same one after the token was fixed), because HSMs lock the PIN after a few failed
 * tries. Operations fail at once with this error meanwhile.
 */
export class LoginRefusedError extends HsmJwksError {
  /** The CKR_ name the token answered, e.g. `CKR_PIN_INCORRECT`. */
  readonly ckr: string;
  constructor(ckr: string) {
    super(
      'ERR_LOGIN_REFUSED',
      `the token refused the PIN (${ckr}); no login is tried again until an operator supplies a PIN or asks for one more try`,
    );
    this.ckr = ckr;
  }
}

/**
 * The token is not there: the device went away, or the token was removed, and reconnecting has not
 * succeeded yet. Reconnection goes on in the background; operations fail at once meanwhile.
 */
export class TokenUnavailableError extends HsmJwksError {
  /** The code of the failure that showed it, e.g. `ERR_PKCS11_DEVICE_REMOVED`. */
  readonly causeCode: string | undefined;
  constructor(causeCode: string | undefined, sinceMs: number) {
    super(
      'ERR_TOKEN_UNAVAILABLE',
      `the token is unavailable since ${new Date(sinceMs).toISOString()}${causeCode ? ` (${causeCode})` : ''}; reconnecting`,
    );
    this.causeCode = causeCode;
  }
}

/** A KeyPair of another token (or another Token object) was handed to this one. */
export class KeyForeignError extends HsmJwksError {
  constructor() {
    super('ERR_KEY_FOREIGN', 'the key pair belongs to another token: use the Token that found or generated it');
  }
}

/** A re-initialisation gave up: calls in flight (a hung device?) did not end within its drain timeout. */
export class ModuleBusyError extends HsmJwksError {
  constructor() {
    super('ERR_MODULE_BUSY', 'calls in flight did not end in time; the PKCS#11 module was not re-initialised');
  }
}

/** The signing engine (or the session pool's wait list) is full: shed load, or retry later. */
export class QueueFullError extends HsmJwksError {
  constructor(what: string) {
    super('ERR_QUEUE_FULL', `${what} is full`);
  }
}

/** The native addon could not be loaded (no prebuild for this platform and no local build). */
export class AddonLoadError extends HsmJwksError {
  constructor(detail: string, cause?: unknown) {
    super('ERR_ADDON_LOAD', detail, { cause });
  }
}

/**
 * A session already carries an operation: the addon refuses a second one on it at once (the pool
 * and the signing engine never let this happen; a caller of the raw binding can).
 */
export class SessionBusyError extends HsmJwksError {
  constructor() {
    super('ERR_SESSION_BUSY', 'the PKCS#11 session already has an operation in flight');
  }
}

/** The addon could not do its own part of a call (out of memory, no thread could be started): not the token's doing. */
export class AddonFailureError extends HsmJwksError {
  constructor(detail: string) {
    super('ERR_ADDON_FAILURE', `the native addon failed: ${detail}`);
  }
}

export type UriErrorCode = Codes<'ERR_URI_INVALID' | 'ERR_URI_PIN_SOURCE' | 'ERR_URI_UNSUPPORTED'>;

/**
 * A PKCS#11 URI (RFC 7512) that is not one (ERR_URI_INVALID), whose pin-source gives no PIN
 * (ERR_URI_PIN_SOURCE), or that asks what this package does not do (ERR_URI_UNSUPPORTED).
 * `attribute` names the URI attribute at fault, when one is; the message never quotes a value
 * (a pin-value least of all).
 */
export class UriError extends HsmJwksError {
  declare readonly code: UriErrorCode;
  readonly attribute: string | undefined;
  constructor(code: UriErrorCode, message: string, attribute?: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.attribute = attribute;
  }
}

/**
 * Runs `fn` and ignores how it fails (a synchronous throw included): for closing what may already
 * be closed or gone, where no failure changes what happens next.
 */
export async function quietly(fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch {
    // nothing to do: see above
  }
}
