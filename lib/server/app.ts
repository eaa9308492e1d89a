// The HTTP service's routes (fastify). Public: the JWKS, health, metrics. Admin (Bearer token when
// ADMIN_TOKEN is set): Hydra's key-set paths, and JWT signing for apps that must not hold a key.
import { createHash, timingSafeEqual } from 'node:crypto';

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

import type { ErrorCode } from '../errors';
import { KeyManagerError } from '../keys/errors';
import type { KeyRing } from '../keys/key-ring';
import { rotate, type RotationPolicy } from '../keys/rotation';
import type { Logger } from '../logger';
import type { KeyUse } from '../pkcs11/key-spec';
import { httpError, toHttp } from './http-errors';
import { JwksCache } from './jwks-cache';
import { Metrics } from './metrics';

export interface AppOptions {
  km: KeyRing;
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
}

export interface Apps {
  public: FastifyInstance;
  admin: FastifyInstance;
  jwks: JwksCache;
  metrics: Metrics;
}

const BODY_LIMIT = 64 * 1024;
const NAME = { type: 'string', minLength: 1, maxLength: 255 } as const;

function newApp(logger: Logger, metrics: Metrics): FastifyInstance {
  // Unknown members are refused, not silently dropped (fastify's default removes them).
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    logger: false,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false } },
  });
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toHttp(error);
    if (status >= 500)
      logger.error('request failed', {
        method: request.method,
        url: request.url,
        code: body.error_code,
        message: (error as Error).message,
      });
    metrics.count('hsm_jwks_errors_total', 'Requests that failed, by error code.', {
      code: body.error_code ?? body.error,
    });
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(httpError(404, `no route ${request.method} ${request.url}`).body);
  });
  return app;
}

/** A constant-time check of `Authorization: Bearer <ADMIN_TOKEN>`. */
function bearerCheck(adminToken: string | undefined) {
  if (adminToken === undefined) return undefined;
  const expected = createHash('sha256').update(adminToken).digest();
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    const given = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest();
    if (!match || !timingSafeEqual(given, expected)) {
      const { status, body } = httpError(
        401,
        'a valid Bearer token (ADMIN_TOKEN) is required',
        'ERR_UNAUTHORIZED' satisfies ErrorCode,
      );
      return reply.status(status).header('www-authenticate', 'Bearer').send(body);
    }
    return undefined;
  };
}

