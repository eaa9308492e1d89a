// PKCS#11 URIs (RFC 7512): parsed into a plain object and formatted back. Values are percent-decoded
// (`id` to raw bytes, every other attribute to a UTF-8 string) and formatted canonically, as p11tool
// and p11-kit print them: path attributes in p11-kit's order, every byte but [A-Za-z0-9-._]
// percent-encoded with upper-case hex, `id` wholly percent-encoded. What the URI selects is in
// uri-match.ts; where its module and PIN come from, in uri-sources.ts.
//
// Choices where the RFC leaves one (docs/pkcs11.md#pkcs11-uris):
// - An attribute this package does not know (vendor-specific: any name of [A-Za-z0-9_-], with or
//   without an `x-` prefix, RFC 7512 §2.3) is kept: in the path it makes the URI match nothing
//   (§2.5: an unrecognised path attribute MUST give an empty set of matched resources); in the
//   query it is ignored, and may repeat.
// - A path attribute given twice, a standard query attribute given twice, or `pin-source` with
//   `pin-value` is refused (ERR_URI_INVALID), as is a standard query attribute in the path
//   (`pkcs11:pin-value=…`) or a path attribute in the query: mistakes, and a PIN where it is printed.
// - Attribute names and `type` values are matched case-insensitively (ABNF strings are).
import { UriError } from './errors';
import { invalidArgType, invalidArgValue } from '../errors';

export type UriObjectType = 'public' | 'private' | 'cert' | 'secret-key' | 'data';
export const URI_OBJECT_TYPES: readonly UriObjectType[] = ['public', 'private', 'cert', 'secret-key', 'data'];

/** A PKCS#11 URI: every attribute optional; `pkcs11:` alone (every field absent) matches everything. */
export interface Pkcs11Uri {
  /** CK_INFO: library-manufacturer, library-description, library-version (`3` is 3.0). */
  libraryManufacturer?: string;
  libraryDescription?: string;
  libraryVersion?: { major: number; minor: number };
  /** CK_SLOT_INFO and the slot id: slot-description, slot-manufacturer, slot-id. */
  slotDescription?: string;
  slotManufacturer?: string;
  slotId?: bigint;
  /** CK_TOKEN_INFO: token (the label), manufacturer, serial, model. */
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  /** The object: object (CKA_LABEL), id (CKA_ID, bytes), type (CKA_CLASS). */
  object?: string;
  id?: Uint8Array;
  type?: UriObjectType;
  /** The query: where the module and the PIN are. */
  moduleName?: string;
  modulePath?: string;
  pinSource?: string;
  pinValue?: string;
  /** Path attributes this package does not know (vendor-specific): the URI then matches nothing. */
  unknownPath?: ReadonlyArray<readonly [string, string]>;
  /** Query attributes this package does not know: ignored. */
  unknownQuery?: ReadonlyArray<readonly [string, string]>;
}

type StringField = Exclude<
  keyof Pkcs11Uri,
  'libraryVersion' | 'slotId' | 'id' | 'type' | 'unknownPath' | 'unknownQuery'
>;

/** Path attributes in the order p11-kit formats them (library, slot, token, object). */
const PATH_ATTRIBUTES = [
  ['library-description', 'libraryDescription'],
  ['library-manufacturer', 'libraryManufacturer'],
  ['library-version', 'libraryVersion'],
  ['slot-description', 'slotDescription'],
  ['slot-manufacturer', 'slotManufacturer'],
  ['slot-id', 'slotId'],
  ['model', 'model'],
  ['manufacturer', 'manufacturer'],
  ['serial', 'serial'],
  ['token', 'token'],
  ['id', 'id'],
  ['object', 'object'],
  ['type', 'type'],
] as const satisfies ReadonlyArray<readonly [string, keyof Pkcs11Uri]>;

