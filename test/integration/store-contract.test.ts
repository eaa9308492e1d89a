// The KeyStore contract (lib/store/key-store.ts) for rows, seals and HSM records, once, on every
// backend: SQLite always, and PostgreSQL when a server answers at PG_TEST_DSN (skipped locally
// without one; a failure under CI=true). Each test gets a fresh database. Assertions are on error
// codes. Locks and change notification: store-coordination.test.ts.
import type { StoredKey } from '../../lib/store/key-store';
import { type Backend, describeBackends } from './store-backends';
import {
  at,
  caught,
  expectNoLeak,
  expectStoreError,
  makeKey,
  SECRET_NEW,
  SECRET_OLD,
  SECRET_WRONG,
} from './store-helpers';

const kids = (keys: readonly StoredKey[]) => keys.map((k) => k.kid);

async function sealedOf(b: Backend, table: string, set: string, kid: string): Promise<Buffer> {
  const [row] = await b.sql<{ sealed: Buffer }>(`SELECT sealed FROM ${table} WHERE set_name = ? AND kid = ?`, [
    set,
    kid,
  ]);
  if (!row) throw new Error(`no row ${set}/${kid} in ${table}`);
  return row.sealed;
}

async function setColumn(
  b: Backend,
  table: string,
  set: string,
  kid: string,
  column: string,
  value: unknown,
): Promise<void> {
  await b.sql(`UPDATE ${table} SET ${column} = ? WHERE set_name = ? AND kid = ?`, [value, set, kid]);
}

/** Every row of both tables, for "nothing changed" checks. */
async function snapshot(b: Backend): Promise<unknown[]> {
  const keys = await b.sql('SELECT * FROM jwk_keys ORDER BY set_name, kid');
  const records = await b.sql('SELECT * FROM hsm_keys ORDER BY set_name, kid');
  return [...keys, ...records].map((r) => JSON.stringify(r));
}

