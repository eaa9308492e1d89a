// What the token records about each HSM key we make, in a companion CKO_DATA object next to the
// pair: same CKA_LABEL, CKA_APPLICATION "hsm-jwks/key-metadata/v1", private (seen only after
// login), CKA_VALUE the JSON below. So any process that sees the token sees the same alg, use,
// creation time and lifecycle. A record is never edited in place: a change writes a record with a
// higher `rev` and then destroys the old one, so a crash leaves at worst two records, and the
// higher rev wins. Generation writes a `pending` record first and the complete one last: a pair
// whose only record is pending was interrupted, and is never published.
import type { EncKeyAlg, KeyPairAlg } from '../jose/algorithms';
import type { KeyUse } from '../pkcs11/key-spec';
import { lifecycleFromJson, lifecycleToJson, type Lifecycle } from './lifecycle';

export const METADATA_APPLICATION = 'hsm-jwks/key-metadata/v1';

export interface KeyMetadata {
  /** CKA_ID of the pair, as lowercase hex. */
  id: string;
  alg: KeyPairAlg | EncKeyAlg;
  use: KeyUse;
  createdAt: Date | undefined;
  lifecycle: Lifecycle;
  rev: number;
  pending: boolean;
  /**
   * RFC 7638 thumbprint of the key the record is about (absent while pending): a key re-created
   * under the same CKA_ID by another tool does not inherit the record.
   */
  thumbprint?: string;
  /** Moved from an earlier version's unsealed store row: what it says was trusted once, unsealed. */
  migrated?: boolean;
}

export function encodeMetadata(m: KeyMetadata): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      id: m.id,
      alg: m.alg,
      use: m.use,
      createdAt: m.createdAt?.getTime() ?? null,
      ...lifecycleToJson(m.lifecycle),
      rev: m.rev,
      pending: m.pending,
      ...(m.thumbprint ? { thumbprint: m.thumbprint } : {}),
      ...(m.migrated ? { migrated: true } : {}),
    }),
    'utf8',
  );
}

/** A number of ms, or null/absent; anything else makes the record unreadable. */
const instant = (v: unknown) => v === undefined || v === null || (typeof v === 'number' && Number.isSafeInteger(v));

/**
 * The record in a CKA_VALUE, or undefined when it cannot be read as one: damaged, edited, or of
 * another version. Strict on purpose: a record that does not read is never half-trusted (its key
 * is then not published, see hsm-source.ts).
 */
export function decodeMetadata(value: Uint8Array): KeyMetadata | undefined {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(Buffer.from(value).toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j) || j.v !== 1) return undefined;
  if (typeof j.id !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(j.id)) return undefined;
  if (typeof j.alg !== 'string' || (j.use !== 'sig' && j.use !== 'enc')) return undefined;
  if (typeof j.rev !== 'number' || !Number.isSafeInteger(j.rev) || typeof j.pending !== 'boolean') return undefined;
  if (![j.createdAt, j.activateAt, j.retireAt, j.removeAt].every(instant)) return undefined;
  if (j.migrated !== undefined && j.migrated !== true) return undefined;
  if (j.thumbprint !== undefined && (typeof j.thumbprint !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(j.thumbprint)))
    return undefined;
  const createdAt = typeof j.createdAt === 'number' ? new Date(j.createdAt) : undefined;
  const thumbprint = typeof j.thumbprint === 'string' ? { thumbprint: j.thumbprint } : {};
  const migrated = j.migrated === true ? { migrated: true } : {};
  return {
    id: j.id,
    alg: j.alg as KeyMetadata['alg'],
    use: j.use,
    createdAt,
    lifecycle: lifecycleFromJson(j),
    rev: j.rev,
    pending: j.pending,
    ...thumbprint,
    ...migrated,
  };
}

/** Of several records for one key: the complete one with the highest rev, else the highest pending one. */
export function currentRecord<T extends { meta: KeyMetadata }>(records: readonly T[]): T | undefined {
  const complete = records.filter((r) => !r.meta.pending);
  const pool = complete.length > 0 ? complete : records;
  return pool.reduce<T | undefined>(
    (best, r) => (best === undefined || r.meta.rev > best.meta.rev ? r : best),
    undefined,
  );
}
