// Configuration, read once from an environment (process.env by default) into a plain object.
// The only module that reads the environment (besides the addon override in pkcs11/native.ts).
// Every bad value is a ConfigError naming the variable; PINs and secrets are never echoed.
import * as fs from 'node:fs';

import { HsmJwksError } from './errors';
import type { HsmSettings, KeyManagerSettings } from './keys/create';
import type { RotationPolicy } from './keys/rotation';
import type { LogLevel } from './logger';
import { DEFAULT_DSN } from './store/open-store';

export { DEFAULT_DSN };
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export type { LogLevel };

/** HSM settings. The token label wins over the serial, the serial over the slot (Hydra: the label
 *  wins over the slot, and the first slot with the label is used). */
export type HsmConfig = HsmSettings;

/** The HTTP service (`hsm-jwks serve`). */
export interface ServiceConfig {
  /** Bearer token for /admin routes; without it the service listens on loopback only. */
  adminToken: string | undefined;
  /** Listen address (SERVE_HOST): default 127.0.0.1. */
  host: string;
  /** Public routes (JWKS, health); Hydra's public port. */
  publicPort: number;
  /** Admin routes; the same as publicPort to serve everything on one port. */
  adminPort: number;
  /** HEALTH_PORT: /health/alive and /health/ready on a listener of their own, in a worker thread (unset: none). */
  healthPort?: number;
  /** Key sets published at /.well-known/jwks.json, and made at start when missing. */
  publicSets: string[];
  /** Alg of the keys made at start for missing public sets. */
  defaultAlg: string;
  /** How stale the published JWKS may get after a write made elsewhere, and its Cache-Control max-age (JWKS_CACHE_SECONDS, 30). */
  jwksCacheSeconds: number;
  /** Scheduled rotation of the public sets (ROTATE_*). */
  rotation: RotationPolicy;
}

export interface Config extends KeyManagerSettings {
  /** Undefined when HSM_ENABLED is not true. */
  hsm: HsmConfig | undefined;
  dsn: string;
  /** SECRETS_SYSTEM, comma-separated: the first seals, all open. */
  secrets: string[];
  logLevel: LogLevel;
  /** How long a new key is published before it signs (ROTATE_PUBLISH_AHEAD). */
  publishAheadMs: number;
  /** The longest lifetime of a JWT signed here (TOKEN_MAX_LIFETIME). */
  maxTokenLifetimeMs: number;
  service: ServiceConfig;
}

export class ConfigError extends HsmJwksError {
  declare readonly code: 'ERR_CONFIG';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super('ERR_CONFIG', `${variable}: ${message}`);
    this.variable = variable;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function flag(env: Env, name: string): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'false' || v === '0' || v === 'no') return false;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  throw new ConfigError(name, 'must be true or false');
}

function integer(env: Env, name: string, min: number): number | undefined {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return undefined;
  const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(name, `must be an integer of at least ${min}`);
  return n;
}

function pinOf(env: Env): string | undefined {
  const pin = env.HSM_PIN;
  const file = env.HSM_PIN_FILE?.trim();
  if (pin && file) throw new ConfigError('HSM_PIN_FILE', 'set either HSM_PIN or HSM_PIN_FILE, not both');
  if (!file) return pin === '' ? undefined : pin;
  return readPinFile(file);
}

/** The PIN in `file` (one trailing newline ignored); ERR_CONFIG naming the file, never its content. */
export function readPinFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      'HSM_PIN_FILE',
      `cannot read ${JSON.stringify(file)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError('HSM_PIN_FILE', `${JSON.stringify(file)} is empty`);
  return value;
}

function hsmConfig(env: Env): HsmConfig {
  const library = env.HSM_LIBRARY?.trim();
  if (!library)
    throw new ConfigError('HSM_LIBRARY', 'is required when HSM_ENABLED is true (path of the PKCS#11 module)');
  const label = env.HSM_TOKEN_LABEL;
  const serial = env.HSM_TOKEN_SERIAL?.trim();
  const slot = integer(env, 'HSM_SLOT', 0);
  let selector: HsmSettings['selector'];
  if (label) selector = { tokenLabel: label, onAmbiguous: 'first' };
  else if (serial) selector = { serial };
  else if (slot !== undefined) selector = { slot };
  else
    throw new ConfigError('HSM_TOKEN_LABEL', 'set HSM_TOKEN_LABEL, HSM_TOKEN_SERIAL or HSM_SLOT to select the token');
  const pin = pinOf(env);
  // Without a login the token's private keys are invisible: an HSM that looks empty, and keys
  // generated over existing ones. Fail here instead.
  if (pin === undefined)
    throw new ConfigError(
      'HSM_PIN',
      "is required when HSM_ENABLED is true (or HSM_PIN_FILE): without a login the token's keys cannot be seen",
    );
  return {
    library,
    pin,
    ...(env.HSM_PIN_FILE?.trim() ? { pinFile: env.HSM_PIN_FILE.trim() } : {}),
    selector,
    keySetPrefix: env.HSM_KEY_SET_PREFIX ?? '',
    initArgs: env.HSM_INIT_ARGS || undefined,
    poolSize: integer(env, 'HSM_POOL_SIZE', 1) ?? 4,
  };
}

function secretsOf(env: Env): string[] {
  const raw = env.SECRETS_SYSTEM;
  if (raw === undefined || raw.trim() === '') return [];
  const secrets = raw.split(',').map((s) => s.trim());
  secrets.forEach((s, i) => {
    if (s.length < 16) throw new ConfigError('SECRETS_SYSTEM', `secret #${i + 1} is shorter than 16 characters`);
  });
  return secrets;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 90s, 15m, 12h or 30d, in ms. */
