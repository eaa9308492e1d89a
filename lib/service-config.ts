// The HTTP service's configuration (`hsm-jwks serve`): listeners (Hydra's SERVE_* names and ours),
// the published sets, CORS of the public port, and the listeners' timeouts and limits.
import { KEY_PAIR_ALGS } from './jose/algorithms';
import type { RotationPolicy } from './keys/rotation';
import { ConfigError, duration, type Env, flag, flagOr, given, integer, list } from './config-env';

/** CORS on the public port (Hydra's `serve.public.cors.*`, SERVE_PUBLIC_CORS_*). */
export interface CorsConfig {
  enabled: boolean;
  /** `*` or origins (`https://*.example.com`: one wildcard, a whole leading label). Empty: every origin (as Hydra). */
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposedHeaders: string[];
  allowCredentials: boolean;
  /** Access-Control-Max-Age of preflight answers, in seconds (0: not sent). */
  maxAgeSeconds: number;
  /** Log each refused origin at debug level. */
  debug: boolean;
}

/** Timeouts and limits of each listener (public and admin). */
export interface ListenerLimits {
  /** The whole request (headers and body) must arrive within this (SERVE_REQUEST_TIMEOUT, 30s): a trickled body is cut with 408. */
  requestTimeoutMs: number;
  /** The headers must arrive within this (10 s, or the request timeout when shorter). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (72 s: above the 60 s idle timeout of common load balancers). */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic at all (a request in progress included) is closed after this (120 s: above any key generation). */
  socketTimeoutMs: number;
  /** Connections beyond this are refused at accept, per listener (SERVE_MAX_CONNECTIONS, 1024). */
  maxConnections: number;
  /**
   * Requests per keep-alive connection (0: no limit). A limit would answer 503 to every request a
   * client pipelined past it (node:http's rule): load generators and HTTP/1.1 pipelining break.
   */
  maxRequestsPerSocket: number;
}

