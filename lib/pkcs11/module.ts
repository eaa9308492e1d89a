// Pkcs11Module: a loaded PKCS#11 library. Loading is process-wide and reference-counted in the
// addon: two Pkcs11Module objects for the same path (in one thread or in several worker_threads)
// share one dlopen and one C_Initialize, and the last close() finalizes it.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';

import { CKF_SLOT, CKF_TOKEN, CKM } from './constants';
import { ClosedError, invalidArgType, invalidArgValue } from '../errors';
import { ModuleLoadError, TokenAmbiguousError, TokenNotFoundError, UriError } from './errors';
import { defaultDeepBind, nativeBinding } from './native';
import { Token, type TokenOptions } from './token';
import { initToken, type InitializedToken, type InitTokenOptions } from './token-init';
import { toPkcs11Uri, uriForDisplay, type Pkcs11Uri } from './uri';
import { matchesPlace, namesLibrary } from './uri-match';
import { moduleNameMatches, modulePathOf, uriPin } from './uri-sources';
import type { NativeModule, NativeModuleDescription, NativeModuleInfo, NativeSlot } from '../../binding';

export interface ModuleLoadOptions {
  /** CK_C_INITIALIZE_ARGS.pReserved: NSS softokn needs its configuration string here. */
  initArgs?: string;
  /** Ask the module to use OS locking (default true; retried without on CKR_CANT_LOCK). */
  osLocking?: boolean;
  /**
   * Load with RTLD_DEEPBIND (glibc; default true) so the module's own libcrypto is used instead of
   * Node's bundled OpenSSL: measured here, SoftHSM's P-521 signing is 6.3x slower without it.
   */
  deepBind?: boolean;
}

/**
 * Which token to open. `tokenLabel` matches initialised tokens by label; when several carry it the
 * call fails with ERR_TOKEN_AMBIGUOUS (listing their serials) unless `onAmbiguous: 'first'` asks
 * for the first slot, which is what Hydra does. `uri` is a PKCS#11 URI (RFC 7512, text or parsed):
 * its library, slot and token attributes must all match (object attributes are not looked at);
 * several matching tokens are ERR_TOKEN_AMBIGUOUS in the same way, and its pin-value or pin-source
 * is the PIN when `options.pin` is not given.
 */
export type TokenSelector =
  | { tokenLabel: string; onAmbiguous?: 'error' | 'first' }
  | { slot: bigint | number }
  | { serial: string }
  | { uri: string | Pkcs11Uri; onAmbiguous?: 'error' | 'first' };

export type ModuleInfo = NativeModuleInfo;
export type SlotInfo = NativeSlot;

const MECHANISM_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(CKM).map(([name, v]) => [v, name]));

export class Pkcs11Module {
  readonly #native: NativeModule;
  readonly #tokens = new Set<Token>();
  #closing: Promise<void> | undefined;

  private constructor(native: NativeModule) {
    this.#native = native;
  }

