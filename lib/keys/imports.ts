// Keys offered for import (addKey, updateKey, PUT …): validated, kid included, before anything is written.
import { validatePrivateJwk, type ValidatedKey } from '../jose/import';
import { checkKid } from '../jose/kid';
import { KeyManagerError } from './errors';
import { keysOf } from './names';

export async function validateImport(jwk: unknown): Promise<ValidatedKey> {
  const v = await validatePrivateJwk(jwk);
  checkKid(v.kid); // the same kids as the token: a kid maps to one CKA_ID and back
  return v;
}

/** Validates every key before anything is written; duplicate kids in one set are refused. */
export async function validateImportSet(jwks: unknown): Promise<ValidatedKey[]> {
  const validated = await Promise.all(keysOf(jwks).map((k) => validateImport(k)));
  const kids = new Set<string>();
  for (const v of validated) {
    if (kids.has(v.kid)) throw new KeyManagerError('ERR_KEY_NAME_INVALID', `kid ${JSON.stringify(v.kid)} appears twice in the JWK Set`);
    kids.add(v.kid);
  }
  return validated;
}
