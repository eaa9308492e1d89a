// AES-256-GCM sealing of key rows. Each configured secret yields, through HKDF-SHA256, an AES key
// and an 8-byte secret id; the first secret seals, every secret opens. An envelope is
//   0x01 (version) ‖ secret id (8) ‖ nonce (12) ‖ ciphertext ‖ GCM tag (16)
// and its AAD binds it to its row: 0x01 ‖ UTF-8 of JSON ["hsm-jwks/key-row/v1", set, kid].
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

import { type RowRef, StoreError } from './errors';

export const ENVELOPE_VERSION = 0x01;
export const SECRET_ID_LENGTH = 8;
export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;
export const MIN_SECRET_LENGTH = 16;
/** Bytes an envelope adds to its plaintext. */
export const ENVELOPE_OVERHEAD = 1 + SECRET_ID_LENGTH + NONCE_LENGTH + TAG_LENGTH;

const HKDF_SALT = 'hsm-jwks/sealing';
const KEY_INFO = 'aes-256-gcm key v1';
const ID_INFO = 'secret id v1';
const ROW_AAD_LABEL = 'hsm-jwks/key-row/v1';

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

function rowAad(row: RowRef): Buffer {
  const label = Buffer.from(JSON.stringify([ROW_AAD_LABEL, row.set, row.kid]), 'utf8');
  return Buffer.concat([Buffer.from([ENVELOPE_VERSION]), label]);
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

  /** Seals `plaintext` for `row` under the current secret. */
  seal(plaintext: Buffer, row: RowRef): Buffer {
    const current = this.#keys[0]!;
    const nonce = randomBytes(NONCE_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', current.key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(rowAad(row));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([ENVELOPE_VERSION]), current.id, nonce, ciphertext, cipher.getAuthTag()]);
  }

  /** Opens an envelope sealed for `row`; throws ERR_SEAL_FORMAT, ERR_SEAL_UNKNOWN_SECRET or ERR_SEAL_TAMPERED. */
  open(envelope: Buffer, row: RowRef): Buffer {
    if (envelope.length < ENVELOPE_OVERHEAD) {
      throw new StoreError('ERR_SEAL_FORMAT', `the sealed envelope has ${envelope.length} bytes, fewer than ${ENVELOPE_OVERHEAD}`, row);
    }
    if (envelope[0] !== ENVELOPE_VERSION) {
      throw new StoreError('ERR_SEAL_FORMAT', `the sealed envelope has unknown version ${envelope[0]}`, row);
    }
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
    decipher.setAAD(rowAad(row));
    decipher.setAuthTag(tag);
    const head = decipher.update(ciphertext);
    try {
      const tail = decipher.final();
      const plaintext = Buffer.concat([head, tail]);
      tail.fill(0);
      return plaintext;
    } catch {
      throw new StoreError('ERR_SEAL_TAMPERED', 'the sealed row failed authentication (tampered, or moved from another row)', row);
    } finally {
      head.fill(0);
    }
  }

  /** Whether the envelope names the current (first) secret. */
  sealedWithCurrent(envelope: Buffer): boolean {
    return envelope.length > SECRET_ID_LENGTH && envelope.subarray(1, 1 + SECRET_ID_LENGTH).equals(this.#keys[0]!.id);
  }
}
