// What a PKCS#11 URI (uri.ts) selects, as RFC 7512 §2.5 says: every attribute present must match
// (an empty value matches an empty field), absent ones match anything, and a URI with a path
// attribute this package does not know matches nothing. Strings are compared without the blank
// padding of the CK_INFO, CK_SLOT_INFO and CK_TOKEN_INFO fields.
import type { KeyPairQuery } from './key-reader';
import type { Pkcs11Uri, UriObjectType } from './uri';
import type { NativeModuleInfo, NativeSlot, NativeTokenInfo } from '../../binding';

/** Where a token sits: what its library, its slot and the token itself say about themselves. */
export interface UriPlace {
  module?: Pick<NativeModuleInfo, 'manufacturerID' | 'libraryDescription' | 'libraryVersion'>;
  slot: Pick<NativeSlot, 'slot' | 'description' | 'manufacturerID'>;
  token: Pick<NativeTokenInfo, 'label' | 'manufacturerID' | 'serialNumber' | 'model'>;
}

const unpadded = (s: string) => s.replace(/ +$/, '');
const same = (want: string | undefined, have: string) => want === undefined || unpadded(want) === unpadded(have);

/** Whether the URI names a library (library-*) attribute: matching it needs C_GetInfo. */
export function namesLibrary(uri: Pkcs11Uri): boolean {
  return (
    uri.libraryManufacturer !== undefined || uri.libraryDescription !== undefined || uri.libraryVersion !== undefined
  );
}

/** Whether the URI says anything about which library, slot or token (else every token matches). */
export function namesToken(uri: Pkcs11Uri): boolean {
  return (
    namesLibrary(uri) ||
    uri.slotDescription !== undefined ||
    uri.slotManufacturer !== undefined ||
    uri.slotId !== undefined ||
    uri.token !== undefined ||
    uri.manufacturer !== undefined ||
    uri.serial !== undefined ||
    uri.model !== undefined ||
    (uri.unknownPath?.length ?? 0) > 0
  );
}

const TOKEN_FIELDS = [
  'libraryManufacturer',
  'libraryDescription',
  'libraryVersion',
  'slotDescription',
  'slotManufacturer',
  'slotId',
  'token',
  'manufacturer',
  'serial',
  'model',
  'unknownPath',
] as const satisfies ReadonlyArray<keyof Pkcs11Uri>;

/** The URI's library, slot and token attributes only (what selects a token): no object, no query, no PIN. */
export function tokenPart(uri: Pkcs11Uri): Pkcs11Uri {
  const out: Record<string, unknown> = {};
  for (const field of TOKEN_FIELDS) if (uri[field] !== undefined) out[field] = uri[field];
  return out as Pkcs11Uri;
}

/** Whether the URI names an object (object, id, type). */
export function namesObject(uri: Pkcs11Uri): boolean {
  return uri.object !== undefined || uri.id !== undefined || uri.type !== undefined;
}

/**
 * Whether the library, slot and token attributes of the URI match this place (object attributes
 * are not looked at). Library attributes need `place.module`: without it they do not match.
 */
export function matchesPlace(uri: Pkcs11Uri, place: UriPlace): boolean {
  if ((uri.unknownPath?.length ?? 0) > 0) return false;
  const { module, slot, token } = place;
  if (namesLibrary(uri)) {
    if (!module) return false;
    const v = uri.libraryVersion;
    if (v && (v.major !== module.libraryVersion.major || v.minor !== module.libraryVersion.minor)) return false;
    if (!same(uri.libraryManufacturer, module.manufacturerID)) return false;
    if (!same(uri.libraryDescription, module.libraryDescription)) return false;
  }
  return (
    (uri.slotId === undefined || uri.slotId === slot.slot) &&
    same(uri.slotDescription, slot.description) &&
    same(uri.slotManufacturer, slot.manufacturerID) &&
    same(uri.token, token.label) &&
    same(uri.manufacturer, token.manufacturerID) &&
    same(uri.serial, token.serialNumber) &&
    same(uri.model, token.model)
  );
}

/** Object types that are (halves of) key pairs: the only ones findKeyPairs finds. */
const KEY_PAIR_TYPES: ReadonlySet<UriObjectType> = new Set(['private', 'public']);

/**
 * The findKeyPairs query a URI's object attributes make (object → CKA_LABEL, id → CKA_ID), or
 * undefined when the URI can name no key pair (an unknown path attribute, a type that is not
 * `private` or `public`). A pair is found by its private object, which has the id and label of its
 * public one when hsm-jwks or pkcs11-tool made it: `type=public` finds the same pair.
 */
export function keyPairQueryOf(uri: Pkcs11Uri): KeyPairQuery | undefined {
  if ((uri.unknownPath?.length ?? 0) > 0) return undefined;
  if (uri.type !== undefined && !KEY_PAIR_TYPES.has(uri.type)) return undefined;
  return {
    ...(uri.object === undefined ? {} : { label: uri.object }),
    ...(uri.id === undefined ? {} : { id: uri.id }),
  };
}

/** What a Token knows of where it is, and how to ask the rest (only asked when the URI needs it). */
export interface UriHere {
  slot: bigint;
  token: UriPlace['token'];
  slotInfo(): Promise<UriPlace['slot'] | undefined>;
  moduleInfo(): Promise<NonNullable<UriPlace['module']>>;
}

/**
 * The findKeyPairs query of a URI on the token `here`, or undefined when the URI names no key pair
 * there: another token, slot or library, an unknown path attribute, a type other than a key's.
 */
export async function keyPairQueryAt(uri: Pkcs11Uri, here: UriHere): Promise<KeyPairQuery | undefined> {
  const query = keyPairQueryOf(uri);
  if (query === undefined) return undefined;
  const needsSlot = uri.slotDescription !== undefined || uri.slotManufacturer !== undefined;
  const slot = needsSlot ? await here.slotInfo() : { slot: here.slot, description: '', manufacturerID: '' };
  if (slot === undefined) return undefined;
  const module = namesLibrary(uri) ? await here.moduleInfo() : undefined;
  return matchesPlace(uri, { slot, token: here.token, ...(module ? { module } : {}) }) ? query : undefined;
}

/** The URI of a token (p11tool's attributes: model, manufacturer, serial, token), and of an object on it. */
export function tokenUriFields(
  token: UriPlace['token'],
  object: { label?: string; id?: Uint8Array; type?: UriObjectType } = {},
): Pkcs11Uri {
  return {
    model: token.model,
    manufacturer: token.manufacturerID,
    serial: token.serialNumber,
    token: token.label,
    ...(object.id === undefined ? {} : { id: object.id }),
    ...(object.label === undefined ? {} : { object: object.label }),
    ...(object.type === undefined ? {} : { type: object.type }),
  };
}
