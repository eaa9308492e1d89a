// loadConfig: Hydra's variable names and ours, defaults, precedence, and errors that name the
// variable without echoing PINs or secrets.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DEFAULT_DSN, loadConfig } from '../../lib/config';

const base = { HSM_ENABLED: 'true', HSM_LIBRARY: '/usr/lib/softhsm/libsofthsm2.so', HSM_PIN: '1234' };

test('defaults: no HSM, SQLite under ./data, no secrets, info logs', () => {
  expect(loadConfig({})).toEqual({
    hsm: undefined,
    dsn: DEFAULT_DSN,
    secrets: [],
    logLevel: 'info',
    publishAheadMs: 90_000,
    maxTokenLifetimeMs: 3_600_000,
    service: {
      adminToken: undefined,
      host: '127.0.0.1',
      publicPort: 4444,
      adminPort: 4445,
      publicSets: ['hydra.openid.id-token', 'hydra.jwt.access-token'],
      defaultAlg: 'RS256',
      jwksCacheSeconds: 30,
      rotation: { everyMs: undefined, retireAfterMs: 86_400_000, removed: 'destroy' },
    },
  });
  expect(DEFAULT_DSN).toBe('sqlite://data/hsm-jwks.sqlite');
});

test('the token label wins over the serial and the slot (Hydra: label over slot, first match)', () => {
  expect(loadConfig({ ...base, HSM_TOKEN_LABEL: 'hydra', HSM_SLOT: '0', HSM_TOKEN_SERIAL: 's' }).hsm?.selector).toEqual(
    { tokenLabel: 'hydra', onAmbiguous: 'first' },
  );
  expect(loadConfig({ ...base, HSM_SLOT: '0', HSM_TOKEN_SERIAL: 'abc' }).hsm?.selector).toEqual({ serial: 'abc' });
  expect(loadConfig({ ...base, HSM_SLOT: '0x2763db07' }).hsm?.selector).toEqual({ slot: 0x2763db07 });
  expect(loadConfig({ ...base, HSM_SLOT: '3' }).hsm).toMatchObject({
    selector: { slot: 3 },
    poolSize: 4,
    keySetPrefix: '',
    pin: '1234',
  });
});

test('every HSM setting', () => {
  const c = loadConfig({
    ...base,
    HSM_TOKEN_LABEL: 't',
    HSM_KEY_SET_PREFIX: 'app.',
    HSM_INIT_ARGS: "configdir='sql:/x'",
    HSM_POOL_SIZE: '8',
    LOG_LEVEL: 'DEBUG',
  });
  expect(c.hsm).toEqual({
    library: base.HSM_LIBRARY,
    pin: '1234',
    selector: { tokenLabel: 't', onAmbiguous: 'first' },
    keySetPrefix: 'app.',
    initArgs: "configdir='sql:/x'",
    poolSize: 8,
  });
  expect(c.logLevel).toBe('debug');
  expect(loadConfig({ ...base, HSM_ENABLED: 'false', HSM_LIBRARY: '' }).hsm).toBeUndefined();
});

test('HSM_PIN_FILE: the file content without its final newline', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-pin-')), 'pin');
  fs.writeFileSync(file, '24680\n');
  expect(loadConfig({ ...base, HSM_PIN: undefined, HSM_PIN_FILE: file, HSM_SLOT: '0' }).hsm?.pin).toBe('24680');
  fs.rmSync(path.dirname(file), { recursive: true });
});

test('SECRETS_SYSTEM: comma-separated, each at least 16 characters', () => {
  expect(loadConfig({ SECRETS_SYSTEM: 'aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbb' }).secrets).toEqual([
    'aaaaaaaaaaaaaaaa',
    'bbbbbbbbbbbbbbbbbb',
  ]);
});

test.each([
  [{ HSM_ENABLED: 'maybe' }, 'HSM_ENABLED'],
  [{ ...base, HSM_LIBRARY: '' }, 'HSM_LIBRARY'],
  [{ ...base }, 'HSM_TOKEN_LABEL'],
  [{ ...base, HSM_SLOT: '-1' }, 'HSM_SLOT'],
  [{ ...base, HSM_SLOT: 'one' }, 'HSM_SLOT'],
  [{ ...base, HSM_SLOT: '0', HSM_POOL_SIZE: '0' }, 'HSM_POOL_SIZE'],
  [{ ...base, HSM_SLOT: '0', HSM_PIN_FILE: '/nonexistent/pin' }, 'HSM_PIN_FILE'],
  [{ ...base, HSM_SLOT: '0', HSM_PIN: '97531', HSM_PIN_FILE: '/etc/hostname' }, 'HSM_PIN_FILE'],
  [{ SECRETS_SYSTEM: 'long-enough-secret-1,short-97531' }, 'SECRETS_SYSTEM'],
  [{ DSN: 'mysql://x' }, 'DSN'],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  [{ SERVE_HOST: '0.0.0.0' }, 'SERVE_HOST'],
  [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
  [{ PUBLIC_PORT: '70000' }, 'PUBLIC_PORT'],
])('%j is refused, naming %s', (env, variable) => {
  let error: unknown;
  try {
    loadConfig(env);
  } catch (e) {
    error = e;
  }
  expect(error).toMatchObject({ code: 'ERR_CONFIG', variable });
  expect((error as Error).message).not.toMatch(/97531|1234/);
});

test('rotation settings: durations, and the checks that keep every verifier working', () => {
  const c = loadConfig({
    ROTATE_EVERY: '30d',
    ROTATE_PUBLISH_AHEAD: '5m',
    TOKEN_MAX_LIFETIME: '2h',
    ROTATE_RETIRE_AFTER: '3h',
    ROTATE_REMOVED: 'keep',
  });
  expect(c.publishAheadMs).toBe(300_000);
  expect(c.service.rotation).toEqual({ everyMs: 30 * 86_400_000, retireAfterMs: 3 * 3_600_000, removed: 'keep' });
  expect(loadConfig({ JWKS_CACHE_SECONDS: '60' }).publishAheadMs).toBe(150_000);
  expect(loadConfig({ TOKEN_MAX_LIFETIME: '48h' }).service.rotation.retireAfterMs).toBe(48 * 3_600_000);
  const cases: Array<[Record<string, string>, string]> = [
    [{ ROTATE_PUBLISH_AHEAD: '69s' }, 'ROTATE_PUBLISH_AHEAD'], // below 2 × 30 s + 10 s: a cached JWKS would lack the key
    [{ JWKS_CACHE_SECONDS: '120', ROTATE_PUBLISH_AHEAD: '4m' }, 'ROTATE_PUBLISH_AHEAD'],
    [{ TOKEN_MAX_LIFETIME: '2h', ROTATE_RETIRE_AFTER: '1h' }, 'ROTATE_RETIRE_AFTER'],
    [{ ROTATE_EVERY: 'monthly' }, 'ROTATE_EVERY'],
    [{ ROTATE_EVERY: '0s' }, 'ROTATE_EVERY'],
    [{ ROTATE_REMOVED: 'shred' }, 'ROTATE_REMOVED'],
  ];
  for (const [env, variable] of cases)
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', variable }));
  expect(loadConfig({ ROTATE_PUBLISH_AHEAD: '70s' }).publishAheadMs).toBe(70_000);
});
