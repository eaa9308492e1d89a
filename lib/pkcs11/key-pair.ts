// A key pair on a token, as found or generated: handles, identity, capabilities and public part;
// and THE table of key types.
import { CKK, CKM } from './constants';
import { CURVES, type CurveName, type EcCurveName } from './curves';

/**
 * THE table of key types: the CKA_KEY_TYPE a token reports for each and the mechanism that
 * generates a pair of it (key-reader, key-spec and the capabilities of keys/ derive from it).
 */
export const KEY_TYPES = {
  rsa: { ckk: CKK.RSA, generate: CKM.RSA_PKCS_KEY_PAIR_GEN },
  ec: { ckk: CKK.EC, generate: CKM.EC_KEY_PAIR_GEN },
  ed25519: { ckk: CKK.EC_EDWARDS, generate: CKM.EC_EDWARDS_KEY_PAIR_GEN },
} as const;

export type KeyType = keyof typeof KEY_TYPES;

/** The public half, read from the token (never from the private object's secret parts). */
export type PublicKeyData =
  | { readonly kty: 'RSA'; readonly n: Buffer; readonly e: Buffer }
  /** `point` is the uncompressed point 04‖x‖y. */
  | { readonly kty: 'EC'; readonly crv: EcCurveName; readonly point: Buffer }
  | { readonly kty: 'OKP'; readonly crv: Exclude<CurveName, EcCurveName>; readonly x: Buffer };

/** Why a key pair is incomplete; it is still returned so one bad key does not hide the others. */
export type KeyPairProblem =
  /** No public object shares the CKA_ID and the public part cannot be derived from the private one. */
  | 'public-key-missing'
  /**
   * Several public objects share the CKA_ID and key type. The one that matches the private key's
   * public attributes (RSA modulus and exponent) is used when exactly one does; otherwise none is:
   * publicKey and publicKeyData are null. (When the private key does not say, as for EC, the only
   * candidate with the private key's CKA_LABEL is used: the problem is still raised.)
   */
  | 'public-key-ambiguous'
  /**
   * No public object of the CKA_ID matches the private key (RSA: another modulus or exponent; EC:
   * other curve parameters): it is not used. An RSA key's public part then comes from the private object.
   */
  | 'public-key-mismatch'
  /**
   * generateKeyPair was asked for CKA_ALLOWED_MECHANISMS and the private key does not have them:
   * the token refused the attribute, so the pair was generated without it (or it dropped them).
   * Only on the KeyPair that generateKeyPair returns; `allowedMechanisms` says it for any KeyPair.
   */
  | 'allowed-mechanisms-not-set'
  /** The key's parameters (curve, modulus) could not be read or are not supported. */
  | 'unsupported-parameters';

export interface KeyPairFields {
  id: Buffer;
  label: string;
  keyType: KeyType;
  curve?: CurveName;
  bits?: number;
  privateKey: bigint;
  publicKey: bigint | null;
  canSign: boolean;
  canDecrypt: boolean;
  allowedMechanisms?: number[] | undefined;
  publicKeyData: PublicKeyData | null;
  problems: KeyPairProblem[];
}

/** The handles a KeyPair was found or made with (valid in that module generation only). */
const birth = new WeakMap<KeyPair, { privateKey: bigint; publicKey: bigint | null }>();

/**
 * @internal The handles `keyPair` was found or made with, in the module generation of that moment
 * (the Token's executor decides whether they still hold); undefined for anything not a KeyPair.
 */
export function handlesAtBirth(keyPair: unknown): { privateKey: bigint; publicKey: bigint | null } | undefined {
  return typeof keyPair === 'object' && keyPair !== null ? birth.get(keyPair as KeyPair) : undefined;
}

export class KeyPair {
  /** CKA_ID, shared by both halves (the kid's bytes in the JOSE layer). */
  readonly id: Buffer;
  /** CKA_LABEL of the private object. */
  readonly label: string;
  readonly keyType: KeyType;
  /** Curve of an EC or Ed25519 key. */
  readonly curve?: CurveName;
  /** Modulus size of an RSA key. */
  readonly bits?: number;
  /**
   * Whether a public key object was paired with the private one (verify() needs it). The object
   * handles themselves are not part of a KeyPair: they are valid in one module generation only, and
   * the Token resolves them for the generation it runs in (a KeyPair is an identity, never a stale
   * handle a caller could hold).
   */
  readonly hasPublicObject: boolean;
  /** CKA_SIGN / CKA_DECRYPT of the private object, exactly as the token reports them. */
  readonly canSign: boolean;
  readonly canDecrypt: boolean;
  /**
   * CKA_ALLOWED_MECHANISMS of the private object (CKM_ values): the only mechanisms the token lets
   * it be used with. Undefined when the object has none (or an empty list: SoftHSM's "no limit") or
   * the token does not know the attribute.
   */
  readonly allowedMechanisms: number[] | undefined;
  readonly publicKeyData: PublicKeyData | null;
  readonly problems: readonly KeyPairProblem[];

  constructor(f: KeyPairFields) {
    this.id = f.id;
    this.label = f.label;
    this.keyType = f.keyType;
    if (f.curve !== undefined) this.curve = f.curve;
    if (f.bits !== undefined) this.bits = f.bits;
    this.hasPublicObject = f.publicKey !== null;
    birth.set(this, { privateKey: f.privateKey, publicKey: f.publicKey });
    this.canSign = f.canSign;
    this.canDecrypt = f.canDecrypt;
    this.allowedMechanisms = f.allowedMechanisms;
    this.publicKeyData = f.publicKeyData;
    this.problems = f.problems;
  }

  /** Bytes of a signature made with this key: modulus bytes, 2 × field bytes, or 64 (Ed25519). */
  get signatureLength(): number {
    if (this.keyType === 'rsa') return Math.ceil((this.bits ?? 0) / 8);
    return this.curve ? CURVES[this.curve].signatureBytes : 0;
  }
}
