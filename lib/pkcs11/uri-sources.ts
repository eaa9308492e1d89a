// Where a PKCS#11 URI's module and PIN come from: `module-path` (a module file, or the directory to
// find `module-name` in) and `pin-value` or `pin-source` (a file: a `file:` URI or an absolute path;
// nothing is run or fetched). Errors name the attribute, never the PIN.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';

import { UriError } from './errors';
import { readPinFileSafely } from './pin-file';
import type { Pkcs11Uri } from './uri';

const unsupported = (message: string, attribute: string) => new UriError('ERR_URI_UNSUPPORTED', message, attribute);

/** Whether `file` is the module `name` names (`softhsm2`: libsofthsm2.so, softhsm2.so, libsofthsm2.so.2, …). */
export function moduleNameMatches(name: string, file: string): boolean {
  const base = nodePath.basename(file).toLowerCase();
  const n = name.toLowerCase();
  return [`lib${n}`, n].some(
    (stem) => /^\.(so(\.\d+)*|dylib|dll)$/.test(base.slice(stem.length)) && base.startsWith(stem),
  );
}

/**
 * The module file the URI names, or undefined when it names none. `module-path` must be absolute; a
 * directory needs `module-name` (the one file in it whose name fits). `module-name` alone is
 * ERR_URI_UNSUPPORTED (no search path is guessed: give `module-path` too), and `module-name` that
 * does not fit the file `module-path` names is ERR_URI_INVALID.
 */
export function modulePathOf(uri: Pkcs11Uri): string | undefined {
  const { modulePath, moduleName } = uri;
  if (modulePath === undefined) {
    if (moduleName === undefined) return undefined;
    throw unsupported(
      '"module-name" without "module-path": give "module-path" (the module file, or the directory it is in)',
      'module-name',
    );
  }
  if (!nodePath.isAbsolute(modulePath)) throw unsupported('"module-path" must be an absolute path', 'module-path');
  let dir = false;
  try {
    dir = fs.statSync(modulePath).isDirectory();
  } catch {
    // a missing file: loading it says so (ERR_MODULE_NOT_FOUND)
  }
  if (!dir) {
    if (moduleName !== undefined && !moduleNameMatches(moduleName, modulePath))
      throw new UriError('ERR_URI_INVALID', '"module-name" does not name the file "module-path" names', 'module-name');
    return modulePath;
  }
  if (moduleName === undefined)
    throw unsupported('"module-path" is a directory: "module-name" must say which module in it', 'module-path');
  let files: string[] = [];
  try {
    files = fs.readdirSync(modulePath).sort();
  } catch {
    // unreadable: nothing found
  }
  const found = files.filter((f) => moduleNameMatches(moduleName, f));
  if (found.length === 0)
    throw unsupported(`no module named by "module-name" in ${JSON.stringify(modulePath)}`, 'module-name');
  // libX.so before libX.so.1 (the shortest name is the development link, or the only one)
  return nodePath.join(modulePath, found.sort((a, b) => a.length - b.length)[0]!);
}

/**
 * The file a `pin-source` names: `file:/abs`, `file:///abs`, `file://localhost/abs`, or `/abs`.
 * Anything else (`|command`, `env:`, `https:`, a relative path) is ERR_URI_PIN_SOURCE: a PIN is
 * only read from a file.
 */
export function pinSourceFile(pinSource: string): string {
  let file = pinSource;
  if (/^file:/i.test(file)) {
    file = file.slice('file:'.length);
    if (file.startsWith('//')) {
      const slash = file.indexOf('/', 2);
      const host = slash < 0 ? file.slice(2) : file.slice(2, slash);
      if (host !== '' && host.toLowerCase() !== 'localhost')
        throw new UriError('ERR_URI_PIN_SOURCE', '"pin-source": a file: URI of another host', 'pin-source');
      file = slash < 0 ? '' : file.slice(slash);
    }
  }
  if (!file.startsWith('/'))
    throw new UriError(
      'ERR_URI_PIN_SOURCE',
      '"pin-source" must be a file: a file: URI or an absolute path (no command is run, nothing is fetched)',
      'pin-source',
    );
  return file;
}

/** The PIN in a pin-source file (one trailing newline ignored); ERR_URI_PIN_SOURCE naming the file, never its content. */
export async function readPinSource(pinSource: string): Promise<string> {
  const reading = readPinFileSafely(pinSourceFile(pinSource));
  if ('problem' in reading) throw new UriError('ERR_URI_PIN_SOURCE', `"pin-source": ${reading.problem}`, 'pin-source');
  return reading.pin;
}

/** The URI's PIN: pin-value, or what pin-source's file holds; undefined when it has neither. */
export async function uriPin(uri: Pkcs11Uri): Promise<string | undefined> {
  if (uri.pinValue !== undefined) return uri.pinValue;
  return uri.pinSource === undefined ? undefined : readPinSource(uri.pinSource);
}
