// What generateAndPersistKeySet accepts: alg and use are checked before any key is made.
import { algInfo, ENC_KEY_ALGS, isHmac, type HmacAlgInfo } from '../jose/algorithms';
import { type KeySpec, type KeyUse, RSA_SIZES } from '../pkcs11/key-spec';
import { KeyManagerError } from './errors';

/** A key pair (`spec`), or a symmetric secret (HMAC algs: software store only). */
export type Generation = { use: KeyUse } & ({ kind: 'pair'; spec: KeySpec } | { kind: 'secret'; info: HmacAlgInfo });

/**
 * What (alg, use) makes: RSA-4096 for RS and PS algs and for enc (alg RSA-OAEP-256, or RS256 as
 * Hydra's `--use enc` asks), ES algs by curve, EdDSA Ed25519, HS algs a secret of the hash size.
 */
export function checkGeneration(alg: unknown, use: unknown): Generation {
  if (use !== 'sig' && use !== 'enc') {
    throw new KeyManagerError('ERR_KEY_USE_INVALID', `use must be "sig" or "enc", not ${JSON.stringify(use)}`);
  }
  if (use === 'enc') {
    if (typeof alg !== 'string' || !ENC_KEY_ALGS.includes(alg))
      throw new KeyManagerError(
        'ERR_KEY_USE_INVALID',
        `keys for enc are RSA keys generated with alg ${ENC_KEY_ALGS.join(' or ')}`,
      );
    return { kind: 'pair', spec: { type: 'rsa', bits: RSA_SIZES.generateBits }, use };
  }
  const info = algInfo(alg);
  return isHmac(info) ? { kind: 'secret', info, use } : { kind: 'pair', spec: info.generate, use };
}

/** Symmetric keys are kept in the software store only: refused where generation would reach the token. */
/** A symmetric key offered to a published set: it would sign tokens its JWKS can never verify. */
export function notPublishable(set: string, alg: string): KeyManagerError {
  return new KeyManagerError(
    'ERR_KEY_NOT_PUBLISHABLE',
    `JSON Web Key Set ${JSON.stringify(set)} is published (JWKS_PUBLIC_SETS): a ${alg} key is a shared secret that is never published, so no one could verify what it signs; use a key-pair alg, or another set`,
  );
}

export function symmetricOnHsm(alg: string): KeyManagerError {
  return new KeyManagerError(
    'ERR_HSM_SYMMETRIC_UNSUPPORTED',
    `${alg} keys are symmetric secrets kept in the software store only, and generation goes to the Hardware Security Module; import an oct JWK instead (imports go to the software store)`,
  );
}
