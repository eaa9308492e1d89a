// Elliptic curves hsm-jwks knows (THE table of curves): their CKA_EC_PARAMS encodings and
// CKA_EC_POINT decoding.
// Tokens differ: EC points come DER-wrapped (an OCTET STRING) or raw, and Ed25519 parameters come
// as the OID 1.3.101.112 or as the PrintableString "edwards25519" (pkcs11-tool). We accept all of
// these when reading and write the OID form.

/** What a curve's key is: an EC key (kty EC, CKK_EC) or an Edwards key (kty OKP, CKK_EC_EDWARDS). */
type Kind = { kty: 'EC'; keyType: 'ec' } | { kty: 'OKP'; keyType: 'ed25519' };

function curve<K extends Kind>(kind: K, oid: string, paramsHex: string, fieldBytes: number) {
  return { ...kind, oid, params: Buffer.from(paramsHex, 'hex'), fieldBytes, signatureBytes: 2 * fieldBytes };
}

const EC = { kty: 'EC', keyType: 'ec' } as const;
const OKP = { kty: 'OKP', keyType: 'ed25519' } as const;

// THE table of curves: names, kinds, OIDs and CKA_EC_PARAMS, field and signature sizes. The JOSE
// algorithm table, JWK import and key specs derive what they say about curves from it.
const TABLE = {
  'P-256': curve(EC, '1.2.840.10045.3.1.7', '06082a8648ce3d030107', 32),
  'P-384': curve(EC, '1.3.132.0.34', '06052b81040022', 48),
  'P-521': curve(EC, '1.3.132.0.35', '06052b81040023', 66),
  Ed25519: curve(OKP, '1.3.101.112', '06032b6570', 32),
};

export type CurveName = keyof typeof TABLE;
/** The curves of EC keys (kty EC: ECDSA). */
export type EcCurveName = { [N in CurveName]: (typeof TABLE)[N]['kty'] extends 'EC' ? N : never }[CurveName];

export interface CurveInfo {
  readonly name: CurveName;
  readonly kty: Kind['kty'];
  /** The KeyType of a key pair on this curve. */
  readonly keyType: Kind['keyType'];
  readonly oid: string;
  /** CKA_EC_PARAMS as we write it: the DER-encoded OBJECT IDENTIFIER. */
  readonly params: Buffer;
  /** Bytes of one coordinate (EC) or of the public key (Ed25519). */
  readonly fieldBytes: number;
  /** Length of a signature: r‖s for ECDSA, 64 for Ed25519. */
  readonly signatureBytes: number;
}

export const CURVES: Readonly<Record<CurveName, CurveInfo>> = Object.fromEntries(
  Object.entries(TABLE).map(([name, c]) => [name, { name, ...c }]),
) as Record<CurveName, CurveInfo>;

/** The names of the curves of keys of this kty, in table order (JWK `crv` values). */
export function curveNames(kty: string): CurveName[] {
  return Object.values(CURVES)
    .filter((c) => c.kty === kty)
    .map((c) => c.name);
}

/** The curves of EC keys, in table order. */
export const EC_CURVE_NAMES = curveNames('EC') as EcCurveName[];

/** Other encodings of CKA_EC_PARAMS seen in the field, by hex. */
const PARAMS_ALIASES: Readonly<Record<string, CurveName>> = {
  // PrintableString "edwards25519" (pkcs11-tool --key-type EC:edwards25519, SoftHSM 2.6)
  '130c656477617264733235353139': 'Ed25519',
};

/** The curve named by a CKA_EC_PARAMS value, or undefined for one we do not support. */
export function curveFromParams(params: Uint8Array): CurveInfo | undefined {
  const hex = Buffer.from(params).toString('hex');
  for (const c of Object.values(CURVES)) if (c.params.toString('hex') === hex) return c;
  const alias = PARAMS_ALIASES[hex];
  return alias ? CURVES[alias] : undefined;
}

/** Reads a DER length at `at`; returns [length, bytes used] or undefined. */
function derLength(b: Uint8Array, at: number): [number, number] | undefined {
  if (at >= b.length) return undefined;
  const first = b[at]!;
  if (first < 0x80) return [first, 1];
  const n = first & 0x7f;
  if (n === 0 || n > 3 || at + n >= b.length) return undefined;
  let len = 0;
  for (let i = 1; i <= n; i++) len = len * 256 + b[at + i]!;
  return [len, 1 + n];
}

/**
 * The public key bytes from CKA_EC_POINT: the uncompressed point 04‖x‖y for EC curves, the 32-byte
 * key for Ed25519. Accepts the DER OCTET STRING wrapping and the raw form; undefined if neither fits.
 */
export function decodeEcPoint(point: Uint8Array, c: CurveInfo): Buffer | undefined {
  const okp = c.kty === 'OKP';
  const rawLength = okp ? c.fieldBytes : 1 + 2 * c.fieldBytes;
  const fits = (b: Uint8Array) => b.length === rawLength && (okp || b[0] === 0x04);
  if (point[0] === 0x04) {
    const len = derLength(point, 1);
    if (len && 1 + len[1] + len[0] === point.length) {
      const inner = point.subarray(1 + len[1]);
      if (fits(inner)) return Buffer.from(inner);
    }
  }
  return fits(point) ? Buffer.from(point) : undefined;
}
