// `npm start` (hsm-jwks serve --dev) with no configuration at all: development defaults under
// ./data (a sealed-store secret, a SoftHSM2 token with a random PIN), the two default public
// sets generated, the JWKS served, and a clean stop on SIGTERM.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { fetch } from '../helpers/recording-fetch';
import { spawn, spawnSync } from '../helpers/recording-child-process';

const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');

test('serve --dev with an empty environment comes up, serves both default sets, stops on SIGTERM', async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-start-'));
  try {
    const child = spawn(process.execPath, [CLI, 'serve', '--dev'], {
      cwd,
      env: { PATH: process.env.PATH, PUBLIC_PORT: '0', ADMIN_PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "serving" line within 60 s:\n${stderr}`)), 60_000);
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const m = /serving (http:\/\/127\.0\.0\.1:\d+)\/\.well-known\/jwks\.json/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}:\n${stderr}`)));
    });
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ alg: string; kty: string }>;
    };
    expect(jwks.keys.map((k) => [k.kty, k.alg])).toEqual([
      ['RSA', 'RS256'],
      ['RSA', 'RS256'],
    ]);
    expect(stderr).toContain('SECRETS_SYSTEM is not set');
    expect(stderr).toContain('development SoftHSM2 token');
    expect(fs.statSync(path.join(cwd, 'data', 'dev-secret')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(cwd, 'data', 'softhsm', 'pin')).mode & 0o777).toBe(0o600);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}, 120_000);

test('serve fails closed: a public set whose keys cannot be opened (wrong SECRETS_SYSTEM) stops it, naming set, keys and cause; nothing is generated', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-closed-'));
  try {
    const base = {
      PATH: process.env.PATH,
      DSN: `sqlite://${path.join(dir, 'k.sqlite')}`,
      PUBLIC_PORT: '0',
      ADMIN_PORT: '0',
      LOG_LEVEL: 'warn',
      JWKS_PUBLIC_SETS: 'pub.set',
      JWKS_DEFAULT_ALG: 'ES256',
    };
    const right = { ...base, SECRETS_SYSTEM: 'the-right-secret-of-this-test' };
    expect(
      spawnSync(process.execPath, [CLI, 'keys', 'create', 'pub.set', '--alg', 'ES256', '--kid', 'existing'], {
        env: right,
        encoding: 'utf8',
      }).status,
    ).toBe(0);
    const wrong = spawnSync(process.execPath, [CLI, 'serve'], {
      env: { ...base, SECRETS_SYSTEM: 'a-wrong-secret-of-this-test!' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(
      /ERR_KEY_SET_UNREADABLE: JSON Web Key Set "pub.set" has keys that cannot be used: existing \(software: ERR_SEAL_UNKNOWN_SECRET/,
    );
    expect(wrong.stderr).not.toContain('does not exist yet');
    const listed = spawnSync(process.execPath, [CLI, 'keys', 'list'], { env: right, encoding: 'utf8' });
    expect(JSON.parse(listed.stdout).map((k: { kid: string }) => k.kid)).toEqual(['existing']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