const QUERY_ATTRIBUTES = [
  ['pin-source', 'pinSource'],
  ['pin-value', 'pinValue'],
  ['module-name', 'moduleName'],
  ['module-path', 'modulePath'],
] as const satisfies ReadonlyArray<readonly [string, StringField]>;

const PATH_FIELD: ReadonlyMap<string, keyof Pkcs11Uri> = new Map(PATH_ATTRIBUTES);
const QUERY_FIELD: ReadonlyMap<string, StringField> = new Map(QUERY_ATTRIBUTES);

/** A vendor-specific attribute name (pk11-v-attr-nm-char). */
const VENDOR_NAME = /^[A-Za-z0-9_-]+$/;
/** pk11-pchar: unreserved, pk11-path-res-avail (":[]@!$'()*+,=&"), pct-encoded. */
const PATH_VALUE = /^(?:[A-Za-z0-9\-._~:[\]@!$'()*+,=&]|%[0-9A-Fa-f]{2})*$/;
/** pk11-qchar: unreserved, pk11-query-res-avail (":[]@!$'()*+,=/?|"), pct-encoded. */
const QUERY_VALUE = /^(?:[A-Za-z0-9\-._~:[\]@!$'()*+,=/?|]|%[0-9A-Fa-f]{2})*$/;
const MAX_URI_LENGTH = 65_536;
const MAX_SLOT_ID = 2n ** 64n - 1n;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const invalid = (message: string, attribute?: string) => new UriError('ERR_URI_INVALID', message, attribute);

function percentDecode(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%') {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(text.charCodeAt(i)); // checked: ASCII only
  }
  return Buffer.from(out);
}

function decodeText(raw: string, name: string): string {
  try {
    return utf8.decode(percentDecode(raw));
  } catch {
    throw invalid(`${describeName(name)}: its value is not UTF-8 once percent-decoded`, known(name));
  }
}

/** The attribute's name for a message: a name of the RFC as it is, any other name not quoted. */
function describeName(name: string): string {
  return known(name) ? `"${name}"` : 'an attribute';
}

function known(name: string): string | undefined {
  return PATH_FIELD.has(name) || QUERY_FIELD.has(name) ? name : undefined;
}

/** `name=value` pairs of one component, split on `separator`; the name lower-cased when it is the RFC's. */
function pairs(component: string, separator: ';' | '&', where: 'path' | 'query'): Array<[string, string]> {
  if (component === '') return [];
  return component.split(separator).map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0)
      throw invalid(
        `an attribute of the ${where} is not name=value (attributes are separated by "${separator}"${where === 'path' ? ', the query follows "?"' : ''})`,
      );
    const raw = part.slice(0, eq);
    if (!VENDOR_NAME.test(raw)) throw invalid(`an attribute name of the ${where} has characters outside [A-Za-z0-9_-]`);
    const lower = raw.toLowerCase();
    return [known(lower) ? lower : raw, part.slice(eq + 1)];
  });
}

function parsePathValue(uri: Record<string, unknown>, name: string, raw: string): void {
  const field = PATH_FIELD.get(name)!;
  if (name === 'id') uri.id = percentDecode(raw);
  else if (name === 'slot-id') {
    if (!/^\d{1,20}$/.test(raw) || BigInt(raw) > MAX_SLOT_ID)
      throw invalid('"slot-id" must be a decimal CK_SLOT_ID (digits, at most 2^64-1)', name);
    uri.slotId = BigInt(raw);
  } else if (name === 'library-version') {
    const m = /^(\d{1,3})(?:\.(\d{1,3}))?$/.exec(raw);
    const major = Number(m?.[1]);
    const minor = Number(m?.[2] ?? 0);
    if (!m || major > 255 || minor > 255)
      throw invalid('"library-version" must be M or M.N, each from 0 to 255 (CK_VERSION)', name);
    uri.libraryVersion = { major, minor };
  } else if (name === 'type') {
    const type = raw.toLowerCase() as UriObjectType;
    if (!URI_OBJECT_TYPES.includes(type)) throw invalid(`"type" must be one of ${URI_OBJECT_TYPES.join(', ')}`, name);
    uri.type = type;
  } else uri[field] = decodeText(raw, name);
}

