// Validation of JWKs offered for import (into the software store): every rule is checked before
// anything is written, and each failure has its own code. Key pairs (RSA, EC, OKP) here; symmetric
// (oct) keys in oct.ts.
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

import { bitLength } from '../pkcs11/bytes';
import { curveNames } from '../pkcs11/curves';
import { HASHES } from '../pkcs11/hashes';
import { RSA_SIZES } from '../pkcs11/key-spec';
import { ALGORITHMS, algFitsKey, ENC_ALG, ENC_KEY_ALGS, type EncKeyAlg, type JwsAlg } from './algorithms';
import { JoseError } from './errors';
import { thumbprintOf, type KeyUse, type PublicJwk } from './jwk';
import { validateOctJwk, type OctJwk } from './oct';

export type { OctJwk };

/** A key pair's private JWK as imported (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). */
export interface KeyPairPrivateJwk extends PublicJwk {
  d: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
}

/** A JWK with its private part: a key pair's, or a symmetric key's secret. */
export type PrivateJwk = KeyPairPrivateJwk | OctJwk;

export interface ValidatedKey {
  kid: string;
  alg: JwsAlg | EncKeyAlg;
  use: KeyUse;
  privateJwk: PrivateJwk;
  /** Undefined for a symmetric key: it has no public form and is never published. */
  publicJwk: PublicJwk | undefined;
}

const PRIVATE_MEMBERS: Record<PublicJwk['kty'], readonly string[]> = {
  RSA: ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'],
  EC: ['crv', 'x', 'y', 'd'],
  OKP: ['crv', 'x', 'd'],
};
const PUBLIC_MEMBERS: Record<PublicJwk['kty'], readonly string[]> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};

const invalid = (why: string) => new JoseError('ERR_JWK_INVALID', `invalid JWK: ${why}`);

/**
 * Checks a JWK with private members for import; returns it with its kid (the RFC 7638 thumbprint
 * when a key pair has none; an oct key must have one), alg and use. `use` defaults to `sig` (`enc`
 * for alg RSA-OAEP-256); an RSA key for `enc` carries RSA-OAEP-256 or RS256 (Hydra's label).
 */
