// Whether a public key object is the public half of a private key, as far as the private object
// tells: RSA private objects carry the modulus and public exponent; EC ones only the curve (unless
// the token adds CKA_EC_POINT or CKA_PUBLIC_KEY_INFO to them, as some do).
import type { Attributes } from './attributes';
import { stripLeadingZeros } from './bytes';
import { CKA } from './constants';
import { curveFromParams, decodeEcPoint } from './curves';
import type { KeyType } from './key-pair';

/** match: the same key; mismatch: certainly another key; unknown: the private object does not say. */
export type PublicFit = 'match' | 'mismatch' | 'unknown';

export function publicFit(keyType: KeyType, priv: Attributes, pub: Attributes): PublicFit {
  const info = compare(priv.nonEmptyBytes(CKA.PUBLIC_KEY_INFO), pub.nonEmptyBytes(CKA.PUBLIC_KEY_INFO));
  if (info === 'mismatch') return 'mismatch';
  if (keyType === 'rsa') {
    const n = compare(priv.bytes(CKA.MODULUS), pub.bytes(CKA.MODULUS), stripLeadingZeros);
    const e = compare(priv.bytes(CKA.PUBLIC_EXPONENT), pub.bytes(CKA.PUBLIC_EXPONENT), stripLeadingZeros);
    if (n === 'mismatch' || e === 'mismatch') return 'mismatch';
    return n === 'match' || info === 'match' ? 'match' : 'unknown';
  }
  const privParams = priv.bytes(CKA.EC_PARAMS);
  const pubParams = pub.bytes(CKA.EC_PARAMS);
  if (privParams && pubParams && !privParams.equals(pubParams)) {
    // The same curve may be named by OID or by explicit parameters: compare curves, not bytes.
    const a = curveFromParams(privParams);
    const b = curveFromParams(pubParams);
    if (!a || !b || a.name !== b.name) return 'mismatch';
  }
  const curve = curveFromParams(privParams ?? pubParams ?? Buffer.alloc(0));
  const privPoint = priv.nonEmptyBytes(CKA.EC_POINT);
  const pubPoint = pub.nonEmptyBytes(CKA.EC_POINT);
  const point =
    curve && privPoint && pubPoint
      ? compare(decodeEcPoint(privPoint, curve), decodeEcPoint(pubPoint, curve))
      : 'unknown';
  if (point === 'mismatch') return 'mismatch';
  return point === 'match' || info === 'match' ? 'match' : 'unknown';
}

function compare(a: Buffer | undefined, b: Buffer | undefined, normalise: (x: Buffer) => Buffer = (x) => x): PublicFit {
  if (a === undefined || b === undefined) return 'unknown';
  return normalise(a).equals(normalise(b)) ? 'match' : 'mismatch';
}