/**
 * Parses a PKCS#11 URI (RFC 7512). ERR_URI_INVALID when it is not one, or one refused here (see
 * the top of this file). The message never quotes a value.
 */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (typeof text !== 'string') throw invalidArgType('uri', 'a string', text);
  if (text.length > MAX_URI_LENGTH) throw invalid(`the URI is longer than ${MAX_URI_LENGTH} characters`);
  if (!/^pkcs11:/i.test(text)) throw invalid('a PKCS#11 URI starts with "pkcs11:"');
  const rest = text.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? undefined : rest.slice(q + 1);
  const uri: Record<string, unknown> = {};
  const seen = new Set<string>();
  const unknownPath: Array<[string, string]> = [];
  for (const [name, raw] of pairs(path, ';', 'path')) {
    if (!PATH_VALUE.test(raw))
      throw invalid(
        `${describeName(name)} of the path has a character that must be percent-encoded (or a "%" not followed by two hex digits)`,
        known(name),
      );
    if (seen.has(name)) throw invalid(`${describeName(name)} appears twice in the path (RFC 7512 §2.3)`, known(name));
    seen.add(name);
    if (QUERY_FIELD.has(name))
      throw invalid(`"${name}" is a query attribute: it goes after "?", not in the path`, name);
    if (PATH_FIELD.has(name)) parsePathValue(uri, name, raw);
    else unknownPath.push([name, decodeText(raw, name)]);
  }
  const unknownQuery: Array<[string, string]> = [];
  for (const [name, raw] of pairs(query ?? '', '&', 'query')) {
    if (!QUERY_VALUE.test(raw))
      throw invalid(
        `${describeName(name)} of the query has a character that must be percent-encoded (or a "%" not followed by two hex digits)`,
        known(name),
      );
    if (PATH_FIELD.has(name))
      throw invalid(`"${name}" is a path attribute: it goes before "?", not in the query`, name);
    const field = QUERY_FIELD.get(name);
    if (field === undefined) {
      unknownQuery.push([name, decodeText(raw, name)]);
      continue;
    }
    if (uri[field] !== undefined) throw invalid(`"${name}" appears twice in the query`, name);
    uri[field] = decodeText(raw, name);
  }
  if (uri.pinSource !== undefined && uri.pinValue !== undefined)
    throw invalid('"pin-source" and "pin-value" together: give one of them (RFC 7512 §2.3)', 'pin-value');
  if (unknownPath.length > 0) uri.unknownPath = unknownPath;
  if (unknownQuery.length > 0) uri.unknownQuery = unknownQuery;
  return uri as Pkcs11Uri;
}

const HEX = '0123456789ABCDEF';

/** Percent-encodes every byte but [A-Za-z0-9-._] (and `extra`), as p11-kit does; `all`: every byte (id). */
function encode(value: Uint8Array | string, extra = '', all = false): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += !all && (/[A-Za-z0-9\-._]/.test(c) || (b < 0x80 && extra.includes(c))) ? c : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/** In the query, "/" and ":" stay as they are (`module-path=/usr/lib/…`, `pin-source=file:/…`): the RFC allows them there. */
const QUERY_VERBATIM = '/:';

