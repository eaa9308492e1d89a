// THE table of JWS algorithms: everything below it receives a resolved entry and never branches on
// the identifier (RFC 7518 §3, RFC 8037 §3.1). Two kinds of entry: algs signed with a key pair
// (every alg a token can hold) and HMAC algs (a shared secret, `kty: oct`, kept in the software
// store only and never published). An entry says which curve, hash and mechanism an alg uses;
// what those are (sizes, kty, signature lengths) comes from the tables of pkcs11/: curves,
// hashes, RSA sizes.
import { CURVES, type CurveName, type EcCurveName } from '../pkcs11/curves';
import { HASHES, type HashName } from '../pkcs11/hashes';
import { type KeySpec, RSA_SIZES } from '../pkcs11/key-spec';
import type { SignMechanism } from '../pkcs11/mechanisms';
import type { KeyPair } from '../pkcs11/key-pair';
import { JoseError } from './errors';

/** Algs signed with a private key and verified with its public key (what a JWKS publishes). */
export type KeyPairAlg =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA';
/** Algs signed and verified with one shared secret (RFC 7518 §3.2). */
export type HmacAlg = 'HS256' | 'HS384' | 'HS512';
export type JwsAlg = KeyPairAlg | HmacAlg;

/** The key-encryption alg published for RSA keys made for `use: enc`. */
export const ENC_ALG = 'RSA-OAEP-256';
/**
 * The algs an RSA key made for `use: enc` may carry: RSA-OAEP-256, and RS256, which is what Hydra
 * records for such keys (`hydra create jwks <set> --use enc` sends alg RS256, and Hydra's clients
 * read RS256 back). Either way the key never signs: `use` decides that, not `alg`.
 */
export const ENC_KEY_ALGS: readonly string[] = [ENC_ALG, 'RS256'];
export type EncKeyAlg = typeof ENC_ALG | 'RS256';

export interface KeyPairAlgInfo {
  readonly alg: KeyPairAlg;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly crv?: CurveName;
  /** Hash of the signing input; EdDSA hashes internally. */
  readonly hash?: HashName;
  /** How the token signs (host hashing where the mechanism needs it). */
  readonly mechanism: SignMechanism;
  /** Smallest RSA modulus accepted for this alg. */
  readonly minRsaBits?: number;
  /** What generation makes: RSA_SIZES.generateBits (4096) for RS and PS, as Hydra does. */
  readonly generate: KeySpec;
  /** Signature length in bytes when fixed by the alg (ECDSA r‖s, Ed25519). */
  readonly signatureBytes?: number;
}

export interface HmacAlgInfo {
  readonly alg: HmacAlg;
  readonly kty: 'oct';
  readonly hash: HashName;
  /**
   * Bytes of a generated secret, and the fewest an imported one may have: the hash size
   * (RFC 7518 §3.2: "a key of the same size as the hash output or larger MUST be used").
   */
  readonly secretBytes: number;
  /** The MAC's length (the hash size). */
  readonly signatureBytes: number;
}

export type AlgInfo = KeyPairAlgInfo | HmacAlgInfo;

const rsa = (alg: KeyPairAlg, hash: HashName, pss: boolean): KeyPairAlgInfo => ({
  alg,
  kty: 'RSA',
  hash,
  mechanism: pss ? { type: 'RSA-PSS', hash } : { type: 'RSA-PKCS1', hash },
  minRsaBits: RSA_SIZES.minBits,
  generate: { type: 'rsa', bits: RSA_SIZES.generateBits },
});

const ecdsa = (alg: KeyPairAlg, crv: EcCurveName, hash: HashName): KeyPairAlgInfo => ({
  alg,
  kty: CURVES[crv].kty,
  crv,
  hash,
  mechanism: { type: 'ECDSA', hash },
  generate: { type: 'ec', curve: crv },
  signatureBytes: CURVES[crv].signatureBytes,
});

const hmac = (alg: HmacAlg, hash: HashName): HmacAlgInfo => ({
  alg,
  kty: 'oct',
  hash,
  secretBytes: HASHES[hash].bytes,
  signatureBytes: HASHES[hash].bytes,
});

