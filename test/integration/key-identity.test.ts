// Issue 10's scenarios on SoftHSM and SQLite, each as it was found with the admin API and the CLI
// only: kid aliases, metadata that lived only in the store, generation that was not all or
// nothing, ambiguous public objects, a PUT that was never published, a wrong secret or no PIN at
// start, and a row whose `use` was edited in SQL.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import Database from 'better-sqlite3';
import { createLocalJWKSet, jwtVerify } from 'jose';

import { loadConfig } from '../../lib/config';
import { createKeyManager } from '../../lib/keys/create';
import { ensureKeySet } from '../../lib/keys/ensure';
import { HsmKeySource } from '../../lib/keys/hsm-source';
import type { JwkSet } from '../../lib/keys/key-manager';
import type { KeyRing } from '../../lib/keys/key-ring';
import { Pkcs11Module } from '../../lib/pkcs11/module';
import { spawnSync } from '../helpers/recording-child-process';
import { hsmEnv, SOFTHSM_MODULE, softHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm';
import { warningLogger } from '../helpers/warning-logger';

const SECRET = 'identity-test-secret-of-32-chars';
let hsm: SoftHsm;
let dir: string;
let km: KeyRing;
const { logger } = warningLogger();

const env = (extra: Record<string, string | undefined> = {}) => ({
  ...hsmEnv('identity', `sqlite://${path.join(dir, 'keys.sqlite')}`, SECRET),
  ...extra,
});
const tool = (args: string[]) => hsm.pkcs11Tool(['--token-label', 'identity', '--login', '--pin', USER_PIN, ...args]);
const hexOf = (s: string) => Buffer.from(s).toString('hex');
const kids = async (m: KeyRing, set: string) => (await m.getKeySet(set)).keys.map((k) => k.kid);
const verifiedKid = async (jwt: string, jwks: JwkSet) =>
  (await jwtVerify(jwt, createLocalJWKSet(jwks as never))).protectedHeader.kid;
const ecJwk = async (kid: string) => {
  return {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    kid,
    alg: 'ES256',
    use: 'sig',
  };
};

beforeAll(async () => {
  hsm = softHsm();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-identity-'));
  hsm.pkcs11Tool([
    '--slot',
    '0',
    '--init-token',
    '--label',
    'identity',
    '--so-pin',
    '0000',
    '--pin',
    USER_PIN,
    '--init-pin',
  ]);
  km = await createKeyManager(loadConfig(env()), { logger });
});

afterAll(async () => {
  await km?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('kid <-> CKA_ID is one to one', () => {
  test('DELETE of the hex of "older" (a kid not in the set) never destroys "older"', async () => {
    await km.generateAndPersistKeySet('s', 'older', 'ES256');
    await expect(km.deleteKey('s', hexOf('older'))).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    await expect(km.deleteKey('s', `hex:${hexOf('older')}`)).rejects.toMatchObject({ code: 'ERR_KID_INVALID' });
    expect(await kids(km, 's')).toEqual(['older']);
  });

  test('"a b" and "612062" are two keys with two kids', async () => {
    await km.generateAndPersistKeySet('ab', 'a b', 'ES256');
    await km.generateAndPersistKeySet('ab', '612062', 'ES256', 'sig', { activateNow: true });
    expect((await kids(km, 'ab')).sort()).toEqual(['612062', 'a b']);
    expect(tool(['--list-objects', '--type', 'privkey'])).toContain(hexOf('612062'));
  });

  test('kid "ps 384" / PS384 is published as such, signs once active, and its JWTs verify with the JWKS', async () => {
    await km.generateAndPersistKeySet('ps', 'first', 'ES256');
    await km.generateAndPersistKeySet('ps', 'ps 384', 'PS384', 'sig', { activateNow: true });
    const jwks = await km.getKeySet('ps');
    expect(jwks.keys[0]).toMatchObject({ kid: 'ps 384', alg: 'PS384', kty: 'RSA' });
    expect(await verifiedKid(await km.signJwt('ps', { sub: 'x' }), jwks)).toBe('ps 384');
  });

  test('unicode kids round-trip; the same kid in another set is refused', async () => {
    await km.generateAndPersistKeySet('uni', 'ключ-🔑', 'EdDSA');
    expect(await kids(km, 'uni')).toEqual(['ключ-🔑']);
    await expect(km.generateAndPersistKeySet('uni-2', 'ключ-🔑', 'ES256')).rejects.toMatchObject({
      code: 'ERR_KEY_EXISTS',
    });
    await expect(km.addKey('uni-2', await ecJwk('ключ-🔑'))).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
  });

  test('two managers on one store making one kid in two sets at once: one wins, the other is told ERR_KEY_EXISTS', async () => {
    const other = await createKeyManager(loadConfig(env()), { logger });
    try {
      const results = await Promise.allSettled([
        km.generateAndPersistKeySet('race.a', 'samekid', 'ES256'),
        other.generateAndPersistKeySet('race.b', 'samekid', 'ES256'),
        other.addKey('race.c', await ecJwk('samekid')),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(
        results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code),
      ).toEqual(['ERR_KEY_EXISTS', 'ERR_KEY_EXISTS']);
      expect((await km.list()).filter((k) => k.kid === 'samekid')).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  test('the guide flow (one --id in two sets): one key published for the kid, the other reported', async () => {
    for (const set of ['guide.b', 'guide.a'])
      tool([
        '--keypairgen',
        '--key-type',
        'EC:secp256r1',
        '--usage-sign',
        '--label',
        set,
        '--id',
        hexOf('test-key-id'),
      ]);
    km.invalidate();
    expect(await kids(km, 'guide.a')).toEqual(['test-key-id']);
    await expect(km.getKeySet('guide.b')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
    expect(await km.problems()).toContainEqual(
      expect.objectContaining({ kind: 'kid-conflict', set: 'guide.b', kid: 'test-key-id' }),
    );
  });
});

describe('the token holds what decides behaviour', () => {
  test('a PS384 key read through a second, empty store is PS384 with its kid, time and state', async () => {
    const made = (await km.generateAndPersistKeySet('meta', 'meta-ps', 'PS384')).keys[0]!;
    const other = await createKeyManager(loadConfig(env({ DSN: `sqlite://${path.join(dir, 'empty-store.sqlite')}` })), {
      logger,
    });
    try {
      expect((await other.getKeySet('meta')).keys).toEqual([made]);
      const listed = (await other.list()).find((k) => k.kid === 'meta-ps');
      expect(listed).toMatchObject({
        alg: 'PS384',
        where: 'hsm',
        state: 'active',
        origin: 'ours',
        createdAt: expect.any(Date),
      });
      expect(await verifiedKid(await other.signJwt('meta', {}), await other.getKeySet('meta'))).toBe('meta-ps');
    } finally {
      await other.close();
    }
  });

  test('keys recorded in the store by earlier versions move to the token', async () => {
    tool([
      '--keypairgen',
      '--key-type',
      'rsa:2048',
      '--usage-sign',
      '--label',
      'legacy',
      '--id',
      hexOf('legacy-rs512'),
    ]);
    const file = path.join(dir, 'legacy.sqlite');
    const legacy = await createKeyManager(loadConfig(env({ DSN: `sqlite://${file}` })), { logger });
    await legacy.close();
    const db = new Database(file);
    db.prepare('INSERT INTO hsm_keys (set_name, kid, created_at, alg) VALUES (?, ?, ?, ?)').run(
      'legacy',
      'legacy-rs512',
      Date.UTC(2025, 0, 1),
      'RS512',
    );
    db.close();
    const migrated = await createKeyManager(loadConfig(env({ DSN: `sqlite://${file}` })), { logger });
    try {
      expect((await migrated.getKeySet('legacy')).keys[0]).toMatchObject({ kid: 'legacy-rs512', alg: 'RS512' });
      // Trusted once, unsealed: listed as migrated, which rotation never destroys.
      expect((await migrated.list()).find((k) => k.kid === 'legacy-rs512')).toMatchObject({
        origin: 'migrated',
        createdAt: new Date(Date.UTC(2025, 0, 1)),
      });
    } finally {
      await migrated.close();
    }
    km.invalidate('legacy'); // another store, the same token: the record is on the token now
    expect((await km.getKeySet('legacy')).keys[0]).toMatchObject({ kid: 'legacy-rs512', alg: 'RS512' });
  });
});

test('a metadata object on the token that does not read (edited, malformed lifecycle) is never taken as "no record"', async () => {
  await km.generateAndPersistKeySet('damaged', 'd1', 'ES256');
  tool(['--delete-object', '--type', 'data', '--application-label', 'hsm-jwks/key-metadata/v1', '--label', 'damaged']);
  const file = path.join(dir, 'bad-record.bin');
  fs.writeFileSync(
    file,
    JSON.stringify({
      v: 1,
      id: hexOf('d1'),
      alg: 'ES256',
      use: 'sig',
      createdAt: 1,
      rev: 9,
      pending: false,
      activateAt: '2099-01-01',
    }),
  );
  tool([
    '--write-object',
    file,
    '--type',
    'data',
    '--application-label',
    'hsm-jwks/key-metadata/v1',
    '--label',
    'damaged',
    '--private',
  ]);
  km.invalidate('damaged');
  await expect(km.getKeySet('damaged')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  await expect(ensureKeySet(km, 'damaged', 'ES256')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  expect(await km.problems()).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ kind: 'metadata-invalid', set: 'damaged', kid: 'd1' }),
      expect.objectContaining({
        kind: 'metadata-invalid',
        set: 'damaged',
        kid: '',
        repair: expect.stringContaining('pkcs11-tool'),
      }),
    ]),
  );
});

test('a key whose private half was deleted behind our back: the set is not "missing", nothing is generated over it', async () => {
  await km.generateAndPersistKeySet('halved', 'h1', 'ES256');
  tool(['--delete-object', '--type', 'privkey', '--id', hexOf('h1')]);
  km.invalidate('halved');
  await expect(ensureKeySet(km, 'halved', 'ES256')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  await km.deleteKey('halved', 'h1'); // the repair: the record goes (the public object is reported until removed by hand)
  expect(await km.problems()).not.toContainEqual(
    expect.objectContaining({ kind: 'metadata-without-key', set: 'halved' }),
  );
});

test('a reading torn by a key made between its finds (metadata seen, key pair not yet) is taken again once', async () => {
  const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  const token = await mod.openToken({ tokenLabel: 'identity' }, { pin: USER_PIN });
  try {
    const source = new HsmKeySource(token);
    await source.generate({
      set: 'torn',
      kid: 'torn-1',
      alg: 'ES256',
      use: 'sig',
      createdAt: new Date(),
      lifecycle: {},
    });
    // The first find of key pairs runs before the other process's pair exists: it finds none.
    const find = token.findKeyPairs.bind(token);
    let finds = 0;
    token.findKeyPairs = async (q) => (++finds === 1 ? [] : find(q));
    const reading = await source.read('torn');
    expect(reading.entries.map((e) => e.kid)).toEqual(['torn-1']);
    expect(reading.problems).toEqual([]);
    expect(finds).toBe(2);
    // A pair really gone stays reported after the second reading.
    token.findKeyPairs = async () => [];
    expect((await source.read('torn')).problems).toEqual([
      expect.objectContaining({ kind: 'metadata-without-key', kid: 'torn-1' }),
    ]);
  } finally {
    await token.close();
    await mod.close();
  }
});

describe('generation is all or nothing', () => {
  test('kill -9 after the token made the pair: never published, reported with its repair; the same kid can be generated again', async () => {
    const crash = spawnSync(
      process.execPath,
      [path.join(__dirname, '..', 'fixtures', 'keygen-crash.js'), 'crashed', 'crash-1'],
      {
        env: { ...process.env, HSM_TOKEN_LABEL: 'identity', HSM_PIN: USER_PIN },
        encoding: 'utf8',
      },
    );
    expect(crash.signal).toBe('SIGKILL');
    expect(tool(['--list-objects', '--type', 'privkey'])).toContain(hexOf('crash-1')); // the pair is there
    km.invalidate();
    await expect(km.getKeySet('crashed')).rejects.toMatchObject({ code: 'ERR_KEY_SET_NOT_FOUND' });
    await expect(km.signJwt('crashed', {}, { kid: 'crash-1' })).rejects.toMatchObject({ code: 'ERR_KEY_NOT_FOUND' });
    expect(await km.problems()).toContainEqual(
      expect.objectContaining({
        kind: 'incomplete-generation',
        set: 'crashed',
        kid: 'crash-1',
        repair: 'hsm-jwks keys delete crashed crash-1',
      }),
    );
    // `keys delete <set>` clears it (a set holding only that is not "missing").
    await km.deleteKeySet('crashed');
    expect(tool(['--list-objects', '--type', 'privkey'])).not.toContain(hexOf('crash-1'));
    // Crashed again: this time generating the same kid clears what was left, and makes it.
    expect(
      spawnSync(process.execPath, [path.join(__dirname, '..', 'fixtures', 'keygen-crash.js'), 'crashed', 'crash-1'], {
        env: { ...process.env, HSM_TOKEN_LABEL: 'identity', HSM_PIN: USER_PIN },
        encoding: 'utf8',
      }).signal,
    ).toBe('SIGKILL');
    km.invalidate('crashed');
    const again = await km.generateAndPersistKeySet('crashed', 'crash-1', 'ES256');
    expect(await kids(km, 'crashed')).toEqual(['crash-1']);
    expect(await verifiedKid(await km.signJwt('crashed', {}), await km.getKeySet('crashed'))).toBe(again.keys[0]!.kid);
    expect(tool(['--list-objects', '--type', 'privkey']).split(hexOf('crash-1')).length - 1).toBe(1); // one pair, not two
  });

  test('a failure after the token made the pair destroys it; a retry with the same kid succeeds', async () => {
    const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
    const token = await mod.openToken({ tokenLabel: 'identity' }, { pin: USER_PIN });
    try {
      const source = new HsmKeySource(token);
      const create = token.createDataObject.bind(token);
      let calls = 0;
      token.createDataObject = async (o) => {
        if (++calls === 2) throw Object.assign(new Error('disk full'), { code: 'ERR_PKCS11_DEVICE_MEMORY' });
        return create(o);
      };
      const key = {
        set: 'atomic',
        kid: 'atomic-1',
        alg: 'ES256',
        use: 'sig' as const,
        createdAt: new Date(),
        lifecycle: {},
      };
      await expect(source.generate(key)).rejects.toMatchObject({ code: 'ERR_PKCS11_DEVICE_MEMORY' });
      expect(await token.findKeyPairs({ label: 'atomic' })).toEqual([]);
      expect(await token.findDataObjects({ application: 'hsm-jwks/key-metadata/v1', label: 'atomic' })).toEqual([]);
      await expect(source.generate(key)).resolves.toMatchObject({ kid: 'atomic-1', alg: 'ES256' });
    } finally {
      await token.close();
      await mod.close();
    }
    km.invalidate('atomic');
    expect(await kids(km, 'atomic')).toEqual(['atomic-1']);
  });
});

test('two public objects with one CKA_ID: the key is not published, and the problem says how to repair it', async () => {
  tool(['--keypairgen', '--key-type', 'EC:secp256r1', '--usage-sign', '--label', 'twins', '--id', hexOf('twin')]);
  tool([
    '--keypairgen',
    '--key-type',
    'EC:secp256r1',
    '--usage-sign',
    '--label',
    'twins-other',
    '--id',
    hexOf('twin-other'),
  ]);
  const der = path.join(dir, 'other.der');
  tool(['--read-object', '--type', 'pubkey', '--id', hexOf('twin-other'), '-o', der]);
  tool(['--write-object', der, '--type', 'pubkey', '--id', hexOf('twin'), '--label', 'twins']);
  km.invalidate();
  await expect(km.getKeySet('twins')).rejects.toMatchObject({ code: 'ERR_KEY_SET_UNREADABLE' });
  expect(await km.problems()).toContainEqual(
    expect.objectContaining({
      kind: 'public-key-ambiguous',
      set: 'twins',
      kid: 'twin',
      repair: expect.stringContaining('pkcs11-tool'),
    }),
  );
});

test('PUT into a set with HSM keys: the imported key is published and verifies; a kid on the HSM is refused', async () => {
  await km.generateAndPersistKeySet('mixed', 'on-hsm', 'ES256');
  await km.updateKey('mixed', await ecJwk('imported'));
  const jwks = await km.getKeySet('mixed');
  expect(jwks.keys.map((k) => k.kid).sort()).toEqual(['imported', 'on-hsm']);
  expect(await verifiedKid(await km.signJwt('mixed', {}, { kid: 'on-hsm' }), jwks)).toBe('on-hsm');
  await expect(km.updateKey('mixed', await ecJwk('on-hsm'))).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
  expect((await km.getKey('mixed', 'on-hsm')).keys[0]).toEqual(jwks.keys.find((k) => k.kid === 'on-hsm'));
});

describe('fail closed at start', () => {
  test('a wrong SECRETS_SYSTEM: the software set is unreadable, nothing is generated over it', async () => {
    const soft = { HSM_ENABLED: undefined, DSN: `sqlite://${path.join(dir, 'soft.sqlite')}` };
    const right = await createKeyManager(loadConfig(env(soft)), { logger });
    await ensureKeySet(right, 'public.soft', 'ES256');
    await right.close();
    const wrong = await createKeyManager(
      loadConfig(env({ ...soft, SECRETS_SYSTEM: 'another-secret-of-32-characters!' })),
      { logger },
    );
    try {
      await expect(ensureKeySet(wrong, 'public.soft', 'ES256')).rejects.toMatchObject({
        code: 'ERR_KEY_SET_UNREADABLE',
      });
      expect((await wrong.list()).length).toBe(0);
    } finally {
      await wrong.close();
    }
    const again = await createKeyManager(loadConfig(env(soft)), { logger });
    try {
      expect(await kids(again, 'public.soft')).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  test('HSM_ENABLED without HSM_PIN is a configuration error', () => {
    expect(() => loadConfig(env({ HSM_PIN: undefined }))).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', variable: 'HSM_PIN' }),
    );
  });

  test('a row whose `use` was edited in SQL fails to open alone, and never signs', async () => {
    const file = path.join(dir, 'edited.sqlite');
    const soft = { HSM_ENABLED: undefined, DSN: `sqlite://${file}` };
    const m = await createKeyManager(loadConfig(env(soft)), { logger });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    await m.generateAndPersistKeySet('edited', 'other', 'ES256');
    await m.addKey('edited', { ...rsa, kid: 'enc-key', alg: 'RSA-OAEP-256', use: 'enc' });
    await expect(m.signJwt('edited', {}, { kid: 'enc-key' })).rejects.toMatchObject({ code: 'ERR_NO_SIGNING_KEY' });
    await m.close();
    const db = new Database(file); // no secret needed to do this
    db.prepare(`UPDATE jwk_keys SET "use" = 'sig', alg = 'RS256' WHERE kid = 'enc-key'`).run();
    db.close();
    const after = await createKeyManager(loadConfig(env(soft)), { logger });
    try {
      expect(await kids(after, 'edited')).toEqual(['other']);
      expect(await after.problems()).toContainEqual(
        expect.objectContaining({
          kind: 'unreadable',
          kid: 'enc-key',
          detail: expect.stringContaining('ERR_SEAL_TAMPERED'),
        }),
      );
      await expect(after.signJwt('edited', {}, { kid: 'enc-key' })).rejects.toMatchObject({
        code: 'ERR_KEY_NOT_FOUND',
      });
    } finally {
      await after.close();
    }
  });
});
