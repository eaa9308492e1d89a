// A database made by the previous release (schema migration 1, envelope v1 rows binding only set
// and kid, unsealed HSM records) opened by this version, on every backend: the schema migrates,
// v1 rows open when their columns agree with the sealed JWK (and fail alone when not), reads
// never rewrite them, and resealLegacyRows() / rotateSecrets() turn them into v2.
import { type Backend, describeBackends } from './store-backends';
import { at, caught, expectStoreError, makeKey, SECRET_NEW, SECRET_OLD } from './store-helpers';
import { createV1Database, insertV1HsmRecord, insertV1Key } from './store-legacy';

async function versionOf(b: Backend, set: string, kid: string): Promise<number> {
  const [row] = await b.sql<{ sealed: Buffer }>('SELECT sealed FROM jwk_keys WHERE set_name = ? AND kid = ?', [
    set,
    kid,
  ]);
  return row!.sealed[0]!;
}

describeBackends('a database of the previous release', 'store_migration_test', (b) => {
  const good = [makeKey('s', 'g1', at(1)), makeKey('s', 'g2', at(2), 'rsa'), makeKey('t', 'g3', at(3), 'ed25519')];
  const algEdited = makeKey('s', 'bad-alg', at(4));
  const useEdited = makeKey('s', 'bad-use', at(5));

  beforeEach(async () => {
    await createV1Database(b);
    for (const k of [...good, algEdited, useEdited]) await insertV1Key(b, SECRET_OLD, k);
    await insertV1HsmRecord(b, 'h', 'legacy', at(7), 'PS384');
    // Edited outside the seal after the fact: v1 does not bind alg and use, the sealed JWK does.
    await b.sql('UPDATE jwk_keys SET alg = ? WHERE kid = ?', ['ES384', 'bad-alg']);
    await b.sql('UPDATE jwk_keys SET "use" = ? WHERE kid = ?', ['enc', 'bad-use']);
  });

  test('migrates the schema; v1 rows open, edited ones fail alone; legacy HSM records read as legacy', async () => {
    const store = b.open();
    const { keys, failures } = await store.getSet('s');
    expect(keys).toEqual([good[1], good[0]]);
    expect(failures.map((f) => [f.set, f.kid, f.code])).toEqual([
      ['s', 'bad-use', 'ERR_SEAL_TAMPERED'],
      ['s', 'bad-alg', 'ERR_SEAL_TAMPERED'],
    ]);
    expectStoreError(await caught(() => store.get('s', 'bad-alg')), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'bad-alg' });
    expect(await store.get('t', 'g3')).toEqual(good[2]);
    expect(
      (await b.sql<{ version: unknown }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) =>
        Number(r.version),
      ),
    ).toEqual([1, 2, 3]);
    expect(await store.hsmKeys('h')).toEqual({
      records: [{ set: 'h', kid: 'legacy', alg: 'PS384', use: 'sig', createdAt: at(7), lifecycle: {}, sealed: false }],
      failures: [],
    });
    expect(await store.hsmRecordSets()).toEqual(['h']);
    expect(await store.setsWithKid('legacy')).toEqual(['h']);
    // Reads never write: the rows are still v1.
    for (const k of good) expect(await versionOf(b, k.set, k.kid)).toBe(1);
  });

  test('a v1 row with a lifecycle column set (v1 had none) fails alone', async () => {
    const store = b.open();
    await store.list(); // migrated: the lifecycle columns exist
    await b.sql('UPDATE jwk_keys SET retire_at = ? WHERE kid = ?', [at(1).getTime(), 'g1']);
    const { keys, failures } = await store.getSet('s');
    expect(keys.map((k) => k.kid)).toEqual(['g2']);
    expect(failures.map((f) => f.kid)).toEqual(['bad-use', 'bad-alg', 'g1']);
  });

  test('resealLegacyRows() seals v1 rows as v2, reports those that do not open, and leaves them', async () => {
    const store = b.open();
    const result = await store.resealLegacyRows();
    expect(result.resealed).toBe(3);
    expect(result.failures.map((f) => [f.kid, f.code]).sort()).toEqual([
      ['bad-alg', 'ERR_SEAL_TAMPERED'],
      ['bad-use', 'ERR_SEAL_TAMPERED'],
    ]);
    for (const k of good) expect(await versionOf(b, k.set, k.kid)).toBe(2);
    expect(await versionOf(b, 's', 'bad-alg')).toBe(1);
    expect(await store.resealLegacyRows()).toEqual({ resealed: 0, failures: expect.any(Array) });
    for (const k of good) expect(await store.get(k.set, k.kid)).toEqual(k);

    // Now created_at is under the seal too.
    await b.sql('UPDATE jwk_keys SET created_at = ? WHERE kid = ?', [at(100).getTime(), 'g1']);
    expectStoreError(await caught(() => store.get('s', 'g1')), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'g1' });
    expect(await store.get('s', 'g2')).toEqual(good[1]);
  });

  test('rotateSecrets() re-seals v1 rows as v2 under the new secret; HSM legacy records stay unsealed', async () => {
    await b.sql('DELETE FROM jwk_keys WHERE kid IN (?, ?)', ['bad-alg', 'bad-use']); // any row that does not open aborts a rotation
    const store = b.open([SECRET_NEW, SECRET_OLD]);
    expect(await store.rotateSecrets()).toBe(3);
    expect(await store.rotateSecrets()).toBe(0);
    for (const k of good) expect(await versionOf(b, k.set, k.kid)).toBe(2);
    const only = b.open([SECRET_NEW]);
    for (const k of good) expect(await only.get(k.set, k.kid)).toEqual(k);
    expect((await only.hsmKeys('h')).records.map((r) => r.sealed)).toEqual([false]);
  });

  test('setLifecycle on a v1 row seals it as v2 with its lifecycle', async () => {
    const store = b.open();
    await store.setLifecycle('s', 'g1', { retireAt: at(10) });
    expect(await versionOf(b, 's', 'g1')).toBe(2);
    expect(await store.get('s', 'g1')).toEqual({ ...good[0], lifecycle: { retireAt: at(10) } });
    expectStoreError(await caught(() => store.setLifecycle('s', 'bad-alg', {})), 'ERR_SEAL_TAMPERED', {
      set: 's',
      kid: 'bad-alg',
    });
  });
});
