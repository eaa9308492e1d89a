// HSM_URI: the HSM as one PKCS#11 URI (RFC 7512; lib/pkcs11/uri.ts), combined with the variables
// that say the same things one by one. What only one of them gives is taken; what both give must
// agree, or the start is refused with ERR_CONFIG naming both (as for Hydra's aliases in
// service-config.ts: a silent winner would hide the operator's mistake). The pairs:
//   module-path (or module-name)  ↔ HSM_LIBRARY
//   token= / serial= / slot-id=   ↔ HSM_TOKEN_LABEL / HSM_TOKEN_SERIAL / HSM_SLOT (the one of them in
//                                   effect: the label wins over the serial, the serial over the slot)
//   pin-value / pin-source        ↔ HSM_PIN / HSM_PIN_FILE (one PIN: a value or a file, not both)
// Messages never quote a PIN, nor the URI's query.
import * as nodePath from 'node:path';

import { ConfigError } from './config-env';
import { UriError } from './pkcs11/errors';
import type { TokenSelector } from './pkcs11/module';
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from './pkcs11/uri';
import { namesObject, namesToken, tokenPart } from './pkcs11/uri-match';
import { moduleNameMatches, modulePathOf, pinSourceFile } from './pkcs11/uri-sources';

/** What the other variables say (HSM_LIBRARY, the token selector in effect, HSM_PIN, HSM_PIN_FILE). */
export interface HsmVariables {
  library: string | undefined;
  selector: TokenSelector | undefined;
  pin: string | undefined;
  pinFile: string | undefined;
}

/** The HSM settings HSM_URI and the variables make together; the PIN file is still to be read. */
export interface HsmSources {
  library: string;
  selector: TokenSelector;
  pin: string | undefined;
  pinFile: string | undefined;
  /** The variable a PIN file that cannot be read is blamed on. */
  pinFileVariable: 'HSM_URI' | 'HSM_PIN_FILE';
}

const fromUri = (e: unknown): never => {
  if (e instanceof UriError) throw new ConfigError('HSM_URI', `${e.code}: ${e.message}`);
  throw e;
};

const conflict = (attribute: string, variable: string, what = 'something else') =>
  new ConfigError(
    'HSM_URI',
    `${attribute} conflicts with ${variable}, which is set to ${what}: set one of them (or both to the same)`,
  );

function libraryOf(uri: Pkcs11Uri, library: string | undefined): string {
  let named: string | undefined;
  if (uri.moduleName !== undefined && uri.modulePath === undefined && library !== undefined) {
    // module-name alone names no file; with HSM_LIBRARY it must name that one.
    if (!moduleNameMatches(uri.moduleName, library)) throw conflict('module-name', 'HSM_LIBRARY', 'another module');
  } else {
    try {
      named = modulePathOf(uri);
    } catch (e) {
      fromUri(e);
    }
  }
  if (named !== undefined && library !== undefined && nodePath.resolve(named) !== nodePath.resolve(library))
    throw conflict('module-path', 'HSM_LIBRARY', 'another module');
  const chosen = named ?? library;
  if (chosen === undefined)
    throw new ConfigError(
      'HSM_LIBRARY',
      'is required when HSM_ENABLED is true (path of the PKCS#11 module), unless HSM_URI has module-path',
    );
  return chosen;
}

/** The URI's library, slot and token attributes (no object, no query) with the variables' selector added. */
function selectorOf(uri: Pkcs11Uri, selector: TokenSelector | undefined): TokenSelector {
  if (!namesToken(uri)) {
    if (selector) return selector;
    throw new ConfigError(
      'HSM_TOKEN_LABEL',
      'set HSM_TOKEN_LABEL, HSM_TOKEN_SERIAL or HSM_SLOT, or token=, serial= or slot-id= in HSM_URI, to select the token',
    );
  }
  const merged = tokenPart(uri);
  if (selector && 'tokenLabel' in selector) {
    if (merged.token !== undefined && merged.token !== selector.tokenLabel) throw conflict('token=', 'HSM_TOKEN_LABEL');
    merged.token = selector.tokenLabel;
  } else if (selector && 'serial' in selector) {
    if (merged.serial !== undefined && merged.serial !== selector.serial) throw conflict('serial=', 'HSM_TOKEN_SERIAL');
    merged.serial = selector.serial;
  } else if (selector && 'slot' in selector) {
    const slot = BigInt(selector.slot);
    if (merged.slotId !== undefined && merged.slotId !== slot) throw conflict('slot-id=', 'HSM_SLOT');
    merged.slotId = slot;
  }
  return { uri: formatPkcs11Uri(merged, { query: false }) };
}

function pinOf(uri: Pkcs11Uri, vars: HsmVariables): Pick<HsmSources, 'pin' | 'pinFile' | 'pinFileVariable'> {
  const uriPin = uri.pinValue === '' ? undefined : uri.pinValue;
  let uriFile: string | undefined;
  try {
    uriFile = uri.pinSource === undefined ? undefined : pinSourceFile(uri.pinSource);
  } catch (e) {
    fromUri(e);
  }
  if (uriPin !== undefined && vars.pin !== undefined && uriPin !== vars.pin)
    throw conflict('pin-value', 'HSM_PIN', 'another PIN');
  if (
    uriFile !== undefined &&
    vars.pinFile !== undefined &&
    nodePath.resolve(uriFile) !== nodePath.resolve(vars.pinFile)
  )
    throw conflict('pin-source', 'HSM_PIN_FILE', 'another file');
  const pin = uriPin ?? vars.pin;
  const pinFile = uriFile ?? vars.pinFile;
  if (pin !== undefined && pinFile !== undefined)
    throw new ConfigError(
      'HSM_URI',
      'the PIN is given as a value (HSM_PIN or pin-value) and as a file (HSM_PIN_FILE or pin-source): give one of them',
    );
  return { pin, pinFile, pinFileVariable: uriFile !== undefined ? 'HSM_URI' : 'HSM_PIN_FILE' };
}

/** HSM_URI combined with the other HSM variables (see the top of this file); ERR_CONFIG on a conflict. */
export function combineHsmUri(text: string, vars: HsmVariables): HsmSources {
  let uri: Pkcs11Uri;
  try {
    uri = parsePkcs11Uri(text);
  } catch (e) {
    return fromUri(e);
  }
  if (namesObject(uri))
    throw new ConfigError(
      'HSM_URI',
      'object=, id= and type= name a key, not a token: HSM_URI says which module, token and PIN (keys are found by set)',
    );
  return { library: libraryOf(uri, vars.library), selector: selectorOf(uri, vars.selector), ...pinOf(uri, vars) };
}
