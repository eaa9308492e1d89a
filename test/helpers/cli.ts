// The hsm-jwks command as a child process (the built dist/lib/cli/main.js, as installed) against
// SoftHSM2 and an SQLite file in a temporary directory: what the CLI suites share.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { spawnSync } from './recording-child-process';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from './softhsm';

export const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');

export interface CliHarness {
  /** The suite's temporary directory (made in beforeAll, removed in afterAll). */
  dir(): string;
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  cli(
    args: string[],
    extra?: Record<string, string>,
    // biome-ignore lint/suspicious/noExplicitAny: the command's JSON answer; each test reads its own fields.
  ): { code: number | null; stdout: string; stderr: string; json: () => any };
}

/** Registers beforeAll/afterAll: a token labelled `cli`, a temp dir; `secret` is the suite's SECRETS_SYSTEM. */
export function cliHarness(secret: string, prefix: string): CliHarness {
  let dir = '';
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
    HSM_ENABLED: 'true',
    HSM_LIBRARY: SOFTHSM_MODULE,
    HSM_TOKEN_LABEL: 'cli',
    HSM_PIN: USER_PIN,
    DSN: `sqlite://${path.join(dir, 'cli.sqlite')}`,
    SECRETS_SYSTEM: secret,
    LOG_LEVEL: 'warn',
    ...extra,
  });
  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does)`);
    softHsm().initToken('cli');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return {
    dir: () => dir,
    env,
    cli: (args, extra = {}) => {
      const r = spawnSync(process.execPath, [CLI, ...args], { env: env(extra), encoding: 'utf8' });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
    },
  };
}
