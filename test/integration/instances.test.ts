// Two service instances sharing one store (PostgreSQL, or one SQLite file on one host) and one
// SoftHSM token, started at the same moment: exactly one key per public set, the same JWKS from
// both, and a write through one instance, or through the CLI, seen by the other within the
// store's freshness bound, not JWKS_CACHE_SECONDS (set to 300 s here to show it).
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { fetch } from '../helpers/recording-fetch';
import { spawn, spawnSync } from '../helpers/recording-child-process';
import { describePostgres, postgresSchema } from '../helpers/postgres';
import { hsmEnv, softHsm } from '../helpers/softhsm';

const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
const ADMIN = 'shared-admin-token-of-the-tests';
const FRESHNESS_MS = 1000;
let tokens = 0;

function envFor(dsn: string, token: string): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
    ...hsmEnv(token, dsn, 'two-instances-share-this-secret'),
    ADMIN_TOKEN: ADMIN,
    PUBLIC_PORT: '0',
    ADMIN_PORT: '0',
    JWKS_PUBLIC_SETS: 'shared.a,shared.b',
    JWKS_DEFAULT_ALG: 'ES256',
    JWKS_CACHE_SECONDS: '300',
    LOG_LEVEL: 'warn',
  };
}

function start(env: Record<string, string | undefined>): {
  child: ChildProcess;
  ready: Promise<{ public: string; admin: string }>;
  stderr: () => string;
} {
  const child = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const ready = new Promise<{ public: string; admin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 60 s:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /serving (http:\/\/[^/]+)\/\.well-known\/jwks\.json \(admin API at (http:\/\/[^/]+)\/admin\)/.exec(
        stderr,
      );
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
  ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys
    .map((k) => k.kid)
    .sort();

/** Waits until `url`'s JWKS has `kid`; returns how long it took (ms), or fails after `limit`. */
async function seenWithin(url: string, kid: string, limit: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limit) {
    if ((await kids(url)).includes(kid)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${kid} not in ${url}'s JWKS after ${limit} ms`);
}

async function twoInstances(dsn: string): Promise<void> {
  const token = `shared-${++tokens}`;
  softHsm().initToken(token);
  const env = envFor(dsn, token);
  const a = start(env);
  const b = start(env);
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
    await seenWithin(ub.public, 'added-through-a', FRESHNESS_MS + 2000);

    // A CLI write (another process) is seen by both running instances.
    const cli = spawnSync(
      process.execPath,
      [CLI, 'keys', 'create', 'shared.b', '--alg', 'ES256', '--kid', 'made-by-the-cli'],
      { env, encoding: 'utf8' },
    );
    expect(cli.status).toBe(0);
    await Promise.all([
      seenWithin(ua.public, 'made-by-the-cli', FRESHNESS_MS + 2000),
      seenWithin(ub.public, 'made-by-the-cli', FRESHNESS_MS + 2000),
    ]);
  } finally {
    const exits = [a, b].map(
      ({ child }) => new Promise((r) => (child.exitCode === null ? child.on('exit', r) : r(undefined))),
    );
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all(exits);
  }
}

test('SQLite: two processes on one file, started together: one key per set; writes and CLI writes seen by both', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-instances-'));
  try {
    await twoInstances(`sqlite://${path.join(dir, 'shared.sqlite')}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

describePostgres('PostgreSQL', () => {
  test('two instances started together: one key per set; writes and CLI writes seen by both', async () => {
    const { dsn } = await postgresSchema('instances_test', 'the two-instance test');
    await twoInstances(dsn!);
  }, 120_000);
});
