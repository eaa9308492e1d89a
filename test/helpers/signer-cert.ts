// A self-signed X.509 certificate built here and signed through one of our Signers (RS256: PKCS#1
// v1.5 with SHA-256 is sha256WithRSAEncryption), for keys that other tools cannot sign with: an
// hsm-jwks key on the token pins its one mechanism (CKA_ALLOWED_MECHANISMS: CKM_SHA256_RSA_PKCS),
// where openssl's pkcs11 engine asks for CKM_RSA_PKCS. The minimum of RFC 5280 §4.1 in DER.
import { createPublicKey, randomBytes, X509Certificate } from 'node:crypto';

import type { Signer } from '../../lib/jose/signer';

const length = (n: number): number[] =>
  n < 0x80
    ? [n]
    : n < 0x100
      ? [0x81, n]
      : n < 0x10000
        ? [0x82, n >> 8, n & 0xff]
        : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
const tlv = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag, ...length(body.length)]), body]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const int = (v: Buffer) => tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
const name = (cn: string) => seq(tlv(0x31, seq(tlv(0x06, Buffer.from('550403', 'hex')), tlv(0x0c, Buffer.from(cn)))));
const utcTime = (d: Date) => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`));
/** sha256WithRSAEncryption, NULL parameters. */
const SHA256_RSA = seq(tlv(0x06, Buffer.from('2a864886f70d01010b', 'hex')), Buffer.from([0x05, 0x00]));

/** A self-signed certificate (PEM) of an RS256 signer's key, valid for 30 days. */
export async function selfSignedBySigner(signer: Signer, cn: string): Promise<string> {
  if (signer.alg !== 'RS256' || !signer.publicJwk) throw new Error('an RS256 signer with a public key');
  const spki = createPublicKey({ key: signer.publicJwk as never, format: 'jwk' }).export({
    type: 'spki',
    format: 'der',
  });
  const now = Date.now();
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))), // v3
    int(Buffer.from([0x40 | (now & 0x3f), ...randomBytes(7)])), // a positive serial in minimal DER
    SHA256_RSA,
    name(cn),
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 30 * 86_400_000))),
    name(cn),
    spki,
  );
  const signature = Buffer.from(await signer.sign(tbs));
  const der = seq(tbs, SHA256_RSA, tlv(0x03, Buffer.from([0]), signature));
  return new X509Certificate(der).toString();
}
