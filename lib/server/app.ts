// The HTTP service's wiring (fastify): the public port (JWKS; health and /version, ops.ts) and the
// admin port (Hydra's key-set paths, JWT signing and metrics, behind auth.ts). Every error, fastify's own included,
// answers in one shape (http-errors.ts). The routes live in public-routes.ts, admin-routes.ts and
// jwt-route.ts.
import { STATUS_CODES } from 'node:http';

import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

import type { CorsConfig } from '../config';
import type { KeyManager } from '../keys/key-manager';
import type { RotatingKeys, RotationPolicy } from '../keys/rotation';
import type { Logger } from '../logger';
import { registerKeyRoutes } from './admin-routes';
import { bearerCheck, hostCheck } from './auth';
import { clientErrorHttp, httpError, toHttp } from './http-errors';
import { useBoundedJson } from './json-body';
import { JwksCache } from './jwks-cache';
import { registerJwtRoute } from './jwt-route';
import { Metrics } from './metrics';
import { registerOps, registerPrometheus } from './ops';
import { registerJwks } from './public-routes';

export interface AppOptions {
  /** Every route's key manager (KeyRing is one): each route takes only the part it uses. */
  km: KeyManager & RotatingKeys;
  publicSets: readonly string[];
  adminToken: string | undefined;
  logger: Logger;
  /** Bound on how stale the JWKS may be after a write made elsewhere (default 30 s). */
  jwksMaxAgeMs?: number;
  /** Serve public and admin routes from one fastify instance (one port). */
  onePort?: boolean;
  /** For POST /admin/keys/{set}/rotate. */
  rotation?: Pick<RotationPolicy, 'retireAfterMs'>;
  /** For POST /admin/hsm/login: one more login after a refused PIN (reads HSM_PIN_FILE again). */
  resumeLogins?: () => Promise<void>;
  /**
   * The admin listener's configured host name (SERVE_ADMIN_HOST), accepted in the Host header when
   * there is no ADMIN_TOKEN, besides loopback names and addresses. A wildcard (0.0.0.0, ::) adds nothing.
   */
  adminHost?: string;
  /** CORS of the public port (SERVE_PUBLIC_CORS_*; off when absent). */
  cors?: CorsConfig;
}

export interface Apps {
  public: FastifyInstance;
  admin: FastifyInstance;
  jwks: JwksCache;
  metrics: Metrics;
}

const BODY_LIMIT = 64 * 1024;
/**
 * A path parameter's longest raw form: a set name is at most 255 UTF-16 units, each at most 9
 * characters percent-encoded (3 UTF-8 bytes); kids are shorter (255 bytes, or "hex:" + 510).
 * The key manager checks the decoded names (400 ERR_KEY_NAME_INVALID / ERR_KID_INVALID); beyond
 * this fastify answers 414 (in our shape).
 */
const MAX_PARAM_LENGTH = 255 * 9;

/** Hydra's admin port adds `/admin` to paths without it (`/keys/{set}` is `/admin/keys/{set}`): the same for our admin routes. */
function withAdminPrefix(url: string | undefined): string {
  const u = url ?? '/';
  return /^\/(keys|jwt|hsm)(\/|\?|$)/.test(u) ? `/admin${u}` : u;
}

function newApp(logger: Logger, metrics: Metrics, adminPaths: boolean): FastifyInstance {
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    logger: false,
    return503OnClosing: true,
    // Unknown members are refused, not silently dropped (fastify's default removes them).
    // Nor are wrong types converted (fastify's default coerces: `expires_in: true` became 1).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    ...(adminPaths ? { rewriteUrl: (req: { url?: string }) => withAdminPrefix(req.url) } : {}),
    // A malformed percent-encoding (FST_ERR_BAD_URL) or too long a parameter (414): our shape too.
    frameworkErrors: (error, _request, reply) => {
      const { status, body, headers } = toHttp(error);
      void (reply as FastifyReply).status(status).headers(headers).send(body);
    },
    // Before routing (a request timeout, malformed HTTP, headers too large): our shape, then close.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const { status, body } = clientErrorHttp(error.code);
      const text = JSON.stringify(body);
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? body.error}\r\nContent-Type: application/json; charset=utf-8\r\n` +
            `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
        );
      }
      socket.destroy(error);
    },
  });
  useBoundedJson(app);
  app.setErrorHandler((error, request, reply) => {
    const { status, body, headers } = toHttp(error);
    if (status >= 500)
      logger.error('request failed', {
        method: request.method,
        url: request.url.split('?')[0], // never the query: it may carry a credential
        code: body.error_code,
        message: (error as Error).message,
      });
    metrics.count('hsm_jwks_errors_total', 'Requests that failed, by error code.', {
      code: body.error_code ?? body.error,
    });
    void reply.status(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send(httpError(404, `no route ${request.method} ${request.url}`, 'ERR_ROUTE_NOT_FOUND').body);
  });
  return app;
}

export function buildApps(o: AppOptions): Apps {
  const metrics = new Metrics();
  const jwks = new JwksCache(
    o.km,
    o.publicSets,
    o.jwksMaxAgeMs,
    (set) =>
      o.logger.error('the keys of a public set vanished without a delete: the JWKS keeps publishing them', { set }),
    (e) =>
      o.logger.warn('the JWKS could not be rebuilt: the last good set is served, marked stale', {
        code: (e as { code?: unknown }).code,
      }),
  );
  // A write by another process or instance rebuilds the JWKS at the next request (the store's freshness bound).
  o.km.onChange((set) => {
    if (o.publicSets.includes(set)) jwks.invalidate(set);
  });
  const pub = newApp(o.logger, metrics, o.onePort === true);
  const admin = o.onePort ? pub : newApp(o.logger, metrics, true);

  // Request metrics, audit, CORS, health and /version on both ports (ops.ts).
  registerOps(pub, admin, { km: o.km, metrics, logger: o.logger, cors: o.cors });
  registerJwks(pub, jwks);

  // Admin routes in their own scope, so the guard covers them and nothing else: the Bearer token
  // when ADMIN_TOKEN is set, else the Host check against DNS rebinding (auth.ts).
  const guard = o.adminToken ? bearerCheck(o.adminToken) : hostCheck(o.adminHost);
  void admin.register(async (scope) => {
    scope.addHook('onRequest', guard);
    // As Hydra's admin port: key material and state are never kept by caches on the way.
    scope.addHook('onSend', async (request, reply) => {
      if (request.method === 'GET') void reply.header('cache-control', 'private, no-cache, no-store, must-revalidate');
    });
    registerKeyRoutes(scope, {
      km: o.km,
      logger: o.logger,
      changed: (set) => jwks.invalidate(set),
      ...(o.rotation ? { rotation: o.rotation } : {}),
      ...(o.resumeLogins ? { resumeLogins: o.resumeLogins } : {}),
    });
    registerJwtRoute(scope, o.km, metrics);
    registerPrometheus(scope, o.km, metrics);
  });
  return { public: pub, admin, jwks, metrics };
}
