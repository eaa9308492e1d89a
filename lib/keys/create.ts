// createKeyManager: the key ring over the configured store and, when an HSM is configured, the
// token (generation goes there). Fails fast when the HSM cannot
// be configured, naming the library and the token (never the PIN).
import { createLogger, type Logger, type LogLevel } from '../logger';
import { Pkcs11Module, type TokenSelector } from '../pkcs11/module';
import type { RecoveryEvent } from '../pkcs11/recovery';
import { uriForDisplay } from '../pkcs11/uri';
import type { KeyStore } from '../store/key-store';
import { openKeyStore } from '../store/open-store';
import { KeyManagerError } from './errors';
import { HsmKeySource } from './hsm-source';
import type { KidFormat } from './key-manager';
import { KeyRing } from './key-ring';
import { SoftwareKeySource } from './software-source';

export interface HsmSettings {
  library: string;
  pin: string | undefined;
  /** HSM_PIN_FILE: read again when it changes or an operator asks for a login (a new PIN after a refused one). */
  pinFile?: string;
  selector: TokenSelector;
  keySetPrefix: string;
  initArgs: string | undefined;
  poolSize: number;
}

export interface KeyManagerSettings {
  /** Undefined: software keys only. */
  hsm: HsmSettings | undefined;
  dsn: string;
  secrets: readonly string[];
  /** Level of the default (pino, stderr) logger when no logger is given. */
  logLevel?: LogLevel;
  /** How long a new key is published before it signs, when its set already has a signing key (ms). */
  publishAheadMs?: number;
  /** The longest lifetime of a JWT signJwt makes (ms; TOKEN_MAX_LIFETIME). */
  maxTokenLifetimeMs?: number;
  /** The kid of a key generated without one (KID_FORMAT): `uuid` (default) or `thumbprint`. */
  kidFormat?: KidFormat;
  /** The published sets (JWKS_PUBLIC_SETS, in the service's settings): no symmetric key in them. */
  service?: { publicSets: readonly string[] };
}

export function describeToken(hsm: Pick<HsmSettings, 'library' | 'selector'>): string {
  const s = hsm.selector;
  const which =
    'tokenLabel' in s
      ? `token label: ${s.tokenLabel}`
      : 'serial' in s
        ? `token serial: ${s.serial}`
        : 'uri' in s
          ? `token URI: ${uriText(s.uri)}`
          : `slot: ${String(s.slot)}`;
  return `Library path: ${hsm.library}, ${which}`;
}

/** A selector's URI as it may be shown: without its query (no PIN), or a placeholder when it does not parse. */
function uriText(uri: Parameters<typeof uriForDisplay>[0]): string {
  try {
    return uriForDisplay(uri);
  } catch {
    return '(not a PKCS#11 URI)';
  }
}

/** Every recovery step is logged: what happened and the code of the error that caused it (never a PIN). */
function logRecovery(logger: Logger, event: RecoveryEvent): void {
  const fields = { ...event };
  if (event.kind === 'reinitialize-failed') logger.warn(`HSM recovery: ${event.kind}`, fields);
  else if (event.kind === 'retry')
    logger.debug(`HSM recovery: ${event.kind}`, fields); // one per operation in flight
  else logger.info(`HSM recovery: ${event.kind}`, fields);
}

export interface CreateOptions {
  logger?: Logger;
  /** The ring's clock (ms since the epoch); tests move it. */
  clock?: () => number;
}

/**
 * Rows sealed by earlier versions bind only (set, kid): sealed again now, so that their alg, use
 * and creation time are under the seal too. Rows that do not open (another secret) stay as they
 * are, reported when read. Under the store's lock: instances starting together do it once.
 */
async function resealLegacy(store: KeyStore, logger: Logger): Promise<void> {
  const { resealed, failures } = await store.withLock('reseal-legacy-rows', () => store.resealLegacyRows());
  if (resealed > 0) logger.info('software keys sealed again with their metadata under the seal', { resealed });
  if (failures.length > 0)
    logger.warn('software keys sealed by an earlier version cannot be opened with SECRETS_SYSTEM', {
      rows: failures.map((f) => `${f.set}/${f.kid}`),
    });
}

export async function createKeyManager(settings: KeyManagerSettings, options: CreateOptions = {}): Promise<KeyRing> {
  const logger = options.logger ?? createLogger(settings.logLevel);
  const store = openKeyStore(settings.dsn, settings.secrets);
  try {
    await resealLegacy(store, logger);
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  const software = new SoftwareKeySource(store);
  const ringOptions = {
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(settings.publishAheadMs !== undefined ? { publishAheadMs: settings.publishAheadMs } : {}),
    ...(settings.maxTokenLifetimeMs !== undefined ? { maxTokenLifetimeMs: settings.maxTokenLifetimeMs } : {}),
    ...(settings.kidFormat !== undefined ? { kidFormat: settings.kidFormat } : {}),
    ...(settings.service ? { publishedSets: settings.service.publicSets } : {}),
  };
  const hsm = settings.hsm;
  if (!hsm) return new KeyRing(software, undefined, ringOptions);
  let mod: Pkcs11Module | undefined;
  try {
    mod = await Pkcs11Module.load(hsm.library, hsm.initArgs === undefined ? {} : { initArgs: hsm.initArgs });
    const token = await mod.openToken(hsm.selector, {
      ...(hsm.pin === undefined ? {} : { pin: hsm.pin }),
      poolSize: hsm.poolSize,
      recovery: { onEvent: (event) => logRecovery(logger, event) },
    });
    logger.info('Hardware Security Module is configured.', {
      token: token.label,
      serial: token.serialNumber,
      slot: String(token.slot),
    });
    const loaded = mod;
    const hardware = new HsmKeySource(token, {
      prefix: hsm.keySetPrefix,
      store,
      logger,
      closeWith: () => loaded.close(),
    });
    return new KeyRing(software, hardware, ringOptions);
  } catch (e) {
    await mod?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    const why = (e as { code?: string }).code ?? (e as Error).message;
    throw new KeyManagerError(
      'ERR_HSM_UNAVAILABLE',
      `Unable to configure Hardware Security Module. ${describeToken(hsm)} (${why})`,
      { cause: e },
    );
  }
}
