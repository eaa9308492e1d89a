// The one table of JWS algorithms: everything below it receives a resolved entry and never
// branches on the identifier (RFC 7518 §3, RFC 8037 §3.1).
import type { CurveName } from '../pkcs11/curves';
import type { KeySpec } from '../pkcs11/key-spec';
import type { HashName, SignMechanism } from '../pkcs11/mechanisms';
import type { KeyPair } from '../pkcs11/key-pair';
import { JoseError } from './errors';

export type JwsAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';
/** The key-encryption alg published for RSA keys made for `use: enc`. */
export const ENC_ALG = 'RSA-OAEP-256';

export interface AlgInfo {
  readonly alg: JwsAlg;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly crv?: CurveName;
  /** Hash of the signing input; EdDSA hashes internally. */
  readonly hash?: HashName;
  /** How the token signs (host hashing where the mechanism needs it). */
  readonly mechanism: SignMechanism;
  /** Smallest RSA modulus accepted for this alg. */
  readonly minRsaBits?: number;
  /** What generation makes: RSA-4096 for RS and PS, as Hydra does. */
  readonly generate: KeySpec;
  /** Signature length in bytes when fixed by the alg (ECDSA r‖s, Ed25519). */
  readonly signatureBytes?: number;
}

const rsa = (alg: JwsAlg, hash: HashName, pss: boolean): AlgInfo => ({
  alg,
  kty: 'RSA',
  hash,
  mechanism: pss ? { type: 'RSA-PSS', hash } : { type: 'RSA-PKCS1', hash },
  minRsaBits: 2048,
  generate: { type: 'rsa', bits: 4096 },
});

const ecdsa = (alg: JwsAlg, crv: 'P-256' | 'P-384' | 'P-521', hash: HashName, field: number): AlgInfo => ({
  alg,
  kty: 'EC',
  crv,
  hash,
  mechanism: { type: 'ECDSA', hash },
  generate: { type: 'ec', curve: crv },
  signatureBytes: 2 * field,
});

export const ALGORITHMS: Readonly<Record<JwsAlg, AlgInfo>> = {
  RS256: rsa('RS256', 'SHA-256', false),
  RS384: rsa('RS384', 'SHA-384', false),
  RS512: rsa('RS512', 'SHA-512', false),
  PS256: rsa('PS256', 'SHA-256', true),
  PS384: rsa('PS384', 'SHA-384', true),
  PS512: rsa('PS512', 'SHA-512', true),
  ES256: ecdsa('ES256', 'P-256', 'SHA-256', 32),
  ES384: ecdsa('ES384', 'P-384', 'SHA-384', 48),
  ES512: ecdsa('ES512', 'P-521', 'SHA-512', 66),
  EdDSA: {
    alg: 'EdDSA',
    kty: 'OKP',
    crv: 'Ed25519',
    mechanism: { type: 'EdDSA' },
    generate: { type: 'ed25519' },
    signatureBytes: 64,
  },
};

/** The table entry for `alg`, or ERR_JOSE_ALG_UNSUPPORTED. */
export function algInfo(alg: unknown): AlgInfo {
  if (typeof alg === 'string' && Object.hasOwn(ALGORITHMS, alg)) return ALGORITHMS[alg as JwsAlg];
  throw new JoseError(
    'ERR_JOSE_ALG_UNSUPPORTED',
    `unsupported JWS alg ${JSON.stringify(alg)}; supported: ${Object.keys(ALGORITHMS).join(', ')}`,
  );
}

/** The alg a key pair on the token is published with: RS256 for RSA, ES* by curve, EdDSA. */
export function defaultAlgFor(pair: Pick<KeyPair, 'keyType' | 'curve'>): JwsAlg {
  if (pair.keyType === 'rsa') return 'RS256';
  if (pair.keyType === 'ed25519') return 'EdDSA';
  const alg = Object.values(ALGORITHMS).find((a) => a.kty === 'EC' && a.crv === pair.curve);
  if (!alg) throw new JoseError('ERR_JWK_CURVE_UNSUPPORTED', `no JWS alg for curve ${String(pair.curve)}`);
  return alg.alg;
}

/** Whether `alg` can be used with a key of this type, curve and size. */
export function algFitsKey(info: AlgInfo, key: { kty: string; crv?: string; rsaBits?: number }): boolean {
  if (info.kty !== key.kty) return false;
  if (info.crv !== undefined && info.crv !== key.crv) return false;
  if (info.minRsaBits !== undefined && (key.rsaBits ?? 0) < info.minRsaBits) return false;
  return true;
}
