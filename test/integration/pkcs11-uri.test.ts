// PKCS#11 URIs (RFC 7512) against GnuTLS's p11tool on SoftHSM2: the URIs p11tool prints select the
// same token and the same keys here, ours are p11tool's (character for character) and p11tool finds
// what they name; HSM_URI / --uri with pin-source end to end (library and CLI); and a pin-value
// never shows in an error, a log line or the command's output (registered for the run's leak check).
import { createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Pkcs11Module, type KeyPair, type Token } from '../../lib';
import { CLI } from '../helpers/cli';
import { publicKeyObject } from '../helpers/keys';
import { execFileSync, spawnSync } from '../helpers/recording-child-process';
import { registerSecret } from '../helpers/secret-leak-recorder';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const P11TOOL = ['/usr/bin/p11tool', '/usr/local/bin/p11tool'].find((p) => fs.existsSync(p));
const absent = !P11TOOL
  ? 'p11tool is not installed (apt-get install gnutls-bin; scripts/install-system-deps.sh does)'
  : '';
if (absent) {
  if (process.env.CI === 'true') test('p11tool is installed (CI installs it)', () => expect(absent).toBe(''));
  else console.warn(`skipping the p11tool cross-checks of PKCS#11 URIs: ${absent}`);
}
const describeP11tool = absent ? describe.skip : describe;

/** The PIN of the tokens reached through a URI's pin-source or pin-value (USER_PIN is the helpers'). */
const URI_PIN = 'uri-it-pin-57913';
const WRONG_PIN = 'uri-it-wrong-pin-24680';
registerSecret('pin', 'the pin-value / pin-source PIN of test/integration/pkcs11-uri.test.ts', URI_PIN);
registerSecret('pin', 'a wrong pin-value of test/integration/pkcs11-uri.test.ts', WRONG_PIN);
const SECRET = 'the-uri-tests-store-secret';

interface Block {
  kind: 'Token' | 'Object';
  fields: Record<string, string>;
}

/** p11tool's listing: "Token N:" / "Object N:" blocks of tab-indented "Name: value" lines. */
function blocks(out: string): Block[] {
  const found: Block[] = [];
  for (const line of out.split('\n')) {
    const head = /^(Token|Object) \d+:/.exec(line);
    if (head) found.push({ kind: head[1] as Block['kind'], fields: {} });
    const field = /^\t([^:]+): ?(.*)$/.exec(line);
    if (field && found.length > 0) found.at(-1)!.fields[field[1]!] = field[2]!;
  }
  return found;
}

