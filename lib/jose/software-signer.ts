// A Signer over a node:crypto KeyObject (keys from the software store): a private key for the
// key-pair algs, a secret key for HMAC.
import { createPublicKey, sign as nodeSign, constants, type KeyObject } from 'node:crypto';

import { HASHES } from '../pkcs11/hashes';
import { algFitsKey, algInfo, isHmac, type JwsAlg } from './algorithms';
import { JoseError } from './errors';
import { hmacSigner } from './hmac-signer';
import type { PublicJwk } from './jwk';
import type { Signer } from './signer';

export function softwareSigner(key: KeyObject, kid: string, alg: JwsAlg): Signer {
  const info = algInfo(alg);
  if (isHmac(info)) return hmacSigner(key, kid, info);
  if (key.type !== 'private')
    throw new JoseError(
      'ERR_JOSE_ALG_UNSUPPORTED',
      `alg ${alg} needs a private key; ${JSON.stringify(kid)} is not one`,
    );
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as Omit<PublicJwk, 'kid' | 'alg' | 'use'>;
  const rsaBits = key.asymmetricKeyDetails?.modulusLength;
  if (!algFitsKey(info, { kty: jwk.kty, ...(jwk.crv ? { crv: jwk.crv } : {}), ...(rsaBits ? { rsaBits } : {}) })) {
    throw new JoseError('ERR_JOSE_ALG_UNSUPPORTED', `alg ${alg} does not fit key ${JSON.stringify(kid)}`);
  }
  const publicJwk: PublicJwk = { ...jwk, kid, alg: info.alg, use: 'sig' };
  const hash = info.hash ? HASHES[info.hash] : undefined;
  const options =
    info.kty === 'EC'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : info.mechanism.type === 'RSA-PSS'
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash!.bytes }
        : { key };
  return {
    kid,
    alg: info.alg,
    publicJwk,
    sign: (data: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) =>
        nodeSign(hash?.node ?? null, data, options, (err, sig) => (err ? reject(err) : resolve(sig))),
      ),
  };
}
