// Certificates published with keys: `x5c` and `x5t#S256` in the key's public JWK. Where a key's
// certificates are kept is its source's business (key-certificates.ts); what is published is
// decided here, the same way for both: the certificate whose public key is the key's, followed by
// the certificates that certify it in turn (issuer name and signature checked, each by the next).
// At a read, a certificate that is another key's, does not parse or does not link is left out and
// reported (a warning and doctor, as a KeyProblem that does not stop the key being published);
// nothing is thrown. An import is checked by the same rules and refused when they fail.
import {
  certifiesKey,
  chainFrom,
  describeCertificate,
  linkedLength,
  parseCertificate,
  pemCertificates,
  x5cMembers,
  type X509Certificate,
} from '../jose/x509';
import { MAX_CERTIFICATES } from '../pkcs11/certificates';
import { KeyManagerError } from './errors';
import type { KeyEntry, KeyProblem } from './key-entry';
import { cliCommand } from './names';

/** What a source holds for one key. */
export interface HeldCertificates {
  /** DER of each certificate. */
  ders: readonly Buffer[];
  /** A stored chain, the key's certificate first (the store), or objects in no order (the token). */
  ordered: boolean;
  /** Where they are, for messages: 'on the token (CKA_ID …)', 'in the store'. */
  where: string;
}

/** What `keys cert import` answers. */
export interface CertificateImport {
  set: string;
  kid: string;
  where: KeyEntry['where'];
  'x5t#S256': string;
  /** The chain as published, the key's certificate first. */
  certificates: Array<{
    subject: string;
    issuer: string;
    serialNumber: string;
    notAfter: string;
    fingerprint256: string;
  }>;
}

const REPAIR = (e: KeyEntry) =>
  `${cliCommand('keys cert import', [e.set, e.kid], '<chain.pem>')}   (replaces them), or ${cliCommand('keys cert remove', [e.set, e.kid])}`;

/** The entry with the x5c of its certificates, and what is wrong with those it leaves out. */
export function withCertificates<E extends KeyEntry>(
  entry: E,
  held: HeldCertificates,
): { entry: E; problems: KeyProblem[] } {
  const problems: KeyProblem[] = [];
  const problem = (kind: 'certificate-mismatch' | 'certificate-invalid', detail: string) =>
    problems.push({ kind, set: entry.set, kid: entry.kid, where: entry.where, detail, repair: REPAIR(entry) });
  const unique = [...new Map(held.ders.map((d) => [d.toString('base64'), d])).values()];
  const parsed = unique.map(parseCertificate);
  const certs = parsed.filter((c): c is X509Certificate => c !== undefined);
  const bad = parsed.length - certs.length;
  if (bad > 0) problem('certificate-invalid', `${bad} certificate(s) ${held.where} are not X.509: not published`);
  if (certs.length === 0 || (held.ordered && bad > 0)) return { entry, problems };
  const jwk = entry.publicJwk;
  const leaves = jwk ? certs.filter((c) => certifiesKey(c, jwk)) : [];
  if (!jwk || leaves.length === 0 || (held.ordered && leaves[0] !== certs[0])) {
    problem(
      'certificate-mismatch',
      `the certificate ${held.where} is not this key's (its public key is another's): ${(held.ordered ? certs.slice(0, 1) : certs).map(describeCertificate).join('; ')}; the key is published without x5c`,
    );
    return { entry, problems };
  }
  let chain: X509Certificate[];
  if (held.ordered) {
    const n = linkedLength(certs);
    chain = certs.slice(0, n);
    if (n < certs.length)
      problem(
        'certificate-invalid',
        `the stored chain breaks after ${n} certificate(s): ${describeCertificate(certs[n]!)} does not certify the one before it; published: the first ${n}`,
      );
  } else {
    // Several of the key's own (a replacement interrupted): the latest notBefore, then the fingerprint.
    const byAge = [...leaves].sort((a, b) => notBefore(b) - notBefore(a) || order(a, b));
    const others = certs.filter((c) => c !== byAge[0]).sort(order);
    const built = chainFrom(byAge[0]!, others);
    chain = built.chain;
    if (built.unused.length > 0)
      problem(
        'certificate-invalid',
        `${built.unused.length} certificate(s) ${held.where} are not in the key's chain (another certificate of the key, or one that certifies nothing in the chain): ${built.unused.map(describeCertificate).join('; ')}; not published`,
      );
  }
  return { entry: { ...entry, publicJwk: { ...jwk, ...x5cMembers(chain) } }, problems };
}

