// Certificate objects (CKO_CERTIFICATE, CKC_X_509 token objects): found by CKA_ID with their DER
// (CKA_VALUE), and written as pkcs11-tool --write-object writes them (CKA_SUBJECT, CKA_ISSUER and
// CKA_SERIAL_NUMBER from the DER: x509-fields.ts), public (a certificate holds no secret). Found by
// CKA_ID only, never by label: other tools write certificates without one. Replacing the
// certificates of an id is one operation on one session: the new objects first, then the old ones
// destroyed by handle (an identical certificate written again is a new object, the old one goes);
// a failure while writing destroys what that write made.
import { CKA, CKO } from './constants';
import { invalidArgType, invalidArgValue } from '../errors';
import { Pkcs11Error } from './errors';
import { KeyReader, MAX_OBJECTS } from './key-reader';
import { certificateFields, type CertificateFields } from './x509-fields';
import type { NativeModule, NativeTemplate } from '../../binding';

/** CKC_X_509 (CK_CERTIFICATE_TYPE), the only certificate type read or written here. */
export const CKC_X_509 = 0;

/** At most this many certificates are written for one id (a leaf and its chain). */
export const MAX_CERTIFICATES = 16;
/** A larger certificate is refused before the token is asked. */
const MAX_DER_BYTES = 64 * 1024;
/** Up to this many ids are searched one by one; more are picked from one listing of the certificates. */
const SEARCH_PER_ID = 2;

/** A CKO_CERTIFICATE object of type X.509, as found on the token. */
export class CertificateObject {
  /** CKA_ID. */
  readonly id: Buffer;
  /** CKA_LABEL ('' when it has none). */
  readonly label: string;
  /** CKA_VALUE: the certificate's DER. */
  readonly value: Buffer;

  /** @internal Made by Token.findCertificates. */
  constructor(id: Buffer, label: string, value: Buffer) {
    this.id = id;
    this.label = label;
    this.value = value;
  }
}

export interface CertificateQuery {
  /** Only certificates with one of these CKA_IDs (all X.509 certificates when absent). */
  ids?: readonly Uint8Array[];
}

/** What replaceCertificates makes the certificates of one CKA_ID. */
export interface CertificatesSpec {
  /** CKA_ID: the key pair's. */
  id: Uint8Array;
  /** CKA_LABEL of the new objects. */
  label: string;
  /** X.509 certificates in DER, one object each (none: the id's certificates are removed). */
  values: readonly Uint8Array[];
}

export function checkCertificateQuery(query: unknown): { ids: Buffer[] | undefined } {
  if (typeof query !== 'object' || query === null) throw invalidArgType('query', 'an object', query);
  const { ids } = query as { ids?: unknown };
  if (ids === undefined) return { ids: undefined };
  if (!Array.isArray(ids) || !ids.every((id) => id instanceof Uint8Array))
    throw invalidArgType('query.ids', 'an array of Uint8Arrays', ids);
  return { ids: ids.map((id: Uint8Array) => Buffer.from(id)) };
}

/** A CertificatesSpec checked, with the fields each certificate's object repeats. */
export interface CheckedCertificates {
  id: Buffer;
  label: string;
  certificates: Array<{ value: Buffer; fields: CertificateFields }>;
}

