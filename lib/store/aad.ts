// What a sealed envelope authenticates besides its plaintext (AES-GCM AAD): the row it belongs to
// and every column that decides behaviour, so that no SQL edit without a secret goes unnoticed.
//   key row, v1 (opened only):  0x01 ‖ UTF-8 JSON ["hsm-jwks/key-row/v1", set, kid]
//   key row, v2:                0x02 ‖ UTF-8 JSON ["hsm-jwks/key-row/v2", set, kid, alg, use,
//                                      createdAtMs, activateAtMs|null, retireAtMs|null, removeAtMs|null]
//   HSM key record, v2:         0x02 ‖ UTF-8 JSON ["hsm-jwks/hsm-record/v2", <the same fields>]
//   certificate chain, v2:      0x02 ‖ UTF-8 JSON ["hsm-jwks/key-certificates/v2", set, kid]
// Distinct labels keep an envelope of one kind from passing as the other. Times are integer ms
// since the epoch, so JSON.stringify gives one spelling for one value.
import type { RowRef } from './errors';
import { ENVELOPE_V1, ENVELOPE_V2, type EnvelopeVersion } from './sealing';

export const KEY_ROW_V1_LABEL = 'hsm-jwks/key-row/v1';
export const KEY_ROW_V2_LABEL = 'hsm-jwks/key-row/v2';
export const HSM_RECORD_V2_LABEL = 'hsm-jwks/hsm-record/v2';
export const CERTIFICATES_V2_LABEL = 'hsm-jwks/key-certificates/v2';

/** The columns a v2 envelope binds, as stored (times in ms since the epoch, null when not scheduled). */
export interface BoundColumns {
  set: string;
  kid: string;
  alg: string;
  use: string;
  createdAt: number;
  activateAt: number | null;
  retireAt: number | null;
  removeAt: number | null;
}

function encode(version: EnvelopeVersion, fields: readonly unknown[]): Buffer {
  return Buffer.concat([Buffer.from([version]), Buffer.from(JSON.stringify(fields), 'utf8')]);
}

function boundFields(label: string, c: BoundColumns): unknown[] {
  return [label, c.set, c.kid, c.alg, c.use, c.createdAt, c.activateAt, c.retireAt, c.removeAt];
}

export function keyRowAadV1(row: RowRef): Buffer {
  return encode(ENVELOPE_V1, [KEY_ROW_V1_LABEL, row.set, row.kid]);
}

export function keyRowAadV2(columns: BoundColumns): Buffer {
  return encode(ENVELOPE_V2, boundFields(KEY_ROW_V2_LABEL, columns));
}

export function hsmRecordAad(columns: BoundColumns): Buffer {
  return encode(ENVELOPE_V2, boundFields(HSM_RECORD_V2_LABEL, columns));
}

/** A software key's certificate chain: its plaintext is the chain, so the AAD binds only whose it is. */
export function certificatesAad(row: RowRef): Buffer {
  return encode(ENVELOPE_V2, [CERTIFICATES_V2_LABEL, row.set, row.kid]);
}
