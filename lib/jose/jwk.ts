// JWKs from key pairs on the token (the kid <-> CKA_ID mapping is kid.ts), and their thumbprints.
import { createHash } from 'node:crypto';

import type { CurveName, EcCurveName } from '../pkcs11/curves';
import type { KeyPair } from '../pkcs11/key-pair';
import type { KeyUse } from '../pkcs11/key-spec';
import {
  ALGORITHMS,
  algFitsKey,
  defaultAlgFor,
  ENC_ALG,
  ENC_KEY_ALGS,
  type EncKeyAlg,
  type KeyPairAlg,
} from './algorithms';
import { JoseError } from './errors';
import { kidFromId } from './kid';

export type { KeyUse };

/**
 * A public JWK as we publish it (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2). Only keys with a public
 * part have one: a symmetric (oct) key never does.
 */
export interface PublicJwk {
  kty: 'RSA' | 'EC' | 'OKP';
  kid: string;
  /** A key pair's JWS alg; for `use: enc` RSA-OAEP-256, or RS256 as Hydra records enc keys. */
  alg: KeyPairAlg | EncKeyAlg;
  use: KeyUse;
  n?: string;
  e?: string;
  crv?: CurveName;
  x?: string;
  y?: string;
  /** The key's certificate chain (standard base64 DER, the key's certificate first), when it has one (x509.ts). */
  x5c?: string[];
  /** The base64url SHA-256 of x5c[0]'s DER. */
  'x5t#S256'?: string;
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');

/** `use` of a key on the token: `sig` when it may sign, `enc` when it may only decrypt. */
export function useOf(pair: Pick<KeyPair, 'canSign' | 'canDecrypt'>): KeyUse | undefined {
  if (pair.canSign) return 'sig';
  if (pair.canDecrypt) return 'enc';
  return undefined;
}

/**
 * The public JWK of a key pair on the token. `alg` defaults from the key (RS256, ES*, EdDSA);
 * RSA keys made for `enc` publish RSA-OAEP-256 unless `alg` says RS256 (Hydra's label for them).
 * Throws ERR_JWK_UNMAPPABLE for a pair without a public part, and ERR_JOSE_ALG_UNSUPPORTED for an
 * alg that does not fit the key.
 */
export function publicJwkFromKeyPair(
  pair: KeyPair,
  options: { kid?: string; alg?: KeyPairAlg | EncKeyAlg; use?: KeyUse } = {},
): PublicJwk {
  const data = pair.publicKeyData;
  const kid = options.kid ?? kidFromId(pair.id);
  if (!data)
    throw new JoseError(
      'ERR_JWK_UNMAPPABLE',
      `key ${JSON.stringify(kid)} has no public part (${pair.problems.join(', ') || 'unknown'})`,
    );
  const use = options.use ?? useOf(pair);
  if (!use) throw new JoseError('ERR_JWK_UNMAPPABLE', `key ${JSON.stringify(kid)} may neither sign nor decrypt`);
  if ((use === 'sig' && !pair.canSign) || (use === 'enc' && !pair.canDecrypt)) {
    throw new JoseError('ERR_JWK_USE_MISMATCH', `key ${JSON.stringify(kid)} is not allowed for ${use} on the token`);
  }
  const members =
    data.kty === 'RSA'
      ? { kty: 'RSA' as const, n: b64u(data.n), e: b64u(data.e) }
      : data.kty === 'OKP'
        ? { kty: 'OKP' as const, crv: data.crv, x: b64u(data.x) }
        : ecMembers(data.crv, data.point);
  if (use === 'enc') {
    if (data.kty !== 'RSA')
      throw new JoseError('ERR_JWK_UNMAPPABLE', `key ${JSON.stringify(kid)} is for enc but not RSA`);
    const alg = options.alg ?? ENC_ALG;
    if (!ENC_KEY_ALGS.includes(alg))
      throw new JoseError('ERR_JOSE_ALG_UNSUPPORTED', `an enc key is published with ${ENC_KEY_ALGS.join(' or ')}`);
    return { ...members, kid, alg: alg as EncKeyAlg, use };
  }
  const alg = options.alg ?? defaultAlgFor(pair);
  const info = alg === ENC_ALG ? undefined : ALGORITHMS[alg];
  if (
    !info ||
    !algFitsKey(info, { kty: members.kty, crv: 'crv' in members ? members.crv : undefined, rsaBits: pair.bits })
  ) {
    throw new JoseError(
      'ERR_JOSE_ALG_UNSUPPORTED',
      `alg ${JSON.stringify(alg)} does not fit key ${JSON.stringify(kid)}`,
    );
  }
  return { ...members, kid, alg, use };
}

function ecMembers(crv: EcCurveName, point: Buffer) {
  const size = (point.length - 1) / 2;
  return { kty: 'EC' as const, crv, x: b64u(point.subarray(1, 1 + size)), y: b64u(point.subarray(1 + size)) };
}

/** RFC 7638 §3 (synchronous, for comparing keys): SHA-256 over the required members in lexicographic order, base64url. */
export function thumbprintOf(jwk: Pick<PublicJwk, 'kty' | 'crv' | 'x' | 'y' | 'n' | 'e'>): string {
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : jwk.kty === 'EC'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}