export function checkCertificatesSpec(spec: unknown): CheckedCertificates {
  if (typeof spec !== 'object' || spec === null) throw invalidArgType('spec', 'an object', spec);
  const s = spec as { id?: unknown; label?: unknown; values?: unknown };
  if (!(s.id instanceof Uint8Array)) throw invalidArgType('spec.id', 'a Uint8Array', s.id);
  if (s.id.length === 0) throw invalidArgValue('spec.id', 'a non-empty CKA_ID', s.id);
  if (typeof s.label !== 'string') throw invalidArgType('spec.label', 'a string', s.label);
  if (!Array.isArray(s.values) || !s.values.every((v) => v instanceof Uint8Array))
    throw invalidArgType('spec.values', 'an array of Uint8Arrays', s.values);
  if (s.values.length > MAX_CERTIFICATES)
    throw invalidArgValue('spec.values', `at most ${MAX_CERTIFICATES} certificates`, s.values);
  const certificates = (s.values as Uint8Array[]).map((v) => {
    if (v.length > MAX_DER_BYTES)
      throw invalidArgValue('spec.values', `certificates of at most ${MAX_DER_BYTES} bytes`, v);
    const value = Buffer.from(v);
    return { value, fields: certificateFields(value) };
  });
  return { id: Buffer.from(s.id), label: s.label, certificates };
}

const X509: NativeTemplate = [
  [CKA.CLASS, CKO.CERTIFICATE],
  [CKA.CERTIFICATE_TYPE, CKC_X_509],
  [CKA.TOKEN, true],
];

/** Certificate calls through one session that the caller holds for the whole operation. */
export class CertificateReader {
  readonly #objects: KeyReader;

  constructor(
    private readonly native: NativeModule,
    private readonly session: bigint,
  ) {
    this.#objects = new KeyReader(native, session);
  }

  /** The X.509 certificate objects with one of `ids` as CKA_ID (every one without `ids`). */
  async find(ids: readonly Buffer[] | undefined): Promise<CertificateObject[]> {
    if (ids !== undefined && ids.length === 0) return [];
    let handles: bigint[];
    if (ids !== undefined && ids.length <= SEARCH_PER_ID) {
      handles = [];
      for (const id of ids) handles.push(...(await this.#objects.find([...X509, [CKA.ID, id]])));
    } else {
      // One listing (a search scans every object on the token: one per key would cost a scan each).
      handles = await this.#objects.find(X509);
      if (ids !== undefined) {
        const wanted = new Set(ids.map((id) => id.toString('hex')));
        const read = await this.#objects.attributesMany(handles, [CKA.ID]);
        handles = handles.filter((_h, i) => wanted.has(read[i]?.bytes(CKA.ID)?.toString('hex') ?? ''));
      }
    }
    const out: CertificateObject[] = [];
    for (const a of await this.#objects.attributesMany(handles, [CKA.ID, CKA.LABEL, CKA.VALUE])) {
      const value = a?.nonEmptyBytes(CKA.VALUE);
      if (!a || !value) continue; // destroyed since the search, or a certificate without its DER
      out.push(new CertificateObject(a.bytes(CKA.ID) ?? Buffer.alloc(0), a.string(CKA.LABEL) ?? '', value));
    }
    return out;
  }

  /** Writes the certificates of `s.id`, then destroys the ones it had. */
  async replace(s: CheckedCertificates): Promise<{ written: number; removed: number }> {
    const templates = s.certificates.map(
      ({ value, fields }): NativeTemplate => [
        ...X509,
        [CKA.PRIVATE, false],
        [CKA.LABEL, s.label],
        [CKA.ID, s.id],
        [CKA.SUBJECT, fields.subject],
        [CKA.ISSUER, fields.issuer],
        [CKA.SERIAL_NUMBER, fields.serialNumber],
        [CKA.VALUE, value],
      ],
    );
    const old = await this.native.findObjects(this.session, [...X509, [CKA.ID, s.id]], MAX_OBJECTS);
    const made: bigint[] = [];
    try {
      for (const t of templates) made.push(await this.native.createObject(this.session, t));
    } catch (e) {
      for (const h of made) await this.native.destroyObject(this.session, h).catch(() => undefined);
      throw e;
    }
    for (const h of old) {
      await this.native.destroyObject(this.session, h).catch((e: unknown) => {
        if (!(e instanceof Pkcs11Error && e.ckr === 'CKR_OBJECT_HANDLE_INVALID')) throw e; // gone already
      });
    }
    return { written: made.length, removed: old.length };
  }
}
