// Errors of the JOSE layer, with stable codes.
import { type Codes, HsmJwksError } from '../errors';

export type JoseErrorCode = Codes<
  /** The alg is not one we sign with (or not one that fits the key). */
  | 'ERR_JOSE_ALG_UNSUPPORTED'
  /** A JWK is malformed: missing or inconsistent members. */
  | 'ERR_JWK_INVALID'
  /** A JWK names a curve we do not support. */
  | 'ERR_JWK_CURVE_UNSUPPORTED'
  /** An RSA key is shorter than the algorithm's minimum. */
  | 'ERR_JWK_RSA_TOO_SHORT'
  /** An HMAC secret (`kty: oct`) shorter than its alg's hash output (RFC 7518 §3.2). */
  | 'ERR_JWK_SECRET_TOO_SHORT'
  /** An import lacks the private members it needs. */
  | 'ERR_JWK_PRIVATE_MISSING'
  /** A key pair on the token cannot be published as a JWK (no public part, odd parameters). */
  | 'ERR_JWK_UNMAPPABLE'
  /** The key's use does not allow the operation (signing with an enc key, or the reverse). */
  | 'ERR_JWK_USE_MISMATCH'
  /** A kid that would not round-trip through CKA_ID (see kid.ts): the message says why. */
  | 'ERR_KID_INVALID'
  /** A signer returned something that is not a signature of the expected size. */
  | 'ERR_JWS_SIGNATURE_MALFORMED'
>;

export class JoseError extends HsmJwksError {
  declare readonly code: JoseErrorCode;
  constructor(code: JoseErrorCode, message: string) {
    super(code, message);
  }
}
