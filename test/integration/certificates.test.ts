// Certificates published with keys (x5c, x5t#S256), on SoftHSM and SQLite: made with openssl for
// keys on the token (signed there through libp11's pkcs11 engine) and for software keys, imported
// with `hsm-jwks keys cert import` and importCertificate, and checked with jose's importX509 and
// `openssl x509 -pubkey`; refused when they are another key's or do not link; written behind our
// back with pkcs11-tool and skipped with a warning when they are not the key's.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import Database from 'better-sqlite3';
import { exportJWK, importX509, jwtVerify } from 'jose';

import { loadConfig } from '../../lib/config';
import { createKeyManager } from '../../lib/keys/create';
import type { KeyRing } from '../../lib/keys/key-ring';
import { Pkcs11Module } from '../../lib/pkcs11/module';
import { Token } from '../../lib/pkcs11/token';
import { CLI } from '../helpers/cli';
import { execFileSync, spawnSync } from '../helpers/recording-child-process';
import { CertMaker, pkcs11Engine, type Ca } from '../helpers/openssl-certs';
import { selfSignedBySigner } from '../helpers/signer-cert';
import { hsmEnv, SOFTHSM_MODULE, softHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm';
import { warningLogger } from '../helpers/warning-logger';

const SECRET = 'a-certificate-test-secret-of-32-chars';
const TOKEN = 'certs';
const engine = pkcs11Engine();

type AnyJwk = Record<string, unknown> & { kid: string; x5c?: string[]; 'x5t#S256'?: string };

let hsm: SoftHsm;
let dir: string;
let km: KeyRing;
let certs: CertMaker;
let root: Ca;
let intermediate: Ca;
const { logger, warnings } = warningLogger();

const env = () => ({
  PATH: process.env.PATH,
  SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
  ...hsmEnv(TOKEN, `sqlite://${path.join(dir, 'keys.sqlite')}`, SECRET),
  LOG_LEVEL: 'warn',
});
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: env(), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const tool = (args: string[]) => hsm.pkcs11Tool(['--token-label', TOKEN, '--login', '--pin', USER_PIN, ...args]);
const idOf = (kid: string) => Buffer.from(kid, 'utf8');
const write = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
const der = (pem: string) => new X509Certificate(pem).raw;
const pemOf = (b64: string) =>
  `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

async function jwkOf(set: string, kid: string): Promise<AnyJwk> {
  km.invalidate(set);
  const found = (await km.getKeySet(set)).keys.find((k) => k.kid === kid);
  if (!found) throw new Error(`no ${kid} in ${set}`);
  return found as unknown as AnyJwk;
}

/** The public members of a JWK, as node:crypto exports them. */
const members = (jwk: Record<string, unknown>) => {
  const { kty, n, e, crv, x, y } = jwk;
  return Object.fromEntries(Object.entries({ kty, n, e, crv, x, y }).filter(([, v]) => v !== undefined));
};

/** What a verifier checks: x5c[0] is the JWK's key (jose's importX509, openssl), x5t#S256 its hash, each certificate signed by the next. */
async function expectCertified(jwk: AnyJwk, alg: string, chainLength: number): Promise<void> {
  expect(jwk.x5c).toHaveLength(chainLength);
  const leaf = pemOf(jwk.x5c![0]!);
  expect(Buffer.from(jwk.x5c![0]!, 'base64').toString('base64')).toBe(jwk.x5c![0]); // standard base64, not base64url
  expect(members(await exportJWK(await importX509(leaf, alg)))).toEqual(members(jwk));
  const pubkey = execFileSync('openssl', ['x509', '-noout', '-pubkey', '-in', write('leaf-check.pem', leaf)], {
    encoding: 'utf8',
  });
  expect(members(createPublicKey(pubkey).export({ format: 'jwk' }))).toEqual(members(jwk));
  expect(jwk['x5t#S256']).toBe(createHash('sha256').update(Buffer.from(jwk.x5c![0]!, 'base64')).digest('base64url'));
  const chain = jwk.x5c!.map((b) => new X509Certificate(Buffer.from(b, 'base64')));
  for (let i = 0; i + 1 < chain.length; i++) expect(chain[i]!.verify(chain[i + 1]!.publicKey)).toBe(true);
}

/** The token's certificate objects under a kid's CKA_ID, as pkcs11-tool lists them. */
function tokenCertificates(kid: string): string[] {
  const listing = tool(['--list-objects', '--type', 'cert']);
  return listing
    .split(/\n(?=Certificate Object)/)
    .filter((o) => o.includes('Certificate Object') && new RegExp(`ID:\\s+${idOf(kid).toString('hex')}\\b`).test(o));
}

if (!engine.ok) {
  if (process.env.CI === 'true')
    test('the pkcs11 engine for openssl is installed (CI installs it)', () => expect(engine).toEqual({ ok: true }));
  else console.warn(`skipping the certificate tests on the token: ${engine.why}`);
}
const describeEngine = engine.ok ? describe : describe.skip;

beforeAll(async () => {
  hsm = softHsm();
  hsm.initToken(TOKEN);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-certs-'));
  km = (await createKeyManager(loadConfig(env()), { logger })) as KeyRing;
  certs = new CertMaker(dir, TOKEN);
  if (engine.ok) {
    root = certs.ca('hsm-jwks test root');
    intermediate = certs.ca('hsm-jwks test intermediate', root);
  }
});

afterAll(async () => {
  await km?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describeEngine('HSM keys: certificate objects on the token', () => {
  beforeAll(async () => {
    await km.generateAndPersistKeySet('certs.ec', 'ec-1', 'ES256', 'sig');
    // openssl's engine signs RSA with CKM_RSA_PKCS, which our keys do not allow (they pin
    // CKM_SHA256_RSA_PKCS): this one is made by pkcs11-tool, as in Hydra's guide.
    tool([
      '--keypairgen',
      '--key-type',
      'rsa:2048',
      '--usage-sign',
      '--label',
      'certs.rsa',
      '--id',
      idOf('rsa-1').toString('hex'),
    ]);
  });

  test('EC P-256: `keys cert import` of a self-signed certificate made on the token; x5c and x5t#S256 in the JWKS', async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.build.json\``);
    const help = cli(['keys', 'cert', 'import', '--help']);
    expect({ code: help.code, usage: help.stdout.split('\n')[0] }).toEqual({
      code: 0,
      usage: expect.stringMatching(/^usage: hsm-jwks keys cert import <set> <kid> <pem-file>/),
    });
    expect(cli(['keys', '--help']).stdout).toContain('keys cert remove');
    expect(cli(['keys', 'cert', 'import', 'certs.ec']).code).toBe(2); // missing <kid>: a usage error
    const pem = certs.selfSigned(idOf('ec-1'), 'ec-1 leaf');
    const r = cli(['keys', 'cert', 'import', 'certs.ec', 'ec-1', write('ec.pem', pem)]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 0,
      stderr: expect.stringContaining('published 1 certificate(s)'),
    });
    const answer = JSON.parse(r.stdout);
    expect(answer).toMatchObject({
      set: 'certs.ec',
      kid: 'ec-1',
      where: 'hsm',
      certificates: [{ subject: 'CN=ec-1 leaf' }],
    });

    const jwk = await jwkOf('certs.ec', 'ec-1');
    expect(jwk.x5c).toEqual([der(pem).toString('base64')]);
    expect(jwk['x5t#S256']).toBe(answer['x5t#S256']);
    await expectCertified(jwk, 'ES256', 1);
    // A JWT the token signs verifies with the key in x5c[0].
    const jwt = await km.signJwt('certs.ec', { sub: 'alice' });
    await expect(jwtVerify(jwt, await importX509(pemOf(jwk.x5c![0]!), 'ES256'))).resolves.toBeDefined();

    // The object: X.509, the key's CKA_ID and label, its subject and serial; its DER is the certificate.
    const [object, ...more] = tokenCertificates('ec-1');
    expect(more).toEqual([]);
    expect(object).toMatch(/label:\s+certs\.ec/);
    expect(object).toMatch(/subject:\s+DN: CN=ec-1 leaf/);
    expect(object).toMatch(new RegExp(`serial:\\s+${new X509Certificate(pem).serialNumber}\\b`, 'i')); // CKA_SERIAL_NUMBER: the DER INTEGER
    const read = path.join(dir, 'ec-read.der');
    tool(['--read-object', '--type', 'cert', '--id', idOf('ec-1').toString('hex'), '-o', read]);
    expect(fs.readFileSync(read)).toEqual(der(pem));
  });

  test('RSA: a chain (leaf, intermediate, root) given in any order is published leaf first; a new import replaces it', async () => {
    const leaf = certs.issued(idOf('rsa-1'), 'rsa-1 leaf', intermediate);
    const result = await km.importCertificate('certs.rsa', 'rsa-1', root.pem + leaf + intermediate.pem);
    expect(result.certificates.map((c) => c.subject)).toEqual([
      'CN=rsa-1 leaf',
      'CN=hsm-jwks test intermediate',
      'CN=hsm-jwks test root',
    ]);
    const jwk = await jwkOf('certs.rsa', 'rsa-1');
    expect(jwk.x5c).toEqual([der(leaf), der(intermediate.pem), der(root.pem)].map((d) => d.toString('base64')));
    await expectCertified(jwk, 'RS256', 3);
    expect(tokenCertificates('rsa-1')).toHaveLength(3);

    // Importing again replaces: the new objects are written, the old ones destroyed.
    const again = certs.selfSigned(idOf('rsa-1'), 'rsa-1 renewed');
    await km.importCertificate('certs.rsa', 'rsa-1', again);
    const renewed = await jwkOf('certs.rsa', 'rsa-1');
    expect(renewed.x5c).toEqual([der(again).toString('base64')]);
    await expectCertified(renewed, 'RS256', 1);
    expect(tokenCertificates('rsa-1')).toHaveLength(1);
  });

  test('RSA-4096 made by hsm-jwks: a certificate signed through our own signer on the token', async () => {
    await km.generateAndPersistKeySet('certs.rsa4096', 'rsa-2', 'RS256', 'sig'); // RSA-4096, as Hydra
    const pem = await selfSignedBySigner(await km.signer('certs.rsa4096', 'rsa-2'), 'rsa-2 leaf');
    const r = cli(['keys', 'cert', 'import', 'certs.rsa4096', 'rsa-2', write('rsa-2.pem', pem)]);
    expect({ code: r.code, where: r.code === 0 && JSON.parse(r.stdout).where }).toEqual({ code: 0, where: 'hsm' });
    const jwk = await jwkOf('certs.rsa4096', 'rsa-2');
    expect(jwk.x5c).toEqual([der(pem).toString('base64')]);
    await expectCertified(jwk, 'RS256', 1);
    const jwt = await km.signJwt('certs.rsa4096', { sub: 'carol' });
    await expect(jwtVerify(jwt, await importX509(pemOf(jwk.x5c![0]!), 'RS256'))).resolves.toBeDefined();
  });

  test('certificates are read with the set (cached with it), never when signing', async () => {
    const find = jest.spyOn(Token.prototype, 'findCertificates');
    try {
      km.invalidate('certs.ec');
      await km.getKeySet('certs.ec');
      expect(find).toHaveBeenCalledTimes(1); // one search for the set's keys
      find.mockClear();
      for (let i = 0; i < 20; i++) await km.signJwt('certs.ec', { sub: `user-${i}` });
      await km.getKeySet('certs.ec');
      expect(find).not.toHaveBeenCalled();
    } finally {
      find.mockRestore();
    }
  });

  test("another key's certificate, an unknown kid, a chain that does not link and a file without a certificate are refused", async () => {
    const ecLeaf = certs.selfSigned(idOf('ec-1'), 'ec-1 for rsa');
    await expect(km.importCertificate('certs.rsa', 'rsa-1', ecLeaf)).rejects.toMatchObject({
      code: 'ERR_CERT_KEY_MISMATCH',
    });
    await expect(km.importCertificate('certs.rsa', 'nope', ecLeaf)).rejects.toMatchObject({
      code: 'ERR_KEY_NOT_FOUND',
    });
    const other = certs.ca('an unrelated CA');
    await expect(km.importCertificate('certs.ec', 'ec-1', ecLeaf + other.pem)).rejects.toMatchObject({
      code: 'ERR_CERT_CHAIN_INVALID',
    });
    await expect(km.importCertificate('certs.ec', 'ec-1', 'not a certificate')).rejects.toMatchObject({
      code: 'ERR_CERT_INVALID',
    });
    const mangled = `-----BEGIN CERTIFICATE-----\nAAAA${ecLeaf.split('\n')[2]}\n-----END CERTIFICATE-----\n`;
    await expect(km.importCertificate('certs.ec', 'ec-1', mangled)).rejects.toMatchObject({ code: 'ERR_CERT_INVALID' });

    // The command: the code on stderr, exit 1 (as every failure); an unreadable file is a usage error (2).
    const refused = cli(['keys', 'cert', 'import', 'certs.rsa', 'rsa-1', write('wrong.pem', ecLeaf)]);
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 1, stdout: '' });
    expect(refused.stderr).toContain('ERR_CERT_KEY_MISMATCH');
    const unknown = cli(['keys', 'cert', 'import', 'certs.rsa', 'nope', write('ok.pem', ecLeaf)]);
    expect({ code: unknown.code, error: unknown.stderr.includes('ERR_KEY_NOT_FOUND') }).toEqual({
      code: 1,
      error: true,
    });
    expect(cli(['keys', 'cert', 'import', 'certs.rsa', 'rsa-1', path.join(dir, 'missing.pem')]).code).toBe(2);
    expect(cli(['keys', 'cert', 'import', 'certs.rsa', 'rsa-1', write('empty.pem', 'hello')]).code).toBe(2);

    // Nothing was written: the EC key keeps its certificate.
    expect(tokenCertificates('ec-1')).toHaveLength(1);
  });

  test("a certificate written behind our back with pkcs11-tool that is not the key's is skipped with a warning", async () => {
    await km.generateAndPersistKeySet('certs.foreign', 'fg-1', 'ES256', 'sig');
    const notIts = certs.selfSigned(idOf('ec-1'), 'ec-1 under fg-1');
    const file = path.join(dir, 'not-its.der');
    fs.writeFileSync(file, der(notIts));
    tool(['--write-object', file, '--type', 'cert', '--id', idOf('fg-1').toString('hex')]);
    warnings.length = 0;
    const jwk = await jwkOf('certs.foreign', 'fg-1');
    expect(jwk.x5c).toBeUndefined();
    expect(jwk['x5t#S256']).toBeUndefined();
    expect(warnings).toEqual([
      {
        message: 'a certificate is not published: certificate-mismatch',
        fields: expect.objectContaining({ set: 'certs.foreign', kid: 'fg-1', where: 'hsm' }),
      },
    ]);
    expect((await km.problems()).filter((p) => p.kid === 'fg-1').map((p) => p.kind)).toEqual(['certificate-mismatch']);
    // The command reports it as an object that cannot be used: keys list and doctor exit 1, naming the repair.
    const listed = cli(['keys', 'list']);
    expect(listed.code).toBe(1);
    expect(JSON.parse(listed.stdout).map((k: { kid: string }) => k.kid)).toContain('fg-1');
    expect(listed.stderr).toContain(
      'not published: a certificate of key "fg-1" of set "certs.foreign" (hsm): certificate-mismatch',
    );
    const doctor = cli(['doctor']);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout + doctor.stderr).toContain('is published, not its certificate: certificate-mismatch');
    expect(doctor.stdout + doctor.stderr).toContain('hsm-jwks keys cert remove certs.foreign fg-1');
    // Still signs, and the JWT verifies with the published key.
    const jwt = await km.signJwt('certs.foreign', { sub: 'bob' });
    await expect(jwtVerify(jwt, await importX509(notIts, 'ES256'))).rejects.toThrow(); // not with the stray certificate's

    // Its own certificate, imported, replaces the stray one; `keys cert remove` removes it.
    const own = certs.selfSigned(idOf('fg-1'), 'fg-1 own');
    await km.importCertificate('certs.foreign', 'fg-1', own);
    await expectCertified(await jwkOf('certs.foreign', 'fg-1'), 'ES256', 1);
    expect(tokenCertificates('fg-1')).toHaveLength(1);
    expect((await km.problems()).filter((p) => p.kid === 'fg-1')).toEqual([]);
    const removed = cli(['keys', 'cert', 'remove', 'certs.foreign', 'fg-1']);
    expect({ code: removed.code, answer: JSON.parse(removed.stdout) }).toEqual({
      code: 0,
      answer: { set: 'certs.foreign', kid: 'fg-1', removed: 1 },
    });
    expect((await jwkOf('certs.foreign', 'fg-1')).x5c).toBeUndefined();
    expect(tokenCertificates('fg-1')).toEqual([]);
  });

  test("a CA certificate under the key's CKA_ID that certifies nothing in its chain is left out, with a warning", async () => {
    const stray = certs.ca('stray CA');
    const file = path.join(dir, 'stray.der');
    fs.writeFileSync(file, der(stray.pem));
    tool(['--write-object', file, '--type', 'cert', '--id', idOf('ec-1').toString('hex')]);
    warnings.length = 0;
    const jwk = await jwkOf('certs.ec', 'ec-1');
    await expectCertified(jwk, 'ES256', 1);
    expect(warnings.map((w) => [w.message, w.fields?.kid])).toEqual([
      ['a certificate is not published: certificate-invalid', 'ec-1'],
    ]);
  });

  test('the token layer: found by CKA_ID one by one or from one listing; arguments checked before any call', async () => {
    const mod = await Pkcs11Module.load(SOFTHSM_MODULE);
    const token = await mod.openToken({ tokenLabel: TOKEN }, { pin: USER_PIN });
    try {
      const ids = ['ec-1', 'rsa-1', 'rsa-2'].map(idOf);
      const count = (found: Array<{ id: Buffer }>) =>
        Object.fromEntries(ids.map((id) => [id.toString(), found.filter((c) => c.id.equals(id)).length]));
      const expected = { 'ec-1': 2, 'rsa-1': 1, 'rsa-2': 1 }; // ec-1: its certificate and the stray CA
      expect(count(await token.findCertificates({ ids }))).toEqual(expected); // one listing
      expect(
        count([
          ...(await token.findCertificates({ ids: ids.slice(0, 2) })),
          ...(await token.findCertificates({ ids: ids.slice(2) })),
        ]),
      ).toEqual(expected); // searches by CKA_ID
      expect(count(await token.findCertificates())).toEqual(expected);
      expect(await token.findCertificates({ ids: [] })).toEqual([]);
      const leaf = (await token.findCertificates({ ids: [idOf('rsa-2')] }))[0]!;
      expect(new X509Certificate(leaf.value).subject).toBe('CN=rsa-2 leaf');
      expect(leaf.label).toBe('certs.rsa4096');
      await expect(
        token.replaceCertificates({ id: idOf('rsa-2'), label: 'x', values: [Buffer.from('not DER')] }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await expect(token.replaceCertificates({ id: Buffer.alloc(0), label: 'x', values: [] })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG_VALUE',
      });
      expect(count(await token.findCertificates({ ids }))).toEqual(expected); // nothing was touched
    } finally {
      await token.close();
      await mod.close();
    }
  });

  test('deleting a key destroys its certificates', async () => {
    await km.generateAndPersistKeySet('certs.gone', 'gone-1', 'ES256', 'sig');
    await km.importCertificate('certs.gone', 'gone-1', certs.selfSigned(idOf('gone-1'), 'gone-1'));
    expect(tokenCertificates('gone-1')).toHaveLength(1);
    await km.deleteKey('certs.gone', 'gone-1');
    expect(tokenCertificates('gone-1')).toEqual([]);
  });
});

