// Certificates made with the openssl command for the certificate tests: for keys on a SoftHSM token
// through libp11's pkcs11 engine (Debian: libengine-pkcs11-openssl; scripts/install-system-deps.sh
// installs it), the PIN in a 0600 engine configuration (never on a command line), and for software
// keys and CAs from key files. pkcs11Engine() says whether the engine is there, and why not.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { execFileSync } from './recording-child-process';
import { SOFTHSM_MODULE, USER_PIN } from './softhsm';

/** Whether openssl and its pkcs11 engine are installed. */
export function pkcs11Engine(): { ok: true } | { ok: false; why: string } {
  let dir: string;
  try {
    const out = execFileSync('openssl', ['version', '-e'], { encoding: 'utf8' });
    dir = /ENGINESDIR: "([^"]*)"/.exec(out)?.[1] ?? '';
  } catch (e) {
    return { ok: false, why: `no openssl command (${(e as Error).message})` };
  }
  const engine = path.join(dir, 'pkcs11.so');
  return fs.existsSync(engine)
    ? { ok: true }
    : { ok: false, why: `${engine} is missing: apt-get install libengine-pkcs11-openssl` };
}

/** A percent-encoded CKA_ID for a PKCS#11 URI (RFC 7512). */
const pct = (id: Buffer) => [...id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

export interface Ca {
  pem: string;
  /** The CA's key and certificate files. */
  key: string;
  cert: string;
}

export class CertMaker {
  readonly #dir: string;
  readonly #conf: string;
  #n = 0;

  constructor(
    dir: string,
    private readonly tokenLabel: string,
  ) {
    this.#dir = dir;
    this.#conf = path.join(dir, 'engine.cnf');
    const conf = [
      'openssl_conf = openssl_init',
      '[openssl_init]',
      'engines = engine_section',
      '[engine_section]',
      'pkcs11 = pkcs11_section',
      '[pkcs11_section]',
      'engine_id = pkcs11',
      `MODULE_PATH = ${SOFTHSM_MODULE}`,
      `PIN = ${USER_PIN}`,
      'init = 0',
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'CN = unused',
      '[ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      '',
    ].join('\n');
    fs.writeFileSync(this.#conf, conf, { mode: 0o600 });
  }

  #file(ext: string): string {
    return path.join(this.#dir, `f${++this.#n}.${ext}`);
  }

  #openssl(args: string[], engine = false): void {
    execFileSync('openssl', args, {
      env: {
        PATH: process.env.PATH,
        SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
        ...(engine ? { OPENSSL_CONF: this.#conf } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  #tokenKey(id: Buffer): string[] {
    return [
      '-engine',
      'pkcs11',
      '-keyform',
      'engine',
      '-key',
      `pkcs11:token=${this.tokenLabel};id=${pct(id)};type=private`,
    ];
  }

  /** A self-signed certificate of the token key with CKA_ID `id`, signed on the token. */
  selfSigned(id: Buffer, cn: string): string {
    const out = this.#file('pem');
    this.#openssl(
      ['req', '-new', '-x509', ...this.#tokenKey(id), '-subj', `/CN=${cn}`, '-days', '30', '-sha256', '-out', out],
      true,
    );
    return fs.readFileSync(out, 'utf8');
  }

  /** A certificate of the token key with CKA_ID `id` issued by `ca` (the request signed on the token). */
  issued(id: Buffer, cn: string, ca: Ca): string {
    const csr = this.#file('csr');
    this.#openssl(['req', '-new', ...this.#tokenKey(id), '-subj', `/CN=${cn}`, '-sha256', '-out', csr], true);
    return this.#sign(csr, ca, false);
  }

  /** A certificate of a key file's key (PEM), self-signed. */
  selfSignedFromKey(keyPem: string, cn: string): string {
    const key = this.#file('key');
    fs.writeFileSync(key, keyPem, { mode: 0o600 });
    const out = this.#file('pem');
    this.#openssl(['req', '-new', '-x509', '-key', key, '-subj', `/CN=${cn}`, '-days', '30', '-out', out]);
    return fs.readFileSync(out, 'utf8');
  }

  /** A CA with a new P-256 key (no engine: openssl alone): a root (self-signed) or, with `issuer`, an intermediate. */
  ca(cn: string, issuer?: Ca): Ca {
    const key = this.#file('key');
    this.#openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    const csr = this.#file('csr');
    this.#openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr]);
    const pem = issuer ? this.#sign(csr, issuer, true) : this.#signSelf(csr, key);
    const cert = this.#file('pem');
    fs.writeFileSync(cert, pem);
    return { pem, key, cert };
  }

  #signSelf(csr: string, key: string): string {
    const out = this.#file('pem');
    this.#openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-signkey',
      key,
      '-days',
      '30',
      '-extfile',
      this.#conf,
      '-extensions',
      'ca',
      '-out',
      out,
    ]);
    return fs.readFileSync(out, 'utf8');
  }

  #sign(csr: string, ca: Ca, asCa: boolean): string {
    const out = this.#file('pem');
    this.#openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      String(1000 + this.#n),
      '-days',
      '30',
      '-sha256',
      ...(asCa ? ['-extfile', this.#conf, '-extensions', 'ca'] : []),
      '-out',
      out,
    ]);
    return fs.readFileSync(out, 'utf8');
  }
}