function formatPathValue(uri: Pkcs11Uri, name: string, field: keyof Pkcs11Uri): string {
  const value = uri[field];
  if (name === 'id') {
    if (!(value instanceof Uint8Array)) throw invalidArgType('uri.id', 'a Uint8Array', value);
    return encode(value, '', true);
  }
  if (name === 'slot-id') {
    const ok =
      (typeof value === 'bigint' && value >= 0n && value <= MAX_SLOT_ID) ||
      (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0);
    if (!ok) throw invalidArgValue('uri.slotId', 'a CK_SLOT_ID (a non-negative bigint)', value);
    return String(value);
  }
  if (name === 'library-version') {
    const v = value as { major?: unknown; minor?: unknown };
    const byte = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 255;
    if (typeof v !== 'object' || v === null || !byte(v.major) || !byte(v.minor))
      throw invalidArgValue('uri.libraryVersion', '{ major, minor }, each an integer from 0 to 255', 'another value');
    return `${v.major}.${v.minor}`;
  }
  if (name === 'type') {
    if (!URI_OBJECT_TYPES.includes(value as UriObjectType))
      throw invalidArgValue('uri.type', `one of ${URI_OBJECT_TYPES.join(', ')}`, value);
    return value as string;
  }
  if (typeof value !== 'string') throw invalidArgType(`uri.${field}`, 'a string', value);
  return encode(value);
}

function checkUnknown(list: unknown, what: 'unknownPath' | 'unknownQuery'): ReadonlyArray<readonly [string, string]> {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalidArgType(`uri.${what}`, 'an array of [name, value] pairs', list);
  for (const pair of list) {
    const ok =
      Array.isArray(pair) &&
      pair.length === 2 &&
      typeof pair[0] === 'string' &&
      typeof pair[1] === 'string' &&
      VENDOR_NAME.test(pair[0]) &&
      !known(pair[0].toLowerCase());
    if (!ok)
      throw invalidArgValue(
        `uri.${what}`,
        "[name, value] pairs whose names are of [A-Za-z0-9_-] and not the RFC's",
        'another value',
      );
  }
  return list as ReadonlyArray<readonly [string, string]>;
}

/**
 * The canonical text of a URI (p11tool's form; `query: false` leaves the query out, the PIN with
 * it). Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for a field that no URI could carry.
 */
export function formatPkcs11Uri(uri: Pkcs11Uri, options: { query?: boolean } = {}): string {
  if (typeof uri !== 'object' || uri === null) throw invalidArgType('uri', 'an object', uri);
  const path: string[] = [];
  for (const [name, field] of PATH_ATTRIBUTES)
    if (uri[field] !== undefined) path.push(`${name}=${formatPathValue(uri, name, field)}`);
  for (const [name, value] of checkUnknown(uri.unknownPath, 'unknownPath')) path.push(`${name}=${encode(value)}`);
  const query: string[] = [];
  if (uri.pinSource !== undefined && uri.pinValue !== undefined)
    throw invalidArgValue('uri', 'a URI with pinSource or pinValue, not both', 'both');
  for (const [name, field] of QUERY_ATTRIBUTES) {
    const value = uri[field];
    if (value === undefined) continue;
    if (typeof value !== 'string')
      throw invalidArgType(`uri.${field}`, 'a string', field === 'pinValue' ? 'a PIN' : value);
    query.push(`${name}=${encode(value, QUERY_VERBATIM)}`);
  }
  for (const [name, value] of checkUnknown(uri.unknownQuery, 'unknownQuery'))
    query.push(`${name}=${encode(value, QUERY_VERBATIM)}`);
  const text = `pkcs11:${path.join(';')}`;
  return options.query === false || query.length === 0 ? text : `${text}?${query.join('&')}`;
}

/** A URI given as text or as an object, parsed (an object is checked by formatting it). */
export function toPkcs11Uri(uri: string | Pkcs11Uri, name = 'uri'): Pkcs11Uri {
  if (typeof uri === 'string') return parsePkcs11Uri(uri);
  if (typeof uri !== 'object' || uri === null) throw invalidArgType(name, 'a pkcs11: URI or a Pkcs11Uri', uri);
  return parsePkcs11Uri(formatPkcs11Uri(uri));
}

/** The URI without its query (no module, no PIN): what may be shown, logged or kept in a report. */
export function uriForDisplay(uri: string | Pkcs11Uri): string {
  return formatPkcs11Uri(toPkcs11Uri(uri), { query: false });
}