describeBackends('the key store contract', 'store_contract_test', (b) => {
  test('keys keep every field across close and reopen; concurrent opens migrate once', async () => {
    const [one, two] = [b.open(), b.open()];
    await Promise.all([one.list(), two.list()]);
    expect(
      (await b.sql<{ version: unknown }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) =>
        Number(r.version),
      ),
    ).toEqual([1, 2, 3]);
    const keys = [
      makeKey('s', 'ec', at(1), 'ec', { activateAt: at(5), retireAt: at(50), removeAt: at(60) }),
      makeKey('s', 'rsa', at(2), 'rsa'),
      makeKey('t', 'ed', at(3), 'ed25519', { retireAt: at(4) }),
    ];
    await one.add(keys);
    await one.close();
    const again = b.open();
    for (const k of keys) expect(await again.get(k.set, k.kid)).toEqual(k);
    expect((await two.get('t', 'ed'))!.lifecycle).toEqual({ retireAt: at(4) });
    expect(await again.get('s', 'absent')).toBeUndefined();
  });

  test('add is all-or-none, naming the row that exists', async () => {
    const store = b.open();
    const first = makeKey('s', 'k1', at(1));
    await store.add([first]);
    const fresh = makeKey('s', 'k2', at(2));
    expectStoreError(await caught(() => store.add([fresh, makeKey('s', 'k1', at(3))])), 'ERR_KEY_EXISTS', {
      set: 's',
      kid: 'k1',
    });
    expectStoreError(await caught(() => store.add([fresh, makeKey('s', 'k2', at(4))])), 'ERR_KEY_EXISTS', {
      set: 's',
      kid: 'k2',
    });
    expect(await store.get('s', 'k2')).toBeUndefined();
    expect(await store.get('s', 'k1')).toEqual(first);
    expect(kids((await store.getSet('s')).keys)).toEqual(['k1']);
  });

  test('upsert replaces and inserts; replaceSet swaps a whole set, or nothing', async () => {
    const store = b.open();
    const other = makeKey('other', 'o1', at(0));
    await store.add([makeKey('s', 'k1', at(1), 'ec', { retireAt: at(9) }), makeKey('s', 'k2', at(2)), other]);
    const replacement = makeKey('s', 'k1', at(5), 'ed25519', { activateAt: at(6) });
    const added = makeKey('s', 'k3', at(3));
    await store.upsert([replacement, added]);
    expect(await store.get('s', 'k1')).toEqual(replacement);
    expect(await store.get('s', 'k3')).toEqual(added);
    expect(kids((await store.getSet('s')).keys)).toEqual(['k1', 'k3', 'k2']);

    const next = [makeKey('s', 'n1', at(7)), makeKey('s', 'k2', at(8))];
    await store.replaceSet('s', next);
    expect((await store.getSet('s')).keys).toEqual([next[1], next[0]]);
    expect(await store.get('other', 'o1')).toEqual(other);
    expectStoreError(
      await caught(() => store.replaceSet('s', [makeKey('s', 'x', at(1)), makeKey('s', 'x', at(2))])),
      'ERR_KEY_EXISTS',
      { set: 's', kid: 'x' },
    );
    expect(kids((await store.getSet('s')).keys)).toEqual(['k2', 'n1']);
    expect(
      ((await caught(() => store.replaceSet('s', [makeKey('elsewhere', 'e', at(1))]))) as { code?: string }).code,
    ).toBe('ERR_INVALID_ARG_VALUE');
    await store.replaceSet('s', []);
    expect((await store.getSet('s')).keys).toEqual([]);
  });

  test('getSet and list order newest first (kid descending on ties); deletes report what they did', async () => {
    const store = b.open();
    await store.add([
      makeKey('b', 'old', at(1)),
      makeKey('b', 'new', at(9)),
      makeKey('b', 'tie-a', at(5)),
      makeKey('b', 'tie-b', at(5)),
      makeKey('a', 'a1', at(2)),
      makeKey('a', 'a2', at(3)),
    ]);
    const { keys, failures } = await store.getSet('b');
    expect(failures).toEqual([]);
    expect(kids(keys)).toEqual(['new', 'tie-b', 'tie-a', 'old']);
    expect((await store.getSet('empty')).keys).toEqual([]);
    const list = await store.list();
    expect(list.map((r) => `${r.set}/${r.kid}`)).toEqual(['a/a2', 'a/a1', 'b/new', 'b/tie-b', 'b/tie-a', 'b/old']);
    expect(list[0]).toEqual({ set: 'a', kid: 'a2', alg: 'ES256', use: 'sig', createdAt: at(3) });

    expect(await store.deleteKey('b', 'old')).toBe(true);
    expect(await store.deleteKey('b', 'old')).toBe(false);
    expect(await store.deleteKey('nope', 'a1')).toBe(false);
    expect(await store.deleteSet('b')).toBe(3);
    expect(await store.deleteSet('b')).toBe(0);
    expect(kids((await store.getSet('a')).keys)).toEqual(['a2', 'a1']);
  });

  test('rotation: rows open under [new, old], are re-sealed with HSM records, then [new] alone opens all', async () => {
    const keys = [
      makeKey('s', 'k1', at(1)),
      makeKey('s', 'k2', at(2), 'ec', { retireAt: at(3) }),
      makeKey('t', 'k3', at(3)),
    ];
    const record = {
      set: 'h',
      kid: 'hk',
      alg: 'RS384',
      use: 'sig' as const,
      createdAt: at(4),
      lifecycle: { activateAt: at(5) },
    };
    let store = b.open([SECRET_OLD]);
    await store.add(keys);
    await store.recordHsmKey(record);
    await store.close();

    store = b.open([SECRET_NEW, SECRET_OLD]);
    for (const k of keys) expect(await store.get(k.set, k.kid)).toEqual(k);
    const fresh = makeKey('t', 'k4', at(4));
    await store.add([fresh]); // sealed with the new secret already
    expect(await store.rotateSecrets()).toBe(4);
    expect(await store.rotateSecrets()).toBe(0);

    store = b.open([SECRET_NEW]);
    expect(await store.getSet('s')).toEqual({ keys: [keys[1], keys[0]], failures: [] });
    expect(await store.getSet('t')).toEqual({ keys: [fresh, keys[2]], failures: [] });
    expect(await store.hsmKeys('h')).toEqual({ records: [{ ...record, sealed: true }], failures: [] });

    store = b.open([SECRET_OLD]);
    const { keys: opened, failures } = await store.getSet('s');
    expect(opened).toEqual([]);
    expect(failures.map((x) => [x.kid, x.code])).toEqual([
      ['k2', 'ERR_SEAL_UNKNOWN_SECRET'],
      ['k1', 'ERR_SEAL_UNKNOWN_SECRET'],
    ]);
    expect((await store.hsmKeys('h')).failures.map((x) => [x.kid, x.code])).toEqual([
      ['hk', 'ERR_SEAL_UNKNOWN_SECRET'],
    ]);
  });

  test('only a wrong secret: every row reported, metadata still listed, rotation refused without a change', async () => {
    await b.open([SECRET_OLD]).add([makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2))]);
    const store = b.open([SECRET_WRONG]);
    const { keys, failures } = await store.getSet('s');
    expect(keys).toEqual([]);
    expect(failures.map((x) => [x.set, x.kid, x.code])).toEqual([
      ['s', 'k2', 'ERR_SEAL_UNKNOWN_SECRET'],
      ['s', 'k1', 'ERR_SEAL_UNKNOWN_SECRET'],
    ]);
    for (const x of failures) expectNoLeak(x);
    expectStoreError(await caught(() => store.get('s', 'k1')), 'ERR_SEAL_UNKNOWN_SECRET', { set: 's', kid: 'k1' });
    expect((await store.list()).map((r) => r.kid)).toEqual(['k2', 'k1']);
    const before = await snapshot(b);
    expectStoreError(await caught(() => store.rotateSecrets()), 'ERR_SEAL_UNKNOWN_SECRET');
    expect(await snapshot(b)).toEqual(before);
  });

  test('a tampered envelope fails alone, and aborts a rotation without changing anything', async () => {
    const keys = [makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2)), makeKey('s', 'k3', at(3))];
    await b.open().add(keys);
    const sealed = await sealedOf(b, 'jwk_keys', 's', 'k2');
    sealed[30]! ^= 0x80;
    await setColumn(b, 'jwk_keys', 's', 'k2', 'sealed', sealed);

    const store = b.open([SECRET_NEW, SECRET_OLD]);
    const result = await store.getSet('s');
    expect(result.keys).toEqual([keys[2], keys[0]]);
    expect(result.failures).toEqual([expect.objectContaining({ set: 's', kid: 'k2', code: 'ERR_SEAL_TAMPERED' })]);
    expect(result.failures[0]!.message).toContain('k2');
    expectStoreError(await caught(() => store.get('s', 'k2')), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'k2' });
    const before = await snapshot(b);
    expectStoreError(await caught(() => store.rotateSecrets()), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'k2' });
    expect(await snapshot(b)).toEqual(before);
  });

  test('rows whose envelopes are swapped, or moved to another set, fail', async () => {
    const keys = [makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2)), makeKey('s', 'k3', at(3))];
    const store = b.open();
    await store.add([...keys, makeKey('u', 'k1', at(1))]);
    const [one, two] = [await sealedOf(b, 'jwk_keys', 's', 'k1'), await sealedOf(b, 'jwk_keys', 's', 'k2')];
    await setColumn(b, 'jwk_keys', 's', 'k1', 'sealed', two);
    await setColumn(b, 'jwk_keys', 's', 'k2', 'sealed', one);
    await setColumn(b, 'jwk_keys', 'u', 'k1', 'sealed', one);
    const { keys: opened, failures } = await store.getSet('s');
    expect(opened).toEqual([keys[2]]);
    expect(failures.map((x) => [x.kid, x.code])).toEqual([
      ['k2', 'ERR_SEAL_TAMPERED'],
      ['k1', 'ERR_SEAL_TAMPERED'],
    ]);
    expectStoreError(await caught(() => store.get('u', 'k1')), 'ERR_SEAL_TAMPERED', { set: 'u', kid: 'k1' });
  });

  // Every column that decides behaviour is under the seal: an SQL edit without a secret fails
  // that row alone, naming it; the other rows of the set still open.
  test.each([
    ['alg', 'ES384'],
    ['"use"', 'enc'],
    ['created_at', at(1).getTime() + 1],
    ['activate_at', at(30).getTime()],
    ['retire_at', null],
    ['remove_at', at(99).getTime()],
  ])('editing %s of a row fails it alone with ERR_SEAL_TAMPERED', async (column, value) => {
    const edited = makeKey('s', 'edited', at(1), 'ec', { retireAt: at(20), removeAt: at(40) });
    const others = [makeKey('s', 'k2', at(2)), makeKey('s', 'k3', at(3), 'ec', { activateAt: at(4) })];
    const store = b.open();
    await store.add([edited, ...others]);
    expect((await store.getSet('s')).failures).toEqual([]);
    await setColumn(b, 'jwk_keys', 's', 'edited', column, value);
    const { keys, failures } = await store.getSet('s');
    expect(keys).toEqual([others[1], others[0]]);
    expect(failures).toEqual([expect.objectContaining({ set: 's', kid: 'edited', code: 'ERR_SEAL_TAMPERED' })]);
    expectStoreError(await caught(() => store.get('s', 'edited')), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'edited' });
    expectStoreError(await caught(() => store.setLifecycle('s', 'edited', {})), 'ERR_SEAL_TAMPERED', {
      set: 's',
      kid: 'edited',
    });
  });

  test('setLifecycle re-seals the row with its new lifecycle', async () => {
    const store = b.open();
    const key = makeKey('s', 'k', at(1), 'ec', { activateAt: at(2) });
    await store.add([key, makeKey('s', 'other', at(2))]);
    const before = await sealedOf(b, 'jwk_keys', 's', 'k');
    const lifecycle = { activateAt: at(3), retireAt: at(10), removeAt: at(20) };
    await store.setLifecycle('s', 'k', lifecycle);
    expect(await b.open().get('s', 'k')).toEqual({ ...key, lifecycle });
    expect((await sealedOf(b, 'jwk_keys', 's', 'k')).equals(before)).toBe(false);
    await store.setLifecycle('s', 'k', {});
    expect((await store.get('s', 'k'))!.lifecycle).toEqual({});
    // Putting the previous envelope back (a replay of the older lifecycle) does not open.
    await setColumn(b, 'jwk_keys', 's', 'k', 'sealed', before);
    expectStoreError(await caught(() => store.get('s', 'k')), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'k' });

    expectStoreError(await caught(() => store.setLifecycle('s', 'absent', {})), 'ERR_KEY_NOT_FOUND', {
      set: 's',
      kid: 'absent',
    });
    const bad = await caught(() => store.setLifecycle('s', 'other', { retireAt: new Date(NaN) }));
    expect((bad as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((await store.get('s', 'other'))!.lifecycle).toEqual({});
  });

  test('HSM records: sealed and verified, legacy rows read as legacy, a bad record reported alone', async () => {
    const store = b.open();
    const r1 = { set: 'h', kid: 'r1', alg: 'PS256', use: 'sig' as const, createdAt: at(1), lifecycle: {} };
    const r2 = {
      set: 'h',
      kid: 'r2',
      alg: 'RSA-OAEP-256',
      use: 'enc' as const,
      createdAt: at(2),
      lifecycle: { activateAt: at(3), retireAt: at(4), removeAt: at(5) },
    };
    await store.recordHsmKey(r1);
    await store.recordHsmKey(r2);
    await store.recordHsmKey({ set: 'i', kid: 'r3', alg: 'ES256', use: 'sig', createdAt: at(3), lifecycle: {} });
    expect(await b.open().hsmKeys('h')).toEqual({
      records: [
        { ...r2, sealed: true },
        { ...r1, sealed: true },
      ],
      failures: [],
    });
    const replaced = { ...r1, alg: 'PS512', createdAt: at(9) };
    await store.recordHsmKey(replaced);
    expect((await store.hsmKeys('h')).records[0]).toEqual({ ...replaced, sealed: true });

    // A legacy row (written before records were sealed): its newer columns are not believed.
    await b.sql('INSERT INTO hsm_keys (set_name, kid, created_at, alg, "use", retire_at) VALUES (?, ?, ?, ?, ?, ?)', [
      'h',
      'old',
      at(0).getTime(),
      'RS384',
      'enc',
      at(1).getTime(),
    ]);
    // Edited columns, and a key row's envelope moved into a record, fail alone.
    await setColumn(b, 'hsm_keys', 'h', 'r2', 'alg', 'RS256');
    await store.add([makeKey('h', 'r3', at(1))]);
    await b.sql('INSERT INTO hsm_keys (set_name, kid, created_at, alg, "use", sealed) VALUES (?, ?, ?, ?, ?, ?)', [
      'h',
      'moved',
      at(1).getTime(),
      'ES256',
      'sig',
      await sealedOf(b, 'jwk_keys', 'h', 'r3'),
    ]);
    const { records, failures } = await store.hsmKeys('h');
    expect(records).toEqual([
      { ...replaced, sealed: true },
      { set: 'h', kid: 'old', alg: 'RS384', use: 'sig', createdAt: at(0), lifecycle: {}, sealed: false },
    ]);
    expect(failures.map((f) => [f.set, f.kid, f.code])).toEqual([
      ['h', 'r2', 'ERR_SEAL_TAMPERED'],
      ['h', 'moved', 'ERR_SEAL_TAMPERED'],
    ]);
    for (const f of failures) expectNoLeak(f);

    expect(await store.hsmRecordSets()).toEqual(['h', 'i']);
    await store.forgetHsmKey('i', 'r3');
    await store.forgetHsmKey('i', 'r3'); // absent: nothing to do
    expect(await store.hsmRecordSets()).toEqual(['h']);
    expect(await store.hsmKeys('i')).toEqual({ records: [], failures: [] });
  });

  test('setsWithKid: sets with a key row or an HSM record of that kid', async () => {
    const store = b.open();
    await store.add([makeKey('b', 'shared', at(1)), makeKey('a', 'shared', at(1)), makeKey('c', 'other', at(1))]);
    await store.recordHsmKey({ set: 'd', kid: 'shared', alg: 'ES256', use: 'sig', createdAt: at(1), lifecycle: {} });
    await store.recordHsmKey({ set: 'a', kid: 'shared', alg: 'ES256', use: 'sig', createdAt: at(1), lifecycle: {} });
    expect(await store.setsWithKid('shared')).toEqual(['a', 'b', 'd']);
    expect(await store.setsWithKid('other')).toEqual(['c']);
    expect(await store.setsWithKid('none')).toEqual([]);
  });

  test('a closed store refuses every call with ERR_CLOSED', async () => {
    const store = b.open();
    await store.list();
    await store.close();
    await store.close(); // twice is fine
    const calls: Array<() => Promise<unknown>> = [
      () => store.add([]),
      () => store.get('s', 'k'),
      () => store.getSet('s'),
      () => store.list(),
      () => store.setsWithKid('k'),
      () => store.rotateSecrets(),
      () => store.resealLegacyRows(),
      () => store.hsmKeys('s'),
      () => store.touch('s'),
      () => store.withLock('l', async () => 1),
      () => store.setLifecycle('s', 'k', {}),
      () => store.deleteSet('s'),
    ];
    for (const call of calls) expect(((await caught(call)) as { code?: string }).code).toBe('ERR_CLOSED');
  });
});
