// Checks of key-set names and kids given by callers.
import { JoseError } from '../jose/errors';
import { invalidArgValue } from '../errors';
import { KeyManagerError } from './errors';
import { KID_FORMATS, type KidFormat } from './key-manager';

export function checkSet(set: unknown): string {
  if (typeof set !== 'string' || set.length === 0 || set.length > 255) {
    throw new KeyManagerError('ERR_KEY_NAME_INVALID', 'a key set name must be a string of 1 to 255 characters');
  }
  return set;
}

/**
 * An `hsm-jwks` command line to paste, for repair hints: arguments shell-quoted when they need it,
 * and `--` before them when one begins with "-" (a thumbprint kid does, one time in 64).
 */
export function cliCommand(command: string, args: readonly string[], tail = ''): string {
  const quoted = args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  const dashes = args.some((a) => a.startsWith('-')) ? ['--'] : [];
  return ['hsm-jwks', command, ...dashes, ...quoted].join(' ') + (tail ? ` ${tail}` : '');
}

/** A kid format (`uuid`, `thumbprint`) given by a caller, or undefined. */
export function checkKidFormat(name: string, format: unknown): KidFormat | undefined {
  if (format === undefined || KID_FORMATS.includes(format as KidFormat)) return format as KidFormat | undefined;
  throw invalidArgValue(name, 'one of "uuid", "thumbprint"', format);
}

/** A kid given by a caller: one that maps to exactly one CKA_ID and back (ERR_KID_INVALID otherwise, saying why). */
export { checkKid } from '../jose/kid';

/** The keys of a JWK Set given to addKeySet/updateKeySet. */
export function keysOf(jwks: unknown): unknown[] {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new JoseError('ERR_JWK_INVALID', 'invalid JWK Set: it must be an object with a non-empty "keys" array');
  }
  return keys;
}
