// jest globalTeardown: greps everything the run recorded (leak-collector.ts) for the PINs and
// SECRETS_SYSTEM values of the tests: those the helpers export, plus every one the tests handed to
// a child process, to loadConfig or to a Sealer (registered while they ran). Prints a summary line;
// throws (jest exits non-zero) on a leak, or when the collection is too empty to vouch for the run.
import * as fs from 'node:fs';

import { ALL_SECRETS } from '../integration/store-helpers';
import { checkCollection, registeredSecrets, type Secret } from './leak-check';
import { LEAK_DIR_ENV } from './leak-collector';
import { SO_PIN, USER_PIN } from './softhsm';

export const EXPORTED_SECRETS: readonly Secret[] = [
  { kind: 'pin', label: 'USER_PIN of test/helpers/softhsm.ts', value: USER_PIN },
  { kind: 'pin', label: 'SO_PIN of test/helpers/softhsm.ts', value: SO_PIN },
  ...ALL_SECRETS.map((value, i) => ({
    kind: 'secret' as const,
    label: `ALL_SECRETS[${i}] of test/integration/store-helpers.ts`,
    value,
  })),
];

export default async function globalTeardown(globalConfig: { rootDir: string }): Promise<void> {
  const dir = process.env[LEAK_DIR_ENV];
  if (!dir || !fs.existsSync(dir))
    throw new Error(`leak check: ${LEAK_DIR_ENV} names no directory: test/helpers/global-setup.js did not run`);
  const { summary, problems } = checkCollection(
    dir,
    [...EXPORTED_SECRETS, ...registeredSecrets(dir)],
    globalConfig.rootDir,
  );
  console.log(`\n${summary}`);
  if (problems.length > 0) {
    throw new Error(`leak check failed (the collection is kept in ${dir}):\n  ${problems.join('\n  ')}`);
  }
  if (!process.env.HSM_JWKS_KEEP_LEAK_COLLECTION) fs.rmSync(dir, { recursive: true, force: true });
}