function p11tool(args: string[], pin?: string): string {
  return execFileSync(P11TOOL!, ['--provider', SOFTHSM_MODULE, ...args], {
    env: { PATH: process.env.PATH, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF, ...(pin ? { GNUTLS_PIN: pin } : {}) },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as string;
}

const hexId = (id: string) => id.replace(/:/g, '').toLowerCase();
const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' }).toString('hex');

describeP11tool('PKCS#11 URIs and p11tool', () => {
  let dir: string;
  let mod: Pkcs11Module;
  let token: Token;
  const keys: KeyPair[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-uri-'));
    softHsm().initToken('uri');
    softHsm().initToken('uri-pin', URI_PIN);
    softHsm().initToken('uri-wrong', URI_PIN);
    mod = await Pkcs11Module.load(SOFTHSM_MODULE);
    token = await mod.openToken({ tokenLabel: 'uri' }, { pin: USER_PIN, poolSize: 2 });
    keys.push(
      await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'uri-set', id: Buffer.from('kid-1') }),
      await token.generateKeyPair(
        { type: 'rsa', bits: 2048 },
        { label: 'uri set;&?/=é', id: Buffer.from([0, 0xff, 0x10, 0x3b]) },
      ),
      await token.generateKeyPair({ type: 'ed25519' }, { label: 'uri-ed', id: Buffer.from('ed 1') }),
    );
  });
  afterAll(async () => {
    await mod?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("p11tool --list-tokens: its token URIs select the same token here, and ours is p11tool's", async () => {
    const listed = blocks(p11tool(['--list-tokens'])).filter((b) => b.kind === 'Token');
    const ours = listed.find((b) => b.fields.Label === 'uri')!;
    expect(ours.fields.URL).toBe(token.uri());
    expect(ours.fields.Serial).toBe(token.serialNumber);
    for (const b of listed.filter((x) => x.fields.Label?.startsWith('uri'))) {
      const other = await mod.openToken({ uri: b.fields.URL! }, b.fields.Label === 'uri' ? { pin: USER_PIN } : {});
      try {
        expect([other.serialNumber, other.label]).toEqual([b.fields.Serial, b.fields.Label]);
      } finally {
        await other.close();
      }
    }
    // module-name must name the module the token is opened on
    const byName = await mod.openToken({ uri: 'pkcs11:token=uri?module-name=softhsm2' }, { pin: USER_PIN });
    await byName.close();
    await expect(mod.openToken({ uri: 'pkcs11:token=uri?module-name=opensc-pkcs11' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    // With module-path, the module is loaded from the URI too (the same one: shared, reference-counted).
    const withModule = `${ours.fields.URL}?module-path=${SOFTHSM_MODULE}`;
    const loaded = await Pkcs11Module.loadUri(withModule);
    try {
      const again = await loaded.openToken({ uri: withModule }, { pin: USER_PIN });
      expect(again.serialNumber).toBe(token.serialNumber);
    } finally {
      await loaded.close();
    }
  });

  test('p11tool --list-all --login: each object URI finds the key made here (same CKA_ID, label and public key)', async () => {
    const objects = blocks(p11tool(['--list-all', '--login', token.uri()], USER_PIN)).filter(
      (b) => b.kind === 'Object',
    );
    const privates = objects.filter((b) => b.fields.Type?.startsWith('Private key'));
    const publics = objects.filter((b) => b.fields.Type?.startsWith('Public key'));
    expect(privates.map((b) => b.fields.ID && hexId(b.fields.ID)).sort()).toEqual(
      keys.map((k) => k.id.toString('hex')).sort(),
    );
    for (const b of [...privates, ...publics]) {
      const url = b.fields.URL!;
      const found = await token.findKeyPairs({ uri: url });
      expect(found).toHaveLength(1);
      const mine = keys.find((k) => k.id.equals(found[0]!.id))!;
      expect([found[0]!.id.toString('hex'), found[0]!.label]).toEqual([hexId(b.fields.ID!), b.fields.Label]);
      expect(spki(publicKeyObject(found[0]!))).toBe(spki(publicKeyObject(mine)));
      // Our URI of the object is p11tool's, character for character.
      const type = b.fields.Type!.startsWith('Private') ? 'private' : 'public';
      expect(token.uri({ label: mine.label, id: mine.id, type })).toBe(url);
    }
    // The public key p11tool exports for each private key URI is the one this package reads.
    for (const b of privates.filter((x) => !/EdDSA|Ed25519/i.test(x.fields.Type ?? ''))) {
      const pem = p11tool(['--login', '--export-pubkey', b.fields.URL!], USER_PIN);
      const mine = keys.find((k) => k.id.toString('hex') === hexId(b.fields.ID!))!;
      expect(spki(createPublicKey(pem))).toBe(spki(publicKeyObject(mine)));
    }
  });

  test('p11tool finds what our URIs name; an unknown path attribute matches nothing in both', async () => {
    for (const key of keys) {
      const uri = token.uri({ label: key.label, id: key.id, type: 'private' });
      const found = blocks(p11tool(['--list-all', '--login', uri], USER_PIN)).filter((b) => b.kind === 'Object');
      expect(found.map((b) => [hexId(b.fields.ID!), b.fields.Label, b.fields.URL])).toEqual([
        [key.id.toString('hex'), key.label, uri],
      ]);
      // id alone, no login: the public object
      const pub = blocks(p11tool(['--list-all', token.uri({ id: key.id })])).filter((b) => b.kind === 'Object');
      expect(pub.map((b) => hexId(b.fields.ID!))).toEqual([key.id.toString('hex')]);
    }
    const vendor = `${token.uri({ id: keys[0]!.id })};x-vendor=1`;
    const none = spawnSync(P11TOOL!, ['--provider', SOFTHSM_MODULE, '--list-all', '--login', vendor], {
      env: { PATH: process.env.PATH, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF, GNUTLS_PIN: USER_PIN },
      encoding: 'utf8',
    });
    expect([none.status, blocks(none.stdout), none.stderr]).toEqual([
      2,
      [],
      expect.stringContaining('No matching objects'),
    ]);
    expect(await token.findKeyPairs({ uri: vendor })).toEqual([]);
    // a URI of another token finds nothing on this one
    expect(await token.findKeyPairs({ uri: 'pkcs11:token=uri-pin;object=uri-set' })).toEqual([]);
    expect(await token.findKeyPairs({ uri: 'pkcs11:object=uri-set;type=cert' })).toEqual([]);
    expect((await token.findKeyPairs({ uri: 'pkcs11:object=uri-set' })).map((k) => k.label)).toEqual(['uri-set']);
  });

  test('pin-source: the module, the token and the PIN from one URI, in the library and through the CLI', async () => {
    const pinFile = path.join(dir, 'pin');
    fs.writeFileSync(pinFile, `${URI_PIN}\n`, { mode: 0o600 });
    const uri = `pkcs11:token=uri-pin?module-path=${SOFTHSM_MODULE}&pin-source=file:${pinFile}`;
    const loaded = await Pkcs11Module.loadUri(uri);
    try {
      const t = await loaded.openToken({ uri });
      await t.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'lib-set', id: Buffer.from('lib-1') });
      expect((await t.findKeyPairs({ uri: 'pkcs11:object=lib-set;type=private' })).length).toBe(1); // logged in: private keys seen
    } finally {
      await loaded.close();
    }
    // The command: nothing but the store and --uri (or HSM_URI) in its environment.
    const env = {
      PATH: process.env.PATH,
      SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
      DSN: `sqlite://${path.join(dir, 'cli.sqlite')}`,
      SECRETS_SYSTEM: SECRET,
      LOG_LEVEL: 'warn',
    };
    const cli = (args: string[], extra: Record<string, string> = {}) =>
      spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, encoding: 'utf8' });
    const made = cli(['keys', 'create', 'cli-set', '--alg', 'ES256', '--kid', 'cli-k1', '--uri', uri]);
    expect([made.status, made.stderr]).toEqual([0, expect.stringContaining('on the HSM')]);
    for (const listed of [
      cli(['keys', 'list', '--uri', uri]),
      cli(['keys', 'list'], { HSM_URI: uri, HSM_ENABLED: 'true' }),
    ]) {
      expect(listed.status).toBe(0);
      const entry = (JSON.parse(listed.stdout) as Array<{ set: string; kid: string; uri?: string }>).find(
        (k) => k.kid === 'cli-k1',
      )!;
      expect(entry.uri).toMatch(
        /^pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=\w+;token=uri-pin;id=%63%6C%69%2D%6B%31;object=cli-set;type=private$/,
      );
      const seen = blocks(p11tool(['--list-all', '--login', entry.uri!], URI_PIN)).filter((b) => b.kind === 'Object');
      expect(seen.map((b) => [b.fields.Label, hexId(b.fields.ID!)])).toEqual([
        ['cli-set', Buffer.from('cli-k1').toString('hex')],
      ]);
    }
    const help = cli(['keys', 'list', '--help']);
    expect(help.stdout).toContain('--uri URI');
  });

  test('a pin-value is never in an error, a log line or the command output', async () => {
    const base = `module-path=${SOFTHSM_MODULE}`;
    const good = `pkcs11:token=uri-pin?${base}&pin-value=${URI_PIN}`;
    const env = {
      PATH: process.env.PATH,
      SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
      DSN: `sqlite://${path.join(dir, 'leak.sqlite')}`,
      SECRETS_SYSTEM: SECRET,
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
    };
    const runs = [
      { args: ['keys', 'list', '--uri', good], code: 0 },
      { args: ['doctor', '--uri', good], code: 0 },
      {
        args: ['keys', 'list', '--uri', `pkcs11:token=absent?${base}&pin-value=${URI_PIN}`],
        code: 1,
        says: 'ERR_TOKEN_NOT_FOUND',
      },
      {
        args: ['keys', 'list', '--uri', `pkcs11:token=uri-wrong?${base}&pin-value=${WRONG_PIN}`],
        code: 1,
        says: 'ERR_PKCS11_PIN_INCORRECT',
      },
      {
        args: ['keys', 'list', '--uri', `pkcs11:token=a b?${base}&pin-value=${URI_PIN}`],
        code: 3,
        says: 'ERR_URI_INVALID',
      },
      {
        args: ['keys', 'list', '--uri', `pkcs11:token=uri-pin?${base}&pin-value=${URI_PIN}&pin-value=${URI_PIN}`],
        code: 3,
        says: 'ERR_URI_INVALID',
      },
      {
        args: ['keys', 'list', '--uri', `pkcs11:token=uri-pin;object=x?${base}&pin-value=${URI_PIN}`],
        code: 3,
        says: 'ERR_CONFIG',
      },
      { args: ['keys', 'list', '--uri', good], extra: { HSM_PIN: WRONG_PIN }, code: 3, says: 'HSM_PIN' },
    ];
    for (const run of runs) {
      const r = spawnSync(process.execPath, [CLI, ...run.args], { env: { ...env, ...run.extra }, encoding: 'utf8' });
      const out = `${r.stdout}\n${r.stderr}`;
      expect({ args: run.args.slice(0, 2), code: r.status }).toEqual({ args: run.args.slice(0, 2), code: run.code });
      if (run.says) expect(r.stderr).toContain(run.says);
      expect(out).not.toContain(URI_PIN);
      expect(out).not.toContain(WRONG_PIN);
    }
    const doctor = spawnSync(process.execPath, [CLI, 'doctor', '--uri', good], { env, encoding: 'utf8' });
    expect(JSON.parse(doctor.stdout).hsm.selector).toEqual({ uri: 'pkcs11:token=uri-pin' });
    // The library: errors name the URI without its query, and never the PIN.
    const errors = [
      await mod.openToken({ uri: `pkcs11:token=absent?pin-value=${URI_PIN}` }).catch((e: unknown) => e),
      await mod
        .openToken({ uri: `pkcs11:token=uri-pin?pin-value=${URI_PIN}` }, { pin: WRONG_PIN })
        .catch((e: unknown) => e),
      await mod.openToken({ uri: `pkcs11:token=uri-wrong?pin-value=${WRONG_PIN}` }).catch((e: unknown) => e),
      await mod
        .openToken({ uri: `pkcs11:token=uri?module-path=/usr/lib/other-module.so&pin-value=${URI_PIN}` })
        .catch((e: unknown) => e),
    ];
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      'ERR_TOKEN_NOT_FOUND',
      'ERR_INVALID_ARG_VALUE',
      'ERR_PKCS11_PIN_INCORRECT',
      'ERR_INVALID_ARG_VALUE',
    ]);
    for (const e of errors) {
      expect(e).toBeInstanceOf(Error); // recorded for the leak check
      const text = JSON.stringify({ ...(e as object), message: (e as Error).message, stack: (e as Error).stack });
      expect(text).not.toContain(URI_PIN);
      expect(text).not.toContain(WRONG_PIN);
    }
  });
});
