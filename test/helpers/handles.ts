// The object handles a KeyPair was found or made with, for tests that call the raw binding: a
// KeyPair does not carry them (the Token resolves them per module generation).
import { handlesAtBirth, type KeyPair } from '../../lib/pkcs11/key-pair';

export function handlesOf(keyPair: KeyPair): { privateKey: bigint; publicKey: bigint | null } {
  const h = handlesAtBirth(keyPair);
  if (!h) throw new Error('not a KeyPair found or made by a Token');
  return h;
}
