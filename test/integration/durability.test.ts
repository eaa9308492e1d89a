// Durability: kill -9 the service while 1,000 imports are in flight. After a restart, every import
// that was acknowledged is there and opens, and no row is partial (every row of the set opens).
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { openKeyStore } from '../../lib/store/open-store';
import { fetch } from '../helpers/recording-fetch';
import { spawn } from '../helpers/recording-child-process';

const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');
const ADMIN = 'durability-admin-token-0123';
const SECRET = 'durability-test-secret-0123';

function start(dsn: string): { child: ChildProcess; admin: Promise<string> } {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH,
      DSN: dsn,
      SECRETS_SYSTEM: SECRET,
      ADMIN_TOKEN: ADMIN,
      PUBLIC_PORT: '0',
      ADMIN_PORT: '0',
      JWKS_PUBLIC_SETS: 'durable.public',
      JWKS_DEFAULT_ALG: 'ES256',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const admin = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /admin API at (http:\/\/[^/]+)\/admin/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code, signal) => reject(new Error(`exited ${code ?? signal}:\n${stderr}`)));
  });
  admin.catch(() => undefined);
  return { child, admin };
}

test('kill -9 during 1,000 concurrent imports: every acknowledged import survives, no partial row', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-durable-'));
  const dsn = `sqlite://${path.join(dir, 'keys.sqlite')}`;
  try {
    const first = start(dsn);
    const admin = await first.admin;
    // The JWK comes out of the key generation itself: on Node 20, KeyObject.export right after
    // generateKeyPairSync can deadlock when a GC during the export finalizes the generation job.
    const asJwk = { publicKeyEncoding: { format: 'jwk' }, privateKeyEncoding: { format: 'jwk' } } as const;
    const jwks = Array.from({ length: 1000 }, (_, i) => ({
      ...(generateKeyPairSync('ec', { namedCurve: 'P-256', ...asJwk }).privateKey as unknown as JsonWebKey),
      alg: 'ES256',
      kid: `import-${i}`,
    }));
    const acknowledged: string[] = [];
    const requests = jwks.map((jwk) =>
      fetch(`${admin}/admin/keys/durable/${jwk.kid}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify(jwk),
      }).then(
        (r) => {
          if (r.status === 200) acknowledged.push(jwk.kid);
        },
        () => undefined, // cut off by the kill
      ),
    );
    // Kill it once some imports were acknowledged and others are still in flight.
    while (acknowledged.length < 100) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    await Promise.all(requests);
    expect(acknowledged.length).toBeGreaterThanOrEqual(100);

    // Every row in the store opens: nothing half-written.
    const store = openKeyStore(dsn, [SECRET]);
    const { keys, failures } = await store.getSet('durable');
    await store.close();
    expect(failures).toEqual([]);
    const stored = new Set(keys.map((k) => k.kid));
    expect(acknowledged.filter((kid) => !stored.has(kid))).toEqual([]);

    // And the restarted service serves them.
    const second = start(dsn);
    const admin2 = await second.admin;
    try {
      for (const kid of acknowledged.slice(0, 20)) {
        const r = await fetch(`${admin2}/admin/keys/durable/${kid}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        expect(r.status).toBe(200);
        const jwk = jwks.find((j) => j.kid === kid)!;
        expect(((await r.json()) as { keys: Array<{ x: string }> }).keys[0]!.x).toBe(jwk.x);
      }
    } finally {
      const exited = new Promise((r) => second.child.on('exit', r));
      second.child.kill('SIGTERM');
      await exited;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
