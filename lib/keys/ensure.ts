// ensureKeySet: the key set, generated first when it does not exist yet. Concurrent callers in
// one process share one generation, and instances sharing a store take its lock and look again
// before generating (a set gets one key, not several).
import { silentLogger, type Logger } from '../logger';
import { isNotFound } from './errors';
import type { JwkSet, KeyManagerOps, KeySets } from './key-manager';

/** What ensureKeySet needs of a key manager: the set read and generated, under the store's lock. */
export type EnsuringKeySets = Pick<KeySets, 'getKeySet' | 'generateAndPersistKeySet'> &
  Pick<KeyManagerOps, 'withLock' | 'invalidate'>;

const inflight = new WeakMap<EnsuringKeySets, Map<string, Promise<JwkSet>>>();

export async function ensureKeySet(
  manager: EnsuringKeySets,
  set: string,
  alg: string,
  logger: Logger = silentLogger,
): Promise<JwkSet> {
  try {
    return await manager.getKeySet(set);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  let bySet = inflight.get(manager);
  if (!bySet) {
    bySet = new Map();
    inflight.set(manager, bySet);
  }
  let pending = bySet.get(set);
  if (!pending) {
    pending = manager
      .withLock(`ensure-key-set:${set}`, async () => {
        manager.invalidate(set); // another instance may have made it while we waited
        try {
          return await manager.getKeySet(set);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        logger.warn(`JSON Web Key Set ${JSON.stringify(set)} does not exist yet, generating new key pair...`, {
          set,
          alg,
        });
        await manager.generateAndPersistKeySet(set, undefined, alg, 'sig');
        return manager.getKeySet(set);
      })
      .finally(() => bySet!.delete(set));
    bySet.set(set, pending);
  }
  return pending;
}