describe('software keys: the chain sealed in the store', () => {
  const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
  const privateJwk = (kid: string) => ({
    ...createPrivateKey(keyPem).export({ format: 'jwk' }),
    kid,
    alg: 'ES256',
    use: 'sig',
  });

  test('at most 16 certificates, as on the token: a longer file is refused before anything is written', async () => {
    await km.addKey('certs.long', privateJwk('long-1'));
    const leaf = certs.selfSignedFromKey(keyPem, 'long-1');
    await expect(km.importCertificate('certs.long', 'long-1', leaf.repeat(17))).rejects.toMatchObject({
      code: 'ERR_CERT_CHAIN_INVALID',
    });
    expect((await jwkOf('certs.long', 'long-1')).x5c).toBeUndefined();
  });

  test('imported, published, tamper-evident, and deleted with the key', async () => {
    await km.addKey('certs.soft', privateJwk('sw-1'));
    const leaf = certs.selfSignedFromKey(keyPem, 'sw-1');
    const result = await km.importCertificate('certs.soft', 'sw-1', leaf);
    expect(result).toMatchObject({ where: 'software', certificates: [{ subject: 'CN=sw-1' }] });
    await expectCertified(await jwkOf('certs.soft', 'sw-1'), 'ES256', 1);

    // The chain is a sealed row: moved to another kid (or edited), it no longer opens.
    const db = new Database(path.join(dir, 'keys.sqlite'));
    try {
      const [row] = db
        .prepare('SELECT set_name, kid, sealed FROM key_certificates WHERE kid = ?')
        .all('sw-1') as Array<{
        sealed: Buffer;
      }>;
      expect(row!.sealed.includes(Buffer.from('BEGIN CERTIFICATE'))).toBe(false); // sealed, not in clear
      await km.addKey('certs.soft', privateJwk('sw-2')); // the same key: only the seal tells the chain is not its own
      db.prepare('INSERT INTO key_certificates (set_name, kid, sealed) VALUES (?, ?, ?)').run(
        'certs.soft',
        'sw-2',
        row!.sealed,
      );
    } finally {
      db.close();
    }
    warnings.length = 0;
    const sw2 = await jwkOf('certs.soft', 'sw-2');
    expect(sw2.x5c).toBeUndefined();
    expect(warnings.map((w) => [w.message, w.fields?.kid])).toEqual([
      ['a certificate is not published: certificate-invalid', 'sw-2'],
    ]);
    expect(String(warnings[0]!.fields?.detail)).toContain('ERR_SEAL_TAMPERED');

    await expect(km.importCertificate('certs.soft', 'sw-1', certs.ca('not sw-1').pem)).rejects.toMatchObject({
      code: 'ERR_CERT_KEY_MISMATCH',
    });
    expect(await km.removeCertificate('certs.soft', 'sw-2')).toBe(1);
    await km.deleteKey('certs.soft', 'sw-1');
    const db2 = new Database(path.join(dir, 'keys.sqlite'));
    try {
      expect(db2.prepare('SELECT kid FROM key_certificates WHERE set_name = ?').all('certs.soft')).toEqual([]);
    } finally {
      db2.close();
    }
  });

  test('a symmetric key has no public key to certify', async () => {
    await km.generateAndPersistKeySet('certs.hmac', 'hs-1', 'HS256', 'sig').catch(() => undefined); // refused with an HSM
    await km.addKey('certs.hmac', {
      kty: 'oct',
      kid: 'hs-1',
      alg: 'HS256',
      use: 'sig',
      k: Buffer.alloc(32, 7).toString('base64url'),
    });
    await expect(
      km.importCertificate('certs.hmac', 'hs-1', certs.selfSignedFromKey(keyPem, 'hs-1')),
    ).rejects.toMatchObject({
      code: 'ERR_CERT_KEY_MISMATCH',
    });
  });
});