export async function validatePrivateJwk(input: unknown): Promise<ValidatedKey> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('not a JSON object');
  const jwk = input as Record<string, unknown>;
  const kty = jwk.kty;
  if (kty === 'oct') {
    const oct = validateOctJwk(jwk);
    return { kid: oct.kid, alg: oct.alg, use: 'sig', privateJwk: oct, publicJwk: undefined };
  }
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP')
    throw invalid(`kty ${JSON.stringify(kty)} is not RSA, EC, OKP or oct`);
  if (kty !== 'RSA' && !(curveNames(kty) as string[]).includes(jwk.crv as string)) {
    throw new JoseError('ERR_JWK_CURVE_UNSUPPORTED', `curve ${JSON.stringify(jwk.crv)} is not supported for ${kty}`);
  }
  for (const m of PUBLIC_MEMBERS[kty])
    if (typeof jwk[m] !== 'string' || jwk[m] === '') throw invalid(`"${m}" is missing`);
  for (const m of PRIVATE_MEMBERS[kty]) {
    if (typeof jwk[m] !== 'string' || jwk[m] === '') {
      throw new JoseError(
        'ERR_JWK_PRIVATE_MISSING',
        `the private member "${m}" is missing: only private keys can be imported`,
      );
    }
  }
  const alg = jwk.alg;
  if (typeof alg !== 'string') throw invalid('"alg" is required');
  const use = jwk.use ?? (alg === ENC_ALG ? 'enc' : 'sig');
  if (use !== 'sig' && use !== 'enc') throw invalid(`"use" must be "sig" or "enc", not ${JSON.stringify(use)}`);
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid === ''))
    throw invalid('"kid" must be a non-empty string');
  const rsaBits = kty === 'RSA' ? bitLength(Buffer.from(jwk.n as string, 'base64url')) : undefined;
  if (use === 'enc') {
    if (!ENC_KEY_ALGS.includes(alg) || kty !== 'RSA')
      throw new JoseError('ERR_JOSE_ALG_UNSUPPORTED', `an enc key must be RSA with alg ${ENC_KEY_ALGS.join(' or ')}`);
    if (rsaBits! < RSA_SIZES.minBits)
      throw new JoseError(
        'ERR_JWK_RSA_TOO_SHORT',
        `the RSA modulus has ${rsaBits} bits; at least ${RSA_SIZES.minBits} are required`,
      );
  } else {
    const info = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg as JwsAlg] : undefined;
    if (!info) throw new JoseError('ERR_JOSE_ALG_UNSUPPORTED', `unsupported alg ${JSON.stringify(alg)}`);
    if (info.kty === 'RSA' && info.minRsaBits !== undefined && kty === 'RSA' && rsaBits! < info.minRsaBits) {
      throw new JoseError(
        'ERR_JWK_RSA_TOO_SHORT',
        `the RSA modulus has ${rsaBits} bits; ${alg} needs at least ${info.minRsaBits}`,
      );
    }
    if (
      !algFitsKey(info, {
        kty,
        ...(typeof jwk.crv === 'string' ? { crv: jwk.crv } : {}),
        ...(rsaBits ? { rsaBits } : {}),
      })
    ) {
      throw new JoseError(
        'ERR_JOSE_ALG_UNSUPPORTED',
        `alg ${alg} does not fit a ${kty} key${jwk.crv ? ` on ${String(jwk.crv)}` : ''}`,
      );
    }
  }
  // Every member is base64url (RFC 7518 §6: Base64urlUInt and octet strings, no padding).
  for (const m of PRIVATE_MEMBERS[kty])
    if (m !== 'crv' && !/^[A-Za-z0-9_-]+$/.test(jwk[m] as string)) throw invalid(`"${m}" is not base64url`);
  // The key must parse, and its public members must be those of its private part.
  const members = Object.fromEntries(PRIVATE_MEMBERS[kty].map((m) => [m, jwk[m]]));
  let derived: Record<string, unknown>;
  try {
    derived = createPublicKey(createPrivateKey({ key: { kty, ...members }, format: 'jwk' })).export({ format: 'jwk' });
  } catch {
    throw invalid('the key material does not parse');
  }
  for (const m of PUBLIC_MEMBERS[kty])
    if (derived[m] !== jwk[m]) throw invalid(`"${m}" does not belong to the private key`);
  const publicMembers = Object.fromEntries(PUBLIC_MEMBERS[kty].map((m) => [m, jwk[m]]));
  // node:crypto takes an EC or RSA JWK's public members as given, without checking them against
  // "d" (or p, q, dp, dq, qi): a signature made with the private members must verify with the
  // public members alone, or what we publish would not verify what we sign.
  if (
    !signsWithItsPublicPart(
      createPrivateKey({ key: { kty, ...members }, format: 'jwk' }),
      createPublicKey({ key: { kty, ...publicMembers }, format: 'jwk' }),
      kty,
    )
  ) {
    throw invalid(
      'the private members do not belong to the public members: a signature made with them does not verify',
    );
  }
  const kid = (jwk.kid as string | undefined) ?? thumbprintOf({ kty, ...publicMembers } as PublicJwk);
  const publicJwk = { kty, ...publicMembers, kid, alg, use } as PublicJwk;
  return {
    kid,
    alg: alg as ValidatedKey['alg'],
    use,
    privateJwk: { ...publicJwk, ...members } as KeyPairPrivateJwk,
    publicJwk,
  };
}

/** Whether a signature made with `priv` verifies with `pub` (a random message; RSA-PSS, ECDSA or Ed25519). */
function signsWithItsPublicPart(priv: KeyObject, pub: KeyObject, kty: string): boolean {
  const message = randomBytes(32);
  const hash = kty === 'OKP' ? null : HASHES['SHA-256'].node;
  try {
    return verify(hash, message, pub, sign(hash, message, priv));
  } catch {
    return false;
  }
}
