// A Signer over a shared secret (HS256, HS384, HS512: RFC 7518 §3.2), and the check of a MAC in
// constant time. The secret stays in its KeyObject: never in a JWK this signer exposes, an error or
// a log line.
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

import { HASHES } from '../pkcs11/hashes';
import { algFitsKey, type HmacAlgInfo } from './algorithms';
import { JoseError } from './errors';
import type { Signer } from './signer';

/** A signer over `secret` (a KeyObject of type 'secret' of at least the hash size). */
export function hmacSigner(secret: KeyObject, kid: string, info: HmacAlgInfo): Signer {
  if (secret.type !== 'secret' || !algFitsKey(info, { kty: 'oct', secretBytes: secret.symmetricKeySize ?? 0 })) {
    throw new JoseError(
      'ERR_JOSE_ALG_UNSUPPORTED',
      `alg ${info.alg} needs a secret of at least ${info.secretBytes} bytes; key ${JSON.stringify(kid)} is not one`,
    );
  }
  const hash = HASHES[info.hash].node;
  return {
    kid,
    alg: info.alg,
    publicJwk: undefined,
    sign: async (data: Uint8Array) => createHmac(hash, secret).update(data).digest(),
  };
}

/** Whether `mac` is the MAC of `data` under `secret` (compared in constant time). */
export function verifyHmac(secret: KeyObject, info: HmacAlgInfo, data: Uint8Array, mac: Uint8Array): boolean {
  const expected = createHmac(HASHES[info.hash].node, secret).update(data).digest();
  return mac.length === expected.length && timingSafeEqual(expected, mac);
}
