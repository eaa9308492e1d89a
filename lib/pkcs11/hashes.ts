// THE table of hashes: every fact about a hash hsm-jwks uses (its node:crypto name, output length,
// the PKCS#11 digest, MGF1 and hash-and-sign mechanisms, the DigestInfo prefix of RFC 8017 §9.2) is
// declared here once; mechanisms.ts, the JOSE algorithm table and the signers read it.
import { CKG, CKM } from './constants';

export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface HashInfo {
  readonly name: HashName;
  /** The node:crypto name (createHash, sign, createHmac). */
  readonly node: string;
  /** Output length in bytes (the RSA-PSS salt length and the HMAC key size of RFC 7518). */
  readonly bytes: number;
  /** CKM_SHAxxx: the hash alone (RSA-PSS and RSA-OAEP parameters). */
  readonly ckm: number;
  /** CKG_MGF1_SHAxxx. */
  readonly mgf: number;
  /** CKM_SHAxxx_RSA_PKCS: RSASSA-PKCS1-v1_5 hashing on the token. */
  readonly rsaPkcs: number;
  /** CKM_SHAxxx_RSA_PKCS_PSS: RSASSA-PSS hashing on the token. */
  readonly rsaPss: number;
  /** DER of DigestInfo up to the digest (AlgorithmIdentifier and the OCTET STRING header). */
  readonly digestInfo: Buffer;
}

const hash = (
  name: HashName,
  node: string,
  bytes: number,
  mechanisms: Pick<HashInfo, 'ckm' | 'mgf' | 'rsaPkcs' | 'rsaPss'>,
  digestInfoHex: string,
): HashInfo => ({ name, node, bytes, ...mechanisms, digestInfo: Buffer.from(digestInfoHex, 'hex') });

export const HASHES: Readonly<Record<HashName, HashInfo>> = {
  'SHA-256': hash(
    'SHA-256',
    'sha256',
    32,
    { ckm: CKM.SHA256, mgf: CKG.MGF1_SHA256, rsaPkcs: CKM.SHA256_RSA_PKCS, rsaPss: CKM.SHA256_RSA_PKCS_PSS },
    '3031300d060960864801650304020105000420',
  ),
  'SHA-384': hash(
    'SHA-384',
    'sha384',
    48,
    { ckm: CKM.SHA384, mgf: CKG.MGF1_SHA384, rsaPkcs: CKM.SHA384_RSA_PKCS, rsaPss: CKM.SHA384_RSA_PKCS_PSS },
    '3041300d060960864801650304020205000430',
  ),
  'SHA-512': hash(
    'SHA-512',
    'sha512',
    64,
    { ckm: CKM.SHA512, mgf: CKG.MGF1_SHA512, rsaPkcs: CKM.SHA512_RSA_PKCS, rsaPss: CKM.SHA512_RSA_PKCS_PSS },
    '3051300d060960864801650304020305000440',
  ),
};

/** SHA-1, for RSA-OAEP only (what OAEP's parameters need of it): never for a signature. */
export const OAEP_SHA1 = { ckm: CKM.SHA_1, mgf: CKG.MGF1_SHA1 } as const;

/** The names of the table, in its order. */
export const HASH_NAMES = Object.keys(HASHES) as HashName[];
