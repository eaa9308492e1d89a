// The AES-GCM sealed software key store: sealing envelopes, the SQLite backend (persistence,
// transactions, ordering, rotation, tampering) and DSN parsing. Assertions are on error codes.
import { createDecipheriv, hkdfSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { StoredKey } from '../../lib/store/key-store';
import { DEFAULT_DSN, openKeyStore, parseDsn } from '../../lib/store/open-store';
import { Sealer } from '../../lib/store/sealing';
import { SqliteKeyStore } from '../../lib/store/sqlite-store';
import {
  at, caught, expectNoLeak, expectStoreError, makeKey, raw, SECRET_NEW, SECRET_OLD, SECRET_WRONG, sealedOf, setSealed,
} from './store-helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-store-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ROW = { set: 'set-a', kid: 'kid-1' };
const file = (name: string) => path.join(dir, name);
const kids = (keys: readonly StoredKey[]) => keys.map((k) => k.kid);

describe('Sealer', () => {
  const plaintext = Buffer.from('{"kty":"EC","d":"private"}');

  test('seal/open round trip, with the documented envelope layout', () => {
    const sealer = new Sealer([SECRET_OLD]);
    const env = sealer.seal(plaintext, ROW);
    expect(env[0]).toBe(0x01);
    const id = Buffer.from(hkdfSync('sha256', SECRET_OLD, 'hsm-jwks/sealing', 'secret id v1', 8));
    expect(env.subarray(1, 9).equals(id)).toBe(true);
    expect(env.length).toBe(1 + 8 + 12 + plaintext.length + 16);
    expect(sealer.open(env, ROW).equals(plaintext)).toBe(true);
    expect(sealer.sealedWithCurrent(env)).toBe(true);
    // Random nonces: sealing twice gives different envelopes.
    expect(sealer.seal(plaintext, ROW).equals(env)).toBe(false);
  });

  test('an independent AES-256-GCM decryption with the documented key and AAD opens it', () => {
    const env = new Sealer([SECRET_OLD]).seal(plaintext, ROW);
    const key = Buffer.from(hkdfSync('sha256', SECRET_OLD, 'hsm-jwks/sealing', 'aes-256-gcm key v1', 32));
    const d = createDecipheriv('aes-256-gcm', key, env.subarray(9, 21));
    d.setAAD(Buffer.concat([Buffer.from([1]), Buffer.from(JSON.stringify(['hsm-jwks/key-row/v1', ROW.set, ROW.kid]))]));
    d.setAuthTag(env.subarray(env.length - 16));
    expect(Buffer.concat([d.update(env.subarray(21, env.length - 16)), d.final()]).equals(plaintext)).toBe(true);
  });

  test('the AAD binds the row; bad envelopes and unknown secrets are refused', async () => {
    const sealer = new Sealer([SECRET_OLD]);
    const env = sealer.seal(plaintext, ROW);
    expectStoreError(await caught(() => sealer.open(env, { set: 'set-a', kid: 'kid-2' })), 'ERR_SEAL_TAMPERED', { set: 'set-a', kid: 'kid-2' });
    expectStoreError(await caught(() => sealer.open(env, { set: 'set-b', kid: 'kid-1' })), 'ERR_SEAL_TAMPERED');
    const flipped = Buffer.from(env);
    flipped[25]! ^= 0x01;
    expectStoreError(await caught(() => sealer.open(flipped, ROW)), 'ERR_SEAL_TAMPERED', ROW);
    expectStoreError(await caught(() => sealer.open(env.subarray(0, 36), ROW)), 'ERR_SEAL_FORMAT', ROW);
    const v2 = Buffer.from(env);
    v2[0] = 0x02;
    expectStoreError(await caught(() => sealer.open(v2, ROW)), 'ERR_SEAL_FORMAT', ROW);
    expectStoreError(await caught(() => new Sealer([SECRET_WRONG]).open(env, ROW)), 'ERR_SEAL_UNKNOWN_SECRET', ROW);
  });

  test('any listed secret opens; only the first seals', () => {
    const old = new Sealer([SECRET_OLD]).seal(plaintext, ROW);
    const both = new Sealer([SECRET_NEW, SECRET_OLD]);
    expect(both.open(old, ROW).equals(plaintext)).toBe(true);
    expect(both.sealedWithCurrent(old)).toBe(false);
    const fresh = both.seal(plaintext, ROW);
    expect(both.sealedWithCurrent(fresh)).toBe(true);
    expect(new Sealer([SECRET_NEW]).open(fresh, ROW).equals(plaintext)).toBe(true);
  });

  test('an empty list and short secrets are refused without showing them', async () => {
    expectStoreError(await caught(() => new Sealer([])), 'ERR_SECRET_MISSING');
    expectStoreError(await caught(() => new Sealer(['fifteen-chars!!'])), 'ERR_SECRET_TOO_SHORT');
    const e = await caught(() => new Sealer([SECRET_OLD, 'short-secret']));
    expectStoreError(e, 'ERR_SECRET_TOO_SHORT');
    expect((e as Error).message).not.toContain('short-secret');
    expect(() => new Sealer(['sixteen-chars!!!'])).not.toThrow();
  });
});

describe('SqliteKeyStore', () => {
  test('persists keys, HSM key times and its schema across close and reopen', async () => {
    const f = path.join(dir, 'nested', 'deeper', 'persist.sqlite');
    const keys = [makeKey('s', 'ec', at(1)), makeKey('s', 'rsa', at(2), 'rsa'), makeKey('t', 'ed', at(3), 'ed25519')];
    let store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    await store.add(keys);
    await store.recordHsmKey('s', 'hsm-1', { createdAt: at(10), alg: 'RS384' });
    await store.recordHsmKey('s', 'hsm-2', { createdAt: at(11), alg: 'ES256' });
    await store.recordHsmKey('t', 'hsm-3', { createdAt: at(12), alg: 'EdDSA' });
    await store.close();
    const migrations = raw(f, (db) => db.prepare('SELECT version, applied_at FROM schema_migrations').all());
    expect(migrations).toHaveLength(1);
    expect(raw(f, (db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');

    store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    for (const k of keys) expect(await store.get(k.set, k.kid)).toEqual(k);
    expect(await store.hsmKeys('s')).toEqual(new Map([['hsm-1', { createdAt: at(10), alg: 'RS384' }], ['hsm-2', { createdAt: at(11), alg: 'ES256' }]]));
    await store.recordHsmKey('s', 'hsm-1', { createdAt: at(20), alg: 'PS512' });
    await store.forgetHsmKey('s', 'hsm-2');
    await store.close();
    expect(raw(f, (db) => db.prepare('SELECT version, applied_at FROM schema_migrations').all())).toEqual(migrations);

    store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    expect(await store.hsmKeys('s')).toEqual(new Map([['hsm-1', { createdAt: at(20), alg: 'PS512' }]]));
    expect(await store.hsmKeys('nope')).toEqual(new Map());
    await store.close();
    expect(((await caught(() => store.get('s', 'ec'))) as { code?: string }).code).toBe('ERR_CLOSED');
  });

  test('add is all-or-none; get of an absent key is undefined', async () => {
    const store = SqliteKeyStore.open(':memory:', new Sealer([SECRET_OLD]));
    const first = makeKey('s', 'k1', at(1));
    await store.add([first]);
    const fresh = makeKey('s', 'k2', at(2));
    expectStoreError(await caught(() => store.add([fresh, makeKey('s', 'k1', at(3))])), 'ERR_KEY_EXISTS', { set: 's', kid: 'k1' });
    expectStoreError(await caught(() => store.add([fresh, makeKey('s', 'k2', at(4))])), 'ERR_KEY_EXISTS', { set: 's', kid: 'k2' });
    expect(await store.get('s', 'k2')).toBeUndefined();
    expect(await store.get('s', 'k1')).toEqual(first);
    expect(kids((await store.getSet('s')).keys)).toEqual(['k1']);
    await store.close();
  });

  test('upsert replaces and inserts; replaceSet swaps a whole set', async () => {
    const store = SqliteKeyStore.open(':memory:', new Sealer([SECRET_OLD]));
    const other = makeKey('other', 'o1', at(0));
    await store.add([makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2)), other]);
    const replacement = makeKey('s', 'k1', at(5), 'ed25519');
    const added = makeKey('s', 'k3', at(3));
    await store.upsert([replacement, added]);
    expect(await store.get('s', 'k1')).toEqual(replacement);
    expect(await store.get('s', 'k3')).toEqual(added);
    expect(kids((await store.getSet('s')).keys)).toEqual(['k1', 'k3', 'k2']);

    const next = [makeKey('s', 'n1', at(7)), makeKey('s', 'k2', at(8))];
    await store.replaceSet('s', next);
    expect((await store.getSet('s')).keys).toEqual([next[1], next[0]]);
    expect(await store.get('other', 'o1')).toEqual(other);
    // A kid twice in the new set fails the whole replacement.
    expectStoreError(await caught(() => store.replaceSet('s', [makeKey('s', 'x', at(1)), makeKey('s', 'x', at(2))])), 'ERR_KEY_EXISTS', { set: 's', kid: 'x' });
    expect(kids((await store.getSet('s')).keys)).toEqual(['k2', 'n1']);
    await store.replaceSet('s', []);
    expect((await store.getSet('s')).keys).toEqual([]);
    await store.close();
  });

  test('getSet and list order newest first (kid descending on ties); deletes report what they did', async () => {
    const store = SqliteKeyStore.open(':memory:', new Sealer([SECRET_OLD]));
    await store.add([
      makeKey('b', 'old', at(1)), makeKey('b', 'new', at(9)), makeKey('b', 'tie-a', at(5)), makeKey('b', 'tie-b', at(5)),
      makeKey('a', 'a1', at(2)), makeKey('a', 'a2', at(3)),
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
    await store.close();
  });

  test('rotation: old rows open under [new, old], are re-sealed, then [new] alone opens all', async () => {
    const f = file('rotate.sqlite');
    const keys = [makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2)), makeKey('t', 'k3', at(3), 'rsa')];
    let store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    await store.add(keys);
    await store.close();

    store = SqliteKeyStore.open(f, new Sealer([SECRET_NEW, SECRET_OLD]));
    for (const k of keys) expect(await store.get(k.set, k.kid)).toEqual(k);
    const fresh = makeKey('t', 'k4', at(4));
    await store.add([fresh]); // sealed with the new secret already
    expect(await store.rotateSecrets()).toBe(3);
    expect(await store.rotateSecrets()).toBe(0);
    await store.close();

    store = SqliteKeyStore.open(f, new Sealer([SECRET_NEW]));
    expect(await store.getSet('s')).toEqual({ keys: [keys[1], keys[0]], failures: [] });
    expect(await store.getSet('t')).toEqual({ keys: [fresh, keys[2]], failures: [] });
    await store.close();

    store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    const { keys: opened, failures } = await store.getSet('s');
    expect(opened).toEqual([]);
    expect(failures.map((x) => [x.kid, x.code])).toEqual([['k2', 'ERR_SEAL_UNKNOWN_SECRET'], ['k1', 'ERR_SEAL_UNKNOWN_SECRET']]);
    await store.close();
  });

  test('a store with only a wrong secret reports every row, still lists metadata, and cannot rotate', async () => {
    const f = file('wrong.sqlite');
    let store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    await store.add([makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2))]);
    await store.close();
    store = SqliteKeyStore.open(f, new Sealer([SECRET_WRONG]));
    const { keys, failures } = await store.getSet('s');
    expect(keys).toEqual([]);
    expect(failures.map((x) => [x.set, x.kid, x.code])).toEqual([['s', 'k2', 'ERR_SEAL_UNKNOWN_SECRET'], ['s', 'k1', 'ERR_SEAL_UNKNOWN_SECRET']]);
    for (const x of failures) expectNoLeak(x);
    expectStoreError(await caught(() => store.get('s', 'k1')), 'ERR_SEAL_UNKNOWN_SECRET', { set: 's', kid: 'k1' });
    expect((await store.list()).map((r) => r.kid)).toEqual(['k2', 'k1']);
    const before = sealedOf(f, 's', 'k1');
    expectStoreError(await caught(() => store.rotateSecrets()), 'ERR_SEAL_UNKNOWN_SECRET');
    expect(sealedOf(f, 's', 'k1').equals(before)).toBe(true);
    await store.close();
  });

  test('a tampered row fails alone, and aborts a rotation without changing anything', async () => {
    const f = file('tamper.sqlite');
    const keys = [makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2)), makeKey('s', 'k3', at(3))];
    let store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    await store.add(keys);
    await store.close();
    const sealed = sealedOf(f, 's', 'k2');
    sealed[30]! ^= 0x80;
    setSealed(f, 's', 'k2', sealed);

    store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    const result = await store.getSet('s');
    expect(result.keys).toEqual([keys[2], keys[0]]);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({ set: 's', kid: 'k2', code: 'ERR_SEAL_TAMPERED' });
    expect(result.failures[0]!.message).toContain('k2');
    expectStoreError(await caught(() => store.get('s', 'k2')), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'k2' });
    await store.close();

    const snapshot = () => raw(f, (db) => db.prepare('SELECT kid, sealed FROM jwk_keys ORDER BY kid').all());
    const before = snapshot();
    store = SqliteKeyStore.open(f, new Sealer([SECRET_NEW, SECRET_OLD]));
    expectStoreError(await caught(() => store.rotateSecrets()), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'k2' });
    await store.close();
    expect(snapshot()).toEqual(before);
  });

  test('rows whose sealed blobs are swapped both fail', async () => {
    const f = file('swap.sqlite');
    const keys = [makeKey('s', 'k1', at(1)), makeKey('s', 'k2', at(2)), makeKey('s', 'k3', at(3))];
    let store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    await store.add(keys);
    await store.close();
    const [one, two] = [sealedOf(f, 's', 'k1'), sealedOf(f, 's', 'k2')];
    setSealed(f, 's', 'k1', two);
    setSealed(f, 's', 'k2', one);

    store = SqliteKeyStore.open(f, new Sealer([SECRET_OLD]));
    const { keys: opened, failures } = await store.getSet('s');
    expect(opened).toEqual([keys[2]]);
    expect(failures.map((x) => [x.kid, x.code])).toEqual([['k2', 'ERR_SEAL_TAMPERED'], ['k1', 'ERR_SEAL_TAMPERED']]);
    expectStoreError(await caught(() => store.get('s', 'k1')), 'ERR_SEAL_TAMPERED', { set: 's', kid: 'k1' });
    await store.close();
  });
});