const notBefore = (c: X509Certificate) => Date.parse(c.validFrom) || 0;
const order = (a: X509Certificate, b: X509Certificate) =>
  a.fingerprint256 < b.fingerprint256 ? -1 : a.fingerprint256 > b.fingerprint256 ? 1 : 0;

/** The certificates of a PEM text offered for import (ERR_CERT_INVALID when there is none, or one does not parse). */
export function parseCertificateFile(pem: string): X509Certificate[] {
  if (typeof pem !== 'string') throw new KeyManagerError('ERR_CERT_INVALID', 'certificates are given as a PEM text');
  const ders = pemCertificates(pem);
  if (ders.length === 0)
    throw new KeyManagerError(
      'ERR_CERT_INVALID',
      'no "-----BEGIN CERTIFICATE-----" block: give the certificate (chain) in PEM',
    );
  // The token takes at most this many certificate objects per key; the store takes as many (one rule).
  if (ders.length > MAX_CERTIFICATES)
    throw new KeyManagerError(
      'ERR_CERT_CHAIN_INVALID',
      `${ders.length} certificates: a chain published with a key has at most ${MAX_CERTIFICATES}`,
    );
  return ders.map((der, i) => {
    const cert = parseCertificate(der);
    if (!cert)
      throw new KeyManagerError(
        'ERR_CERT_INVALID',
        `certificate #${i + 1} of ${ders.length} is not an X.509 certificate`,
      );
    return cert;
  });
}

/**
 * The chain to publish with `entry`, from certificates offered in any order: the one whose public
 * key is the key's, then each certificate's issuer among the others. Every certificate offered must
 * be in it (ERR_CERT_CHAIN_INVALID); ERR_CERT_KEY_MISMATCH when none is the key's.
 */
export function chainForKey(entry: KeyEntry, certs: readonly X509Certificate[]): X509Certificate[] {
  const jwk = entry.publicJwk;
  const name = `key ${JSON.stringify(entry.kid)} of JSON Web Key Set ${JSON.stringify(entry.set)}`;
  if (!jwk) throw new KeyManagerError('ERR_CERT_KEY_MISMATCH', `${name} is symmetric: it has no public key to certify`);
  const leaves = certs.filter((c) => certifiesKey(c, jwk));
  if (leaves.length === 0)
    throw new KeyManagerError(
      'ERR_CERT_KEY_MISMATCH',
      `no certificate offered is for ${name}: their public keys are another key's (${certs.map(describeCertificate).join('; ')})`,
    );
  if (leaves.length > 1)
    throw new KeyManagerError(
      'ERR_CERT_CHAIN_INVALID',
      `${leaves.length} certificates offered are for ${name}: give one, with its chain`,
    );
  const { chain, unused } = chainFrom(
    leaves[0]!,
    certs.filter((c) => c !== leaves[0]),
  );
  if (unused.length > 0)
    throw new KeyManagerError(
      'ERR_CERT_CHAIN_INVALID',
      `${unused.map(describeCertificate).join('; ')} certif${unused.length > 1 ? 'y' : 'ies'} nothing in the chain of ${name} (each certificate must be signed by the next, up from the key's)`,
    );
  return chain;
}

export function importSummary(entry: KeyEntry, chain: readonly X509Certificate[]): CertificateImport {
  return {
    set: entry.set,
    kid: entry.kid,
    where: entry.where,
    'x5t#S256': x5cMembers(chain)['x5t#S256'],
    certificates: chain.map((c) => ({
      subject: c.subject.split('\n').join(', '),
      issuer: c.issuer.split('\n').join(', '),
      serialNumber: c.serialNumber,
      notAfter: Number.isNaN(Date.parse(c.validTo)) ? c.validTo : new Date(c.validTo).toISOString(),
      fingerprint256: c.fingerprint256,
    })),
  };
}
