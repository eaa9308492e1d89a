// Administration of the software store: secret rotation and a health check.
// Rotation: put the new secret first in SECRETS_SYSTEM (keeping the old ones after it), rotate,
// and the old secrets can then be dropped.
import { openKeyStore } from '../store/open-store';
import type { KeyManagerSettings } from './create';

type StoreSettings = Pick<KeyManagerSettings, 'dsn' | 'secrets'>;

/** Re-seals every row under the first secret; returns how many rows changed. */
export async function rotateSecrets(settings: StoreSettings): Promise<number> {
  const store = openKeyStore(settings.dsn, settings.secrets);
  try {
    return await store.rotateSecrets();
  } finally {
    await store.close();
  }
}

/** Opens the store and counts its keys and the rows that cannot be opened. */
export async function inspectStore(settings: StoreSettings): Promise<{ keys: number; unreadable: number }> {
  const store = openKeyStore(settings.dsn, settings.secrets);
  try {
    const rows = await store.list();
    let unreadable = 0;
    for (const set of new Set(rows.map((r) => r.set))) unreadable += (await store.getSet(set)).failures.length;
    return { keys: rows.length, unreadable };
  } finally {
    await store.close();
  }
}
