// Public API of hsm-jwks. This layer: PKCS#11 modules, tokens, session pools and key pairs.
export { Pkcs11Module } from './pkcs11/module';
export type { ModuleLoadOptions, TokenSelector, ModuleInfo, SlotInfo } from './pkcs11/module';
export { Token } from './pkcs11/token';
export type { TokenOptions, MechanismInfo } from './pkcs11/token';
export { KeyPair } from './pkcs11/key-pair';
export type { KeyType, PublicKeyData, KeyPairProblem } from './pkcs11/key-pair';
export type { KeySpec, KeyUse, KeyPairOptions, RsaBits } from './pkcs11/key-spec';
export type { SignMechanism, DecryptMechanism, HashName } from './pkcs11/mechanisms';
export type { KeyPairQuery } from './pkcs11/key-reader';
export type { SessionPoolStats } from './pkcs11/session-pool';
export type { CurveName, EcCurveName } from './pkcs11/curves';
export {
  HsmJwksError,
  Pkcs11Error,
  ModuleLoadError,
  TokenNotFoundError,
  TokenAmbiguousError,
  ClosedError,
  PoolTimeoutError,
  KeyDestroyedError,
  KeyExistsError,
  MechanismUnsupportedError,
  AddonLoadError,
} from './pkcs11/errors';
export type { Pkcs11ErrorCategory, ModuleLoadErrorCode } from './pkcs11/errors';
export * as constants from './pkcs11/constants';
