// The typed mechanism unions of the facade and how each becomes a PKCS#11 mechanism plus the bytes
// to hand the token. Hashing happens on the host where the token cannot do it (ECDSA: SoftHSM has
// no CKM_ECDSA_SHA256; RSA without CKM_SHAxxx_RSA_PKCS: a DigestInfo over CKM_RSA_PKCS).
import { createHash } from 'node:crypto';

import { oneOf } from '../errors';
import { CKM } from './constants';
import { invalidArgType, invalidArgValue, MechanismUnsupportedError } from './errors';
import { HASH_NAMES, HASHES, type HashInfo, type HashName, OAEP_SHA1 } from './hashes';
import type { KeyPair } from './key-pair';
import type { NativeMechanism } from '../../binding';

export type { HashName };

export type SignMechanism =
  /** CKM_ECDSA over a host-computed hash; the result is raw r‖s (the JWS encoding). */
  | { type: 'ECDSA'; hash: HashName }
  /** RSASSA-PKCS1-v1_5: CKM_SHAxxx_RSA_PKCS, or CKM_RSA_PKCS over a DigestInfo. */
  | { type: 'RSA-PKCS1'; hash: HashName }
  /** RSASSA-PSS with MGF1 of the same hash; salt length defaults to the hash length. */
  | { type: 'RSA-PSS'; hash: HashName; saltLength?: number }
  /** CKM_EDDSA (PKCS#11 3.0) over the whole message: Ed25519 cannot be prehashed. */
  | { type: 'EdDSA' };

export type DecryptMechanism =
  | { type: 'RSA-OAEP'; hash: 'SHA-1' | HashName; label?: Uint8Array }
  | { type: 'RSA-PKCS1' };

function hashInfo(hash: unknown, name: string): HashInfo {
  if (typeof hash !== 'string') throw invalidArgType(name, 'a string', hash);
  const h = Object.hasOwn(HASHES, hash) ? HASHES[hash as HashName] : undefined;
  if (!h) throw invalidArgValue(name, oneOf(HASH_NAMES), hash);
  return h;
}

function digest(h: HashInfo, data: Uint8Array): Buffer {
  return createHash(h.node).update(data).digest();
}

/**
 * The mechanisms that can make `mechanism`'s signature, the one prepareSignature prefers first: a
 * token with any one of them can (capabilities and CKA_ALLOWED_MECHANISMS are derived from this).
 */
export function signMechanisms(mechanism: SignMechanism): readonly number[] {
  switch (mechanism.type) {
    case 'ECDSA':
      return [CKM.ECDSA];
    case 'RSA-PKCS1':
      return [HASHES[mechanism.hash].rsaPkcs, CKM.RSA_PKCS];
    case 'RSA-PSS':
      return [HASHES[mechanism.hash].rsaPss, CKM.RSA_PKCS_PSS];
    case 'EdDSA':
      return [CKM.EDDSA];
  }
}

/** What to pass to the token for one signature (or verification) with `key`. */
export interface PreparedSignature {
  mechanism: NativeMechanism;
  data: Uint8Array;
}

/**
 * Checks `mechanism` against the key and the token's mechanism list and prepares the call.
 * Throws TypeError/RangeError for a malformed request, MechanismUnsupportedError when the token
 * lacks every way of doing it.
 */
export function prepareSignature(
  mechanism: SignMechanism,
  key: KeyPair,
  available: ReadonlySet<number>,
  data: Uint8Array,
): PreparedSignature {
  if (typeof mechanism !== 'object' || mechanism === null) throw invalidArgType('mechanism', 'an object', mechanism);
  const expectKey = (type: KeyPair['keyType']) => {
    if (key.keyType !== type) {
      throw invalidArgValue('mechanism', `one for a ${key.keyType} key (this is ${mechanism.type})`, mechanism.type);
    }
  };
  const need = (ckm: number, what: string) => {
    if (!available.has(ckm)) throw new MechanismUnsupportedError(what);
  };
  switch (mechanism.type) {
    case 'ECDSA': {
      expectKey('ec');
      const h = hashInfo(mechanism.hash, 'mechanism.hash');
      need(CKM.ECDSA, 'ECDSA (CKM_ECDSA)');
      return { mechanism: { type: CKM.ECDSA }, data: digest(h, data) };
    }
    case 'RSA-PKCS1': {
      expectKey('rsa');
      const h = hashInfo(mechanism.hash, 'mechanism.hash');
      if (available.has(h.rsaPkcs)) return { mechanism: { type: h.rsaPkcs }, data };
      need(CKM.RSA_PKCS, `RSASSA-PKCS1-v1_5 with ${mechanism.hash}`);
      return { mechanism: { type: CKM.RSA_PKCS }, data: Buffer.concat([h.digestInfo, digest(h, data)]) };
    }
    case 'RSA-PSS': {
      expectKey('rsa');
      const h = hashInfo(mechanism.hash, 'mechanism.hash');
      const saltLength = mechanism.saltLength ?? h.bytes;
      if (!Number.isSafeInteger(saltLength) || saltLength < 0) {
        throw invalidArgValue('mechanism.saltLength', 'a non-negative integer', saltLength);
      }
      const parameter = { kind: 'pss' as const, hashAlg: h.ckm, mgf: h.mgf, saltLength };
      if (available.has(h.rsaPss)) return { mechanism: { type: h.rsaPss, parameter }, data };
      need(CKM.RSA_PKCS_PSS, `RSASSA-PSS with ${mechanism.hash}`);
      return { mechanism: { type: CKM.RSA_PKCS_PSS, parameter }, data: digest(h, data) };
    }
    case 'EdDSA':
      expectKey('ed25519');
      need(CKM.EDDSA, 'EdDSA (CKM_EDDSA)');
      return { mechanism: { type: CKM.EDDSA }, data };
    default:
      throw invalidArgValue(
        'mechanism.type',
        "'ECDSA', 'RSA-PKCS1', 'RSA-PSS' or 'EdDSA'",
        (mechanism as { type?: unknown }).type,
      );
  }
}

export function prepareDecryption(
  mechanism: DecryptMechanism,
  key: KeyPair,
  available: ReadonlySet<number>,
): NativeMechanism {
  if (typeof mechanism !== 'object' || mechanism === null) throw invalidArgType('mechanism', 'an object', mechanism);
  if (key.keyType !== 'rsa') throw invalidArgValue('key', 'an RSA key pair', key.keyType);
  if (mechanism.type === 'RSA-PKCS1') {
    if (!available.has(CKM.RSA_PKCS)) throw new MechanismUnsupportedError('RSAES-PKCS1-v1_5');
    return { type: CKM.RSA_PKCS };
  }
  if (mechanism.type === 'RSA-OAEP') {
    const h = mechanism.hash === 'SHA-1' ? OAEP_SHA1 : hashInfo(mechanism.hash, 'mechanism.hash');
    if (!available.has(CKM.RSA_PKCS_OAEP)) throw new MechanismUnsupportedError('RSA-OAEP');
    const label = mechanism.label;
    if (label !== undefined && !(label instanceof Uint8Array))
      throw invalidArgType('mechanism.label', 'a Uint8Array', label);
    return {
      type: CKM.RSA_PKCS_OAEP,
      parameter: { kind: 'oaep', hashAlg: h.ckm, mgf: h.mgf, ...(label ? { label } : {}) },
    };
  }
  throw invalidArgValue('mechanism.type', "'RSA-OAEP' or 'RSA-PKCS1'", (mechanism as { type?: unknown }).type);
}
