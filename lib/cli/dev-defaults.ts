// `hsm-jwks serve --dev` (what `npm start` runs): whatever is not configured gets a development
// default under ./data, loudly. A development secret (0600 file) when SECRETS_SYSTEM is unset; a
// SoftHSM2 token with a random PIN (0600 file) when HSM_* is unset and SoftHSM2 is installed.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Config } from '../config';
import type { Logger } from '../logger';

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const DEV_LABEL = 'hsm-jwks-dev';

function secretFile(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function hasSoftHsm(): boolean {
  if (!fs.existsSync(SOFTHSM)) return false;
  try {
    execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function applyDevDefaults(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  dataDir = path.resolve('data'),
): Config {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const out: Config = { ...config };
  if (config.secrets.length === 0) {
    out.secrets = [secretFile(path.join(dataDir, 'dev-secret'))];
    logger.warn(
      `SECRETS_SYSTEM is not set: software keys are sealed with a development secret kept in ${path.join(dataDir, 'dev-secret')}. Production must set SECRETS_SYSTEM.`,
    );
  }
  if (config.hsm || env.HSM_ENABLED !== undefined || env.HSM_LIBRARY !== undefined) return out;
  if (!hasSoftHsm()) {
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
  const pin = secretFile(path.join(dir, 'pin'));
  const slots = execFileSync('softhsm2-util', ['--show-slots'], { env, encoding: 'utf8' });
  if (!new RegExp(`Label:\\s+${DEV_LABEL}\\s*$`, 'm').test(slots)) {
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', DEV_LABEL, '--so-pin', randomBytes(16).toString('hex'), '--pin', pin],
      { env, stdio: 'ignore' },
    );
  }
  logger.warn(
    `HSM_* is not set: using a development SoftHSM2 token "${DEV_LABEL}" in ${dir} (PIN in ${path.join(dir, 'pin')}).`,
  );
  out.hsm = {
    library: SOFTHSM,
    pin,
    selector: { tokenLabel: DEV_LABEL, onAmbiguous: 'first' },
    keySetPrefix: '',
    initArgs: undefined,
    poolSize: 4,
  };
  return out;
}
