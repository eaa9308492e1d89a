// CORS on the public port, with Hydra's semantics (serve.public.cors.*, rs/cors through Ory's
// corsx): off by default; when on, an allowed origin (an entry of the list, `*`, a one-label
// wildcard such as https://*.example.com, or any origin when the list is empty) is echoed in
// Access-Control-Allow-Origin, with Allow-Credentials and Expose-Headers as configured. A preflight
// (OPTIONS with Origin and Access-Control-Request-Method) is answered 204: with the CORS headers
// when the origin, the method and every requested header are allowed, without them otherwise (the
// browser then refuses). OPTIONS on a public route is answered 204 with `Allow` even when CORS is
// off; OPTIONS on an unknown path is 404. Admin routes never get CORS headers.
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';

import type { CorsConfig } from '../config';
import type { Logger } from '../logger';

/** Whether `origin` is allowed by `allowed` (entries are lower case, checked by config.ts). */
export function originAllowed(allowed: readonly string[], origin: string): boolean {
  if (allowed.length === 0) return true;
  const o = origin.toLowerCase();
  return allowed.some((a) => {
    if (a === '*' || a === o) return true;
    const star = a.indexOf('*');
    if (star < 0) return false;
    const prefix = a.slice(0, star);
    const suffix = a.slice(star + 1);
    // The wildcard stands for one or more labels: `https://*.example.com` matches
    // https://a.example.com and https://a.b.example.com, not https://.example.com.
    return o.length > prefix.length + suffix.length && o.startsWith(prefix) && o.endsWith(suffix);
  });
}

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '';
}

const isAdmin = (path: string) => path === '/admin' || path.startsWith('/admin/');

export function registerCors(app: FastifyInstance, cors: CorsConfig, logger: Logger): void {
  const allowMethods = new Set(cors.allowedMethods);
  const allowHeaders = new Set(cors.allowedHeaders.map((h) => h.toLowerCase()));
  const refused = (origin: string, why: string) => {
    if (cors.debug) logger.debug('cors: not allowed', { origin, why });
  };

  const setOrigin = (reply: FastifyReply, origin: string) => {
    void reply.header('access-control-allow-origin', origin);
    if (cors.allowCredentials) void reply.header('access-control-allow-credentials', 'true');
  };

  if (cors.enabled) {
    // Actual requests: GET /.well-known/jwks.json from a browser, and any other public route.
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'OPTIONS' || isAdmin(pathOf(request))) return;
      void reply.header('vary', 'Origin');
      const origin = request.headers.origin;
      if (origin === undefined) return;
      if (!originAllowed(cors.allowedOrigins, origin)) return refused(origin, 'origin');
      if (!allowMethods.has(request.method)) return refused(origin, 'method');
      setOrigin(reply, origin);
      if (cors.exposedHeaders.length > 0)
        void reply.header('access-control-expose-headers', cors.exposedHeaders.join(', '));
    });
  }

  /** The CORS headers of a preflight answer, or a reason to send none (the browser then refuses). */
  const preflight = (
    request: FastifyRequest,
    reply: FastifyReply,
    origin: string,
    method: string,
  ): string | undefined => {
    if (!originAllowed(cors.allowedOrigins, origin)) return 'origin';
    if (!allowMethods.has(method)) return 'method';
    const asked = String(request.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
    if (!allowHeaders.has('*') && asked.some((h) => !allowHeaders.has(h.toLowerCase()))) return 'headers';
    setOrigin(reply, origin);
    void reply.header('access-control-allow-methods', method);
    if (asked.length > 0) void reply.header('access-control-allow-headers', asked.join(', '));
    if (cors.maxAgeSeconds > 0) void reply.header('access-control-max-age', String(cors.maxAgeSeconds));
    return undefined;
  };

  app.options('*', async (request, reply) => {
    const path = pathOf(request);
    const methods = isAdmin(path) ? [] : METHODS.filter((method) => app.hasRoute({ method, url: path }));
    if (methods.length === 0) return reply.callNotFound();
    void reply.header('allow', [...methods, 'OPTIONS'].join(', '));
    const origin = request.headers.origin;
    const wanted = request.headers['access-control-request-method'];
    if (cors.enabled) {
      void reply.header('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      if (origin !== undefined && typeof wanted === 'string') {
        const why = preflight(request, reply, origin, wanted.toUpperCase());
        if (why) refused(origin, why);
      }
    }
    return reply.status(204).send();
  });
}
