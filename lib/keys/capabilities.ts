// Which JWS algorithms a token can serve, from its mechanism list (key-pair algs only: HMAC keys
// are never kept on the token).
import { KEY_PAIR_ALGS, type KeyPairAlg } from '../jose/algorithms';
import { CKM } from '../pkcs11/constants';

/** Per alg family: key generation, then signing (any one mechanism of each list suffices). */
const NEEDS: Record<string, number[][]> = {
  RS: [[CKM.RSA_PKCS_KEY_PAIR_GEN], [CKM.SHA256_RSA_PKCS, CKM.RSA_PKCS]],
  PS: [[CKM.RSA_PKCS_KEY_PAIR_GEN], [CKM.SHA256_RSA_PKCS_PSS, CKM.RSA_PKCS_PSS]],
  ES: [[CKM.EC_KEY_PAIR_GEN], [CKM.ECDSA]],
  Ed: [[CKM.EC_EDWARDS_KEY_PAIR_GEN], [CKM.EDDSA]],
};

export function algorithmsAvailable(mechanisms: ReadonlySet<number>): {
  available: KeyPairAlg[];
  unavailable: KeyPairAlg[];
} {
  const all = [...KEY_PAIR_ALGS];
  const available = all.filter((alg) => NEEDS[alg.slice(0, 2)]!.every((anyOf) => anyOf.some((m) => mechanisms.has(m))));
  return { available, unavailable: all.filter((a) => !available.includes(a)) };
}
