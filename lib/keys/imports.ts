// Keys offered for import (addKey, updateKey, PUT …): validated, kid included, before anything is
// written; and the rows they become.
import { validatePrivateJwk, type ValidatedKey } from '../jose/import';
import { thumbprintOf } from '../jose/jwk';
import { checkKid } from '../jose/kid';
import { sameSecret } from '../jose/oct';
import { KeyManagerError } from './errors';
import { keysOf } from './names';
import { isSoftwareEntry } from './software-source';
import type { KeyEntry } from './key-entry';
import type { SetView } from './set-view';
import type { Lifecycle, StoredKey } from '../store/key-store';

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
    if (kids.has(v.kid))
      throw new KeyManagerError('ERR_KEY_NAME_INVALID', `kid ${JSON.stringify(v.kid)} appears twice in the JWK Set`);
    kids.add(v.kid);
  }
  return validated;
}

/**
 * The rows an import writes into `set`. A kid names one key: a key already in the set may be sent
 * again (it keeps its time and state), but other material, alg or use under a published kid
 * would fail every verifier that cached it, and a row that cannot be opened cannot be compared.
 */
export function importRows(
  set: string,
  keys: readonly ValidatedKey[],
  view: SetView,
  mode: 'add' | 'upsert' | 'replace',
  now: Date,
  lifecycle: Lifecycle,
): StoredKey[] {
  const existing = new Map(view.entries.filter((e) => e.where === 'software').map((e) => [e.kid, e]));
  const unreadable = new Set(view.problems.filter((p) => p.kind === 'unreadable').map((p) => p.kid));
  return keys.map((v) => {
    const fresh = { set, kid: v.kid, alg: v.alg, use: v.use, privateJwk: v.privateJwk };
    if (mode === 'add') return { ...fresh, createdAt: now, lifecycle };
    if (unreadable.has(v.kid)) throw republished(set, v.kid, 'its stored key cannot be opened to compare');
    const old = existing.get(v.kid);
    if (!old) return { ...fresh, createdAt: now, lifecycle };
    if (!sameMaterial(old, v) || old.alg !== v.alg || old.use !== v.use) {
      throw republished(
        set,
        v.kid,
        'other key material, alg or use under a published kid would fail every verifier that cached it',
      );
    }
    return { ...fresh, createdAt: old.createdAt ?? now, lifecycle: old.lifecycle };
  });
}

/** Whether an import holds the key already stored under its kid (a secret compared in constant time). */
function sameMaterial(old: KeyEntry, v: ValidatedKey): boolean {
  if (old.publicJwk && v.publicJwk) return thumbprintOf(old.publicJwk) === thumbprintOf(v.publicJwk);
  const stored = isSoftwareEntry(old) ? old.stored.privateJwk : undefined;
  return stored?.kty === 'oct' && v.privateJwk.kty === 'oct' && sameSecret(stored, v.privateJwk);
}

function republished(set: string, kid: string, why: string): KeyManagerError {
  return new KeyManagerError(
    'ERR_KEY_EXISTS',
    `kid ${JSON.stringify(kid)} of JSON Web Key Set ${JSON.stringify(set)} cannot be replaced: ${why}; import the new key under a new kid (it is published before it signs), then delete the old one once its tokens have expired`,
  );
}