function duration(env: Env, name: string): number | undefined {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return undefined;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(v);
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new ConfigError(name, 'must be a duration such as 90s, 15m, 12h or 30d');
  return ms;
}

/**
 * Rotation settings, checked so that no verifier can fail: a new key is published at least as long
 * as a verifier may cache the JWKS (max-age) plus as long as this service may serve an older one
 * (JWKS_CACHE_SECONDS), plus 10 s; a retired key stays published at least as long as the longest
 * token lifetime.
 */
function rotationOf(
  env: Env,
  cacheSeconds: number,
): { publishAheadMs: number; maxTokenLifetimeMs: number; rotation: RotationPolicy } {
  const minAhead = 2 * cacheSeconds * 1000 + 10_000;
  const publishAheadMs = duration(env, 'ROTATE_PUBLISH_AHEAD') ?? 2 * cacheSeconds * 1000 + 30_000;
  if (publishAheadMs < minAhead) {
    throw new ConfigError(
      'ROTATE_PUBLISH_AHEAD',
      `must be at least ${minAhead / 1000}s (twice JWKS_CACHE_SECONDS plus 10 s): verifiers holding a cached JWKS would reject tokens of a key that signs sooner`,
    );
  }
  const lifetime = duration(env, 'TOKEN_MAX_LIFETIME') ?? 3_600_000;
  const retireAfterMs = duration(env, 'ROTATE_RETIRE_AFTER') ?? Math.max(86_400_000, lifetime);
  if (retireAfterMs < lifetime)
    throw new ConfigError(
      'ROTATE_RETIRE_AFTER',
      'must be at least TOKEN_MAX_LIFETIME: tokens signed by a retired key must still verify',
    );
  const removed = env.ROTATE_REMOVED?.trim() || 'destroy';
  if (removed !== 'destroy' && removed !== 'keep') throw new ConfigError('ROTATE_REMOVED', 'must be destroy or keep');
  return {
    publishAheadMs,
    maxTokenLifetimeMs: lifetime,
    rotation: { everyMs: duration(env, 'ROTATE_EVERY'), retireAfterMs, removed },
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

function serviceConfig(env: Env): ServiceConfig {
  const adminToken = env.ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16)
    throw new ConfigError('ADMIN_TOKEN', 'must be at least 16 characters');
  const host = env.SERVE_HOST?.trim() || '127.0.0.1';
  if (!adminToken && !LOOPBACK.test(host)) {
    throw new ConfigError(
      'SERVE_HOST',
      'the service listens beyond loopback only with ADMIN_TOKEN set (the admin API would be open)',
    );
  }
  const publicPort = integer(env, 'PUBLIC_PORT', 0) ?? 4444;
  const adminPort = integer(env, 'ADMIN_PORT', 0) ?? 4445;
  if (publicPort > 65535) throw new ConfigError('PUBLIC_PORT', 'must be a TCP port');
  if (adminPort > 65535) throw new ConfigError('ADMIN_PORT', 'must be a TCP port');
  const publicSets = (env.JWKS_PUBLIC_SETS ?? 'hydra.openid.id-token,hydra.jwt.access-token')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const jwksCacheSeconds = integer(env, 'JWKS_CACHE_SECONDS', 1) ?? 30;
  const { rotation } = rotationOf(env, jwksCacheSeconds);
  const healthPort = integer(env, 'HEALTH_PORT', 0);
  if (healthPort !== undefined && healthPort > 65535) throw new ConfigError('HEALTH_PORT', 'must be a TCP port');
  return {
    adminToken,
    host,
    publicPort,
    adminPort,
    ...(healthPort !== undefined ? { healthPort } : {}),
    publicSets,
    defaultAlg: env.JWKS_DEFAULT_ALG?.trim() || 'RS256',
    jwksCacheSeconds,
    rotation,
  };
}

export function loadConfig(env: Env = process.env): Config {
  const level = (env.LOG_LEVEL?.trim().toLowerCase() || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const dsn = env.DSN?.trim() || DEFAULT_DSN;
  if (!/^(sqlite|postgres|postgresql):\/\//.test(dsn))
    throw new ConfigError('DSN', 'must start with sqlite:// or postgres://');
  const service = serviceConfig(env);
  const { publishAheadMs, maxTokenLifetimeMs } = rotationOf(env, service.jwksCacheSeconds);
  return {
    hsm: flag(env, 'HSM_ENABLED') ? hsmConfig(env) : undefined,
    dsn,
    secrets: secretsOf(env),
    logLevel: level,
    publishAheadMs,
    maxTokenLifetimeMs,
    service,
  };
}
