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
    logFormat: 'auto',
    publishAheadMs: 90_000,
    maxTokenLifetimeMs: 3_600_000,
    kidFormat: 'uuid',
    service: {
      adminToken: undefined,
      publicHost: '127.0.0.1',
      adminHost: '127.0.0.1',
      publicPort: 4444,
      adminPort: 4445,
      publicSets: ['hydra.openid.id-token', 'hydra.jwt.access-token'],
      defaultAlg: 'RS256',
      jwksCacheSeconds: 30,
      rotation: { everyMs: undefined, retireAfterMs: 86_400_000, removed: 'destroy' },
      cors: {
        enabled: false,
        allowedOrigins: [],
        allowedMethods: ['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'HEAD', 'OPTIONS', 'TRACE'],
        allowedHeaders: [
          'Accept',
          'Content-Type',
          'Content-Length',
          'Accept-Language',
          'Content-Language',
          'Authorization',
        ],
        exposedHeaders: [
          'Cache-Control',
          'Expires',
          'Last-Modified',
          'Pragma',
          'Content-Length',
          'Content-Language',
          'Content-Type',
        ],
        allowCredentials: true,
        maxAgeSeconds: 0,
        debug: false,
      },
      limits: {
        requestTimeoutMs: 30_000,
        headersTimeoutMs: 10_000,
        keepAliveTimeoutMs: 72_000,
        socketTimeoutMs: 120_000,
        maxConnections: 1024,
        maxRequestsPerSocket: 0,
      },
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
  // Distinct values: the leak check looks for every test's secrets in every test's output.
  expect(loadConfig({ SECRETS_SYSTEM: 'config-test-one-16, config-test-two-of-18' }).secrets).toEqual([
    'config-test-one-16',
    'config-test-two-of-18',
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
  [{ SERVE_ADMIN_HOST: '0.0.0.0' }, 'SERVE_ADMIN_HOST'],
  [{ SERVE_HOST: '::', SERVE_ADMIN_HOST: '::1', SERVE_PUBLIC_PORT: '4444', SERVE_ADMIN_PORT: '4444' }, 'SERVE_HOST'],
  [{ SERVE_PUBLIC_HOST: 'unix:/run/hsm-jwks.sock' }, 'SERVE_PUBLIC_HOST'],
  [{ SERVE_PUBLIC_HOST: 'a host' }, 'SERVE_PUBLIC_HOST'],
  [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
  [{ PUBLIC_PORT: '70000' }, 'PUBLIC_PORT'],
  [{ SERVE_PUBLIC_PORT: '70000' }, 'SERVE_PUBLIC_PORT'],
  [{ SERVE_ADMIN_PORT: 'http' }, 'SERVE_ADMIN_PORT'],
  [{ SERVE_PUBLIC_PORT: '4444', PUBLIC_PORT: '8080' }, 'SERVE_PUBLIC_PORT'],
  [{ SERVE_ADMIN_PORT: '4445', ADMIN_PORT: '9090' }, 'SERVE_ADMIN_PORT'],
  [{ WEBFINGER_JWKS_BROADCAST_KEYS: 'a', JWKS_PUBLIC_SETS: 'a' }, 'WEBFINGER_JWKS_BROADCAST_KEYS'],
  [{ WEBFINGER_JWKS_BROADCAST_KEYS: '["a", 1]' }, 'WEBFINGER_JWKS_BROADCAST_KEYS'],
  [{ WEBFINGER_JWKS_BROADCAST_KEYS: '[oops' }, 'WEBFINGER_JWKS_BROADCAST_KEYS'],
  [{ LOG_FORMAT: 'logfmt' }, 'LOG_FORMAT'],
  [{ SERVE_PUBLIC_CORS_ENABLED: 'sometimes' }, 'SERVE_PUBLIC_CORS_ENABLED'],
  [{ SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: 'example.com' }, 'SERVE_PUBLIC_CORS_ALLOWED_ORIGINS'],
  [{ SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: 'https://example.com/' }, 'SERVE_PUBLIC_CORS_ALLOWED_ORIGINS'],
  [{ SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: 'https://*.com' }, 'SERVE_PUBLIC_CORS_ALLOWED_ORIGINS'],
  [{ SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: 'https://*foo.com' }, 'SERVE_PUBLIC_CORS_ALLOWED_ORIGINS'],
  [{ SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: 'https://*.*.example.com' }, 'SERVE_PUBLIC_CORS_ALLOWED_ORIGINS'],
  [{ SERVE_PUBLIC_CORS_ALLOWED_METHODS: 'GET,FETCH' }, 'SERVE_PUBLIC_CORS_ALLOWED_METHODS'],
  [{ SERVE_PUBLIC_CORS_ALLOWED_HEADERS: 'X-Ok,Bad Header' }, 'SERVE_PUBLIC_CORS_ALLOWED_HEADERS'],
  [{ SERVE_PUBLIC_CORS_MAX_AGE: '-1' }, 'SERVE_PUBLIC_CORS_MAX_AGE'],
  [{ SERVE_PUBLIC_CORS_ALLOW_CREDENTIALS: 'perhaps' }, 'SERVE_PUBLIC_CORS_ALLOW_CREDENTIALS'],
  [{ SERVE_PUBLIC_CORS_OPTIONS_PASSTHROUGH: 'true' }, 'SERVE_PUBLIC_CORS_OPTIONS_PASSTHROUGH'],
  [{ SERVE_ADMIN_CORS_ENABLED: 'true' }, 'SERVE_ADMIN_CORS_ENABLED'],
  [{ SERVE_TLS_CERT_PATH: '/etc/tls/cert.pem' }, 'SERVE_TLS_CERT_PATH'],
  [{ SERVE_PUBLIC_TLS_ENABLED: 'true' }, 'SERVE_PUBLIC_TLS_ENABLED'],
  [{ SERVE_REQUEST_TIMEOUT: '30' }, 'SERVE_REQUEST_TIMEOUT'],
  [{ SERVE_MAX_CONNECTIONS: '0' }, 'SERVE_MAX_CONNECTIONS'],
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
    [{ ROTATE_EVERY: '1ms' }, 'ROTATE_EVERY'], // shorter than the publish-ahead time: keys would pile up
    [{ ROTATE_EVERY: '89s' }, 'ROTATE_EVERY'],
    [{ JWKS_DEFAULT_ALG: 'bogus' }, 'JWKS_DEFAULT_ALG'],
    [{ JWKS_DEFAULT_ALG: 'HS256' }, 'JWKS_DEFAULT_ALG'], // a published set's keys must have a public part
    [{ JWKS_DEFAULT_ALG: 'RSA-OAEP-256' }, 'JWKS_DEFAULT_ALG'],
    [{ ROTATE_REMOVED: 'shred' }, 'ROTATE_REMOVED'],
  ];
  for (const [env, variable] of cases)
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', variable }));
  expect(loadConfig({ ROTATE_PUBLISH_AHEAD: '70s' }).publishAheadMs).toBe(70_000);
  expect(loadConfig({ ROTATE_EVERY: '90s' }).service.rotation.everyMs).toBe(90_000);
  expect(loadConfig({ JWKS_DEFAULT_ALG: 'ES256' }).service.defaultAlg).toBe('ES256');
});

test("Hydra's variable names: ports, hosts, log format and level, published sets", () => {
  const c = loadConfig({
    SERVE_PUBLIC_PORT: '8444',
    SERVE_ADMIN_PORT: '8445',
    SERVE_PUBLIC_HOST: '0.0.0.0',
    SERVE_ADMIN_HOST: '127.0.0.1',
    LOG_FORMAT: 'JSON',
    LOG_LEVEL: 'panic',
    WEBFINGER_JWKS_BROADCAST_KEYS: 'app.tokens',
  });
  expect(c.service).toMatchObject({ publicPort: 8444, adminPort: 8445, publicHost: '0.0.0.0', adminHost: '127.0.0.1' });
  expect([c.logFormat, c.logLevel]).toEqual(['json', 'fatal']);
  // Hydra publishes the broadcast sets and its own two.
  expect(c.service.publicSets).toEqual(['app.tokens', 'hydra.jwt.access-token', 'hydra.openid.id-token']);
  // A JSON array, as Ory's configx reads arrays from the environment.
  expect(loadConfig({ WEBFINGER_JWKS_BROADCAST_KEYS: '["a","b"]' }).service.publicSets).toEqual([
    'a',
    'b',
    'hydra.jwt.access-token',
    'hydra.openid.id-token',
  ]);
  expect(loadConfig({ LOG_FORMAT: 'text' }).logFormat).toBe('text');
  expect(loadConfig({ LOG_FORMAT: 'json_pretty' }).logFormat).toBe('json_pretty');
});

test('our names stay as aliases: either one, or both when they agree', () => {
  expect(loadConfig({ PUBLIC_PORT: '0', ADMIN_PORT: '0' }).service).toMatchObject({ publicPort: 0, adminPort: 0 });
  expect(loadConfig({ PUBLIC_PORT: '8080', SERVE_PUBLIC_PORT: ' 8080' }).service.publicPort).toBe(8080);
  expect(loadConfig({ ADMIN_PORT: '0x1f90', SERVE_ADMIN_PORT: '8080' }).service.adminPort).toBe(8080);
  expect(loadConfig({ JWKS_PUBLIC_SETS: 'a, b' }).service.publicSets).toEqual(['a', 'b']);
  expect(
    loadConfig({
      JWKS_PUBLIC_SETS: 'hydra.openid.id-token,x,hydra.jwt.access-token',
      WEBFINGER_JWKS_BROADCAST_KEYS: 'x',
    }).service.publicSets,
  ).toEqual(['x', 'hydra.jwt.access-token', 'hydra.openid.id-token']);
  // SERVE_HOST is the default of both hosts; SERVE_PUBLIC_HOST / SERVE_ADMIN_HOST name one each.
  expect(loadConfig({ SERVE_HOST: '::1', SERVE_PUBLIC_HOST: '0.0.0.0' }).service).toMatchObject({
    publicHost: '0.0.0.0',
    adminHost: '::1',
  });
  expect(loadConfig({ SERVE_PUBLIC_HOST: '[::]' }).service.publicHost).toBe('::');
  // Beyond loopback the admin API needs ADMIN_TOKEN; with one port, one host.
  expect(loadConfig({ SERVE_HOST: '0.0.0.0', ADMIN_TOKEN: 'a-long-enough-admin-token' }).service.adminHost).toBe(
    '0.0.0.0',
  );
  expect(loadConfig({ SERVE_PUBLIC_PORT: '4444', SERVE_ADMIN_PORT: '4444' }).service.publicPort).toBe(4444);
});

test("CORS of the public port: Hydra's variables, its defaults, lists as CSV or JSON", () => {
  const c = loadConfig({
    SERVE_PUBLIC_CORS_ENABLED: 'true',
    SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: 'https://App.example.com, https://*.example.org,*',
    SERVE_PUBLIC_CORS_ALLOWED_METHODS: '["get","HEAD"]',
    SERVE_PUBLIC_CORS_ALLOWED_HEADERS: 'If-None-Match',
    SERVE_PUBLIC_CORS_EXPOSED_HEADERS: 'ETag,Age',
    SERVE_PUBLIC_CORS_ALLOW_CREDENTIALS: 'false',
    SERVE_PUBLIC_CORS_MAX_AGE: '600',
    SERVE_PUBLIC_CORS_DEBUG: 'true',
    SERVE_PUBLIC_CORS_OPTIONS_PASSTHROUGH: 'false',
    SERVE_ADMIN_CORS_ENABLED: 'false',
    SERVE_TLS_ENABLED: 'false',
  }).service.cors;
  expect(c).toEqual({
    enabled: true,
    allowedOrigins: ['https://app.example.com', 'https://*.example.org', '*'],
    allowedMethods: ['GET', 'HEAD'],
    allowedHeaders: ['If-None-Match'],
    exposedHeaders: ['ETag', 'Age'],
    allowCredentials: false,
    maxAgeSeconds: 600,
    debug: true,
  });
});

test('listener limits: SERVE_REQUEST_TIMEOUT bounds the headers timeout too; SERVE_MAX_CONNECTIONS', () => {
  expect(loadConfig({ SERVE_REQUEST_TIMEOUT: '2s', SERVE_MAX_CONNECTIONS: '64' }).service.limits).toMatchObject({
    requestTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    maxConnections: 64,
  });
  expect(loadConfig({ SERVE_REQUEST_TIMEOUT: '1m' }).service.limits.headersTimeoutMs).toBe(10_000);
});

test('KID_FORMAT: uuid or thumbprint, any case; anything else is refused', () => {
  expect(loadConfig({ KID_FORMAT: 'Thumbprint' }).kidFormat).toBe('thumbprint');
  expect(loadConfig({ KID_FORMAT: 'uuid' }).kidFormat).toBe('uuid');
  expect(() => loadConfig({ KID_FORMAT: 'sha256' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
});
