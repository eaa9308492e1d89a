// node-oidc-provider with its signing keys on the token, end to end: the application in
// test/fixtures/oidc-provider-app.mjs (an ES module importing hsm-jwks and hsm-jwks/oidc-provider by
// name) runs a real provider on loopback; a client-credentials grant gets a JWT access token, which
// jose verifies against the provider's jwks_uri. Each token costs exactly one signature on the
// token (the key manager's engine counter), and the key is an HSM key: no private key in the process.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

import { fetch } from '../helpers/recording-fetch';
import { spawn } from '../helpers/recording-child-process';
import { hsmEnv, softHsm } from '../helpers/softhsm';

const APP = path.join(__dirname, '..', '..', 'test', 'fixtures', 'oidc-provider-app.mjs');
const SECRET = 'oidc-provider-suite-secret-0123456789';
let dir: string;
let app: ChildProcess;
let issuer: string;

interface Stats {
  kids: string[];
  stats: Record<string, number>;
  list: Array<{ set: string; kid: string; where: string; state: string }>;
}
const stats = async (): Promise<Stats> => (await fetch(`${issuer}/test/stats`)).json() as Promise<Stats>;
const signatures = async () => (await stats()).stats.hsm_jwks_engine_signatures_total;

async function accessToken(): Promise<string> {
  const r = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('app:a-long-enough-client-secret-for-tests').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=read',
  });
  const body = (await r.json()) as { access_token?: string; error?: string };
  expect(body.error).toBeUndefined();
  expect(r.status).toBe(200);
  return body.access_token!;
}

beforeAll(async () => {
  softHsm().initToken('oidc');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-oidc-'));
  app = spawn(process.execPath, [APP], {
    env: {
      PATH: process.env.PATH,
      SOFTHSM2_CONF: process.env.SOFTHSM2_CONF,
      ...hsmEnv('oidc', `sqlite://${path.join(dir, 'keys.sqlite')}`, SECRET),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = createInterface({ input: app.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => line.startsWith('{') && resolve(line)); // the provider's notices come first
    app.once('exit', (code) => reject(new Error(`the application exited (${code}) before it listened`)));
  });
  issuer = (JSON.parse(first) as { issuer: string }).issuer;
}, 60_000);

afterAll(async () => {
  if (app && app.exitCode === null) {
    const exited = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGTERM');
    await exited;
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a JWT access token from the provider verifies against its jwks_uri, signed once on the token', async () => {
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
    jwks_uri: string;
    issuer: string;
  };
  expect(discovery.issuer).toBe(issuer);
  const before = await stats();
  // The key is on the token: the key manager has it as an HSM key, and the provider publishes no private member.
  expect(before.list.filter((k) => k.set === 'oidc.id-token')).toEqual([
    expect.objectContaining({ kid: before.kids[0], where: 'hsm', state: 'active' }),
  ]);
  const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: Array<Record<string, unknown>> };
  expect(jwks.keys.map((k) => k.kid)).toEqual(before.kids);
  for (const k of jwks.keys) expect(Object.keys(k).filter((m) => ['d', 'p', 'q'].includes(m))).toEqual([]);

  const token = await accessToken();
  const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer,
    audience: 'https://api.example',
  });
  expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: before.kids[0], typ: 'at+jwt' });
  expect(payload).toMatchObject({ client_id: 'app', scope: 'read' });
  expect((await signatures()) - before.stats.hsm_jwks_engine_signatures_total).toBe(1);
});

test('after a rotation the provider is rebuilt with the new key first; tokens of both keys verify', async () => {
  const old = await accessToken();
  const rotated = (await (await fetch(`${issuer}/test/rotate`, { method: 'POST' })).json()) as { kid: string };
  const deadline = Date.now() + 10_000;
  let kids = (await stats()).kids;
  while (kids[0] !== rotated.kid && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    kids = (await stats()).kids;
  }
  expect(kids[0]).toBe(rotated.kid);
  expect(kids).toContain(decodeProtectedHeader(old).kid); // still published: its tokens verify
  const fresh = await accessToken();
  expect(decodeProtectedHeader(fresh).kid).toBe(rotated.kid);
  const keySet = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  for (const t of [old, fresh]) {
    await expect(jwtVerify(t, keySet, { issuer, audience: 'https://api.example' })).resolves.toBeDefined();
  }
});
