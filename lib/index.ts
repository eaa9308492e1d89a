// Public API of hsm-jwks. This layer: PKCS#11 modules, tokens, session pools and key pairs.
export { Pkcs11Module } from './pkcs11/module';
export type { ModuleLoadOptions, TokenSelector, ModuleInfo, SlotInfo } from './pkcs11/module';
export { Token } from './pkcs11/token';
export type { TokenOptions, TokenHealth, MechanismInfo } from './pkcs11/token';
export type { EngineOptions, EngineStats } from './pkcs11/sign-engine';
export type { LimitState } from './pkcs11/concurrency-limit';
export type { TokenStateName } from './pkcs11/token-state';
export { KeyPair } from './pkcs11/key-pair';
export type { KeyType, PublicKeyData, KeyPairProblem } from './pkcs11/key-pair';
export type { KeySpec, KeyUse, KeyPairOptions, RsaBits } from './pkcs11/key-spec';
export type { SignMechanism, DecryptMechanism, HashName } from './pkcs11/mechanisms';
export type { KeyPairQuery, OrphanPublicKey } from './pkcs11/key-reader';
export { DataObject } from './pkcs11/data-objects';
export type { DataObjectSpec, DataObjectQuery } from './pkcs11/data-objects';
export { CertificateObject } from './pkcs11/certificates';
export type { CertificateQuery, CertificatesSpec } from './pkcs11/certificates';
export type { SessionPoolStats } from './pkcs11/session-pool';
export type { RecoveryOptions, RecoveryEvent, RecoveryEventKind, RecoveryCounters } from './pkcs11/recovery';
export type { CurveName, EcCurveName } from './pkcs11/curves';
export { parsePkcs11Uri, formatPkcs11Uri, uriForDisplay } from './pkcs11/uri';
export type { Pkcs11Uri, UriObjectType } from './pkcs11/uri';
// One error model: the base class and the codes of every layer (lib/errors.ts).
export { HsmJwksError, ClosedError, ERROR_CODES } from './errors';
export type { ErrorCode } from './errors';
export {
  Pkcs11Error,
  ModuleLoadError,
  TokenNotFoundError,
  TokenAmbiguousError,
  PoolTimeoutError,
  KeyDestroyedError,
  KeyExistsError,
  KeyGoneError,
  DataObjectGoneError,
  DataObjectAmbiguousError,
  LoginRequiredError,
  MechanismUnsupportedError,
  ModuleReinitializedError,
  ModuleNotOwnedError,
  ModuleBusyError,
  PinMismatchError,
  QueueFullError,
  SessionBusyError,
  AddonLoadError,
  AddonFailureError,
  LoginRefusedError,
  TokenUnavailableError,
  KeyForeignError,
  UriError,
} from './pkcs11/errors';
export type { Pkcs11ErrorCategory, ModuleLoadErrorCode, UriErrorCode } from './pkcs11/errors';
export * as constants from './pkcs11/constants';

// JOSE: algorithms, JWKs of token keys, imports, compact JWS/JWT over a Signer.
export { ALGORITHMS, ENC_ALG, HMAC_ALGS, KEY_PAIR_ALGS, algInfo, defaultAlgFor } from './jose/algorithms';
export type { JwsAlg, AlgInfo, HmacAlg, KeyPairAlg } from './jose/algorithms';
export { publicJwkFromKeyPair, useOf } from './jose/jwk';
export { kidFromId, idFromKid, HEX_KID_PREFIX } from './jose/kid';
export type { PublicJwk } from './jose/jwk';
export { validatePrivateJwk } from './jose/import';
export type { PrivateJwk, ValidatedKey } from './jose/import';
export { signCompact, signJwt } from './jose/jws';
export { ecdsaToJws } from './jose/signer';
export type { Signer } from './jose/signer';
export { hsmSigner } from './jose/hsm-signer';
export { softwareSigner } from './jose/software-signer';
export { JoseError } from './jose/errors';
export type { JoseErrorCode } from './jose/errors';

// Key managers (Hydra's operations), configuration and the software store.
export { createKeyManager, describeToken } from './keys/create';
export type { HsmSettings, KeyManagerSettings } from './keys/create';
export { ensureKeySet } from './keys/ensure';
export { KeyRing, DEFAULT_PUBLISH_AHEAD_MS } from './keys/key-ring';
export type { KeyRingOptions } from './keys/key-ring';
export { HsmKeySource } from './keys/hsm-source';
export { SoftwareKeySource } from './keys/software-source';
export type { KeyEntry, KeyProblem, KeyProblemKind } from './keys/key-entry';
export { stateAt } from './keys/lifecycle';
export type { KeyState } from './keys/lifecycle';
export { rotateSecrets } from './keys/store-admin';
export { KeyManagerError, isNotFound } from './keys/errors';
export type { KeyManagerErrorCode } from './keys/errors';
export type { KeyManager, Jwk, JwkSet, GetOptions, GenerateOptions, SignJwtOptions, KeyInfo } from './keys/key-manager';
export type { CertificateImport } from './keys/certificates';
export { loadConfig, ConfigError, DEFAULT_DSN } from './config';
export type { Config, HsmConfig, LogLevel } from './config';
export type { Logger } from './logger';
export { openKeyStore } from './store/open-store';
export { StoreError } from './store/errors';
export type { KeyStore, StoredKey, RowFailure, KeyRowInfo, Lifecycle, HsmKeyRecord } from './store/key-store';
