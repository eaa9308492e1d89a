// `hsm-jwks/pkcs11`: the PKCS#11 layer's public API (docs/pkcs11.md): modules, tokens, session
// pools and the signing engine's figures, key pairs, data and certificate objects, PKCS#11 URIs,
// the layer's errors (with the package's base class and codes) and the generated constants.
export { Pkcs11Module } from './module';
export type { ModuleLoadOptions, TokenSelector, ModuleInfo, SlotInfo } from './module';
export { Token } from './token';
export type { TokenOptions, TokenHealth, MechanismInfo } from './token';
export type { EngineOptions, EngineStats } from './sign-engine';
export type { LimitState } from './concurrency-limit';
export type { TokenStateName } from './token-state';
export { KeyPair } from './key-pair';
export type { KeyType, PublicKeyData, KeyPairProblem } from './key-pair';
export type { KeySpec, KeyUse, KeyPairOptions, RsaBits } from './key-spec';
export type { SignMechanism, DecryptMechanism, HashName } from './mechanisms';
export type { KeyPairQuery, OrphanPublicKey } from './key-reader';
export { DataObject } from './data-objects';
export type { DataObjectSpec, DataObjectQuery } from './data-objects';
export { CertificateObject } from './certificates';
export type { CertificateQuery, CertificatesSpec } from './certificates';
export type { SessionPoolStats } from './session-pool';
export type { RecoveryOptions, RecoveryEvent, RecoveryEventKind, RecoveryCounters } from './recovery';
export type { CurveName, EcCurveName } from './curves';
export { parsePkcs11Uri, formatPkcs11Uri, uriForDisplay } from './uri';
export type { Pkcs11Uri, UriObjectType } from './uri';
// The one error model (lib/errors.ts): the base class, ClosedError and every layer's codes.
export { HsmJwksError, ClosedError, ERROR_CODES } from '../errors';
export type { ErrorCode } from '../errors';
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
} from './errors';
export type { Pkcs11ErrorCategory, ModuleLoadErrorCode, UriErrorCode } from './errors';
export * as constants from './constants';
