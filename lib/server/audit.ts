// The audit trail: one log line (message `audit`) for every admin request (reads included) and for
// every refused request on either port. Changes (create, import, update, delete, rotate, login) are
// logged at info; successful reads and JWT signatures at debug (LOG_LEVEL=debug shows them): at
// thousands of signatures a second they would drown the log and cost the signing path; refusals at
// warn, failures at error (any status of 400 or more, fastify's own refusals and 404s
// included; not the health probes, whose 503 is an answer). It says who (the connection's remote
// address), what (method and route pattern, or the path without its query for a request no route
// matched), which set and kid, and the result (status, error code, time taken). It never holds a
// header (Authorization included), a body, a query string or a PIN. Connection-level refusals
// (timeouts, malformed requests, connections over the limit) are audited by listener-limits.ts in
// the same shape.
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { Logger } from '../logger';
import { routeOf } from './request-metrics';

interface Seen {
  code?: string;
  kids?: string[];
}

const seen = new WeakMap<FastifyRequest, Seen>();
const MAX_PARSED = 256 * 1024;
const HEALTH = new Set(['/health/alive', '/health/ready']);
/** Signing is the admin port's data path, not a change: audited at debug like reads. */
const JWT_ROUTE = '/admin/jwt/:set';

/** The `error_code` of an error body, or the kids of the keys a 201 answer made; nothing else is read. */
function peek(payload: unknown, status: number): Seen {
  if (typeof payload !== 'string' || payload.length > MAX_PARSED || !payload.startsWith('{')) return {};
  try {
    const body = JSON.parse(payload) as { error_code?: unknown; keys?: Array<{ kid?: unknown }>; kid?: unknown };
    if (status >= 400) return typeof body.error_code === 'string' ? { code: body.error_code } : {};
    const kids = (Array.isArray(body.keys) ? body.keys : [body])
      .map((k) => k?.kid)
      .filter((k): k is string => typeof k === 'string');
    return kids.length > 0 ? { kids } : {};
  } catch {
    return {};
  }
}

/** The path of a request no route matched, without its query, at most 200 characters. */
function pathOf(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

export function registerAudit(app: FastifyInstance, logger: Logger): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const status = reply.statusCode;
    if (status >= 400 || (status === 201 && request.url.startsWith('/admin'))) seen.set(request, peek(payload, status));
    // A refused request's connection is closed after the answer: a client that is still sending a
    // body (slowly, or a large one) is not waited for.
    if (status === 401 || status === 403 || status === 413) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const admin = request.url.startsWith('/admin');
    const route = request.routeOptions.url;
    // A probe's 503 is the answer it asked for, not a refusal (Hydra: request_log.disable_for_health).
    if ((!admin && status < 400) || (route !== undefined && HEALTH.has(route))) return;
    const params = (request.params ?? {}) as { set?: unknown; kid?: unknown };
    const s = seen.get(request) ?? {};
    const kid = typeof params.kid === 'string' ? params.kid : s.kids?.join(',');
    const fields: Record<string, unknown> = {
      outcome: status >= 500 ? 'failed' : status >= 400 ? 'refused' : 'done',
      remote: request.ip,
      method: request.method,
      route: routeOf(request),
      ...(route === undefined ? { path: pathOf(request.url) } : {}),
      ...(typeof params.set === 'string' ? { set: params.set } : {}),
      ...(kid ? { kid } : {}),
      status,
      ...(s.code ? { code: s.code } : {}),
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (status >= 500) logger.error('audit', fields);
    else if (status >= 400) logger.warn('audit', fields);
    else if (request.method === 'GET' || route === JWT_ROUTE) logger.debug('audit', fields);
    else logger.info('audit', fields);
  });
}