export function buildApps(o: AppOptions): Apps {
  const metrics = new Metrics();
  const jwks = new JwksCache(o.km, o.publicSets, o.jwksMaxAgeMs, (set) =>
    o.logger.error('the keys of a public set vanished without a delete: the JWKS keeps publishing them', { set }),
  );
  // A write by another process or instance rebuilds the JWKS at the next request (the store's freshness bound).
  o.km.onChange((set) => {
    if (o.publicSets.includes(set)) jwks.invalidate(set);
  });
  const pub = newApp(o.logger, metrics);
  const admin = o.onePort ? pub : newApp(o.logger, metrics);
  const auth = bearerCheck(o.adminToken);

  pub.get('/.well-known/jwks.json', async (request, reply) => {
    const { body, etag } = await jwks.get();
    void reply.header('etag', etag).header('cache-control', `public, max-age=${Math.floor(jwks.maxAgeMs / 1000)}`);
    if (request.headers['if-none-match'] === etag) return reply.status(304).send();
    return reply.type('application/json').send(body);
  });
  pub.get('/health/alive', async () => ({ status: 'ok' }));
  // From the state the token layer keeps (at most one C_GetTokenInfo a second), never a key scan:
  // cheap enough for any probe rate, and 503 while the token is gone or refuses logins.
  pub.get('/health/ready', async (_request, reply) => {
    const { ready, hsm } = await o.km.ready();
    const token = hsm
      ? {
          token: hsm.state,
          ...(hsm.cause ? { cause: hsm.cause } : {}),
          ...(hsm.since ? { since: new Date(hsm.since).toISOString() } : {}),
        }
      : {};
    if (ready) return { status: 'ok', ...token };
    return reply.status(503).send({ status: 'unavailable', ...token });
  });
  pub.get('/metrics', async (_request, reply) =>
    reply
      .type('text/plain; version=0.0.4')
      .send(metrics.render({ ...o.km.stats(), hsm_jwks_process_resident_memory_bytes: process.memoryUsage().rss })),
  );

  // Admin routes in their own scope, so the Bearer check covers them and nothing else.
  void admin.register(async (scope) => {
    if (auth) scope.addHook('onRequest', auth);
    const changed = (set: string) => jwks.invalidate(set);
    scope.post('/admin/hsm/login', async (_r, reply) => {
      await (o.resumeLogins ?? (() => o.km.resumeLogins()))();
      return reply.status(200).send({ status: 'ok', token: (await o.km.ready()).hsm?.state });
    });
    scope.get<{ Params: { set: string } }>('/admin/keys/:set', async (r) => o.km.getKeySet(r.params.set));
    scope.get<{ Params: { set: string; kid: string } }>('/admin/keys/:set/:kid', async (r) =>
      o.km.getKey(r.params.set, r.params.kid),
    );
    scope.post<{ Params: { set: string }; Body: { alg: string; use?: KeyUse; kid?: string; activate_now?: boolean } }>(
      '/admin/keys/:set',
      {
        schema: {
          body: {
            type: 'object',
            required: ['alg'],
            additionalProperties: false,
            properties: {
              alg: { type: 'string', minLength: 1 },
              use: { type: 'string', enum: ['sig', 'enc'] },
              kid: NAME,
              activate_now: { type: 'boolean' },
            },
          },
        },
      },
      async (r, reply) => {
        const made = await o.km.generateAndPersistKeySet(r.params.set, r.body.kid, r.body.alg, r.body.use ?? 'sig', {
          activateNow: r.body.activate_now === true,
        });
        changed(r.params.set);
        return reply.status(201).send(made);
      },
    );
    scope.post<{ Params: { set: string }; Body: { alg?: string } | undefined }>(
      '/admin/keys/:set/rotate',
      {
        schema: {
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { alg: { type: 'string', minLength: 1 } },
          },
        },
      },
      async (r, reply) => {
        const result = await rotate(o.km, r.params.set, o.rotation ?? { retireAfterMs: 86_400_000 }, {
          ...(r.body?.alg ? { alg: r.body.alg } : {}),
          logger: o.logger,
        });
        changed(r.params.set);
        return reply
          .status(result.created ? 201 : 200)
          .send({ ...result, activateAt: result.activateAt.toISOString() });
      },
    );
    const jwkBody = { type: 'object', required: ['kty'], properties: { kty: { type: 'string' } } } as const;
    scope.put<{ Params: { set: string }; Body: { keys: unknown[] } }>(
      '/admin/keys/:set',
      {
        schema: {
          body: {
            type: 'object',
            required: ['keys'],
            properties: { keys: { type: 'array', minItems: 1, items: jwkBody } },
          },
        },
      },
      async (r) => {
        await o.km.updateKeySet(r.params.set, r.body);
        changed(r.params.set);
        return o.km.getKeySet(r.params.set);
      },
    );
    scope.put<{ Params: { set: string; kid: string }; Body: Record<string, unknown> }>(
      '/admin/keys/:set/:kid',
      { schema: { body: jwkBody } },
      async (r) => {
        if (r.body.kid !== undefined && r.body.kid !== r.params.kid) {
          throw new KeyManagerError('ERR_KEY_NAME_INVALID', 'the JWK\'s "kid" differs from the kid in the path');
        }
        await o.km.updateKey(r.params.set, { ...r.body, kid: r.params.kid });
        changed(r.params.set);
        return o.km.getKey(r.params.set, r.params.kid);
      },
    );
    scope.delete<{ Params: { set: string } }>('/admin/keys/:set', async (r, reply) => {
      await o.km.deleteKeySet(r.params.set);
      changed(r.params.set);
      return reply.status(204).send();
    });
    scope.delete<{ Params: { set: string; kid: string } }>('/admin/keys/:set/:kid', async (r, reply) => {
      await o.km.deleteKey(r.params.set, r.params.kid);
      changed(r.params.set);
      return reply.status(204).send();
    });
    scope.post<{ Params: { set: string }; Body: { claims: Record<string, unknown>; kid?: string } }>(
      '/admin/jwt/:set',
      {
        schema: {
          body: {
            type: 'object',
            required: ['claims'],
            additionalProperties: false,
            properties: { claims: { type: 'object' }, kid: NAME },
          },
        },
      },
      async (r) => {
        const started = process.hrtime.bigint();
        const token = await o.km.signJwt(r.params.set, r.body.claims, r.body.kid ? { kid: r.body.kid } : {});
        metrics.observeSign(Number(process.hrtime.bigint() - started) / 1e9);
        metrics.count('hsm_jwks_signatures_total', 'JWTs signed through the service, by key set.', {
          set: r.params.set,
        });
        return { token };
      },
    );
  });
  return { public: pub, admin, jwks, metrics };
}
