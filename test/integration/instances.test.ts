// Two service instances sharing one PostgreSQL store and one SoftHSM token, started at the same
// moment: exactly one key per public set, the same JWKS from both, and a key added through one
// visible through the other within the JWKS cache bound (JWKS_CACHE_SECONDS=1 here).
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';

import { fetch, spawn } from '../helpers/leak-collector';
import { postgresSchema } from '../helpers/postgres';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
const ADMIN = 'shared-admin-token-of-the-tests';
let DSN = '';
let why: string | undefined;

beforeAll(async () => {
  ({ dsn: DSN = '', why } = await postgresSchema('instances_test', 'the two-instance test'));
  softHsm().initToken('shared');
});

function start(): { child: ChildProcess; ready: Promise<{ public: string; admin: string }>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH,
      SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
      HSM_ENABLED: 'true',
      HSM_LIBRARY: SOFTHSM_MODULE,
      HSM_TOKEN_LABEL: 'shared',
      HSM_PIN: USER_PIN,
      DSN,
      SECRETS_SYSTEM: 'two-instances-share-this-secret',
      ADMIN_TOKEN: ADMIN,
      PUBLIC_PORT: '0',
      ADMIN_PORT: '0',
      JWKS_PUBLIC_SETS: 'shared.a,shared.b',
      JWKS_DEFAULT_ALG: 'ES256',
      JWKS_CACHE_SECONDS: '1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const ready = new Promise<{ public: string; admin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 60 s:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /serving (http:\/\/[^/]+)\/\.well-known\/jwks\.json \(admin API at (http:\/\/[^/]+)\/admin\)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve({ public: m[1]!, admin: m[2]! });
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}:\n${stderr}`)));
  });
  return { child, ready, stderr: () => stderr };
}

const kids = async (url: string) =>
  ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();

test('two instances started together: one key per set, the same JWKS, writes seen by both', async () => {
  if (why !== undefined) return console.warn(`skipped: ${why}`);
  const a = start();
  const b = start();
  try {
    const [ua, ub] = await Promise.all([a.ready, b.ready]);
    const first = await kids(ua.public);
    expect(first).toHaveLength(2);
    expect(await kids(ub.public)).toEqual(first);
    const generated = (a.stderr() + b.stderr()).match(/does not exist yet, generating new key pair/g) ?? [];
    expect(generated).toHaveLength(2);

    const made = await fetch(`${ua.admin}/admin/keys/shared.a`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ alg: 'ES384', kid: 'added-through-a' }),
    });
    expect(made.status).toBe(201);
    expect(await kids(ua.public)).toContain('added-through-a');
    const deadline = Date.now() + 5_000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      seen = (await kids(ub.public)).includes('added-through-a');
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toBe(true);
  } finally {
    const exits = [a, b].map(({ child }) => new Promise((r) => child.on('exit', r)));
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all(exits);
  }
}, 120_000);
