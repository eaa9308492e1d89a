// Which JWS algorithms a token can serve, from its mechanism list (key-pair algs only: HMAC keys
// are never kept on the token). What each alg needs comes from the algorithm table (its key spec
// and its sign mechanism) through the pkcs11 tables: nothing here names an alg or a mechanism.
import { ALGORITHMS, KEY_PAIR_ALGS, type KeyPairAlg } from '../jose/algorithms';
import { KEY_TYPES } from '../pkcs11/key-pair';
import { signMechanisms } from '../pkcs11/mechanisms';

/**
 * What `alg` needs of a token: generating its key pair, then signing with it. Any one mechanism of
 * each list suffices (signing: hashing on the token, or on the host before the raw mechanism).
 */
export function mechanismNeeds(alg: KeyPairAlg): readonly (readonly number[])[] {
  const info = ALGORITHMS[alg];
  return [[KEY_TYPES[info.generate.type].generate], signMechanisms(info.mechanism)];
}

export function algorithmsAvailable(mechanisms: ReadonlySet<number>): {
  available: KeyPairAlg[];
  unavailable: KeyPairAlg[];
} {
  const all = [...KEY_PAIR_ALGS];
  const available = all.filter((alg) => mechanismNeeds(alg).every((anyOf) => anyOf.some((m) => mechanisms.has(m))));
  return { available, unavailable: all.filter((a) => !available.includes(a)) };
}
