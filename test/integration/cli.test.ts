// The hsm-jwks command, run as a child process (the built dist/lib/cli/main.js, as installed)
// against SoftHSM and an SQLite file: every command, exit codes, and no PIN in any output.
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { createLocalJWKSet, jwtVerify } from 'jose';

import { spawnSync } from '../helpers/recording-child-process';
import { CLI, cliHarness } from '../helpers/cli';
import { SOFTHSM_MODULE, USER_PIN } from '../helpers/softhsm';

const harness = cliHarness('first-secret-of-the-cli-tests', 'hsm-jwks-cli-');
const { env, cli } = harness;
let dir: string;
beforeAll(() => {
  dir = harness.dir();
});

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
    expect(cli(['keys', 'delete', 'id-token', 'k1']).json()).toMatchObject({ kid: 'k1', deleted: 1, hsm: 1 });
    // A whole set: refused without a terminal unless --yes (exit 2, nothing destroyed); then reported.
    const refused = cli(['keys', 'delete', 'id-token']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(cli(['keys', 'get', 'id-token']).json().keys).toHaveLength(1);
    const deleted = cli(['keys', 'delete', 'id-token', '--yes']);
    expect(deleted.json()).toEqual({
      set: 'id-token',
      deleted: 1,
      hsm: 1,
      software: 0,
      keys: [{ kid: 'k2', where: 'hsm', alg: 'PS256' }],
    });
    expect(deleted.stderr).toMatch(/deleted 1 key\(s\) of set "id-token": 1 on the HSM \(destroyed\) — k2/);
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
  const badAlg = cli(['keys', 'create', 'x', '--alg', 'XS256']);
  expect(badAlg.code).toBe(2);
  expect(badAlg.stderr).toContain('ERR_JOSE_ALG_UNSUPPORTED');
});

test('usage errors exit 2 before any work: nothing generated, no "generating" line', () => {
  const cases: Array<[string[], RegExp]> = [
    [['keys', 'create', 'u', '--alg', 'es256'], /did you mean ES256\?/],
    [['keys', 'create', 'u', '--alg', 'ES256', '--use', 'foo'], /--use must be sig or enc/],
    [['keys', 'create', 'u', '--alg', 'ES256', '--kid', ''], /--kid must not be empty/],
    [['keys', 'create', 'u', '--alg', 'ES256', '--use', 'enc'], /ERR_KEY_USE_INVALID/],
    [['keys', 'create', 'u', 'extra', '--alg', 'ES256'], /unexpected argument "extra"/],
    [['keys', 'list', 'extra'], /unexpected argument "extra"/],
    [['keys', 'get', 'u', 'kid', 'more', 'args'], /unexpected arguments "more" "args"/],
    [['jwt', 'sign', 'u', '--claims', '{}', '--kid', ''], /--kid must not be empty/],
    [['keys', 'rotate', 'u', '--alg', 'rs256'], /did you mean RS256\?/],
    [['keys', 'create', 'u', '--alg', 'ES256', '--private'], /Unknown option '--private'/],
    [['keys', 'bogus'], /unknown keys command "bogus"/],
    [['doctor', 'now'], /unexpected argument "now"/],
  ];
  for (const [args, message] of cases) {
    // A configuration that would fail (exit 3) shows that nothing was read or opened before the usage check.
    const r = cli(args, { HSM_POOL_SIZE: 'many' });
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/generating/);
    expect(r.stdout).toBe('');
  }
  expect(cli(['keys', 'get', 'u']).code).toBe(1); // nothing was made
});

