// AES-256-GCM sealing of store rows. Each configured secret yields, through HKDF-SHA256, an AES key
// and an 8-byte secret id; the first secret seals, every secret opens. An envelope is
//   version (1) ‖ secret id (8) ‖ nonce (12) ‖ ciphertext ‖ GCM tag (16)
// The version says which AAD the envelope was sealed with (aad.ts builds them: 0x01 binds a key
// row's set and kid only; 0x02 binds every column that decides behaviour). The envelope names its
// secret, so opening never tries secrets in turn.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

import { type RowRef, StoreError } from './errors';

/** 0x01: written by earlier versions, opened only; 0x02: what this version writes. */
export type EnvelopeVersion = 0x01 | 0x02;
export const ENVELOPE_V1: EnvelopeVersion = 0x01;
export const ENVELOPE_V2: EnvelopeVersion = 0x02;
export const SECRET_ID_LENGTH = 8;
export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;
/**
 * THE shortest secret (characters) sealing takes: SECRETS_SYSTEM (config.ts) and the docs
 * (configuration.md, keys.md; checked by test/unit/fact-tables.test.ts) follow it.
 */
export const MIN_SECRET_LENGTH = 16;
/** Bytes an envelope adds to its plaintext. */
export const ENVELOPE_OVERHEAD = 1 + SECRET_ID_LENGTH + NONCE_LENGTH + TAG_LENGTH;

const HKDF_SALT = 'hsm-jwks/sealing';
const KEY_INFO = 'aes-256-gcm key v1';
const ID_INFO = 'secret id v1';

interface DerivedKey {
  id: Buffer;
  key: Buffer;
}

function derive(secret: string): DerivedKey {
  const ikm = Buffer.from(secret, 'utf8');
  try {
    return {
      key: Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, KEY_INFO, 32)),
      id: Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, ID_INFO, SECRET_ID_LENGTH)),
    };
  } finally {
    ikm.fill(0);
  }
}

/** The envelope's version byte when it is one this code knows, else undefined. */
export function envelopeVersion(envelope: Buffer): EnvelopeVersion | undefined {
  const v = envelope[0];
  return v === ENVELOPE_V1 || v === ENVELOPE_V2 ? v : undefined;
}

export class Sealer {
  /** Derived keys, current (sealing) secret first. The secret strings are not kept. */
  readonly #keys: DerivedKey[];

  constructor(secrets: readonly string[]) {
    if (!Array.isArray(secrets) || secrets.length === 0) {
      throw new StoreError('ERR_SECRET_MISSING', 'no sealing secret is configured');
    }
    secrets.forEach((s, i) => {
      if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) {
        throw new StoreError(
          'ERR_SECRET_TOO_SHORT',
          `sealing secret #${i + 1} of ${secrets.length} is shorter than ${MIN_SECRET_LENGTH} characters`,
        );
      }
    });
    this.#keys = secrets.map(derive);
  }

  /** Seals `plaintext` under the current secret, as an envelope of `version` authenticating `aad`. */
  seal(plaintext: Buffer, version: EnvelopeVersion, aad: Buffer): Buffer {
    const current = this.#keys[0]!;
    const nonce = randomBytes(NONCE_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', current.key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([version]), current.id, nonce, ciphertext, cipher.getAuthTag()]);
  }

  /**
   * Opens an envelope of `row`, authenticating the AAD that `aadFor` gives for its version (which
   * may refuse a version by throwing). Throws ERR_SEAL_FORMAT, ERR_SEAL_UNKNOWN_SECRET or
   * ERR_SEAL_TAMPERED, each naming the row.
   */
  open(
    envelope: Buffer,
    aadFor: (version: EnvelopeVersion) => Buffer,
    row: RowRef,
  ): { version: EnvelopeVersion; plaintext: Buffer } {
    if (envelope.length < ENVELOPE_OVERHEAD) {
      throw new StoreError(
        'ERR_SEAL_FORMAT',
        `the sealed envelope has ${envelope.length} bytes, fewer than ${ENVELOPE_OVERHEAD}`,
        row,
      );
    }
    const version = envelopeVersion(envelope);
    if (version === undefined)
      throw new StoreError('ERR_SEAL_FORMAT', `the sealed envelope has unknown version ${envelope[0]}`, row);
    const aad = aadFor(version);
    const id = envelope.subarray(1, 1 + SECRET_ID_LENGTH);
    const entry = this.#keys.find((k) => k.id.equals(id));
    if (!entry) {
      throw new StoreError(
        'ERR_SEAL_UNKNOWN_SECRET',
        `sealed with secret id ${id.toString('hex')}, which matches none of the configured secrets`,
        row,
      );
    }
    const nonce = envelope.subarray(1 + SECRET_ID_LENGTH, 1 + SECRET_ID_LENGTH + NONCE_LENGTH);
    const ciphertext = envelope.subarray(1 + SECRET_ID_LENGTH + NONCE_LENGTH, envelope.length - TAG_LENGTH);
    const tag = envelope.subarray(envelope.length - TAG_LENGTH);
    const decipher = createDecipheriv('aes-256-gcm', entry.key, nonce, { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const head = decipher.update(ciphertext);
    try {
      const tail = decipher.final();
      const plaintext = Buffer.concat([head, tail]);
      tail.fill(0);
      return { version, plaintext };
    } catch {
      throw new StoreError(
        'ERR_SEAL_TAMPERED',
        'the sealed row failed authentication (tampered, moved from another row, or a sealed column edited)',
        row,
      );
    } finally {
      head.fill(0);
    }
  }

  /** Whether the envelope names the current (first) secret. */
  sealedWithCurrent(envelope: Buffer): boolean {
    return envelope.length > SECRET_ID_LENGTH && envelope.subarray(1, 1 + SECRET_ID_LENGTH).equals(this.#keys[0]!.id);
  }
}
