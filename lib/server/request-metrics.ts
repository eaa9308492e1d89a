// Request counts and latency by route and status: the route is fastify's pattern
// (`/admin/keys/:set`), never the raw URL, so that a scan of random paths adds one series
// (`route="unmatched"`), not one per path.
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { Metrics } from './metrics';

/** The route pattern a request matched, or `unmatched` (404 before routing, fastify's own refusals). */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}

export function registerRequestMetrics(app: FastifyInstance, metrics: Metrics, port: 'public' | 'admin'): void {
  app.addHook('onResponse', async (request, reply) => {
    const labels = { port, method: request.method, route: routeOf(request), status: String(reply.statusCode) };
    metrics.count('hsm_jwks_http_requests_total', 'HTTP requests answered, by port, method, route and status.', labels);
    metrics.observe(
      'hsm_jwks_http_request_duration_seconds',
      "Time from a request's arrival to its answer, by port, method, route and status.",
      labels,
      reply.elapsedTime / 1000,
    );
  });
}