describe('openKeyStore', () => {
  test('sqlite DSNs: relative to the current directory, absolute, and in memory', async () => {
    expect(DEFAULT_DSN).toBe('sqlite://data/hsm-jwks.sqlite');
    expect(parseDsn(DEFAULT_DSN)).toEqual({ kind: 'sqlite', path: path.resolve('data/hsm-jwks.sqlite') });
    expect(parseDsn('sqlite:///var/x.sqlite')).toEqual({ kind: 'sqlite', path: '/var/x.sqlite' });
    expect(parseDsn('sqlite://:memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });

    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const store = openKeyStore('sqlite://rel/store.sqlite', [SECRET_OLD]);
      await store.add([makeKey('s', 'k', at(1))]);
      await store.close();
    } finally {
      process.chdir(cwd);
    }
    expect(fs.existsSync(path.join(dir, 'rel', 'store.sqlite'))).toBe(true);

    const abs = file('abs/store.sqlite');
    const key = makeKey('s', 'k', at(1));
    let store = openKeyStore(`sqlite://${abs}`, [SECRET_OLD]);
    await store.add([key]);
    await store.close();
    store = openKeyStore(`sqlite://${abs}`, [SECRET_NEW, SECRET_OLD]);
    expect(await store.get('s', 'k')).toEqual(key);
    await store.close();

    store = openKeyStore('sqlite://:memory:', [SECRET_OLD]);
    await store.add([key]);
    expect(await store.get('s', 'k')).toEqual(key);
    await store.close();
  });

  test.each([
    'postgres:///hunter2-password-but-no-host',
    'postgresql:user:hunter2-password@db.example/keys',
    'mysql://db.example/keys',
    'garbage',
    '',
    'sqlite:relative.sqlite',
    'sqlite://',
    'sqlite://x.sqlite?mode=ro',
  ])('%j is refused with ERR_STORE_DSN', async (dsn) => {
    const e = await caught(() => openKeyStore(dsn, [SECRET_OLD]));
    expectStoreError(e, 'ERR_STORE_DSN');
    expect((e as Error).message).not.toContain('hunter2');
  });

  test('secrets are checked', async () => {
    expectStoreError(await caught(() => openKeyStore('sqlite://:memory:', [])), 'ERR_SECRET_MISSING');
    expectStoreError(await caught(() => openKeyStore('sqlite://:memory:', ['too-short'])), 'ERR_SECRET_TOO_SHORT');
  });
});
