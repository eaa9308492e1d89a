// What generateAndPersistKeySet accepts: alg and use are checked before any key is made.
import { algInfo, ENC_ALG } from '../jose/algorithms';
import type { KeySpec, KeyUse } from '../pkcs11/key-spec';
import { KeyManagerError } from './errors';

/** Key spec for (alg, use): RSA-4096 for RS and PS algs and for enc, ES algs by curve, EdDSA Ed25519. */
export function checkGeneration(alg: unknown, use: unknown): { spec: KeySpec; use: KeyUse } {
  if (use !== 'sig' && use !== 'enc') {
    throw new KeyManagerError('ERR_KEY_USE_INVALID', `use must be "sig" or "enc", not ${JSON.stringify(use)}`);
  }
  if (use === 'enc') {
    if (alg !== ENC_ALG)
      throw new KeyManagerError('ERR_KEY_USE_INVALID', `keys for enc are generated with alg ${ENC_ALG}`);
    return { spec: { type: 'rsa', bits: 4096 }, use };
  }
  return { spec: algInfo(alg).generate, use };
}
