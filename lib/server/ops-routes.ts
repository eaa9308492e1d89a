// Routes for operators, as Hydra serves them: /health/alive, /health/ready and /version on both
// ports (no authentication: probes and version checks carry no secret), and the metrics at
// /admin/metrics/prometheus on the admin port only, behind the admin guard (Bearer token), since
// they name key sets and count errors. The public port has no metrics (its former /metrics is gone).
import type { FastifyInstance } from 'fastify';

import type { KeyManagerOps } from '../keys/key-manager';
import type { Metrics } from './metrics';
import { packageVersion } from './version';

export function registerHealthAndVersion(app: FastifyInstance, km: Pick<KeyManagerOps, 'ready'>): void {
  app.get('/health/alive', async () => ({ status: 'ok' }));
  // From the state the token layer keeps (at most one C_GetTokenInfo a second), never a key scan:
  // cheap enough for any probe rate, and 503 while the token is gone or refuses logins.
  app.get('/health/ready', async (_request, reply) => {
    const { ready, hsm } = await km.ready();
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
  app.get('/version', async () => ({ version: packageVersion() }));
}

/** Hydra's path (`/admin/metrics/prometheus`); register it in the admin scope, behind its guard. */
export function registerPrometheus(scope: FastifyInstance, km: Pick<KeyManagerOps, 'stats'>, metrics: Metrics): void {
  scope.get('/admin/metrics/prometheus', async (_request, reply) =>
    reply
      .type('text/plain; version=0.0.4; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(metrics.render({ ...km.stats(), hsm_jwks_process_resident_memory_bytes: process.memoryUsage().rss })),
  );
}
