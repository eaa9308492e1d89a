// A Signer whose key stays on the token: the token signs, we put the result in JWS form.
import type { KeyPair } from '../pkcs11/key-pair';
import type { Token } from '../pkcs11/token';
import { ENC_ALG, keyPairAlgInfo, type KeyPairAlg } from './algorithms';
import { JoseError } from './errors';
import { publicJwkFromKeyPair } from './jwk';
import { ecdsaToJws, type Signer } from './signer';

export function hsmSigner(token: Token, pair: KeyPair, options: { kid?: string; alg?: KeyPairAlg } = {}): Signer {
  const publicJwk = publicJwkFromKeyPair(pair, options);
  if (publicJwk.use !== 'sig' || publicJwk.alg === ENC_ALG) {
    throw new JoseError(
      'ERR_JWK_USE_MISMATCH',
      `key ${JSON.stringify(publicJwk.kid)} is for ${publicJwk.use}, not for signing`,
    );
  }
  const info = keyPairAlgInfo(publicJwk.alg);
  return {
    kid: publicJwk.kid,
    alg: info.alg,
    publicJwk,
    async sign(data: Uint8Array): Promise<Uint8Array> {
      const sig = await token.sign(pair, info.mechanism, data);
      return info.kty === 'EC' ? ecdsaToJws(sig, info.alg) : sig;
    },
  };
}
