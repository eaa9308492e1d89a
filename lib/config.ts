// Configuration, read once from an environment (process.env by default) into a plain object: the
// HSM, the store, logs and rotation here, the HTTP service in service-config.ts, the readers in
// config-env.ts. These are the only modules that read the environment (besides the addon override
// in pkcs11/native.ts).
// Every bad value is a ConfigError naming the variable; PINs and secrets are never echoed.

import { ConfigError, duration, type Env, flag, given, integer } from './config-env';
import { combineHsmUri } from './config-uri';
import { readPinFileSafely } from './pkcs11/pin-file';
import type { HsmSettings, KeyManagerSettings } from './keys/create';
import { KID_FORMATS, type KidFormat } from './keys/key-manager';
import { DEFAULT_RETIRE_AFTER_MS, type RotationPolicy } from './keys/rotation';
import { DEFAULT_LOG_LEVEL, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './logger';
import { DEFAULTS } from './pkcs11/defaults';
import { type ServiceConfig, serviceConfig } from './service-config';
import { DEFAULT_DSN } from './store/open-store';
import { MIN_SECRET_LENGTH } from './store/sealing';

export { DEFAULT_DSN };
export { ConfigError };
export type { CorsConfig, ListenerLimits, ServiceConfig } from './service-config';
export type { LogFormat, LogLevel };

/** HSM settings. The token label wins over the serial, the serial over the slot (Hydra: the label
 *  wins over the slot, and the first slot with the label is used). */
export type HsmConfig = HsmSettings;

export interface Config extends KeyManagerSettings {
  /** Undefined when HSM_ENABLED is not true. */
  hsm: HsmConfig | undefined;
  dsn: string;
  /** SECRETS_SYSTEM, comma-separated: the first seals, all open. */
  secrets: string[];
  logLevel: LogLevel;
  /** LOG_FORMAT: text, json or json_pretty; `auto` (unset): text on a terminal, json otherwise. */
  logFormat: LogFormat;
  /** How long a new key is published before it signs (ROTATE_PUBLISH_AHEAD). */
  publishAheadMs: number;
  /** The kid of a key generated without one (KID_FORMAT). */
  kidFormat: KidFormat;
  /** The longest lifetime of a JWT signed here (TOKEN_MAX_LIFETIME). */
  maxTokenLifetimeMs: number;
  service: ServiceConfig;
}

/** The PIN in `file` (one trailing newline ignored); ERR_CONFIG naming the file, never its content. */
export function readPinFile(file: string, variable = 'HSM_PIN_FILE'): string {
  const reading = readPinFileSafely(file);
  if ('problem' in reading) throw new ConfigError(variable, reading.problem);
  return reading.pin;
}

function hsmConfig(env: Env): HsmConfig {
  const library = env.HSM_LIBRARY?.trim() || undefined;
  // HSM_URI (config-uri.ts): a PKCS#11 URI, combined with the variables below.
  const uri = given(env, 'HSM_URI');
  if (!library && uri === undefined)
    throw new ConfigError('HSM_LIBRARY', 'is required when HSM_ENABLED is true (path of the PKCS#11 module)');
  const label = env.HSM_TOKEN_LABEL;
  const serial = env.HSM_TOKEN_SERIAL?.trim();
  const slot = integer(env, 'HSM_SLOT', 0);
  let selector: HsmSettings['selector'] | undefined;
  if (label) selector = { tokenLabel: label, onAmbiguous: 'first' };
  else if (serial) selector = { serial };
  else if (slot !== undefined) selector = { slot };
  else if (uri === undefined)
    throw new ConfigError('HSM_TOKEN_LABEL', 'set HSM_TOKEN_LABEL, HSM_TOKEN_SERIAL or HSM_SLOT to select the token');
  const pinValue = env.HSM_PIN === '' ? undefined : env.HSM_PIN;
  const pinFileName = env.HSM_PIN_FILE?.trim() || undefined;
  if (pinValue && pinFileName) throw new ConfigError('HSM_PIN_FILE', 'set either HSM_PIN or HSM_PIN_FILE, not both');
  const hsm =
    uri === undefined
      ? { library: library!, selector: selector!, pin: pinValue, pinFile: pinFileName, pinFileVariable: 'HSM_PIN_FILE' }
      : combineHsmUri(uri, { library, selector, pin: pinValue, pinFile: pinFileName });
  const pin = hsm.pin ?? (hsm.pinFile === undefined ? undefined : readPinFile(hsm.pinFile, hsm.pinFileVariable));
  // Without a login the token's private keys are invisible: an HSM that looks empty, and keys
  // generated over existing ones. Fail here instead.
  if (pin === undefined)
    throw new ConfigError(
      'HSM_PIN',
      "is required when HSM_ENABLED is true (or HSM_PIN_FILE, or pin-value or pin-source in HSM_URI): without a login the token's keys cannot be seen",
    );
  return {
    library: hsm.library,
    pin,
    ...(hsm.pinFile === undefined ? {} : { pinFile: hsm.pinFile }),
    selector: hsm.selector,
    keySetPrefix: env.HSM_KEY_SET_PREFIX ?? '',
    initArgs: env.HSM_INIT_ARGS || undefined,
    poolSize: integer(env, 'HSM_POOL_SIZE', 1) ?? DEFAULTS.pool.size,
  };
}

function secretsOf(env: Env): string[] {
  const raw = env.SECRETS_SYSTEM;
  if (raw === undefined || raw.trim() === '') return [];
  const secrets = raw.split(',').map((s) => s.trim());
  secrets.forEach((s, i) => {
    if (s.length < MIN_SECRET_LENGTH)
      throw new ConfigError('SECRETS_SYSTEM', `secret #${i + 1} is shorter than ${MIN_SECRET_LENGTH} characters`);
  });
  return secrets;
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
  const retireAfterMs = duration(env, 'ROTATE_RETIRE_AFTER') ?? Math.max(DEFAULT_RETIRE_AFTER_MS, lifetime);
  if (retireAfterMs < lifetime)
    throw new ConfigError(
      'ROTATE_RETIRE_AFTER',
      'must be at least TOKEN_MAX_LIFETIME: tokens signed by a retired key must still verify',
    );
  const everyMs = duration(env, 'ROTATE_EVERY');
  if (everyMs !== undefined && everyMs < publishAheadMs)
    throw new ConfigError(
      'ROTATE_EVERY',
      `must be at least ROTATE_PUBLISH_AHEAD (${publishAheadMs / 1000}s): a new key would be made before the last one signs, and keys would pile up in the JWKS`,
    );
  const removed = env.ROTATE_REMOVED?.trim() || 'destroy';
  if (removed !== 'destroy' && removed !== 'keep') throw new ConfigError('ROTATE_REMOVED', 'must be destroy or keep');
  return {
    publishAheadMs,
    maxTokenLifetimeMs: lifetime,
    rotation: { everyMs, retireAfterMs, removed },
  };
}

export function loadConfig(env: Env = process.env): Config {
  // Hydra's `panic` is our `fatal` (nothing here panics).
  const named = env.LOG_LEVEL?.trim().toLowerCase() || DEFAULT_LOG_LEVEL;
  const level = (named === 'panic' ? 'fatal' : named) as LogLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new ConfigError('LOG_LEVEL', `must be one of panic, ${LOG_LEVELS.join(', ')}`);
  const format = (given(env, 'LOG_FORMAT')?.toLowerCase() ?? 'auto') as LogFormat;
  if (format !== 'auto' && !(LOG_FORMATS as readonly string[]).includes(format))
    throw new ConfigError(
      'LOG_FORMAT',
      `must be one of ${LOG_FORMATS.join(', ')} (unset: text on a terminal, json otherwise)`,
    );
  const dsn = env.DSN?.trim() || DEFAULT_DSN;
  if (!/^(sqlite|postgres|postgresql):\/\//.test(dsn))
    throw new ConfigError('DSN', 'must start with sqlite:// or postgres://');
  const service = serviceConfig(env, (cacheSeconds) => rotationOf(env, cacheSeconds).rotation);
  const { publishAheadMs, maxTokenLifetimeMs } = rotationOf(env, service.jwksCacheSeconds);
  const kidFormat = (given(env, 'KID_FORMAT')?.toLowerCase() ?? 'uuid') as KidFormat;
  if (!KID_FORMATS.includes(kidFormat)) throw new ConfigError('KID_FORMAT', `must be one of ${KID_FORMATS.join(', ')}`);
  return {
    hsm: flag(env, 'HSM_ENABLED') ? hsmConfig(env) : undefined,
    dsn,
    secrets: secretsOf(env),
    logLevel: level,
    logFormat: format,
    publishAheadMs,
    maxTokenLifetimeMs,
    kidFormat,
    service,
  };
}
