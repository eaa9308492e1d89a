// `hsm-jwks/server`: the key service (docs/service.md) as a library: `startService` with the
// configuration (`loadConfig`) and a logger (`createLogger`, `silentLogger`); what it returns
// (its URLs, the fastify instances, the key manager, the rotation schedule, close()).
export { startService } from './serve';
export type { Service } from './serve';
export type { Apps } from './app';
export type { RotationPolicy, RotationResult } from '../keys/rotation';
export { loadConfig, ConfigError } from '../config';
export type { Config, CorsConfig, ListenerLimits, LogFormat, LogLevel, ServiceConfig } from '../config';
export { createLogger, silentLogger } from '../logger';
export type { Logger, LoggerOptions } from '../logger';
export { HsmJwksError } from '../errors';
export type { ErrorCode } from '../errors';
