// Symmetric keys (`kty: oct`, RFC 7518 §6.4) for the HMAC algs: how one is made, checked on import
// and compared. They have no public form: nothing here builds a JWK without its secret, and no
// message names the secret.
import { randomBytes, timingSafeEqual } from 'node:crypto';

import { algInfo, isHmac, type HmacAlg, type HmacAlgInfo } from './algorithms';
import { JoseError } from './errors';

/** A symmetric JWK as the software store keeps it: the secret `k` (base64url) and its metadata. */
export interface OctJwk {
  kty: 'oct';
  kid: string;
  alg: HmacAlg;
  use: 'sig';
  k: string;
}

const invalid = (why: string) => new JoseError('ERR_JWK_INVALID', `invalid JWK: ${why}`);

/** A new secret for `info`: crypto.randomBytes of the hash size. */
export function newOctJwk(info: HmacAlgInfo, kid: string): OctJwk {
  return { kty: 'oct', kid, alg: info.alg, use: 'sig', k: randomBytes(info.secretBytes).toString('base64url') };
}

/**
 * Checks an oct JWK offered for import. `alg` must be an HMAC alg (HS256, HS384, HS512), `use` sig
 * (or absent), `k` base64url of at least the hash size, and `kid` given: a thumbprint of a
 * symmetric key would be a hash of the secret, published wherever the kid goes.
 */
export function validateOctJwk(jwk: Record<string, unknown>): OctJwk {
  if (typeof jwk.k !== 'string' || jwk.k === '')
    throw new JoseError('ERR_JWK_PRIVATE_MISSING', 'the secret "k" of the oct key is missing');
  if (!/^[A-Za-z0-9_-]+$/.test(jwk.k)) throw invalid('"k" is not base64url');
  if (typeof jwk.alg !== 'string') throw invalid('"alg" is required');
  const info = algInfo(jwk.alg);
  if (!isHmac(info))
    throw new JoseError('ERR_JOSE_ALG_UNSUPPORTED', `an oct key signs with HS256, HS384 or HS512, not ${info.alg}`);
  if (jwk.use !== undefined && jwk.use !== 'sig')
    throw new JoseError('ERR_JOSE_ALG_UNSUPPORTED', `an oct key is for "sig" (HMAC), not ${JSON.stringify(jwk.use)}`);
  if (typeof jwk.kid !== 'string' || jwk.kid === '')
    throw invalid('an oct key needs a "kid" (a thumbprint of a secret would publish a hash of it)');
  const bytes = Buffer.from(jwk.k, 'base64url');
  try {
    if (bytes.length < info.secretBytes) {
      throw new JoseError(
        'ERR_JWK_SECRET_TOO_SHORT',
        `the secret has ${bytes.length} bytes; ${info.alg} needs at least ${info.secretBytes} (RFC 7518 §3.2)`,
      );
    }
    if (bytes.toString('base64url') !== jwk.k) throw invalid('"k" is not canonical base64url');
  } finally {
    bytes.fill(0);
  }
  return { kty: 'oct', kid: jwk.kid, alg: info.alg, use: 'sig', k: jwk.k };
}

/** Whether two oct JWKs hold the same secret (compared in constant time). */
export function sameSecret(a: Pick<OctJwk, 'k'>, b: Pick<OctJwk, 'k'>): boolean {
  const x = Buffer.from(a.k, 'base64url');
  const y = Buffer.from(b.k, 'base64url');
  try {
    return x.length === y.length && timingSafeEqual(x, y);
  } finally {
    x.fill(0);
    y.fill(0);
  }
}
