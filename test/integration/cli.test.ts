// The hsm-jwks command, run as a child process (the built dist/lib/cli/main.js, as installed)
// against SoftHSM and an SQLite file: every command, exit codes, and no PIN in any output.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createLocalJWKSet, jwtVerify } from 'jose';

import { spawnSync } from '../helpers/leak-collector';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
let dir: string;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
    HSM_ENABLED: 'true',
    HSM_LIBRARY: SOFTHSM_MODULE,
    HSM_TOKEN_LABEL: 'cli',
    HSM_PIN: USER_PIN,
    DSN: `sqlite://${path.join(dir, 'cli.sqlite')}`,
    SECRETS_SYSTEM: 'first-secret-of-the-cli-tests',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

function cli(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: env(extra), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does)`);
  softHsm().initToken('cli');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-cli-'));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('keys create, get, list, jwt sign, delete: on the HSM', async () => {
  const created = cli(['keys', 'create', 'id-token', '--alg', 'ES384', '--kid', 'k1']);
  expect(created.code).toBe(0);
  expect(created.json().keys[0]).toMatchObject({ kid: 'k1', alg: 'ES384', use: 'sig', crv: 'P-384' });
  expect(created.stderr).toMatch(/generating a ES384 key pair on the HSM.*done in/s);
  const rsa = cli(['keys', 'create', 'id-token', '--alg', 'PS256', '--kid', 'k2', '--activate-now']);
  expect(rsa.code).toBe(0);
  const got = cli(['keys', 'get', 'id-token']);
  expect(got.code).toBe(0);
  expect(got.json().keys.map((k: { kid: string }) => k.kid)).toEqual(['k2', 'k1']);
  expect(cli(['keys', 'get', 'id-token', 'k1']).json().keys).toHaveLength(1);
  expect(cli(['keys', 'list']).json()).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ set: 'id-token', kid: 'k1', alg: 'ES384', use: 'sig', where: 'hsm' }),
    ]),
  );
  {
    const signed = cli(['jwt', 'sign', 'id-token', '--claims', '{"sub":"alice","aud":"app"}']);
    expect(signed.code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(signed.stdout.trim(), createLocalJWKSet(got.json()), {
      audience: 'app',
    });
    expect([payload.sub, protectedHeader.kid, protectedHeader.alg]).toEqual(['alice', 'k2', 'PS256']);
    const withKid = cli(['jwt', 'sign', 'id-token', '--claims', '{}', '--kid', 'k1']);
    expect((await jwtVerify(withKid.stdout.trim(), createLocalJWKSet(got.json()))).protectedHeader.kid).toBe('k1');
    expect(cli(['keys', 'delete', 'id-token', 'k1']).code).toBe(0);
    expect(cli(['keys', 'delete', 'id-token']).json()).toEqual({ set: 'id-token', deleted: true });
    const gone = cli(['keys', 'get', 'id-token']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('ERR_KEY_SET_NOT_FOUND');
  }
});

test('keys import puts private keys in the software store; secrets rotate re-seals them', () => {
  const key = (kid: string) => ({
    ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }),
    kid,
    alg: 'EdDSA',
  });
  fs.writeFileSync(path.join(dir, 'one.json'), JSON.stringify(key('imp-1')));
  fs.writeFileSync(path.join(dir, 'set.json'), JSON.stringify({ keys: [key('imp-2'), key('imp-3')] }));
  expect(cli(['keys', 'import', 'imported', path.join(dir, 'one.json')]).json()).toEqual({
    set: 'imported',
    imported: 1,
  });
  expect(cli(['keys', 'import', 'imported', path.join(dir, 'set.json')]).json()).toEqual({
    set: 'imported',
    imported: 2,
  });
  const listed = cli(['keys', 'list']).json() as Array<{ set: string; where: string }>;
  expect(listed.filter((k) => k.set === 'imported').map((k) => k.where)).toEqual(['software', 'software', 'software']);
  expect(cli(['keys', 'get', 'imported', 'imp-1']).json().keys[0]).not.toHaveProperty('d');
  expect(cli(['keys', 'get', 'imported', 'imp-1', '--private']).json().keys[0]).toHaveProperty('d');
  // A bad file writes nothing and says why.
  fs.writeFileSync(
    path.join(dir, 'bad.json'),
    JSON.stringify({ keys: [key('imp-4'), { ...key('imp-5'), d: undefined }] }),
  );
  const bad = cli(['keys', 'import', 'imported', path.join(dir, 'bad.json')]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('ERR_JWK_PRIVATE_MISSING');
  expect(cli(['keys', 'get', 'imported', 'imp-4']).code).toBe(1);
  // Rotation: the new secret first, the old one kept; then the old one can go.
  const rotated = { SECRETS_SYSTEM: 'second-secret-of-the-cli-tests,first-secret-of-the-cli-tests' };
  expect(cli(['secrets', 'rotate'], rotated).json()).toEqual({ resealed: 3 });
  expect(
    cli(['keys', 'get', 'imported'], { SECRETS_SYSTEM: 'second-secret-of-the-cli-tests' }).json().keys,
  ).toHaveLength(3);
  const old = cli(['keys', 'get', 'imported'], { SECRETS_SYSTEM: 'first-secret-of-the-cli-tests' });
  expect(old.code).toBe(1);
  expect(old.stderr).toContain('ERR_KEY_SET_UNREADABLE'); // keys exist, but the secret does not open them: never "not found"
  const unlisted = cli(['keys', 'list'], { SECRETS_SYSTEM: 'first-secret-of-the-cli-tests' }); // nor an empty listing
  expect(unlisted.code).toBe(1);
  expect(unlisted.stderr).toMatch(
    /not listed: key "imp-1" of set "imported" \(software\): unreadable: ERR_SEAL_UNKNOWN_SECRET/,
  );
});

test('doctor: healthy, then a wrong PIN and a wrong library (non-zero, reason on stderr, no PIN anywhere)', () => {
  const store = { DSN: `sqlite://${path.join(dir, 'doctor.sqlite')}`, SECRETS_SYSTEM: 'the-doctor-store-secret' };
  fs.writeFileSync(
    path.join(dir, 'doc.json'),
    JSON.stringify({ ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'd', alg: 'EdDSA' }),
  );
  expect(cli(['keys', 'import', 'doc', path.join(dir, 'doc.json')], store).code).toBe(0);
  const ok = cli(['doctor'], store);
  expect(ok.code).toBe(0);
  expect(ok.json()).toMatchObject({
    token: { label: 'cli', login: 'ok' },
    store: { keys: 1, unreadable: 0 },
    problems: [],
  });
  const otherSecret = cli(['doctor'], { ...store, SECRETS_SYSTEM: 'not-the-doctor-store-secret' });
  expect(otherSecret.code).toBe(1);
  expect(otherSecret.stderr).toContain('cannot be opened with SECRETS_SYSTEM');
  expect(ok.json().algorithms.available).toEqual(expect.arrayContaining(['RS256', 'PS512', 'ES256', 'ES512', 'EdDSA']));
  const wrongPin = cli(['doctor'], { HSM_PIN: '86420864' });
  expect(wrongPin.code).toBe(1);
  expect(wrongPin.stderr).toContain('ERR_PKCS11_PIN_INCORRECT');
  expect(wrongPin.stdout + wrongPin.stderr).not.toContain('86420864');
  const wrongLib = cli(['doctor'], { HSM_LIBRARY: '/nonexistent/libpkcs11.so', HSM_PIN: '86420864' });
  expect(wrongLib.code).toBe(1);
  expect(wrongLib.stderr).toContain('ERR_MODULE_NOT_FOUND');
  expect(wrongLib.stdout + wrongLib.stderr).not.toContain('86420864');
  // The key manager fails fast the same way, without the PIN.
  const km = cli(['keys', 'list'], { HSM_PIN: '86420864' });
  expect(km.code).toBe(1);
  expect(km.stderr).toContain(`Unable to configure Hardware Security Module. Library path: ${SOFTHSM_MODULE}`);
  expect(km.stdout + km.stderr).not.toContain('86420864');
});

test('usage and configuration errors have their own exit codes', () => {
  expect(cli([]).code).toBe(2);
  expect(cli(['--help']).code).toBe(0);
  expect(cli(['keys', 'create', 'x']).stderr).toContain('missing --alg');
  expect(cli(['keys', 'create', 'x']).code).toBe(2);
  expect(cli(['keys', 'list', '--bogus']).code).toBe(2);
  expect(cli(['jwt', 'sign', 'x', '--claims', '[1]']).code).toBe(2);
  const badConfig = cli(['keys', 'list'], { HSM_POOL_SIZE: 'many' });
  expect(badConfig.code).toBe(3);
  expect(badConfig.stderr).toContain('HSM_POOL_SIZE');
  const badAlg = cli(['keys', 'create', 'x', '--alg', 'HS256']);
  expect(badAlg.code).toBe(1);
  expect(badAlg.stderr).toContain('ERR_JOSE_ALG_UNSUPPORTED');
});
