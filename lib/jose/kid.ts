// kid <-> CKA_ID: one bijection between the kids we accept and the byte strings a token holds.
//
//   bytes -> kid:  the bytes' text when they are "text" (below), else "hex:" + lowercase hex.
//   kid -> bytes:  "hex:" + lowercase hex of bytes that are not text -> those bytes;
//                  a kid that is text -> its UTF-8 bytes;  anything else -> ERR_KID_INVALID.
//
// Text: valid UTF-8 of 1 to 255 bytes, in Unicode normalization form C, no control character (C0,
// DEL, C1), no invisible or direction-changing character (zero-width, bidi controls, BOM,
// line/paragraph separators, soft hyphen, fillers, variation selectors, tags), no noncharacter, no
// space other than U+0020 and none at either end, and not beginning with "hex:". The character
// rules are fixed lists, not Unicode properties; NFC of assigned characters is stable across
// Unicode versions.
// So pkcs11-tool's `--id 746573742d6b65792d6964` is kid "test-key-id", `--id 01ab` is kid
// "hex:01ab", and no kid other than the one the token's id maps to ever finds a key.
import { MAX_ID_BYTES } from '../pkcs11/key-spec';
import { JoseError } from './errors';

export { MAX_ID_BYTES };
export const HEX_KID_PREFIX = 'hex:';

// C0, DEL, C1; zero-width and bidi controls; BOM; line and paragraph separators; spaces other than
// U+0020; characters that show as nothing (soft hyphen, grapheme joiner, Hangul fillers, Khmer
// inherent vowels, variation selectors, tags); noncharacters and the specials block (U+FFFD included).
const NOT_TEXT =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is its purpose.
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: combining marks are listed one by one on purpose.
  /[\u0000-\u001f\u007f-\u009f\u00a0\u00ad\u034f\u115f\u1160\u1680\u17b4\u17b5\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\u3164\ufdd0-\ufdef\ufe00-\ufe0f\ufeff\uffa0\ufff0-\uffff\u{e0000}-\u{e0fff}]/u;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const invalid = (kid: string, why: string) =>
  new JoseError('ERR_KID_INVALID', `kid ${JSON.stringify(kid)} is not valid: ${why}`);

/** The text rule for a decoded string; undefined when it is text, else why not. */
function whyNotText(s: string): string | undefined {
  if (s.length === 0) return 'it is empty';
  if (NOT_TEXT.test(s)) return 'it contains a control, invisible or non-ASCII space character';
  if (s.normalize('NFC') !== s) return 'it is not in Unicode normalization form C (it would look like another kid)';
  if (s.startsWith(' ') || s.endsWith(' ')) return 'it begins or ends with a space';
  if (s.startsWith(HEX_KID_PREFIX))
    return `it begins with "${HEX_KID_PREFIX}", which is kept for ids that are not text`;
  return undefined;
}

/** The bytes as text when they are text, else undefined. */
function textOf(id: Uint8Array): string | undefined {
  let s: string;
  try {
    s = utf8.decode(id);
  } catch {
    return undefined;
  }
  return whyNotText(s) === undefined ? s : undefined;
}

/** The kid of a key whose CKA_ID is `id`. */
export function kidFromId(id: Uint8Array): string {
  if (id.length === 0) return HEX_KID_PREFIX; // an empty CKA_ID: a kid that idFromKid refuses, so it never finds a key
  return textOf(id) ?? HEX_KID_PREFIX + Buffer.from(id).toString('hex');
}

/** The one CKA_ID a kid names; ERR_KID_INVALID (saying why) for a kid that would not round-trip. */
export function idFromKid(kid: unknown): Buffer {
  if (typeof kid !== 'string') throw new JoseError('ERR_KID_INVALID', 'a kid must be a string');
  if (kid.startsWith(HEX_KID_PREFIX)) {
    const hex = kid.slice(HEX_KID_PREFIX.length);
    if (!/^(?:[0-9a-f]{2})+$/.test(hex))
      throw invalid(kid, `after "${HEX_KID_PREFIX}" it must be lowercase hex of whole bytes`);
    const id = Buffer.from(hex, 'hex');
    if (id.length > MAX_ID_BYTES) throw invalid(kid, `it names ${id.length} bytes, more than ${MAX_ID_BYTES}`);
    if (textOf(id) !== undefined) throw invalid(kid, `those bytes are text: the kid is ${JSON.stringify(textOf(id))}`);
    return id;
  }
  const why = whyNotText(kid);
  if (why) throw invalid(kid, why);
  const id = Buffer.from(kid, 'utf8');
  if (id.toString('utf8') !== kid) throw invalid(kid, 'it is not well-formed Unicode');
  if (id.length > MAX_ID_BYTES) throw invalid(kid, `its UTF-8 form has ${id.length} bytes, more than ${MAX_ID_BYTES}`);
  return id;
}

/** The kid itself when it is valid (idFromKid's rules), for checks before anything is written. */
export function checkKid(kid: unknown): string {
  idFromKid(kid);
  return kid as string;
}
