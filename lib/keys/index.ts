// `hsm-jwks/keys`: key managers (docs/keys.md). `createKeyManager` over the configuration
// (`loadConfig`), `ensureKeySet`, the contract in its three parts (KeySets: Hydra's key-set
// operations; KeySigner: signing; KeyManagerOps: the running manager) and KeyManager, all three;
// the store's secret rotation; the layer's errors.
export { createKeyManager } from './create';
export type { CreateOptions, HsmSettings, KeyManagerSettings } from './create';
export type { KeyRing } from './key-ring';
export { ensureKeySet } from './ensure';
export type { EnsuringKeySets } from './ensure';
export type {
  KeyManager,
  KeySets,
  KeySigner,
  KeyManagerOps,
  Readiness,
  Jwk,
  JwkSet,
  SecretKeyDescription,
  GetOptions,
  GenerateOptions,
  KidFormat,
  SignJwtOptions,
  KeyInfo,
} from './key-manager';
export type { CertificateImport } from './certificates';
export type { KeyProblem, KeyProblemKind } from './key-entry';
export type { KeyState } from './lifecycle';
export type { Lifecycle } from '../store/key-store';
export { rotateSecrets } from './store-admin';
// The environment (docs/configuration.md): what createKeyManager takes.
export { loadConfig, ConfigError, DEFAULT_DSN } from '../config';
export type { Config, HsmConfig, LogLevel } from '../config';
export type { Logger } from '../logger';
export { HsmJwksError } from '../errors';
export type { ErrorCode } from '../errors';
export { KeyManagerError, isNotFound } from './errors';
export type { KeyManagerErrorCode } from './errors';
