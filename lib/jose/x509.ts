// X.509 certificates in JWKs (RFC 7517 §4.7 and §4.9): `x5c`, the key's certificate first and each
// one certified by the next, as standard base64 DER (not base64url); `x5t#S256`, the base64url
// SHA-256 of the first one's DER. Which certificate is a key's (its public key is the JWK's: RFC
// 7638 thumbprints compared) and which certifies another (issuer name and signature). node:crypto's
// X509Certificate parses; nothing here decides what is published (lib/keys/certificates.ts does).
import { createHash, X509Certificate } from 'node:crypto';

import { type PublicJwk, thumbprintOf } from './jwk';

export type { X509Certificate };

/** The members a JWK gets from its certificate chain. */
export interface X5cMembers {
  x5c: string[];
  'x5t#S256': string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;

/** The DER of every CERTIFICATE block of a PEM text, in order; other blocks (keys, CRLs) are ignored. */
export function pemCertificates(text: string): Buffer[] {
  return [...text.matchAll(PEM_CERTIFICATE)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** The certificate in `der`, or undefined when it is not one node:crypto can parse. */
export function parseCertificate(der: Uint8Array): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

/** The chain as a PEM text, in its order. */
export function toPem(chain: readonly X509Certificate[]): string {
  return chain.map((c) => c.toString()).join('');
}

/** Whether the certificate's public key is the JWK's key (a public key node:crypto cannot export as a JWK is not). */
export function certifiesKey(
  cert: X509Certificate,
  jwk: Pick<PublicJwk, 'kty' | 'crv' | 'x' | 'y' | 'n' | 'e'>,
): boolean {
  try {
    const key = cert.publicKey.export({ format: 'jwk' }) as Pick<PublicJwk, 'kty' | 'crv' | 'x' | 'y' | 'n' | 'e'>;
    return key.kty === jwk.kty && thumbprintOf(key) === thumbprintOf(jwk);
  } catch {
    return false;
  }
}

/** Whether `parent` issued `child`: the names chain, and `parent`'s key verifies `child`'s signature. */
export function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/**
 * The chain from `leaf` through `others`, each next certificate the issuer of the one before (the
 * first that is, in `others`' order), up to a self-issued one or the last that can be found; and
 * the certificates of `others` it leaves out.
 */
export function chainFrom(
  leaf: X509Certificate,
  others: readonly X509Certificate[],
): { chain: X509Certificate[]; unused: X509Certificate[] } {
  const chain = [leaf];
  const rest = [...others];
  for (let last = leaf; !issuedBy(last, last); ) {
    const i = rest.findIndex((c) => issuedBy(last, c));
    if (i < 0) break;
    last = rest.splice(i, 1)[0]!;
    chain.push(last);
  }
  return { chain, unused: rest };
}

/** How many certificates from the start of an ordered chain are linked: each one issued by the next. */
export function linkedLength(chain: readonly X509Certificate[]): number {
  let n = Math.min(chain.length, 1);
  while (n < chain.length && issuedBy(chain[n - 1]!, chain[n]!)) n++;
  return n;
}

/** `x5c` and `x5t#S256` of a chain (its first certificate is the key's). */
export function x5cMembers(chain: readonly X509Certificate[]): X5cMembers {
  return {
    x5c: chain.map((c) => c.raw.toString('base64')),
    'x5t#S256': createHash('sha256').update(chain[0]!.raw).digest('base64url'),
  };
}

/** A certificate named in messages: its subject on one line and its SHA-256 fingerprint. */
export function describeCertificate(c: X509Certificate): string {
  return `${JSON.stringify(c.subject.split('\n').join(', '))} (SHA-256 ${c.fingerprint256})`;
}
