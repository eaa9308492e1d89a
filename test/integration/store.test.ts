// The sealing envelope (layout, AAD, secrets), the documented v2 format checked by an independent
// decryption of what the store writes, SQLite file handling, and DSN parsing. The contract itself
// runs on every backend in store-contract.test.ts. Assertions are on error codes.
import { createDecipheriv, hkdfSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { hsmRecordAad, keyRowAadV1, keyRowAadV2 } from '../../lib/store/aad';
import { DEFAULT_DSN, openKeyStore, parseDsn } from '../../lib/store/open-store';
import { ENVELOPE_V2, Sealer } from '../../lib/store/sealing';
import { at, caught, expectStoreError, makeKey, raw, SECRET_NEW, SECRET_OLD, SECRET_WRONG } from './store-helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-store-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ROW = { set: 'set-a', kid: 'kid-1' };
const file = (name: string) => path.join(dir, name);
const derive = (secret: string, info: string, n: number) =>
  Buffer.from(hkdfSync('sha256', secret, 'hsm-jwks/sealing', info, n));

/** AES-256-GCM decryption written from the documentation alone. */
function openIndependently(secret: string, envelope: Buffer, aad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', derive(secret, 'aes-256-gcm key v1', 32), envelope.subarray(9, 21));
  d.setAAD(aad);
  d.setAuthTag(envelope.subarray(envelope.length - 16));
  return Buffer.concat([d.update(envelope.subarray(21, envelope.length - 16)), d.final()]);
}

describe('Sealer', () => {
  const plaintext = Buffer.from('{"kty":"EC","d":"private"}');
  const aad = Buffer.from('some row');
  const aadFor = () => aad;

  test('seal/open round trip, with the documented envelope layout', () => {
    const sealer = new Sealer([SECRET_OLD]);
    const env = sealer.seal(plaintext, ENVELOPE_V2, aad);
    expect(env[0]).toBe(0x02);
    expect(env.subarray(1, 9).equals(derive(SECRET_OLD, 'secret id v1', 8))).toBe(true);
    expect(env.length).toBe(1 + 8 + 12 + plaintext.length + 16);
    const opened = sealer.open(env, aadFor, ROW);
    expect(opened.version).toBe(2);
    expect(opened.plaintext.equals(plaintext)).toBe(true);
    expect(sealer.sealedWithCurrent(env)).toBe(true);
    expect(openIndependently(SECRET_OLD, env, aad).equals(plaintext)).toBe(true);
    // Random nonces: sealing twice gives different envelopes.
    expect(sealer.seal(plaintext, ENVELOPE_V2, aad).equals(env)).toBe(false);
  });

  test('the AAD is authenticated; bad envelopes and unknown secrets are refused', async () => {
    const sealer = new Sealer([SECRET_OLD]);
    const env = sealer.seal(plaintext, ENVELOPE_V2, aad);
    expectStoreError(
      await caught(() => sealer.open(env, () => Buffer.from('another row'), ROW)),
      'ERR_SEAL_TAMPERED',
      ROW,
    );
    const flipped = Buffer.from(env);
    flipped[25]! ^= 0x01;
    expectStoreError(await caught(() => sealer.open(flipped, aadFor, ROW)), 'ERR_SEAL_TAMPERED', ROW);
    expectStoreError(await caught(() => sealer.open(env.subarray(0, 36), aadFor, ROW)), 'ERR_SEAL_FORMAT', ROW);
    const v3 = Buffer.from(env);
    v3[0] = 0x03;
    expectStoreError(await caught(() => sealer.open(v3, aadFor, ROW)), 'ERR_SEAL_FORMAT', ROW);
    // The version byte selects the AAD: a v2 envelope relabelled v1 is checked against the v1 AAD.
    const relabelled = Buffer.from(env);
    relabelled[0] = 0x01;
    expectStoreError(
      await caught(() => sealer.open(relabelled, (v) => (v === 1 ? keyRowAadV1(ROW) : aad), ROW)),
      'ERR_SEAL_TAMPERED',
      ROW,
    );
    expectStoreError(
      await caught(() => new Sealer([SECRET_WRONG]).open(env, aadFor, ROW)),
      'ERR_SEAL_UNKNOWN_SECRET',
      ROW,
    );
  });

  test('any listed secret opens; only the first seals', () => {
    const old = new Sealer([SECRET_OLD]).seal(plaintext, ENVELOPE_V2, aad);
    const both = new Sealer([SECRET_NEW, SECRET_OLD]);
    expect(both.open(old, aadFor, ROW).plaintext.equals(plaintext)).toBe(true);
    expect(both.sealedWithCurrent(old)).toBe(false);
    const fresh = both.seal(plaintext, ENVELOPE_V2, aad);
    expect(both.sealedWithCurrent(fresh)).toBe(true);
    expect(new Sealer([SECRET_NEW]).open(fresh, aadFor, ROW).plaintext.equals(plaintext)).toBe(true);
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

describe('the documented v2 formats, read back from what the store wrote', () => {
  const cols = 'set_name, kid, alg, "use", created_at, activate_at, retire_at, remove_at, sealed';
  interface Row {
    set_name: string;
    kid: string;
    alg: string;
    use: string;
    created_at: number;
    activate_at: number | null;
    retire_at: number | null;
    remove_at: number | null;
    sealed: Buffer;
  }

  test('a key row: 0x02 ‖ JSON ["hsm-jwks/key-row/v2", set, kid, alg, use, createdAt, activateAt, retireAt, removeAt]', async () => {
    const f = file('format.sqlite');
    const key = makeKey('fmt', 'k1', at(1), 'ec', { activateAt: at(2), removeAt: at(9) });
    const store = openKeyStore(`sqlite://${f}`, [SECRET_OLD]);
    await store.add([key]);
    await store.recordHsmKey({
      set: 'fmt',
      kid: 'h1',
      alg: 'PS256',
      use: 'sig',
      createdAt: at(3),
      lifecycle: { retireAt: at(4) },
    });
    await store.close();

    const row = raw(f, (db) => db.prepare(`SELECT ${cols} FROM jwk_keys`).get()) as Row;
    expect(row).toMatchObject({
      alg: 'ES256',
      use: 'sig',
      created_at: at(1).getTime(),
      activate_at: at(2).getTime(),
      retire_at: null,
      remove_at: at(9).getTime(),
    });
    const label = Buffer.from(
      JSON.stringify([
        'hsm-jwks/key-row/v2',
        'fmt',
        'k1',
        'ES256',
        'sig',
        at(1).getTime(),
        at(2).getTime(),
        null,
        at(9).getTime(),
      ]),
    );
    const documented = Buffer.concat([Buffer.from([2]), label]);
    expect(row.sealed[0]).toBe(2);
    expect(JSON.parse(openIndependently(SECRET_OLD, row.sealed, documented).toString())).toEqual(key.privateJwk);
    expect(
      keyRowAadV2({
        set: 'fmt',
        kid: 'k1',
        alg: 'ES256',
        use: 'sig',
        createdAt: at(1).getTime(),
        activateAt: at(2).getTime(),
        retireAt: null,
        removeAt: at(9).getTime(),
      }).equals(documented),
    ).toBe(true);

    const rec = raw(f, (db) => db.prepare(`SELECT ${cols} FROM hsm_keys`).get()) as Row;
    const recordAad = Buffer.concat([
      Buffer.from([2]),
      Buffer.from(
        JSON.stringify([
          'hsm-jwks/hsm-record/v2',
          'fmt',
          'h1',
          'PS256',
          'sig',
          at(3).getTime(),
          null,
          at(4).getTime(),
          null,
        ]),
      ),
    ]);
    expect(rec.sealed[0]).toBe(2);
    expect(openIndependently(SECRET_OLD, rec.sealed, recordAad).length).toBe(0); // empty plaintext: the seal authenticates the columns
    expect(
      hsmRecordAad({
        set: 'fmt',
        kid: 'h1',
        alg: 'PS256',
        use: 'sig',
        createdAt: at(3).getTime(),
        activateAt: null,
        retireAt: at(4).getTime(),
        removeAt: null,
      }).equals(recordAad),
    ).toBe(true);
  });
});

describe('SQLite files', () => {
  test('made with their parent directories, in WAL mode, and kept across close and reopen', async () => {
    const f = path.join(dir, 'nested', 'deeper', 'persist.sqlite');
    const keys = [makeKey('s', 'ec', at(1)), makeKey('s', 'rsa', at(2), 'rsa'), makeKey('t', 'ed', at(3), 'ed25519')];
    let store = openKeyStore(`sqlite://${f}`, [SECRET_OLD]);
    await store.add(keys);
    await store.close();
    const migrations = raw(f, (db) =>
      db.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all(),
    );
    expect(migrations.map((m) => (m as { version: number }).version)).toEqual([1, 2, 3]);
    expect(raw(f, (db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');

    store = openKeyStore(`sqlite://${f}`, [SECRET_OLD]);
    for (const k of keys) expect(await store.get(k.set, k.kid)).toEqual(k);
    await store.close();
    expect(
      raw(f, (db) => db.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all()),
    ).toEqual(migrations);
    expect(((await caught(() => store.get('s', 'ec'))) as { code?: string }).code).toBe('ERR_CLOSED');
  });

  test('a file that is not a database fails the first call, with the store still closable', async () => {
    const f = file('not-a-db.sqlite');
    fs.writeFileSync(f, 'this is not an SQLite database, but it is long enough to have a header of sorts'.repeat(20));
    let store: ReturnType<typeof openKeyStore> | undefined;
    const e = await caught(async () => {
      store = openKeyStore(`sqlite://${f}`, [SECRET_OLD]);
      await store.list();
    });
    expect((e as { code?: string }).code).toMatch(/^SQLITE_/);
    await store?.close();
  });
});

describe('openKeyStore', () => {
  test('sqlite DSNs: relative to the current directory, absolute, and in memory', async () => {
    expect(DEFAULT_DSN).toBe('sqlite://data/hsm-jwks.sqlite');
    expect(parseDsn(DEFAULT_DSN)).toEqual({ kind: 'sqlite', path: path.resolve('data/hsm-jwks.sqlite') });
    expect(parseDsn('sqlite:///var/x.sqlite')).toEqual({ kind: 'sqlite', path: '/var/x.sqlite' });
    expect(parseDsn('sqlite://:memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseDsn('postgresql://u:p@db.example/keys')).toEqual({
      kind: 'postgres',
      dsn: 'postgresql://u:p@db.example/keys',
    });

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
