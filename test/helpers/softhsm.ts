// The SoftHSM2 token directory of this test file, made by softhsm-environment.js (which points
// SOFTHSM2_CONF at a fresh temp dir before the file runs), and pkcs11-tool bound to it.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { execFileSync } from './recording-child-process';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const USER_PIN = '1234';
export const SO_PIN = '0000';

export interface SoftHsm {
  conf: string;
  /** Runs pkcs11-tool against this file's token directory; returns stdout. */
  pkcs11Tool(args: string[]): string;
  /** Initialises a token in the next free slot (SoftHSM always keeps one) with `pin` (USER_PIN by default). */
  initToken(label: string, pin?: string): void;
}

export function softHsm(): SoftHsm {
  if (!fs.existsSync(SOFTHSM_MODULE)) {
    throw new Error(`${SOFTHSM_MODULE} is missing: install softhsm2 and opensc (apt-get install -y softhsm2 opensc)`);
  }
  const conf = process.env.SOFTHSM2_CONF;
  if (!conf?.includes('hsm-jwks-test-')) {
    throw new Error('SOFTHSM2_CONF is not a per-test directory: run the tests through jest (npm test)');
  }
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const pkcs11Tool = (args: string[]) =>
    execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, ...args], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  return {
    conf,
    pkcs11Tool,
    initToken(label: string, pin = USER_PIN) {
      const tokens = fs.readdirSync(path.join(path.dirname(conf), 'tokens')).length;
      pkcs11Tool([
        '--slot-index',
        String(tokens),
        '--init-token',
        '--label',
        label,
        '--so-pin',
        SO_PIN,
        '--init-pin',
        '--pin',
        pin,
      ]);
    },
  };
}

/** The variables of a key manager on the token `tokenLabel` (USER_PIN) with a software store at `dsn`. */
export function hsmEnv(tokenLabel: string, dsn: string, secret: string): Record<string, string> {
  return {
    HSM_ENABLED: 'true',
    HSM_LIBRARY: SOFTHSM_MODULE,
    HSM_TOKEN_LABEL: tokenLabel,
    HSM_PIN: USER_PIN,
    DSN: dsn,
    SECRETS_SYSTEM: secret,
  };
}
