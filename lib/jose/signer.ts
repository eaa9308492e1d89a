// The Signer seam: what signs a JWS, whatever holds the key (the token, or node:crypto).
import { algInfo, type JwsAlg } from './algorithms';
import { JoseError } from './errors';
import type { PublicJwk } from './jwk';

export interface Signer {
  readonly kid: string;
  readonly alg: JwsAlg;
  /** The JWK that verifies its signatures; undefined for an HMAC signer (a shared secret has no public form). */
  readonly publicJwk: PublicJwk | undefined;
  /** The JWS signature over `data` (the signing input) in its JWS encoding. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * Brings an ECDSA signature to the JWS form, r‖s each left-padded to the field size
 * (RFC 7518 §3.4). Accepts r‖s of the right length, r‖s whose halves lost leading zeros, and DER.
 */
export function ecdsaToJws(sig: Uint8Array, alg: JwsAlg): Buffer {
  const size = algInfo(alg).signatureBytes!;
  const half = size / 2;
  if (sig.length === size) return Buffer.from(sig);
  let r: Uint8Array;
  let s: Uint8Array;
  if (sig[0] === 0x30 && sig.length > 8) {
    [r, s] = derIntegers(sig);
  } else if (sig.length % 2 === 0 && sig.length < size) {
    r = sig.subarray(0, sig.length / 2);
    s = sig.subarray(sig.length / 2);
  } else {
    throw new JoseError('ERR_JWS_SIGNATURE_MALFORMED', `an ${alg} signature of ${sig.length} bytes`);
  }
  return Buffer.concat([leftPad(r, half, alg), leftPad(s, half, alg)]);
}

function leftPad(n: Uint8Array, size: number, alg: string): Buffer {
  let i = 0;
  while (i < n.length - 1 && n[i] === 0) i++;
  const v = n.subarray(i);
  if (v.length > size)
    throw new JoseError('ERR_JWS_SIGNATURE_MALFORMED', `an ${alg} signature component of ${v.length} bytes`);
  return Buffer.concat([Buffer.alloc(size - v.length), v]);
}

/** The two INTEGERs of a DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }). */
function derIntegers(der: Uint8Array): [Uint8Array, Uint8Array] {
  const bad = () => new JoseError('ERR_JWS_SIGNATURE_MALFORMED', 'a DER ECDSA signature that does not parse');
  let at = 1;
  const length = (): number => {
    const first = der[at++];
    if (first === undefined) throw bad();
    if (first < 0x80) return first;
    const n = first & 0x7f;
    let len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + (der[at++] ?? 0);
    return len;
  };
  if (length() !== der.length - at) throw bad();
  const integer = (): Uint8Array => {
    if (der[at++] !== 0x02) throw bad();
    const len = length();
    const v = der.subarray(at, at + len);
    at += len;
    if (v.length !== len) throw bad();
    return v;
  };
  const r = integer();
  const s = integer();
  if (at !== der.length) throw bad();
  return [r, s];
}