test('--version, and help per command', () => {
  const version = cli(['--version']);
  expect(version.code).toBe(0);
  expect(version.stdout.trim()).toBe(
    `hsm-jwks ${JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version}`,
  );
  const help = cli(['keys', 'create', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^usage: hsm-jwks keys create <set> --alg ALG/);
  expect(help.stdout).toContain('--activate-now');
  expect(help.stdout).not.toMatch(/jwt sign|keys delete|secrets rotate/);
  expect(cli(['help', 'keys', 'delete']).stdout).toMatch(/^usage: hsm-jwks keys delete <set> \[kid\] \[--yes\]/);
  const group = cli(['keys', '--help']);
  expect(group.stdout).toContain('keys rotate');
  expect(group.stdout).not.toContain('jwt sign');
  expect(cli(['--help']).stdout).toContain('jwt sign');
});

test('keys delete <set> on a terminal asks first: "n" keeps the keys, "y" deletes them and says what', () => {
  expect(cli(['keys', 'create', 'asked', '--alg', 'ES256', '--kid', 'a1']).code).toBe(0);
  expect(cli(['keys', 'create', 'asked', '--alg', 'ES256', '--kid', 'a2', '--activate-now']).code).toBe(0);
  // script(1) gives the command a pseudo-terminal; the answer is typed on its stdin.
  const onTty = (answer: string) =>
    spawnSync('script', ['-qec', `'${process.execPath}' '${CLI}' keys delete asked`, '/dev/null'], {
      env: env(),
      input: `${answer}\n`,
      encoding: 'utf8',
      timeout: 60_000,
    });
  const no = onTty('n');
  expect(no.status).toBe(1);
  expect(no.stdout).toMatch(/Delete all 2 key\(s\) of set "asked": 2 on the HSM \(destroyed\)\? \[y\/N\]/);
  expect(no.stdout).toContain('nothing deleted');
  expect(cli(['keys', 'get', 'asked']).json().keys).toHaveLength(2);
  const yes = onTty('y');
  expect(yes.status).toBe(0);
  expect(yes.stdout).toMatch(/deleted 2 key\(s\) of set "asked": 2 on the HSM \(destroyed\) — a[12], a[12]/);
  expect(cli(['keys', 'get', 'asked']).code).toBe(1);
});

test('ordinary commands print no log line (LOG_LEVEL unset: warn); the results stay JSON on stdout', () => {
  const quiet = { LOG_LEVEL: '', DSN: `sqlite://${path.join(dir, 'quiet.sqlite')}` };
  const made = cli(['keys', 'create', 'quiet', '--alg', 'ES256', '--kid', 'q1'], quiet);
  expect(made.code).toBe(0);
  for (const r of [made, cli(['keys', 'list'], quiet), cli(['keys', 'get', 'quiet'], quiet)]) {
    expect(r.stderr.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
  }
  expect(cli(['keys', 'delete', 'quiet', '--yes'], quiet).code).toBe(0);
  // LOG_LEVEL=info shows the token line: JSON without a terminal, text on one (script(1) gives a pseudo-terminal).
  const info = { LOG_LEVEL: 'info', DSN: quiet.DSN };
  expect(cli(['keys', 'list'], info).stderr).toMatch(
    /^\{"level":"info".*"msg":"Hardware Security Module is configured\."/m,
  );
  const onTty = spawnSync('script', ['-qec', `'${process.execPath}' '${CLI}' keys list >/dev/null`, '/dev/null'], {
    env: env(info),
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(onTty.status).toBe(0);
  expect(onTty.stdout).toMatch(
    /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}Hardware Security Module is configured\. token=cli /m,
  );
  expect(onTty.stdout).not.toContain('{"level"');
});

test('errors name what exists: tokens (label, serial, slot), slot ids, and why a library did not load', () => {
  const label = cli(['keys', 'list'], { HSM_TOKEN_LABEL: 'cl' });
  expect(label.code).toBe(1);
  expect(label.stderr).toContain('ERR_TOKEN_NOT_FOUND');
  expect(label.stderr).toMatch(/no token matches label "cl"; tokens present: "cli" \(serial \w+, slot \d+\)/);
  const slotId = /"cli" \(serial \w+, slot (\d+)\)/.exec(label.stderr)![1]!;
  const slot = cli(['keys', 'list'], { HSM_TOKEN_LABEL: '', HSM_SLOT: '0' });
  expect(slot.code).toBe(1);
  expect(slot.stderr).toMatch(new RegExp(`no token matches slot 0; .*slot ids: .*${slotId}`));
  const dir = cli(['keys', 'list'], { HSM_LIBRARY: path.dirname(SOFTHSM_MODULE) + path.sep });
  expect(dir.code).toBe(1);
  expect(dir.stderr).toContain('ERR_MODULE_LOAD_FAILED');
  expect(dir.stderr).toContain('is a directory');
  expect(dir.stderr).toContain(SOFTHSM_MODULE); // the module files in it
  expect(dir.stderr).toMatch(/Is a directory/); // dlerror()
  const notSo = cli(['doctor'], { HSM_LIBRARY: '/etc/hostname' });
  expect(notSo.stderr).toMatch(/invalid ELF header|file too short/);
  for (const r of [label, slot, dir, notSo]) expect(r.stdout + r.stderr).not.toContain(USER_PIN);
});

test('doctor redacts the credentials of every URL it prints', () => {
  const r = cli(['doctor'], {
    DSN: 'postgres://keys-user:hunter2-db-password@127.0.0.1:1/keys?sslmode=disable&password=other-secret',
  });
  expect(r.code).toBe(1); // nothing listens there
  const out = r.stdout + r.stderr;
  expect(out).toContain('postgres://keys-user:***@127.0.0.1:1/keys');
  expect(out).not.toContain('hunter2');
  expect(out).not.toContain('other-secret');
  expect(out).not.toContain('first-secret-of-the-cli-tests');
});