  /** Loads (or shares) the PKCS#11 library at `path` and initialises it; ModuleLoadError when it cannot. */
  static async load(path: string, options: ModuleLoadOptions = {}): Promise<Pkcs11Module> {
    if (typeof path !== 'string') throw invalidArgType('path', 'a string', path);
    if (path.length === 0 || path.includes('\0')) throw invalidArgValue('path', 'a non-empty path', path);
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    for (const flag of ['osLocking', 'deepBind'] as const) {
      if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
        throw invalidArgType(`options.${flag}`, 'a boolean', options[flag]);
      }
    }
    if (options.initArgs !== undefined && typeof options.initArgs !== 'string') {
      throw invalidArgType('options.initArgs', 'a string', options.initArgs);
    }
    try {
      return new Pkcs11Module(await nativeBinding().load(path, { deepBind: defaultDeepBind(), ...options }));
    } catch (e) {
      throw explainLoadFailure(path, e);
    }
  }

  /**
   * Loads the module a PKCS#11 URI names (`module-path`, or `module-name` in the `module-path`
   * directory); ERR_URI_UNSUPPORTED when it names none. Open its token with `openToken({ uri })`.
   */
  static async loadUri(uri: string | Pkcs11Uri, options: ModuleLoadOptions = {}): Promise<Pkcs11Module> {
    const path = modulePathOf(toPkcs11Uri(uri));
    if (path === undefined)
      throw new UriError('ERR_URI_UNSUPPORTED', 'the URI names no module: add "module-path"', 'module-path');
    return Pkcs11Module.load(path, options);
  }

  /**
   * Initialises a token (C_InitToken with `soPin` and `label`), then sets its user PIN (C_Login as
   * the SO, C_InitPIN): no PIN ever reaches a command line. Without `slot`, the first slot whose
   * token is not initialised (SoftHSM2 always keeps one free) is used.
   */
  async initToken(options: InitTokenOptions): Promise<InitializedToken> {
    this.#checkOpen();
    return initToken(this.#native, options);
  }

  /** Where the module was loaded from, its function-list version, and how it was initialised. */
  describe(): NativeModuleDescription {
    this.#checkOpen();
    return this.#native.describe();
  }

  async info(): Promise<ModuleInfo> {
    this.#checkOpen();
    return this.#native.getInfo();
  }

  /** Every slot, with the token's info where a token is present and readable. */
  async slots(): Promise<SlotInfo[]> {
    this.#checkOpen();
    return this.#native.getSlots(false);
  }

  /** Opens a token, logs in on its anchor session and prepares its session pool. */
  async openToken(selector: TokenSelector, options: TokenOptions = {}): Promise<Token> {
    this.#checkOpen();
    checkSelector(selector);
    if ('uri' in selector) {
      const uri = toPkcs11Uri(selector.uri, 'selector.uri');
      this.#checkModuleOf(uri);
      selector = { uri, ...(selector.onAmbiguous ? { onAmbiguous: selector.onAmbiguous } : {}) };
      options = await withUriPin(uri, options);
    }
    const slot = await selectSlot(this.#native, selector);
    // After a re-initialisation the Token finds its token again by the same selector, through its own NativeModule.
    const resolve = async (native: NativeModule) => {
      const s = await selectSlot(native, selector);
      return { slot: s.slot, info: s.token };
    };
    const token = await Token.open(
      this.#native,
      { slot: slot.slot, info: slot.token },
      resolve,
      options,
      MECHANISM_NAMES,
      (t) => this.#tokens.delete(t),
    );
    if (this.#closing) {
      await token.close();
      throw new ClosedError('the PKCS#11 module');
    }
    this.#tokens.add(token);
    return token;
  }

  /** Closes the tokens opened through this object, then releases the module. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = (async () => {
        await Promise.all([...this.#tokens].map((t) => t.close()));
        await this.#native.close();
      })();
    }
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError('the PKCS#11 module');
  }

  /** A URI whose module-path names another module than this one is refused (it would open the wrong token). */
  #checkModuleOf(uri: Pkcs11Uri): void {
    const loaded = this.#native.describe().path;
    if (uri.modulePath === undefined) {
      // module-name alone names no file: it must name this one
      if (uri.moduleName !== undefined && !moduleNameMatches(uri.moduleName, loaded))
        throw invalidArgValue('selector.uri', `a URI whose module-name is this module (${loaded})`, uri.moduleName);
      return;
    }
    const named = modulePathOf(uri)!;
    const real = (p: string) => {
      try {
        return fs.realpathSync(p);
      } catch {
        return nodePath.resolve(p);
      }
    };
    if (real(named) !== real(loaded))
      throw invalidArgValue('selector.uri', `a URI whose module-path is this module (${loaded})`, named);
  }
}

/** The options with the URI's PIN (pin-value, or pin-source's file) when they give none; one PIN, not two. */
async function withUriPin(uri: Pkcs11Uri, options: TokenOptions): Promise<TokenOptions> {
  if (uri.pinValue === undefined && uri.pinSource === undefined) return options;
  if (typeof options !== 'object' || options === null) return options; // checkTokenOptions says why
  const pin = await uriPin(uri);
  if (options.pin === undefined) return { ...options, pin };
  const given = Buffer.from(options.pin);
  const same = given.equals(Buffer.from(pin ?? ''));
  given.fill(0);
  if (!same)
    throw invalidArgValue(
      'options.pin',
      "the URI's PIN (pin-value or pin-source), or no options.pin when the URI gives one",
      'another PIN',
    );
  return options;
}

