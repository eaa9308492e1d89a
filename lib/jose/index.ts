// `hsm-jwks/jose`: JOSE over the token (docs/keys.md): the algorithm table, JWKs of token keys and
// their kids, private JWKs offered for import, the `Signer` seam (token, software) and compact
// JWS/JWT over any Signer, and the layer's errors.
export { ALGORITHMS, ENC_ALG, HMAC_ALGS, KEY_PAIR_ALGS, algInfo, defaultAlgFor } from './algorithms';
export type { JwsAlg, AlgInfo, HmacAlg, KeyPairAlg } from './algorithms';
export { publicJwkFromKeyPair } from './jwk';
export type { PublicJwk } from './jwk';
export { kidFromId, idFromKid, HEX_KID_PREFIX } from './kid';
export { validatePrivateJwk } from './import';
export type { PrivateJwk, ValidatedKey } from './import';
export { signCompact, signJwt } from './jws';
export type { JwsHeaderExtras } from './jws';
export { ecdsaToJws } from './signer';
export type { Signer } from './signer';
export { hsmSigner } from './hsm-signer';
export { softwareSigner } from './software-signer';
export { HsmJwksError } from '../errors';
export type { ErrorCode } from '../errors';
export { JoseError } from './errors';
export type { JoseErrorCode } from './errors';
