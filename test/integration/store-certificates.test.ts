// Certificate chains of software keys in the store (schema migration 3, key_certificates), on every
// backend: SQLite always, PostgreSQL when a server answers at PG_TEST_DSN. A chain needs its key,
// is sealed per (set, kid), fails alone when edited or moved, is re-sealed by a secret rotation and
// goes with its key; a database of schema 2 migrates. The store does not parse certificates (the key
// manager does: certificates.test.ts), so the chains here are any PEM text.
import { MIGRATIONS } from '../../lib/store/migrations';
import { type Backend, describeBackends } from './store-backends';
import { at, caught, expectStoreError, makeKey, SECRET_NEW, SECRET_OLD } from './store-helpers';

const pem = (n: number) => `-----BEGIN CERTIFICATE-----\nTUlJQ${n}\n-----END CERTIFICATE-----\n`;
const chainsOf = async (store: ReturnType<Backend['open']>, set: string) => {
  const { chains, failures } = await store.certificateChains(set);
  return { chains: Object.fromEntries(chains), failures: failures.map((f) => [f.kid, f.code]) };
};

describeBackends('certificate chains in the store', 'store_certificates_test', (b) => {
  test('a chain needs its key; it is set, read, replaced and removed', async () => {
    const store = b.open();
    await store.add([makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2))]);
    expectStoreError(await caught(() => store.setCertificateChain('s', 'nope', pem(1))), 'ERR_KEY_NOT_FOUND', {
      set: 's',
      kid: 'nope',
    });
    expect(await store.setCertificateChain('s', 'k1', pem(1))).toBe(false);
    expect(await chainsOf(store, 's')).toEqual({ chains: { k1: pem(1) }, failures: [] });
    expect(await store.setCertificateChain('s', 'k1', pem(1) + pem(2))).toBe(true);
    expect(await chainsOf(store, 's')).toEqual({ chains: { k1: pem(1) + pem(2) }, failures: [] });
    const [row] = await b.sql<{ sealed: Buffer }>('SELECT sealed FROM key_certificates WHERE kid = ?', ['k1']);
    expect(row!.sealed.includes(Buffer.from('BEGIN CERTIFICATE'))).toBe(false);
    expect(await store.setCertificateChain('s', 'k1', undefined)).toBe(true);
    expect(await store.setCertificateChain('s', 'k1', undefined)).toBe(false);
    expect(await chainsOf(store, 's')).toEqual({ chains: {}, failures: [] });
  });

  test('a chain goes with its key (deleteKey, deleteSet); replaceSet keeps the chains of the keys it keeps', async () => {
    const store = b.open();
    const [k1, k2, k3] = [makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2)), makeKey('t', 'k3', at(3))];
    await store.add([k1, k2, k3]);
    for (const k of [k1, k2, k3]) await store.setCertificateChain(k.set, k.kid, pem(1));
    await store.replaceSet('s', [k1]);
    expect(Object.keys((await chainsOf(store, 's')).chains)).toEqual(['k1']);
    await store.upsert([k1]);
    expect(Object.keys((await chainsOf(store, 's')).chains)).toEqual(['k1']);
    await store.deleteKey('s', 'k1');
    expect((await chainsOf(store, 's')).chains).toEqual({});
    await store.deleteSet('t');
    expect(await b.sql('SELECT kid FROM key_certificates')).toEqual([]);
    // A key imported again under the kid starts without the old chain.
    await store.add([k1]);
    expect((await chainsOf(store, 's')).chains).toEqual({});
  });

  test('sealed: a chain edited or moved to another key fails alone; another secret cannot open it', async () => {
    const store = b.open();
    await store.add([makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2)), makeKey('s', 'k3', at(3))]);
    await store.setCertificateChain('s', 'k1', pem(1));
    await store.setCertificateChain('s', 'k3', pem(3));
    const [row] = await b.sql<{ sealed: Buffer }>('SELECT sealed FROM key_certificates WHERE kid = ?', ['k1']);
    await b.sql('INSERT INTO key_certificates (set_name, kid, sealed) VALUES (?, ?, ?)', ['s', 'k2', row!.sealed]);
    const edited = Buffer.from(row!.sealed);
    edited[edited.length - 20]! ^= 1;
    await b.sql('UPDATE key_certificates SET sealed = ? WHERE kid = ?', [edited, 'k1']);
    expect(await chainsOf(store, 's')).toEqual({
      chains: { k3: pem(3) },
      failures: [
        ['k1', 'ERR_SEAL_TAMPERED'],
        ['k2', 'ERR_SEAL_TAMPERED'],
      ],
    });
    expect((await chainsOf(b.open([SECRET_NEW]), 's')).failures).toEqual([
      ['k1', 'ERR_SEAL_UNKNOWN_SECRET'],
      ['k2', 'ERR_SEAL_UNKNOWN_SECRET'],
      ['k3', 'ERR_SEAL_UNKNOWN_SECRET'],
    ]);
  });

  test('rotateSecrets() re-seals the chains under the new secret', async () => {
    const store = b.open();
    await store.add([makeKey('s', 'k1', at(1))]);
    await store.setCertificateChain('s', 'k1', pem(1));
    expect(await b.open([SECRET_NEW, SECRET_OLD]).rotateSecrets()).toBe(2); // the key row and its chain
    expect(await chainsOf(b.open([SECRET_NEW]), 's')).toEqual({ chains: { k1: pem(1) }, failures: [] });
  });

  test('a database of schema 2 (the previous release) migrates to 3', async () => {
    const types = b.name === 'SQLite' ? { int64: 'INTEGER', blob: 'BLOB' } : { int64: 'BIGINT', blob: 'BYTEA' };
    await b.sql(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at ${types.int64})`);
    for (const [i, migration] of MIGRATIONS.slice(0, 2).entries()) {
      for (const statement of migration(types)
        .replace(/--[^\n]*/g, '')
        .split(';'))
        if (statement.trim()) await b.sql(statement);
      await b.sql('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [i + 1, at(i).getTime()]);
    }
    const store = b.open();
    await store.add([makeKey('s', 'k1', at(1))]);
    await store.setCertificateChain('s', 'k1', pem(1));
    expect(await chainsOf(store, 's')).toEqual({ chains: { k1: pem(1) }, failures: [] });
    expect(
      (await b.sql<{ version: unknown }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) =>
        Number(r.version),
      ),
    ).toEqual([1, 2, 3]);
  });
});
