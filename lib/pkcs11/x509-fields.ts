// The fields of an X.509 certificate that a PKCS#11 certificate object repeats as attributes
// (CKA_SERIAL_NUMBER, CKA_ISSUER, CKA_SUBJECT), cut from its DER as they are encoded there (the
// serial number as its DER INTEGER, the names as their DER Name), as pkcs11-tool --write-object does.
// A walk over the TBSCertificate's first fields (RFC 5280 §4.1), nothing more: node:crypto parses the
// certificate itself.
import { X509Certificate } from 'node:crypto';

import { invalidArgValue } from '../errors';

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const VERSION = 0xa0; // [0] EXPLICIT

interface Tlv {
  tag: number;
  /** Offset of the tag. */
  start: number;
  /** Offset of the contents. */
  body: number;
  /** Offset after the contents. */
  end: number;
}

function readTlv(der: Buffer, at: number, limit: number, tag: number): Tlv {
  const fail = () => invalidArgValue('certificate', 'X.509 DER (Certificate, TBSCertificate)', der);
  if (at + 2 > limit || der[at] !== tag) throw fail();
  let length = der[at + 1]!;
  let body = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || body + n > limit) throw fail();
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[body + i]!;
    body += n;
  }
  const end = body + length;
  if (end > limit) throw fail();
  return { tag, start: at, body, end };
}

export interface CertificateFields {
  /** The DER INTEGER (tag, length and value) of the serial number. */
  serialNumber: Buffer;
  /** The DER Name of the issuer. */
  issuer: Buffer;
  /** The DER Name of the subject. */
  subject: Buffer;
}

/** The fields of a certificate's DER; ERR_INVALID_ARG_VALUE when it is not an X.509 certificate. */
export function certificateFields(der: Buffer): CertificateFields {
  try {
    new X509Certificate(der); // node:crypto's checks first: a walk over its fields is not a parser
  } catch {
    throw invalidArgValue('certificate', 'an X.509 certificate in DER', der);
  }
  const cert = readTlv(der, 0, der.length, SEQUENCE);
  const tbs = readTlv(der, cert.body, cert.end, SEQUENCE);
  let at = tbs.body;
  if (der[at] === VERSION) at = readTlv(der, at, tbs.end, VERSION).end;
  const serial = readTlv(der, at, tbs.end, INTEGER);
  const signature = readTlv(der, serial.end, tbs.end, SEQUENCE);
  const issuer = readTlv(der, signature.end, tbs.end, SEQUENCE);
  const validity = readTlv(der, issuer.end, tbs.end, SEQUENCE);
  const subject = readTlv(der, validity.end, tbs.end, SEQUENCE);
  const cut = (t: Tlv) => Buffer.from(der.subarray(t.start, t.end));
  return { serialNumber: cut(serial), issuer: cut(issuer), subject: cut(subject) };
}