/** The HTTP service (`hsm-jwks serve`). */
export interface ServiceConfig {
  /** Bearer token for /admin routes; without it the admin API listens on loopback only. */
  adminToken: string | undefined;
  /** Address of the public listener (SERVE_PUBLIC_HOST, else SERVE_HOST, else 127.0.0.1). */
  publicHost: string;
  /** Address of the admin listener (SERVE_ADMIN_HOST, else SERVE_HOST, else 127.0.0.1). */
  adminHost: string;
  /** Public routes (JWKS, health, version); Hydra's public port (SERVE_PUBLIC_PORT or PUBLIC_PORT, 4444). */
  publicPort: number;
  /** Admin routes (SERVE_ADMIN_PORT or ADMIN_PORT, 4445); the same as publicPort to serve everything on one port. */
  adminPort: number;
  /** HEALTH_PORT: /health/alive and /health/ready on a listener of their own, in a worker thread (unset: none). */
  healthPort?: number;
  /** Key sets published at /.well-known/jwks.json, and made at start when missing. */
  publicSets: string[];
  /** Alg of the keys made at start for missing public sets. */
  defaultAlg: string;
  /** How stale the published JWKS may get after a write made elsewhere, and its Cache-Control max-age (JWKS_CACHE_SECONDS, 30). */
  jwksCacheSeconds: number;
  /** Scheduled rotation of the public sets (ROTATE_*). */
  rotation: RotationPolicy;
  cors: CorsConfig;
  limits: ListenerLimits;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * A setting that has Hydra's variable and ours (an alias). One rule: either may be set; when both
 * are set they must mean the same, or the start is refused with ERR_CONFIG naming Hydra's variable
 * (a silent winner would hide the operator's mistake). Returns the value and the variable it came from.
 */
function aliased<T>(
  hydraName: string,
  ourName: string,
  parse: (name: string) => T | undefined,
  same: (a: T, b: T) => boolean = (a, b) => a === b,
): { value: T; from: string } | undefined {
  const hydra = parse(hydraName);
  const ours = parse(ourName);
  if (hydra !== undefined && ours !== undefined && !same(hydra, ours))
    throw new ConfigError(hydraName, `conflicts with ${ourName}, which is set to something else: set one of them`);
  if (hydra !== undefined) return { value: hydra, from: hydraName };
  if (ours !== undefined) return { value: ours, from: ourName };
  return undefined;
}

function port(env: Env, name: string): number | undefined {
  const n = integer(env, name, 0);
  if (n !== undefined && n > 65535) throw new ConfigError(name, 'must be a TCP port');
  return n;
}

/** A listen address: an IP address or a host name (Hydra's unix: sockets are not served). */
function hostOf(env: Env, name: string): string | undefined {
  const v = given(env, name);
  if (v === undefined) return undefined;
  if (v.startsWith('unix:')) throw new ConfigError(name, 'unix sockets are not served: give an address or host name');
  const bare = v.replace(/^\[(.*)\]$/, '$1');
  if (!/^[A-Za-z0-9.:%_-]+$/.test(bare)) throw new ConfigError(name, 'must be an IP address or a host name');
  return bare;
}

const HYDRA_SETS = ['hydra.jwt.access-token', 'hydra.openid.id-token'];
const sameSets = (a: string[], b: string[]) => [...new Set(a)].sort().join('\n') === [...new Set(b)].sort().join('\n');

/**
 * The published sets: JWKS_PUBLIC_SETS (ours: exactly these), or WEBFINGER_JWKS_BROADCAST_KEYS
 * (Hydra's: these and Hydra's two sets, as Hydra publishes them).
 */
function publicSetsOf(env: Env): string[] {
  const sets = aliased(
    'WEBFINGER_JWKS_BROADCAST_KEYS',
    'JWKS_PUBLIC_SETS',
    (name) => {
      const l = list(env, name);
      return l && name === 'WEBFINGER_JWKS_BROADCAST_KEYS' ? [...new Set([...l, ...HYDRA_SETS])] : l;
    },
    sameSets,
  );
  return sets?.value ?? ['hydra.openid.id-token', 'hydra.jwt.access-token'];
}

const CORS_METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'HEAD', 'OPTIONS', 'TRACE'];
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * An allowed origin: `*`, `scheme://host[:port]` (no path: a browser's Origin never has one), or one
 * wildcard as the whole first label of a domain of two labels or more (`https://*.example.com`).
 * Hydra skips other wildcards silently (they could match a name anyone may register); refused here.
 */
function checkOrigin(name: string, origin: string): string {
  if (origin === '*') return origin;
  const o = origin.toLowerCase();
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#\s]+)$/.exec(o);
  if (!m) throw new ConfigError(name, `${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path)`);
  const host = m[2]!;
  if (host.includes('*') && !/^\*\.[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$/.test(host))
    throw new ConfigError(
      name,
      `${JSON.stringify(origin)}: a wildcard must be the whole first label of a domain of two labels or more (https://*.example.com)`,
    );
  return o;
}

function corsOf(env: Env): CorsConfig {
  const p = 'SERVE_PUBLIC_CORS_';
  if (flag(env, 'SERVE_ADMIN_CORS_ENABLED'))
    throw new ConfigError(
      'SERVE_ADMIN_CORS_ENABLED',
      'CORS is served on the public port only: the admin API is not for browsers',
    );
  if (flag(env, `${p}OPTIONS_PASSTHROUGH`))
    throw new ConfigError(`${p}OPTIONS_PASSTHROUGH`, 'is not supported: no route here answers OPTIONS itself');
  const origins = (list(env, `${p}ALLOWED_ORIGINS`) ?? []).map((o) => checkOrigin(`${p}ALLOWED_ORIGINS`, o));
  const methods = (list(env, `${p}ALLOWED_METHODS`) ?? CORS_METHODS).map((m) => {
    const up = m.toUpperCase();
    if (!CORS_METHODS.includes(up))
      throw new ConfigError(`${p}ALLOWED_METHODS`, `${JSON.stringify(m)} is not one of ${CORS_METHODS.join(', ')}`);
    return up;
  });
  const headers = (name: string, fallback: string[]) =>
    (list(env, name) ?? fallback).map((h) => {
      if (!TOKEN.test(h)) throw new ConfigError(name, `${JSON.stringify(h)} is not a header name`);
      return h;
    });
  return {
    enabled: flag(env, `${p}ENABLED`),
    allowedOrigins: [...new Set(origins)],
    allowedMethods: methods,
    // Hydra's defaults (driver/config/serve.go).
    allowedHeaders: headers(`${p}ALLOWED_HEADERS`, [
      'Accept',
      'Content-Type',
      'Content-Length',
      'Accept-Language',
      'Content-Language',
      'Authorization',
    ]),
    exposedHeaders: headers(`${p}EXPOSED_HEADERS`, [
      'Cache-Control',
      'Expires',
      'Last-Modified',
      'Pragma',
      'Content-Length',
      'Content-Language',
      'Content-Type',
    ]),
    allowCredentials: flagOr(env, `${p}ALLOW_CREDENTIALS`, true),
    maxAgeSeconds: integer(env, `${p}MAX_AGE`, 0) ?? 0,
    debug: flag(env, `${p}DEBUG`),
  };
}

/** Hydra's TLS variables: TLS is not served here, and a silently plain-text port would be worse than a refusal. */
function refuseTls(env: Env): void {
  for (const [name, value] of Object.entries(env)) {
    if (!/^SERVE_(PUBLIC_|ADMIN_)?TLS_/.test(name) || value === undefined || value.trim() === '') continue;
    if (name.endsWith('_TLS_ENABLED') && !flag(env, name)) continue;
    throw new ConfigError(name, 'TLS is not served by hsm-jwks: terminate TLS at a reverse proxy in front of it');
  }
}

function limitsOf(env: Env): ListenerLimits {
  const requestTimeoutMs = duration(env, 'SERVE_REQUEST_TIMEOUT') ?? 30_000;
  const maxConnections = integer(env, 'SERVE_MAX_CONNECTIONS', 1) ?? 1024;
  return {
    requestTimeoutMs,
    headersTimeoutMs: Math.min(10_000, requestTimeoutMs),
    keepAliveTimeoutMs: 72_000,
    socketTimeoutMs: 120_000,
    maxConnections,
    maxRequestsPerSocket: 0,
  };
}

/** JWKS_DEFAULT_ALG: the alg of the keys made for the published sets, so a key-pair signing alg (a JWKS carries its public part). */
function defaultAlgOf(env: Env): string {
  const alg = env.JWKS_DEFAULT_ALG?.trim() || 'RS256';
  if (!(KEY_PAIR_ALGS as readonly string[]).includes(alg)) {
    throw new ConfigError(
      'JWKS_DEFAULT_ALG',
      `must be one of ${KEY_PAIR_ALGS.join(', ')}: the published sets' keys sign, and their verifiers read the public part from the JWKS (HS* keys have none)`,
    );
  }
  return alg;
}

/** The shortest ADMIN_TOKEN (characters; docs/configuration.md says it too). */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** The service's settings; `rotationFor` reads the ROTATE_* variables for a JWKS cache time. */
export function serviceConfig(env: Env, rotationFor: (jwksCacheSeconds: number) => RotationPolicy): ServiceConfig {
  const adminToken = env.ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN_LENGTH)
    throw new ConfigError('ADMIN_TOKEN', `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  refuseTls(env);
  // SERVE_HOST (ours) is the default of both; Hydra's SERVE_PUBLIC_HOST / SERVE_ADMIN_HOST name one each.
  const both = hostOf(env, 'SERVE_HOST');
  const publicHost = hostOf(env, 'SERVE_PUBLIC_HOST');
  const adminHost = hostOf(env, 'SERVE_ADMIN_HOST');
  const publicFrom = publicHost !== undefined ? 'SERVE_PUBLIC_HOST' : 'SERVE_HOST';
  const adminFrom = adminHost !== undefined ? 'SERVE_ADMIN_HOST' : 'SERVE_HOST';
  const hosts = { public: publicHost ?? both ?? '127.0.0.1', admin: adminHost ?? both ?? '127.0.0.1' };
  const publicPort = aliased('SERVE_PUBLIC_PORT', 'PUBLIC_PORT', (n) => port(env, n))?.value ?? 4444;
  const adminPort = aliased('SERVE_ADMIN_PORT', 'ADMIN_PORT', (n) => port(env, n))?.value ?? 4445;
  const onePort = publicPort === adminPort && publicPort !== 0;
  if (onePort && hosts.public !== hosts.admin)
    throw new ConfigError(
      publicFrom,
      'the public and admin ports are one: the public and admin hosts must be the same',
    );
  if (!adminToken && !LOOPBACK.test(hosts.admin)) {
    throw new ConfigError(
      adminFrom,
      'the admin API listens beyond loopback only with ADMIN_TOKEN set (it would be open); the public port may (SERVE_PUBLIC_HOST)',
    );
  }
  const jwksCacheSeconds = integer(env, 'JWKS_CACHE_SECONDS', 1) ?? 30;
  const rotation = rotationFor(jwksCacheSeconds);
  const healthPort = port(env, 'HEALTH_PORT');
  return {
    adminToken,
    publicHost: hosts.public,
    adminHost: hosts.admin,
    publicPort,
    adminPort,
    ...(healthPort !== undefined ? { healthPort } : {}),
    publicSets: publicSetsOf(env),
    defaultAlg: defaultAlgOf(env),
    jwksCacheSeconds,
    rotation,
    cors: corsOf(env),
    limits: limitsOf(env),
  };
}
