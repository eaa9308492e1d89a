// `hsm-jwks serve --dev` (what `npm start` runs): whatever is not configured gets a development
// default under ./data, loudly. A development secret (0600 file) when SECRETS_SYSTEM is unset; a
// SoftHSM2 token when HSM_* is unset and SoftHSM2 is installed, initialised through the module itself
// (C_InitToken, C_InitPIN: no PIN on any command line) with a random user PIN and SO PIN, each in a
// 0600 file under data/softhsm (the SO PIN so the token can be reset). Neither PIN is printed.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Config } from '../config';
import type { Logger } from '../logger';
import { ensureToken, SOFTHSM_LIBRARY } from './token-files';
import { DEFAULTS } from '../pkcs11/defaults';

export const DEV_LABEL = 'hsm-jwks-dev';

function secretFile(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export async function applyDevDefaults(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  dataDir = path.resolve('data'),
  library = SOFTHSM_LIBRARY,
): Promise<Config> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const out: Config = { ...config };
  if (config.secrets.length === 0) {
    out.secrets = [secretFile(path.join(dataDir, 'dev-secret'))];
    logger.warn(
      `SECRETS_SYSTEM is not set: software keys are sealed with a development secret kept in ${path.join(dataDir, 'dev-secret')}. Production must set SECRETS_SYSTEM.`,
    );
  }
  if (config.hsm || env.HSM_ENABLED !== undefined || env.HSM_LIBRARY !== undefined) return out;
  if (!fs.existsSync(library)) {
    logger.warn(
      'SoftHSM2 is not installed: serving software keys only. Set HSM_ENABLED=true and HSM_LIBRARY (apt-get install softhsm2 for a development token) to keep keys in an HSM.',
    );
    return out;
  }
  const dir = path.join(dataDir, 'softhsm');
  fs.mkdirSync(path.join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(
    conf,
    `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  env.SOFTHSM2_CONF = conf; // read by SoftHSM in C_Initialize
  const pinFile = path.join(dir, 'pin');
  const token = await ensureToken({ library, label: DEV_LABEL, pinFile, soPinFile: path.join(dir, 'so-pin') });
  logger.warn(
    `HSM_* is not set: using a development SoftHSM2 token "${DEV_LABEL}" in ${dir} (${token.existing ? 'existing' : 'initialised now'}; user PIN in ${pinFile}, SO PIN in ${path.join(dir, 'so-pin')}).`,
  );
  out.hsm = {
    library,
    pin: fs.readFileSync(pinFile, 'utf8').replace(/\r?\n$/, ''),
    pinFile,
    selector: { tokenLabel: DEV_LABEL, onAmbiguous: 'first' },
    keySetPrefix: '',
    initArgs: undefined,
    poolSize: DEFAULTS.pool.size,
  };
  return out;
}
