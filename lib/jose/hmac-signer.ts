// A Signer over a shared secret (HS256, HS384, HS512: RFC 7518 §3.2), and the check of a MAC in
// constant time. The secret stays in its KeyObject: never in a JWK this signer exposes, an error or
// a log line.
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

import { algFitsKey, type HmacAlgInfo } from './algorithms';
import { JoseError } from './errors';
import type { Signer } from './signer';

const NODE_HASH = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' } as const;

/** A signer over `secret` (a KeyObject of type 'secret' of at least the hash size). */
export function hmacSigner(secret: KeyObject, kid: string, info: HmacAlgInfo): Signer {
  if (secret.type !== 'secret' || !algFitsKey(info, { kty: 'oct', secretBytes: secret.symmetricKeySize ?? 0 })) {
    throw new JoseError(
      'ERR_JOSE_ALG_UNSUPPORTED',
      `alg ${info.alg} needs a secret of at least ${info.secretBytes} bytes; key ${JSON.stringify(kid)} is not one`,
    );
  }
  const hash = NODE_HASH[info.hash];
  return {
    kid,
    alg: info.alg,
    publicJwk: undefined,
    sign: async (data: Uint8Array) => createHmac(hash, secret).update(data).digest(),
  };
}

/** Whether `mac` is the MAC of `data` under `secret` (compared in constant time). */
export function verifyHmac(secret: KeyObject, info: HmacAlgInfo, data: Uint8Array, mac: Uint8Array): boolean {
  const expected = createHmac(NODE_HASH[info.hash], secret).update(data).digest();
  return mac.length === expected.length && timingSafeEqual(expected, mac);
}