export const ALGORITHMS: { readonly [A in JwsAlg]: A extends HmacAlg ? HmacAlgInfo : KeyPairAlgInfo } = {
  RS256: rsa('RS256', 'SHA-256', false),
  RS384: rsa('RS384', 'SHA-384', false),
  RS512: rsa('RS512', 'SHA-512', false),
  PS256: rsa('PS256', 'SHA-256', true),
  PS384: rsa('PS384', 'SHA-384', true),
  PS512: rsa('PS512', 'SHA-512', true),
  ES256: ecdsa('ES256', 'P-256', 'SHA-256'),
  ES384: ecdsa('ES384', 'P-384', 'SHA-384'),
  ES512: ecdsa('ES512', 'P-521', 'SHA-512'),
  EdDSA: {
    alg: 'EdDSA',
    kty: CURVES.Ed25519.kty,
    crv: 'Ed25519',
    mechanism: { type: 'EdDSA' },
    generate: { type: 'ed25519' },
    signatureBytes: CURVES.Ed25519.signatureBytes,
  },
  HS256: hmac('HS256', 'SHA-256'),
  HS384: hmac('HS384', 'SHA-384'),
  HS512: hmac('HS512', 'SHA-512'),
};

/** Whether an entry is an HMAC alg (a shared secret). */
export const isHmac = (info: AlgInfo): info is HmacAlgInfo => info.kty === 'oct';

/** The algs of the table signed with a key pair, in table order (what a token can hold). */
export const KEY_PAIR_ALGS: readonly KeyPairAlg[] = (Object.keys(ALGORITHMS) as JwsAlg[]).filter(
  (a): a is KeyPairAlg => !isHmac(ALGORITHMS[a]),
);
/** The HMAC algs of the table. */
export const HMAC_ALGS: readonly HmacAlg[] = (Object.keys(ALGORITHMS) as JwsAlg[]).filter((a): a is HmacAlg =>
  isHmac(ALGORITHMS[a]),
);

/** The table entry for `alg`, or ERR_JOSE_ALG_UNSUPPORTED. */
export function algInfo(alg: unknown): AlgInfo {
  if (typeof alg === 'string' && Object.hasOwn(ALGORITHMS, alg)) return ALGORITHMS[alg as JwsAlg];
  throw new JoseError(
    'ERR_JOSE_ALG_UNSUPPORTED',
    `unsupported JWS alg ${JSON.stringify(alg)}; supported: ${Object.keys(ALGORITHMS).join(', ')}`,
  );
}

/** The table entry for an alg signed with a key pair; ERR_JOSE_ALG_UNSUPPORTED for an HMAC alg or an unknown one. */
export function keyPairAlgInfo(alg: unknown): KeyPairAlgInfo {
  const info = algInfo(alg);
  if (isHmac(info))
    throw new JoseError('ERR_JOSE_ALG_UNSUPPORTED', `${info.alg} is an HMAC alg (a shared secret), not a key pair's`);
  return info;
}

/** The alg a key pair on the token is published with: RS256 for RSA, ES* by curve, EdDSA. */
export function defaultAlgFor(pair: Pick<KeyPair, 'keyType' | 'curve'>): KeyPairAlg {
  if (pair.keyType === 'rsa') return 'RS256';
  if (pair.keyType === 'ed25519') return 'EdDSA';
  const alg = KEY_PAIR_ALGS.map((a) => ALGORITHMS[a]).find((a) => a.kty === 'EC' && a.crv === pair.curve);
  if (!alg) throw new JoseError('ERR_JWK_CURVE_UNSUPPORTED', `no JWS alg for curve ${String(pair.curve)}`);
  return alg.alg;
}

/** Whether `alg` can be used with a key of this type, curve and size (RSA modulus bits, or secret bytes). */
export function algFitsKey(
  info: AlgInfo,
  key: { kty: string; crv?: string; rsaBits?: number; secretBytes?: number },
): boolean {
  if (info.kty !== key.kty) return false;
  if (isHmac(info)) return (key.secretBytes ?? 0) >= info.secretBytes;
  if (info.crv !== undefined && info.crv !== key.crv) return false;
  if (info.minRsaBits !== undefined && (key.rsaBits ?? 0) < info.minRsaBits) return false;
  return true;
}
