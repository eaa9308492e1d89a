// A Signer over a node:crypto private KeyObject (keys from the software store).
import { createPublicKey, sign as nodeSign, constants, type KeyObject } from 'node:crypto';

import { algFitsKey, algInfo, type JwsAlg } from './algorithms';
import { JoseError } from './errors';
import type { PublicJwk } from './jwk';
import type { Signer } from './signer';

const NODE_HASH = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' } as const;
const HASH_BYTES = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 } as const;

export function softwareSigner(privateKey: KeyObject, kid: string, alg: JwsAlg): Signer {
  const info = algInfo(alg);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as Omit<PublicJwk, 'kid' | 'alg' | 'use'>;
  const rsaBits = privateKey.asymmetricKeyDetails?.modulusLength;
  if (!algFitsKey(info, { kty: jwk.kty, ...(jwk.crv ? { crv: jwk.crv } : {}), ...(rsaBits ? { rsaBits } : {}) })) {
    throw new JoseError('ERR_JOSE_ALG_UNSUPPORTED', `alg ${alg} does not fit key ${JSON.stringify(kid)}`);
  }
  const publicJwk: PublicJwk = { ...jwk, kid, alg, use: 'sig' };
  const hash = info.hash ? NODE_HASH[info.hash] : null;
  const options =
    info.kty === 'EC'
      ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const }
      : info.mechanism.type === 'RSA-PSS'
        ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[info.hash!] }
        : { key: privateKey };
  return {
    kid,
    alg,
    publicJwk,
    sign: (data: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) =>
        nodeSign(hash, data, options, (err, sig) => (err ? reject(err) : resolve(sig))),
      ),
  };
}
