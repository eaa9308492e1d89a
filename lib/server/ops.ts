// The operator's side of both listeners, registered on the fastify instances app.ts makes: request
// metrics and the audit trail on each, CORS on the public one, health and /version on each.
// /admin/metrics/prometheus is registered by app.ts in the admin scope (registerPrometheus), behind
// the admin guard.
import type { FastifyInstance } from 'fastify';

import type { CorsConfig } from '../config';
import type { KeyManagerOps } from '../keys/key-manager';
import type { Logger } from '../logger';
import { registerAudit } from './audit';
import { registerCors } from './cors';
import type { Metrics } from './metrics';
import { registerHealthAndVersion } from './ops-routes';
import { registerRequestMetrics } from './request-metrics';

export { registerPrometheus } from './ops-routes';

export interface OpsOptions {
  km: Pick<KeyManagerOps, 'ready'>;
  metrics: Metrics;
  logger: Logger;
  /** CORS of the public port (off when absent). */
  cors?: CorsConfig | undefined;
}

/** `admin` may be `pub` itself (one port). */
export function registerOps(pub: FastifyInstance, admin: FastifyInstance, o: OpsOptions): void {
  const apps: Array<[FastifyInstance, 'public' | 'admin']> =
    admin === pub
      ? [[pub, 'public']]
      : [
          [pub, 'public'],
          [admin, 'admin'],
        ];
  for (const [app, port] of apps) {
    registerRequestMetrics(app, o.metrics, port);
    registerAudit(app, o.logger);
    registerHealthAndVersion(app, o.km);
  }
  // OPTIONS is answered (204 with Allow) even with CORS off.
  registerCors(pub, o.cors ?? DISABLED, o.logger);
}

const DISABLED: CorsConfig = {
  enabled: false,
  allowedOrigins: [],
  allowedMethods: [],
  allowedHeaders: [],
  exposedHeaders: [],
  allowCredentials: false,
  maxAgeSeconds: 0,
  debug: false,
};