/** A directory given as the module: say so, and name the shared objects in it (the dlerror text stays the cause). */
function explainLoadFailure(path: string, e: unknown): unknown {
  let dir = false;
  try {
    dir = fs.statSync(path).isDirectory();
  } catch {
    return e;
  }
  if (!dir) return e;
  let candidates: string[] = [];
  try {
    candidates = fs
      .readdirSync(path)
      .filter((f) => /\.so(\.|$)|\.dylib$/.test(f))
      .map((f) => nodePath.join(path, f));
  } catch {
    // unreadable: no list
  }
  return new ModuleLoadError(
    'ERR_MODULE_LOAD_FAILED',
    path,
    `is a directory, not a module file${candidates.length ? `; modules in it: ${candidates.join(', ')}` : ''}`,
    e,
  );
}

function checkSelector(selector: TokenSelector): void {
  if (typeof selector !== 'object' || selector === null) throw invalidArgType('selector', 'an object', selector);
  const keys = ['tokenLabel', 'slot', 'serial', 'uri'].filter((k) => k in selector);
  if (keys.length !== 1) {
    throw invalidArgValue(
      'selector',
      'exactly one of { tokenLabel }, { slot }, { serial } or { uri }',
      keys.join(', ') || 'none',
    );
  }
}

/** The slot whose token the selector names, on `native` (C_GetSlotList + C_GetTokenInfo). */
async function selectSlot(
  native: NativeModule,
  selector: TokenSelector,
): Promise<NativeSlot & { token: NonNullable<NativeSlot['token']> }> {
  const all = await native.getSlots(true);
  const ready = all.filter(
    (s): s is NativeSlot & { token: NonNullable<NativeSlot['token']> } =>
      s.token !== null &&
      (s.flags & CKF_SLOT.TOKEN_PRESENT) !== 0 &&
      (s.token.flags & CKF_TOKEN.TOKEN_INITIALIZED) !== 0,
  );
  const labels = ready.map((s) => s.token.label);
  const notFound = (what: string) =>
    new TokenNotFoundError(
      what,
      labels,
      ready.map((s) => ({ label: s.token.label, serialNumber: s.token.serialNumber, slot: s.slot.toString() })),
      all.map((s) => s.slot.toString()),
    );
  if ('uri' in selector) {
    const uri = selector.uri as Pkcs11Uri; // parsed by openToken
    const module = namesLibrary(uri) ? await native.getInfo() : undefined;
    const matches = ready.filter((s) => matchesPlace(uri, { slot: s, token: s.token, ...(module ? { module } : {}) }));
    const shown = uriForDisplay(uri);
    if (matches.length === 0)
      throw notFound(
        `URI ${shown}${uri.unknownPath?.length ? ' (it has path attributes this package does not know: RFC 7512 has such a URI match nothing)' : ''}`,
      );
    if (matches.length > 1 && selector.onAmbiguous !== 'first')
      throw new TokenAmbiguousError(
        uri.token ?? '',
        matches.map((s) => s.token.serialNumber),
        shown,
      );
    return matches[0]!;
  }
  if ('tokenLabel' in selector) {
    if (typeof selector.tokenLabel !== 'string')
      throw invalidArgType('selector.tokenLabel', 'a string', selector.tokenLabel);
    const matches = ready.filter((s) => s.token.label === selector.tokenLabel);
    if (matches.length === 0) throw notFound(`label ${JSON.stringify(selector.tokenLabel)}`);
    if (matches.length > 1 && selector.onAmbiguous !== 'first') {
      throw new TokenAmbiguousError(
        selector.tokenLabel,
        matches.map((s) => s.token.serialNumber),
      );
    }
    return matches[0]!;
  }
  if ('serial' in selector) {
    if (typeof selector.serial !== 'string') throw invalidArgType('selector.serial', 'a string', selector.serial);
    const match = ready.find((s) => s.token.serialNumber === selector.serial);
    if (!match) throw notFound(`serial ${JSON.stringify(selector.serial)}`);
    return match;
  }
  const want = selector.slot;
  if (typeof want !== 'bigint' && !(typeof want === 'number' && Number.isSafeInteger(want) && want >= 0)) {
    throw invalidArgType('selector.slot', 'a bigint or non-negative integer', want);
  }
  const match = ready.find((s) => s.slot === BigInt(want));
  if (!match) throw notFound(`slot ${String(want)}`);
  return match;
}
